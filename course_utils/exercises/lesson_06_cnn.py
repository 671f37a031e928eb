"""Exercises of lesson 06_cnn: convolution, padding and stride, pooling, and their gradients.

Shapes: images are channels_last, x (N, H, W, C); a kernel is (kh, kw, C, F) as in Keras
(F = filters). The references reuse course_utils.nn (Conv2D, MaxPooling2D and the padding
arithmetic of course_utils.nn.conv), so the learner's functions, the NumPy library and Keras are
held to the same numbers.
"""
import numpy as np

from ..nn.conv_utils import conv_output_size
from ..nn.layers.convolutional import Conv2D
from ..nn.conv_utils import same_padding as _same_padding
from ..nn.layers.pooling import AveragePooling2D, MaxPooling2D
from . import Case, Exercise

LESSON = "06_cnn"


def _conv_layer(kernel, bias, stride, padding, use_bias=True):
    kh, kw, channels, filters = kernel.shape
    layer = Conv2D(filters, (kh, kw), strides=stride, padding=padding, use_bias=use_bias, dtype="float64")
    layer.build((None, None, None, channels))
    layer.set_weights([kernel, bias] if use_bias else [kernel])
    return layer


# ----------------------------------------------------------------------------- correlate2d
def correlate2d(image, kernel):
    """out[p, q] = sum_{i, j} image[p + i, q + j] * kernel[i, j]  ("valid": the kernel stays inside).

    image: (H, W), kernel: (kh, kw) -> out: (H - kh + 1, W - kw + 1).
    """
    layer = _conv_layer(np.asarray(kernel, dtype=np.float64)[:, :, None, None], np.zeros(1), 1, "valid")
    return layer.forward(np.asarray(image, dtype=np.float64)[None, :, :, None])[0, :, :, 0]


def _correlate2d_loops(image, kernel):
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for p in range(out.shape[0]):
        for q in range(out.shape[1]):
            out[p, q] = np.sum(image[p:p + kh, q:q + kw] * kernel)
    return out


def _correlate2d_cases(rng):
    edge = np.array([[1.0, 0.0, -1.0], [1.0, 0.0, -1.0], [1.0, 0.0, -1.0]])
    return [Case((rng.normal(size=(5, 5)), rng.normal(size=(3, 3))), label="5x5 image, 3x3 kernel"),
            Case((np.tile(np.r_[np.zeros(3), np.ones(3)], (6, 1)), edge), label="a vertical edge, edge filter"),
            Case((rng.normal(size=(6, 7)), rng.normal(size=(2, 3))), label="6x7 image, 2x3 kernel"),
            Case((rng.normal(size=(4, 4)), rng.normal(size=(4, 4))), label="kernel as large as the image")]


Exercise(f"{LESSON}.correlate2d", reference=correlate2d, cases=_correlate2d_cases,
         mistakes={
             "the kernel is flipped (that is the mathematicians' convolution). Deep-learning libraries "
             "slide the kernel as it is: out[p, q] = sum_ij image[p + i, q + j] * kernel[i, j].":
                 lambda image, kernel: _correlate2d_loops(image, kernel[::-1, ::-1]),
             "the kernel's rows and columns are swapped (kernel.T): image[p + i, q + j] multiplies "
             "kernel[i, j].": lambda image, kernel: _correlate2d_loops(image, kernel.T),
         },
         output_names=("out",),
         title="slide a kernel over an image: a 2-D cross-correlation with 'valid' padding")


# ----------------------------------------------------------------------------- output_size
def output_size(n, k, s, padding):
    """The output length along one axis: floor((n - k) / s) + 1 for "valid", ceil(n / s) for "same"."""
    return conv_output_size(int(n), int(k), int(s), padding)


def _output_size_cases(rng):
    return [Case((7, 3, 1, "valid"), label="n=7, k=3, s=1, valid"),
            Case((8, 3, 2, "valid"), label="n=8, k=3, s=2, valid"),
            Case((28, 3, 1, "same"), label="n=28, k=3, s=1, same"),
            Case((7, 3, 2, "same"), label="n=7, k=3, s=2, same"),
            Case((8, 5, 3, "valid"), label="n=8, k=5, s=3, valid"),
            Case((6, 6, 1, "valid"), label="kernel as long as the input"),
            Case((5, 1, 3, "same"), label="n=5, k=1, s=3, same"),
            Case((10, 3, 4, "valid"), label="n=10, k=3, s=4, valid: (n - k) / s = 1.75 rounds down"),
            Case((7, 2, 3, "same"), label="n=7, k=2, s=3, same: n / s = 2.33 rounds up")]


Exercise(f"{LESSON}.output_size", reference=output_size, cases=_output_size_cases,
         mistakes={
             "the +1 is missing: the first window is already one output, so \"valid\" gives "
             "floor((n - k) / s) + 1.":
                 lambda n, k, s, padding: -(-n // s) if padding == "same" else (n - k) // s,
             "the division is not rounded down: a window that does not fit is dropped, so use "
             "floor division (n - k) // s + 1.":
                 lambda n, k, s, padding: -(-n // s) if padding == "same" else (n - k) / s + 1,
             "\"same\" rounds up: ceil(n / s) (e.g. -(-n // s)); n // s loses the last, partly "
             "padded, window.":
                 lambda n, k, s, padding: n // s if padding == "same" else (n - k) // s + 1,
             "with a stride, \"same\" still shrinks the output: it is ceil(n / s), equal to n only "
             "when s = 1.":
                 lambda n, k, s, padding: n if padding == "same" else (n - k) // s + 1,
         },
         output_names=("n_out",),
         title="the output size of a convolution or pooling along one axis")


# ----------------------------------------------------------------------------- same_padding
def same_padding(n, k, s):
    """(pad_before, pad_after) of TensorFlow's "same" padding along one axis."""
    return _same_padding(int(n), int(k), int(s))


def _same_padding_cases(rng):
    return [Case((5, 3, 1), label="n=5, k=3, s=1"),
            Case((6, 3, 2), label="n=6, k=3, s=2 (odd total)"),
            Case((5, 4, 1), label="n=5, k=4, s=1"),
            Case((8, 1, 3), label="n=8, k=1, s=3 (no padding needed)"),
            Case((7, 5, 2), label="n=7, k=5, s=2"),
            Case((8, 2, 1), label="n=8, k=2, s=1 (an even kernel: the one zero goes after)"),
            Case((7, 4, 2), label="n=7, k=4, s=2 (an even kernel, odd total)")]


def _same_padding_no_stride(n, k, s):
    return (k - 1) // 2, k - 1 - (k - 1) // 2


def _same_padding_extra_before(n, k, s):
    before, after = _same_padding(n, k, s)
    return after, before


def _same_padding_no_max(n, k, s):
    total = (-(-n // s) - 1) * s + k - n
    return total // 2, total - total // 2


Exercise(f"{LESSON}.same_padding", reference=same_padding, cases=_same_padding_cases,
         mistakes={
             "the odd zero goes on the wrong side: TensorFlow puts pad_total // 2 before and the rest "
             "(the extra one) after - at the bottom and the right.": _same_padding_extra_before,
             "the stride changes how much padding is needed: pad_total = (ceil(n / s) - 1) * s + k - n, "
             "not k - 1.": _same_padding_no_stride,
             "pad_total can come out negative (the windows already cover the input): take "
             "max(pad_total, 0).": _same_padding_no_max,
         },
         output_names=("pad_before", "pad_after"),
         title="how many zeros \"same\" padding adds before and after, along one axis")


# ----------------------------------------------------------------------------- conv2d_forward
def conv2d_forward(x, kernel, bias, stride, padding):
    """z[n, p, q, f] = sum_{i, j, c} xp[n, p*s + i, q*s + j, c] * kernel[i, j, c, f] + bias[f].

    x: (N, H, W, C), kernel: (kh, kw, C, F), bias: (F,), stride: int, padding: "valid" | "same"
    -> z: (N, H_out, W_out, F).  (xp is x padded as TensorFlow pads it.)
    """
    return _conv_layer(kernel, bias, int(stride), padding).forward(x)


def _conv_loops(x, kernel, bias, stride, pads):
    """A plain-loop convolution with given paddings ((top, bottom), (left, right))."""
    (top, bottom), (left, right) = pads
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    kh, kw, _, filters = kernel.shape
    h_out = (xp.shape[1] - kh) // stride + 1
    w_out = (xp.shape[2] - kw) // stride + 1
    z = np.zeros((x.shape[0], h_out, w_out, filters))
    for p in range(h_out):
        for q in range(w_out):
            patch = xp[:, p * stride:p * stride + kh, q * stride:q * stride + kw, :]
            z[:, p, q, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2]))
    return z + bias


def _tf_pads(x, kernel, stride, padding):
    if padding == "valid":
        return (0, 0), (0, 0)
    return (_same_padding(x.shape[1], kernel.shape[0], stride), _same_padding(x.shape[2], kernel.shape[1], stride))


def _conv_extra_before(x, kernel, bias, stride, padding):
    (t, b), (l, r) = _tf_pads(x, kernel, stride, padding)
    return _conv_loops(x, kernel, bias, stride, ((b, t), (r, l)))


def _conv2d_forward_cases(rng):
    return [Case((rng.normal(size=(2, 6, 6, 1)), rng.normal(size=(3, 3, 1, 2)), rng.normal(size=2), 1, "valid"),
                 label="N=2, 6x6x1 images, 2 filters 3x3, stride 1, valid"),
            Case((rng.normal(size=(1, 7, 7, 3)), rng.normal(size=(3, 3, 3, 4)), rng.normal(size=4), 2, "same"),
                 label="7x7x3 image, 4 filters 3x3, stride 2, same"),
            Case((rng.normal(size=(2, 6, 6, 2)), rng.normal(size=(3, 3, 2, 2)), rng.normal(size=2), 2, "same"),
                 label="6x6x2, stride 2, same (an odd number of zeros to add)"),
            Case((rng.normal(size=(1, 5, 7, 2)), rng.normal(size=(2, 3, 2, 3)), rng.normal(size=3), 1, "same"),
                 label="a 2x3 kernel, stride 1, same"),
            Case((rng.normal(size=(1, 6, 6, 1)), rng.normal(size=(4, 4, 1, 2)), rng.normal(size=2), 1, "same"),
                 label="an even 4x4 kernel, stride 1, same (1 zero before, 2 after)")]


Exercise(f"{LESSON}.conv2d_forward", reference=conv2d_forward, cases=_conv2d_forward_cases,
         mistakes={
             "the bias is missing: add bias[f] to every output pixel of filter f.":
                 lambda x, kernel, bias, stride, padding: conv2d_forward(x, kernel, np.zeros_like(bias), stride, padding),
             "the kernel is flipped: Keras does not flip it, out[p, q] uses xp[p*s + i, q*s + j] * kernel[i, j].":
                 lambda x, kernel, bias, stride, padding: conv2d_forward(x, kernel[::-1, ::-1], bias, stride, padding),
             "the stride is ignored: window (p, q) starts at row p * stride and column q * stride.":
                 lambda x, kernel, bias, stride, padding: _conv_loops(x, kernel, bias, 1, _tf_pads(x, kernel, 1, padding)),
             "the padding is split the wrong way: when pad_total is odd, the extra zero goes after "
             "(bottom, right), as TensorFlow does - use same_padding().": _conv_extra_before,
         },
         output_names=("z",),
         title="the forward pass of a Conv2D layer (multi-channel, any stride, valid or same)")


# ----------------------------------------------------------------------------- max_pool2d
def max_pool2d(x, pool_size, stride):
    """y[n, p, q, c] = max_{i, j < pool_size} x[n, p*s + i, q*s + j, c]   ("valid" padding).

    x: (N, H, W, C) -> y: (N, H_out, W_out, C), H_out = (H - pool_size) // stride + 1.
    """
    return MaxPooling2D(int(pool_size), int(stride), "valid", dtype="float64").forward(x)


def _max_pool_cases(rng):
    return [Case((rng.normal(size=(2, 4, 4, 1)), 2, 2), label="4x4, pool 2, stride 2"),
            Case((rng.normal(size=(1, 5, 5, 3)), 2, 2), label="5x5x3 (odd: the last row and column are dropped)"),
            Case((rng.normal(size=(2, 7, 7, 2)), 3, 2), label="pool 3, stride 2 (windows overlap)"),
            Case((rng.normal(size=(2, 5, 8, 3)), 2, 1), label="5x8 images (height != width), pool 2, stride 1")]


Exercise(f"{LESSON}.max_pool2d", reference=max_pool2d, cases=_max_pool_cases,
         mistakes={
             "this is average pooling: max pooling keeps the largest value of each window (np.max).":
                 lambda x, pool_size, stride: AveragePooling2D(int(pool_size), int(stride), dtype="float64").forward(x),
             "the max runs over the channels too: pool each channel separately, over the window's rows "
             "and columns only (axis=(1, 2) of a (N, ph, pw, C) window).":
                 lambda x, pool_size, stride: max_pool2d(x, pool_size, stride).max(axis=-1),
             "the windows move by 1: window (p, q) starts at row p * stride and column q * stride.":
                 lambda x, pool_size, stride: max_pool2d(x, pool_size, 1),
         },
         output_names=("y",),
         title="max pooling with 'valid' padding")


# ----------------------------------------------------------------------------- max_pool2d_backward
def max_pool2d_backward(x, dout, pool_size, stride):
    """dx: each window's upstream gradient dout[n, p, q, c] goes to the position of the window's max
    (the first one in row-major order when several are equal, as TensorFlow); overlapping windows add.

    x: (N, H, W, C), dout: (N, H_out, W_out, C) -> dx: (N, H, W, C).
    """
    layer = MaxPooling2D(int(pool_size), int(stride), "valid", dtype="float64")
    layer.forward(x)
    return layer.backward(dout)


def _pool_backward_loops(x, dout, pool_size, stride, rule):
    dx = np.zeros_like(x, dtype=np.float64)
    n_out_h, n_out_w = dout.shape[1:3]
    for n in range(x.shape[0]):
        for c in range(x.shape[3]):
            for p in range(n_out_h):
                for q in range(n_out_w):
                    rows = slice(p * stride, p * stride + pool_size)
                    cols = slice(q * stride, q * stride + pool_size)
                    window = x[n, rows, cols, c]
                    if rule == "all ties":
                        dx[n, rows, cols, c] += (window == window.max()) * dout[n, p, q, c]
                    elif rule == "spread":
                        dx[n, rows, cols, c] += dout[n, p, q, c] / window.size
                    elif rule == "overwrite":
                        i, j = np.unravel_index(np.argmax(window), window.shape)
                        dx[n, p * stride + i, q * stride + j, c] = dout[n, p, q, c]
    return dx


def _max_pool_backward_cases(rng):
    x1 = rng.normal(size=(2, 4, 4, 2))
    x2 = rng.integers(0, 3, size=(1, 6, 6, 2)).astype(np.float64)     # many ties
    x3 = rng.normal(size=(1, 7, 7, 1))
    x3[0, 2, 2, 0] = 10.0                                              # one max shared by 4 windows
    return [Case((x1, rng.normal(size=(2, 2, 2, 2)), 2, 2), label="pool 2, stride 2"),
            Case((x3, rng.normal(size=(1, 3, 3, 1)), 3, 2), label="pool 3, stride 2: overlapping windows share a max"),
            Case((x2, rng.normal(size=(1, 3, 3, 2)), 2, 2), label="integer image: ties within windows"),
            Case((rng.normal(size=(2, 5, 6, 3)), rng.normal(size=(2, 3, 4, 3)), 3, 1),
                 label="5x6 images (height != width), pool 3, stride 1")]


Exercise(f"{LESSON}.max_pool2d_backward", reference=max_pool2d_backward, cases=_max_pool_backward_cases,
         mistakes={
             "the gradient is spread over the whole window (that is average pooling's backward); all of "
             "it goes to the position of the window's max.":
                 lambda x, dout, pool_size, stride: _pool_backward_loops(x, dout, pool_size, stride, "spread"),
             "overlapping windows that share a max must add their gradients (+=), not overwrite them (=).":
                 lambda x, dout, pool_size, stride: _pool_backward_loops(x, dout, pool_size, stride, "overwrite"),
             "every tied maximum got the gradient; like TensorFlow, give it to the first max of the window "
             "only (np.argmax on the flattened window, in row-major order).":
                 lambda x, dout, pool_size, stride: _pool_backward_loops(x, dout, pool_size, stride, "all ties"),
         },
         output_names=("dx",),
         title="the backward pass of max pooling: route each gradient to its window's max")


# ----------------------------------------------------------------------------- conv2d_kernel_gradient
def conv2d_kernel_gradient(x, dout, kernel_size):
    """dK[i, j, c, f] = sum_{n, p, q} x[n, p + i, q + j, c] * dout[n, p, q, f]   (stride 1, "valid").

    x: (N, H, W, C), dout: (N, H - kh + 1, W - kw + 1, F), kernel_size: (kh, kw)
    -> dK: (kh, kw, C, F), the kernel's shape.
    """
    kh, kw = (int(k) for k in kernel_size)
    layer = _conv_layer(np.zeros((kh, kw, x.shape[-1], dout.shape[-1])), None, 1, "valid", use_bias=False)
    layer.forward(x)
    layer.backward(dout)
    return layer.grads[0]


def _conv2d_kernel_gradient_cases(rng):
    return [Case((rng.normal(size=(2, 5, 5, 1)), rng.normal(size=(2, 3, 3, 2)), (3, 3)),
                 label="N=2, 5x5x1 images, 2 filters 3x3"),
            Case((rng.normal(size=(3, 6, 5, 3)), rng.normal(size=(3, 5, 3, 2)), (2, 3)),
                 label="N=3, 6x5x3 images, 2 filters 2x3"),
            Case((rng.normal(size=(1, 4, 4, 2)), rng.normal(size=(1, 4, 4, 2)), (1, 1)),
                 label="a 1x1 kernel")]


Exercise(f"{LESSON}.conv2d_kernel_gradient", reference=conv2d_kernel_gradient, cases=_conv2d_kernel_gradient_cases,
         mistakes={
             "the batch is averaged: the loss adds the examples' contributions, so dK sums over n "
             "(and over every output position p, q).":
                 lambda x, dout, kernel_size: conv2d_kernel_gradient(x, dout, kernel_size) / x.shape[0],
             "the kernel gradient is flipped: line x and dout up as in the forward pass, "
             "x[n, p + i, q + j, c] * dout[n, p, q, f].":
                 lambda x, dout, kernel_size: conv2d_kernel_gradient(x, dout, kernel_size)[::-1, ::-1],
             "the channel axes are swapped: dK has the kernel's shape (kh, kw, C, F) - input channels "
             "before filters.":
                 lambda x, dout, kernel_size: conv2d_kernel_gradient(x, dout, kernel_size).transpose(0, 1, 3, 2),
         },
         output_names=("dK",),
         title="the gradient of the loss with respect to a convolution kernel")
