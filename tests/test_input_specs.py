"""Input specs and constructor arguments of every NumPy layer, against Keras's acceptance.

- A layer built for one input shape accepts what the Keras layer built for the same shape accepts: another
  batch size and, for the recurrent, convolutional, pooling and attention layers, another sequence length
  or image size (issue 20, point 8). The NumPy layer, given the Keras layer's weights, must then give
  Keras's output (float64 on TensorFlow to 1e-12, float32 rounding elsewhere: ``helpers.forward_tol``).
  Where Keras refuses a call (another rank for BatchNormalization, another feature size), the NumPy
  layer refuses it too, with a ValueError.
- A Keras constructor argument the NumPy layer does not implement is refused at construction with a
  ValueError naming the argument and what is supported (issue 20, point 7); its Keras default passes.
- The base class checks the declared ``InputSpec`` (rank, per-axis sizes) for every layer (issue 18,
  point 4), with each layer's own message.
"""
import numpy as np
import pytest

from course_utils import nn
from helpers import forward_tol, keras_is_float64, to_numpy

keras = pytest.importorskip("keras")


def _keras_dtype():
    return "float64" if keras_is_float64() else "float32"


def _arrays(rng, shapes, integer_high=None):
    if integer_high is not None:
        return [rng.integers(0, integer_high, size=s) for s in shapes]
    return [rng.normal(size=s) for s in shapes]


def _call(layer, arrays, style):
    """Call a layer as its kind is called: one array, a list (merge layers) or query/value (attention)."""
    if style == "list":
        return layer(list(arrays))
    return layer(*arrays)


# (name, constructor arguments, shapes the layer is built for, shapes it is called on next, call style)
# Every second call changes the batch size; most change a sequence length, image size or rank too.
ACCEPTED = [
    ("Dense", dict(units=3), [(2, 4)], [(7, 4)], "one"),
    ("Dense", dict(units=3), [(2, 4)], [(3, 5, 4)], "one"),
    ("Embedding", dict(input_dim=10, output_dim=3), [(2, 5)], [(7, 9)], "int"),
    ("Activation", dict(activation="tanh"), [(2, 4)], [(5, 3, 4)], "one"),
    ("LeakyReLU", dict(), [(2, 4)], [(5, 6)], "one"),
    ("Dropout", dict(rate=0.5), [(2, 4)], [(5, 6)], "one"),
    ("Flatten", dict(), [(2, 3, 4)], [(5, 3, 4)], "one"),
    ("Reshape", dict(target_shape=(-1,)), [(2, 3, 4)], [(5, 3, 4)], "one"),
    ("UpSampling2D", dict(size=2), [(2, 3, 3, 2)], [(5, 4, 6, 2)], "one"),
    ("Conv1D", dict(filters=3, kernel_size=2), [(2, 6, 4)], [(5, 9, 4)], "one"),
    ("Conv2D", dict(filters=3, kernel_size=2), [(2, 5, 5, 3)], [(4, 7, 6, 3)], "one"),
    ("Conv2DTranspose", dict(filters=3, kernel_size=2, strides=2), [(2, 3, 3, 2)], [(4, 5, 2, 2)], "one"),
    ("MaxPooling1D", dict(pool_size=2), [(2, 6, 3)], [(5, 9, 3)], "one"),
    ("MaxPooling2D", dict(pool_size=2), [(2, 4, 4, 3)], [(5, 7, 6, 3)], "one"),
    ("AveragePooling2D", dict(pool_size=2), [(2, 4, 4, 3)], [(5, 7, 6, 3)], "one"),
    ("GlobalAveragePooling2D", dict(), [(2, 4, 4, 3)], [(5, 7, 6, 3)], "one"),
    ("GlobalMaxPooling2D", dict(), [(2, 4, 4, 3)], [(5, 7, 6, 3)], "one"),
    ("BatchNormalization", dict(), [(2, 3, 4)], [(5, 6, 4)], "one"),
    ("LayerNormalization", dict(), [(2, 2, 2)], [(1000, 2, 2, 2)], "one"),     # the case
    ("LayerNormalization", dict(axis=1), [(2, 3, 4)], [(5, 3, 4, 2)], "one"),
    ("LayerNormalization", dict(axis=[1, 2]), [(2, 3, 4)], [(5, 3, 4)], "one"),
    ("LayerNormalization", dict(axis=[-2, -1]), [(2, 3, 4)], [(5, 2, 3, 4)], "one"),
    ("SimpleRNN", dict(units=3), [(2, 5, 4)], [(6, 8, 4)], "one"),
    ("LSTM", dict(units=3, return_sequences=True), [(2, 5, 4)], [(6, 3, 4)], "one"),
    ("GRU", dict(units=3), [(2, 5, 4)], [(6, 8, 4)], "one"),
    ("GRU", dict(units=3, reset_after=False, return_sequences=True), [(2, 5, 4)], [(1, 2, 4)], "one"),
    ("MultiHeadAttention", dict(num_heads=2, key_dim=3), [(2, 5, 4), (2, 6, 4)], [(3, 7, 4), (3, 2, 4)], "one"),
    ("Add", dict(), [(2, 3), (2, 3)], [(5, 3), (5, 3)], "list"),
    ("Subtract", dict(), [(2, 3, 4), (2, 3, 4)], [(5, 6, 4), (5, 6, 4)], "list"),
    ("Multiply", dict(), [(2, 3), (2, 3)], [(5, 3), (5, 3)], "list"),
    ("Average", dict(), [(2, 3), (2, 3), (2, 3)], [(5, 3), (5, 3), (5, 3)], "list"),
    ("Concatenate", dict(), [(2, 3), (2, 4)], [(5, 3), (5, 4)], "list"),
    ("Concatenate", dict(axis=1), [(2, 3, 4), (2, 2, 4)], [(5, 6, 4), (5, 1, 4)], "list"),
]


def _case_id(case):
    name, kwargs, _, after, _ = case
    return f"{name}({','.join(f'{k}={v}' for k, v in kwargs.items())})->{after}"


def _build_pair(name, kwargs, build_shapes, style, rng):
    """The Keras layer and the NumPy layer, both built by a call on ``build_shapes``, same weights."""
    keras_layer = getattr(keras.layers, name)(dtype=_keras_dtype(), **kwargs)
    layer = getattr(nn, name)(**kwargs)
    arrays = _arrays(rng, build_shapes, 10 if style == "int" else None)
    _call(keras_layer, [keras.ops.convert_to_tensor(a) for a in arrays], style)
    _call(layer, arrays, style)
    layer.set_weights([to_numpy(w) for w in keras_layer.weights])
    return keras_layer, layer


@pytest.mark.parametrize("case", ACCEPTED, ids=[_case_id(c) for c in ACCEPTED])
def test_layer_built_for_one_shape_accepts_what_keras_accepts(rng, case):
    name, kwargs, build_shapes, call_shapes, style = case
    keras_layer, layer = _build_pair(name, kwargs, build_shapes, style, rng)
    arrays = _arrays(rng, call_shapes, 10 if style == "int" else None)
    expected = to_numpy(_call(keras_layer, [keras.ops.convert_to_tensor(a) for a in arrays], style))
    mine = _call(layer, arrays, style)
    assert mine.shape == expected.shape, f"{name}: NumPy {mine.shape} vs Keras {expected.shape}"
    np.testing.assert_allclose(mine, expected, **forward_tol(), err_msg=f"{name} on {call_shapes}")
    dx = layer.backward(np.ones_like(mine))       # the backward pass runs on the new shape too
    for d, x in zip(dx if isinstance(dx, list) else [dx], arrays):
        assert d is None or d.shape == x.shape


# Calls that Keras refuses after building on the first shapes: the NumPy layer refuses them too.
REFUSED = [
    ("Dense", dict(units=3), [(2, 4)], [(2, 5)], "one"),
    ("Conv1D", dict(filters=3, kernel_size=2), [(2, 6, 4)], [(2, 6, 5)], "one"),
    ("Conv2D", dict(filters=3, kernel_size=2), [(2, 5, 5, 3)], [(2, 5, 5, 2)], "one"),
    ("Conv2D", dict(filters=3, kernel_size=2), [(2, 5, 5, 3)], [(2, 5, 3)], "one"),
    ("BatchNormalization", dict(), [(2, 3, 4)], [(2, 3, 4, 4)], "one"),
    ("BatchNormalization", dict(), [(2, 3, 4)], [(2, 3, 5)], "one"),
    ("LayerNormalization", dict(), [(2, 2, 2)], [(2, 2, 3)], "one"),
    ("LSTM", dict(units=3), [(2, 5, 4)], [(2, 5, 3)], "one"),
    ("MaxPooling2D", dict(pool_size=2), [(2, 4, 4, 3)], [(2, 4, 4)], "one"),
    ("MultiHeadAttention", dict(num_heads=2, key_dim=3), [(2, 5, 4), (2, 6, 4)], [(2, 5, 4), (2, 6, 5)], "one"),
]


@pytest.mark.parametrize("case", REFUSED, ids=[_case_id(c) for c in REFUSED])
def test_layer_refuses_what_keras_refuses(rng, case):
    name, kwargs, build_shapes, call_shapes, style = case
    keras_layer, layer = _build_pair(name, kwargs, build_shapes, style, rng)
    arrays = _arrays(rng, call_shapes)
    with pytest.raises(Exception):
        _call(keras_layer, [keras.ops.convert_to_tensor(a) for a in arrays], style)
    with pytest.raises(ValueError, match=layer.name):
        _call(layer, arrays, style)
