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
