"""The geometry of sliding windows, shared by the convolution and pooling layers (Keras keeps the same
helpers in ``keras/src/ops/operation_utils.py`` and ``utils/argument_validation.py``): argument
checks (filters, kernel sizes, strides, padding, data_format), output sizes, TensorFlow's "same"
padding, and the im2col / col2im views that turn a convolution into one matrix product.

The output size along one spatial axis (length n, kernel k, stride s), as TensorFlow computes it:

    padding="valid":  n_out = floor((n - k) / s) + 1        (the kernel stays inside the input)
    padding="same":   n_out = ceil(n / s)                   (zeros are added around the input)

"same" pads ``pad_total = max((n_out - 1) * s + k - n, 0)`` zeros in all, ``pad_total // 2`` before
and the rest (one more, when pad_total is odd) after - see ``same_padding``. A sequence
(N, T, C) is an image one pixel high, (N, 1, T, C), so the 1-D layers use the same helpers.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .base import is_positive_int, shape_str


PADDINGS = ("valid", "same")


def positive_filters(filters):
    """The number of filters of a convolution, checked as Keras checks it."""
    if not is_positive_int(filters):
        raise ValueError(f"Invalid value for argument `filters`. Expected a strictly positive value. "
                         f"Received: filters={filters!r}")
    return int(filters)


def normalize_tuple(value, name, n=2, allow_zero=False):
    """An int or a sequence of ``n`` ints -> a tuple of ``n`` positive ints (Keras's rule)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            values = None
        if values is None or len(values) != n or not all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            raise ValueError(f"The `{name}` argument must be an integer or a tuple of {n} integers. "
                             f"Received: {name}={value!r}")
        values = tuple(int(v) for v in values)
    low = 0 if allow_zero else 1
    if any(v < low for v in values):
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers >= {low}. "
                         f"Received: {name}={value!r}")
    return values


def normalize_padding(padding):
    """'valid' or 'same' (case-insensitive, as Keras)."""
    if not isinstance(padding, str) or padding.lower() not in PADDINGS:
        raise ValueError(f"The `padding` argument must be 'valid' or 'same'. Received: padding={padding!r}")
    return padding.lower()


def normalize_data_format(data_format, layer, inputs="images as (batch, height, width, channels)",
                          transpose=(0, 2, 3, 1)):
    """'channels_last' (or None, Keras's default); any other data_format is refused with the
    ``np.transpose`` axes that turn such ``inputs`` into channels_last."""
    if data_format not in (None, "channels_last"):
        raise ValueError(f"The NumPy {layer} supports data_format='channels_last' only ({inputs}). "
                         f"Received: data_format={data_format!r}. "
                         f"Transpose the input with np.transpose(x, {transpose}) and use channels_last.")
    return "channels_last"


def conv_output_size(n, k, s, padding):
    """The output length along one axis: floor((n - k) / s) + 1 for "valid", ceil(n / s) for "same".

    ``n`` may be None (unknown), then so is the result. For "valid" the result is <= 0 when the
    kernel is longer than the input.
    """
    if n is None:
        return None
    if padding == "same":
        return -(-n // s)
    return (n - k) // s + 1


def window_output_shape(layer, input_shape, window, what):
    """(N, H_out, W_out) for a (N, H, W, C) input under a sliding ``window`` (a conv kernel or a
    pool) with the layer's strides and padding; a clear error when the output would be empty."""
    n, height, width, _ = tuple(input_shape)
    h_out = conv_output_size(height, window[0], layer.strides[0], layer.padding)
    w_out = conv_output_size(width, window[1], layer.strides[1], layer.padding)
    if (h_out is not None and h_out <= 0) or (w_out is not None and w_out <= 0):
        raise ValueError(f"Layer '{layer.name}': an input of shape {shape_str(input_shape)} is smaller than "
                         f"the {what} {window[0]} x {window[1]} with padding='valid'; the output would be "
                         f"empty. Use padding='same' or a larger input.")
    return n, h_out, w_out


def same_padding(n, k, s):
    """(pad_before, pad_after) of TensorFlow's "same" padding along one axis.

    pad_total = max((ceil(n / s) - 1) * s + k - n, 0); pad_before = pad_total // 2, and the odd
    one out goes after. E.g. n=5, k=2, s=1 -> (0, 1); n=6, k=3, s=2 -> (0, 1); n=5, k=3, s=1 -> (1, 1).
    """
    pad_total = max((conv_output_size(n, k, s, "same") - 1) * s + k - n, 0)
    return pad_total // 2, pad_total - pad_total // 2


def padding_amounts(height, width, kernel_size, strides, padding):
    """((top, bottom), (left, right)) zeros to add around an image of height x width."""
    if padding == "valid":
        return (0, 0), (0, 0)
    return (same_padding(height, kernel_size[0], strides[0]),
            same_padding(width, kernel_size[1], strides[1]))


def pad_images(x, pads, value=0.0):
    """x (N, H, W, C) with ``pads`` = ((top, bottom), (left, right)) rows/columns of ``value`` added."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def window_view(xp, window, strides, out_size, dilation=(1, 1)):
    """A read-only strided view of every window of a padded batch: no copy.

    xp: (N, Hp, Wp, C) -> windows (N, H_out, W_out, kh, kw, C) with
    windows[n, p, q, i, j, c] = xp[n, p * sh + i * dh, q * sw + j * dw, c]   (dh, dw: the dilation,
    the step between the kernel's taps; 1 for an ordinary convolution).
    """
    (kh, kw), (sh, sw), (h_out, w_out), (dh, dw) = window, strides, out_size, dilation
    n, _, _, c = xp.shape
    s_n, s_h, s_w, s_c = xp.strides
    return as_strided(xp, shape=(n, h_out, w_out, kh, kw, c),
                      strides=(s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c), writeable=False)


def dilated_size(kernel_size, dilation_rate):
    """The span of a dilated kernel along each axis, (k - 1) * d + 1: what the output size and
    "same"/"causal" padding are computed with (a k-tap kernel with gaps of d - 1)."""
    return tuple((k - 1) * d + 1 for k, d in zip(kernel_size, dilation_rate))


def check_dilation(strides, dilation_rate):
    """Keras's (and TensorFlow's) rule: a dilated convolution moves one step at a time."""
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ValueError(f"`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                         f"Received: strides={tuple(strides)} and dilation_rate={tuple(dilation_rate)}")
    return tuple(dilation_rate)


def add_windows(dwindows, padded_shape, strides, dtype, dilation=(1, 1)):
    """col2im: the adjoint of ``window_view``. Sums every window's gradient back onto the padded input.

    dwindows: (N, H_out, W_out, kh, kw, C) -> dxp (N, Hp, Wp, C), with
    dxp[n, p * sh + i * dh, q * sw + j * dw, c] += dwindows[n, p, q, i, j, c].
    One vectorised strided add per kernel offset (i, j): kh * kw additions, no loop over pixels.
    """
    _, h_out, w_out, kh, kw, _ = dwindows.shape
    (sh, sw), (dh, dw) = strides, dilation
    dxp = np.zeros(padded_shape, dtype=dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, i * dh:i * dh + sh * (h_out - 1) + 1:sh,
                j * dw:j * dw + sw * (w_out - 1) + 1:sw, :] += dwindows[:, :, :, i, j, :]
    return dxp


def add_windows_channels_first(dwindows_t, padded_shape, strides, dtype, dilation=(1, 1)):
    """col2im as ``add_windows``, from window gradients laid out (kh, kw, C, N, H_out, W_out).

    Returns dxp (N, Hp, Wp, C) (a transposed view of a channels-first array), with
    dxp[n, p * sh + i * dh, q * sw + j * dw, c] += dwindows_t[i, j, c, n, p, q]; kh * kw vectorised adds.
    """
    kh, kw, _, _, h_out, w_out = dwindows_t.shape
    (sh, sw), (dh, dw) = strides, dilation
    n, hp, wp, c = padded_shape
    dxp_t = np.zeros((c, n, hp, wp), dtype=dtype)
    for i in range(kh):
        for j in range(kw):
            dxp_t[:, :, i * dh:i * dh + sh * (h_out - 1) + 1:sh,
                  j * dw:j * dw + sw * (w_out - 1) + 1:sw] += dwindows_t[i, j]
    return dxp_t.transpose(1, 2, 3, 0)


def crop(xp, pads):
    """Undo ``pad_images``: xp (N, Hp, Wp, C) -> (N, H, W, C)."""
    (top, bottom), (left, right) = pads
    return xp[:, top:xp.shape[1] - bottom, left:xp.shape[2] - right, :]


def check_image_input(layer, x, window, strides, padding, what="kernel"):
    """A windowed layer's check of a (N, H, W, C) batch, after its input spec's (``x`` is an array
    of rank 4): not empty, and no smaller than the window with padding='valid'. Returns ``x``."""
    height, width = x.shape[1:3]
    if padding == "valid" and (height < window[0] or width < window[1]):
        raise ValueError(
            f"Layer '{layer.name}' received an input of height x width {height} x {width}, smaller than its "
            f"{what} {window[0]} x {window[1]} with padding='valid', so the output would be empty "
            f"(input shape {shape_str(x.shape)}). Use a larger input, a smaller {what}, or padding='same'.")
    if height == 0 or width == 0:
        raise ValueError(f"Layer '{layer.name}' received an empty image, input shape {shape_str(x.shape)}.")
    return x


# -------- sequences (Conv1D, MaxPooling1D) -------------------------------------------------------


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
