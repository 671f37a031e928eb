"""Losses with their gradients, matching Keras's values and its default reduction.

Keras's default reduction, ``"sum_over_batch_size"``, averages the per-example losses over the
batch (and over any other axes the per-example loss leaves). Each loss here has

- ``loss(y_true, y_pred) -> float``: the reduced value, as ``keras.losses.X()(y_true, y_pred)``;
- ``gradient(y_true, y_pred) -> dL/dy_pred``: same shape as ``y_pred``.

Probabilities are clipped to ``[eps, 1 - eps]`` with Keras's ``epsilon = 1e-7``, so the loss
stays finite when a prediction is exactly 0 or 1.
"""
from __future__ import annotations

import numpy as np

from .activations import sigmoid, softmax
from .base import shape_str

EPSILON = 1e-7


def _arrays(y_true, y_pred, name, same_shape=True):
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true)
    if not np.issubdtype(y_pred.dtype, np.floating):
        y_pred = y_pred.astype(np.float64)
    if same_shape and y_true.shape != y_pred.shape:
        if y_true.size == y_pred.size:
            hint = " (same number of elements: reshape y_true to y_pred's shape)"
        elif y_true.ndim == y_pred.ndim - 1:
            hint = (" (y_true looks like integer labels: one-hot encode them, or use "
                    "SparseCategoricalCrossentropy)")
        else:
            hint = ""
        raise ValueError(f"{name} expected y_true and y_pred of the same shape, received "
                         f"y_true {shape_str(y_true.shape)} and y_pred {shape_str(y_pred.shape)}{hint}.")
    if not np.all(np.isfinite(y_pred)):
        raise ValueError(f"{name} received non-finite predictions (NaN or inf); the model has diverged "
                         f"or its input contains NaN. Try a smaller learning rate.")
    return y_true.astype(y_pred.dtype), y_pred


def _batch_size(per_example):
    return max(per_example.size, 1)


class Loss:
    name = "loss"
    keras_class = None

    def __call__(self, y_true, y_pred):
        return self.loss(y_true, y_pred)

    def get_config(self):
        return {}

    def to_keras(self):
        import keras
        return getattr(keras.losses, self.keras_class)(**self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MeanSquaredError(Loss):
    """L = mean over batch and outputs of (y_pred - y_true)^2;  dL/dy_pred = 2 (y_pred - y_true) / n."""

    name = "mean_squared_error"
    keras_class = "MeanSquaredError"

    def loss(self, y_true, y_pred):
        y_true, y_pred = _arrays(y_true, y_pred, "MeanSquaredError")
        return float(np.mean(np.square(y_pred - y_true)))

    def gradient(self, y_true, y_pred):
        y_true, y_pred = _arrays(y_true, y_pred, "MeanSquaredError")
        return 2.0 * (y_pred - y_true) / y_pred.size


class BinaryCrossentropy(Loss):
    """L = -mean[y log p + (1 - y) log(1 - p)].

    From probabilities p (``from_logits=False``, p clipped to [eps, 1 - eps]):
        dL/dp = (p - y) / (p (1 - p)) / n      (0 where the clip is active)
    From logits z (p = sigmoid(z)), computed stably as max(z, 0) - z y + log(1 + exp(-|z|)):
        dL/dz = (sigmoid(z) - y) / n
    """

    name = "binary_crossentropy"
    keras_class = "BinaryCrossentropy"

    def __init__(self, from_logits=False):
        self.from_logits = bool(from_logits)

    def get_config(self):
        return {"from_logits": self.from_logits}

    def per_example(self, y_true, y_pred):
        y_true, y_pred = _arrays(y_true, y_pred, "BinaryCrossentropy")
        if self.from_logits:
            z = y_pred
            elementwise = np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))
        else:
            p = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
            elementwise = -(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p))
        return elementwise

    def loss(self, y_true, y_pred):
        return float(np.mean(self.per_example(y_true, y_pred)))

    def gradient(self, y_true, y_pred):
        y_true, y_pred = _arrays(y_true, y_pred, "BinaryCrossentropy")
        n = y_pred.size
        if self.from_logits:
            return (sigmoid(y_pred) - y_true) / n
        inside = (y_pred >= EPSILON) & (y_pred <= 1.0 - EPSILON)
        p = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
        return np.where(inside, (p - y_true) / (p * (1.0 - p)), 0.0) / n


class CategoricalCrossentropy(Loss):
    """L = -mean_n sum_k y_nk log p_nk for one-hot (or soft) targets y.

    From probabilities, Keras first renormalises p to sum to 1 along the last axis, then clips;
    the gradient includes that renormalisation:  dL/dp_k = (-y_k / q_k + sum_j y_j) / (s n)
    with s = sum_j p_j, q = p / s (terms where the clip is active are 0).
    From logits z:  L = -sum_k y_k log softmax(z)_k,  dL/dz = (softmax(z) sum_k y_k - y) / n.
    """

    name = "categorical_crossentropy"
    keras_class = "CategoricalCrossentropy"

    def __init__(self, from_logits=False):
        self.from_logits = bool(from_logits)

    def get_config(self):
        return {"from_logits": self.from_logits}

    def _log_q(self, y_pred):
        if self.from_logits:
            shifted = y_pred - np.max(y_pred, axis=-1, keepdims=True)
            return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
        s = np.sum(y_pred, axis=-1, keepdims=True)
        return np.log(np.clip(y_pred / s, EPSILON, 1.0 - EPSILON))

    def loss(self, y_true, y_pred):
        y_true, y_pred = _arrays(y_true, y_pred, "CategoricalCrossentropy")
        per_example = -np.sum(y_true * self._log_q(y_pred), axis=-1)
        return float(np.mean(per_example))

    def gradient(self, y_true, y_pred):
        y_true, y_pred = _arrays(y_true, y_pred, "CategoricalCrossentropy")
        n = max(y_pred.size // y_pred.shape[-1], 1)
        y_sum = np.sum(y_true, axis=-1, keepdims=True)
        if self.from_logits:
            return (softmax(y_pred) * y_sum - y_true) / n
        s = np.sum(y_pred, axis=-1, keepdims=True)
        q = y_pred / s
        inside = (q >= EPSILON) & (q <= 1.0 - EPSILON)
        dq = np.where(inside, -y_true / np.clip(q, EPSILON, 1.0), 0.0)   # dL/dq
        # q = p / s:  dL/dp_k = (dq_k - sum_j dq_j q_j) / s
        dp = (dq - np.sum(dq * q, axis=-1, keepdims=True)) / s
        return dp / n


class SparseCategoricalCrossentropy(Loss):
    """Categorical cross-entropy with integer class labels y (shape ``y_pred.shape[:-1]``, or with a
    trailing 1): L = -mean_n log p_{n, y_n}. Same gradients as CategoricalCrossentropy with
    one-hot targets."""

    name = "sparse_categorical_crossentropy"
    keras_class = "SparseCategoricalCrossentropy"

    def __init__(self, from_logits=False):
        self.from_logits = bool(from_logits)
        self._dense = CategoricalCrossentropy(from_logits=from_logits)

    def get_config(self):
        return {"from_logits": self.from_logits}

    def one_hot(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        y_true = np.asarray(y_true)
        if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
            y_true = y_true[..., 0]
        if y_true.shape != y_pred.shape[:-1]:
            raise ValueError(f"SparseCategoricalCrossentropy expected integer labels of shape "
                             f"{shape_str(y_pred.shape[:-1])} for predictions of shape {shape_str(y_pred.shape)}, "
                             f"received labels of shape {shape_str(y_true.shape)}. "
                             f"(One-hot labels go with CategoricalCrossentropy.)")
        if y_true.size and (np.any(y_true != np.round(y_true))):
            raise ValueError("SparseCategoricalCrossentropy expected integer class labels, received "
                             "non-integer values. (Probabilities go with CategoricalCrossentropy.)")
        labels = y_true.astype(np.int64)
        k = y_pred.shape[-1]
        if labels.size and (labels.min() < 0 or labels.max() >= k):
            raise ValueError(f"SparseCategoricalCrossentropy expected labels in [0, {k - 1}] for {k} classes, "
                             f"received labels from {labels.min()} to {labels.max()}.")
        return np.eye(k, dtype=np.float64)[labels]

    def loss(self, y_true, y_pred):
        return self._dense.loss(self.one_hot(y_true, y_pred), y_pred)

    def gradient(self, y_true, y_pred):
        return self._dense.gradient(self.one_hot(y_true, y_pred), y_pred)


LOSSES = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get(identifier):
    """A Loss from a name ("mse", "binary_crossentropy", ...) or a Loss instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in LOSSES:
        return LOSSES[identifier.lower()]()
    raise ValueError(f"Unknown loss {identifier!r}. Expected one of {sorted(LOSSES)} or a Loss instance.")
