"""Pooling layers (channels_last), as Keras groups them in ``keras/src/layers/pooling``: no weights.

A pooling layer slides a ``pool_size`` window over each channel with step ``strides`` (by default
the pool size: windows side by side) and keeps the largest value (max) or the mean (average) of
each window. Output sizes and "same" padding are those of convolutions (see ``conv_utils.same_padding``):

- max pooling pads with -inf, so that padding never wins a window;
- average pooling with "same" divides by the number of *real* (unpadded) values in each window,
  as TensorFlow does, so the padding does not pull the border averages towards zero.
"""
from __future__ import annotations

import numpy as np

from ..base import InputSpec, Layer
from ..conv_utils import (_check_rank3, _check_sequence_length, _normalize_sequence_format, add_windows,
                          check_image_input, crop, normalize_data_format, normalize_padding,
                          normalize_tuple, pad_images, padding_amounts, sequence_pads,
                          window_output_shape, window_view)


# -------- MaxPooling2D, AveragePooling2D ---------------------------------------------------------


class _Pooling2D(Layer):
    """What max and average pooling share: arguments, output shape, windows."""

    input_spec = InputSpec(ndim=4, dtype="layer")   # (batch, height, width, channels), any sizes

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format, type(self).__name__)
        self._cache = None

    def build(self, input_shape):
        input_shape = self._check_rank(input_shape, 4)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        n, h_out, w_out = window_output_shape(self, input_shape, self.pool_size, "pool")
        return (n, h_out, w_out, tuple(input_shape)[-1])

    def _check_input_spec(self, x):
        """The spec's checks, and an image no smaller than the pool with padding='valid'."""
        x = super()._check_input_spec(x)
        return check_image_input(self, x, self.pool_size, self.strides, self.padding, what="pool")

    def _prepare(self, x, pad_value):
        """x padded, its window view (N, H_out, W_out, ph, pw, C) and the paddings."""
        _, height, width, _ = x.shape
        pads = padding_amounts(height, width, self.pool_size, self.strides, self.padding)
        xp = pad_images(x, pads, value=pad_value)
        out_size = window_output_shape(self, x.shape, self.pool_size, "pool")[1:]
        return x, xp, window_view(xp, self.pool_size, self.strides, out_size), pads

    def _window_dout(self, dout):
        """(what the forward kept for the backward, dy in the input's dtype): both backwards start so."""
        self._require_forward()
        kept, _, _, out_shape, dtype = self._cache
        return kept, self._check_dout(dout, out_shape).astype(dtype, copy=False)

    def _windows_to_input(self, dwindows):
        """col2im: the windows' gradients (N, H_out, W_out, ph, pw, C) added up into dx, the padding
        cropped off (overlapping windows add up)."""
        _, padded_shape, pads, _, dtype = self._cache
        return crop(add_windows(dwindows, padded_shape, self.strides, dtype), pads)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling2D(_Pooling2D):
    """Max pooling over (batch, height, width, channels) images, as ``keras.layers.MaxPooling2D``.

    Shapes: x ``(N, H, W, C)`` -> y ``(N, H_out, W_out, C)``.

    Forward:   y[n, p, q, c] = max_{i, j} xp[n, p*sh + i, q*sw + j, c]     (xp padded with -inf)
    Backward:  the whole gradient of each window goes to the position of its max (the argmax):
               dxp[n, p*sh + i*, q*sw + j*, c] += dy[n, p, q, c]
               where (i*, j*) is the first maximum of the window in row-major order - the element
               TensorFlow picks when several are equal. Overlapping windows add up.
    """

    keras_class = "MaxPooling2D"

    def forward(self, x, training=False):
        x, xp, windows, pads = self._prepare(x, pad_value=-np.inf)
        n, h_out, w_out, ph, pw, channels = windows.shape
        flat = windows.reshape(n, h_out, w_out, ph * pw, channels)   # a copy: (ph*pw) values per window
        argmax = np.argmax(flat, axis=3)                             # first max in row-major order
        y = np.take_along_axis(flat, argmax[:, :, :, None, :], axis=3)[:, :, :, 0, :]
        self._cache = (argmax, xp.shape, pads, y.shape, x.dtype)
        return y

    def backward(self, dout):
        argmax, dy = self._window_dout(dout)
        ph, pw = self.pool_size
        offsets = np.arange(ph * pw).reshape(ph, pw)
        # each window's gradient, non-zero only at its argmax: (N, H_out, W_out, ph, pw, C)
        dwindows = np.where(argmax[:, :, :, None, None, :] == offsets[None, None, None, :, :, None],
                            dy[:, :, :, None, None, :], 0).astype(dy.dtype, copy=False)
        return self._windows_to_input(dwindows)


class AveragePooling2D(_Pooling2D):
    """Average pooling over (batch, height, width, channels) images, as ``keras.layers.AveragePooling2D``.

    Shapes: x ``(N, H, W, C)`` -> y ``(N, H_out, W_out, C)``.

    Forward:   y[n, p, q, c] = (1 / count[p, q]) * sum_{i, j} xp[n, p*sh + i, q*sw + j, c]
               (xp padded with zeros; count[p, q] = the number of real, unpadded values in the
               window: ph * pw with "valid", fewer at the borders with "same")
    Backward:  every value of a window gets an equal share:
               dxp[n, p*sh + i, q*sw + j, c] += dy[n, p, q, c] / count[p, q]
    """

    keras_class = "AveragePooling2D"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size=pool_size, strides=strides, padding=padding, data_format=data_format,
                         **kwargs)

    def _counts(self, height, width, pads, out_size):
        """count[p, q]: how many real (unpadded) input values window (p, q) covers, shape (H_out, W_out)."""
        def along(n, k, s, pad_before, n_out):
            start = np.arange(n_out) * s - pad_before          # first index of each window in x
            return np.minimum(start + k, n) - np.maximum(start, 0)
        rows = along(height, self.pool_size[0], self.strides[0], pads[0][0], out_size[0])
        cols = along(width, self.pool_size[1], self.strides[1], pads[1][0], out_size[1])
        return np.outer(rows, cols)

    def forward(self, x, training=False):
        x, xp, windows, pads = self._prepare(x, pad_value=0.0)
        _, h_out, w_out, _, _, _ = windows.shape
        counts = self._counts(x.shape[1], x.shape[2], pads, (h_out, w_out)).astype(x.dtype)
        y = windows.sum(axis=(3, 4)) / counts[None, :, :, None]
        self._cache = (counts, xp.shape, pads, y.shape, x.dtype)
        return y

    def backward(self, dout):
        counts, dy = self._window_dout(dout)
        share = dy / counts[None, :, :, None]
        ph, pw = self.pool_size
        dwindows = np.broadcast_to(share[:, :, :, None, None, :], share.shape[:3] + (ph, pw) + share.shape[3:])
        return self._windows_to_input(dwindows)


# -------- MaxPooling1D, AveragePooling1D: a sequence is an image one pixel high ------------------


class _Pooling1D(Layer):
    """Shared by the two 1-D poolings: x (N, T, C) is seen as an image (N, 1, T, C) and pooled by
    the 2-D layer (``pool2d_class``) with a (1, pool_size) window; y comes back as (N, T_out, C)."""

    input_spec = InputSpec(ndim=3, dtype="layer")
    pool2d_class = None

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, "pool_size", n=1)
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, "strides", n=1)
        self.padding = normalize_padding(padding)
        self.data_format = _normalize_sequence_format(data_format, type(self).__name__)
        self._pool2d = self.pool2d_class((1, self.pool_size[0]), (1, self.strides[0]), self.padding,
                                         name=f"{self.name}_as_2d")
        self._cache = None

    def build(self, input_shape):
        _check_rank3(self, input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank3(self, input_shape)
        input_shape = tuple(input_shape)
        return (input_shape[0], _check_sequence_length(self, input_shape, self.pool_size[0], "pool"),
                input_shape[2])

    def _check_input_spec(self, x):
        """The spec's checks, then a sequence no shorter than the pool with padding='valid'."""
        x = super()._check_input_spec(x)
        _check_sequence_length(self, x.shape, self.pool_size[0], "pool")
        return x

    def forward(self, x, training=False):
        self._pool2d.dtype = self.dtype
        y = self._pool2d.forward(x[:, None])[:, 0]
        self._cache = y.shape
        return y

    def backward(self, dout):
        self._require_forward()
        dy = self._check_dout(dout, self._cache)
        self.set_grads()
        return self._pool2d.backward(dy[:, None])[:, 0]

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling1D(_Pooling1D):
    """Max pooling over (batch, timesteps, channels) sequences, as ``keras.layers.MaxPooling1D``.

    Shapes: x ``(N, T, C)`` -> y ``(N, T_out, C)``; T_out as for Conv1D ("valid" or "same").

    It is ``MaxPooling2D`` with a (1, pool_size) window on x seen as (N, 1, T, C):
    Forward:   y[n, t, c] = max_i xp[n, t*s + i, c]          (xp padded with -inf)
    Backward:  each window's gradient goes to its first maximum: dxp[n, t*s + i*, c] += dy[n, t, c]
    """

    keras_class = "MaxPooling1D"
    pool2d_class = MaxPooling2D

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


# -------- GlobalAveragePooling2D, GlobalMaxPooling2D ---------------------------------------------
# GlobalAveragePooling2D and GlobalMaxPooling2D: one number per channel for a whole feature map,
# as ``keras.layers.GlobalAveragePooling2D`` / ``GlobalMaxPooling2D``; no weights.


class _GlobalPooling2D(Layer):
    """Shared by the two global poolings: channels_last input, Keras's ``keepdims``.

    Shapes: x ``(N, H, W, C)`` -> y ``(N, C)``, or ``(N, 1, 1, C)`` with ``keepdims=True``.
    """

    input_spec = InputSpec(ndim=4, dtype="compute")

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
        pooled = x.max(axis=(1, 2), keepdims=True)
        self._cache = (x, pooled)
        return self._output(pooled)

    def backward(self, dout):
        self._require_forward()
        x, pooled = self._cache
        dy = self._dout(dout, x.shape)
        is_max = (x == pooled).astype(x.dtype)
        return is_max / is_max.sum(axis=(1, 2), keepdims=True) * dy


# -------- AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D --------------------------


class AveragePooling1D(_Pooling1D):
    """Average pooling over (batch, timesteps, channels) sequences, as ``keras.layers.AveragePooling1D``.

    Shapes: x ``(N, T, C)`` -> y ``(N, T_out, C)``; T_out as for Conv1D ("valid" or "same").

    It is ``AveragePooling2D`` with a (1, pool_size) window on x seen as (N, 1, T, C):
    Forward:   y[n, t, c] = (1 / count[t]) sum_i xp[n, t*s + i, c]    (count: the real values in the window)
    Backward:  dxp[n, t*s + i, c] += dy[n, t, c] / count[t]
    """

    keras_class = "AveragePooling1D"
    pool2d_class = AveragePooling2D


class _GlobalPooling1D(Layer):
    """Shared by the two 1-D global poolings: Keras's ``data_format`` (the steps axis is 1 for
    "channels_last", 2 for "channels_first") and ``keepdims``.

    Shapes: x ``(N, T, C)`` -> y ``(N, C)``, or ``(N, 1, C)`` with ``keepdims=True``
    (channels_first: ``(N, C, T)`` -> ``(N, C)`` or ``(N, C, 1)``).
    """

    input_spec = InputSpec(ndim=3, dtype="compute")

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"The `data_format` argument must be one of 'channels_first', 'channels_last'. "
                             f"Received: data_format={data_format!r}")
        self.data_format = data_format or "channels_last"
        self.keepdims = bool(keepdims)
        self._cache = None

    @property
    def steps_axis(self):
        return 1 if self.data_format == "channels_last" else 2

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if self.keepdims:
            shape[self.steps_axis] = 1
        else:
            del shape[self.steps_axis]
        return tuple(shape)

    def _dout(self, dout, x_shape):
        """dout checked and shaped with the steps axis kept (size 1), ready to broadcast."""
        dout = self._check_dout(dout, self.compute_output_shape(x_shape))
        self.set_grads()
        return dout if self.keepdims else np.expand_dims(dout, self.steps_axis)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling1D):
    """The mean of each channel over the time steps, as ``keras.layers.GlobalAveragePooling1D``.

    Forward:   y[n, c] = 1/T sum_t x[n, t, c]
    Backward:  dx[n, t, c] = dy[n, c] / T
    """

    keras_class = "GlobalAveragePooling1D"

    def forward(self, x, training=False, mask=None):
        """``mask`` (N, T) (Embedding's mask_zero, Masking): the mean over the unmasked steps, as
        Keras: y = sum_t m_t x_t / sum_t m_t, and dx = dy m_t / sum_t m_t."""
        self._cache = x.shape
        self._step_weights = None
        if mask is None:
            return x.mean(axis=self.steps_axis, keepdims=self.keepdims)
        m = np.expand_dims(np.asarray(mask).astype(bool), 2 if self.data_format == "channels_last" else 1)
        self._step_weights = m / m.sum(axis=self.steps_axis, keepdims=True)
        return np.sum(np.where(m, x, 0.0) * self._step_weights, axis=self.steps_axis, keepdims=self.keepdims)

    def backward(self, dout):
        self._require_forward()
        x_shape = self._cache
        dy = self._dout(dout, x_shape)
        if getattr(self, "_step_weights", None) is not None:
            return np.broadcast_to(dy * self._step_weights, x_shape).copy()
        return np.broadcast_to(dy / x_shape[self.steps_axis], x_shape).copy()


class GlobalMaxPooling1D(_GlobalPooling1D):
    """The largest value of each channel over the time steps, as ``keras.layers.GlobalMaxPooling1D``.

    Forward:   y[n, c] = max_t x[n, t, c]
    Backward:  dx[n, t, c] = dy[n, c] * [x[n, t, c] = y[n, c]] / (number of maxima)
               (ties share the gradient equally, as TensorFlow's gradient of reduce_max)
    """

    keras_class = "GlobalMaxPooling1D"

    def forward(self, x, training=False):
        pooled = x.max(axis=self.steps_axis, keepdims=True)
        self._cache = (x, pooled)
        return pooled if self.keepdims else np.squeeze(pooled, self.steps_axis)

    def backward(self, dout):
        self._require_forward()
        x, pooled = self._cache
        dy = self._dout(dout, x.shape)
        is_max = (x == pooled).astype(x.dtype)
        return is_max / is_max.sum(axis=self.steps_axis, keepdims=True) * dy
