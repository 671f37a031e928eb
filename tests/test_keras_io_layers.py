"""The layers and options the keras-io examples and Keras's own tests use most (issue 20, Deliver 2),
against Keras and against centred finite differences.

Each Keras comparison runs the NumPy layer and its Keras twin (``to_keras``) with the same weights on
the same input and upstream gradient (``course_utils.compare.compare_with_keras``) on random
configurations drawn from the test's seeded ``rng``, and asserts the output, dL/dx and every weight
gradient with ``report.assert_close()``: 1e-7 relative in float64 on TensorFlow, the float32
tolerance (1e-5 relative to each quantity's scale) on JAX and PyTorch. The finite-difference checks
compare the backward pass with centred differences (h = 1e-5) in float64 to 1e-6.
"""
import numpy as np
import pytest

from course_utils import nn
from course_utils.compare import compare_with_keras
from course_utils.gradcheck import check_layer_gradients

from helpers import assert_rel, forward_tol

keras = pytest.importorskip("keras")

RTOL_NUMERIC = 1e-6   # analytic vs centred differences (h = 1e-5), float64, element by element
RTOL_SCALED = 1e-7    # the same, relative to the gradient's scale (see _finite_differences)


def _away_from(x, points, gap=1e-3):
    """x with every value within ``gap`` of one of ``points`` moved off it (kinks: no tie, no
    finite difference across a corner)."""
    x = np.array(x)
    for p in points:
        near = np.abs(x - p) < gap
        x[near] = p + 2 * gap * np.sign(x[near] - p + 1e-12)
    return x


def _check(layer, x, what):
    """Keras agrees (output, dx, weight gradients) and centred differences agree with the backward."""
    report = compare_with_keras(layer, x, title=what)
    report.assert_close()
    errors = check_layer_gradients(layer, np.array(x, dtype=np.float64))
    assert max(errors.values()) < RTOL_NUMERIC, f"{what}: finite differences {errors}"
    return report


# ------------------------------------------------------------------------------ activations
def test_relu_options_match_keras(rng):
    for _ in range(12):
        config = dict(max_value=None if rng.random() < 0.4 else float(rng.choice([6.0, rng.uniform(0.5, 2)])),
                      negative_slope=0.0 if rng.random() < 0.3 else float(rng.uniform(0.05, 0.5)),
                      threshold=0.0 if rng.random() < 0.5 else float(rng.uniform(0.1, 1.0)))
        x = rng.normal(scale=2, size=(int(rng.integers(1, 4)), int(rng.integers(1, 6)), 3))
        kinks = [0.0, config["threshold"]] + ([config["max_value"]] if config["max_value"] else [])
        _check(nn.ReLU(**config), _away_from(x, kinks), f"ReLU{config}")


def test_relu_refuses_negative_arguments():
    for arg in ("max_value", "negative_slope", "threshold"):
        with pytest.raises(ValueError, match=f"{arg}.*Received: {arg}=-1"):
            nn.ReLU(**{arg: -1})


@pytest.mark.parametrize("axis", [-1, 1, [1, 2], (-2, -1)])
def test_softmax_axis_matches_keras(rng, axis):
    _check(nn.Softmax(axis=axis), rng.normal(size=(2, 3, 4)), f"Softmax(axis={axis})")


def test_softmax_refuses_an_axis_out_of_range(rng):
    with pytest.raises(ValueError, match="axis=3 is out of bounds for an input of rank 3"):
        nn.Softmax(axis=3).forward(rng.normal(size=(2, 3, 4)))


# ------------------------------------------------------------------------------ pooling
@pytest.mark.parametrize("cls", ["GlobalAveragePooling1D", "GlobalMaxPooling1D"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_1d_matches_keras(rng, cls, data_format, keepdims):
    layer = getattr(nn, cls)(data_format=data_format, keepdims=keepdims)
    x = rng.normal(size=(int(rng.integers(1, 4)), int(rng.integers(1, 7)), int(rng.integers(1, 4))))
    _check(layer, x, f"{cls}({data_format}, keepdims={keepdims})")
    expected = tuple(np.delete(x.shape, layer.steps_axis)) if not keepdims else \
        tuple(1 if i == layer.steps_axis else d for i, d in enumerate(x.shape))
    assert layer.forward(x).shape == expected


def test_average_pooling_1d_matches_keras(rng):
    """On torch, the cases whose "same" padding is uneven (an odd total) are left out: Keras's torch backend
    pads them by repeating the edge values (mode "replicate") and averages those in, where TensorFlow and
    JAX average the real values only (plain Keras, AveragePooling1D(4, strides=1, padding="same") on
    [1, 2, 3]: TensorFlow [2, 2, 2.5], torch [1.75, 2.25, 2.75]; keras-team/keras#18452). The NumPy layer
    follows TensorFlow and JAX."""
    on_torch = keras.backend.backend() == "torch"
    for _ in range(10):
        pool = int(rng.integers(1, 5))
        strides = None if rng.random() < 0.3 else int(rng.integers(1, 4))
        padding = str(rng.choice(["valid", "same"]))
        x = rng.normal(size=(int(rng.integers(1, 3)), int(rng.integers(pool, pool + 7)), int(rng.integers(1, 4))))
        step = pool if strides is None else strides
        uneven = max((-(-x.shape[1] // step) - 1) * step + pool - x.shape[1], 0) % 2 == 1
        if on_torch and padding == "same" and uneven:
            continue
        _check(nn.AveragePooling1D(pool, strides=strides, padding=padding), x,
               f"AveragePooling1D({pool}, {strides}, {padding}) on {x.shape}")


# ------------------------------------------------------------------------------ reshaping
def test_repeat_vector_and_permute_match_keras(rng):
    _check(nn.RepeatVector(int(rng.integers(1, 5))), rng.normal(size=(3, 4)), "RepeatVector")
    for dims in [(2, 1), (3, 1, 2), (1, 3, 2), (2, 3, 1)]:
        x = rng.normal(size=(2,) + tuple(int(rng.integers(1, 5)) for _ in dims))
        _check(nn.Permute(dims), x, f"Permute{dims}")


def test_permute_and_repeat_vector_refuse_bad_arguments():
    with pytest.raises(ValueError, match="must be consecutive and start from 1"):
        nn.Permute((0, 1))
    with pytest.raises(ValueError, match="Received: n=0"):
        nn.RepeatVector(0)
    with pytest.raises(ValueError, match="rank 3"):
        nn.Permute((2, 1)).forward(np.zeros((2, 3, 4, 5)))


def _pairs(rng):
    """An int, (symmetric_h, symmetric_w) or ((top, bottom), (left, right)), as Keras accepts."""
    kind = int(rng.integers(3))
    if kind == 0:
        return int(rng.integers(0, 3))
    if kind == 1:
        return (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
    return tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(2))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_zero_padding_and_cropping_2d_match_keras(rng, data_format):
    for _ in range(6):
        x = rng.normal(size=(2, int(rng.integers(5, 8)), int(rng.integers(5, 8)), 3))
        if data_format == "channels_first":
            x = x.transpose(0, 3, 1, 2)
        _check(nn.ZeroPadding2D(_pairs(rng), data_format=data_format), x, "ZeroPadding2D")
        _check(nn.Cropping2D(_pairs(rng), data_format=data_format), x, "Cropping2D")


def test_cropping_2d_refuses_cropping_everything():
    with pytest.raises(ValueError, match="leaves nothing of axis 1"):
        nn.Cropping2D(((2, 2), (0, 0))).forward(np.zeros((1, 4, 4, 1)))


# ------------------------------------------------------------------------------ normalization
@pytest.mark.parametrize("axis", [-1, 1, [1, 2]])
def test_unit_normalization_matches_keras(rng, axis):
    _check(nn.UnitNormalization(axis=axis), rng.normal(size=(3, 4, 5)), f"UnitNormalization(axis={axis})")


def test_unit_normalization_of_zero_is_zero():
    """1/||x|| is capped at 1e12 (Keras's epsilon): a zero vector stays zero, its gradient 1e12 dy."""
    layer = nn.UnitNormalization()
    assert np.all(layer.forward(np.zeros((2, 3))) == 0)
    assert np.allclose(layer.backward(np.ones((2, 3))), 1e12)


# ------------------------------------------------------------------------------ merging: Dot
def _dot_models(shape1, shape2, axes, normalize):
    a, b = nn.Input(shape=shape1), nn.Input(shape=shape2)
    return nn.Model([a, b], nn.Dot(axes=axes, normalize=normalize)([a, b]))


@pytest.mark.parametrize("shape1, shape2, axes", [
    ((5,), (5,), 1), ((5,), (5,), -1), ((3, 5), (4, 5), 2), ((3, 5), (5, 4), (2, 1)), ((5,), (3, 5), (1, 2)),
    ((3, 5), (5,), (2, 1)), ((2, 3, 4), (4, 3), (3, 1)), ((3, 4), (2, 3, 5), (1, 2))])
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_matches_keras(rng, shape1, shape2, axes, normalize):
    model = _dot_models(shape1, shape2, axes, normalize)
    x = [rng.normal(size=(3,) + shape1), rng.normal(size=(3,) + shape2)]
    compare_with_keras(model, x, title=f"Dot(axes={axes}, normalize={normalize})").assert_close()
    keras_layer = keras.layers.Dot(axes=axes, normalize=normalize)
    assert model.layers[-1].compute_output_shape([(3,) + shape1, (3,) + shape2]) == \
        tuple(keras_layer.compute_output_shape([(3,) + shape1, (3,) + shape2]))


def test_dot_backward_matches_finite_differences(rng):
    from course_utils.gradcheck import numerical_gradient
    for normalize in (False, True):
        layer = nn.Dot(axes=(2, 1), normalize=normalize)
        x1, x2 = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4, 5))
        dy = rng.normal(size=layer.forward([x1, x2]).shape)
        dx1, dx2 = layer.backward(dy)
        for x, dx in ((x1, dx1), (x2, dx2)):
            numeric = numerical_gradient(lambda: np.sum(layer.forward([x1, x2]) * dy), x)
            assert np.max(np.abs(dx - numeric)) < RTOL_NUMERIC * max(1.0, np.max(np.abs(numeric)))


def test_dot_refuses_mismatched_axes():
    with pytest.raises(ValueError, match="Incompatible input shapes: axis values 4"):
        nn.Dot(axes=1).forward([np.zeros((2, 4)), np.zeros((2, 5))])


# ------------------------------------------------------------------------------ preprocessing
def test_rescaling_matches_keras(rng):
    _check(nn.Rescaling(1 / 255), rng.uniform(0, 255, size=(2, 4, 4, 3)), "Rescaling(1/255)")
    _check(nn.Rescaling(2.0, offset=-1.0), rng.normal(size=(3, 5)), "Rescaling(2, -1)")
    _check(nn.Rescaling([0.5, 2.0, 3.0], offset=[1.0, 0.0, -1.0]), rng.normal(size=(2, 4, 3)), "per channel")


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="float64 is computed only on TensorFlow")
def test_rescaling_numbers_are_keras_own(rng):
    """A Python float reaches Keras's computation through float32 (TensorFlow's cast), a NumPy array
    keeps float64: the twin computes with the same numbers, so the outputs agree to rounding, not 1e-9."""
    x = rng.uniform(0, 255, size=(2, 4, 4, 3))
    for scale, offset in ((1 / 255, 0.1), ([0.1, 1 / 3, 0.7], [0.3, 0.0, -0.1]),
                          (np.full(3, 1 / 255), np.array(0.1)), (2, -1)):
        twin = nn.Rescaling(scale, offset=offset)
        keras_layer = keras.layers.Rescaling(scale, offset=offset, dtype="float64")
        expected = keras.ops.convert_to_numpy(keras_layer(x))
        assert np.max(np.abs(twin.forward(x) - expected)) <= 1e-15 * np.max(np.abs(expected)), (scale, offset)
        from_keras = nn.from_keras(keras_layer).forward(x)
        to_keras = keras.ops.convert_to_numpy(nn.to_keras(twin, dtype="float64")(x))
        assert np.max(np.abs(from_keras - expected)) <= 1e-15 * np.max(np.abs(expected)), (scale, offset)
        assert np.max(np.abs(to_keras - expected)) <= 1e-15 * np.max(np.abs(expected)), (scale, offset)


def test_normalization_given_statistics_keep_float64(rng):
    """mean and variance given as float64 arrays: to_keras hands Keras arrays (a list would become float32)."""
    twin = nn.Normalization(mean=rng.normal(size=5), variance=rng.uniform(0.5, 2, size=5))
    x = rng.normal(size=(4, 5))
    report = compare_with_keras(twin, x)
    assert max(row.max_rel_err for row in report.rows) < (1e-14 if keras.backend.backend() == "tensorflow" else 1e-5)
    uint8 = nn.Rescaling(1 / 255).forward(np.array([[0, 255]], dtype=np.uint8))
    assert uint8.dtype == np.float64 and np.allclose(uint8, [[0, 1]])


@pytest.mark.parametrize("axis", [-1, None, (1, 2), 1])
@pytest.mark.parametrize("invert", [False, True])
def test_normalization_adapted_statistics_convert_from_keras(rng, axis, invert):
    data = rng.normal(loc=3, scale=2, size=(20, 3, 4))
    keras_layer = keras.layers.Normalization(axis=axis, invert=invert, dtype="float64")
    keras_layer.adapt(data)
    twin = nn.from_keras(keras_layer)
    x = rng.normal(size=(2, 3, 4))
    tol = forward_tol()   # 1e-12 in float64 on TensorFlow; float32 rounding on JAX/torch (Keras's variables)
    np.testing.assert_allclose(twin.forward(x), keras.ops.convert_to_numpy(keras_layer(x)), **tol)
    compare_with_keras(keras_layer, x, title=f"Normalization(axis={axis}, invert={invert})").assert_close()
    mine = nn.Normalization(axis=axis, invert=invert)
    mine.adapt(data)
    np.testing.assert_allclose(mine.mean, keras.ops.convert_to_numpy(keras_layer.adapt_mean), **tol)
    np.testing.assert_allclose(mine.variance, keras.ops.convert_to_numpy(keras_layer.adapt_variance), **tol)
    errors = check_layer_gradients(mine, x)
    assert max(errors.values()) < RTOL_NUMERIC, errors


def test_normalization_with_given_mean_and_variance_matches_keras(rng):
    for mean, variance, axis in [(2.0, 4.0, -1), ([1.0, 2.0, 3.0], [1.0, 0.5, 4.0], -1),
                                 ([[1.0, 2.0, 3.0, 4.0]] * 3, [[1.0, 2.0, 3.0, 4.0]] * 3, (1, 2))]:
        _check(nn.Normalization(axis=axis, mean=mean, variance=variance), rng.normal(size=(2, 3, 4))
               if axis != -1 or np.ndim(mean) == 0 else rng.normal(size=(2, 5, 3)), f"Normalization({mean})")


def _finite_differences(layer, x, dout=None, seed=0):
    """The largest error of dx and of every weight gradient (by position: Bidirectional's two layers
    share weight names) against centred differences (h = 1e-5, float64), relative to the gradient's
    scale: max |analytic - numeric| / max(1, max |numeric|). Centred differences are good to about
    1e-10 here, so a right backward pass gives < 1e-7 and a wrong one O(1)."""
    from course_utils.gradcheck import numerical_gradient

    def rel_error(analytic, numeric):
        return float(np.max(np.abs(analytic - numeric), initial=0.0) / max(1.0, np.max(np.abs(numeric), initial=0.0)))
    x = np.array(x, dtype=np.float64)
    out = layer.forward(x)
    outs = out if isinstance(out, list) else [out]
    rng = np.random.default_rng(seed)
    douts = [rng.normal(size=o.shape) for o in outs]

    def loss():
        y = layer.forward(x)
        return sum(float(np.sum(a * d)) for a, d in zip(y if isinstance(y, list) else [y], douts))
    dx = layer.backward(douts if isinstance(out, list) else douts[0])
    grads = [np.array(g) for g in layer.grads]
    errors = [rel_error(dx, numerical_gradient(loss, x))]
    errors += [rel_error(g, numerical_gradient(loss, w)) for g, w in zip(grads, layer.trainable_weights)]
    return max(errors)


# ------------------------------------------------------------------------------ dilated convolutions
def test_conv1d_dilation_matches_keras_wavenet_stack(rng):
    """Dilated causal Conv1D (WaveNet): random kernel sizes and dilation rates, every padding."""
    for _ in range(10):
        k, d = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        padding = str(rng.choice(["causal", "same", "valid"]))
        layer = nn.Conv1D(int(rng.integers(1, 4)), k, dilation_rate=d, padding=padding,
                          activation=[None, "tanh"][int(rng.integers(2))])
        x = rng.normal(size=(2, (k - 1) * d + int(rng.integers(1, 6)), int(rng.integers(1, 4))))
        compare_with_keras(layer, x, title=f"Conv1D(k={k}, d={d}, {padding})").assert_close()
        assert _finite_differences(layer, x) < RTOL_SCALED
    # a WaveNet stack: output t sees exactly the inputs <= t (receptive field 1 + (2 - 1)(1 + 2 + 4) = 8)
    stack = nn.Sequential([nn.Conv1D(2, 2, dilation_rate=r, padding="causal") for r in (1, 2, 4)])
    x = rng.normal(size=(1, 12, 1))
    y = stack.forward(x)
    x2 = x.copy()
    x2[0, 9] += 1.0
    changed = np.any(stack.forward(x2) != y, axis=(0, 2))
    assert not changed[:9].any() and changed[9:].all()


def test_conv2d_dilation_matches_keras(rng):
    for _ in range(8):
        kernel = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        dilation = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        padding = str(rng.choice(["valid", "same"]))
        layer = nn.Conv2D(int(rng.integers(1, 4)), kernel, dilation_rate=dilation, padding=padding)
        x = rng.normal(size=(2, 8, 9, int(rng.integers(1, 3))))
        compare_with_keras(layer, x, title=f"Conv2D({kernel}, d={dilation}, {padding})").assert_close()
        assert _finite_differences(layer, x) < RTOL_SCALED


def test_dilation_with_strides_is_refused_as_keras_refuses_it():
    with pytest.raises(ValueError, match="`strides > 1` not supported in conjunction with `dilation_rate > 1`"):
        nn.Conv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="`strides > 1` not supported"):
        nn.Conv1D(2, 3, strides=2, dilation_rate=2)


# ------------------------------------------------------------------------------ depthwise, separable
def _equal_strides_or_dilation(rng):
    """strides (equal along both axes: TensorFlow's depthwise kernel refuses unequal ones) or a
    dilation, never both (Keras's rule)."""
    if rng.random() < 0.5:
        s = int(rng.integers(1, 3))
        return dict(strides=(s, s))
    return dict(dilation_rate=(int(rng.integers(1, 3)), int(rng.integers(1, 3))))


def test_depthwise_conv2d_matches_keras(rng):
    for _ in range(8):
        layer = nn.DepthwiseConv2D((int(rng.integers(1, 4)), int(rng.integers(1, 4))),
                                   depth_multiplier=int(rng.integers(1, 4)),
                                   padding=str(rng.choice(["valid", "same"])),
                                   activation=[None, "relu", "tanh"][int(rng.integers(3))],
                                   use_bias=bool(rng.random() < 0.7), **_equal_strides_or_dilation(rng))
        x = rng.normal(size=(2, 7, 6, int(rng.integers(1, 4))))
        x = _away_from(x, [0.0]) if layer.activation.name == "relu" else x
        compare_with_keras(layer, x, title=f"DepthwiseConv2D {layer.get_config()}").assert_close()
        assert _finite_differences(layer, x) < RTOL_SCALED
        assert layer.depthwise_kernel.shape == layer.kernel_size + (x.shape[-1], layer.depth_multiplier)


def test_separable_conv2d_matches_keras(rng):
    for _ in range(8):
        layer = nn.SeparableConv2D(int(rng.integers(1, 4)), (int(rng.integers(1, 4)), int(rng.integers(1, 4))),
                                   depth_multiplier=int(rng.integers(1, 3)),
                                   padding=str(rng.choice(["valid", "same"])),
                                   activation=[None, "tanh"][int(rng.integers(2))],
                                   use_bias=bool(rng.random() < 0.7), **_equal_strides_or_dilation(rng))
        x = rng.normal(size=(2, 7, 6, int(rng.integers(1, 4))))
        compare_with_keras(layer, x, title=f"SeparableConv2D {layer.get_config()}").assert_close()
        assert _finite_differences(layer, x) < RTOL_SCALED
        assert layer.weight_names == ["depthwise_kernel", "pointwise_kernel"] + (["bias"] if layer.use_bias else [])


def test_conv1d_transpose_matches_keras(rng):
    for _ in range(10):
        k, s = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        padding = str(rng.choice(["valid", "same"]))
        low = 1 if (padding == "same" and k % 2 == 0) else 0   # TensorFlow's rule (see Conv2DTranspose)
        output_padding = None if rng.random() < 0.5 or low >= s else int(rng.integers(low, s))
        layer = nn.Conv1DTranspose(int(rng.integers(1, 4)), k, strides=s, padding=padding,
                                   output_padding=output_padding, activation=[None, "tanh"][int(rng.integers(2))])
        x = rng.normal(size=(2, int(rng.integers(1, 6)), int(rng.integers(1, 4))))
        try:
            compare_with_keras(layer, x, title=f"Conv1DTranspose {layer.get_config()}").assert_close()
        except ValueError as error:   # TensorFlow cannot run it either: refused with the reason
            assert "does not map back" in str(error)
            continue
        assert _finite_differences(layer, x) < RTOL_SCALED
        assert layer.kernel.shape == (k, layer.filters, x.shape[-1])


# ------------------------------------------------------------------------------ Bidirectional
@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_matches_keras(rng, cls, merge_mode, return_sequences):
    layer = nn.Bidirectional(getattr(nn, cls)(int(rng.integers(1, 4)), return_sequences=return_sequences),
                             merge_mode=merge_mode)
    x = rng.normal(size=(2, int(rng.integers(1, 5)), 3))
    compare_with_keras(layer, x, title=f"Bidirectional({cls}, {merge_mode}, {return_sequences})").assert_close()
    assert _finite_differences(layer, x) < RTOL_SCALED


@pytest.mark.parametrize("cls, n_states", [("SimpleRNN", 1), ("LSTM", 2), ("GRU", 1)])
def test_bidirectional_with_states_matches_keras(rng, cls, n_states):
    """return_state=True and initial_state (forward's states, then backward's), as the seq2seq examples."""
    layer = nn.Bidirectional(getattr(nn, cls)(3, return_sequences=True, return_state=True))
    states = [rng.normal(size=(2, 3)) for _ in range(2 * n_states)]
    report = compare_with_keras(layer, rng.normal(size=(2, 4, 3)), initial_state=states).assert_close()
    assert sum(row.quantity.startswith("d initial_state") for row in report.rows) == 2 * n_states


def test_bidirectional_converts_from_keras(rng):
    inputs = keras.Input(shape=(5, 3))
    h = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True), merge_mode="sum")(inputs)
    outputs = keras.layers.Bidirectional(keras.layers.GRU(2))(h)
    model = keras.Model(inputs, outputs)
    twin = nn.from_keras(model)
    assert [type(layer).__name__ for layer in twin.layers[1:]] == ["Bidirectional", "Bidirectional"]
    assert [w.shape for w in twin.get_weights()] == [tuple(w.shape) for w in model.get_weights()]
    compare_with_keras(model, rng.normal(size=(2, 5, 3))).assert_close()


def test_bidirectional_refuses_a_non_recurrent_layer():
    with pytest.raises(ValueError, match="Bidirectional wraps a course_utils.nn recurrent layer"):
        nn.Bidirectional(nn.Dense(3))
    with pytest.raises(ValueError, match="Invalid merge mode"):
        nn.Bidirectional(nn.LSTM(3), merge_mode="max")


# ------------------------------------------------------------------------------ loss reduction
REDUCTION_CASES = {   # name: (NumPy class, keras.losses class, kwargs, targets, predictions)
    "mse": ("MeanSquaredError", {}, "real", "real"),
    "mae": ("MeanAbsoluteError", {}, "real", "real"),
    "huber": ("Huber", {"delta": 0.7}, "real", "real"),
    "kld": ("KLDivergence", {}, "dist", "dist"),
    "bce": ("BinaryCrossentropy", {"label_smoothing": 0.1}, "binary", "prob"),
    "bce_logits": ("BinaryCrossentropy", {"from_logits": True}, "binary", "real"),
    "cce": ("CategoricalCrossentropy", {"label_smoothing": 0.2}, "onehot", "dist"),
    "cce_logits": ("CategoricalCrossentropy", {"from_logits": True}, "onehot", "real"),
    "sparse": ("SparseCategoricalCrossentropy", {}, "labels", "dist"),
    "sparse_logits": ("SparseCategoricalCrossentropy", {"from_logits": True}, "labels", "real"),
}


def _draw_targets_or_predictions(kind, shape, rng):
    if kind == "real":
        return rng.normal(scale=2.0, size=shape)
    if kind == "prob":
        return rng.uniform(0.02, 0.98, size=shape)
    if kind == "binary":
        return rng.integers(0, 2, size=shape).astype(np.float64)
    if kind == "dist":
        p = rng.uniform(0.05, 1.0, size=shape)
        return p / p.sum(axis=-1, keepdims=True)
    if kind == "onehot":
        return np.eye(shape[-1])[rng.integers(0, shape[-1], size=shape[:-1])]
    return rng.integers(0, shape[-1], size=shape[:-1])


@pytest.mark.parametrize("case", list(REDUCTION_CASES))
@pytest.mark.parametrize("reduction", ["sum", "sum_over_batch_size", "none", "mean", "mean_with_sample_weight"])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_reduction_matches_keras(rng, case, reduction, weighted):
    """The value (an array with "none") equals Keras's, float64 on TensorFlow to 1e-7 (float32 tolerance
    elsewhere); the gradient equals centred differences of the NumPy loss (of its sum with "none")
    and, on TensorFlow, Keras's gradient."""
    from helpers import keras_rtol
    from course_utils.gradcheck import numerical_gradient
    cls, kwargs, target_kind, pred_kind = REDUCTION_CASES[case]
    try:
        keras.losses.MeanSquaredError(reduction=reduction)
    except ValueError:
        pytest.skip(f"this Keras ({keras.__version__}) has no reduction={reduction!r}")
    shape = (int(rng.integers(2, 5)), int(rng.integers(1, 3)), int(rng.integers(2, 5)))
    y_true = _draw_targets_or_predictions(target_kind, shape, rng)
    y_pred = _draw_targets_or_predictions(pred_kind, shape, rng)
    sample_weight = rng.uniform(0.0, 3.0, size=shape[:-1]) if weighted else None
    mine = getattr(nn, cls)(**kwargs, reduction=reduction)
    theirs = getattr(keras.losses, cls)(**kwargs, reduction=reduction, dtype="float64")
    value = mine.loss(y_true, y_pred, sample_weight)
    keras_value = keras.ops.convert_to_numpy(theirs(y_true, y_pred, sample_weight=sample_weight))
    assert np.shape(value) == keras_value.shape, f"{case} {reduction}: {np.shape(value)} vs {keras_value.shape}"
    scale = max(1.0, float(np.max(np.abs(keras_value))))
    assert np.max(np.abs(value - keras_value)) <= keras_rtol() * scale, f"{case} {reduction}: {value} vs {keras_value}"
    assert mine.get_config()["reduction"] == reduction and mine.to_keras().reduction == reduction
    grad = mine.gradient(y_true, y_pred, sample_weight)
    numeric = numerical_gradient(lambda: np.sum(mine.loss(y_true, y_pred, sample_weight)), y_pred)
    assert np.max(np.abs(grad - numeric)) < 1e-7 * max(1.0, np.max(np.abs(numeric))), f"{case} {reduction}"
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        p = tf.constant(y_pred)
        with tf.GradientTape() as tape:
            tape.watch(p)
            keras_loss = theirs(tf.constant(y_true), p, sample_weight=sample_weight)
        np.testing.assert_allclose(grad, tape.gradient(keras_loss, p).numpy(), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_fit_with_reduction_none_reports_what_keras_reports(rng, weighted, floatx_float64):
    """reduction="none": Keras's fit on TensorFlow reports the mean of the unreduced (weighted) losses of
    the epoch (History, val_loss, evaluate, train_on_batch) and steps along the gradient of their sum;
    the NumPy trainer reports the same numbers (it once put the array into History). On JAX and PyTorch,
    Keras's fit refuses a non-scalar loss (jax.grad: TypeError; torch autograd: RuntimeError "grad can be
    implicitly created only for scalar outputs"), so there the NumPy numbers are checked by the formula."""
    x, y = rng.normal(size=(10, 5, 3)), rng.normal(size=(10, 5, 2))
    sample_weight = rng.uniform(0.2, 2.0, size=(10, 5)) if weighted else None
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.Dense(2, dtype="float64")])   # whatever policy
    twin = nn.from_keras(model)                                                               # an earlier test left
    twin.compile(optimizer=nn.SGD(0.01), loss=nn.MeanSquaredError(reduction="none"))
    fit = dict(batch_size=4, epochs=2, verbose=0, shuffle=False, sample_weight=sample_weight)
    history = twin.fit(x, y, validation_data=(x[:3], y[:3]), **fit).history
    assert all(np.ndim(v) == 0 for values in history.values() for v in values), history
    final_val = np.mean(twin.loss.loss(y[:3], twin.predict(x[:3])))
    assert abs(history["val_loss"][-1] - final_val) <= 1e-12 * final_val
    assert abs(twin.evaluate(x, y, batch_size=4) - np.mean(twin.loss.loss(y, twin.predict(x)))) <= 1e-12 * 10
    if keras.backend.backend() != "tensorflow":
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss=keras.losses.MeanSquaredError(reduction="none"))
        with pytest.raises(TypeError if keras.backend.backend() == "jax" else RuntimeError, match="scalar"):
            model.fit(x, y, **fit)
        return
    from helpers import keras_rtol
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=keras.losses.MeanSquaredError(reduction="none"))
    theirs = model.fit(x, y, validation_data=(x[:3], y[:3]), **fit).history
    for key in ("loss", "val_loss"):
        assert_rel(np.array(history[key]), np.array(theirs[key]), f"History {key}", rtol=keras_rtol())
    assert_rel(twin.get_weights()[0], model.get_weights()[0], "kernel after 2 epochs", rtol=keras_rtol())
    assert_rel(np.array(twin.evaluate(x, y, batch_size=4)), np.array(model.evaluate(x, y, batch_size=4, verbose=0)),
               "evaluate", rtol=keras_rtol())


def test_loss_reduction_is_checked_as_keras_checks_it():
    with pytest.raises(ValueError, match="Invalid value for argument `reduction`.*Received: reduction='average'"):
        nn.MeanSquaredError(reduction="average")
