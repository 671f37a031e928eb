"""Exercises of lesson 09_deep_networks: batch normalization (forward, backward, moving averages,
inference) and the residual block (forward, backward).

    batchnorm_forward(x, gamma, beta, epsilon)                        training mode -> y
    batchnorm_backward(dy, x, gamma, epsilon)                         -> (dx, dgamma, dbeta)
    update_moving_statistics(moving_mean, moving_variance, x, momentum) -> (moving_mean, moving_variance)
    batchnorm_inference(x, gamma, beta, moving_mean, moving_variance, epsilon) -> y
    residual_block_forward(x, W1, b1, W2, b2)                         y = x + F(x)
    residual_block_backward(dy, x, W1, b1, W2, b2)                    -> (dx, dW1, db1, dW2, db2)

Shapes: x (N, D) (a batch of N examples with D features); gamma, beta and the moving statistics
(D,). The residual block is y = x + F(x) with F(x) = relu(x W1 + b1) W2 + b2, W1 (D, H), W2 (H, D),
and no activation after the addition. The batch-normalization references are
course_utils.nn.BatchNormalization (checked against Keras in tests/test_normalization.py).
"""
import numpy as np

from ..nn.layers.normalization import BatchNormalization
from . import Case, Exercise

LESSON = "09_deep_networks"


def _bn_layer(gamma, beta, epsilon, momentum=0.99, moving_mean=None, moving_variance=None):
    gamma = np.asarray(gamma, dtype=np.float64)
    layer = BatchNormalization(momentum=float(momentum), epsilon=float(epsilon), dtype="float64")
    layer.build((None, gamma.shape[0]))
    mean = np.zeros_like(gamma) if moving_mean is None else np.asarray(moving_mean, dtype=np.float64)
    variance = np.ones_like(gamma) if moving_variance is None else np.asarray(moving_variance, dtype=np.float64)
    layer.set_weights([gamma, np.asarray(beta, dtype=np.float64), mean, variance])
    return layer


def _scales(rng, n):
    """A batch whose three features have very different scales (1e3, 1, 1e-2)."""
    return rng.normal(size=(n, 3)) * np.array([1e3, 1.0, 1e-2]) + np.array([50.0, -1.0, 0.3])


# ----------------------------------------------------------------------------- batchnorm_forward
def batchnorm_forward(x, gamma, beta, epsilon):
    """Training mode: mu = mean over the batch, var = mean((x - mu)^2) (biased),
    y = gamma * (x - mu) / sqrt(var + epsilon) + beta.   x (N, D), gamma, beta (D,) -> y (N, D)."""
    return _bn_layer(gamma, beta, epsilon).forward(np.asarray(x, dtype=np.float64), training=True)


def _bn_forward_formula(x, gamma, beta, epsilon, axis=0, ddof=0, root=np.sqrt, eps_inside=True):
    mean = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, ddof=ddof, keepdims=True)
    sigma = root(var + epsilon) if eps_inside else root(var) + epsilon
    return gamma * (x - mean) / sigma + beta


def _batchnorm_forward_cases(rng):
    constant = rng.normal(size=(5, 3))
    constant[:, 1] = 2.5
    return [Case((rng.normal(1.0, 2.0, size=(8, 4)), rng.normal(size=4), rng.normal(size=4), 1e-3),
                 label="N=8, D=4, Keras's epsilon 1e-3"),
            Case((rng.normal(size=(2, 3)), np.array([2.0, 0.5, -1.0]), np.array([0.1, 0.2, 0.3]), 1e-3),
                 label="a batch of two"),
            Case((constant, np.array([1.5, 2.0, 0.5]), np.array([-1.0, 3.0, 0.25]), 1e-3),
                 label="a constant feature (var = 0: its y is beta)"),
            Case((_scales(rng, 6), np.array([1.0, 2.0, 3.0]), np.array([0.5, -0.5, 1.0]), 1e-3),
                 label="features of scale 1e3, 1 and 1e-2 (var 1e-4 < epsilon)"),
            Case((rng.normal(size=(6, 2)), np.array([0.7, 1.3]), np.array([0.4, -0.2]), 0.1),
                 label="a large epsilon, 0.1"),
            Case((1e6 + rng.normal(size=(7, 3)), np.array([1.0, -2.0, 0.5]), np.array([0.0, 1.0, -1.0]), 1e-5),
                 label="features around 1e6 with spread 1: var = mean((x - mu)^2); E[x^2] - E[x]^2 cancels "
                       "(1e12 - 1e12)")]


Exercise(f"{LESSON}.batchnorm_forward", reference=batchnorm_forward, cases=_batchnorm_forward_cases,
         mistakes={
             "each example was normalised over its own features (axis=1: that is layer normalization); "
             "batch normalization takes the mean and variance of each feature over the batch (axis=0).":
                 lambda x, gamma, beta, epsilon: _bn_forward_formula(x, gamma, beta, epsilon, axis=1),
             "the variance is the unbiased one (ddof=1); batch normalization, like tf.nn.moments, divides "
             "by N: var = mean((x - mu)**2).":
                 lambda x, gamma, beta, epsilon: _bn_forward_formula(x, gamma, beta, epsilon, ddof=1),
             "epsilon goes inside the square root: sigma = sqrt(var + epsilon), not sqrt(var) + epsilon.":
                 lambda x, gamma, beta, epsilon: _bn_forward_formula(x, gamma, beta, epsilon, eps_inside=False),
             "the square root is missing: divide x - mu by sigma = sqrt(var + epsilon), not by var + epsilon.":
                 lambda x, gamma, beta, epsilon: _bn_forward_formula(x, gamma, beta, epsilon, root=lambda v: v),
             "gamma and beta are swapped: gamma scales (multiplies xhat), beta shifts (is added).":
                 lambda x, gamma, beta, epsilon: _bn_forward_formula(x, beta, gamma, epsilon),
         },
         output_names=("y",),
         title="batch normalization in training mode: normalise with the batch statistics, scale and shift")


# ----------------------------------------------------------------------------- batchnorm_backward
def batchnorm_backward(dy, x, gamma, epsilon):
    """Training mode, through the batch statistics: with sigma = sqrt(var + epsilon),
    xhat = (x - mu) / sigma, dxhat = gamma * dy:
        dx = 1 / (N sigma) * (N dxhat - sum dxhat - xhat * sum(dxhat * xhat)),
        dgamma = sum dy * xhat,   dbeta = sum dy        (sums over the batch).
    dy, x (N, D), gamma (D,) -> dx (N, D), dgamma (D,), dbeta (D,)."""
    layer = _bn_layer(gamma, np.zeros_like(np.asarray(gamma, dtype=np.float64)), epsilon)
    layer.forward(np.asarray(x, dtype=np.float64), training=True)
    dx = layer.backward(np.asarray(dy, dtype=np.float64))
    dgamma, dbeta = layer.grads
    return dx, dgamma, dbeta


def _bn_backward_formula(dy, x, gamma, epsilon, statistics=True, mean_term=True, averaged=False):
    n = x.shape[0]
    mean = x.mean(axis=0)
    sigma = np.sqrt(x.var(axis=0) + epsilon)
    xhat = (x - mean) / sigma
    dxhat = gamma * dy
    if not statistics:
        dx = dxhat / sigma
    else:
        dx = (n * dxhat - (dxhat.sum(axis=0) if mean_term else 0.0)
              - xhat * np.sum(dxhat * xhat, axis=0)) / (n * sigma)
    total = np.mean if averaged else np.sum
    return dx, total(dy * xhat, axis=0), total(dy, axis=0)


def _batchnorm_backward_cases(rng):
    x_same = rng.normal(size=(4, 3))
    return [Case((rng.normal(size=(6, 3)), rng.normal(1.0, 2.0, size=(6, 3)), rng.normal(size=3), 1e-3),
                 label="N=6, D=3"),
            Case((rng.normal(size=(2, 2)), rng.normal(size=(2, 2)), np.array([1.5, -0.5]), 1e-3),
                 label="a batch of two"),
            Case((rng.normal(size=(5, 3)), _scales(rng, 5), np.array([1.0, 2.0, 0.5]), 1e-3),
                 label="features of scale 1e3, 1 and 1e-2"),
            Case((np.tile(np.array([0.5, -1.0, 2.0]), (4, 1)), x_same, np.array([1.0, 2.0, 3.0]), 1e-3),
                 label="the same dy for every example: shifting a whole feature changes nothing, dx = 0"),
            Case((rng.normal(size=(5, 4)), 0.3 * rng.normal(size=(5, 4)), rng.normal(size=4), 0.1),
                 label="a large epsilon, 0.1, against variances of about 0.1")]


Exercise(f"{LESSON}.batchnorm_backward", reference=batchnorm_backward, cases=_batchnorm_backward_cases,
         mistakes={
             "mu and var were treated as constants (dx = gamma * dy / sigma, the inference-mode gradient); "
             "in training mode they depend on every example: dx = 1/(N sigma) (N dxhat - sum dxhat - "
             "xhat sum(dxhat xhat)).":
                 lambda dy, x, gamma, epsilon: _bn_backward_formula(dy, x, gamma, epsilon, statistics=False),
             "the term from the batch mean, - sum dxhat, is missing: dx = 1/(N sigma) (N dxhat - sum dxhat "
             "- xhat sum(dxhat xhat)).":
                 lambda dy, x, gamma, epsilon: _bn_backward_formula(dy, x, gamma, epsilon, mean_term=False),
             "dgamma and dbeta were averaged over the batch: gamma and beta are used by every example, so "
             "their gradients add up: dgamma = sum dy * xhat, dbeta = sum dy.":
                 lambda dy, x, gamma, epsilon: _bn_backward_formula(dy, x, gamma, epsilon, averaged=True),
         },
         output_names=("dx", "dgamma", "dbeta"),
         title="the backward pass of batch normalization through the batch statistics")


# ----------------------------------------------------------------------------- update_moving_statistics
def update_moving_statistics(moving_mean, moving_variance, x, momentum):
    """Keras's update after a training batch (var biased, as in the forward pass):
        moving_mean     <- moving_mean * momentum + mean(x) * (1 - momentum)
        moving_variance <- moving_variance * momentum + var(x) * (1 - momentum)
    moving_mean, moving_variance (D,), x (N, D) -> the two updated (D,) vectors."""
    layer = _bn_layer(np.ones(np.shape(moving_mean)), np.zeros(np.shape(moving_mean)), 1e-3, momentum,
                      moving_mean, moving_variance)
    layer.forward(np.asarray(x, dtype=np.float64), training=True)
    return layer.moving_mean.copy(), layer.moving_variance.copy()


def _moving(moving_mean, moving_variance, x, momentum, swap=False, ddof=0, std=False):
    keep, new = (1 - momentum, momentum) if swap else (momentum, 1 - momentum)
    var = x.var(axis=0, ddof=ddof)
    return moving_mean * keep + x.mean(axis=0) * new, moving_variance * keep + (np.sqrt(var) if std else var) * new


def _moving_cases(rng):
    return [Case((np.zeros(3), np.ones(3), rng.normal(2.0, 3.0, size=(8, 3)), 0.99),
                 label="the first step from Keras's initial values (0, 1), momentum 0.99"),
            Case((rng.normal(size=4), rng.uniform(0.5, 2.0, size=4), rng.normal(size=(5, 4)), 0.9),
                 label="momentum 0.9"),
            Case((rng.normal(size=2), rng.uniform(0.5, 2.0, size=2), rng.normal(-1.0, 0.5, size=(6, 2)), 0.0),
                 label="momentum 0: the batch statistics replace the moving ones")]


Exercise(f"{LESSON}.update_moving_statistics", reference=update_moving_statistics, cases=_moving_cases,
         mistakes={
             "momentum weighs the old value: new = moving * momentum + batch * (1 - momentum) (with "
             "momentum 0.99 the moving statistics change slowly).":
                 lambda mm, mv, x, momentum: _moving(mm, mv, x, momentum, swap=True),
             "the batch variance is the unbiased one (ddof=1); Keras averages the biased variance that "
             "the forward pass used (divided by N).":
                 lambda mm, mv, x, momentum: _moving(mm, mv, x, momentum, ddof=1),
             "the standard deviation was averaged; the moving statistic is the variance, var(x) = "
             "mean((x - mu)**2).":
                 lambda mm, mv, x, momentum: _moving(mm, mv, x, momentum, std=True),
         },
         output_names=("moving_mean", "moving_variance"),
         title="the moving averages of the batch statistics, updated after each training batch")


# ----------------------------------------------------------------------------- batchnorm_inference
def batchnorm_inference(x, gamma, beta, moving_mean, moving_variance, epsilon):
    """Inference mode: y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta
    (no batch statistics: each example on its own).   x (N, D), the rest (D,) -> y (N, D)."""
    layer = _bn_layer(gamma, beta, epsilon, moving_mean=moving_mean, moving_variance=moving_variance)
    return layer.forward(np.asarray(x, dtype=np.float64), training=False)


def _inference_cases(rng):
    return [Case((rng.normal(1.0, 2.0, size=(5, 3)), rng.normal(size=3), rng.normal(size=3),
                  rng.normal(size=3), rng.uniform(0.5, 3.0, size=3), 1e-3), label="N=5, D=3"),
            Case((rng.normal(size=(1, 3)), np.array([1.0, 2.0, 0.5]), np.array([0.0, 0.5, -1.0]),
                  np.array([0.2, -0.3, 1.0]), np.array([1.5, 0.8, 2.0]), 1e-3),
                 label="a single example (batch statistics would give y = beta)"),
            Case((rng.normal(size=(4, 2)) * 0.01, np.array([1.0, 3.0]), np.array([0.1, 0.2]),
                  np.array([0.001, -0.002]), np.array([1e-4, 4e-4]), 1e-3),
                 label="moving variances below epsilon"),
            Case((rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=4), rng.normal(size=4),
                  rng.uniform(0.05, 0.2, size=4), 0.1), label="a large epsilon, 0.1")]


def _inference_batch_stats(x, gamma, beta, moving_mean, moving_variance, epsilon):
    return _bn_forward_formula(x, gamma, beta, epsilon)


Exercise(f"{LESSON}.batchnorm_inference", reference=batchnorm_inference, cases=_inference_cases,
         mistakes={
             "this is training mode (the batch's own mean and variance): at inference use the moving "
             "statistics, so that an example's output does not depend on the rest of the batch.":
                 _inference_batch_stats,
             "epsilon is missing: divide by sqrt(moving_variance + epsilon), as in training.":
                 lambda x, g, b, mm, mv, eps: g * (x - mm) / np.sqrt(mv) + b,
             "the square root is missing: the moving variance is a variance; divide by "
             "sqrt(moving_variance + epsilon).":
                 lambda x, g, b, mm, mv, eps: g * (x - mm) / (mv + eps) + b,
         },
         output_names=("y",),
         title="batch normalization at inference: the moving statistics instead of the batch's")


# ----------------------------------------------------------------------------- residual_block_forward
def residual_block_forward(x, W1, b1, W2, b2):
    """y = x + F(x),  F(x) = relu(x W1 + b1) W2 + b2  (no activation after the addition).
    x (N, D), W1 (D, H), b1 (H,), W2 (H, D), b2 (D,) -> y (N, D)."""
    h = np.maximum(x @ W1 + b1, 0.0)
    return x + h @ W2 + b2


def _block_cases(rng, backward=False):
    def weights(d, h, scale=0.5):
        return rng.normal(0, scale, (d, h)), rng.normal(0, 0.1, h), rng.normal(0, scale, (h, d)), rng.normal(0, 0.1, d)
    first = [rng.normal(size=(4, 3)), *weights(3, 5)]
    square = [rng.normal(size=(3, 4)), *weights(4, 4)]
    dead_W1, dead_b1 = rng.normal(0, 0.1, (3, 2)), np.array([-20.0, -30.0])   # every hidden unit off
    dead = [rng.normal(size=(5, 3)), dead_W1, dead_b1, rng.normal(0, 0.5, (2, 3)), np.array([0.3, -0.2, 0.1])]
    cases = [(first, "N=4, D=3, a hidden layer of H=5"), (square, "D = H = 4"),
             (dead, "a dead hidden layer (every relu input < 0): F(x) = b2, the skip carries x")]
    if backward:
        return [Case((rng.normal(size=args[0].shape), *args), label=label) for args, label in cases]
    return [Case(tuple(args), label=label) for args, label in cases]


Exercise(f"{LESSON}.residual_block_forward", reference=residual_block_forward,
         cases=lambda rng: _block_cases(rng),
         mistakes={
             "the skip connection is missing: the block returns y = x + F(x), not F(x).":
                 lambda x, W1, b1, W2, b2: np.maximum(x @ W1 + b1, 0.0) @ W2 + b2,
             "this block has no ReLU after the addition: y = x + F(x) (the original ResNet's relu(x + F(x)) "
             "is a different block).":
                 lambda x, W1, b1, W2, b2: np.maximum(residual_block_forward(x, W1, b1, W2, b2), 0.0),
             "the ReLU inside F is missing: F(x) = relu(x W1 + b1) W2 + b2.":
                 lambda x, W1, b1, W2, b2: x + (x @ W1 + b1) @ W2 + b2,
         },
         output_names=("y",),
         title="a residual block, y = x + F(x)")


# ----------------------------------------------------------------------------- residual_block_backward
def residual_block_backward(dy, x, W1, b1, W2, b2):
    """The gradients of y = x + relu(x W1 + b1) W2 + b2, given dy = dL/dy (N, D):
        z = x W1 + b1, h = relu(z);  dW2 = h^T dy, db2 = sum dy, dh = dy W2^T, dz = dh * (z > 0),
        dW1 = x^T dz, db1 = sum dz,  dx = dy + dz W1^T      (the skip adds dy: dL/dx = dL/dy (1 + dF/dx)).
    -> (dx (N, D), dW1 (D, H), db1 (H,), dW2 (H, D), db2 (D,))."""
    z = x @ W1 + b1
    h = np.maximum(z, 0.0)
    dz = (dy @ W2.T) * (z > 0)
    return dy + dz @ W1.T, x.T @ dz, dz.sum(axis=0), h.T @ dy, dy.sum(axis=0)


def _backward_variant(dy, x, W1, b1, W2, b2, skip=True, mask=True, scale=1.0):
    z = x @ W1 + b1
    h = np.maximum(z, 0.0)
    dz = (dy @ W2.T) * ((z > 0) if mask else 1.0)
    dx = (dy if skip else 0.0) + dz @ W1.T
    return tuple(g * scale for g in (dx, x.T @ dz, dz.sum(axis=0), h.T @ dy, dy.sum(axis=0)))


Exercise(f"{LESSON}.residual_block_backward", reference=residual_block_backward,
         cases=lambda rng: _block_cases(rng, backward=True),
         mistakes={
             "the gradient highway is missing: the skip y = x + ... passes dy straight back, so "
             "dx = dy + dz W1^T.":
                 lambda *a: _backward_variant(*a, skip=False),
             "the ReLU's gradient is missing: dz = dh * (z > 0) (no gradient through a unit that was off).":
                 lambda *a: _backward_variant(*a, mask=False),
             "the gradients were averaged over the batch: the loss's dy already holds the 1/N, so sum "
             "the examples' contributions (x^T dz, sum dz, ...).":
                 lambda *a: _backward_variant(*a, scale=1.0 / a[1].shape[0]),
         },
         output_names=("dx", "dW1", "db1", "dW2", "db2"),
         title="the backward pass of a residual block: the gradient highway")
