"""MultiHeadAttention and positional_encoding against Keras (float64) and finite differences.

Every comparison runs the NumPy layer and keras.layers.MultiHeadAttention(dtype="float64") with the
same weights on the same query/value/key, masks and upstream gradient, and asserts the output, the
attention scores, dL/d(query, value, key) and every weight gradient to 1e-7 relative (rel_error).
dL/d(key bias) is exactly zero in exact arithmetic (adding q.b_k to every logit of a row leaves the
softmax unchanged), so both sides hold rounding noise there; it is asserted to be ~0 on both sides.
"""
import numpy as np
import pytest

from course_utils import nn
from course_utils.compare import keras_gradients
from course_utils.gradcheck import numerical_gradient, rel_error
from course_utils.nn.layers.attention import MultiHeadAttention, positional_encoding

keras = pytest.importorskip("keras")
if keras.backend.backend() != "tensorflow":  # float64 to 1e-7 holds on TensorFlow; tests/test_backends.py covers the others
    pytest.skip("the float64 comparisons to 1e-7 need the TensorFlow backend (Keras computes float64 as float32 "
                "elsewhere; tests/test_backends.py compares every backend in float32)", allow_module_level=True)

RTOL_KERAS = 1e-7      # NumPy vs Keras, float64
RTOL_NUMERIC = 1e-6    # analytic vs centred differences (h = 1e-5), float64
ZERO_GRAD_ATOL = 1e-10  # dL/d(key bias): rounding noise around an exact zero

KERAS_TO_NUMPY = {"query/kernel": "query_kernel", "query/bias": "query_bias", "key/kernel": "key_kernel",
                  "key/bias": "key_bias", "value/kernel": "value_kernel", "value/bias": "value_bias",
                  "attention_output/kernel": "output_kernel", "attention_output/bias": "output_bias"}


def keras_mha(rng, num_heads, key_dim, **kwargs):
    """A Keras layer with non-zero biases (so that the bias gradients are tested on real values)."""
    bias_initializer = keras.initializers.RandomNormal(stddev=0.5, seed=int(rng.integers(1e6)))
    return keras.layers.MultiHeadAttention(num_heads, key_dim, dtype="float64", bias_initializer=bias_initializer,
                                           **kwargs)


def run_keras(layer, query, value, key=None, attention_mask=None, use_causal_mask=False,
              return_attention_scores=False, dout=None, dscores=None, self_attention=False):
    """Keras's output, scores and gradients of L = sum(out * dout) (+ sum(scores * dscores)), through the
    active backend (course_utils.compare.keras_gradients): [d query, d value (, d key)] + [d w for w in
    trainable_weights]. With ``self_attention`` the layer is called as layer(x, x) and the one gradient
    dL/dx (the sum of the two arguments' gradients) is returned in place of d query, d value."""
    args = [query, query if self_attention else value] + ([] if key is None else [key])
    kwargs = dict(attention_mask=attention_mask, use_causal_mask=use_causal_mask,
                  return_attention_scores=return_attention_scores)
    douts = [dout]
    if return_attention_scores:  # scores: (batch, heads, T, S); no dscores: they do not enter the loss
        douts.append(np.zeros((query.shape[0], layer.num_heads, query.shape[1], value.shape[1]))
                     if dscores is None else dscores)
    result = keras_gradients(layer, args, douts, kwargs=kwargs)
    dargs = [np.zeros(np.shape(a)) if g is None else g for a, g in zip(args, result.dargs)]
    if self_attention:
        dargs = [dargs[0] + dargs[1]] + dargs[2:]
    out, scores = result.outputs[0], result.outputs[1] if return_attention_scores else None
    return out, scores, dargs + list(result.dweights)


def compare(rng, keras_layer, query, value, key=None, attention_mask=None, use_causal_mask=False,
            return_attention_scores=False, self_attention=False, with_dscores=None):
    """Run both layers, assert every quantity to RTOL_KERAS; return {quantity: max rel error}."""
    if not keras_layer.built:
        keras_layer.build(query.shape, value.shape, None if key is None else key.shape)
    twin = nn.from_keras(keras_layer)
    assert twin.weight_names == [KERAS_TO_NUMPY[w.path.split("/", 1)[1]] for w in keras_layer.weights]
    result = twin(query, value, key, attention_mask=attention_mask, use_causal_mask=use_causal_mask,
                  return_attention_scores=return_attention_scores)
    out, scores = result if return_attention_scores else (result, None)
    dout = rng.normal(size=out.shape)
    with_dscores = return_attention_scores if with_dscores is None else with_dscores
    dscores = rng.normal(size=scores.shape) if with_dscores else None
    k_out, k_scores, k_grads = run_keras(keras_layer, query, value, key, attention_mask, use_causal_mask,
                                         return_attention_scores, dout, dscores, self_attention)
    dinputs = twin.backward([dout, dscores] if with_dscores else dout)
    if self_attention:  # the graph of mha(x, x) adds the gradients of the two arguments
        dinputs = [dinputs[0] + dinputs[1]] + dinputs[2:]
    names = (["dx"] if self_attention else ["dquery", "dvalue"]) + (["dkey"] if key is not None else [])
    mine = dict(output=out, **dict(zip(names, dinputs)), **{f"d {n}": g for n, g in zip(twin.weight_names, twin.grads)})
    theirs = dict(output=k_out, **dict(zip(names + [f"d {n}" for n in twin.weight_names], k_grads)))
    if scores is not None:
        mine["scores"], theirs["scores"] = scores, k_scores
        assert scores.shape == (query.shape[0], twin.num_heads, query.shape[1], value.shape[1])
    assert len(twin.grads) == len(keras_layer.trainable_weights)
    errors = {}
    for name, theirs_value in theirs.items():
        mine_value = mine[name]
        assert mine_value.shape == theirs_value.shape, (name, mine_value.shape, theirs_value.shape)
        if name == "d key_bias":
            errors[name] = float(max(np.max(np.abs(mine_value)), np.max(np.abs(theirs_value))))
            assert errors[name] <= ZERO_GRAD_ATOL, f"{name}: Mine {mine_value} Theirs {theirs_value}"
            continue
        errors[name] = rel_error(mine_value, theirs_value)
        assert errors[name] <= RTOL_KERAS, (f"{name}: rel error {errors[name]:.2e}\nMine:\n{mine_value}\n"
                                             f"Theirs:\n{theirs_value}")
    return errors


def _x(rng, *shape):
    return rng.normal(size=shape)


# ------------------------------------------------------------------ layout
def test_weights_layout_order_and_shapes_as_keras(rng):
    keras_layer = keras_mha(rng, 3, 4, value_dim=2)
    keras_layer.build((None, 5, 6), (None, 7, 8), (None, 7, 9))
    twin = MultiHeadAttention(3, 4, value_dim=2)
    twin.build((None, 5, 6), (None, 7, 8), (None, 7, 9))
    assert [w.path.split("/", 1)[1] for w in keras_layer.weights] == list(KERAS_TO_NUMPY)
    assert twin.weight_names == list(KERAS_TO_NUMPY.values())
    assert [w.shape for w in twin.weights] == [tuple(w.shape) for w in keras_layer.weights] == [
        (6, 3, 4), (3, 4), (9, 3, 4), (3, 4), (8, 3, 2), (3, 2), (3, 2, 6), (6,)]
    no_bias = MultiHeadAttention(2, 3, use_bias=False)
    no_bias.build((None, 4, 5))
    assert no_bias.weight_names == ["query_kernel", "key_kernel", "value_kernel", "output_kernel"]


def test_config_round_trip_and_defaults_as_keras():
    twin = MultiHeadAttention(2, 3)
    keras_layer = keras.layers.MultiHeadAttention(2, 3)
    for key in ("num_heads", "key_dim", "value_dim", "dropout", "use_bias"):
        assert twin.get_config()[key] == keras_layer.get_config()[key], key
    twin = MultiHeadAttention(2, 3, value_dim=5, output_shape=4, dropout=0.25, use_bias=False,
                              kernel_regularizer=nn.L2(0.01), seed=3)
    twin.build((None, 4, 6), (None, 3, 7))
    keras_layer = nn.to_keras(twin)
    assert keras_layer.get_config()["output_shape"] == (4,)
    back = nn.from_keras(keras_layer)
    for key in ("num_heads", "key_dim", "value_dim", "dropout", "use_bias", "output_shape", "seed"):
        assert back.get_config()[key] == twin.get_config()[key], key
    assert all(np.array_equal(a, b) for a, b in zip(back.get_weights(), twin.get_weights()))
    assert [w.shape for w in back.weights] == [w.shape for w in twin.weights]


# ------------------------------------------------------------------ against Keras
def test_self_attention(rng):
    x = _x(rng, 2, 5, 6)
    compare(rng, keras_mha(rng, 2, 3), x, x, self_attention=True)


def test_cross_attention_different_lengths_and_features(rng):
    compare(rng, keras_mha(rng, 3, 4), _x(rng, 2, 5, 6), _x(rng, 2, 3, 7))


def test_separate_key(rng):
    compare(rng, keras_mha(rng, 2, 3), _x(rng, 3, 4, 5), _x(rng, 3, 6, 7), key=_x(rng, 3, 6, 2))


@pytest.mark.parametrize("scores", [False, True])
def test_causal_mask(rng, scores):
    x = _x(rng, 2, 6, 4)
    compare(rng, keras_mha(rng, 2, 3), x, x, use_causal_mask=True, self_attention=True,
            return_attention_scores=scores)
    compare(rng, keras_mha(rng, 2, 3), _x(rng, 2, 4, 5), _x(rng, 2, 6, 3), use_causal_mask=True,
            return_attention_scores=scores)  # T != S: Keras's lower triangle, key position s <= t


def _padding_mask(rng, N, T, S):
    """Key positions past each sequence's length are off (1 = attend), at least one key on."""
    lengths = rng.integers(1, S + 1, size=N)
    return np.broadcast_to((np.arange(S)[None, :] < lengths[:, None])[:, None, :], (N, T, S)).copy()


@pytest.mark.parametrize("scores", [False, True])
def test_padding_mask(rng, scores):
    q, v = _x(rng, 3, 4, 5), _x(rng, 3, 6, 5)
    mask = _padding_mask(rng, 3, 4, 6)
    mask[0, :, 3:] = False
    compare(rng, keras_mha(rng, 2, 3), q, v, attention_mask=mask, return_attention_scores=scores)
    compare(rng, keras_mha(rng, 2, 3), q, v, attention_mask=mask.astype(np.float64))  # 0/1 as Keras


@pytest.mark.parametrize("scores", [False, True])
def test_padding_and_causal_masks_together(rng, scores):
    x = _x(rng, 2, 5, 4)
    mask = rng.random((2, 5, 5)) < 0.7
    mask[:, :, 0] = True  # no fully masked row here (see the test below)
    compare(rng, keras_mha(rng, 3, 2), x, x, attention_mask=mask, use_causal_mask=True,
            self_attention=True, return_attention_scores=scores)


@pytest.mark.parametrize("scores", [False, True])
def test_fully_masked_row_as_keras(rng, scores):
    """Keras gives a query with no key to attend to zero weights on its masked-softmax path (scores
    returned) and uniform weights on its fused dot_product_attention path: both reproduced."""
    q, v = _x(rng, 2, 4, 3), _x(rng, 2, 5, 3)
    mask = rng.random((2, 4, 5)) < 0.6
    mask[0, 1, :] = False
    mask[1, :, :] = False
    mask[1, 2, 4] = True
    compare(rng, keras_mha(rng, 2, 3), q, v, attention_mask=mask, return_attention_scores=scores)
    twin = MultiHeadAttention(2, 3)
    twin(q, v, attention_mask=mask, return_attention_scores=scores)
    expected_row = np.zeros(5) if scores else np.full(5, 0.2)
    assert np.allclose(twin.last_attention_scores[0, :, 1], expected_row)


def test_value_dim_output_shape_and_no_bias(rng):
    q, v = _x(rng, 2, 4, 5), _x(rng, 2, 3, 6)
    compare(rng, keras_mha(rng, 2, 3, value_dim=5), q, v)
    compare(rng, keras_mha(rng, 2, 3, value_dim=2, output_shape=7), q, v)
    compare(rng, keras_mha(rng, 3, 2, output_shape=(2, 3)), q, v)
    compare(rng, keras.layers.MultiHeadAttention(2, 4, use_bias=False, dtype="float64"), q, v,
            key=_x(rng, 2, 3, 3), use_causal_mask=True)


def test_random_configurations(rng):
    worst = {}
    for _ in range(6):
        num_heads, key_dim = int(rng.integers(1, 5)), int(rng.integers(2, 9))
        N, T, S = int(rng.integers(1, 4)), int(rng.integers(1, 6)), int(rng.integers(1, 6))
        D_q, D_v = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        kwargs = {}
        if rng.random() < 0.5:
            # not 1: Keras's TensorFlow add() takes a (heads, 1) bias for a channels-first bias_add
            # when the sequence length equals num_heads, adding it along the wrong axis (a Keras bug)
            kwargs["value_dim"] = int(rng.integers(2, 6))
        if rng.random() < 0.3:
            kwargs["output_shape"] = int(rng.integers(1, 5))
        if rng.random() < 0.2:
            kwargs["use_bias"] = False
        q, v = _x(rng, N, T, D_q), _x(rng, N, S, D_v)
        key = _x(rng, N, S, int(rng.integers(1, 7))) if rng.random() < 0.5 else None
        mask = rng.random((N, T, S)) < 0.7 if rng.random() < 0.5 else None
        call = dict(key=key, attention_mask=mask, use_causal_mask=bool(rng.random() < 0.4),
                    return_attention_scores=bool(rng.random() < 0.5))
        print(f"num_heads={num_heads}, key_dim={key_dim}, {kwargs}, query {q.shape}, value {v.shape}, "
              f"key {None if key is None else key.shape}, mask={mask is not None}, "
              f"causal={call['use_causal_mask']}, scores={call['return_attention_scores']}")
        errors = compare(rng, keras_mha(rng, num_heads, key_dim, **kwargs), q, v, **call)
        for name, e in errors.items():
            worst[name] = max(worst.get(name, 0.0), e)
    print("max errors over random configurations:", {k: f"{v:.1e}" for k, v in worst.items()})


def test_attention_scores_as_keras(rng):
    q, v = _x(rng, 2, 3, 4), _x(rng, 2, 5, 4)
    errors = compare(rng, keras_mha(rng, 4, 2), q, v, return_attention_scores=True, with_dscores=False)
    assert errors["scores"] <= RTOL_KERAS
    twin = MultiHeadAttention(4, 2)
    _, scores = twin(q, v, return_attention_scores=True)
    assert twin.last_attention_scores is scores
    assert np.allclose(scores.sum(axis=-1), 1.0)


def test_dropout_inference_matches_keras_and_training_drops(rng):
    q, v = _x(rng, 2, 4, 3), _x(rng, 2, 5, 3)
    mask = rng.random((2, 4, 5)) < 0.6
    mask[0, 2, :] = False  # with dropout > 0 Keras takes its masked-softmax path: zero weights
    compare(rng, keras_mha(rng, 2, 3, dropout=0.5), q, v, attention_mask=mask)
    twin = MultiHeadAttention(2, 3, dropout=0.5, seed=0)
    out_infer = twin(q, v)
    out_train = twin(q, v, training=True)
    assert twin.dropout_mask is not None and set(np.unique(twin.dropout_mask)) <= {0.0, 2.0}
    assert not np.allclose(out_infer, out_train)


# ------------------------------------------------------------------ finite differences
def _check_numeric(layer, query, value, key=None, training=False, seed=None, **call):
    """Centred differences for every input and weight; for layer(x, x) the one dL/dx = dquery + dvalue."""
    arrays = {"query": query} if value is query else {"query": query, "value": value}
    if key is not None:
        arrays["key"] = key
    out = layer(query, value, key, training=training, **call)
    outs = out if isinstance(out, tuple) else (out,)
    douts = [np.random.default_rng(1).normal(size=o.shape) for o in outs]

    def loss():
        if seed is not None:
            layer._rng = np.random.default_rng(seed)  # the same dropout mask every call
        y = layer(query, value, key, training=training, **call)
        ys = y if isinstance(y, tuple) else (y,)
        return sum(float(np.sum(a * d)) for a, d in zip(ys, douts))

    loss()
    dinputs = layer.backward(douts if isinstance(out, tuple) else douts[0])
    if value is query:
        dinputs = [dinputs[0] + dinputs[1]] + dinputs[2:]
    for (name, x), dx in zip(arrays.items(), dinputs):
        err = _scale_error(dx, numerical_gradient(loss, x))
        assert err <= RTOL_NUMERIC, (name, err)
    for name, w, g in zip(layer.weight_names, layer.trainable_weights, layer.grads):
        numeric = numerical_gradient(loss, w)
        if name == "key_bias":
            assert np.max(np.abs(g)) <= ZERO_GRAD_ATOL and np.max(np.abs(numeric)) <= 1e-8, (g, numeric)
        else:
            assert _scale_error(g, numeric) <= RTOL_NUMERIC, (name, _scale_error(g, numeric))


def _scale_error(analytic, numeric):
    """max |analytic - numeric| / max |numeric|: relative to the gradient's scale, as the course's
    comparisons are. Element by element (rel_error), an entry that happens to be ~1e-5 - a key that a
    masked softmax barely reaches - carries the centred differences' ~1e-10 absolute noise to ~1e-5, and
    the test failed for some initial weights; a wrong backward is off by far more than 1e-6 of the scale."""
    return float(np.max(np.abs(analytic - numeric)) / max(np.max(np.abs(numeric)), 1e-12))


def test_finite_differences(rng):
    layer = MultiHeadAttention(2, 3, value_dim=2, bias_initializer="random_normal")
    q, v, k = _x(rng, 2, 3, 4), _x(rng, 2, 4, 3), _x(rng, 2, 4, 2)
    mask = rng.random((2, 3, 4)) < 0.7
    mask[1, 0] = False
    _check_numeric(layer, q, v, k, attention_mask=mask, use_causal_mask=True)
    _check_numeric(layer, q, v, k, attention_mask=mask, return_attention_scores=True)
    selfish = MultiHeadAttention(2, 2, bias_initializer="random_normal")
    x = _x(rng, 2, 3, 3)
    _check_numeric(selfish, x, x)  # key defaults to value: dvalue holds both paths


def test_finite_differences_with_dropout(rng):
    layer = MultiHeadAttention(2, 2, dropout=0.3, seed=5, bias_initializer="random_normal")
    _check_numeric(layer, _x(rng, 2, 3, 3), _x(rng, 2, 4, 3), training=True, seed=5)


# ------------------------------------------------------------------ regularizers
def test_regularization_loss_as_keras(rng, floatx_float64):
    keras_layer = keras.layers.MultiHeadAttention(2, 3, kernel_regularizer=keras.regularizers.L2(0.01),
                                                  bias_regularizer=keras.regularizers.L1L2(l1=0.02),
                                                  bias_initializer="random_normal", dtype="float64")
    keras_layer.build((None, 4, 5), (None, 3, 6))
    twin = nn.from_keras(keras_layer)
    keras_loss = float(sum(np.asarray(loss) for loss in keras_layer.losses))
    assert len(keras_layer.losses) == 8
    assert rel_error(twin.regularization_loss(), keras_loss) <= 1e-12  # the factors as the installed Keras holds them


# ------------------------------------------------------------------ bad input
def test_bad_input_errors(rng):
    layer = MultiHeadAttention(2, 3)
    q, v = _x(rng, 2, 4, 5), _x(rng, 2, 3, 6)
    layer(q, v)
    with pytest.raises(ValueError, match=r"expected query of rank 3 .*received shape \(4, 5\)"):
        layer(q[0], v)
    with pytest.raises(ValueError, match=r"expected value with last dimension 6 .*received value of shape \(2, 3, 7\)"):
        layer(q, _x(rng, 2, 3, 7))
    with pytest.raises(ValueError, match=r"expected query with last dimension 5"):
        layer(_x(rng, 2, 4, 4), v)
    with pytest.raises(ValueError, match=r"attention_mask of shape \(batch, T, S\) = \(2, 4, 3\).*"
                                         r"received shape \(2, 3, 4\)"):
        layer(q, v, attention_mask=np.ones((2, 3, 4), bool))
    with pytest.raises(ValueError, match=r"All dimensions of `value` and `key`, except the last one"):
        layer(q, v, key=_x(rng, 2, 4, 6))
    with pytest.raises(ValueError, match=r"same batch size"):
        layer(q, _x(rng, 3, 3, 6))
    with pytest.raises(ValueError, match=r"backward expected dout of shape \(2, 4, 5\)"):
        layer.backward(np.ones((2, 4, 6)))
    with pytest.raises(ValueError, match=r"num_heads=0"):
        MultiHeadAttention(0, 3)
    with pytest.raises(ValueError, match=r"key_dim=2.5"):
        MultiHeadAttention(2, 2.5)
    with pytest.raises(ValueError, match=r"dropout=1.5"):
        MultiHeadAttention(2, 2, dropout=1.5)
    with pytest.raises(ValueError, match=r"sequence axis only .*attention_axes=\(1, 2\)"):
        MultiHeadAttention(2, 2, attention_axes=(1, 2))
    with pytest.raises(RuntimeError, match=r"call forward\(\) before backward\(\)"):
        MultiHeadAttention(2, 2).backward(np.ones((1, 1, 1)))


def test_from_keras_refuses_what_it_cannot_reproduce():
    with pytest.raises(ValueError, match=r"cannot reproduce a Keras layer with kernel_constraint"):
        nn.from_keras(keras.layers.MultiHeadAttention(2, 3, kernel_constraint="non_neg"))
    if "use_gate" in keras.layers.MultiHeadAttention(2, 3).get_config():  # Keras >= 3.14
        with pytest.raises(ValueError, match=r"use_gate=True"):
            nn.from_keras(keras.layers.MultiHeadAttention(2, 3, use_gate=True))
    with pytest.raises(ValueError, match=r"sequence axis only"):
        nn.from_keras(keras.layers.MultiHeadAttention(2, 3, attention_axes=(2,)))


# ------------------------------------------------------------------ functional model
def test_self_attention_in_a_functional_model(rng):
    from course_utils.compare import compare_with_keras
    inputs = keras.Input(shape=(5, 4), dtype="float64")
    h = keras_mha(rng, 2, 3)(inputs, inputs)
    h = keras.layers.Add(dtype="float64")([inputs, h])
    outputs = keras_mha(rng, 2, 2, value_dim=3)(h, h, use_causal_mask=True)
    model = keras.Model(inputs, outputs)
    report = compare_with_keras(model, _x(rng, 3, 5, 4))
    # d key_bias is an exact zero (see the module docstring): both sides hold rounding noise there
    key_bias_rows = [row for row in report.rows if row.quantity.endswith("/key_bias")]
    assert len(key_bias_rows) == 2
    for row in key_bias_rows:
        assert max(np.max(np.abs(row.numpy)), np.max(np.abs(row.keras))) <= ZERO_GRAD_ATOL, row.quantity
    report.rows = [row for row in report.rows if not row.quantity.endswith("/key_bias")]
    assert len(report.rows) == 2 + 2 * 8 - 2  # output, dx, every other weight gradient of both layers
    report.assert_close(RTOL_KERAS)


def test_attention_mask_as_a_model_input(rng):
    """The padding mask as a second input of a functional model: no gradient for it, the rest as
    calling the layer directly."""
    x_in, mask_in = nn.Input(shape=(4, 3)), nn.Input(shape=(4, 4))
    mha = MultiHeadAttention(2, 2, bias_initializer="random_normal")
    model = nn.Model([x_in, mask_in], mha(x_in, x_in, attention_mask=mask_in, use_causal_mask=True))
    x, mask = _x(rng, 2, 4, 3), (rng.random((2, 4, 4)) < 0.7).astype(np.float64)
    out = model.forward([x, mask])
    dout = rng.normal(size=out.shape)
    dx, dmask = model.backward(dout)
    assert dmask is None
    grads = [g.copy() for g in mha.grads]
    direct = MultiHeadAttention(2, 2)
    direct.build(x.shape)
    direct.set_weights(mha.get_weights())
    assert rel_error(direct(x, x, attention_mask=mask, use_causal_mask=True), out) <= 1e-12
    dquery, dvalue = direct.backward(dout)
    assert rel_error(dquery + dvalue, dx) <= 1e-12
    assert all(rel_error(a, b) <= 1e-12 for a, b in zip(direct.grads, grads))
    with pytest.raises(ValueError, match=r"return_attention_scores=True is not supported inside a functional"):
        MultiHeadAttention(2, 2)(x_in, x_in, return_attention_scores=True)


# ------------------------------------------------------------------ positional encoding
def test_positional_encoding_formula():
    for length, depth in [(7, 6), (5, 5), (1, 1), (50, 16)]:
        pe = positional_encoding(length, depth)
        assert pe.shape == (length, depth) and pe.dtype == np.float64
        for pos in range(length):
            for j in range(depth):
                i = j // 2
                angle = pos / 10000 ** (2 * i / depth)
                expected = np.sin(angle) if j % 2 == 0 else np.cos(angle)
                assert abs(pe[pos, j] - expected) <= 1e-12, (pos, j)
    assert np.array_equal(positional_encoding(3, 4)[0], [0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"positive integers length and depth"):
        positional_encoding(0, 4)
