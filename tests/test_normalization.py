"""BatchNormalization, LayerNormalization, GlobalAverage/MaxPooling2D, Reshape and LeakyReLU against
Keras (float64) and finite differences.

Every Keras comparison runs the NumPy layer and the Keras layer with the same weights on the same input
and upstream gradient and asserts the output, dL/dx and every weight gradient to 1e-7 relative
(course_utils.compare.compare_with_keras, with training=True for BatchNormalization's training mode).
Configurations are drawn at random from the test's seeded ``rng``.
"""
import warnings

import numpy as np
import pytest

from course_utils import nn
from course_utils.compare import compare_with_keras
from course_utils.gradcheck import check_layer_gradients, numerical_gradient, rel_error

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

RTOL_KERAS = 1e-7      # NumPy vs Keras, float64
RTOL_NUMERIC = 1e-6    # analytic vs centred differences (h = 1e-5), float64


def _random_shape(rng, rank):
    return tuple(int(rng.integers(2, 5)) for _ in range(rank))


def _randomize_bn(layer, rng):
    """Random gamma, beta and moving statistics (moving variance > 0), so that none is 1 or 0."""
    weights = []
    for name, w in zip(layer.weight_names, layer.get_weights()):
        weights.append(rng.uniform(0.5, 2.0, size=w.shape) if name == "moving_variance" else rng.normal(size=w.shape))
    layer.set_weights(weights)


def random_bn_config(rng):
    rank = int(rng.choice([2, 3, 4]))
    x_shape = (int(rng.integers(1, 6)),) + _random_shape(rng, rank - 1)
    axis = -1 if rng.random() < 0.6 else int(rng.integers(1, rank))
    config = dict(axis=axis, momentum=float(rng.choice([0.99, 0.9, 0.5])), epsilon=float(rng.choice([1e-3, 1e-5, 0.1])),
                  center=bool(rng.random() < 0.75), scale=bool(rng.random() < 0.75))
    return config, x_shape


# --------------------------------------------------------------------- BatchNormalization vs Keras
@pytest.mark.parametrize("trial", range(12))
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batchnorm_matches_keras(rng, trial, training):
    config, x_shape = random_bn_config(rng)
    if training and x_shape[0] == 1 and len(x_shape) == 2:
        x_shape = (3,) + x_shape[1:]  # a batch of one has its own test
    layer = nn.BatchNormalization(**config)
    layer.build(x_shape)
    _randomize_bn(layer, rng)
    x = rng.normal(loc=1.0, scale=2.0, size=x_shape)
    report = compare_with_keras(layer, x, training=training, title=f"BN({config}) on {x_shape}")
    report.assert_close(RTOL_KERAS)
    expected = ["output", "dx"] + (["d gamma"] if config["scale"] else []) + (["d beta"] if config["center"] else [])
    assert [r.quantity for r in report.rows] == expected


def _keras_bn_step(keras_layer, x, dout, training):
    x_t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_t)
        y = keras_layer(x_t, training=training)
        loss = tf.reduce_sum(y * dout)
    grads = tape.gradient(loss, [x_t] + keras_layer.trainable_weights)
    return np.asarray(y), [np.asarray(g) for g in grads]


def test_batchnorm_moving_statistics_follow_keras_over_several_steps(rng):
    """moving = moving * momentum + batch_stat * (1 - momentum), with the biased batch variance."""
    keras_layer = keras.layers.BatchNormalization(momentum=0.8, epsilon=1e-2, dtype="float64")
    keras_layer.build((None, 3, 4))
    twin = nn.from_keras(keras_layer)
    for step in range(5):
        x = rng.normal(loc=step - 2.0, scale=1.0 + step, size=(6, 3, 4))
        dout = rng.normal(size=x.shape)
        y_keras, (dx_keras, dgamma_keras, dbeta_keras) = _keras_bn_step(keras_layer, x, dout, training=True)
        y = twin.forward(x, training=True)
        dx = twin.backward(dout)
        assert rel_error(y, y_keras) < RTOL_KERAS and rel_error(dx, dx_keras) < RTOL_KERAS
        assert rel_error(twin.grads[0], dgamma_keras) < RTOL_KERAS
        assert rel_error(twin.grads[1], dbeta_keras) < RTOL_KERAS
    for name, mine, theirs in zip(twin.weight_names, twin.get_weights(), keras_layer.get_weights()):
        assert rel_error(mine, theirs) < RTOL_KERAS, f"{name}: mine {mine}, Keras {theirs}"
    # the variance used is the biased one: recompute the last update by hand
    x = rng.normal(size=(5, 3, 4))
    before = twin.get_weights()
    twin.forward(x, training=True)
    batch_var = x.reshape(-1, 4).var(axis=0)  # ddof=0
    np.testing.assert_allclose(twin.moving_variance, before[3] * 0.8 + batch_var * (1 - 0.8), rtol=1e-13)
    assert not np.allclose(twin.moving_variance, before[3] * 0.8 + x.reshape(-1, 4).var(axis=0, ddof=1) * 0.2)


def test_batchnorm_inference_uses_moving_statistics_and_does_not_update_them(rng):
    layer = nn.BatchNormalization(epsilon=0.01)
    layer.build((None, 3))
    _randomize_bn(layer, rng)
    gamma, beta, mean, var = layer.get_weights()
    x = rng.normal(size=(4, 3))
    y = layer.forward(x)
    np.testing.assert_allclose(y, gamma * (x - mean) / np.sqrt(var + 0.01) + beta, rtol=1e-13)
    for mine, before in zip(layer.get_weights(), (gamma, beta, mean, var)):
        np.testing.assert_array_equal(mine, before)


def test_frozen_batchnorm_runs_in_inference_mode_even_when_training(rng):
    """Keras 3: trainable = False on a BatchNormalization layer means inference mode, no updates, no grads."""
    layer = nn.BatchNormalization()
    layer.build((None, 4))
    _randomize_bn(layer, rng)
    layer.trainable = False
    before = layer.get_weights()
    x = rng.normal(loc=3.0, size=(6, 4))
    report = compare_with_keras(layer, x, training=True, title="frozen BN")
    report.assert_close(RTOL_KERAS)
    assert [r.quantity for r in report.rows] == ["output", "dx"] and layer.grads == []
    for mine, old in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(mine, old)
    np.testing.assert_allclose(report["output"].numpy, layer.forward(x, training=False), rtol=1e-15)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4


def test_batchnorm_batch_of_one_in_training_mode_matches_keras(rng):
    """Variance 0: Keras does not raise; y = beta and dx = 0 (to rounding)."""
    layer = nn.BatchNormalization()
    layer.build((None, 3))
    _randomize_bn(layer, rng)
    x = rng.normal(size=(1, 3))
    report = compare_with_keras(layer, x, training=True, title="BN batch of one")
    report.assert_close(RTOL_KERAS)
    np.testing.assert_allclose(report["output"].numpy, layer.beta[None], rtol=1e-15)
    assert np.max(np.abs(report["dx"].numpy)) < 1e-12


def test_batchnorm_training_gradients_match_finite_differences(rng):
    for config, x_shape in [(dict(), (5, 3)), (dict(center=False), (3, 2, 3, 2)), (dict(axis=1, scale=False), (4, 3, 2))]:
        layer = nn.BatchNormalization(epsilon=0.01, **config)
        layer.build(x_shape)
        _randomize_bn(layer, rng)
        x = rng.normal(size=x_shape)
        dout = rng.normal(size=x_shape)

        def loss():
            return float(np.sum(layer.forward(x, training=True) * dout))

        layer.forward(x, training=True)
        dx = layer.backward(dout)
        errors = {"dx": rel_error(dx, numerical_gradient(loss, x))}
        for name, w, g in zip(layer.weight_names, layer.trainable_weights, layer.grads):
            errors[name] = rel_error(g, numerical_gradient(loss, w))
        assert max(errors.values()) < RTOL_NUMERIC, f"{config}: {errors}"


def test_batchnorm_inference_gradients_match_finite_differences(rng):
    layer = nn.BatchNormalization(axis=2)
    layer.build((3, 2, 4))
    _randomize_bn(layer, rng)
    errors = check_layer_gradients(layer, rng.normal(size=(3, 2, 4)))
    assert set(errors) == {"dx", "gamma", "beta"} and max(errors.values()) < RTOL_NUMERIC, errors


def test_batchnorm_from_keras_and_back(rng):
    keras_layer = keras.layers.BatchNormalization(axis=1, momentum=0.9, epsilon=1e-4, center=False,
                                                  gamma_initializer="random_normal",
                                                  moving_variance_initializer=keras.initializers.RandomUniform(0.5, 1.5),
                                                  dtype="float64")
    keras_layer.build((None, 3, 5))
    twin = nn.from_keras(keras_layer)
    assert isinstance(twin, nn.BatchNormalization)
    assert (twin.axis, twin.momentum, twin.epsilon, twin.center, twin.scale) == (1, 0.9, 1e-4, False, True)
    assert twin.weight_names == ["gamma", "moving_mean", "moving_variance"]
    for mine, theirs in zip(twin.get_weights(), keras_layer.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    back = nn.to_keras(twin)
    config = back.get_config()
    assert (config["axis"], config["momentum"], config["epsilon"], config["center"]) == (1, 0.9, 1e-4, False)
    assert [v.path.split("/")[-1] for v in back.weights] == ["gamma", "moving_mean", "moving_variance"]
    assert [v.trainable for v in back.weights] == [True, False, False]
    x = rng.normal(size=(4, 3, 5))
    np.testing.assert_allclose(np.asarray(back(x)), twin.forward(x), rtol=1e-13)
    # the config the twin writes has no Keras-3.15-only keys (renorm), so it also builds on Keras 3.13
    assert not {"renorm", "renorm_clipping", "renorm_momentum"} & set(nn.convert.keras_config(twin))


def test_batchnorm_regularizers_follow_keras(rng, floatx_float64):
    layer = nn.BatchNormalization(gamma_regularizer=nn.L2(0.1), beta_regularizer=nn.L1L2(l1=0.05))
    layer.build((None, 3))
    _randomize_bn(layer, rng)
    keras_layer = nn.to_keras(layer)
    keras_layer(np.zeros((1, 3)))
    assert rel_error(layer.regularization_loss(), float(sum(np.asarray(v) for v in keras_layer.losses))) < 1e-12


@pytest.mark.parametrize("keras_kwargs, message", [
    (dict(renorm=True), r"plain batch normalization only.*renorm=True"),
    (dict(gamma_constraint="non_neg"), r"cannot reproduce a Keras layer with gamma_constraint"),
])
def test_batchnorm_from_keras_refuses_what_it_cannot_reproduce(keras_kwargs, message):
    if "renorm" in keras_kwargs and tuple(int(p) for p in keras.__version__.split(".")[:2]) < (3, 14):
        pytest.skip("Keras < 3.14 has no renorm argument (it refuses it itself)")
    with pytest.raises(ValueError, match=message):
        nn.from_keras(keras.layers.BatchNormalization(**keras_kwargs))


def test_batchnorm_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"Axis 3 is out of bounds for an input of rank 3.*Received: axis=3"):
        nn.BatchNormalization(axis=3).forward(np.zeros((2, 3, 4)))
    with pytest.raises(TypeError, match=r"one axis.*Received: axis=\[1, 2\]"):
        nn.BatchNormalization(axis=[1, 2])
    layer = nn.BatchNormalization()
    with pytest.raises(ValueError, match=r"rank >= 2.*received shape \(3,\)"):
        layer.forward(np.zeros(3))
    with pytest.raises(RuntimeError, match=r"call forward\(\) before backward\(\)"):
        layer.backward(np.zeros((2, 3)))
    layer.forward(np.ones((2, 3)), training=True)
    with pytest.raises(ValueError, match=r"built for inputs of rank 2 with 3 channels on axis -1, received shape \(2, 4\)"):
        layer.forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"expected dout of shape \(2, 3\).*received shape \(3, 2\)"):
        layer.backward(np.zeros((3, 2)))


@pytest.mark.parametrize("cls", ["BatchNormalization", "LayerNormalization"])
def test_float32_layer_computes_in_float32_like_keras(rng, cls):
    """A float32 layer casts a float64 input to float32 (as Keras autocasts) and keeps float32 throughout."""
    layer = getattr(nn, cls)(dtype="float32")
    x = rng.normal(loc=2.0, size=(6, 5))
    layer.build(x.shape)
    keras_layer = nn.to_keras(layer)
    y = layer.forward(x, training=True)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == np.float32 and all(w.dtype == np.float32 for w in layer.weights + layer.grads)
    np.testing.assert_allclose(y, np.asarray(keras_layer(x, training=True)), rtol=1e-5, atol=1e-5)
    for mine, theirs in zip(layer.get_weights(), keras_layer.get_weights()):  # BN: the moving statistics
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------- BatchNormalization in models
RTOL_FIT = 1e-9  # six SGD steps, float64


def test_sequential_with_batchnorm_follows_keras_fit(rng, floatx_float64):
    """A few fit steps with SGD: the weights and the moving statistics agree with Keras's."""
    keras_model = keras.Sequential([
        keras.Input((4,), dtype="float64"),
        keras.layers.Dense(5, activation="tanh", dtype="float64"),
        keras.layers.BatchNormalization(momentum=0.7, dtype="float64"),
        keras.layers.Dense(2, dtype="float64"),
    ])
    twin = nn.from_keras(keras_model)
    assert [type(layer).__name__ for layer in twin.layers] == ["Dense", "BatchNormalization", "Dense"]
    x = rng.normal(size=(24, 4))
    y = rng.normal(size=(24, 2))
    keras_model.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras.losses.MeanSquaredError(dtype="float64"),
                        jit_compile=False)
    twin.compile(optimizer=nn.SGD(0.1), loss="mse")
    start = twin.get_weights()
    keras_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    twin.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert max(rel_error(a, b) for a, b in zip(twin.get_weights(), start)) > 1e-2
    for name, mine, theirs in zip(twin.weight_names, twin.get_weights(), keras_model.get_weights()):
        assert rel_error(mine, theirs) < RTOL_FIT, f"{name}: mine {mine}, Keras {theirs}"
    np.testing.assert_allclose(twin.predict(x), np.asarray(keras_model(x, training=False)), rtol=RTOL_FIT, atol=1e-12)


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_sequential_cnn_with_every_new_layer_matches_keras(rng, training):
    model = nn.Sequential([
        nn.Conv2D(4, 3, padding="same"),
        nn.BatchNormalization(),
        nn.LeakyReLU(0.1),
        nn.GlobalMaxPooling2D(keepdims=True),
        nn.Reshape((2, -1)),
        nn.LayerNormalization(),
        nn.Reshape((-1,)),
        nn.Dense(3),
    ])
    model.build((None, 5, 6, 2))
    bn = model.layers[1]
    _randomize_bn(bn, rng)
    x = rng.normal(size=(3, 5, 6, 2))
    report = compare_with_keras(model, x, training=training, title="CNN with BN")
    report.assert_close(RTOL_KERAS)
    assert len(report.rows) == 2 + 2 + 2 + 2 + 2  # output, dx; conv, BN, LN, dense: two each
    back = nn.to_keras(model)
    assert [type(layer).__name__ for layer in back.layers] == [
        "Conv2D", "BatchNormalization", "LeakyReLU", "GlobalMaxPooling2D", "Reshape", "LayerNormalization",
        "Reshape", "Dense"]
    again = nn.from_keras(back)
    np.testing.assert_allclose(again.predict(x), model.predict(x), rtol=1e-13)


# --------------------------------------------------------------------- LayerNormalization vs Keras
def random_ln_config(rng):
    rank = int(rng.choice([2, 3, 4]))
    x_shape = (int(rng.integers(1, 4)),) + _random_shape(rng, rank - 1)
    choice = rng.random()
    if choice < 0.5:
        axis = -1
    elif choice < 0.75 or rank == 2:
        axis = int(rng.integers(1, rank))
    else:
        axis = sorted(int(a) for a in rng.choice(np.arange(1, rank), size=2, replace=False))
        axis = axis if rng.random() < 0.5 else [a - rank for a in axis]
    config = dict(axis=axis, epsilon=float(rng.choice([1e-3, 1e-6, 0.1])), center=bool(rng.random() < 0.75),
                  scale=bool(rng.random() < 0.75))
    return config, x_shape


@pytest.mark.parametrize("trial", range(15))
def test_layernorm_matches_keras(rng, trial):
    config, x_shape = random_ln_config(rng)
    layer = nn.LayerNormalization(**config)
    layer.build(x_shape)
    layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])
    x = rng.normal(loc=-1.0, scale=3.0, size=x_shape)
    report = compare_with_keras(layer, x, title=f"LN({config}) on {x_shape}")
    report.assert_close(RTOL_KERAS)
    expected = ["output", "dx"] + (["d gamma"] if config["scale"] else []) + (["d beta"] if config["center"] else [])
    assert [r.quantity for r in report.rows] == expected
    # no moving statistics: training mode is the same computation
    np.testing.assert_array_equal(layer.forward(x, training=True), report["output"].numpy)


def test_layernorm_gradients_match_finite_differences(rng):
    for config, x_shape in [(dict(), (3, 4)), (dict(axis=[1, 2]), (2, 3, 2, 2)), (dict(axis=1, center=False), (2, 3, 2))]:
        layer = nn.LayerNormalization(epsilon=0.01, **config)
        layer.build(x_shape)
        layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])
        errors = check_layer_gradients(layer, rng.normal(size=x_shape))
        assert max(errors.values()) < RTOL_NUMERIC, f"{config}: {errors}"


def test_layernorm_from_keras_and_back(rng):
    keras_layer = keras.layers.LayerNormalization(axis=[1, 2], epsilon=1e-5, beta_initializer="random_normal",
                                                  gamma_initializer="random_normal", dtype="float64")
    keras_layer.build((None, 3, 4, 2))
    twin = nn.from_keras(keras_layer)
    assert (twin.axis, twin.epsilon, twin.gamma.shape) == ([1, 2], 1e-5, (3, 4))
    x = rng.normal(size=(2, 3, 4, 2))
    np.testing.assert_allclose(twin.forward(x), np.asarray(keras_layer(x)), rtol=1e-12)
    back = nn.to_keras(twin)
    np.testing.assert_allclose(np.asarray(back(x)), twin.forward(x), rtol=1e-13)


def test_layernorm_refuses_what_it_cannot_reproduce():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras_layer = keras.layers.LayerNormalization(rms_scaling=True)
    with pytest.raises(ValueError, match=r"rms_scaling=True"):
        nn.from_keras(keras_layer)
    with pytest.raises(ValueError, match=r"increasing order.*Received: axis=\[2, 1\]"):
        nn.LayerNormalization(axis=[2, 1])
    with pytest.raises(ValueError, match=r"all non-negative or all negative.*Received: axis=\[1, -1\]"):
        nn.LayerNormalization(axis=[1, -1])
    with pytest.raises(TypeError, match=r"Expected an int or a list/tuple of ints for the argument 'axis', "
                                        r"but received: 'last'"):
        nn.LayerNormalization(axis="last")
    with pytest.raises(ValueError, match=r"axis 0 \(the batch\)"):
        nn.LayerNormalization(axis=0).forward(np.zeros((2, 3)))
    layer = nn.LayerNormalization()
    layer.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"built for inputs of shape \(2, 3\).*received shape \(2, 5\)"):
        layer.forward(np.ones((2, 5)))


# ----------------------------------------------------------------------------- global pooling
@pytest.mark.parametrize("trial", range(6))
@pytest.mark.parametrize("kind", ["GlobalAveragePooling2D", "GlobalMaxPooling2D"])
def test_global_pooling_matches_keras(rng, kind, trial):
    x_shape = (int(rng.integers(1, 4)),) + _random_shape(rng, 3)
    keepdims = bool(rng.random() < 0.5)
    layer = getattr(nn, kind)(keepdims=keepdims)
    report = compare_with_keras(layer, rng.normal(size=x_shape), title=f"{kind}(keepdims={keepdims}) on {x_shape}")
    report.assert_close(RTOL_KERAS)
    assert report["output"].numpy.shape == ((x_shape[0], 1, 1, x_shape[3]) if keepdims else (x_shape[0], x_shape[3]))
    assert layer.compute_output_shape((None,) + x_shape[1:]) == keras.layers.__dict__[kind](
        keepdims=keepdims).compute_output_shape((None,) + x_shape[1:])


def test_global_max_pooling_ties_share_the_gradient_like_tensorflow(rng):
    """TensorFlow's gradient of reduce_max splits dy equally between equal maxima."""
    x = rng.integers(0, 3, size=(3, 4, 3, 2)).astype(np.float64)
    report = compare_with_keras(nn.GlobalMaxPooling2D(), x, title="global max ties")
    report.assert_close(RTOL_KERAS)
    counts = (x == x.max(axis=(1, 2), keepdims=True)).sum(axis=(1, 2))
    assert counts.max() > 1  # the test has ties
    dout = np.random.default_rng(0).normal(size=(3, 2))  # compare_with_keras's default upstream gradient
    is_max = x == x.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(report["dx"].numpy, is_max * (dout / counts)[:, None, None, :], rtol=1e-15)


@pytest.mark.parametrize("layer", [nn.GlobalAveragePooling2D(), nn.GlobalMaxPooling2D(keepdims=True),
                                   nn.Reshape((-1, 3)), nn.LeakyReLU(0.2)],
                         ids=lambda layer: type(layer).__name__)
def test_weightless_layer_gradients_match_finite_differences(rng, layer):
    errors = check_layer_gradients(layer, rng.normal(size=(2, 3, 4, 3)))
    assert errors["dx"] < RTOL_NUMERIC, errors


def test_global_pooling_refuses_channels_first_and_wrong_rank():
    for cls in (nn.GlobalAveragePooling2D, nn.GlobalMaxPooling2D):
        with pytest.raises(ValueError, match=r"channels_last' only.*Received: data_format='channels_first'"):
            cls(data_format="channels_first")
        with pytest.raises(ValueError, match=r"rank 4 \(batch, height, width, channels\), received shape \(2, 3, 4\)"):
            cls().forward(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"channels_last' only"):
        nn.from_keras(keras.layers.GlobalAveragePooling2D(data_format="channels_first"))
    twin = nn.from_keras(keras.layers.GlobalMaxPooling2D(keepdims=True))
    assert isinstance(twin, nn.GlobalMaxPooling2D) and twin.keepdims is True


# ------------------------------------------------------------------------------------ Reshape
@pytest.mark.parametrize("trial", range(8))
def test_reshape_matches_keras(rng, trial):
    example = _random_shape(rng, int(rng.integers(1, 4)))
    size = int(np.prod(example))
    divisors = [d for d in range(1, size + 1) if size % d == 0]
    first = int(rng.choice(divisors))
    target = (first, size // first) if rng.random() < 0.5 else (first, -1)
    if rng.random() < 0.3:
        target = (-1,) + target[1:] if target[1] != -1 else (-1, size // first)
    x = rng.normal(size=(int(rng.integers(1, 4)),) + example)
    layer = nn.Reshape(target)
    report = compare_with_keras(layer, x, title=f"Reshape({target}) on {x.shape}")
    report.assert_close(RTOL_KERAS)
    assert layer.compute_output_shape((None,) + example) == keras.layers.Reshape(target).compute_output_shape(
        (None,) + example)


def test_reshape_errors_follow_keras():
    with pytest.raises(ValueError, match=r"at most one unknown dimension \(-1\) in `target_shape`. "
                                         r"Received: target_shape=\(-1, -1\)"):
        nn.Reshape((-1, -1))
    with pytest.raises(ValueError, match=r"non-negative integer, or `-1`.*Received: target_shape=\(2, -3\)"):
        nn.Reshape((2, -3))
    with pytest.raises(TypeError, match=r"tuple of integers.*Received: target_shape=5"):
        nn.Reshape(5)
    with pytest.raises(ValueError, match=r"total size of the tensor must be unchanged. Received: "
                                         r"input_shape=\(12,\), target_shape=\(5, 2\)"):
        nn.Reshape((5, 2)).forward(np.zeros((2, 12)))
    with pytest.raises(ValueError, match=r"cannot by divided by the specified dimensions in target_shape. "
                                         r"Received: input_shape=\(3, 4\), target_shape=\(5, -1\)"):
        nn.Reshape((5, -1)).forward(np.zeros((2, 3, 4)))
    for target, shape in [((5, 2), (None, 12)), ((5, -1), (None, 3, 4))]:  # Keras refuses the same shapes
        with pytest.raises(ValueError, match=r"total size of the tensor must be unchanged"):
            keras.layers.Reshape(target).compute_output_shape(shape)
    twin = nn.from_keras(keras.layers.Reshape((3, -1)))
    assert twin.target_shape == (3, -1)


# ---------------------------------------------------------------------------------- LeakyReLU
@pytest.mark.parametrize("trial", range(5))
def test_leaky_relu_matches_keras(rng, trial):
    slope = float(rng.choice([0.3, 0.01, 0.2, 1.5, 0.0]))
    x = rng.normal(size=(2,) + _random_shape(rng, int(rng.integers(1, 4))))
    x.flat[::3] = 0.0  # x = 0 exactly: y = 0, dx = slope * dy, as TensorFlow
    layer = nn.LeakyReLU(slope)
    report = compare_with_keras(layer, x, title=f"LeakyReLU({slope})")
    assert report.max_rel_err == 0.0, str(report)  # the same float32 slope: identical numbers


def test_leaky_relu_defaults_and_arguments_follow_keras():
    assert nn.LeakyReLU().negative_slope == keras.layers.LeakyReLU().negative_slope == 0.3
    with pytest.warns(UserWarning, match=r"`alpha` is deprecated"):
        layer = nn.LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1
    with pytest.raises(ValueError, match=r"cannot be None or negative value. Expected a float. "
                                         r"Received: negative_slope=-0.1"):
        nn.LeakyReLU(-0.1)
    twin = nn.from_keras(keras.layers.LeakyReLU(negative_slope=0.05))
    assert isinstance(twin, nn.LeakyReLU) and twin.negative_slope == 0.05
    assert nn.to_keras(nn.LeakyReLU(0.25)).get_config()["negative_slope"] == 0.25


# ------------------------------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batchnorm_matches_keras_on_gpu(rng, training):
    layer = nn.BatchNormalization(momentum=0.9)
    layer.build((8, 5, 5, 3))
    _randomize_bn(layer, rng)
    report = compare_with_keras(layer, rng.normal(size=(8, 5, 5, 3)), training=training, device="/GPU:0")
    report.assert_close(RTOL_KERAS)
