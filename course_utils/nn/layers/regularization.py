"""Regularization layers, as Keras groups them in ``keras/src/layers/regularization``: ``Dropout``.
"""
from __future__ import annotations

import numpy as np

from ..base import InputSpec, Layer


class Dropout(Layer):
    """Inverted dropout, as ``keras.layers.Dropout(rate)``.

    While training, each unit is kept with probability ``1 - rate`` and the kept ones are scaled by
    ``1 / (1 - rate)`` so that the expected output equals the input; at inference it is the identity.
    The mask of the last training call is kept in ``self.mask`` (backward multiplies by it).
    """

    keras_class = "Dropout"
    input_spec = InputSpec(min_ndim=1)

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not (isinstance(rate, (int, float, np.floating)) and 0 <= rate < 1):
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float value "
                             f"between 0 and 1 (1 excluded). Received: rate={rate!r}")
        self.rate = float(rate)
        self.noise_shape = noise_shape
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.mask = None
        self._cache = None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        if training and self.rate > 0:
            shape = x.shape if self.noise_shape is None else tuple(
                x.shape[i] if d is None else d for i, d in enumerate(self.noise_shape))
            uniform = self._rng.random(shape) if self._rng is not None else np.random.random_sample(shape)
            self.mask = (uniform >= self.rate).astype(x.dtype) / (1.0 - self.rate)
        else:
            self.mask = np.ones((1,) * x.ndim, dtype=x.dtype)
        self._cache = x.shape
        return x * self.mask

    def backward(self, dout):
        self._require_forward()
        self.set_grads()
        return self._check_dout(dout, self._cache) * self.mask

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}
