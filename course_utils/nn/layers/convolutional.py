"""Convolution layers (channels_last), as Keras groups them in ``keras/src/layers/convolutional``:
``Conv1D``, ``Conv2D`` and ``Conv2DTranspose``, with Keras's arguments and weight layout, vectorised
with im2col (every receptive field becomes a row of a matrix, and the convolution becomes one
matrix product; the window helpers are in ``course_utils.nn.conv_utils``).

Like every deep-learning library, Keras computes a *cross-correlation* (the kernel is not flipped)
and calls it a convolution; so do we.
"""
from __future__ import annotations

import numpy as np

from .. import activations, initializers, regularizers
from ..base import ActivationAttribute, InputSpec, KernelAndBias, Layer, positive_int, shape_str
from ..conv_utils import (_check_rank3, _check_sequence_length, _normalize_sequence_format, add_windows,
                          add_windows_channels_first, check_dilation, check_image_input, conv_output_size, crop,
                          dilated_size,
                          normalize_data_format, normalize_padding, normalize_tuple, pad_images,
                          padding_amounts, positive_filters, same_padding, sequence_pads,
                          window_output_shape, window_view)


# -------- Conv2D ---------------------------------------------------------------------------------
# Conv2D: a 2-D convolution layer (channels_last), with Keras's arguments and weight layout,
# vectorised with im2col: every receptive field becomes a row of a matrix, and the convolution
# becomes one matrix product.


def _filters_and_window(layer, filters, kernel_size, strides, padding=None, n=2):
    """A convolution's first arguments, checked and normalized as Keras does (``n``: 2 for images,
    1 for sequences; ``padding=None``: the layer normalizes its own, as Conv1D's "causal")."""
    layer.filters = positive_filters(filters)
    layer.kernel_size = normalize_tuple(kernel_size, "kernel_size", n=n)
    layer.strides = normalize_tuple(strides, "strides", n=n)
    if padding is not None:
        layer.padding = normalize_padding(padding)


def _build_image_kernel(layer, input_shape, kernel_shape):
    """Conv2D's and Conv2DTranspose's build: for images (N, H, W, C), the kernel of shape
    ``kernel_shape(C)`` and the bias; the input spec then fixes C only (any batch, any image size).
    Returns the input shape, checked."""
    input_shape = layer._check_rank(input_shape, 4)
    channels = layer._input_channels(input_shape)
    layer._add_kernel_and_bias(kernel_shape(channels), layer.filters)
    layer.input_spec = InputSpec(ndim=4, dtype="layer", axes={-1: channels})
    return input_shape


class _Im2colConv(KernelAndBias):
    """What Conv1D and Conv2D share once the input is cut into windows (im2col, one row per output
    position): the kernel as one matrix K (window size, F), then
        forward:   z = cols @ K + bias,   y = activation(z)
        backward:  dz = activation'(z) * dy;  d kernel = cols^T @ dz;  d bias = sum of dz;
                   d cols = dz @ K^T, returned transposed (window first) for the layer's col2im."""

    def _windows_forward(self, cols, out_shape, padded_shape, pads):
        z = cols @ self.kernel.reshape(-1, self.filters)
        if self.use_bias:
            z += self.bias
        z = z.reshape(out_shape)
        a = self.activation.forward(z)
        self._cache = (cols, padded_shape, pads, z, a)
        return a

    def _windows_backward(self, dout):
        """(d cols transposed, the output's shape, the padded input's shape, the pads, the dtype),
        after setting the kernel's and the bias's gradients."""
        self._require_forward()
        cols, padded_shape, pads, z, a = self._cache
        da = self._check_dout(dout, a.shape)
        dz = self.activation.backward(z, a, da)
        dz2 = dz.reshape(-1, self.filters).astype(cols.dtype, copy=False)
        self.dkernel = (cols.T @ dz2).reshape(self.kernel.shape)
        self.dbias = dz2.sum(axis=0) if self.use_bias else None
        self._set_kernel_and_bias_grads()
        return self.kernel.reshape(-1, self.filters) @ dz2.T, dz.shape, padded_shape, pads, cols.dtype


class Conv2D(_Im2colConv, Layer):
    """2-D convolution over (batch, height, width, channels) images, as ``keras.layers.Conv2D``.

    Weights ``[kernel, bias]``: kernel ``(kh, kw, C, F)`` (C input channels, F = filters), bias ``(F,)``.

    Shapes: x ``(N, H, W, C)`` -> y ``(N, H_out, W_out, F)``, H_out/W_out from ``conv_output_size``.

    Forward (xp = x padded; sh, sw the strides; dh, dw the dilation_rate, 1 by default):
        z[n, p, q, f] = sum_{i, j, c} xp[n, p*sh + i*dh, q*sw + j*dw, c] * kernel[i, j, c, f] + bias[f]
        y = activation(z)
      as im2col:  cols = windows(xp) reshaped to (N*H_out*W_out, kh*kw*C)
                  z = cols @ K + bias,             K = kernel reshaped to (kh*kw*C, F)
    Backward (dz = activation'(z) * dy, reshaped to (N*H_out*W_out, F)):
        d kernel = cols^T @ dz                     (reshaped back to (kh, kw, C, F))
        d bias   = sum over n, p, q of dz
        d cols   = dz @ K^T,  then col2im: dxp[n, p*sh + i, q*sw + j, c] += dcols[n, p, q, i, j, c]
        dx       = dxp with the padding cropped off
    """

    keras_class = "Conv2D"
    input_spec = InputSpec(ndim=4, dtype="layer")   # build adds the input channels: axes={-1: C}

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        _filters_and_window(self, filters, kernel_size, strides, padding)
        self.data_format = normalize_data_format(data_format, "Conv2D")
        if groups != 1:
            raise ValueError(f"The NumPy Conv2D supports groups=1 only (every filter sees every input "
                             f"channel). Received: groups={groups!r}.")
        self.dilation_rate = check_dilation(self.strides, normalize_tuple(dilation_rate, "dilation_rate"))
        self.groups = 1
        self._kernel_and_bias_options(activation, use_bias, kernel_initializer, bias_initializer,
                                      kernel_regularizer, bias_regularizer)

    # ------------------------------------------------------------------ building
    def build(self, input_shape):
        kh, kw = self.kernel_size
        super().build(_build_image_kernel(self, input_shape, lambda channels: (kh, kw, channels, self.filters)))

    def compute_output_shape(self, input_shape):
        n, h_out, w_out = window_output_shape(self, input_shape, dilated_size(self.kernel_size, self.dilation_rate),
                                              "kernel")
        return (n, h_out, w_out, self.filters)

    def _check_input_spec(self, x):
        """The spec's checks, then an image no smaller than the (dilated) kernel with padding='valid'."""
        x = super()._check_input_spec(x)
        return check_image_input(self, x, dilated_size(self.kernel_size, self.dilation_rate), self.strides,
                                 self.padding)

    # ------------------------------------------------------------------ computing
    def forward(self, x, training=False):
        span = dilated_size(self.kernel_size, self.dilation_rate)   # (k - 1) d + 1
        n, height, width, channels = x.shape
        kh, kw = self.kernel_size
        pads = padding_amounts(height, width, span, self.strides, self.padding)
        xp = pad_images(x, pads)
        h_out = conv_output_size(height, span[0], self.strides[0], self.padding)
        w_out = conv_output_size(width, span[1], self.strides[1], self.padding)
        # im2col: one row per output pixel, its receptive field flattened in the kernel's (i, j, c) order
        cols = window_view(xp, self.kernel_size, self.strides, (h_out, w_out), self.dilation_rate).reshape(
            n * h_out * w_out, kh * kw * channels)
        return self._windows_forward(cols, (n, h_out, w_out, self.filters), xp.shape, pads)

    def backward(self, dout):
        dcols_t, (n, h_out, w_out, _), padded_shape, pads, dtype = self._windows_backward(dout)
        kh, kw, channels, _ = self.kernel.shape
        # d cols, computed transposed - (kh, kw, C, N, H_out, W_out) - so that col2im adds whole
        # image rows at a time (channels-first inside; about twice as fast as channels-last here)
        dxp = add_windows_channels_first(dcols_t.reshape(kh, kw, channels, n, h_out, w_out), padded_shape,
                                         self.strides, dtype, self.dilation_rate)
        return np.ascontiguousarray(crop(dxp, pads))

    # -------------------------------------------------------------------- config
    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": self.groups,
                **self._kernel_and_bias_config()}


# -------- Conv1D ---------------------------------------------------------------------------------
# Conv1D and MaxPooling1D over sequences (batch, timesteps, channels), with Keras's arguments.
#
# A sequence (N, T, C) is an image one pixel high, (N, 1, T, C): both layers reuse the 2-D machinery
# of ``conv_utils`` (im2col ``window_view``, col2im ``add_windows``, TensorFlow's "same"
# padding) with windows of height 1.
#
# Conv1D's paddings (length T, kernel k, stride s):
#
#     "valid":   no zeros,                                T_out = floor((T - k) / s) + 1
#     "same":    TensorFlow's split (``conv_utils.same_padding``),  T_out = ceil(T / s)
#     "causal":  k - 1 zeros at the start only, so output t sees inputs <= t; T_out = ceil(T / s)


class Conv1D(_Im2colConv, Layer):
    """1-D convolution over (batch, timesteps, channels) sequences, as ``keras.layers.Conv1D``.

    Weights ``[kernel, bias]``: kernel ``(k, C, F)`` (C input channels, F = filters), bias ``(F,)``.

    Shapes: x ``(N, T, C)`` -> y ``(N, T_out, F)``.

    Forward (xp = x padded along time; s the stride; d the dilation_rate, 1 by default - WaveNet's
    dilated causal convolutions use d = 1, 2, 4, ... with padding="causal", k - 1 becoming (k - 1) d):
        z[n, t, f] = sum_{i, c} xp[n, t*s + i*d, c] * kernel[i, c, f] + bias[f],   y = activation(z)
      as im2col:  cols (N*T_out, k*C) = windows of xp,  z = cols @ K + bias,  K = kernel as (k*C, F)
    Backward (dz = activation'(z) * dy, as (N*T_out, F)):
        d kernel = cols^T @ dz,   d bias = sum over n, t of dz
        d cols   = dz @ K^T,  col2im: dxp[n, t*s + i, c] += dcols[n, t, i, c];  dx = dxp unpadded
    """

    keras_class = "Conv1D"
    input_spec = InputSpec(ndim=3, dtype="layer")   # build adds the input channels: axes={-1: C}

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        _filters_and_window(self, filters, kernel_size, strides, n=1)
        if isinstance(padding, str) and padding.lower() == "causal":
            self.padding = "causal"
        elif not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f"The `padding` argument must be 'valid', 'same' or 'causal'. "
                             f"Received: padding={padding!r}")
        else:
            self.padding = padding.lower()
        self.data_format = _normalize_sequence_format(data_format, "Conv1D")
        if groups != 1:
            raise ValueError(f"The NumPy Conv1D supports groups=1 only (every filter sees every input "
                             f"channel). Received: groups={groups!r}.")
        self.dilation_rate = check_dilation(self.strides, normalize_tuple(dilation_rate, "dilation_rate", n=1))
        self.groups = 1
        self._kernel_and_bias_options(activation, use_bias, kernel_initializer, bias_initializer,
                                      kernel_regularizer, bias_regularizer)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        _check_rank3(self, input_shape)
        channels = self._input_channels(input_shape)
        self._add_kernel_and_bias((self.kernel_size[0], channels, self.filters), self.filters)
        self.input_spec = InputSpec(ndim=3, dtype="layer", axes={-1: channels})   # any batch, any length
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank3(self, input_shape)
        span = dilated_size(self.kernel_size, self.dilation_rate)[0]
        return (tuple(input_shape)[0], _check_sequence_length(self, input_shape, span, "kernel"),
                self.filters)

    def _check_input_spec(self, x):
        """The spec's checks, then a sequence no shorter than the (dilated) kernel with padding='valid'."""
        x = super()._check_input_spec(x)
        _check_sequence_length(self, x.shape, dilated_size(self.kernel_size, self.dilation_rate)[0], "kernel")
        return x

    def forward(self, x, training=False):
        k, channels, filters = self.kernel.shape
        n, length, _ = x.shape
        span, dilation = dilated_size(self.kernel_size, self.dilation_rate)[0], (1, self.dilation_rate[0])
        pads = sequence_pads(length, span, self.strides[0], self.padding)   # causal: span - 1 zeros first
        t_out = (length + sum(pads) - span) // self.strides[0] + 1
        xp = np.pad(x, ((0, 0), pads, (0, 0)))[:, None]                   # (N, 1, Tp, C)
        cols = window_view(xp, (1, k), (1, self.strides[0]), (1, t_out), dilation).reshape(n * t_out, k * channels)
        return self._windows_forward(cols, (n, t_out, filters), xp.shape, pads)

    def backward(self, dout):
        dcols_t, (n, t_out, _), padded_shape, pads, dtype = self._windows_backward(dout)
        k, channels, _ = self.kernel.shape
        dxp = add_windows_channels_first(dcols_t.reshape(1, k, channels, n, 1, t_out), padded_shape,
                                         (1, self.strides[0]), dtype, (1, self.dilation_rate[0]))[:, 0]
        return np.ascontiguousarray(dxp[:, pads[0]:dxp.shape[1] - pads[1]])

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": self.groups,
                **self._kernel_and_bias_config()}


# -------- Conv2DTranspose ------------------------------------------------------------------------
# Conv2DTranspose: the transposed ("de-") convolution of a decoder, as ``keras.layers.Conv2DTranspose``.
#
# A transposed convolution is the *adjoint* of a convolution. Take the Conv2D that maps an image y of
# the output size (F channels) to an image of the input size (C channels), with the same kernel,
# strides and padding. Then
#
#     Conv2DTranspose forward(x)      = that Conv2D's input gradient, with x in the place of dL/dz
#     Conv2DTranspose backward(dy)    = that Conv2D's forward on dy (no bias)
#
# so it is built from the same helpers as ``Conv2D``: ``window_view`` (im2col) and
# ``add_windows`` (col2im), used the other way round.
#
# With ``dilation_rate`` d > 1 (strides 1: Keras refuses strides > 1 with dilation > 1, as Conv2D)
# the adjoint Conv2D is the dilated one: its k taps are d apart, spanning k' = (k - 1) d + 1 pixels
# (``conv_utils.dilated_size``), and every size and padding below is computed with k' in place of k,
# as Keras does (``_get_output_shape_given_tf_padding`` dilates the kernel size first).
#
# Output size along one axis (input length n, kernel span k' = (k - 1) d + 1, stride s, output_padding
# op), as Keras computes it (``keras/src/backend/common/backend_utils.py`` ``_get_output_shape_given_tf_padding``):
#
#     padding="valid":  n_out = (n - 1) * s + k' + op,    op = max(k', s) - k' when output_padding is None
#     padding="same":   n_out = n * s                      when output_padding is None
#                       n_out = (n - 1) * s + k' % 2 + op  otherwise
#
# The zeros that "same" adds are those of the Conv2D on an image of n_out (``conv_utils.same_padding``
# with k'): TensorFlow's ``tf.nn.conv_transpose`` is that Conv2D's input gradient. TensorFlow also
# requires that this Conv2D maps n_out back to n (ceil(n_out / s) = n); with padding="same", an even
# span k' and output_padding=0 it does not, and TensorFlow fails at call time - we refuse it with a
# clear error. TensorFlow computes a dilated transposed convolution only on a GPU (its CPU kernel:
# "Current CPU implementations do not yet support dilation rates larger than 1"); JAX and PyTorch
# everywhere.


def conv_transpose_output_size(n, k, s, padding, output_padding=None):
    """n_out of a transposed convolution along one axis, as Keras computes it (None stays None)."""
    if n is None:
        return None
    if padding == "valid":
        op = max(k, s) - k if output_padding is None else output_padding
        return (n - 1) * s + k + op
    if output_padding is None:
        return n * s
    return (n - 1) * s + k % 2 + output_padding


class Conv2DTranspose(KernelAndBias, Layer):
    """Transposed 2-D convolution over (batch, height, width, channels), as ``keras.layers.Conv2DTranspose``.

    Weights ``[kernel, bias]``: kernel ``(kh, kw, F, C)`` - F = filters (output channels) *before*
    C (input channels), Keras's layout, the layout of the adjoint Conv2D from F to C channels -
    and bias ``(F,)``.

    Shapes: x ``(N, H, W, C)`` -> y ``(N, H_out, W_out, F)``, H_out/W_out from
    ``conv_transpose_output_size``.

    Forward (yp = the output before cropping the adjoint Conv2D's padding; sh, sw the strides;
    dh, dw the dilation_rate, 1 by default - with dilation > 1 the strides are 1):
        yp[n, p*sh + i*dh, q*sw + j*dw, f] += sum_c x[n, p, q, c] * kernel[i, j, f, c]      (col2im)
        z = crop(yp) + bias,  y = activation(z)
      as matrices:  dcols = X @ K^T,   X = x reshaped (N*H*W, C),  K = kernel reshaped (kh*kw*F, C),
                    then ``add_windows`` scatters dcols (N, H, W, kh, kw, F) onto yp.
    Backward (dz = activation'(z) * dy; cols = im2col of dz padded, (N*H*W, kh*kw*F), the window
    of (p, q) holding dzp[n, p*sh + i*dh, q*sw + j*dw, f] - ``window_view`` with the dilation):
        dx       = cols @ K                (a Conv2D forward of dz with the same kernel)
        d kernel = cols^T @ X              (reshaped back to (kh, kw, F, C))
        d bias   = sum over n, p, q of dz
    """

    keras_class = "Conv2DTranspose"
    input_spec = InputSpec(ndim=4, dtype="layer")   # build adds the input channels: axes={-1: C}
    # Keras 3.13 leaves output_padding out of Conv2DTranspose.get_config(); from_keras reads the
    # attribute instead, so the twin does not silently lose it.
    keras_attributes_missing_from_config = ("output_padding",)

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        _filters_and_window(self, filters, kernel_size, strides, padding)
        self.output_padding = (None if output_padding is None else
                               normalize_tuple(output_padding, "output_padding", allow_zero=True))
        if self.output_padding is not None:
            for i, (op, s) in enumerate(zip(self.output_padding, self.strides)):
                if op >= s:  # Keras 3.15's wording (Keras 3.13 does not check; TensorFlow then fails at call time)
                    raise ValueError(f"`output_padding` must be strictly less than `strides` for all dimensions. "
                                     f"At dimension {i}, `output_padding` is {op} but `strides` is {s}. "
                                     f"Received: output_padding={self.output_padding}, strides={self.strides}")
        self.data_format = normalize_data_format(data_format, "Conv2DTranspose")
        self.dilation_rate = check_dilation(self.strides, normalize_tuple(dilation_rate, "dilation_rate"))
        self._kernel_and_bias_options(activation, use_bias, kernel_initializer, bias_initializer,
                                      kernel_regularizer, bias_regularizer)

    # ------------------------------------------------------------------ building
    def build(self, input_shape):
        kh, kw = self.kernel_size
        super().build(_build_image_kernel(self, input_shape, lambda channels: (kh, kw, self.filters, channels)))

    def _check_input_spec(self, x):
        """The spec's checks, and a non-empty image."""
        x = super()._check_input_spec(x)
        if x.shape[1] == 0 or x.shape[2] == 0:
            raise ValueError(f"Layer '{self.name}' received an empty image, input shape {shape_str(x.shape)}.")
        return x

    def _output_sizes(self, input_shape):
        """(H_out, W_out), checked against TensorFlow's rule that the adjoint Conv2D maps them back."""
        sizes = []
        span = dilated_size(self.kernel_size, self.dilation_rate)   # (k - 1) d + 1
        for axis, (n, k, s) in enumerate(zip(tuple(input_shape)[1:3], span, self.strides)):
            op = None if self.output_padding is None else self.output_padding[axis]
            n_out = conv_transpose_output_size(n, k, s, self.padding, op)
            if n is not None and (n_out <= 0 or conv_output_size(n_out, k, s, self.padding) != n):
                raise ValueError(
                    f"Layer '{self.name}': with kernel_size={self.kernel_size}, strides={self.strides}, "
                    f"dilation_rate={self.dilation_rate}, "
                    f"padding='{self.padding}' and output_padding={self.output_padding}, an input of shape "
                    f"{shape_str(input_shape)} gives an output of length {n_out} along axis {axis + 1}, which "
                    f"a Conv2D with the same arguments does not map back to {n}; TensorFlow's conv_transpose "
                    f"refuses it (\"Size of out_backprop doesn't match computed\"). Use output_padding=None, "
                    f"or an odd kernel_size, or output_padding >= 1 with padding='same'.")
            sizes.append(n_out)
        return tuple(sizes)

    def compute_output_shape(self, input_shape):
        h_out, w_out = self._output_sizes(input_shape)
        return (tuple(input_shape)[0], h_out, w_out, self.filters)

    def _pads(self, h_out, w_out):
        """The zeros of the adjoint Conv2D on an (h_out, w_out) image: ((top, bottom), (left, right))."""
        if self.padding == "valid":
            return (0, 0), (0, 0)
        span = dilated_size(self.kernel_size, self.dilation_rate)
        return tuple(same_padding(n, k, s) for n, k, s in zip((h_out, w_out), span, self.strides))

    # ------------------------------------------------------------------ computing
    def forward(self, x, training=False):
        n, height, width, channels = x.shape
        kh, kw = self.kernel_size
        h_out, w_out = self._output_sizes(x.shape)
        pads = self._pads(h_out, w_out)
        padded_shape = (n, h_out + sum(pads[0]), w_out + sum(pads[1]), self.filters)
        x2 = x.reshape(n * height * width, channels)
        kernel2 = self.kernel.reshape(kh * kw * self.filters, channels)
        dcols = (x2 @ kernel2.T).reshape(n, height, width, kh, kw, self.filters)
        z = np.array(crop(add_windows(dcols, padded_shape, self.strides, x.dtype, self.dilation_rate), pads))
        if self.use_bias:
            z += self.bias
        a = self.activation.forward(z)
        self._cache = (x2, x.shape, pads, z, a)
        return a

    def backward(self, dout):
        self._require_forward()
        x2, x_shape, pads, z, a = self._cache
        da = self._check_dout(dout, a.shape)
        dz = self.activation.backward(z, a, da).astype(x2.dtype, copy=False)
        n, height, width, channels = x_shape
        kh, kw = self.kernel_size
        cols = window_view(pad_images(dz, pads), self.kernel_size, self.strides, (height, width),
                           self.dilation_rate).reshape(n * height * width, kh * kw * self.filters)
        kernel2 = self.kernel.reshape(kh * kw * self.filters, channels)
        self.dkernel = (cols.T @ x2).reshape(self.kernel.shape)
        self.dbias = dz.sum(axis=(0, 1, 2)) if self.use_bias else None
        self._set_kernel_and_bias_grads()
        return (cols @ kernel2).reshape(x_shape)

    # -------------------------------------------------------------------- config
    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "output_padding": self.output_padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                **self._kernel_and_bias_config()}


# -------- DepthwiseConv2D, SeparableConv2D ---------------------------------------------------------
# A depthwise convolution filters every input channel on its own (depth_multiplier filters each, no
# sum over channels); a separable convolution follows it with a 1x1 ("pointwise") convolution that
# mixes the channels - MobileNet's and Xception's block, far fewer weights than a full Conv2D.


class _Depthwise(Layer):
    """The depthwise part shared by DepthwiseConv2D and SeparableConv2D: arguments, geometry, and
    the depthwise convolution's forward and backward on the weight ``depthwise_kernel`` (kh, kw, C, M).

        u[n, p, q, c*M + m] = sum_{i, j} xp[n, p*sh + i*dh, q*sw + j*dw, c] * depthwise_kernel[i, j, c, m]
        d depthwise_kernel[i, j, c, m] = sum_{n, p, q} windows[n, p, q, i, j, c] du[n, p, q, c*M + m]
        dwindows[n, p, q, i, j, c] = sum_m du[n, p, q, c*M + m] depthwise_kernel[i, j, c, m]   -> col2im, crop
    """

    input_spec = InputSpec(ndim=4, dtype="layer")   # build adds the input channels: axes={-1: C}
    activation = ActivationAttribute()

    def _depthwise_options(self, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate,
                           activation, use_bias, depthwise_initializer, depthwise_regularizer):
        self.kernel_size = normalize_tuple(kernel_size, "kernel_size")
        self.strides = normalize_tuple(strides, "strides")
        self.padding = normalize_padding(padding)
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", argument=True)
        self.data_format = normalize_data_format(data_format, type(self).__name__)
        self.dilation_rate = check_dilation(self.strides, normalize_tuple(dilation_rate, "dilation_rate"))
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self._cache = None

    def build(self, input_shape):
        """(after the subclass's weights) the input spec then fixes the channels only."""
        self.input_spec = InputSpec(ndim=4, dtype="layer", axes={-1: tuple(input_shape)[-1]})
        super().build(input_shape)

    def _span(self):
        return dilated_size(self.kernel_size, self.dilation_rate)

    def _depthwise_output_shape(self, input_shape):
        return window_output_shape(self, input_shape, self._span(), "kernel")

    def _check_input_spec(self, x):
        """The spec's checks (rank 4, the channels built for), then an image no smaller than the
        (dilated) kernel with padding='valid'."""
        return check_image_input(self, super()._check_input_spec(x), self._span(), self.strides, self.padding)

    def _axis_size_error(self, x, axis, size, what="input"):
        return (f"Layer '{self.name}' expected input with {size} channels (last axis), "
                f"received shape {shape_str(x.shape)}.")

    def _depthwise_forward(self, x):
        """x (N, H, W, C) -> u (N, H_out, W_out, C*M) and what the backward needs."""
        n, height, width, _ = x.shape
        pads = padding_amounts(height, width, self._span(), self.strides, self.padding)
        xp = pad_images(x, pads)
        _, h_out, w_out = self._depthwise_output_shape(x.shape)
        windows = window_view(xp, self.kernel_size, self.strides, (h_out, w_out), self.dilation_rate)
        u = np.einsum("npqijc,ijcm->npqcm", windows, self.depthwise_kernel, optimize=True)
        return u.reshape(n, h_out, w_out, -1), (windows, xp.shape, pads)

    def _depthwise_backward(self, du, cache):
        """du (N, H_out, W_out, C*M) -> (dx, d depthwise_kernel)."""
        windows, padded_shape, pads = cache
        kh, kw, channels, m = self.depthwise_kernel.shape
        du = du.reshape(du.shape[:3] + (channels, m))
        dkernel = np.einsum("npqijc,npqcm->ijcm", windows, du, optimize=True)
        dwindows = np.einsum("npqcm,ijcm->npqijc", du, self.depthwise_kernel, optimize=True)
        dxp = add_windows(dwindows, padded_shape, self.strides, du.dtype, self.dilation_rate)
        return np.ascontiguousarray(crop(dxp, pads)), dkernel

    def _depthwise_config(self):
        return {"kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
                "depth_multiplier": self.depth_multiplier, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "activation": self.activation.name, "use_bias": self.use_bias,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "depthwise_regularizer": self.depthwise_regularizer, "bias_regularizer": self.bias_regularizer}


class DepthwiseConv2D(_Depthwise):
    """Depthwise 2-D convolution, as ``keras.layers.DepthwiseConv2D``: each input channel convolved
    with its own ``depth_multiplier`` (M) filters.

    Weights ``[depthwise_kernel, bias]``: depthwise_kernel ``(kh, kw, C, M)``, bias ``(C*M,)``.
    Shapes: x ``(N, H, W, C)`` -> y ``(N, H_out, W_out, C*M)`` (output channel c*M + m).

    Forward:   z = u + bias (u: the depthwise convolution, see ``_Depthwise``),  y = activation(z)
    Backward:  dz = activation'(z) dy;  d bias = sum over n, p, q of dz;  then u's backward
    """

    keras_class = "DepthwiseConv2D"

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self._depthwise_options(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate,
                                activation, use_bias, depthwise_initializer, depthwise_regularizer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def build(self, input_shape):
        input_shape = self._check_rank(input_shape, 4)
        channels = KernelAndBias._input_channels(self, input_shape)
        self.add_weight("depthwise_kernel", self.kernel_size + (channels, self.depth_multiplier),
                        self.depthwise_initializer, self.depthwise_regularizer)
        self.bias = None
        if self.use_bias:
            self.add_weight("bias", (channels * self.depth_multiplier,), self.bias_initializer, self.bias_regularizer)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        n, h_out, w_out = self._depthwise_output_shape(input_shape)
        channels = tuple(input_shape)[-1]
        return (n, h_out, w_out, None if channels is None else channels * self.depth_multiplier)

    def forward(self, x, training=False):
        z, depthwise_cache = self._depthwise_forward(x)
        if self.use_bias:
            z = z + self.bias
        a = self.activation.forward(z)
        self._cache = (depthwise_cache, z, a)
        return a

    def backward(self, dout):
        self._require_forward()
        depthwise_cache, z, a = self._cache
        dz = self.activation.backward(z, a, self._check_dout(dout, a.shape)).astype(z.dtype, copy=False)
        dx, dkernel = self._depthwise_backward(dz, depthwise_cache)
        self.set_grads(depthwise_kernel=dkernel, **({"bias": dz.sum(axis=(0, 1, 2))} if self.use_bias else {}))
        return dx

    def get_config(self):
        return {**super().get_config(), **self._depthwise_config()}


class SeparableConv2D(_Depthwise):
    """Depthwise separable 2-D convolution, as ``keras.layers.SeparableConv2D``: a depthwise
    convolution (M filters per input channel) then a 1x1 convolution to ``filters`` (F) channels.

    Weights ``[depthwise_kernel, pointwise_kernel, bias]``: ``(kh, kw, C, M)``, ``(1, 1, C*M, F)``, ``(F,)``.
    Shapes: x ``(N, H, W, C)`` -> y ``(N, H_out, W_out, F)``.

    Forward:   u = depthwise(x)  (see ``_Depthwise``),   z = u @ P + bias   (P: pointwise_kernel as (C*M, F)),
               y = activation(z)
    Backward:  dz = activation'(z) dy;  d P = u^T dz,  d bias = sum dz,  du = dz P^T;  then u's backward
    """

    keras_class = "SeparableConv2D"

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = positive_filters(filters)
        self._depthwise_options(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate,
                                activation, use_bias, depthwise_initializer, depthwise_regularizer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def build(self, input_shape):
        input_shape = self._check_rank(input_shape, 4)
        channels = KernelAndBias._input_channels(self, input_shape)
        m = self.depth_multiplier
        self.add_weight("depthwise_kernel", self.kernel_size + (channels, m), self.depthwise_initializer,
                        self.depthwise_regularizer)
        self.add_weight("pointwise_kernel", (1, 1, channels * m, self.filters), self.pointwise_initializer,
                        self.pointwise_regularizer)
        self.bias = None
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        n, h_out, w_out = self._depthwise_output_shape(input_shape)
        return (n, h_out, w_out, self.filters)

    def forward(self, x, training=False):
        u, depthwise_cache = self._depthwise_forward(x)
        z = u @ self.pointwise_kernel[0, 0]
        if self.use_bias:
            z += self.bias
        a = self.activation.forward(z)
        self._cache = (depthwise_cache, u, z, a)
        return a

    def backward(self, dout):
        self._require_forward()
        depthwise_cache, u, z, a = self._cache
        dz = self.activation.backward(z, a, self._check_dout(dout, a.shape)).astype(z.dtype, copy=False)
        dpointwise = (u.reshape(-1, u.shape[-1]).T @ dz.reshape(-1, dz.shape[-1]))[None, None]
        dx, ddepthwise = self._depthwise_backward(dz @ self.pointwise_kernel[0, 0].T, depthwise_cache)
        self.set_grads(depthwise_kernel=ddepthwise, pointwise_kernel=dpointwise,
                       **({"bias": dz.sum(axis=(0, 1, 2))} if self.use_bias else {}))
        return dx

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, **self._depthwise_config(),
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "pointwise_regularizer": self.pointwise_regularizer}


# -------- Conv1DTranspose: a sequence is an image one pixel high -----------------------------------


class Conv1DTranspose(KernelAndBias, Layer):
    """Transposed 1-D convolution over (batch, timesteps, channels), as ``keras.layers.Conv1DTranspose``.

    Weights ``[kernel, bias]``: kernel ``(k, F, C)`` (F = filters before C, Keras's layout), bias ``(F,)``.
    Shapes: x ``(N, T, C)`` -> y ``(N, T_out, F)``, T_out from ``conv_transpose_output_size``.

    It is ``Conv2DTranspose`` with a (1, k) kernel, strides (1, s) and dilation_rate (1, d) on x seen
    as (N, 1, T, C) (see its formulas; the kernel is this layer's, viewed as (1, k, F, C)):
    Forward:   yp[n, t*s + i*d, f] += sum_c x[n, t, c] kernel[i, f, c];  z = crop(yp) + bias,  y = activation(z)
    Backward:  dx = the (dilated) Conv1D forward of dz with the same kernel;  d kernel = cols^T X;  d bias = sum dz
    ``dilation_rate`` d > 1 needs strides 1, as Keras requires; the sizes and the "same" padding are then
    those of the kernel's span (k - 1) d + 1. TensorFlow computes it only on a GPU ("Current CPU
    implementations do not yet support dilation rates larger than 1"); Keras's JAX and torch backends
    compute it everywhere.
    """

    keras_class = "Conv1DTranspose"
    input_spec = InputSpec(ndim=3)
    keras_attributes_missing_from_config = ("output_padding",)

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        _filters_and_window(self, filters, kernel_size, strides, padding, n=1)
        self.output_padding = (None if output_padding is None else
                               normalize_tuple(output_padding, "output_padding", n=1, allow_zero=True))
        self.data_format = _normalize_sequence_format(data_format, "Conv1DTranspose")
        self.dilation_rate = check_dilation(self.strides, normalize_tuple(dilation_rate, "dilation_rate", n=1))
        self._kernel_and_bias_options(activation, use_bias, kernel_initializer, bias_initializer,
                                      kernel_regularizer, bias_regularizer)
        self._as_2d = Conv2DTranspose(
            self.filters, (1,) + self.kernel_size, (1,) + self.strides, self.padding,
            None if self.output_padding is None else (0, self.output_padding[0]),
            dilation_rate=(1,) + self.dilation_rate, activation=activation, use_bias=self.use_bias,
            name=f"{self.name}_as_2d")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        _check_rank3(self, input_shape)
        channels = self._input_channels(input_shape)
        self._add_kernel_and_bias((self.kernel_size[0], self.filters, channels), self.filters)
        self._as_2d.dtype = self.dtype
        self._as_2d.build((input_shape[0], 1) + input_shape[1:])
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank3(self, input_shape)
        n, _, t_out, f = self._as_2d.compute_output_shape((input_shape[0], 1) + tuple(input_shape[1:]))
        return (n, t_out, f)

    def forward(self, x, training=False):
        inner = self._as_2d
        # views: the inner layer computes with this layer's weights
        inner.kernel, inner.bias, inner.activation = self.kernel[None], self.bias, self.activation
        y = inner.forward(x[:, None])[:, 0]
        self._cache = y.shape
        return y

    def backward(self, dout):
        self._require_forward()
        inner = self._as_2d
        dx = inner.backward(self._check_dout(dout, self._cache)[:, None])[:, 0]
        self.dkernel, self.dbias = inner.dkernel[0], inner.dbias
        self._set_kernel_and_bias_grads()
        return dx

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "output_padding": self.output_padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                **self._kernel_and_bias_config()}
