"""Exercises of lesson 04_mlp_backprop: layers, softmax, cross-entropy and backpropagation.

Shapes: N examples, D input features, H hidden units, K classes.
The references reuse course_utils.nn (softmax, CategoricalCrossentropy, Dense's formulas), so the
learner's functions, the NumPy library and Keras are held to the same numbers.
"""
import numpy as np

from ..nn.activations import softmax as _softmax
from ..nn.losses import CategoricalCrossentropy
from . import Case, Exercise

LESSON = "04_mlp_backprop"


def _one_hot(labels, k):
    return np.eye(k)[labels]


def _probabilities(rng, n, k):
    return _softmax(rng.normal(size=(n, k)))


# ----------------------------------------------------------------------------- dense_forward
def dense_forward(x, W, b):
    """z = x W + b.   x: (N, D), W: (D, H), b: (H,) -> z: (N, H)."""
    return x @ W + b


def _dense_forward_cases(rng):
    # the square case first: there a transposed kernel gives numbers (not a shape error) to recognise
    return [Case((rng.normal(size=(4, 3)), rng.normal(size=(3, 3)), rng.normal(size=3)),
                 label="N=4, D=H=3"),
            Case((rng.normal(size=(5, 4)), rng.normal(size=(4, 2)), rng.normal(size=2)),
                 label="N=5, D=4, H=2"),
            Case((rng.normal(size=(1, 6)), rng.normal(size=(6, 3)), rng.normal(size=3)),
                 label="one example")]


Exercise(f"{LESSON}.dense_forward", reference=dense_forward, cases=_dense_forward_cases,
         mistakes={
             "the bias b is missing: z = x W + b.": lambda x, W, b: x @ W,
             "the kernel is transposed: Keras's kernel has shape (inputs, units), so z = x @ W + b "
             "(not x @ W.T).": lambda x, W, b: x @ W.T + b,
             "the bias is subtracted: z = x W + b.": lambda x, W, b: x @ W - b,
         },
         output_names=("z",),
         title="a Dense layer's weighted sums z = x W + b for a batch")


# ----------------------------------------------------------------------------- softmax
def softmax(z):
    """p_k = exp(z_k - max z) / sum_j exp(z_j - max z), along the last axis.   z: (N, K) -> p: (N, K)."""
    return _softmax(z, axis=-1)


def _softmax_cases(rng):
    return [Case((rng.normal(size=(4, 3)),), label="N=4 examples, K=3 classes"),
            Case((rng.normal(size=(2, 5)) * 3,), label="N=2, K=5"),
            Case((np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]]),), strict_fp=True,
                 label="large logits: exp(1000) must not overflow (run under np.errstate(over='raise'))"),
            Case((np.array([[1000.0, 999.0, 998.0], [-1.0, 0.0, 1.0], [-800.0, -801.0, -799.0]]),),
                 label="rows of very different scale: shift each row by its own max"),
            Case((rng.normal(size=(3, 2, 4)),), label="a batch of sequences (N, T, K)")]


def _softmax_axis0(z):
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


def _softmax_whole_array(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


Exercise(f"{LESSON}.softmax", reference=softmax, cases=_softmax_cases,
         mistakes={
             "softmax is normalised down the batch (axis=0); each example's probabilities sum to 1 "
             "along the last axis: use axis=-1 (with keepdims=True).": _softmax_axis0,
             "the sum runs over the whole array; sum over the last axis only: "
             "np.sum(e, axis=-1, keepdims=True).": _softmax_whole_array,
         },
         output_names=("p",),
         stable_hint=("subtract each row's own max before exp: e = np.exp(z - np.max(z, axis=-1, keepdims=True)) "
                      "(one global max is not enough when the rows differ in scale)"),
         title="a numerically stable softmax along the last axis")


# ----------------------------------------------------------------------------- cross_entropy
def cross_entropy(y_onehot, p):
    """L = -(1/N) sum_n sum_k y_nk log p_nk.   y_onehot, p: (N, K) -> a number."""
    return CategoricalCrossentropy().loss(y_onehot, p)


def _cross_entropy_cases(rng):
    return [Case((_one_hot(np.array([0, 2, 1, 2]), 3), _probabilities(rng, 4, 3)), label="N=4, K=3"),
            Case((_one_hot(rng.integers(0, 10, size=8), 10), _probabilities(rng, 8, 10)), label="N=8, K=10"),
            Case((_one_hot(np.array([1]), 2), np.array([[0.3, 0.7]])), label="one example"),
            Case((_one_hot(np.array([0, 2]), 3), np.array([[1e-5, 0.5, 0.5 - 1e-5], [0.2, 0.79999, 1e-5]])),
                 label="the true class at p = 1e-5: inside the clip range the loss is -log(p) itself (clip, do not "
                       "add an epsilon: log(p + 1e-7) is off by 1e-7 / p)")]


Exercise(f"{LESSON}.cross_entropy", reference=cross_entropy, cases=_cross_entropy_cases,
         mistakes={
             "the minus sign is missing: L = -mean_n sum_k y_nk log p_nk (a loss is positive).":
                 lambda y, p: float(np.mean(np.sum(y * np.log(p), axis=-1))),
             "the loss is summed over the batch; Keras averages it: divide by N (np.mean over examples).":
                 lambda y, p: float(-np.sum(y * np.log(p))),
             "the mean runs over all N*K entries; sum over the classes first, then average over the "
             "N examples: -np.mean(np.sum(y * np.log(p), axis=-1)).":
                 lambda y, p: float(-np.mean(y * np.log(p))),
         },
         output_names=("loss",),
         title="the categorical cross-entropy of one-hot targets and probabilities")


# ----------------------------------------------------------------------------- softmax_ce_gradient
def softmax_ce_gradient(y_onehot, logits):
    """dL/dz = (softmax(z) - y) / N for L = cross_entropy(y, softmax(z)).
    y_onehot, logits: (N, K) -> dlogits: (N, K)."""
    return (_softmax(logits, axis=-1) - y_onehot) / len(logits)


def _softmax_ce_gradient_cases(rng):
    return [Case((_one_hot(np.array([0, 2, 1, 2]), 3), rng.normal(size=(4, 3))), label="N=4, K=3"),
            Case((_one_hot(rng.integers(0, 10, size=6), 10), 2 * rng.normal(size=(6, 10))), label="N=6, K=10"),
            Case((_one_hot(np.array([1, 0, 2]), 4), 500 * rng.normal(size=(3, 4))), strict_fp=True,
                 label="logits in the hundreds: the softmax inside must not overflow (run under np.errstate(over='raise'))")]


Exercise(f"{LESSON}.softmax_ce_gradient", reference=softmax_ce_gradient, cases=_softmax_ce_gradient_cases,
         mistakes={
             "the 1/N is missing: the loss is a mean over the batch, so dL/dz = (p - y) / N.":
                 lambda y, z: _softmax(z) - y,
             "the sign is flipped: dL/dz = (p - y) / N, not (y - p) / N.":
                 lambda y, z: (y - _softmax(z)) / len(z),
             "softmax is not applied: p = softmax(z), then dL/dz = (p - y) / N.":
                 lambda y, z: (z - y) / len(z),
         },
         output_names=("dlogits",),
         title="the gradient of softmax + cross-entropy with respect to the logits")


# ----------------------------------------------------------------------------- dense_backward
def dense_backward(x, W, dout):
    """Backward pass of z = x W + b, given dout = dL/dz.
    x: (N, D), W: (D, H), dout: (N, H) -> dx: (N, D), dW: (D, H), db: (H,).
    dx = dout W^T,  dW = x^T dout,  db = sum_n dout."""
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def _dense_backward_cases(rng):
    return [Case((rng.normal(size=(4, 3)), rng.normal(size=(3, 3)), rng.normal(size=(4, 3))),
                 label="N=4, D=H=3"),
            Case((rng.normal(size=(5, 4)), rng.normal(size=(4, 2)), rng.normal(size=(5, 2))),
                 label="N=5, D=4, H=2")]


Exercise(f"{LESSON}.dense_backward", reference=dense_backward, cases=_dense_backward_cases,
         mistakes={
             "dW is transposed: dW must have the kernel's shape (D, H), dW = x^T dout.":
                 lambda x, W, d: (d @ W.T, d.T @ x, d.sum(axis=0)),
             "db is averaged over the batch; the bias is added to every example, so its gradient is "
             "the SUM of dout over the batch (the 1/N is already inside dout).":
                 lambda x, W, d: (d @ W.T, x.T @ d, d.mean(axis=0)),
             "dx uses W instead of W^T: dx = dout @ W.T has the input's shape (N, D).":
                 lambda x, W, d: (d @ W, x.T @ d, d.sum(axis=0)),
         },
         output_names=("dx", "dW", "db"),
         title="the backward pass of a Dense layer: dx, dW, db from dout")


# ----------------------------------------------------------------------------- mlp_forward
def mlp_forward(x, W1, b1, W2, b2):
    """p = softmax(relu(x W1 + b1) W2 + b2).
    x: (N, D), W1: (D, H), b1: (H,), W2: (H, K), b2: (K,) -> p: (N, K)."""
    h = np.maximum(x @ W1 + b1, 0)
    return _softmax(h @ W2 + b2, axis=-1)


def _mlp_params(rng, d, h, k):
    return (rng.normal(size=(d, h)) / np.sqrt(d), 0.1 * rng.normal(size=h),
            rng.normal(size=(h, k)) / np.sqrt(h), 0.1 * rng.normal(size=k))


def _mlp_forward_cases(rng):
    return [Case((rng.normal(size=(4, 3)),) + _mlp_params(rng, 3, 5, 2), label="N=4, D=3, H=5, K=2"),
            Case((rng.normal(size=(6, 8)),) + _mlp_params(rng, 8, 6, 4), label="N=6, D=8, H=6, K=4"),
            Case((rng.normal(size=(3, 2)),) + tuple(300 * p for p in _mlp_params(rng, 2, 4, 3)), strict_fp=True,
                 label="weights in the hundreds (logits ~ 1e5): the softmax must not overflow (run under np.errstate(over='raise'))")]


Exercise(f"{LESSON}.mlp_forward", reference=mlp_forward, cases=_mlp_forward_cases,
         mistakes={
             "the ReLU of the hidden layer is missing: h = relu(x W1 + b1).":
                 lambda x, W1, b1, W2, b2: _softmax((x @ W1 + b1) @ W2 + b2),
             "softmax is missing at the output: the model returns probabilities p = softmax(h W2 + b2).":
                 lambda x, W1, b1, W2, b2: np.maximum(x @ W1 + b1, 0) @ W2 + b2,
             "softmax is taken down the batch (axis=0); take it along the last axis (classes).":
                 lambda x, W1, b1, W2, b2: _softmax_axis0(np.maximum(x @ W1 + b1, 0) @ W2 + b2),
         },
         output_names=("p",),
         title="the forward pass of a 2-layer MLP: Dense(relu) then Dense(softmax)")


# ----------------------------------------------------------------------------- mlp_backward
def mlp_backward(x, y_onehot, W1, b1, W2, b2):
    """Loss and gradients of the 2-layer MLP with softmax + cross-entropy.
    x: (N, D), y_onehot: (N, K) -> loss (number), dW1: (D, H), db1: (H,), dW2: (H, K), db2: (K,)."""
    z1 = x @ W1 + b1
    h = np.maximum(z1, 0)
    z2 = h @ W2 + b2
    p = _softmax(z2, axis=-1)
    loss = cross_entropy(y_onehot, p)
    dz2 = (p - y_onehot) / len(x)
    dW2, db2 = h.T @ dz2, dz2.sum(axis=0)
    dh = dz2 @ W2.T
    dz1 = dh * (z1 > 0)
    dW1, db1 = x.T @ dz1, dz1.sum(axis=0)
    return loss, dW1, db1, dW2, db2


def _mlp_backward_cases(rng):
    def case(n, d, h, k, label):
        return Case((rng.normal(size=(n, d)), _one_hot(rng.integers(0, k, size=n), k)) + _mlp_params(rng, d, h, k),
                    label=label)
    x_big, (W1, b1, W2, b2) = rng.normal(size=(3, 2)), _mlp_params(rng, 2, 4, 3)
    big = Case((x_big, _one_hot(np.array([2, 0, 1]), 3), W1, b1, 5 * W2, b2 + 800.0), strict_fp=True,
               label="logits around 800 (b2 + 800): exp(800) overflows, so the softmax must subtract each "
                     "row's max (run under np.errstate(over='raise'))")
    return [case(4, 3, 5, 2, "N=4, D=3, H=5, K=2"), case(6, 8, 6, 4, "N=6, D=8, H=6, K=4"), big]


def _mlp_backward_no_relu_derivative(x, y, W1, b1, W2, b2):
    z1 = x @ W1 + b1
    h = np.maximum(z1, 0)
    p = _softmax(h @ W2 + b2)
    dz2 = (p - y) / len(x)
    dz1 = dz2 @ W2.T
    return cross_entropy(y, p), x.T @ dz1, dz1.sum(axis=0), h.T @ dz2, dz2.sum(axis=0)


def _mlp_backward_no_mean(x, y, W1, b1, W2, b2):
    loss, *grads = mlp_backward(x, y, W1, b1, W2, b2)
    return (loss, *(g * len(x) for g in grads))


def _mlp_backward_skips_softmax(x, y, W1, b1, W2, b2):
    # dL/dp used as if it were dL/dz2: the softmax's own derivative is forgotten
    z1 = x @ W1 + b1
    h = np.maximum(z1, 0)
    p = _softmax(h @ W2 + b2)
    dz2 = -y / p / len(x)
    dz1 = (dz2 @ W2.T) * (z1 > 0)
    return cross_entropy(y, p), x.T @ dz1, dz1.sum(axis=0), h.T @ dz2, dz2.sum(axis=0)


Exercise(f"{LESSON}.mlp_backward", reference=mlp_backward, cases=_mlp_backward_cases,
         mistakes={
             "the ReLU's derivative is forgotten: dz1 = (dz2 W2^T) * (z1 > 0).": _mlp_backward_no_relu_derivative,
             "the 1/N is missing in dz2 = (p - y) / N (the loss is a mean over the batch), so every "
             "gradient is N times too large.": _mlp_backward_no_mean,
             "dz2 = -y / p / N is dL/dp, not dL/dz2: go through the softmax too; together with the "
             "cross-entropy it gives dz2 = (p - y) / N.": _mlp_backward_skips_softmax,
         },
         output_names=("loss", "dW1", "db1", "dW2", "db2"),
         title="backpropagation through the 2-layer MLP: the loss and every weight gradient")
