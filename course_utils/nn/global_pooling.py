"""GlobalAveragePooling2D and GlobalMaxPooling2D: one number per channel for a whole feature map,
as ``keras.layers.GlobalAveragePooling2D`` / ``GlobalMaxPooling2D``; no weights."""
from __future__ import annotations

import numpy as np

from .base import Layer
from .conv import normalize_data_format


class _GlobalPooling2D(Layer):
    """Shared by the two global poolings: channels_last input, Keras's ``keepdims``.

    Shapes: x ``(N, H, W, C)`` -> y ``(N, C)``, or ``(N, 1, 1, C)`` with ``keepdims=True``.
    """

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)
        self._cache = None

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.keepdims:
            return (input_shape[0], 1, 1, input_shape[-1])
        return (input_shape[0], input_shape[-1])

    def _input(self, x):
        x = self._as_input(x, ndim=4)
        x = x.astype(self.compute_dtype, copy=False)
        self._ensure_built(x)
        return x

    def _output(self, pooled):
        """pooled: (N, 1, 1, C) -> the layer's output shape."""
        return pooled if self.keepdims else pooled.reshape(pooled.shape[0], pooled.shape[-1])

    def _dout(self, dout, x_shape):
        dout = self._check_dout(dout, self.compute_output_shape(x_shape))
        self.set_grads()
        return dout.reshape(x_shape[0], 1, 1, x_shape[-1])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling2D):
    """The mean of each channel over the whole image.

    Forward:   y[n, c] = 1/(H W) sum_{i,j} x[n, i, j, c]
    Backward:  dx[n, i, j, c] = dy[n, c] / (H W)
    """

    keras_class = "GlobalAveragePooling2D"

    def forward(self, x, training=False):
        x = self._input(x)
        self._cache = x.shape
        return self._output(x.mean(axis=(1, 2), keepdims=True))

    def backward(self, dout):
        self._require_forward()
        x_shape = self._cache
        dy = self._dout(dout, x_shape)
        return np.broadcast_to(dy / (x_shape[1] * x_shape[2]), x_shape).copy()


class GlobalMaxPooling2D(_GlobalPooling2D):
    """The largest value of each channel over the whole image.

    Forward:   y[n, c] = max_{i,j} x[n, i, j, c]
    Backward:  dx[n, i, j, c] = dy[n, c] * [x[n, i, j, c] = y[n, c]] / (number of maxima)
               (ties share the gradient equally, as TensorFlow's gradient of reduce_max does)
    """

    keras_class = "GlobalMaxPooling2D"

    def forward(self, x, training=False):
        x = self._input(x)
        pooled = x.max(axis=(1, 2), keepdims=True)
        self._cache = (x, pooled)
        return self._output(pooled)

    def backward(self, dout):
        self._require_forward()
        x, pooled = self._cache
        dy = self._dout(dout, x.shape)
        is_max = (x == pooled).astype(x.dtype)
        return is_max / is_max.sum(axis=(1, 2), keepdims=True) * dy
