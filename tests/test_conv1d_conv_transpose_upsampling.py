"""Conv1D, MaxPooling1D, Conv2DTranspose and UpSampling2D against Keras (float64) and finite differences.

Each comparison runs the NumPy layer and the Keras layer with the same weights on the same input and
upstream gradient (course_utils.compare.compare_with_keras) and asserts the output, dL/dx and every
weight gradient to 1e-7 relative. Configurations are drawn from the test's seeded ``rng``: kernel
sizes 1-5 (odd and even), strides 1-3, every padding, output_padding values Keras accepts, 1-3
channels, batches of 1-2.

The one exception is UpSampling2D(interpolation="bilinear"): TensorFlow's ResizeBilinear computes in
float32 whatever the layer's dtype, so Keras's float64 layer is only float32-accurate (~1e-7
absolute); ours is checked against Keras to float32 accuracy and against finite differences to 1e-7.
"""
import numpy as np
import pytest

from course_utils import nn
from course_utils.compare import compare_with_keras
from course_utils.gradcheck import check_layer_gradients
from course_utils.nn.layers.convolutional import conv_transpose_output_size

from helpers import assert_keras_close, assert_rel, forward_tol, keras_rtol, pair, to_numpy


keras = pytest.importorskip("keras")

RTOL_KERAS = keras_rtol()  # NumPy vs Keras: 1e-7 in float64 (TensorFlow), 1e-5 in float32 (JAX, torch)
RTOL_NUMERIC = 1e-6    # analytic vs centred differences (h = 1e-5), float64


def _accepted_output_padding(rng, kernel_size, strides, padding):
    """None, or an output_padding < strides that TensorFlow can run (with "same" and an even kernel,
    output_padding 0 is refused: see test_conv_transpose_same_even_kernel_without_output_padding...)."""
    if rng.random() < 0.4:
        return None
    values = []
    for k, s in zip(kernel_size, strides):
        low = 1 if (padding == "same" and k % 2 == 0) else 0
        if low >= s:
            return None
        values.append(int(rng.integers(low, s)))
    return tuple(values)


def random_transpose_config(rng):
    kernel_size = pair(rng, 1, 5)
    strides = pair(rng, 1, 3)
    padding = str(rng.choice(["valid", "same"]))
    config = dict(filters=int(rng.integers(1, 4)), kernel_size=kernel_size, strides=strides, padding=padding,
                  output_padding=_accepted_output_padding(rng, kernel_size, strides, padding),
                  activation=[None, "relu", "tanh", "sigmoid"][int(rng.integers(4))],
                  use_bias=bool(rng.random() < 0.8))
    x_shape = (int(rng.integers(1, 3)), int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 4)))
    return config, x_shape


def random_conv1d_config(rng):
    kernel_size = int(rng.integers(1, 6))
    config = dict(filters=int(rng.integers(1, 4)), kernel_size=kernel_size, strides=int(rng.integers(1, 4)),
                  padding=str(rng.choice(["valid", "same", "causal"])),
                  activation=[None, "relu", "tanh"][int(rng.integers(3))], use_bias=bool(rng.random() < 0.8))
    x_shape = (int(rng.integers(1, 3)), int(rng.integers(kernel_size, kernel_size + 8)), int(rng.integers(1, 4)))
    return config, x_shape


# ------------------------------------------------------------------------ Conv2DTranspose
def test_conv_transpose_output_shape_matches_keras(rng):
    for _ in range(60):
        config, x_shape = random_transpose_config(rng)
        keras_layer = keras.layers.Conv2DTranspose(config["filters"], config["kernel_size"],
                                                   strides=config["strides"], padding=config["padding"],
                                                   output_padding=config["output_padding"])
        mine = nn.Conv2DTranspose(**config).compute_output_shape((None,) + x_shape[1:])
        assert mine == tuple(keras_layer.compute_output_shape((None,) + x_shape[1:])), f"{config} on {x_shape}"


@pytest.mark.parametrize("n, k, s, padding, op, expected", [
    (3, 3, 2, "valid", None, 7), (3, 2, 3, "valid", None, 9), (3, 3, 2, "valid", 1, 8),
    (3, 3, 2, "same", None, 6), (3, 3, 2, "same", 0, 5), (3, 4, 3, "same", 2, 8), (4, 1, 1, "same", None, 4)])
def test_conv_transpose_output_size_formula(n, k, s, padding, op, expected):
    """valid: (n-1)s + k + op (op defaults to max(k, s) - k); same: n*s, or (n-1)s + k%2 + op."""
    assert conv_transpose_output_size(n, k, s, padding, op) == expected


@pytest.mark.parametrize("trial", range(25))
def test_conv_transpose_matches_keras(rng, trial):
    config, x_shape = random_transpose_config(rng)
    x = rng.normal(size=x_shape)
    report = assert_keras_close(nn.Conv2DTranspose(**config), x, f"Conv2DTranspose({config}) on {x_shape}")
    assert [r.quantity for r in report.rows] == ["output", "dx", "d kernel"] + (["d bias"] if config["use_bias"] else [])


@pytest.mark.parametrize("config, x_shape", [
    (dict(filters=2, kernel_size=2, strides=3), (1, 3, 2, 2)),                     # stride > kernel: gaps of zeros
    (dict(filters=3, kernel_size=(4, 3), strides=2, padding="same"), (2, 3, 4, 1)),  # even kernel, same
    (dict(filters=2, kernel_size=3, strides=2, padding="same", output_padding=0), (1, 3, 3, 2)),
    (dict(filters=2, kernel_size=(4, 2), strides=3, padding="same", output_padding=(2, 1)), (1, 2, 3, 2)),
    (dict(filters=1, kernel_size=5, strides=1, padding="same"), (1, 1, 1, 1)),     # 1x1 image
])
def test_conv_transpose_edge_cases_match_keras(config, x_shape, rng):
    assert_keras_close(nn.Conv2DTranspose(**config), rng.normal(size=x_shape), f"{config} on {x_shape}")


def test_conv_transpose_is_the_adjoint_of_conv2d(rng):
    """<Conv2D(y), x> = <y, Conv2DTranspose(x)> for the same kernel, strides and padding (no bias):
    the transposed convolution's forward is Conv2D's input gradient."""
    conv = nn.Conv2D(3, (3, 2), strides=2, padding="same", use_bias=False)
    conv_t = nn.Conv2DTranspose(2, (3, 2), strides=2, padding="same", use_bias=False)
    y = rng.normal(size=(2, 6, 5, 2))
    x = rng.normal(size=(2, 3, 3, 3))
    conv.build(y.shape)
    conv_t.build(x.shape)
    conv_t.set_weights(conv.get_weights())                   # both (kh, kw, 2, 3)
    np.testing.assert_allclose(np.sum(conv.forward(y) * x), np.sum(y * conv_t.forward(x)[:, :6, :5]), rtol=1e-12)
    np.testing.assert_allclose(conv.backward(x), conv_t.forward(x)[:, :6, :5], rtol=1e-12, atol=1e-14)


def test_conv_transpose_from_keras_and_back(rng):
    keras_layer = keras.layers.Conv2DTranspose(4, (3, 2), strides=(2, 3), padding="same", output_padding=(1, 2),
                                               activation="relu", bias_initializer="random_normal",
                                               dtype="float64")
    keras_layer.build((None, 4, 3, 2))
    twin = nn.from_keras(keras_layer)
    assert isinstance(twin, nn.Conv2DTranspose)
    assert (twin.kernel_size, twin.strides, twin.padding, twin.output_padding, twin.activation.name) == (
        (3, 2), (2, 3), "same", (1, 2), "relu")
    assert twin.kernel.shape == (3, 2, 4, 2)                   # (kh, kw, filters, in_channels)
    for mine, theirs in zip(twin.get_weights(), keras_layer.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    x = rng.normal(size=(2, 4, 3, 2))
    np.testing.assert_allclose(twin.forward(x), to_numpy(keras_layer(x)), **forward_tol())
    back = nn.to_keras(twin)
    config = back.get_config()
    assert (tuple(config["kernel_size"]), tuple(config["strides"]), config["padding"], config["activation"]) == (
        (3, 2), (2, 3), "same", "relu")
    assert tuple(back.output_padding) == (1, 2)
    np.testing.assert_allclose(to_numpy(back(x)), twin.forward(x), **forward_tol())


def test_from_keras_keeps_output_padding_missing_from_the_config(monkeypatch):
    """Keras 3.13 leaves output_padding out of Conv2DTranspose.get_config(); from_keras reads the attribute."""
    keras_layer = keras.layers.Conv2DTranspose(2, 3, strides=2, output_padding=1)
    full_config = keras_layer.get_config
    monkeypatch.setattr(keras_layer, "get_config",
                        lambda: {k: v for k, v in full_config().items() if k != "output_padding"})
    assert "output_padding" not in keras_layer.get_config()
    assert nn.from_keras(keras_layer).output_padding == (1, 1)


def test_output_padding_not_less_than_strides_is_refused_like_keras():
    message = r"`output_padding` must be strictly less than `strides`.*At dimension 1, `output_padding` is 2"
    with pytest.raises(ValueError, match=message):
        nn.Conv2DTranspose(2, 3, strides=(2, 2), output_padding=(1, 2))
    if tuple(int(v) for v in keras.__version__.split(".")[:2]) >= (3, 14):  # Keras 3.13 does not check
        with pytest.raises(ValueError, match=r"output_padding.*strictly less than"):
            keras.layers.Conv2DTranspose(2, 3, strides=(2, 2), output_padding=(1, 2))


def test_same_even_kernel_without_output_padding_is_refused_as_tensorflow_does(rng):
    """padding='same', even kernel, output_padding=0: TensorFlow fails at call time; we say why."""
    x = rng.normal(size=(1, 3, 3, 1))
    if keras.backend.backend() == "tensorflow":  # the error is TensorFlow's; Keras's torch backend computes this call
        with pytest.raises(Exception, match="Size of out_backprop doesn't match computed"):
            keras.layers.Conv2DTranspose(2, 2, strides=2, padding="same", output_padding=0, dtype="float64")(x)
    layer = nn.Conv2DTranspose(2, 2, strides=2, padding="same", output_padding=0)
    with pytest.raises(ValueError, match=r"output of length 4 along axis 1, which a Conv2D with the same "
                                         r"arguments does not map back to 3.*output_padding >= 1"):
        layer.forward(x)
    with pytest.raises(ValueError, match="does not map back"):
        nn.Sequential([layer]).build((None, 3, 3, 1))


@pytest.mark.parametrize("kwargs, message", [
    (dict(filters=0, kernel_size=3), r"filters.*Received: filters=0"),
    (dict(filters=2, kernel_size=(3, 3, 3)), r"`kernel_size`.*tuple of 2 integers"),
    (dict(filters=2, kernel_size=3, padding="causal"), r"'valid' or 'same'. Received: padding='causal'"),
    (dict(filters=2, kernel_size=3, output_padding=-1), r"`output_padding`.*>= 0"),
    (dict(filters=2, kernel_size=3, dilation_rate=0), r"`dilation_rate`.*>= 1"),
    (dict(filters=2, kernel_size=3, data_format="channels_first"), r"channels_last"),
])
def test_bad_conv_transpose_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.Conv2DTranspose(**kwargs)


def test_conv_transpose_channel_mismatch_is_refused():
    layer = nn.Conv2DTranspose(2, 3)
    layer.forward(np.zeros((1, 3, 3, 2)))
    with pytest.raises(ValueError, match=r"expected input with 2 channels.*kernel shape \(3, 3, 2, 2\)"):
        layer.forward(np.zeros((1, 3, 3, 4)))


def _dilated_transpose_config(rng):
    """A Conv1DTranspose with dilation_rate 2-3 (strides 1, as Keras requires), a config Keras computes."""
    k, d = int(rng.integers(1, 5)), int(rng.integers(2, 4))
    padding = str(rng.choice(["valid", "same"]))
    span = (k - 1) * d + 1
    # output_padding 0 with 'same' and an even span is TensorFlow's "does not map back" case (refused)
    output_padding = None if (padding == "same" and span % 2 == 0) or rng.random() < 0.5 else 0
    return dict(filters=int(rng.integers(1, 4)), kernel_size=k, dilation_rate=d, padding=padding,
                output_padding=output_padding, activation=[None, "tanh"][int(rng.integers(2))],
                bias_initializer="random_normal")


def _spread_kernel(kernel, dilation):
    """kernel (k1, ..., F, C) with d - 1 zero taps between its taps along each spatial axis:
    ((k1 - 1) d1 + 1, ..., F, C), and the slices that pick the taps back out of such an array."""
    taps = tuple(slice(None, None, d) for d in dilation)
    spread = np.zeros(tuple((k - 1) * d + 1 for k, d in zip(kernel.shape, dilation)) + kernel.shape[-2:])
    spread[taps] = kernel
    return spread, taps


def _keras_dilated_transpose_reference(layer, x, dout):
    """Keras's output, dx, d kernel, d bias for the dilated NumPy Conv1DTranspose / Conv2DTranspose
    ``layer``, in float64 on TensorFlow, whose CPU kernel refuses a dilated transposed convolution:
    Keras's undilated layer of the same class with the kernel spread over (k - 1) d + 1 taps, zeros
    between them (what the dilation means), its kernel gradient read at the taps."""
    import tensorflow as tf
    spread, taps = _spread_kernel(layer.kernel, layer.dilation_rate)
    config = {**layer.get_config(), "kernel_size": spread.shape[:-2], "dilation_rate": 1, "dtype": "float64"}
    theirs = getattr(keras.layers, layer.keras_class).from_config(config)
    theirs.build(x.shape)
    theirs.set_weights([spread] + ([layer.bias] if layer.use_bias else []))
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = theirs(xt)
    grads = tape.gradient(y, [xt] + theirs.trainable_weights, output_gradients=tf.constant(dout))
    return [y.numpy(), grads[0].numpy(), grads[1].numpy()[taps]] + [g.numpy() for g in grads[2:]]


def _keras_adjoint_of_dilated_conv2d(layer, x, dout):
    """The same four arrays from Keras's own *dilated* convolution, which TensorFlow computes on the
    CPU: Conv2DTranspose(x) = activation(the input gradient of keras.ops.conv(u, kernel, dilation_rate)
    with x as its output gradient + bias) - the definition of a transposed convolution (Keras's
    conv_transpose is tf.nn.conv_transpose, that input gradient) - on u of the output shape Keras's
    dilated Conv2DTranspose computes; its gradients by differentiating that through a second tape."""
    import tensorflow as tf
    keras_layer = keras.layers.Conv2DTranspose.from_config({**layer.get_config(), "dtype": "float64"})
    u = tf.zeros(keras_layer.compute_output_shape(x.shape), dtype="float64")
    xt, kernel, bias = tf.constant(x), tf.constant(layer.kernel), tf.constant(layer.bias if layer.use_bias else 0.0, "float64")
    with tf.GradientTape() as outer:
        outer.watch([xt, kernel, bias])
        with tf.GradientTape() as inner:
            inner.watch(u)
            conv = keras.ops.conv(u, kernel, strides=1, padding=layer.padding, dilation_rate=layer.dilation_rate)
        z = inner.gradient(conv, u, output_gradients=xt) + bias
        y = keras.activations.get(layer.activation.name)(z)
    grads = outer.gradient(y, [xt, kernel, bias], output_gradients=tf.constant(dout))
    return [y.numpy()] + [g.numpy() for g in grads[:2]] + ([grads[2].numpy()] if layer.use_bias else [])


def _dilated_conv2d_transpose_config(rng):
    """A Conv2DTranspose with a dilation (strides 1, as Keras requires) and a batch it can run on."""
    kernel_size = pair(rng, 1, 4)
    dilation = [(2, 1), (1, 3), (2, 2), pair(rng, 1, 3)][int(rng.integers(4))]
    padding = str(rng.choice(["valid", "same"]))
    span = [(k - 1) * d + 1 for k, d in zip(kernel_size, dilation)]
    # output_padding 0 with 'same' and an even span is TensorFlow's "does not map back" case (refused)
    odd_or_valid = padding == "valid" or all(k % 2 for k in span)
    config = dict(filters=int(rng.integers(1, 4)), kernel_size=kernel_size, dilation_rate=dilation, padding=padding,
                  output_padding=0 if odd_or_valid and rng.random() < 0.3 else None,
                  activation=[None, "relu", "tanh", "sigmoid"][int(rng.integers(4))],
                  use_bias=bool(rng.random() < 0.8), bias_initializer="random_normal")
    x_shape = (int(rng.integers(1, 3)), int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 4)))
    return config, x_shape


def _with_rng_weights(layer, x_shape, rng):
    """``layer`` built for ``x_shape`` with weights drawn from the test's ``rng`` (the same every run), small
    enough (N(0, 0.3^2)) that tanh and sigmoid do not saturate: a saturated unit's gradient is ~1e-8,
    where centred differences' rounding (~1e-10) is no longer small against it."""
    layer.build(x_shape)
    layer.set_weights([rng.normal(scale=0.3, size=w.shape) for w in layer.get_weights()])
    return layer


def _assert_matches_keras_dilated(layer, x, rng, references):
    """The built dilated layer's output, dx and weight gradients against each reference (1e-7 relative in float64)."""
    y = layer.forward(x)
    dout = rng.normal(size=y.shape)
    mine = [y, layer.backward(dout)] + [np.array(g) for g in layer.grads]
    for reference in references:
        theirs = reference(layer, x, dout)
        for what, a, b in zip(["output", "dx", "d kernel", "d bias"], mine, theirs):
            assert_rel(a, b, f"{layer.get_config()} on {x.shape}, {what} ({reference.__name__})", rtol=RTOL_KERAS)


@pytest.mark.parametrize("trial", range(8))
def test_conv1d_transpose_with_dilation_matches_keras(rng, trial):
    """dilation_rate > 1 in Conv1DTranspose: output, dx and the weight gradients equal Keras's (1e-7 in
    float64 on TensorFlow, float32 tolerance on JAX) and centred differences (1e-6)."""
    config = _dilated_transpose_config(rng)
    x = rng.normal(size=(int(rng.integers(1, 3)), int(rng.integers(1, 6)), int(rng.integers(1, 4))))
    layer = _with_rng_weights(nn.Conv1DTranspose(**config), x.shape, rng)
    if keras.backend.backend() == "tensorflow":
        _assert_matches_keras_dilated(layer, x, rng, [_keras_dilated_transpose_reference])
    else:
        compare_with_keras(layer, x, title=f"Conv1DTranspose {config}").assert_close()
    errors = check_layer_gradients(layer, x)
    assert max(errors.values()) < RTOL_NUMERIC, f"{config}: analytic vs numeric {errors}"


def test_conv1d_transpose_with_dilation_from_keras_and_back(rng):
    keras_layer = keras.layers.Conv1DTranspose(3, 3, dilation_rate=2, padding="same", activation="relu",
                                               bias_initializer="random_normal", dtype="float64")
    keras_layer.build((None, 5, 2))
    twin = nn.from_keras(keras_layer)
    assert (twin.kernel_size, twin.dilation_rate, twin.padding) == ((3,), (2,), "same")
    for mine, theirs in zip(twin.get_weights(), keras_layer.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    x = rng.normal(size=(2, 5, 2))
    assert twin.forward(x).shape == tuple(keras_layer.compute_output_shape(x.shape)) == (2, 5, 3)
    back = nn.to_keras(twin)
    assert tuple(back.get_config()["dilation_rate"]) == (2,)
    for mine, theirs in zip(twin.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    if keras.backend.backend() != "tensorflow":   # TensorFlow's CPU kernel refuses dilation > 1
        np.testing.assert_allclose(twin.forward(x), to_numpy(back(x)), **forward_tol())


def test_conv1d_transpose_with_dilation_and_strides_is_refused_as_keras_refuses_it():
    message = r"`strides > 1` not supported in conjunction with `dilation_rate > 1`"
    with pytest.raises(ValueError, match=message):
        keras.layers.Conv1DTranspose(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match=message + r".*Received: strides=\(2,\) and dilation_rate=\(2,\)"):
        nn.Conv1DTranspose(2, 3, strides=2, dilation_rate=2)


@pytest.mark.parametrize("trial", range(12))
def test_conv2d_transpose_with_dilation_matches_keras(rng, trial):
    """dilation_rate > 1 in Conv2DTranspose (strides 1): output, dx, d kernel and d bias equal Keras's
    to 1e-7 relative in float64 (on TensorFlow, whose CPU kernel refuses the dilated layer itself,
    against Keras's undilated layer with the kernel spread and against the adjoint of Keras's dilated
    conv; Keras's own layer on JAX and torch), and centred differences to 1e-6."""
    config, x_shape = _dilated_conv2d_transpose_config(rng)
    layer, x = nn.Conv2DTranspose(**config), rng.normal(size=x_shape)
    keras_shape = keras.layers.Conv2DTranspose(**config).compute_output_shape((None,) + x_shape[1:])
    assert layer.compute_output_shape((None,) + x_shape[1:]) == tuple(keras_shape), f"{config} on {x_shape}"
    _with_rng_weights(layer, x_shape, rng)
    if keras.backend.backend() == "tensorflow":
        _assert_matches_keras_dilated(layer, x, rng, [_keras_dilated_transpose_reference,
                                                     _keras_adjoint_of_dilated_conv2d])
    else:
        assert_keras_close(layer, x, f"Conv2DTranspose({config}) on {x_shape}")
    errors = check_layer_gradients(layer, x)
    assert max(errors.values()) < RTOL_NUMERIC, f"{config}: analytic vs numeric {errors}"


def test_conv2d_transpose_with_dilation_output_size():
    """Keras's sizes with the dilated span k' = (k - 1) d + 1: valid n + k' - 1, same n (strides 1)."""
    layer = nn.Conv2DTranspose(2, (3, 2), dilation_rate=(2, 3))      # spans 5 and 4
    assert layer.compute_output_shape((None, 4, 6, 1)) == (None, 8, 9, 2)
    assert layer.forward(np.ones((1, 4, 6, 1))).shape == (1, 8, 9, 2)
    same = nn.Conv2DTranspose(2, (3, 2), dilation_rate=(2, 3), padding="same")
    assert same.forward(np.ones((1, 4, 6, 1))).shape == (1, 4, 6, 2)


def test_conv2d_transpose_with_dilation_from_keras_and_back(rng):
    keras_layer = keras.layers.Conv2DTranspose(3, (3, 2), dilation_rate=(2, 3), padding="same", activation="tanh",
                                               bias_initializer="random_normal", dtype="float64")
    keras_layer.build((None, 4, 5, 2))
    twin = nn.from_keras(keras_layer)
    assert (twin.kernel_size, twin.dilation_rate, twin.padding) == ((3, 2), (2, 3), "same")
    for mine, theirs in zip(twin.get_weights(), keras_layer.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    assert twin.compute_output_shape((2, 4, 5, 2)) == tuple(keras_layer.compute_output_shape((2, 4, 5, 2)))
    back = nn.to_keras(twin)
    assert tuple(back.get_config()["dilation_rate"]) == (2, 3)
    for mine, theirs in zip(twin.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    if keras.backend.backend() != "tensorflow":   # TensorFlow's CPU kernel refuses dilation > 1
        x = rng.normal(size=(2, 4, 5, 2))
        np.testing.assert_allclose(twin.forward(x), to_numpy(back(x)), **forward_tol())


@pytest.mark.parametrize("strides, dilation", [(2, 2), ((1, 2), (2, 1)), ((2, 1), (1, 3))])
def test_conv2d_transpose_with_dilation_and_strides_is_refused_as_keras_refuses_it(strides, dilation):
    with pytest.raises(ValueError) as theirs:
        keras.layers.Conv2DTranspose(2, 3, strides=strides, dilation_rate=dilation)
    with pytest.raises(ValueError) as mine:
        nn.Conv2DTranspose(2, 3, strides=strides, dilation_rate=dilation)
    assert str(mine.value) == str(theirs.value)
    assert str(mine.value).startswith("`strides > 1` not supported in conjunction with `dilation_rate > 1`.")


# ---------------------------------------------------------------------------- Conv1D
@pytest.mark.parametrize("trial", range(15))
def test_conv1d_matches_keras(rng, trial):
    config, x_shape = random_conv1d_config(rng)
    report = assert_keras_close(nn.Conv1D(**config), rng.normal(size=x_shape), f"Conv1D({config}) on {x_shape}")
    assert report["d kernel"].numpy.shape == (config["kernel_size"], x_shape[2], config["filters"])


def test_conv1d_causal_output_sees_only_the_past(rng):
    layer = nn.Conv1D(2, 3, padding="causal")
    x = rng.normal(size=(1, 7, 2))
    y = layer.forward(x)
    x_later = x.copy()
    x_later[:, 4:] += 1.0                                   # change the future of t = 3
    np.testing.assert_array_equal(layer.forward(x_later)[:, :4], y[:, :4])
    assert y.shape == (1, 7, 2)


def test_conv1d_from_keras_and_back(rng):
    keras_layer = keras.layers.Conv1D(3, 4, strides=2, padding="causal", activation="tanh",
                                      bias_initializer="random_normal", dtype="float64")
    keras_layer.build((None, 9, 2))
    twin = nn.from_keras(keras_layer)
    assert (twin.kernel_size, twin.strides, twin.padding, twin.kernel.shape) == ((4,), (2,), "causal", (4, 2, 3))
    x = rng.normal(size=(2, 9, 2))
    np.testing.assert_allclose(twin.forward(x), to_numpy(keras_layer(x)), **forward_tol())
    back = nn.to_keras(twin)
    assert (back.padding, tuple(back.kernel_size)) == ("causal", (4,))
    np.testing.assert_allclose(to_numpy(back(x)), twin.forward(x), **forward_tol())


@pytest.mark.parametrize("kwargs, message", [
    (dict(filters=2, kernel_size=(3, 3)), r"`kernel_size`.*tuple of 1 integers"),
    (dict(filters=2, kernel_size=3, padding="full"), r"'valid', 'same' or 'causal'. Received: padding='full'"),
    (dict(filters=2, kernel_size=3, strides=2, dilation_rate=2), r"`strides > 1` not supported in conjunction"),
    (dict(filters=2, kernel_size=3, groups=2), r"groups=1 only"),
    (dict(filters=2, kernel_size=3, data_format="channels_first"), r"np.transpose\(x, \(0, 2, 1\)\)"),
])
def test_bad_conv1d_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.Conv1D(**kwargs)


def test_conv1d_bad_inputs_are_refused():
    with pytest.raises(ValueError, match=r"rank 3 \(batch, timesteps, features\), received shape \(5, 2\)"):
        nn.Conv1D(2, 3).forward(np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"sequence of 2 timesteps, shorter than its kernel 3.*padding='same'"):
        nn.Conv1D(2, 3).forward(np.zeros((1, 2, 1)))
    nn.Conv1D(2, 3, padding="causal").forward(np.zeros((1, 2, 1)))     # fine: padded


# ---------------------------------------------------------------------- MaxPooling1D
@pytest.mark.parametrize("trial", range(10))
def test_max_pooling1d_matches_keras(rng, trial):
    pool_size = int(rng.integers(1, 5))
    config = dict(pool_size=pool_size, strides=None if rng.random() < 0.3 else int(rng.integers(1, 4)),
                  padding=str(rng.choice(["valid", "same"])))
    x_shape = (int(rng.integers(1, 3)), int(rng.integers(pool_size, pool_size + 7)), int(rng.integers(1, 4)))
    x = rng.integers(0, 3, size=x_shape).astype(float) if trial % 2 else rng.normal(size=x_shape)  # ties too
    assert_keras_close(nn.MaxPooling1D(**config), x, f"MaxPooling1D({config}) on {x_shape}")


def test_max_pooling1d_from_keras_defaults_and_errors():
    twin = nn.from_keras(keras.layers.MaxPooling1D())
    assert (twin.pool_size, twin.strides, twin.padding) == ((2,), (2,), "valid")
    with pytest.raises(ValueError, match=r"sequence of 2 timesteps, shorter than its pool 3"):
        nn.MaxPooling1D(3).forward(np.zeros((1, 2, 1)))
    with pytest.raises(ValueError, match=r"`pool_size`.*Received: pool_size=0"):
        nn.MaxPooling1D(0)


# ---------------------------------------------------------------------- UpSampling2D
@pytest.mark.parametrize("trial", range(6))
def test_upsampling_nearest_matches_keras(rng, trial):
    size = pair(rng, 1, 3)
    x_shape = (int(rng.integers(1, 3)), int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 3)))
    assert_keras_close(nn.UpSampling2D(size), rng.normal(size=x_shape), f"UpSampling2D({size}) on {x_shape}")


@pytest.mark.parametrize("size", [(2, 2), (3, 2), (1, 3)])
def test_upsampling_bilinear_matches_keras_to_float32_accuracy(rng, size):
    """TensorFlow's ResizeBilinear runs in float32 even in a float64 layer, so agreement is float32's."""
    x = rng.normal(size=(2, 3, 4, 2))
    report = compare_with_keras(nn.UpSampling2D(size, interpolation="bilinear"), x)
    for row in report.rows:
        np.testing.assert_allclose(row.numpy, row.keras, rtol=1e-5, atol=1e-6 * np.max(np.abs(row.keras)),
                                   err_msg=row.quantity)
    # and ours is the exact (float64) half-pixel bilinear: a constant image stays constant, exactly
    np.testing.assert_allclose(nn.UpSampling2D(size, interpolation="bilinear").forward(np.full((1, 3, 4, 1), 2.5)),
                               2.5, rtol=1e-15)


def test_upsampling_arguments():
    twin = nn.from_keras(keras.layers.UpSampling2D())
    assert (twin.size, twin.interpolation) == ((2, 2), "nearest")
    with pytest.raises(ValueError, match=r"interpolation='nearest' or 'bilinear'. Received: interpolation='bicubic'"):
        nn.UpSampling2D(interpolation="bicubic")
    with pytest.raises(ValueError, match=r"`size`.*Received: size=\(2, 0\)"):
        nn.UpSampling2D((2, 0))


# ------------------------------------------------------------------ finite differences
@pytest.mark.parametrize("layer, x_shape", [
    (nn.Conv2DTranspose(2, 3, strides=2, padding="same", activation="tanh", bias_initializer="random_normal"),
     (2, 3, 3, 2)),
    (nn.Conv2DTranspose(2, (2, 3), strides=(3, 1), padding="valid", output_padding=(1, 0)), (1, 2, 3, 2)),
    (nn.Conv2DTranspose(1, 4, strides=2, padding="same", output_padding=1, use_bias=False), (1, 2, 3, 2)),
    (nn.Conv1D(3, 3, strides=2, padding="same", activation="sigmoid", bias_initializer="random_normal"), (2, 7, 2)),
    (nn.Conv1D(2, 2, padding="causal", use_bias=False), (2, 5, 3)),
    (nn.MaxPooling1D(3, strides=2, padding="same"), (2, 7, 2)),
    (nn.UpSampling2D((2, 3)), (2, 2, 3, 2)),
    (nn.UpSampling2D((3, 2), interpolation="bilinear"), (2, 3, 2, 2)),
], ids=lambda v: type(v).__name__ if isinstance(v, nn.Layer) else str(v))
def test_gradients_match_finite_differences(rng, layer, x_shape):
    x = rng.normal(size=x_shape)
    layer.build(x_shape)
    if layer.weights:
        layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])
    errors = check_layer_gradients(layer, x)
    assert set(errors) == {"dx"} | set(layer.weight_names)
    assert max(errors.values()) < RTOL_NUMERIC, f"analytic vs numeric rel errors {errors}"


# -------------------------------------------------------------------- Sequential models
def test_sequential_conv_decoder_from_keras(rng):
    model = keras.Sequential([
        keras.Input((5, 4, 2)),
        keras.layers.Conv2D(3, 3, padding="same", activation="relu"),
        keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="tanh"),
        keras.layers.UpSampling2D((2, 1)),
        keras.layers.Conv2DTranspose(2, (2, 3), strides=(1, 2), output_padding=(0, 1), activation="sigmoid"),
        keras.layers.MaxPooling2D(),
    ])
    twin = nn.from_keras(model)
    assert [type(layer).__name__ for layer in twin.layers] == [
        "Conv2D", "Conv2DTranspose", "UpSampling2D", "Conv2DTranspose", "MaxPooling2D"]
    assert twin.output_shape == model.output_shape
    x = rng.normal(size=(2, 5, 4, 2))
    report = compare_with_keras(twin, x, title="Sequential conv decoder")
    report.assert_close(RTOL_KERAS)
    assert len(report.rows) == 2 + 6
    back = nn.to_keras(twin, dtype="float64")
    np.testing.assert_allclose(to_numpy(back(x)), twin.predict(x), **forward_tol())


def test_sequential_conv1d_from_keras(rng):
    model = keras.Sequential([
        keras.Input((12, 3)),
        keras.layers.Conv1D(4, 3, padding="causal", activation="relu"),
        keras.layers.MaxPooling1D(2),
        keras.layers.Conv1D(2, 2, strides=2, padding="same"),
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    twin = nn.from_keras(model)
    assert twin.output_shape == model.output_shape
    report = compare_with_keras(twin, rng.normal(size=(3, 12, 3)), title="Sequential Conv1D")
    report.assert_close(RTOL_KERAS)
    assert len(report.rows) == 2 + 6
