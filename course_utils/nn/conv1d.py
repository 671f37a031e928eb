"""Conv1D and MaxPooling1D over sequences (batch, timesteps, channels), with Keras's arguments.

A sequence (N, T, C) is an image one pixel high, (N, 1, T, C): both layers reuse the 2-D machinery
of ``conv.py`` / ``pooling.py`` (im2col ``window_view``, col2im ``add_windows``, TensorFlow's "same"
padding) with windows of height 1.

Conv1D's paddings (length T, kernel k, stride s):

    "valid":   no zeros,                                T_out = floor((T - k) / s) + 1
    "same":    TensorFlow's split (``conv.same_padding``),  T_out = ceil(T / s)
    "causal":  k - 1 zeros at the start only, so output t sees inputs <= t; T_out = ceil(T / s)
"""
from __future__ import annotations

import numpy as np

from .base import KernelAndBias, Layer, shape_str
from .conv import (add_windows_channels_first, normalize_data_format, normalize_padding, normalize_tuple,
                   positive_filters, same_padding, window_view)
from .pooling import MaxPooling2D


def _normalize_sequence_format(data_format, layer):
    return normalize_data_format(data_format, layer, inputs="sequences as (batch, timesteps, channels)",
                                 transpose=(0, 2, 1))


def sequence_pads(length, k, s, padding):
    """(pad_before, pad_after) zeros along the time axis for "valid", "same" or "causal"."""
    if padding == "same":
        return same_padding(length, k, s)
    if padding == "causal":
        return k - 1, 0
    return 0, 0


def _check_sequence_length(layer, input_shape, window, what):
    """The output length; a clear error when it would be empty ("valid" with T < window)."""
    length = tuple(input_shape)[1]
    if length is None:
        return None
    before, after = sequence_pads(length, window, layer.strides[0], layer.padding)
    t_out = (length + before + after - window) // layer.strides[0] + 1
    if length == 0 or t_out <= 0:
        raise ValueError(f"Layer '{layer.name}' received a sequence of {length} timesteps, shorter than its "
                         f"{what} {window} with padding='valid', so the output would be empty (input shape "
                         f"{shape_str(input_shape)}). Use a longer sequence, a smaller {what}, or padding='same'.")
    return t_out


def _check_rank3(layer, input_shape):
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"Layer '{layer.name}' expected input of rank 3 (batch, timesteps, channels), "
                         f"received shape {shape_str(input_shape)}.")


class Conv1D(KernelAndBias, Layer):
    """1-D convolution over (batch, timesteps, channels) sequences, as ``keras.layers.Conv1D``.

    Weights ``[kernel, bias]``: kernel ``(k, C, F)`` (C input channels, F = filters), bias ``(F,)``.

    Shapes: x ``(N, T, C)`` -> y ``(N, T_out, F)``.

    Forward (xp = x padded along time; s the stride):
        z[n, t, f] = sum_{i, c} xp[n, t*s + i, c] * kernel[i, c, f] + bias[f],   y = activation(z)
      as im2col:  cols (N*T_out, k*C) = windows of xp,  z = cols @ K + bias,  K = kernel as (k*C, F)
    Backward (dz = activation'(z) * dy, as (N*T_out, F)):
        d kernel = cols^T @ dz,   d bias = sum over n, t of dz
        d cols   = dz @ K^T,  col2im: dxp[n, t*s + i, c] += dcols[n, t, i, c];  dx = dxp unpadded
    """

    keras_class = "Conv1D"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = positive_filters(filters)
        self.kernel_size = normalize_tuple(kernel_size, "kernel_size", n=1)
        self.strides = normalize_tuple(strides, "strides", n=1)
        if isinstance(padding, str) and padding.lower() == "causal":
            self.padding = "causal"
        elif not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f"The `padding` argument must be 'valid', 'same' or 'causal'. "
                             f"Received: padding={padding!r}")
        else:
            self.padding = padding.lower()
        self.data_format = _normalize_sequence_format(data_format, "Conv1D")
        if normalize_tuple(dilation_rate, "dilation_rate", n=1) != (1,):
            raise ValueError(f"The NumPy Conv1D supports dilation_rate=1 only (no dilated convolution). "
                             f"Received: dilation_rate={dilation_rate!r}. Use keras.layers.Conv1D itself "
                             f"for dilated convolutions.")
        if groups != 1:
            raise ValueError(f"The NumPy Conv1D supports groups=1 only (every filter sees every input "
                             f"channel). Received: groups={groups!r}.")
        self.dilation_rate = (1,)
        self.groups = 1
        self._kernel_and_bias_options(activation, use_bias, kernel_initializer, bias_initializer,
                                      kernel_regularizer, bias_regularizer)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        _check_rank3(self, input_shape)
        channels = self._input_channels(input_shape)
        self._add_kernel_and_bias((self.kernel_size[0], channels, self.filters), self.filters)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank3(self, input_shape)
        return (tuple(input_shape)[0], _check_sequence_length(self, input_shape, self.kernel_size[0], "kernel"),
                self.filters)

    def forward(self, x, training=False):
        x = self._as_input(x, ndim=3)
        self._ensure_built(x)
        k, channels, filters = self.kernel.shape
        x = self._check_input_channels(x, channels)
        n, length, _ = x.shape
        t_out = _check_sequence_length(self, x.shape, k, "kernel")
        pads = sequence_pads(length, k, self.strides[0], self.padding)
        xp = np.pad(x, ((0, 0), pads, (0, 0)))[:, None]                   # (N, 1, Tp, C)
        cols = window_view(xp, (1, k), (1, self.strides[0]), (1, t_out)).reshape(n * t_out, k * channels)
        z = cols @ self.kernel.reshape(k * channels, filters)
        if self.use_bias:
            z += self.bias
        z = z.reshape(n, t_out, filters)
        a = self.activation.forward(z)
        self._cache = (cols, xp.shape, pads, z, a)
        return a

    def backward(self, dout):
        self._require_forward()
        cols, padded_shape, pads, z, a = self._cache
        da = self._check_dout(dout, a.shape)
        dz = self.activation.backward(z, a, da)
        n, t_out, filters = dz.shape
        k, channels, _ = self.kernel.shape
        dz2 = dz.reshape(-1, filters).astype(cols.dtype, copy=False)
        self.dkernel = (cols.T @ dz2).reshape(self.kernel.shape)
        self.dbias = dz2.sum(axis=0) if self.use_bias else None
        self._set_kernel_and_bias_grads()
        dcols_t = (self.kernel.reshape(k * channels, filters) @ dz2.T).reshape(1, k, channels, n, 1, t_out)
        dxp = add_windows_channels_first(dcols_t, padded_shape, (1, self.strides[0]), cols.dtype)[:, 0]
        return np.ascontiguousarray(dxp[:, pads[0]:dxp.shape[1] - pads[1]])

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": self.groups,
                **self._kernel_and_bias_config()}


class MaxPooling1D(Layer):
    """Max pooling over (batch, timesteps, channels) sequences, as ``keras.layers.MaxPooling1D``.

    Shapes: x ``(N, T, C)`` -> y ``(N, T_out, C)``; T_out as for Conv1D ("valid" or "same").

    It is ``MaxPooling2D`` with a (1, pool_size) window on x seen as (N, 1, T, C):
    Forward:   y[n, t, c] = max_i xp[n, t*s + i, c]          (xp padded with -inf)
    Backward:  each window's gradient goes to its first maximum: dxp[n, t*s + i*, c] += dy[n, t, c]
    """

    keras_class = "MaxPooling1D"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, "pool_size", n=1)
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, "strides", n=1)
        self.padding = normalize_padding(padding)
        self.data_format = _normalize_sequence_format(data_format, "MaxPooling1D")
        self._pool2d = MaxPooling2D((1, self.pool_size[0]), (1, self.strides[0]), self.padding,
                                    name=f"{self.name}_as_2d")

    def build(self, input_shape):
        _check_rank3(self, input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank3(self, input_shape)
        input_shape = tuple(input_shape)
        return (input_shape[0], _check_sequence_length(self, input_shape, self.pool_size[0], "pool"),
                input_shape[2])

    def forward(self, x, training=False):
        x = self._as_input(x, ndim=3)
        self._ensure_built(x)
        _check_sequence_length(self, x.shape, self.pool_size[0], "pool")
        x = self._cast_input(x)
        self._pool2d.dtype = self.dtype
        y = self._pool2d.forward(x[:, None])[:, 0]
        self._cache = y.shape
        return y

    def backward(self, dout):
        self._require_forward()
        dy = self._check_dout(dout, self._cache)
        return self._pool2d.backward(dy[:, None])[:, 0]

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}
