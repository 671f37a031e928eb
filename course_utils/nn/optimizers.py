"""SGD (with momentum and Nesterov), Adam (and AMSGrad), AdamW and RMSprop, with Keras's exact update rules and defaults.

An optimizer updates a list of weight arrays in place from their gradients:
``optimizer.apply_gradients(zip(grads, weights))``, as in Keras. Because the rules are the same
line for line, a NumPy model and a Keras model started from the same weights and fed the same
batches follow the same trajectory (checked in tests/test_trajectory.py).
"""
from __future__ import annotations

import numbers
import re
import sys

import numpy as np

from . import schedules


class IndexedRows(np.ndarray):
    """The gradient of a row lookup (``Embedding``'s dL/dE): the dense array (the rows of a repeated
    index summed) that also keeps every looked-up row's own gradient, ``indices`` (K,) and ``rows``
    (K, d), as TensorFlow's ``IndexedSlices``.

    Keras on TensorFlow receives an Embedding's gradient as IndexedSlices, and its optimizers square
    and clip those rows one by one: Adam's and RMSprop's second moment of a row looked up twice
    accumulates g1^2 + g2^2, not (g1 + g2)^2; clipnorm/global_clipnorm measure the rows' norm;
    clipvalue clips each row before they are summed. On JAX and PyTorch the gradient is dense.
    The optimizers here do the same per backend (``keras_uses_indexed_slices``). Any arithmetic on
    it gives a plain dense array, except adding zeros (a layer's absent regularization gradient).
    """

    def __new__(cls, dense, indices, rows):
        obj = np.asarray(dense).view(cls)
        obj.indices, obj.rows = np.asarray(indices), np.asarray(rows)
        return obj

    def __array_finalize__(self, obj):
        self.indices = self.rows = None   # computed from it: a plain dense gradient

    def __add__(self, other):
        if self.rows is not None and not np.any(other):
            return self
        return np.add(np.asarray(self), other)

    __radd__ = __add__

    def with_rows(self, rows):
        """The same indices with new rows (scaled, clipped, cast), the dense sum recomputed."""
        dense = np.zeros(self.shape, dtype=rows.dtype)
        np.add.at(dense, self.indices, rows)
        return IndexedRows(dense, self.indices, rows)


def keras_uses_indexed_slices():
    """Whether Keras's optimizers see an Embedding's gradient as IndexedSlices: on the TensorFlow
    backend (Keras's own choice of backend: the imported Keras, else KERAS_BACKEND, else
    ~/.keras/keras.json, else TensorFlow, its default)."""
    import json
    import os
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        return keras.backend.backend() == "tensorflow"
    name = os.environ.get("KERAS_BACKEND")
    config = os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")), "keras.json")
    if name is None and os.path.exists(config):
        try:
            with open(config) as f:
                name = json.load(f).get("backend")
        except (OSError, ValueError):
            name = None
    return (name or "tensorflow") == "tensorflow"


def _rows(g):
    """g's rows when Keras would see IndexedSlices, else None."""
    return g.rows if getattr(g, "rows", None) is not None and keras_uses_indexed_slices() else None


def squared(g):
    """g^2 as Keras's optimizers compute it: with IndexedSlices, each row squared, then summed."""
    rows = _rows(g)
    if rows is None:
        return np.square(g)
    out = np.zeros(g.shape, dtype=g.dtype)
    np.add.at(out, g.indices, np.square(rows))
    return out


def _sum_of_squares(g):
    rows = _rows(g)
    return np.sum(rows * rows) if rows is not None else np.sum(g * g)


def _scaled(g, scale):
    return g.with_rows(g.rows * scale) if _rows(g) is not None else g * scale


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


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_clip(name, value):
    if value is not None and (not _is_number(value) or not np.isfinite(value) or value <= 0):
        raise ValueError(f"`{name}` must be a positive number or None. Received: {name}={value!r}")
    return None if value is None else float(value)


class Optimizer:
    """What every optimizer shares, in Keras's order for one step (``apply_gradients``):

        1. clip the gradients (``clipnorm`` per gradient, or ``global_clipnorm`` over all, or ``clipvalue``)
        2. decoupled weight decay: w <- w - w * weight_decay * lr
        3. the optimizer's own ``update_step`` for each weight
        4. iterations += 1

    ``learning_rate`` is a positive number or a schedule (``course_utils.nn.schedules``) evaluated at
    ``iterations``, the number of steps already made, as Keras does.
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None):
        if isinstance(learning_rate, schedules.LearningRateSchedule) or (
                callable(learning_rate) and not _is_number(learning_rate)):
            self.learning_rate = learning_rate
        elif _is_number(learning_rate) and np.isfinite(learning_rate) and learning_rate > 0:
            self.learning_rate = float(learning_rate)
        else:
            raise ValueError(f"Argument `learning_rate` should be a positive float, or an instance of "
                             f"LearningRateSchedule (e.g. nn.ExponentialDecay), or a callable of the step. "
                             f"Received instead: learning_rate={learning_rate!r}")
        if weight_decay is not None and (not _is_number(weight_decay) or not np.isfinite(weight_decay)):
            raise ValueError(f"`weight_decay` must be a number or None. Received: weight_decay={weight_decay!r}")
        self.weight_decay = None if weight_decay is None else float(weight_decay)
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        if sum(v is not None for v in clips.values()) > 1:
            raise ValueError(f"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                             f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        self.clipnorm, self.clipvalue, self.global_clipnorm = (_check_clip(k, v) for k, v in clips.items())
        self.iterations = 0
        self._slots: dict[int, dict[str, np.ndarray]] = {}
        self._exclude_ids, self._exclude_pattern = set(), None

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Keep some weights out of the weight decay, as Keras's method of the same name: the arrays in
        ``var_list`` (by identity), and every weight whose name contains one of the strings of
        ``var_names`` (a regular expression search, as Keras's; e.g. ``["bias", "scale", "gamma"]``).
        Weights are named by ``apply_gradients(..., names=...)``: Keras's variable names, the short
        ones (``"kernel"``, ``"bias"``, ``"scale"``). Call it before the first step, as Keras requires."""
        if self.iterations:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the optimizer is built "
                             "(before its first step). Create a new optimizer and call it first.")
        self._exclude_ids = {id(v) for v in (var_list or [])}
        names = [str(n) for n in (var_names or [])]
        self._exclude_pattern = re.compile("|".join(sorted(set(names)))) if names else None

    def _use_weight_decay(self, weight, name=None):
        if id(weight) in self._exclude_ids:
            return False
        if self._exclude_pattern is not None:
            if name is None:
                raise ValueError("exclude_from_weight_decay(var_names=...) needs the weights' names: call "
                                 "apply_gradients(grads_and_vars, names=[...]) with one name per weight "
                                 "(Keras's short variable names: 'kernel', 'bias', 'scale', ...).")
            return self._exclude_pattern.search(name) is None
        return True

    def _slot(self, weight, name):
        slots = self._slots.setdefault(id(weight), {})
        if name not in slots:
            slots[name] = np.zeros_like(weight)
        return slots[name]

    def current_learning_rate(self):
        """The learning rate of the coming step, as Keras holds it: a schedule is evaluated at
        ``iterations`` (in float32); a constant sits in a float32 (floatx) variable."""
        if isinstance(self.learning_rate, schedules.LearningRateSchedule):
            return float(self.learning_rate(self.iterations))
        if callable(self.learning_rate):
            return float(self.learning_rate())
        return as_keras_learning_rate(self.learning_rate)

    def clip_gradients(self, grads):
        """Keras's gradient clipping: each g to norm <= clipnorm, or all g scaled together to global
        norm <= global_clipnorm, or each element to [-clipvalue, clipvalue]."""
        if self.clipnorm:
            c = self.clipnorm
            return [_scaled(g, c / max(np.sqrt(_sum_of_squares(g)), c)) for g in grads]
        if self.global_clipnorm:
            c = self.global_clipnorm
            norm = np.sqrt(sum(_sum_of_squares(g) for g in grads))
            scale = c * np.minimum(1.0 / norm, 1.0 / c) if norm > 0 else 1.0
            return [_scaled(g, scale) for g in grads]
        if self.clipvalue:
            v = self.clipvalue
            return [g.with_rows(np.clip(g.rows, -v, v)) if _rows(g) is not None else np.clip(g, -v, v)
                    for g in grads]
        return grads

    def apply_gradients(self, grads_and_vars, names=None):
        """Update each weight in place from its gradient; one step (``iterations`` += 1). ``names``:
        one name per weight, read by ``exclude_from_weight_decay(var_names=...)`` only."""
        pairs = list(grads_and_vars)
        names = [None] * len(pairs) if names is None else list(names)
        if len(names) != len(pairs):
            raise ValueError(f"apply_gradients received {len(pairs)} (gradient, weight) pairs and {len(names)} "
                             f"names; pass one name per weight, or no names.")
        grads = []
        for grad, weight in pairs:
            grad = np.asanyarray(grad)   # an IndexedRows keeps its rows
            if grad.shape != weight.shape:
                raise ValueError(f"Gradient of shape {grad.shape} does not match its weight of shape {weight.shape}.")
            if not np.all(np.isfinite(grad)):
                raise ValueError("A gradient contains NaN or inf; the training has diverged. "
                                 "Try a smaller learning rate.")
            if getattr(grad, "rows", None) is not None and grad.dtype != weight.dtype:
                grad = grad.with_rows(grad.rows.astype(weight.dtype))
            grads.append(grad.astype(weight.dtype, copy=False))
        grads = self.clip_gradients(grads)
        lr = self.current_learning_rate()
        if self.weight_decay:
            for weight, name in ((w, n) for (_, w), n in zip(pairs, names)):
                # decoupled weight decay, applied before the updates (Keras's order), except where excluded
                if self._use_weight_decay(weight, name):
                    weight -= weight * as_keras_float32(self.weight_decay) * lr
        for grad, (_, weight) in zip(grads, pairs):
            self.update_step(grad, weight, lr)
        self.iterations += 1

    def update_step(self, gradient, variable, learning_rate):
        raise NotImplementedError

    def get_config(self):
        config = {"learning_rate": self.learning_rate, "weight_decay": self.weight_decay}
        for key in ("clipnorm", "clipvalue", "global_clipnorm"):
            if getattr(self, key) is not None:
                config[key] = getattr(self, key)
        return config

    def to_keras(self):
        import keras
        config = self.get_config()
        if isinstance(config["learning_rate"], schedules.LearningRateSchedule):
            config["learning_rate"] = config["learning_rate"].to_keras()
        return getattr(keras.optimizers, type(self).__name__)(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self.get_config().items())})"


class SGD(Optimizer):
    """Gradient descent, optionally with momentum (Keras's form):

        plain:     w <- w - lr * g
        momentum:  m <- momentum * m - lr * g;   w <- w + m
        Nesterov:  m <- momentum * m - lr * g;   w <- w + momentum * m - lr * g
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm)
        if not _is_number(momentum) or not (0 <= momentum <= 1):
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: momentum={momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def update_step(self, g, w, lr):
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
        amsgrad only:  v_hat <- max(v_hat, v), and v_hat replaces v below
        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        w <- w - alpha * m / (sqrt(v) + epsilon)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.amsgrad = bool(amsgrad)

    def update_step(self, g, w, lr):
        t = self.iterations + 1
        m = self._slot(w, "m")
        v = self._slot(w, "v")
        beta_1_power = as_keras_float32(self.beta_1) ** t
        beta_2_power = as_keras_float32(self.beta_2) ** t
        alpha = lr * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        m += (g - m) * (1 - self.beta_1)
        v += (squared(g) - v) * (1 - self.beta_2)   # rows squared one by one on TF (IndexedRows)
        if self.amsgrad:
            v_hat = self._slot(w, "v_hat")
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        w -= (m * alpha) / (np.sqrt(v) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as Keras's AdamW: before each Adam step
    every weight shrinks by w <- w - w * weight_decay * lr (not through the gradient, so the decay is
    not rescaled by Adam's sqrt(v)). Keras's default weight_decay is 0.004."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay,
                         clipnorm, clipvalue, global_clipnorm)


class RMSprop(Optimizer):
    """RMSprop (Hinton), in Keras's form:

        v <- rho v + (1 - rho) g^2
        centered:  a <- rho a + (1 - rho) g;   denominator = v - a^2 + epsilon,  else  v + epsilon
        increment = lr g / sqrt(denominator)
        momentum > 0:  m <- momentum m + increment;  w <- w - m        else  w <- w - increment
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm)
        self.rho = float(rho)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.centered = bool(centered)

    def update_step(self, g, w, lr):
        rho = self.rho
        v = self._slot(w, "velocity")
        v[...] = rho * v + (1 - rho) * squared(g)
        if self.centered:
            a = self._slot(w, "average_gradient")
            a[...] = rho * a + (1 - rho) * g
            denominator = v - np.square(a) + self.epsilon
        else:
            denominator = v + self.epsilon
        increment = lr * g / np.sqrt(denominator)
        if self.momentum > 0:
            m = self._slot(w, "momentum")
            m[...] = self.momentum * m + increment
            w -= m
        else:
            w -= increment

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


def get(identifier):
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in OPTIMIZERS:
        return OPTIMIZERS[identifier.lower()]()
    raise ValueError(f"Unknown optimizer {identifier!r}. Expected one of {sorted(OPTIMIZERS)} or an Optimizer instance.")
