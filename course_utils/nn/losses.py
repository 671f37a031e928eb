"""Losses with their gradients, matching Keras's values and its default reduction.

Each loss first computes a per-sample loss l_i (the last axis reduced, as Keras's loss functions
do), then Keras's ``reduction`` (an argument of every loss), with optional sample weights w_i:

    "sum_over_batch_size" (default), "mean":  L = sum_i w_i l_i / N    (N = the number of per-sample
                                                                         losses, whatever the weights)
    "sum":                                    L = sum_i w_i l_i
    "mean_with_sample_weight":                L = sum_i w_i l_i / sum_i w_i   (/ N without weights)
    "none" (or None):                         the array w_i l_i, unreduced

Each loss here has

- ``loss(y_true, y_pred, sample_weight=None) -> float``: as ``keras.losses.X()(y_true, y_pred, sample_weight)``;
- ``gradient(y_true, y_pred, sample_weight=None) -> dL/dy_pred``: same shape as ``y_pred``,
  w_i dl_i/dy_pred / N (the divisor of the reduction; with "none", the gradient of sum_i w_i l_i,
  as a GradientTape differentiates a non-scalar loss).

Probabilities are clipped to ``[eps, 1 - eps]`` with Keras's ``epsilon = 1e-7``, so the loss
stays finite when a prediction is exactly 0 or 1.
"""
from __future__ import annotations

import numpy as np

from .activations import sigmoid, softmax
from .shapes import shape_str

EPSILON = 1e-7
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"Invalid value for argument `reduction`. Expected one of {set(REDUCTIONS)}. "
                         f"Received: reduction={reduction!r}")
    return reduction


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


def _sample_weight(sample_weight, per_sample_shape, dtype):
    """Sample weights broadcast to the per-sample losses' shape (Keras squeezes a trailing 1)."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=dtype)
    if w.ndim == len(per_sample_shape) + 1 and w.shape[-1] == 1:
        w = w[..., 0]
    while w.ndim < len(per_sample_shape):
        w = w[..., None]
    try:
        return np.broadcast_to(w, per_sample_shape)
    except ValueError:
        raise ValueError(f"sample_weight of shape {shape_str(np.shape(sample_weight))} does not match the "
                         f"per-sample losses of shape {shape_str(per_sample_shape)}: pass one weight per "
                         f"sample.") from None


class Loss:
    """Subclasses define ``per_sample(y_true, y_pred) -> l`` (shape ``y_pred.shape[:-1]``) and
    ``per_sample_gradient(y_true, y_pred) -> dl/dy_pred`` (shape of y_pred); the reduction is here."""

    name = "loss"
    keras_class = None
    reduction = "sum_over_batch_size"   # Keras's default (a subclass without __init__ takes it from here)

    def __init__(self, reduction="sum_over_batch_size"):
        self.reduction = _check_reduction(reduction)

    def __call__(self, y_true, y_pred, sample_weight=None):
        return self.loss(y_true, y_pred, sample_weight)

    def _prepare(self, y_true, y_pred):
        return _arrays(y_true, y_pred, type(self).__name__)

    def loss(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = self._prepare(y_true, y_pred)
        per_sample = self.per_sample(y_true, y_pred)
        w = _sample_weight(sample_weight, per_sample.shape, per_sample.dtype)
        if w is not None:
            per_sample = per_sample * w
        if self.reduction in ("none", None):
            return per_sample
        return float(np.sum(per_sample) / self._divisor(per_sample.size, sample_weight))

    def _divisor(self, n, sample_weight):
        """What the reduction divides the weighted sum by (1 for "sum" and "none"); a zero divisor
        gives a zero loss, as Keras's divide_no_nan."""
        if self.reduction in ("sum", "none", None):
            return 1.0
        if self.reduction == "mean_with_sample_weight" and sample_weight is not None:
            total = float(np.sum(sample_weight))
        else:
            total = float(n)
        return total if total != 0 else np.inf

    def gradient(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = self._prepare(y_true, y_pred)
        grad = self.per_sample_gradient(y_true, y_pred)
        n = int(np.prod(self._per_sample_shape(y_pred)))
        w = _sample_weight(sample_weight, self._per_sample_shape(y_pred), grad.dtype)
        if w is not None:
            grad = grad * w[..., None]
        return grad / self._divisor(n, sample_weight)

    def _per_sample_shape(self, y_pred):
        return y_pred.shape[:-1]

    def get_config(self):
        return {"reduction": self.reduction}

    def to_keras(self):
        import keras
        return getattr(keras.losses, self.keras_class)(**self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _check_label_smoothing(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"label_smoothing must be a number in [0, 1], received label_smoothing={value!r}.")
    return float(value)


class MeanSquaredError(Loss):
    """l_i = mean_k (y_pred - y_true)^2;  dl_i/dy_pred = 2 (y_pred - y_true) / K."""

    name = "mean_squared_error"
    keras_class = "MeanSquaredError"

    def per_sample(self, y_true, y_pred):
        return np.mean(np.square(y_pred - y_true), axis=-1)

    def per_sample_gradient(self, y_true, y_pred):
        return 2.0 * (y_pred - y_true) / y_pred.shape[-1]


class MeanAbsoluteError(Loss):
    """l_i = mean_k |y_pred - y_true|;  dl_i/dy_pred = sign(y_pred - y_true) / K (0 where equal)."""

    name = "mean_absolute_error"
    keras_class = "MeanAbsoluteError"

    def per_sample(self, y_true, y_pred):
        return np.mean(np.abs(y_pred - y_true), axis=-1)

    def per_sample_gradient(self, y_true, y_pred):
        return np.sign(y_pred - y_true) / y_pred.shape[-1]


class Huber(Loss):
    """With e = y_pred - y_true: quadratic near 0, linear beyond ``delta`` (robust to outliers):

        l_i = mean_k [ e^2 / 2              if |e| <= delta
                       delta |e| - delta^2 / 2  otherwise ]
        dl_i/dy_pred = (e if |e| <= delta else delta sign(e)) / K
    """

    name = "huber_loss"
    keras_class = "Huber"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size"):
        super().__init__(reduction)
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta >= 0:
            raise ValueError(f"Huber expected delta >= 0, received delta={delta!r}.")
        self.delta = float(delta)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}

    def per_sample(self, y_true, y_pred):
        e = y_pred - y_true
        quadratic = 0.5 * np.square(e)
        linear = self.delta * np.abs(e) - 0.5 * self.delta ** 2
        return np.mean(np.where(np.abs(e) <= self.delta, quadratic, linear), axis=-1)

    def per_sample_gradient(self, y_true, y_pred):
        e = y_pred - y_true
        return np.where(np.abs(e) <= self.delta, e, self.delta * np.sign(e)) / y_pred.shape[-1]


class KLDivergence(Loss):
    """Kullback-Leibler divergence of y_pred from the distribution y_true, both clipped to [eps, 1]
    (Keras's clip; values are not renormalised):

        l_i = sum_k t_k log(t_k / q_k),  t = clip(y_true), q = clip(y_pred)
        dl_i/dy_pred = -t / q   (0 where y_pred is outside [eps, 1], as the clip's gradient)
    """

    name = "kl_divergence"
    keras_class = "KLDivergence"

    def per_sample(self, y_true, y_pred):
        t = np.clip(y_true, EPSILON, 1.0)
        q = np.clip(y_pred, EPSILON, 1.0)
        return np.sum(t * np.log(t / q), axis=-1)

    def per_sample_gradient(self, y_true, y_pred):
        t = np.clip(y_true, EPSILON, 1.0)
        inside = (y_pred >= EPSILON) & (y_pred <= 1.0)
        return np.where(inside, -t / np.clip(y_pred, EPSILON, 1.0), 0.0)


class _SmoothedCrossentropy(Loss):
    """The arguments the binary and categorical cross-entropies share, as Keras's."""

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size"):
        super().__init__(reduction)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _check_label_smoothing(label_smoothing)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class BinaryCrossentropy(_SmoothedCrossentropy):
    """l_i = -mean_k [y log p + (1 - y) log(1 - p)], with y smoothed first to
    y (1 - label_smoothing) + label_smoothing / 2.

    From probabilities p (``from_logits=False``, p clipped to [eps, 1 - eps]):
        dl_i/dp = (p - y) / (p (1 - p)) / K      (0 where the clip is active)
    From logits z (p = sigmoid(z)), computed stably as max(z, 0) - z y + log(1 + exp(-|z|)):
        dl_i/dz = (sigmoid(z) - y) / K
    """

    name = "binary_crossentropy"
    keras_class = "BinaryCrossentropy"

    def _prepare(self, y_true, y_pred):
        y_true, y_pred = _arrays(y_true, y_pred, "BinaryCrossentropy")
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        return y_true, y_pred

    def elementwise(self, y_true, y_pred):
        if self.from_logits:
            z = y_pred
            return np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))
        p = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
        return -(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p))

    def per_sample(self, y_true, y_pred):
        return np.mean(self.elementwise(y_true, y_pred), axis=-1)

    def per_sample_gradient(self, y_true, y_pred):
        k = y_pred.shape[-1]
        if self.from_logits:
            return (sigmoid(y_pred) - y_true) / k
        inside = (y_pred >= EPSILON) & (y_pred <= 1.0 - EPSILON)
        p = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
        return np.where(inside, (p - y_true) / (p * (1.0 - p)), 0.0) / k


class CategoricalCrossentropy(_SmoothedCrossentropy):
    """l_i = -sum_k y_k log p_k for one-hot (or soft) targets y, smoothed first to
    y (1 - label_smoothing) + label_smoothing / K.

    From probabilities, Keras first renormalises p to sum to 1 along the last axis, then clips;
    the gradient includes that renormalisation:  dl_i/dp_k = (dq_k - sum_j dq_j q_j) / s
    with s = sum_j p_j, q = p / s, dq = -y / q (0 where the clip of q is active).
    From logits z:  l_i = -sum_k y_k log softmax(z)_k,  dl_i/dz = softmax(z) sum_k y_k - y.
    """

    name = "categorical_crossentropy"
    keras_class = "CategoricalCrossentropy"

    def _prepare(self, y_true, y_pred):
        y_true, y_pred = _arrays(y_true, y_pred, type(self).__name__)
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / y_true.shape[-1]
        return y_true, y_pred

    def _log_q(self, y_pred):
        if self.from_logits:
            shifted = y_pred - np.max(y_pred, axis=-1, keepdims=True)
            return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
        s = np.sum(y_pred, axis=-1, keepdims=True)
        return np.log(np.clip(y_pred / s, EPSILON, 1.0 - EPSILON))

    def per_sample(self, y_true, y_pred):
        return -np.sum(y_true * self._log_q(y_pred), axis=-1)

    def per_sample_gradient(self, y_true, y_pred):
        y_sum = np.sum(y_true, axis=-1, keepdims=True)
        if self.from_logits:
            return softmax(y_pred) * y_sum - y_true
        s = np.sum(y_pred, axis=-1, keepdims=True)
        q = y_pred / s
        inside = (q >= EPSILON) & (q <= 1.0 - EPSILON)
        dq = np.where(inside, -y_true / np.clip(q, EPSILON, 1.0), 0.0)   # dl/dq
        # q = p / s:  dl/dp_k = (dq_k - sum_j dq_j q_j) / s
        return (dq - np.sum(dq * q, axis=-1, keepdims=True)) / s


class SparseCategoricalCrossentropy(Loss):
    """Categorical cross-entropy with integer class labels y (shape ``y_pred.shape[:-1]``, or with a
    trailing 1). Keras does not renormalise here (unlike CategoricalCrossentropy): it clips p to
    c = clip(p, eps, 1 - eps) and feeds log c as logits to a softmax cross-entropy, so

        l_i = -log c_y + log sum_k c_k
        dl_i/dp_k = (c_k / sum_j c_j - [k = y]) / p_k   (0 where the clip is active)

    From logits z: l_i = -log softmax(z)_y, dl_i/dz = softmax(z) - onehot(y).
    (Keras has no label_smoothing for the sparse loss.)
    """

    name = "sparse_categorical_crossentropy"
    keras_class = "SparseCategoricalCrossentropy"

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size"):
        super().__init__(reduction)
        self.from_logits = bool(from_logits)
        if ignore_class is not None and (isinstance(ignore_class, bool) or not float(ignore_class).is_integer()):
            raise ValueError(f"`ignore_class` must be an integer class id (e.g. -1 for padding) or None. "
                             f"Received: ignore_class={ignore_class!r}")
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        self._dense = CategoricalCrossentropy(from_logits=True)

    def get_config(self):
        config = {**super().get_config(), "from_logits": self.from_logits}
        if self.ignore_class is not None:
            config["ignore_class"] = self.ignore_class
        return config

    def _ignoring(self, y_true, y_pred, sample_weight):
        """ignore_class as Keras: the ignored labels become class 0 and their predictions 0, their losses
        are masked out, and the mean runs over the other labels only (mask weight total / valid, 0 when
        none is valid)."""
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        valid = y_true != self.ignore_class
        y_true = np.where(valid, y_true, 0)
        if valid.ndim == y_pred.ndim:           # labels with a trailing 1
            valid = valid[..., 0]
        y_pred = np.where(valid[..., None], y_pred, 0.0)
        n_valid = int(valid.sum())
        if getattr(self, "reduction", "sum_over_batch_size") in ("mean", "sum_over_batch_size"):
            mask_weight = np.where(valid, valid.size / n_valid if n_valid else 0.0, 0.0)
        else:
            mask_weight = valid.astype(np.float64)
        if sample_weight is not None:
            mask_weight = mask_weight * _sample_weight(sample_weight, valid.shape, np.float64)
        return y_true, y_pred, mask_weight

    def loss(self, y_true, y_pred, sample_weight=None):
        if self.ignore_class is not None:
            y_true, y_pred, sample_weight = self._ignoring(y_true, y_pred, sample_weight)
        return super().loss(y_true, y_pred, sample_weight)

    def gradient(self, y_true, y_pred, sample_weight=None):
        if self.ignore_class is not None:
            y_true, y_pred, sample_weight = self._ignoring(y_true, y_pred, sample_weight)
        return super().gradient(y_true, y_pred, sample_weight)

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

    def _prepare(self, y_true, y_pred):
        one_hot = self.one_hot(y_true, y_pred)
        return _arrays(one_hot, y_pred, "SparseCategoricalCrossentropy")

    def _logits(self, y_pred):
        return y_pred if self.from_logits else np.log(np.clip(y_pred, EPSILON, 1.0 - EPSILON))

    def per_sample(self, y_true, y_pred):
        return self._dense.per_sample(y_true, self._logits(y_pred))

    def per_sample_gradient(self, y_true, y_pred):
        dz = self._dense.per_sample_gradient(y_true, self._logits(y_pred))
        if self.from_logits:
            return dz
        inside = (y_pred >= EPSILON) & (y_pred <= 1.0 - EPSILON)
        return np.where(inside, dz / np.clip(y_pred, EPSILON, 1.0), 0.0)    # z = log p


LOSSES = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber,
    "kld": KLDivergence, "kl_divergence": KLDivergence,
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
