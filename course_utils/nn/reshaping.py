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
        return dout.reshape(input_shape)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshapes every example to ``target_shape``, keeping the batch axis, as ``keras.layers.Reshape``.

    One entry of ``target_shape`` may be -1: it is inferred from the size of the example.

    Shapes: x ``(N, d_1, ..., d_k)`` -> y ``(N, *target_shape)`` (same number of values per example).

    Forward:   y = x.reshape((N,) + target_shape)      (row-major order, as Keras)
    Backward:  dx = dy.reshape(x.shape)
    """

    keras_class = "Reshape"

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            target_shape = tuple(target_shape)
        except TypeError:
            raise TypeError(f"`target_shape` must be a tuple of integers (the shape of one example, without "
                            f"the batch axis). Received: target_shape={target_shape!r}") from None
        if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in target_shape):
            raise TypeError(f"`target_shape` must be a tuple of integers. Received: target_shape={target_shape!r}")
        target_shape = tuple(int(d) for d in target_shape)
        if any(d < -1 for d in target_shape):
            raise ValueError("Each dimension in `target_shape` must be a non-negative integer, or `-1` for a "
                             f"single unknown dimension. Received: target_shape={target_shape}.")
        if target_shape.count(-1) > 1:
            raise ValueError("There must be at most one unknown dimension (-1) in `target_shape`. "
                             f"Received: target_shape={target_shape}.")
        self.target_shape = target_shape
        self._cache = None

    def _resolved_shape(self, example_shape):
        """target_shape with its -1 filled in, for examples of ``example_shape`` (Keras's checks)."""
        example_shape = tuple(example_shape)
        if None in example_shape:
            return tuple(None if d == -1 else d for d in self.target_shape)
        size = int(np.prod(example_shape, dtype=np.int64))
        if -1 not in self.target_shape:
            if size != int(np.prod(self.target_shape, dtype=np.int64)):
                raise ValueError(f"The total size of the tensor must be unchanged. Received: "
                                 f"input_shape={example_shape}, target_shape={self.target_shape}")
            return self.target_shape
        known = int(np.prod([d for d in self.target_shape if d != -1], dtype=np.int64))
        if known == 0 or size % known != 0:
            raise ValueError(f"The total size of the tensor must be unchanged, however, the input size cannot "
                             f"by divided by the specified dimensions in target_shape. Received: "
                             f"input_shape={example_shape}, target_shape={self.target_shape}")
        return tuple(size // known if d == -1 else d for d in self.target_shape)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return (input_shape[0],) + self._resolved_shape(input_shape[1:])

    def forward(self, x, training=False):
        x = self._as_input(x, min_ndim=1)
        self._ensure_built(x)
        self._cache = x.shape
        return x.reshape((x.shape[0],) + self._resolved_shape(x.shape[1:]))

    def backward(self, dout):
        self._require_forward()
        input_shape = self._cache
        dout = self._check_dout(dout, self.compute_output_shape(input_shape))
        self.set_grads()
        return dout.reshape(input_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}
