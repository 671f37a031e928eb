"""Flatten: the bridge from feature maps to Dense layers, as ``keras.layers.Flatten``; no weights."""
from __future__ import annotations

import numpy as np

from .base import Layer, shape_str
from .conv import normalize_data_format


class Flatten(Layer):
    """Flattens every example into a vector, keeping the batch axis (channels_last, row-major order,
    exactly as Keras, so a Dense layer after it gets the same weights in the same order).

    Shapes: x ``(N, d_1, ..., d_k)`` -> y ``(N, d_1 * ... * d_k)``  (``(N,)`` -> ``(N, 1)``).

    Forward:   y = x.reshape(N, -1)
    Backward:  dx = dy.reshape(x.shape)      (a reshape moves values, it changes none)
    """

    keras_class = "Flatten"

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, "Flatten")
        self._cache = None

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 1:
            raise ValueError(f"Layer '{self.name}' expected input with a batch axis, received shape "
                             f"{shape_str(input_shape)}.")
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else int(np.prod(rest, dtype=np.int64))
        return (input_shape[0], size)

    def forward(self, x, training=False):
        x = self._as_input(x, min_ndim=1)
        self._ensure_built(x)
        self._cache = x.shape
        return x.reshape(x.shape[0], -1) if x.ndim != 1 else x.reshape(-1, 1)

    def backward(self, dout):
        self._require_forward()
        input_shape = self._cache
        dout = self._check_dout(dout, (input_shape[0], int(np.prod(input_shape[1:], dtype=np.int64))))
        self.grads = []
        return dout.reshape(input_shape)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}
