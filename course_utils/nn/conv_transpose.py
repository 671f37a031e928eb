"""Conv2DTranspose: the transposed ("de-") convolution of a decoder, as ``keras.layers.Conv2DTranspose``.

A transposed convolution is the *adjoint* of a convolution. Take the Conv2D that maps an image y of
the output size (F channels) to an image of the input size (C channels), with the same kernel,
strides and padding. Then

    Conv2DTranspose forward(x)      = that Conv2D's input gradient, with x in the place of dL/dz
    Conv2DTranspose backward(dy)    = that Conv2D's forward on dy (no bias)

so it is built from the same helpers as ``conv.Conv2D``: ``window_view`` (im2col) and
``add_windows`` (col2im), used the other way round.

Output size along one axis (input length n, kernel k, stride s, output_padding op), as Keras
computes it (``keras/src/backend/common/backend_utils.py`` ``_get_output_shape_given_tf_padding``):

    padding="valid":  n_out = (n - 1) * s + k + op,    op = max(k, s) - k when output_padding is None
    padding="same":   n_out = n * s                     when output_padding is None
                      n_out = (n - 1) * s + k % 2 + op  otherwise

The zeros that "same" adds are those of the Conv2D on an image of n_out (``conv.same_padding``):
TensorFlow's ``tf.nn.conv_transpose`` is that Conv2D's input gradient. TensorFlow also requires
that this Conv2D maps n_out back to n (ceil(n_out / s) = n); with padding="same", an even kernel and
output_padding=0 it does not, and TensorFlow fails at call time - we refuse it with a clear error.
"""
from __future__ import annotations

import numpy as np

from .base import KernelAndBias, Layer, shape_str
from .conv import (add_windows, conv_output_size, crop, normalize_data_format, normalize_padding,
                   normalize_tuple, pad_images, positive_filters, same_padding, window_view)


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

    Forward (yp = the output before cropping the adjoint Conv2D's padding; sh, sw the strides):
        yp[n, p*sh + i, q*sw + j, f] += sum_c x[n, p, q, c] * kernel[i, j, f, c]      (col2im)
        z = crop(yp) + bias,  y = activation(z)
      as matrices:  dcols = X @ K^T,   X = x reshaped (N*H*W, C),  K = kernel reshaped (kh*kw*F, C),
                    then ``add_windows`` scatters dcols (N, H, W, kh, kw, F) onto yp.
    Backward (dz = activation'(z) * dy; cols = im2col of dz padded, (N*H*W, kh*kw*F)):
        dx       = cols @ K                (a Conv2D forward of dz with the same kernel)
        d kernel = cols^T @ X              (reshaped back to (kh, kw, F, C))
        d bias   = sum over n, p, q of dz
    """

    keras_class = "Conv2DTranspose"
    # Keras 3.13 leaves output_padding out of Conv2DTranspose.get_config(); from_keras reads the
    # attribute instead, so the twin does not silently lose it.
    keras_attributes_missing_from_config = ("output_padding",)

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = positive_filters(filters)
        self.kernel_size = normalize_tuple(kernel_size, "kernel_size")
        self.strides = normalize_tuple(strides, "strides")
        self.padding = normalize_padding(padding)
        self.output_padding = (None if output_padding is None else
                               normalize_tuple(output_padding, "output_padding", allow_zero=True))
        if self.output_padding is not None:
            for i, (op, s) in enumerate(zip(self.output_padding, self.strides)):
                if op >= s:  # Keras 3.15's wording (Keras 3.13 does not check; TensorFlow then fails at call time)
                    raise ValueError(f"`output_padding` must be strictly less than `strides` for all dimensions. "
                                     f"At dimension {i}, `output_padding` is {op} but `strides` is {s}. "
                                     f"Received: output_padding={self.output_padding}, strides={self.strides}")
        self.data_format = normalize_data_format(data_format, "Conv2DTranspose")
        if normalize_tuple(dilation_rate, "dilation_rate") != (1, 1):
            raise ValueError(f"The NumPy Conv2DTranspose supports dilation_rate=1 only. "
                             f"Received: dilation_rate={dilation_rate!r}. Use keras.layers.Conv2DTranspose "
                             f"itself for dilated transposed convolutions.")
        self.dilation_rate = (1, 1)
        self._kernel_and_bias_options(activation, use_bias, kernel_initializer, bias_initializer,
                                      kernel_regularizer, bias_regularizer)

    # ------------------------------------------------------------------ building
    def build(self, input_shape):
        input_shape = self._check_rank(input_shape, 4)
        channels = self._input_channels(input_shape)
        kh, kw = self.kernel_size
        self._add_kernel_and_bias((kh, kw, self.filters, channels), self.filters)
        super().build(input_shape)

    def _output_sizes(self, input_shape):
        """(H_out, W_out), checked against TensorFlow's rule that the adjoint Conv2D maps them back."""
        sizes = []
        for axis, (n, k, s) in enumerate(zip(tuple(input_shape)[1:3], self.kernel_size, self.strides)):
            op = None if self.output_padding is None else self.output_padding[axis]
            n_out = conv_transpose_output_size(n, k, s, self.padding, op)
            if n is not None and (n_out <= 0 or conv_output_size(n_out, k, s, self.padding) != n):
                raise ValueError(
                    f"Layer '{self.name}': with kernel_size={self.kernel_size}, strides={self.strides}, "
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
        return tuple(same_padding(n, k, s) for n, k, s in zip((h_out, w_out), self.kernel_size, self.strides))

    # ------------------------------------------------------------------ computing
    def forward(self, x, training=False):
        x = self._as_input(x, ndim=4)
        self._ensure_built(x)
        channels = self.kernel.shape[3]
        x = self._check_input_channels(x, channels)
        if x.shape[1] == 0 or x.shape[2] == 0:
            raise ValueError(f"Layer '{self.name}' received an empty image, input shape {shape_str(x.shape)}.")
        n, height, width, _ = x.shape
        kh, kw = self.kernel_size
        h_out, w_out = self._output_sizes(x.shape)
        pads = self._pads(h_out, w_out)
        padded_shape = (n, h_out + sum(pads[0]), w_out + sum(pads[1]), self.filters)
        x2 = x.reshape(n * height * width, channels)
        kernel2 = self.kernel.reshape(kh * kw * self.filters, channels)
        dcols = (x2 @ kernel2.T).reshape(n, height, width, kh, kw, self.filters)
        z = np.array(crop(add_windows(dcols, padded_shape, self.strides, x.dtype), pads))
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
        cols = window_view(pad_images(dz, pads), self.kernel_size, self.strides, (height, width)).reshape(
            n * height * width, kh * kw * self.filters)
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
