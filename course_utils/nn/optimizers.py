"""SGD (with momentum and Nesterov) and Adam, with Keras's exact update rules and defaults.

An optimizer updates a list of weight arrays in place from their gradients:
``optimizer.apply_gradients(zip(grads, weights))``, as in Keras. Because the rules are the same
line for line, a NumPy model and a Keras model started from the same weights and fed the same
batches follow the same trajectory (checked in tests/test_trajectory.py).
"""
from __future__ import annotations

import sys

import numpy as np


def as_keras_float32(value):
    """A hyperparameter as Keras's TensorFlow backend uses it: Python floats such as momentum,
    beta_1 or weight_decay become float32 tensors before they are cast to the weights' dtype.
    Rounding them the same way (a change of ~1e-8) is what lets a float64 NumPy model follow a
    float64 Keras model to the last digits."""
    return float(np.float32(value))


def as_keras_learning_rate(value):
    """The learning rate as Keras holds it: in a variable of Keras's float type (``floatx``,
    float32 unless ``keras.config.set_floatx`` changed it; read only if Keras is already imported)."""
    keras = sys.modules.get("keras")
    floatx = "float32"
    if keras is not None:
        try:
            floatx = keras.config.floatx()
        except AttributeError:  # pragma: no cover - a partially imported Keras
            pass
    return float(np.dtype(floatx).type(value))


class Optimizer:
    def __init__(self, learning_rate, weight_decay=None):
        if not np.isfinite(learning_rate) or learning_rate <= 0:
            raise ValueError(f"learning_rate must be a positive number, received learning_rate={learning_rate!r}.")
        self.learning_rate = float(learning_rate)
        self.weight_decay = None if weight_decay is None else float(weight_decay)
        self.iterations = 0
        self._slots: dict[int, dict[str, np.ndarray]] = {}

    def _slot(self, weight, name):
        slots = self._slots.setdefault(id(weight), {})
        if name not in slots:
            slots[name] = np.zeros_like(weight)
        return slots[name]

    def apply_gradients(self, grads_and_vars):
        """Update each weight in place from its gradient; one step (``iterations`` += 1)."""
        pairs = list(grads_and_vars)
        for grad, weight in pairs:
            grad = np.asarray(grad)
            if grad.shape != weight.shape:
                raise ValueError(f"Gradient of shape {grad.shape} does not match its weight of shape {weight.shape}.")
            if not np.all(np.isfinite(grad)):
                raise ValueError("A gradient contains NaN or inf; the training has diverged. "
                                 "Try a smaller learning rate.")
            if self.weight_decay:
                # decoupled weight decay, applied before the update (Keras's order)
                weight -= weight * as_keras_float32(self.weight_decay) * as_keras_learning_rate(self.learning_rate)
            self.update_step(grad.astype(weight.dtype, copy=False), weight)
        self.iterations += 1

    def update_step(self, gradient, variable):
        raise NotImplementedError

    def get_config(self):
        return {"learning_rate": self.learning_rate, "weight_decay": self.weight_decay}

    def to_keras(self):
        import keras
        return getattr(keras.optimizers, type(self).__name__)(**self.get_config())

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self.get_config().items())})"


class SGD(Optimizer):
    """Gradient descent, optionally with momentum (Keras's form):

        plain:     w <- w - lr * g
        momentum:  m <- momentum * m - lr * g;   w <- w + m
        Nesterov:  m <- momentum * m - lr * g;   w <- w + momentum * m - lr * g
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        if not (0 <= momentum <= 1):
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: momentum={momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def update_step(self, g, w):
        lr = as_keras_learning_rate(self.learning_rate)
        if self.momentum != 0:
            momentum = as_keras_float32(self.momentum)
            m = self._slot(w, "momentum")
            m[...] = m * momentum - g * lr
            if self.nesterov:
                w += m * momentum - g * lr
            else:
                w += m
        else:
            w -= g * lr

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba), in Keras's form, with t = iterations + 1:

        m <- m + (g - m)(1 - beta_1)           v <- v + (g^2 - v)(1 - beta_2)
        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        w <- w - alpha * m / (sqrt(v) + epsilon)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)

    def update_step(self, g, w):
        t = self.iterations + 1
        m = self._slot(w, "m")
        v = self._slot(w, "v")
        lr = as_keras_learning_rate(self.learning_rate)
        beta_1_power = as_keras_float32(self.beta_1) ** t
        beta_2_power = as_keras_float32(self.beta_2) ** t
        alpha = lr * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        m += (g - m) * (1 - self.beta_1)
        v += (np.square(g) - v) * (1 - self.beta_2)
        w -= (m * alpha) / (np.sqrt(v) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get(identifier):
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in OPTIMIZERS:
        return OPTIMIZERS[identifier.lower()]()
    raise ValueError(f"Unknown optimizer {identifier!r}. Expected 'sgd', 'adam' or an Optimizer instance.")
