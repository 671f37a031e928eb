"""Activation functions and their derivatives, numerically stable, with Keras's names.

Each activation ``f`` maps the pre-activation ``z`` to ``a = f(z)``. Its backward pass is a
vector-Jacobian product: given ``da = dL/da`` it returns ``dz = dL/dz``. For the element-wise
ones that is ``da * f'(z)``; for softmax, whose outputs are coupled, it is
``a * (da - sum(da * a))`` along the last axis.

    >>> sigmoid(np.array([-1e4, 0.0, 1e4]))        # no overflow warning
    array([0. , 0.5, 1. ])
"""
from __future__ import annotations

import numpy as np


def linear(z):
    """f(z) = z."""
    return np.asarray(z)


def linear_derivative(z):
    """f'(z) = 1."""
    return np.ones_like(z)


def step(z):
    """Heaviside step, the perceptron's activation: 1 where z >= 0, else 0 (Keras has none)."""
    z = np.asarray(z)
    return (z >= 0).astype(z.dtype if np.issubdtype(z.dtype, np.floating) else np.float64)


def step_derivative(z):
    """f'(z) = 0 wherever it exists: no gradient flows through a step, which is why the
    perceptron needs its own learning rule."""
    return np.zeros_like(np.asarray(z, dtype=np.float64))


def sigmoid(z):
    """f(z) = 1 / (1 + exp(-z)), computed without overflow for large |z|."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_derivative(z):
    """f'(z) = f(z) (1 - f(z))."""
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z):
    """f(z) = (e^z - e^-z) / (e^z + e^-z)."""
    return np.tanh(z)


def tanh_derivative(z):
    """f'(z) = 1 - tanh(z)^2."""
    t = np.tanh(z)
    return 1.0 - t * t


def relu(z):
    """f(z) = max(0, z)."""
    z = np.asarray(z)
    return np.maximum(z, 0)


def relu_derivative(z):
    """f'(z) = 1 where z > 0, else 0 (0 at z = 0, as TensorFlow takes it)."""
    z = np.asarray(z)
    return (z > 0).astype(z.dtype if np.issubdtype(z.dtype, np.floating) else np.float64)


def softmax(z, axis=-1):
    """f(z)_k = exp(z_k) / sum_j exp(z_j), along ``axis``; the max is subtracted first so that
    nothing overflows (softmax is unchanged by a shift)."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    shifted = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_jacobian(z):
    """The Jacobian da/dz of softmax for one vector z of length K: diag(a) - a a^T, shape (K, K)."""
    a = softmax(np.asarray(z).reshape(-1))
    return np.diag(a) - np.outer(a, a)


def softmax_vjp(a, da, axis=-1):
    """dL/dz from dL/da for a = softmax(z): a * (da - sum(da * a)) along ``axis``."""
    return a * (da - np.sum(da * a, axis=axis, keepdims=True))


class Activation:
    """An activation with its backward pass: ``forward(z) -> a``, ``backward(z, a, da) -> dz``."""

    def __init__(self, name, function, derivative=None, vjp=None, keras_name=None):
        self.name = name
        self.function = function
        self.derivative = derivative
        self._vjp = vjp
        self.keras_name = keras_name

    def __call__(self, z):
        return self.function(z)

    def forward(self, z):
        return self.function(z)

    def backward(self, z, a, da):
        """dL/dz given the pre-activation z, the activation a = f(z) and dL/da."""
        if self._vjp is not None:
            return self._vjp(a, da)
        return da * self.derivative(z)

    def __repr__(self):
        return f"<Activation '{self.name}'>"


ACTIVATIONS = {
    "linear": Activation("linear", linear, linear_derivative, vjp=lambda a, da: da, keras_name="linear"),
    "step": Activation("step", step, step_derivative, keras_name=None),
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_derivative,
                          vjp=lambda a, da: da * a * (1.0 - a), keras_name="sigmoid"),
    "tanh": Activation("tanh", tanh, tanh_derivative,
                       vjp=lambda a, da: da * (1.0 - a * a), keras_name="tanh"),
    "relu": Activation("relu", relu, relu_derivative, keras_name="relu"),
    "softmax": Activation("softmax", softmax, None, vjp=softmax_vjp, keras_name="softmax"),
}


def get(identifier):
    """The Activation for a name (``"relu"``), ``None`` (linear) or an Activation (returned as is)."""
    if identifier is None:
        return ACTIVATIONS["linear"]
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ACTIVATIONS:
            return ACTIVATIONS[key]
        raise ValueError(f"Unknown activation '{identifier}'. "
                         f"Expected one of {sorted(ACTIVATIONS)} or None (linear).")
    raise TypeError(f"activation must be a name such as 'relu', None or an Activation; "
                    f"received {type(identifier).__name__}: {identifier!r}.")


def serialize(activation):
    return get(activation).name
