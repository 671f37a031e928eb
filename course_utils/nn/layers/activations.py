"""Activation layers, as Keras groups them in ``keras/src/layers/activations``: ``Activation`` (any
activation function of ``course_utils.nn.activations`` as a layer) and ``LeakyReLU`` (a ReLU with a
small slope for negative inputs). No weights.
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import activations
from ..base import ActivationAttribute, InputSpec, Layer


class Activation(Layer):
    """Applies an activation function: ``y = f(x)``; no weights. As ``keras.layers.Activation``."""

    keras_class = "Activation"
    input_spec = InputSpec(min_ndim=1)
    activation = ActivationAttribute()

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self._cache = None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        a = self.activation.forward(x)
        self._cache = (x, a)
        return a

    def backward(self, dout):
        self._require_forward()
        x, a = self._cache
        self.set_grads()
        return self.activation.backward(x, a, self._check_dout(dout, a.shape))

    def get_config(self):
        return {**super().get_config(), "activation": self.activation.name}


class LeakyReLU(Layer):
    """``y = x`` for x > 0, ``y = negative_slope * x`` otherwise (Keras 3's argument name and default, 0.3;
    the Keras 2 name ``alpha`` is accepted with Keras's deprecation warning).

    TensorFlow keeps the slope as a float32 attribute of its op, so a float64 layer multiplies by
    float32(negative_slope) (0.30000001192092896 for 0.3); the twin does the same, to match Keras exactly.

    Shapes: x ``(N, ...)`` -> y of the same shape.

    Forward:   y  = x if x > 0 else a x            (a = negative_slope)
    Backward:  dx = dy if x > 0 else a dy          (a at x = 0, as TensorFlow)
    """

    keras_class = "LeakyReLU"
    input_spec = InputSpec(min_ndim=1, dtype="compute")

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.")
        super().__init__(**kwargs)
        if (negative_slope is None or isinstance(negative_slope, bool)
                or not isinstance(negative_slope, (int, float, np.integer, np.floating)) or negative_slope < 0):
            raise ValueError("The negative_slope value of a Leaky ReLU layer cannot be None or negative value. "
                             f"Expected a float. Received: negative_slope={negative_slope}")
        self.negative_slope = float(negative_slope)
        self._cache = None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _slope(self, dtype):
        return dtype.type(np.float32(self.negative_slope))

    def forward(self, x, training=False):
        positive = x > 0
        self._cache = positive
        return np.where(positive, x, x * self._slope(x.dtype))

    def backward(self, dout):
        self._require_forward()
        positive = self._cache
        dy = self._check_dout(dout, positive.shape)
        self.set_grads()
        return np.where(positive, dy, dy * self._slope(dy.dtype))

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


def _non_negative_number(value, what, allow_none=False):
    """``value`` as a float >= 0 (None passes with ``allow_none``), with Keras's ReLU message."""
    if allow_none and value is None:
        return None
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or value < 0:
        raise ValueError(f"{what} of a ReLU layer cannot be None or a negative value. "
                         f"Received: {what}={value!r}")
    return float(value)


class ReLU(Layer):
    """The rectifier with Keras's three options, as ``keras.layers.ReLU(max_value, negative_slope, threshold)``.

    Shapes: x ``(N, ...)`` -> y of the same shape. No weights. (a = negative_slope, m = max_value,
    th = threshold; Keras's ``activations.relu``.)

    Forward:   y = min(x, m)   if x > th     (x itself when m is None)
               y = a (x - th)  otherwise     (0 with a = 0)
    Backward:  dx = dy * [th < x < m] + a dy * [x < th]
    With a > 0, m None and th = 0 Keras calls its leaky_relu, whose slope TensorFlow keeps in float32:
    the twin multiplies by float32(a) there too (as ``LeakyReLU``).
    """

    keras_class = "ReLU"
    input_spec = InputSpec(min_ndim=1, dtype="compute")

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _non_negative_number(max_value, "max_value", allow_none=True)
        self.negative_slope = _non_negative_number(negative_slope, "negative_slope")
        self.threshold = _non_negative_number(threshold, "threshold")
        self._cache = None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _slope(self, dtype):
        leaky = self.max_value is None and self.threshold == 0   # Keras's leaky_relu path
        return dtype.type(np.float32(self.negative_slope) if leaky else self.negative_slope)

    def forward(self, x, training=False):
        a, m, th = self._slope(x.dtype), self.max_value, self.threshold
        passes = x > th
        y = np.where(passes, x if m is None else np.minimum(x, m), 0).astype(x.dtype)
        if a != 0:
            y = y - a * np.maximum(th - x, 0)
        self._cache = (x, passes, a)
        return y

    def backward(self, dout):
        self._require_forward()
        x, passes, a = self._cache
        dy = self._check_dout(dout, x.shape)
        self.set_grads()
        inside = passes if self.max_value is None else passes & (x < self.max_value)
        return dy * inside + (a * dy * (x < self.threshold) if a != 0 else 0)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class Softmax(Layer):
    """Softmax along ``axis`` (an int or a list of ints), as ``keras.layers.Softmax(axis=-1)``.

    Shapes: x ``(N, ...)`` -> y of the same shape; the values along ``axis`` sum to 1. No weights.

    Forward:   y = exp(x - logsumexp(x, axis))             (the max subtracted: no overflow)
    Backward:  dx = y * (dy - sum(dy * y, axis))           (the softmax Jacobian, diag(y) - y y^T)
    """

    keras_class = "Softmax"
    input_spec = InputSpec(min_ndim=1, dtype="compute")

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
            raise ValueError(f"Softmax expects `axis` as an integer or a list of integers. Received: axis={axis!r}")
        self.axis = [int(a) for a in axis] if isinstance(axis, (list, tuple)) else int(axis)
        self._cache = None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _axes(self, ndim):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if any(not -ndim <= a < ndim for a in axes):
            raise ValueError(f"Layer '{self.name}': axis={self.axis} is out of bounds for an input of rank {ndim}. "
                             f"Use axes in [{-ndim}, {ndim - 1}] (-1: the last axis).")
        return tuple(a % ndim for a in axes)

    def forward(self, x, training=False):
        axes = self._axes(x.ndim)
        shifted = x - x.max(axis=axes, keepdims=True)
        e = np.exp(shifted)
        y = e / e.sum(axis=axes, keepdims=True)
        self._cache = (y, axes)
        return y

    def backward(self, dout):
        self._require_forward()
        y, axes = self._cache
        dy = self._check_dout(dout, y.shape)
        self.set_grads()
        return y * (dy - (dy * y).sum(axis=axes, keepdims=True))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
