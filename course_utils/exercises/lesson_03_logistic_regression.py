"""Exercises of lesson 03_logistic_regression: the model p = sigmoid(X w + b), its loss, its gradient
and gradient descent (full batch and mini-batch).

    predict_proba(X, w, b)                       p = sigmoid(X w + b)
    bce_loss(y, p)                               -mean[y log p + (1 - y) log(1 - p)], p clipped to [eps, 1 - eps]
    bce_gradient(X, y, w, b)                     dw = X^T (p - y) / N,  db = mean(p - y)
    gradient_descent(X, y, w, b, lr, steps)      full batch; losses[k] = the loss before step k
    minibatch_gradient_descent(X, y, w, b, lr, epochs, batch_size)
                                                 batches X[0:B], X[B:2B], ... in order, the last one
                                                 possibly smaller; losses[k] = batch loss before step k

Shapes: X ``(N, d)``, y ``(N,)`` of 0/1, w ``(d,)``, b a number, p ``(N,)``.
"""
import numpy as np

from ..nn import activations
from ..nn.losses import EPSILON, BinaryCrossentropy
from . import Case, Exercise


def _sigmoid(z):
    return activations.sigmoid(np.asarray(z, dtype=np.float64))


# rows whose z = x . w + b reaches about -1000 and +1000 with weights in the hundreds
_EXTREME_X = np.array([[-1.0, 0.5], [1.0, -0.3], [-0.5, 1.0], [0.8, 0.2], [-1.2, -0.1], [0.3, 0.9], [-0.9, 0.4]])
_EXTREME_Y = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0])


def _problem(rng, n, d, scale=1.0):
    """A small logistic-regression problem: X (n, d), y (n,) drawn from a random logistic model,
    and a starting point w (d,), b."""
    X = rng.normal(size=(n, d))
    w_true = rng.normal(scale=scale, size=d)
    y = (rng.random(n) < _sigmoid(X @ w_true + 0.3)).astype(np.float64)
    return X, y, rng.normal(scale=0.1, size=d), float(np.round(rng.normal(scale=0.1), 3))


# ---------------------------------------------------------------------- predict_proba
def predict_proba(X, w, b):
    """p = sigmoid(X w + b): the probability of class 1. X (N, d), w (d,), b -> p (N,)."""
    return _sigmoid(np.asarray(X, dtype=np.float64) @ w + b)


def _proba_cases(rng):
    return [Case((rng.normal(size=(5, 3)), rng.normal(size=3), 0.5), label="a batch of 5"),
            Case((rng.normal(size=(4, 2)), np.array([30.0, -30.0]), -2.0), label="large |z|"),
            Case((rng.normal(size=(7, 4)), rng.normal(size=4), -1.0), label="a batch of 7"),
            Case((_EXTREME_X[:6], np.array([900.0, -700.0]), 0.5), strict_fp=True,
                 label="|z| in the hundreds: exp must not overflow (run under np.errstate(over='raise'))")]


Exercise("03_logistic_regression.predict_proba", reference=predict_proba, cases=_proba_cases,
         mistakes={"the bias b is missing: p = sigmoid(X @ w + b)": lambda X, w, b: _sigmoid(X @ w),
                   "this is sigmoid(-z) = 1 - p, the probability of class 0; check the sign in exp(-z)":
                       lambda X, w, b: _sigmoid(-(X @ w + b)),
                   "this is the logit z; the probability is sigmoid(z)": lambda X, w, b: X @ w + b},
         title="the logistic model's probabilities p = sigmoid(X w + b)")


# ---------------------------------------------------------------------- bce_loss
def bce_loss(y, p):
    """Binary cross-entropy, the mean over the batch, with p clipped to [1e-7, 1 - 1e-7] as Keras does.
    y (N,) of 0/1, p (N,) -> a number."""
    return BinaryCrossentropy().loss(np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64))


def _bce_cases(rng):
    return [Case((np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.9, 0.2, 0.6, 0.4])), label="four predictions"),
            Case((rng.integers(0, 2, size=10).astype(float), rng.uniform(0.05, 0.95, size=10)), label="a batch of 10"),
            Case((np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.0, 1.0, 0.5, 0.5])),
                 label="p exactly 0 and 1, and wrong: clip to [1e-7, 1 - 1e-7]"),
            Case((np.array([1.0, 0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.7, 0.3])),
                 label="p exactly 1 and 0, and right: clip to [1e-7, 1 - 1e-7]"),
            Case((np.array([1.0, 0.0, 1.0]), np.array([1e-5, 1 - 1e-5, 0.5])),
                 label="p = 1e-5 for a positive, 1 - 1e-5 for a negative: inside the clip range the loss is "
                       "log(p) itself (clip, do not add an epsilon: log(p + 1e-7) is off by 1e-7 / p)")]


def _quiet(f):
    """A wrong implementation run without NumPy's log(0) warnings."""
    def run(*args):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return f(*args)
    return run


def _clip(p):
    return np.clip(p, EPSILON, 1 - EPSILON)


Exercise("03_logistic_regression.bce_loss", reference=bce_loss, cases=_bce_cases,
         mistakes={"the minus sign is missing: the loss is MINUS the mean log-likelihood, so that it is >= 0":
                       lambda y, p: np.mean(y * np.log(_clip(p)) + (1 - y) * np.log(1 - _clip(p))),
                   "this is the sum over the batch; Keras (and this course) takes the mean":
                       lambda y, p: -np.sum(y * np.log(_clip(p)) + (1 - y) * np.log(1 - _clip(p))),
                   "the (1 - y) log(1 - p) term is missing: the examples of class 0 count too":
                       lambda y, p: -np.mean(y * np.log(_clip(p))),
                   "p is not clipped: log(0) = -inf; clip p to [1e-7, 1 - 1e-7] first (np.clip)":
                       _quiet(lambda y, p: -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))},
         stable_hint="clip p to [1e-7, 1 - 1e-7] before taking logs (np.clip(p, 1e-7, 1 - 1e-7)), as Keras does",
         title="the binary cross-entropy, mean over the batch, with Keras's clipping")


# ---------------------------------------------------------------------- bce_gradient
def bce_gradient(X, y, w, b):
    """The gradient of bce_loss(y, sigmoid(X w + b)) with respect to w and b:
        dw = X^T (p - y) / N,   db = mean(p - y).
    X (N, d), y (N,), w (d,), b -> (dw (d,), db a number)."""
    X = np.asarray(X, dtype=np.float64)
    dz = (predict_proba(X, w, b) - y) / len(y)      # dL/dz_i = (p_i - y_i) / N
    return X.T @ dz, float(np.sum(dz))


def _gradient_cases(rng):
    return [Case(_problem(rng, 8, 3), label="8 examples, 3 features"),
            Case(_problem(rng, 20, 5), label="20 examples, 5 features"),
            Case(_problem(rng, 5, 2, scale=3.0), label="5 examples, 2 features"),
            Case(_problem(rng, 7, 3)[:2] + (np.array([800.0, -600.0, 500.0]), 1.0), strict_fp=True,
                 label="weights in the hundreds (|z| ~ 1000): the sigmoid must not overflow (run under np.errstate(over='raise'))")]


def _p(X, w, b):
    return _sigmoid(X @ w + b)


Exercise("03_logistic_regression.bce_gradient", reference=bce_gradient, cases=_gradient_cases,
         mistakes={"the sign is wrong: dL/dz = p - y (not y - p), so that the gradient points uphill and "
                   "a step against it lowers the loss":
                       lambda X, y, w, b: (X.T @ (y - _p(X, w, b)) / len(y), float(np.mean(y - _p(X, w, b)))),
                   "this is the sum over the batch; the loss is a mean, so divide by N":
                       lambda X, y, w, b: (X.T @ (_p(X, w, b) - y), float(np.sum(_p(X, w, b) - y))),
                   "the sigmoid is missing: the error is p - y with p = sigmoid(z), not z - y":
                       lambda X, y, w, b: (X.T @ (X @ w + b - y) / len(y), float(np.mean(X @ w + b - y))),
                   "the sigmoid's derivative is multiplied in again: for the cross-entropy it cancels, "
                   "dL/dz = (p - y) / N":
                       lambda X, y, w, b: (X.T @ ((_p(X, w, b) - y) * _p(X, w, b) * (1 - _p(X, w, b))) / len(y),
                                           float(np.mean((_p(X, w, b) - y) * _p(X, w, b) * (1 - _p(X, w, b)))))},
         output_names=("dw", "db"),
         title="the gradient of the cross-entropy of the logistic model")


# ---------------------------------------------------------------------- gradient_descent
def gradient_descent(X, y, w, b, lr, steps):
    """Full-batch gradient descent from (w, b): each step w <- w - lr dw, b <- b - lr db.
    losses[k] is the loss *before* step k (what Keras's train_on_batch returns).
    Returns (w (d,), b, losses (steps,)); the inputs are not changed."""
    losses = []
    for _ in range(steps):
        losses.append(bce_loss(y, predict_proba(X, w, b)))
        dw, db = bce_gradient(X, y, w, b)
        w, b = w - lr * dw, b - lr * db
    return w, b, np.array(losses)


def _gd_mistake(ascent=False, loss_after=False, frozen_bias=False):
    """gradient_descent with one slip: the step goes uphill, the loss is recorded after the step, or
    the bias is never updated."""
    sign = 1.0 if ascent else -1.0

    def run(X, y, w, b, lr, steps):
        losses = []
        for _ in range(steps):
            if not loss_after:
                losses.append(bce_loss(y, predict_proba(X, w, b)))
            dw, db = bce_gradient(X, y, w, b)
            w = w + sign * lr * dw
            if not frozen_bias:
                b = b + sign * lr * db
            if loss_after:
                losses.append(bce_loss(y, predict_proba(X, w, b)))
        return w, b, np.array(losses)
    return run


def _gd_cases(rng):
    return [Case(_problem(rng, 12, 3) + (0.5, 5), label="12 examples, lr = 0.5, 5 steps"),
            Case(_problem(rng, 30, 4) + (0.1, 20), label="30 examples, lr = 0.1, 20 steps"),
            Case(_problem(rng, 8, 2)[:2] + (np.array([900.0, -800.0]), 0.0, 0.05, 3), strict_fp=True,
                 label="a starting point with |z| ~ 1000: the sigmoid must not overflow (run under np.errstate(over='raise'))")]


Exercise("03_logistic_regression.gradient_descent", reference=gradient_descent, cases=_gd_cases,
         mistakes={"the step goes uphill: w <- w - lr * dw (minus: against the gradient)": _gd_mistake(ascent=True),
                   "the losses are recorded after each step; record the loss before the step, as Keras's "
                   "train_on_batch does (the first value is the loss at the starting point)": _gd_mistake(loss_after=True),
                   "the bias is never updated: b <- b - lr * db": _gd_mistake(frozen_bias=True)},
         output_names=("w", "b", "losses"),
         title="full-batch gradient descent")


# ---------------------------------------------------------------------- minibatch_gradient_descent
def minibatch_gradient_descent(X, y, w, b, lr, epochs, batch_size):
    """Mini-batch gradient descent without shuffling (Keras's fit(..., shuffle=False)): each epoch takes
    the batches X[0:B], X[B:2B], ... in order, the last one smaller when B does not divide N, and makes
    one step per batch with the batch's gradient. losses[k] = the batch's loss before step k.
    Returns (w (d,), b, losses (epochs * ceil(N / B),))."""
    losses = []
    for _ in range(epochs):
        for start in range(0, len(y), batch_size):
            X_batch, y_batch = X[start:start + batch_size], y[start:start + batch_size]
            losses.append(bce_loss(y_batch, predict_proba(X_batch, w, b)))
            dw, db = bce_gradient(X_batch, y_batch, w, b)
            w, b = w - lr * dw, b - lr * db
    return w, b, np.array(losses)


def _mb_mistake(drop_last=False, full_gradient=False, full_loss=False):
    """minibatch_gradient_descent with one slip: the short last batch dropped, the step taken with the
    full-data gradient, or the full-data loss recorded."""
    def run(X, y, w, b, lr, epochs, batch_size):
        losses = []
        stop = len(y) - batch_size + 1 if drop_last else len(y)
        for _ in range(epochs):
            for start in range(0, stop, batch_size):
                X_batch, y_batch = X[start:start + batch_size], y[start:start + batch_size]
                X_loss, y_loss = (X, y) if full_loss else (X_batch, y_batch)
                losses.append(bce_loss(y_loss, predict_proba(X_loss, w, b)))
                X_grad, y_grad = (X, y) if full_gradient else (X_batch, y_batch)
                dw, db = bce_gradient(X_grad, y_grad, w, b)
                w, b = w - lr * dw, b - lr * db
        return w, b, np.array(losses)
    return run


def _mb_cases(rng):
    return [Case(_problem(rng, 10, 3) + (0.5, 2, 4), label="N = 10, batches of 4 (the last has 2), 2 epochs"),
            Case(_problem(rng, 12, 2) + (0.2, 3, 1), label="N = 12, batches of 1 (stochastic), 3 epochs"),
            Case(_problem(rng, 9, 3) + (0.5, 2, 9), label="N = 9, one batch of 9 (full batch), 2 epochs"),
            Case((_EXTREME_X, _EXTREME_Y, np.array([900.0, -800.0]), 0.0, 0.05, 2, 3), strict_fp=True,
                 label="a starting point with |z| ~ 1000, batches of 3: no overflow (run under np.errstate(over='raise'))")]


Exercise("03_logistic_regression.minibatch_gradient_descent", reference=minibatch_gradient_descent,
         cases=_mb_cases,
         mistakes={"the last, smaller batch is skipped; when B does not divide N it still counts "
                   "(range(0, N, B) and slicing X[start:start + B] handle it)": _mb_mistake(drop_last=True),
                   "the gradient is computed on the whole data set; use the batch's X_batch, y_batch":
                       _mb_mistake(full_gradient=True),
                   "the losses are computed on the whole data set; record each batch's own loss "
                   "(before its step)": _mb_mistake(full_loss=True)},
         output_names=("w", "b", "losses"),
         title="mini-batch gradient descent, batches in order")
