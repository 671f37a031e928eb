"""Dense, Activation and Dropout: the layers of an MLP, with Keras's arguments and weight layout."""
from __future__ import annotations

import numpy as np

from . import activations
from .base import ActivationAttribute, KernelAndBias, Layer, shape_str


class Dense(KernelAndBias, Layer):
    """A fully connected layer: ``y = f(x @ kernel + bias)``.

    Arguments, defaults and layout as ``keras.layers.Dense``:
    kernel ``(input_dim, units)``, bias ``(units,)``; weights ``[kernel, bias]``.
    Like Keras, an input of rank > 2 is transformed along its last axis.

    Shapes: x ``(N, ..., input_dim)`` -> y ``(N, ..., units)``.

    Forward:   z = x W + b,          a = f(z)
    Backward:  dz = f'(z) * da       (a vector-Jacobian product for softmax)
               dW = x^T dz           (summed over the batch and any middle axes)
               db = sum_n dz
               dx = dz W^T
    """

    keras_class = "Dense"

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Received an invalid value for `units`, expected a positive integer. "
                             f"Received: units={units!r}")
        self.units = int(units)
        self._kernel_and_bias_options(activation, use_bias, kernel_initializer, bias_initializer,
                                      kernel_regularizer, bias_regularizer)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 2:
            raise ValueError(f"Layer '{self.name}' expected input of rank >= 2 (batch, features), "
                             f"received shape {shape_str(input_shape)}.")
        input_dim = input_shape[-1]
        self._add_kernel_and_bias((input_dim, self.units), self.units)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        x = self._as_input(x)
        self._ensure_built(x)
        input_dim = self.kernel.shape[0]
        if x.shape[-1] != input_dim:
            raise ValueError(f"Layer '{self.name}' expected input with last dimension {input_dim}, "
                             f"received shape {shape_str(x.shape)}.")
        z = x @ self.kernel
        if self.use_bias:
            z = z + self.bias
        a = self.activation.forward(z)
        self._cache = (x, z, a)
        return a

    def backward(self, dout):
        self._require_forward()
        x, z, a = self._cache
        da = self._check_dout(dout, a.shape)
        return self.backward_from_logits(self.activation.backward(z, a, da))

    @property
    def logits(self):
        """z = x W + b of the last forward pass (the input of the activation)."""
        self._require_forward()
        return self._cache[1]

    def backward_from_logits(self, dz):
        """The backward pass from dL/dz (skipping the activation): fills grads, returns dx.
        Used when the loss is computed from the logits, e.g. softmax + cross-entropy, where
        dL/dz = (p - y) / N directly."""
        self._require_forward()
        x, z, _ = self._cache
        dz = self._check_dout(dz, z.shape)
        x2 = x.reshape(-1, x.shape[-1])
        dz2 = dz.reshape(-1, dz.shape[-1])
        self.dkernel = x2.T @ dz2
        self.dbias = dz2.sum(axis=0) if self.use_bias else None
        self._set_kernel_and_bias_grads()
        return dz @ self.kernel.T

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation.name,
                **self._kernel_and_bias_config()}


class Activation(Layer):
    """Applies an activation function: ``y = f(x)``; no weights. As ``keras.layers.Activation``."""

    keras_class = "Activation"
    activation = ActivationAttribute()

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self._cache = None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        x = self._as_input(x, min_ndim=1)
        self._ensure_built(x)
        a = self.activation.forward(x)
        self._cache = (x, a)
        return a

    def backward(self, dout):
        self._require_forward()
        x, a = self._cache
        self.set_grads()
        return self.activation.backward(x, a, self._check_dout(dout, a.shape))

    def get_config(self):
        return {**super().get_config(), "activation": self.activation.name}


class Dropout(Layer):
    """Inverted dropout, as ``keras.layers.Dropout(rate)``.

    While training, each unit is kept with probability ``1 - rate`` and the kept ones are scaled by
    ``1 / (1 - rate)`` so that the expected output equals the input; at inference it is the identity.
    The mask of the last training call is kept in ``self.mask`` (backward multiplies by it).
    """

    keras_class = "Dropout"

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
        x = self._as_input(x, min_ndim=1)
        self._ensure_built(x)
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
