"""UpSampling2D: make an image ``size`` times larger, as ``keras.layers.UpSampling2D``; no weights.

"nearest" repeats every pixel size[0] x size[1] times. "bilinear" is TensorFlow's
``tf.image.resize(..., method="bilinear")`` (half-pixel centres): output row o reads the input at
    r = (o + 0.5) / size[0] - 0.5,
between rows floor(r) and floor(r) + 1 (clamped to the image), weighted by how near each one is.
Along each axis that is a fixed matrix A (n_out, n), so  y = A_h x A_w^T  per channel and the
backward pass is its transpose:  dx = A_h^T dy A_w.
"""
from __future__ import annotations

import numpy as np

from .base import Layer
from .conv import normalize_data_format, normalize_tuple

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
        x = self._as_input(x, ndim=4)
        self._ensure_built(x)
        x = self._cast_input(x)
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
