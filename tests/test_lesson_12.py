"""Lesson 12 (language models): the library pieces it adds, against real Keras.

- nn.RMSNormalization == keras.layers.RMSNormalization (output, dx, d scale), float64 to 1e-7 on
  TensorFlow, the backend's tolerance elsewhere (float32: 1e-5 of each quantity's scale);
- SparseCategoricalCrossentropy(ignore_class=...) == Keras's (loss and gradient);
- exclude_from_weight_decay on the NumPy AdamW: the same weights as Keras's after steps with
  weight decay, a warm-up + cosine schedule and global-norm clipping.
"""
import numpy as np
import pytest

from course_utils import nn
from course_utils.compare import compare_with_keras

keras = pytest.importorskip("keras")
from helpers import FLOAT64_ONLY, assert_keras_close, forward_tol, keras_is_float64, to_numpy  # noqa: E402


@pytest.mark.parametrize("axis, epsilon", [(-1, None), (2, 0.1), ([1, 2], 1e-3), ([-2, -1], None)])
def test_rms_normalization_matches_keras(rng, axis, epsilon):
    kwargs = {} if epsilon is None else {"epsilon": epsilon}
    for trial in range(2):
        N, T, D = int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(2, 7))
        layer = nn.RMSNormalization(axis=axis, **kwargs)
        layer.build((N, T, D))
        layer.set_weights([rng.normal(size=layer.scale.shape)])
        x = rng.normal(size=(N, T, D)) * rng.uniform(0.1, 10)
        assert_keras_close(layer, x, f"RMSNormalization(axis={axis})")


def test_rms_normalization_formula_and_defaults(rng):
    x = rng.normal(size=(3, 4, 5))
    layer = nn.RMSNormalization()
    y = layer.forward(x)
    assert layer.epsilon == keras.layers.RMSNormalization().epsilon == 1e-6
    expected = x / np.sqrt(np.mean(x ** 2, axis=-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    np.testing.assert_allclose(np.sqrt(np.mean(y ** 2, axis=-1)), 1.0, rtol=1e-5)   # unit RMS (epsilon aside)


def test_rms_normalization_from_keras_copies_scale(rng):
    klayer = keras.layers.RMSNormalization(epsilon=1e-4)
    klayer.build((None, 3, 6))
    klayer.set_weights([rng.normal(size=(6,)).astype("float32")])
    twin = nn.from_keras(klayer)
    x = rng.normal(size=(2, 3, 6))
    np.testing.assert_allclose(twin.forward(x), to_numpy(klayer(x.astype("float32"))), rtol=1e-5, atol=1e-6)
    assert twin.epsilon == 1e-4


def test_rms_normalization_errors():
    with pytest.raises(TypeError, match="axis"):
        nn.RMSNormalization(axis="last")
    with pytest.raises(ValueError, match="epsilon"):
        nn.RMSNormalization(epsilon=-1)
    with pytest.raises(ValueError, match="batch"):
        nn.RMSNormalization(axis=0).build((2, 3))


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("ignore_class", [-1, 2])
def test_sparse_crossentropy_ignore_class_matches_keras(rng, from_logits, ignore_class):
    N, T, K = 3, 5, 4
    logits = rng.normal(size=(N, T, K)) * 2
    y_pred = logits if from_logits else nn.activations.softmax(logits)
    y_true = rng.integers(0, K, size=(N, T))
    y_true[0, 3:] = ignore_class
    y_true[2, 1] = ignore_class
    if ignore_class == -1:
        y_true[1, 0] = 2
    ours = nn.SparseCategoricalCrossentropy(from_logits=from_logits, ignore_class=ignore_class)
    theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits, ignore_class=ignore_class,
                                                        dtype="float64")
    tol = dict(rtol=1e-10, atol=1e-12) if keras_is_float64() else dict(rtol=1e-5, atol=1e-6)
    pred_var = keras.Variable(y_pred.astype(theirs.dtype))
    expected = float(to_numpy(theirs(y_true, pred_var)))
    np.testing.assert_allclose(ours(y_true, y_pred), expected, **tol)
    valid = y_true != ignore_class
    direct = -np.log(nn.activations.softmax(logits)[valid, np.where(valid, y_true, 0)[valid]]).mean()
    np.testing.assert_allclose(ours(y_true, y_pred), direct, rtol=1e-6 if not from_logits else 1e-12)
    grad = ours.gradient(y_true, y_pred)
    assert np.all(grad[~valid] == 0)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        with tf.GradientTape() as tape:
            value = theirs(y_true, pred_var)
        np.testing.assert_allclose(grad, tape.gradient(value, pred_var).numpy(), **tol)


def test_sparse_crossentropy_ignore_class_config_and_errors():
    loss = nn.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    assert loss.get_config() == {"reduction": "sum_over_batch_size", "from_logits": True, "ignore_class": -1}
    assert loss.to_keras().ignore_class == -1
    with pytest.raises(ValueError, match="ignore_class"):
        nn.SparseCategoricalCrossentropy(ignore_class=0.5)
    all_ignored = nn.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    assert all_ignored(np.array([-1, -1]), np.zeros((2, 3))) == 0.0      # Keras: divide_no_nan -> 0


def test_exclude_from_weight_decay_by_name_and_by_array():
    w, b, s = np.ones(3), np.ones(2), np.ones(4)
    opt = nn.AdamW(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[s], var_names=["bias"])
    opt.apply_gradients(zip([np.zeros(3), np.zeros(2), np.zeros(4)], [w, b, s]), names=["kernel", "bias", "scale"])
    lr = float(np.float32(0.1))
    np.testing.assert_allclose(w, 1 - float(np.float32(0.5)) * lr)
    assert np.all(b == 1) and np.all(s == 1)
    with pytest.raises(ValueError, match="names"):
        _step_without_names()
    with pytest.raises(ValueError, match="before"):
        opt.exclude_from_weight_decay(var_names=["kernel"])


def _step_without_names():
    opt = nn.AdamW(weight_decay=0.1)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply_gradients([(np.zeros(2), np.ones(2))])


def _tiny_keras_model(dtype):
    inputs = keras.Input(shape=(6,), dtype=dtype)
    h = keras.layers.Dense(5, activation="tanh", dtype=dtype, bias_initializer="random_normal")(inputs)
    h = keras.layers.RMSNormalization(dtype=dtype)(h)
    return keras.Model(inputs, keras.layers.Dense(3, dtype=dtype, bias_initializer="random_normal")(h))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason=FLOAT64_ONLY)
def test_adamw_exclusions_schedule_and_clipping_follow_keras():
    """Five steps of AdamW(weight_decay=0.1) with no decay on biases and scales, a linear warm-up then
    cosine decay, global-norm clipping at 0.5 (active: the gradients' norm is ~1-3): the NumPy weights
    equal Keras's to 1e-10 in float64 (measured ~1e-16)."""
    keras.utils.set_random_seed(0)
    model = _tiny_keras_model("float64")
    twin = nn.from_keras(model)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 6)), rng.integers(0, 3, size=16)

    def settings(lib):
        schedule = lib.optimizers.schedules.CosineDecay if lib is keras else nn.CosineDecay
        return dict(learning_rate=schedule(0.0, decay_steps=8, warmup_target=0.05, warmup_steps=2),
                    weight_decay=0.1, global_clipnorm=0.5)
    keras_opt = keras.optimizers.AdamW(**settings(keras))
    keras_opt.exclude_from_weight_decay(var_names=["bias", "scale"])
    model.compile(optimizer=keras_opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                                    dtype="float64"))
    ours = nn.AdamW(**settings(nn))
    ours.exclude_from_weight_decay(var_names=["bias", "scale"])
    loss = nn.SparseCategoricalCrossentropy(from_logits=True)
    names = [name.split("/")[-1] for name in twin.weight_names]
    decay_all = nn.from_keras(model)             # the control: the same steps, every weight decayed
    control = nn.AdamW(**settings(nn))
    for step in range(5):
        logits = decay_all.forward(x, training=True)
        decay_all.backward(loss.gradient(y, logits))
        control.apply_gradients(zip(decay_all.grads, decay_all.trainable_weights))
    for step in range(5):
        model.train_on_batch(x, y)
        logits = twin.forward(x, training=True)
        twin.backward(loss.gradient(y, logits))
        ours.apply_gradients(zip(twin.grads, twin.trainable_weights), names=names)
    for name, mine, theirs in zip(twin.weight_names, twin.get_weights(), model.get_weights()):
        assert np.max(np.abs(mine - theirs)) <= 1e-10, name
    # the exclusion is what makes them agree: decaying every weight leaves the biases/scales elsewhere
    for name, wrong, theirs in zip(names, decay_all.get_weights(), model.get_weights()):
        if name in ("bias", "scale"):
            assert np.max(np.abs(wrong - theirs)) > 1e-5, name


# ---------------------------------------------------------------------- course_utils.gpt
from course_utils import gpt  # noqa: E402
from course_utils.exercises import lesson_12_language_models as lesson  # noqa: E402


def _merge_by_loop(ids, a, b, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(int(ids[i]))
            i += 1
    return np.array(out, dtype=np.int64)


def test_merge_pair_equals_the_left_to_right_loop(rng):
    """The vectorised merge (runs of a == b handled by parity) equals the plain loop on random streams."""
    for trial in range(300):
        ids = rng.integers(0, 3, size=int(rng.integers(0, 30)))
        a, b = int(rng.integers(0, 3)), int(rng.integers(0, 3))
        assert np.array_equal(gpt.merge_pair(ids, a, b, 9), _merge_by_loop(ids, a, b, 9)), (ids, a, b)


def test_bpe_round_trip_and_counts(rng):
    text = "the cat sat on the mat; the hat is flat. " * 20 + "zebra"
    chars = gpt.char_vocabulary(text)
    ids = gpt.encode_chars(text, chars)
    merges, lengths = gpt.train_bpe(ids, len(chars), 30)
    tokens = gpt.bpe_encode(ids, merges, len(chars))
    assert len(tokens) == lengths[-1] < len(ids) and np.all(np.diff(lengths) < 0)
    assert gpt.bpe_decode(tokens, gpt.token_strings(chars, merges)) == text
    counts = gpt.count_pairs(ids, len(chars))
    assert counts.sum() == len(ids) - 1
    with pytest.raises(ValueError, match="outside the vocabulary"):
        gpt.encode_chars("q!", chars)


def test_exercise_references_agree_with_the_library(rng):
    x = rng.normal(size=(2, 3, 5))
    layer = nn.RMSNormalization(epsilon=1e-3)
    layer.build(x.shape)
    scale = rng.normal(size=5)
    layer.set_weights([scale])
    dout = rng.normal(size=x.shape)
    np.testing.assert_allclose(lesson.rms_norm(x, scale, 1e-3), layer.forward(x), rtol=1e-12)
    dx, dscale = lesson.rms_norm_backward(dout, x, scale, 1e-3)
    np.testing.assert_allclose(dx, layer.backward(dout), rtol=1e-12)
    np.testing.assert_allclose(dscale, layer.grads[0], rtol=1e-12)
    np.testing.assert_array_equal(lesson.causal_mask(5), np.tril(np.ones((5, 5), dtype=bool)))


def _small_gpt(dtype, seed=0):
    keras.utils.set_random_seed(seed)
    config = gpt.GPTConfig(vocab_size=11, seq_len=6, d_model=8, num_heads=2, num_layers=2, ff_units=12)
    model = gpt.build_gpt(config, dtype=dtype)
    rng = np.random.default_rng(seed)    # random scales and biases, so that every gradient is tested on real numbers
    model.set_weights([rng.normal(size=w.shape) * (0.5 if w.ndim > 1 else 1.0) for w in model.get_weights()])
    return model, config


def test_gpt_numpy_twin_matches_keras_forward_and_every_gradient(rng):
    """The whole GPT (embeddings, 2 pre-norm blocks with causal MHA and SwiGLU, final norm, logits):
    compare_with_keras at the backend's tolerance (float64 1e-7 on TensorFlow, measured ~1e-14)."""
    from helpers import keras_rtol
    model, config = _small_gpt("float64")
    tokens = rng.integers(0, config.vocab_size, size=(3, config.seq_len))
    report = compare_with_keras(model, [tokens, gpt.positions_for(tokens)], title="GPT")
    assert len(report.rows) == 1 + len(model.trainable_weights)
    report.assert_close(keras_rtol())


def test_numpy_gpt_formulas_and_kv_cache_equal_the_nn_twin(rng):
    model, config = _small_gpt("float64", seed=1)
    twin = nn.from_keras(model)
    numpy_gpt = gpt.NumpyGPT(model, config)
    tokens = rng.integers(0, config.vocab_size, size=(2, config.seq_len))
    full, _ = numpy_gpt.forward(tokens)
    np.testing.assert_allclose(full, twin.forward([tokens, gpt.positions_for(tokens)]), rtol=1e-10, atol=1e-12)
    logits, cache = numpy_gpt.forward(tokens[:, :2])
    pieces = [logits]
    for t in range(2, config.seq_len):
        logits, cache = numpy_gpt.forward(tokens[:, t:t + 1], cache)
        pieces.append(logits)
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), full, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="positions"):
        numpy_gpt.forward(tokens[:, :1], cache)
    a = gpt.generate(numpy_gpt, tokens[:, :2], 4, temperature=0.7, top_k=3, rng=np.random.default_rng(0))
    b = gpt.generate(numpy_gpt, tokens[:, :2], 4, temperature=0.7, top_k=3, rng=np.random.default_rng(0),
                     use_cache=False)
    assert a.shape == (2, 6) and np.array_equal(a, b)


def test_sample_top_k_keeps_only_the_top_k():
    logits = np.array([[0.0, 5.0, 1.0, 4.0], [3.0, 0.0, 0.0, 0.0]])
    u = np.linspace(0, 0.999, 50)
    for value in u:
        sample = gpt.sample_top_k(logits, 1.0, 2, np.array([value, value]))
        assert sample[0] in (1, 3) and sample[1] in (0, 1, 2, 3)
    assert np.all(gpt.sample_top_k(logits, 1.0, 1, np.array([0.99, 0.99])) == [1, 0])   # top-1 = greedy
    assert np.all(gpt.sample_top_k(logits, 1.0, None, np.array([0.0, 0.0])) == [0, 0])


def test_bigram_loss_is_the_mean_negative_log_probability():
    ids = np.array([0, 1, 0, 1, 1, 0])
    with np.errstate(divide="ignore"):       # alpha 0: the unseen pair (0, 0) gets log 0 = -inf
        log_probs = gpt.bigram_log_probs(ids, 2, alpha=0.0)
    np.testing.assert_allclose(np.exp(log_probs), [[0, 1], [2 / 3, 1 / 3]])
    np.testing.assert_allclose(gpt.bigram_loss(log_probs, np.array([0, 1, 0])), -(0 + np.log(2 / 3)) / 2)
