"""Exercises of lesson 02_perceptron: Rosenblatt's perceptron with 0/1 labels.

    perceptron_predict(X, w, b)           y_hat = step(X w + b), 1 where z >= 0
    decision_boundary(w, b, x1)           x2 on the line w1 x1 + w2 x2 + b = 0
    perceptron_update(w, b, x, y, lr)     w + lr (y - y_hat) x,  b + lr (y - y_hat)
    train_perceptron(X, y, lr, epochs)    from w = 0, b = 0, the examples in order; (w, b, errors per epoch)

Shapes: X ``(N, d)``, y ``(N,)`` of 0/1, w ``(d,)``, b a number, one example x ``(d,)``.
"""
import numpy as np

from ..nn import activations
from . import Case, Exercise


def _step(z):
    return activations.step(np.asarray(z, dtype=np.float64))


def _separable(rng, n, d, margin=0.3):
    """n points in d dimensions labelled by a random line, none closer than ``margin`` to it."""
    w_true, b_true = rng.normal(size=d), float(rng.normal(scale=0.5))
    X = np.empty((0, d))
    while len(X) < n:
        candidates = rng.normal(size=(4 * n, d))
        z = (candidates @ w_true + b_true) / np.linalg.norm(w_true)
        X = np.vstack([X, candidates[np.abs(z) > margin]])
    X = X[:n]
    return X, _step(X @ w_true + b_true)


XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])


# ---------------------------------------------------------------------- perceptron_predict
def perceptron_predict(X, w, b):
    """y_hat = step(X w + b): 1.0 where z >= 0, else 0.0. X (N, d), w (d,), b -> (N,)."""
    return _step(np.asarray(X, dtype=np.float64) @ w + b)


def _predict_cases(rng):
    return [Case((np.array([[1.0, 2.0], [-1.0, -1.0], [2.0, -1.0], [0.0, 0.0]]), np.array([1.0, -0.5]), 0.0),
                 label="z = 0 counts as class 1"),
            Case((rng.normal(size=(8, 3)), rng.normal(size=3), 0.4), label="a batch of 8"),
            Case((rng.normal(size=(6, 2)), rng.normal(size=2), -0.7), label="a batch of 6")]


Exercise("02_perceptron.perceptron_predict", reference=perceptron_predict, cases=_predict_cases,
         mistakes={"z = 0 must give class 1 (the step is 1 where z >= 0); use >=, not >":
                       lambda X, w, b: (X @ w + b > 0).astype(float),
                   "the bias b is missing: y_hat = step(X @ w + b)": lambda X, w, b: _step(X @ w),
                   "this returns the logit z; the prediction is step(z), 0 or 1": lambda X, w, b: X @ w + b,
                   "np.sign gives -1, 0 or +1; here the classes are 0 and 1: use (z >= 0).astype(float)":
                       lambda X, w, b: np.sign(X @ w + b)},
         title="the perceptron's prediction step(X w + b)")


# ---------------------------------------------------------------------- decision_boundary
def decision_boundary(w, b, x1):
    """The x2 of the points (x1, x2) on the line w1 x1 + w2 x2 + b = 0: x2 = -(w1 x1 + b) / w2.
    w (2,), b a number, x1 (M,) -> x2 (M,)."""
    return -(w[0] * np.asarray(x1, dtype=np.float64) + b) / w[1]


def _boundary_cases(rng):
    cases = []
    for _ in range(3):
        w = rng.normal(size=2)
        w[1] = np.sign(w[1]) * (abs(w[1]) + 0.3)
        cases.append(Case((w, float(np.round(rng.normal(), 2)), np.linspace(-3, 3, 7))))
    return cases


Exercise("02_perceptron.decision_boundary", reference=decision_boundary, cases=_boundary_cases,
         mistakes={"a sign is wrong: from w1 x1 + w2 x2 + b = 0 follows x2 = -(w1 x1 + b) / w2":
                       lambda w, b, x1: (w[0] * x1 + b) / w[1],
                   "the bias is missing: x2 = -(w1 x1 + b) / w2": lambda w, b, x1: -(w[0] * x1) / w[1],
                   "w1 and w2 are swapped: x1 goes with w[0], and you divide by w[1]":
                       lambda w, b, x1: -(w[1] * x1 + b) / w[0],
                   "the division by w2 is missing: x2 = -(w1 x1 + b) / w2": lambda w, b, x1: -(w[0] * x1 + b)},
         title="the decision boundary x2 = -(w1 x1 + b) / w2")


# ---------------------------------------------------------------------- perceptron_update
def perceptron_update(w, b, x, y, lr):
    """One step of the perceptron rule on one example:
        y_hat = step(x . w + b);  w <- w + lr (y - y_hat) x;  b <- b + lr (y - y_hat).
    w (d,), b a number, x (d,), y 0 or 1, lr > 0 -> (w_new (d,), b_new); the inputs are not changed."""
    error = y - _step(np.dot(x, w) + b)
    return w + lr * error * x, b + lr * error


def _update_cases(rng):
    w = np.array([0.5, -1.0, 0.2])
    return [Case((w, 0.1, np.array([1.0, 2.0, 0.5]), 1.0, 0.5), label="class 1 predicted as 0"),
            Case((w, 0.1, np.array([2.0, -1.0, 1.0]), 0.0, 0.5), label="class 0 predicted as 1"),
            Case((w, 0.1, np.array([2.0, -1.0, 1.0]), 1.0, 0.5), label="predicted right: no change"),
            Case((np.zeros(2), 0.0, np.array([1.0, -2.0]), 0.0, 0.1), label="z = 0 is predicted 1"),
            Case((rng.normal(size=4), -0.3, rng.normal(size=4), 1.0, 0.25), label="random, 4 features")]


Exercise("02_perceptron.perceptron_update", reference=perceptron_update, cases=_update_cases,
         mistakes={"the error has the wrong sign: use (y - y_hat), so that a missed 1 pushes z up":
                       lambda w, b, x, y, lr: (w - lr * (y - _step(x @ w + b)) * x, b - lr * (y - _step(x @ w + b))),
                   "the bias is not updated: b <- b + lr (y - y_hat)":
                       lambda w, b, x, y, lr: (w + lr * (y - _step(x @ w + b)) * x, b),
                   "the error uses the logit z instead of the prediction y_hat = step(z) (that is the "
                   "Widrow-Hoff / Adaline rule, not the perceptron's)":
                       lambda w, b, x, y, lr: (w + lr * (y - (x @ w + b)) * x, b + lr * (y - (x @ w + b))),
                   "the learning rate is missing from the bias update: b <- b + lr (y - y_hat)":
                       lambda w, b, x, y, lr: (w + lr * (y - _step(x @ w + b)) * x, b + (y - _step(x @ w + b)))},
         output_names=("w", "b"),
         title="the perceptron learning rule for one example")


# ---------------------------------------------------------------------- train_perceptron
def train_perceptron(X, y, lr, epochs):
    """The perceptron from w = 0, b = 0: each epoch visits the examples in order 0 .. N-1 and applies
    the rule to each. errors[e] = the number of examples misclassified when visited in epoch e
    (= the number of updates made). X (N, d), y (N,) -> (w (d,), b, errors (epochs,))."""
    w, b = np.zeros(X.shape[1]), 0.0
    errors = []
    for _ in range(epochs):
        n_errors = 0
        for x_i, y_i in zip(X, y):
            n_errors += int(_step(x_i @ w + b) != y_i)
            w, b = perceptron_update(w, b, x_i, y_i, lr)
        errors.append(n_errors)
    return w, b, np.array(errors)


def _train_cumulative(X, y, lr, epochs):
    w, b, errors = train_perceptron(X, y, lr, epochs)    # the same updates; the count never reset
    return w, b, np.cumsum(errors)


def _train_whole_batch(X, y, lr, epochs):
    w, b = np.zeros(X.shape[1]), 0.0
    errors = []
    for _ in range(epochs):
        error = y - _step(X @ w + b)
        errors.append(int(np.sum(error != 0)))
        w, b = w + lr * X.T @ error, b + lr * np.sum(error)
    return w, b, np.array(errors)


def _train_no_bias(X, y, lr, epochs):
    w = np.zeros(X.shape[1])
    errors = []
    for _ in range(epochs):
        n_errors = 0
        for x_i, y_i in zip(X, y):
            n_errors += int(_step(x_i @ w) != y_i)
            w, _ = perceptron_update(w, 0.0, x_i, y_i, lr)
        errors.append(n_errors)
    return w, 0.0, np.array(errors)


def _train_errors_after_epoch(X, y, lr, epochs):
    w, b = np.zeros(X.shape[1]), 0.0
    errors = []
    for _ in range(epochs):
        for x_i, y_i in zip(X, y):
            w, b = perceptron_update(w, b, x_i, y_i, lr)
        errors.append(int(np.sum(_step(X @ w + b) != y)))
    return w, b, np.array(errors)


def _train_cases(rng):
    X2, y2 = _separable(rng, 20, 2)
    X3, y3 = _separable(rng, 30, 3)
    return [Case((X2, y2, 1.0, 6), label="20 separable points in 2-D, lr = 1"),
            Case((X3, y3, 0.5, 6), label="30 separable points in 3-D, lr = 0.5"),
            Case((XOR_X.copy(), XOR_Y.copy(), 1.0, 5), label="XOR, lr = 1")]


Exercise("02_perceptron.train_perceptron", reference=train_perceptron, cases=_train_cases,
         mistakes={"the error count keeps growing across epochs: reset it to 0 at the start of each epoch":
                       _train_cumulative,
                   "all the examples are used in one update per epoch; the perceptron updates after "
                   "each example, in order": _train_whole_batch,
                   "the bias never learns: update b with the rule too": _train_no_bias,
                   "the errors are counted after the epoch, with the final weights; count the examples "
                   "misclassified when visited (= the updates made during the epoch)": _train_errors_after_epoch},
         output_names=("w", "b", "errors"),
         title="the perceptron training loop")
