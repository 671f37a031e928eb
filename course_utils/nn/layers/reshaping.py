"""Reshaping layers, as Keras groups them in ``keras/src/layers/reshaping``: ``Flatten`` (the bridge
from feature maps to Dense layers), ``Reshape`` and ``UpSampling2D``. No weights.
"""
from __future__ import annotations

import numpy as np

from ..base import InputSpec, Layer, shape_str
from ..conv_utils import normalize_data_format, normalize_tuple


# -------- Flatten, Reshape -----------------------------------------------------------------------


class Flatten(Layer):
    """Flattens every example into a vector, keeping the batch axis (channels_last, row-major order,
    exactly as Keras, so a Dense layer after it gets the same weights in the same order).

    Shapes: x ``(N, d_1, ..., d_k)`` -> y ``(N, d_1 * ... * d_k)``  (``(N,)`` -> ``(N, 1)``).

    Forward:   y = x.reshape(N, -1)
    Backward:  dx = dy.reshape(x.shape)      (a reshape moves values, it changes none)
    """

    keras_class = "Flatten"
    input_spec = InputSpec(min_ndim=1)

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, "Flatten")
        self._cache = None

    def compute_output_shape(self, input_shape):
        input_shape = self._shape_of_min_rank(input_shape, 1, "expected input with a batch axis")
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else int(np.prod(rest, dtype=np.int64))
        return (input_shape[0], size)

    def forward(self, x, training=False):
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
    input_spec = InputSpec(min_ndim=1)

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


# -------- UpSampling2D ---------------------------------------------------------------------------
# UpSampling2D: make an image ``size`` times larger, as ``keras.layers.UpSampling2D``; no weights.
#
# "nearest" repeats every pixel size[0] x size[1] times. "bilinear" is TensorFlow's
# ``tf.image.resize(..., method="bilinear")`` (half-pixel centres): output row o reads the input at
#     r = (o + 0.5) / size[0] - 0.5,
# between rows floor(r) and floor(r) + 1 (clamped to the image), weighted by how near each one is.
# Along each axis that is a fixed matrix A (n_out, n), so  y = A_h x A_w^T  per channel and the
# backward pass is its transpose:  dx = A_h^T dy A_w.


INTERPOLATIONS = ("nearest", "bilinear")


def bilinear_matrix(n, factor, dtype=np.float64):
    """A (n * factor, n): TensorFlow's half-pixel-centre bilinear interpolation along one axis."""
    n_out = n * factor
    source = (np.arange(n_out) + 0.5) / factor - 0.5
    lower = np.floor(source)
    lerp = source - lower
    low = np.clip(lower, 0, n - 1).astype(int)
    high = np.clip(lower + 1, 0, n - 1).astype(int)
    matrix = np.zeros((n_out, n), dtype=dtype)
    rows = np.arange(n_out)
    np.add.at(matrix, (rows, low), 1.0 - lerp)
    np.add.at(matrix, (rows, high), lerp)
    return matrix


class UpSampling2D(Layer):
    """Upsampling of (batch, height, width, channels) images, as ``keras.layers.UpSampling2D``.

    Shapes: x ``(N, H, W, C)`` -> y ``(N, H * size[0], W * size[1], C)``.

    "nearest":
      Forward:   y[n, p, q, c] = x[n, p // size[0], q // size[1], c]
      Backward:  dx[n, i, j, c] = sum of dy over the size[0] x size[1] block that copies x[n, i, j, c]
    "bilinear" (A_h, A_w from ``bilinear_matrix``):
      Forward:   y[n, :, :, c] = A_h @ x[n, :, :, c] @ A_w^T
      Backward:  dx[n, :, :, c] = A_h^T @ dy[n, :, :, c] @ A_w
    """

    keras_class = "UpSampling2D"
    input_spec = InputSpec(ndim=4, dtype="layer")

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = normalize_tuple(size, "size")
        self.data_format = normalize_data_format(data_format, "UpSampling2D")
        if not isinstance(interpolation, str) or interpolation.lower() not in INTERPOLATIONS:
            raise ValueError(f"The NumPy UpSampling2D supports interpolation='nearest' or 'bilinear'. "
                             f"Received: interpolation={interpolation!r}. Use keras.layers.UpSampling2D "
                             f"itself for other interpolations (bicubic, lanczos, ...).")
        self.interpolation = interpolation.lower()
        self._cache = None

    def build(self, input_shape):
        input_shape = self._check_rank(input_shape, 4)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        n, height, width, channels = tuple(input_shape)
        return (n, None if height is None else height * self.size[0],
                None if width is None else width * self.size[1], channels)

    def forward(self, x, training=False):
        sh, sw = self.size
        if self.interpolation == "nearest":
            y = np.repeat(np.repeat(x, sh, axis=1), sw, axis=2)
            matrices = None
        else:
            matrices = (bilinear_matrix(x.shape[1], sh, x.dtype), bilinear_matrix(x.shape[2], sw, x.dtype))
            y = np.einsum("pi,nijc,qj->npqc", matrices[0], x, matrices[1], optimize=True)
        self._cache = (x.shape, y.shape, matrices)
        return y

    def backward(self, dout):
        self._require_forward()
        x_shape, y_shape, matrices = self._cache
        dy = self._check_dout(dout, y_shape)
        n, height, width, channels = x_shape
        if matrices is None:
            return dy.reshape(n, height, self.size[0], width, self.size[1], channels).sum(axis=(2, 4))
        return np.einsum("pi,npqc,qj->nijc", matrices[0], dy, matrices[1], optimize=True)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}


# -------- RepeatVector, Permute ------------------------------------------------------------------


class RepeatVector(Layer):
    """Repeats a vector ``n`` times, as ``keras.layers.RepeatVector(n)`` (the bridge from an
    encoder's last state to a decoder's sequence).

    Shapes: x ``(N, F)`` -> y ``(N, n, F)``.
    Forward:   y[:, t] = x  for t < n
    Backward:  dx = sum_t dy[:, t]
    """

    keras_class = "RepeatVector"
    input_spec = InputSpec(ndim=2)

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
            raise TypeError(f"Expected an integer value for `n`, got {type(n)}.")
        if n <= 0:
            raise ValueError(f"Argument `n` should be a positive integer. Received: n={n}")
        self.n = int(n)
        self._cache = None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def forward(self, x, training=False):
        self._cache = x.shape
        return np.repeat(x[:, None, :], self.n, axis=1)

    def backward(self, dout):
        self._require_forward()
        dy = self._check_dout(dout, self.compute_output_shape(self._cache))
        self.set_grads()
        return dy.sum(axis=1)

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Permute(Layer):
    """Permutes the axes of every example, as ``keras.layers.Permute(dims)``; ``dims`` counts from 1
    (the batch axis stays first): ``Permute((2, 1))`` swaps the two axes of (N, T, F).

    Shapes: x ``(N, d_1, ..., d_k)`` -> y ``(N, d_dims[0], ..., d_dims[k-1])``.
    Forward:   y = x.transpose((0,) + dims)
    Backward:  dx = dy.transpose(the inverse permutation)
    """

    keras_class = "Permute"
    input_spec = InputSpec(min_ndim=2)

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            dims = tuple(int(d) for d in dims)
        except (TypeError, ValueError):
            raise ValueError(f"Invalid permutation argument `dims` for Permute Layer: a tuple of integers "
                             f"starting from 1. Received dims={dims!r}") from None
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Invalid permutation argument `dims` for Permute Layer. The set of indices in "
                             f"`dims` must be consecutive and start from 1. Received dims={dims}")
        self.dims = dims
        self._cache = None

    def build(self, input_shape):
        input_shape = self._check_rank(input_shape, len(self.dims) + 1)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        input_shape = self._check_rank(input_shape, len(self.dims) + 1)
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def forward(self, x, training=False):
        self._check_rank(x.shape, len(self.dims) + 1)
        self._cache = x.shape
        return x.transpose((0,) + self.dims)

    def backward(self, dout):
        self._require_forward()
        dy = self._check_dout(dout, self.compute_output_shape(self._cache))
        self.set_grads()
        return dy.transpose(np.argsort((0,) + self.dims))

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


# -------- ZeroPadding2D, Cropping2D --------------------------------------------------------------


def _two_pairs(value, name, what):
    """Keras's ``padding``/``cropping`` argument: an int, (symmetric_height, symmetric_width) or
    ((top, bottom), (left, right)) -> ((top, bottom), (left, right)) of ints >= 0."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"`{name}` cannot be negative. Received: {name}={value}.")
        return ((int(value),) * 2,) * 2
    if not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"`{name}` should be either an int, a tuple of 2 ints (symmetric_height_{what}, "
                         f"symmetric_width_{what}), or a tuple of 2 tuples of 2 ints ((top_{what}, "
                         f"bottom_{what}), (left_{what}, right_{what})). Received: {name}={value!r}.")
    return (normalize_tuple(value[0], f"1st entry of {name}", allow_zero=True),
            normalize_tuple(value[1], f"2nd entry of {name}", allow_zero=True))


class _Spatial2D(Layer):
    """What ZeroPadding2D and Cropping2D share: Keras's ``data_format`` (height and width are axes
    1, 2 for "channels_last", 2, 3 for "channels_first") and rank-4 inputs."""

    input_spec = InputSpec(ndim=4)

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"The `data_format` argument must be one of 'channels_first', 'channels_last'. "
                             f"Received: data_format={data_format!r}")
        self.data_format = data_format or "channels_last"
        self._cache = None

    def _spatial(self, pairs):
        """((before, after), ...) for every axis of a rank-4 batch, zeros off the spatial axes."""
        return ((0, 0), *pairs, (0, 0)) if self.data_format == "channels_last" else ((0, 0), (0, 0), *pairs)


class ZeroPadding2D(_Spatial2D):
    """Adds rows and columns of zeros around images, as ``keras.layers.ZeroPadding2D(padding=(1, 1))``.

    Shapes: x ``(N, H, W, C)`` -> y ``(N, top + H + bottom, left + W + right, C)``.
    Forward:   y = x with zeros around it
    Backward:  dx = dy with the padding cropped off
    """

    keras_class = "ZeroPadding2D"

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.padding = _two_pairs(padding, "padding", "pad")

    def compute_output_shape(self, input_shape):
        return tuple(None if d is None else d + before + after
                     for d, (before, after) in zip(input_shape, self._spatial(self.padding)))

    def forward(self, x, training=False):
        self._cache = x.shape
        return np.pad(x, self._spatial(self.padding))

    def backward(self, dout):
        self._require_forward()
        dy = self._check_dout(dout, self.compute_output_shape(self._cache))
        self.set_grads()
        return dy[tuple(slice(before, d - after) for d, (before, after) in
                        zip(dy.shape, self._spatial(self.padding)))]

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class Cropping2D(_Spatial2D):
    """Cuts rows and columns off the borders of images, as ``keras.layers.Cropping2D``.

    Shapes: x ``(N, H, W, C)`` -> y ``(N, H - top - bottom, W - left - right, C)``.
    Forward:   y = x[:, top:H - bottom, left:W - right]
    Backward:  dx = dy with zeros put back where the borders were
    """

    keras_class = "Cropping2D"

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.cropping = _two_pairs(cropping, "cropping", "crop")

    def compute_output_shape(self, input_shape):
        out = []
        for axis, (d, (before, after)) in enumerate(zip(input_shape, self._spatial(self.cropping))):
            if d is not None and before + after >= d and (before, after) != (0, 0):
                raise ValueError(f"Layer '{self.name}': cropping {self.cropping} leaves nothing of axis {axis} "
                                 f"(size {d}) of input shape {shape_str(input_shape)}. Crop less, or use a "
                                 f"larger input.")
            out.append(None if d is None else d - before - after)
        return tuple(out)

    def forward(self, x, training=False):
        self.compute_output_shape(x.shape)
        self._cache = x.shape
        return x[tuple(slice(before, d - after) for d, (before, after) in
                       zip(x.shape, self._spatial(self.cropping)))]

    def backward(self, dout):
        self._require_forward()
        dy = self._check_dout(dout, self.compute_output_shape(self._cache))
        self.set_grads()
        return np.pad(dy, self._spatial(self.cropping))

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping, "data_format": self.data_format}
