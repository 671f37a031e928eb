"""Exercises of lesson 01_neuron: the weighted sum, the activations and one neuron.

    weighted_sum(x, w, b)              z = x . w + b                  (one example or a batch)
    sigmoid(z)                         1 / (1 + exp(-z)), without overflow for |z| = 1e4
    relu(z)                            max(0, z), element by element
    sigmoid_derivative(z)              sigma(z) (1 - sigma(z))
    neuron_forward(x, w, b, activation)   f(x . w + b) for f in step, sigmoid, tanh, relu, linear

Shapes: x ``(d,)`` for one example or ``(N, d)`` for a batch, w ``(d,)``, b a number;
z and a ``()`` or ``(N,)``.
"""
import numpy as np

from ..nn import activations
from . import Case, Exercise

ACTIVATION_NAMES = ("step", "sigmoid", "tanh", "relu", "linear")


# ---------------------------------------------------------------------- weighted_sum
def weighted_sum(x, w, b):
    """z = x . w + b: x (d,) -> z a number; x (N, d) -> z (N,)."""
    return x @ w + b


def _weighted_sum_cases(rng):
    return [Case((rng.normal(size=3), rng.normal(size=3), 0.5), label="one example"),
            Case((rng.normal(size=(4, 3)), rng.normal(size=3), -1.0), label="a batch of 4"),
            Case((rng.normal(size=(6, 5)), rng.normal(size=5), 2.0), label="a batch of 6 with 5 features")]


Exercise("01_neuron.weighted_sum", reference=weighted_sum, cases=_weighted_sum_cases,
         mistakes={"the bias b is missing: z = x @ w + b": lambda x, w, b: x @ w,
                   "the bias is subtracted: z = x @ w + b": lambda x, w, b: x @ w - b,
                   "the products are summed over the batch (axis=0); sum over the features instead "
                   "(axis=-1), or simply write x @ w + b":
                       lambda x, w, b: np.sum(x * w, axis=0) + b,
                   "x * w multiplies element by element but does not add the products up: "
                   "z = sum_i x_i w_i + b, i.e. x @ w + b": lambda x, w, b: x * w + b},
         title="the weighted sum z = x . w + b")


# ---------------------------------------------------------------------- sigmoid
def sigmoid(z):
    """sigma(z) = 1 / (1 + exp(-z)), element by element; z any shape. Stable for large |z|."""
    return activations.sigmoid(np.asarray(z, dtype=np.float64))


def _sigmoid_cases(rng):
    return [Case((np.array(0.0),), label="z = 0"),
            Case((np.linspace(-6, 6, 7),), label="moderate z"),
            Case((rng.normal(scale=3, size=(3, 4)),), label="a (3, 4) array"),
            Case((np.array([-1e4, -800.0, -40.0, 40.0, 800.0, 1e4]),), strict_fp=True,
                 label="huge |z|: exp must not overflow (run under np.errstate(over='raise'))")]


_SIGMOID_HINT = ("exponentiate only -|z|, which cannot overflow: e = np.exp(-np.abs(z)), then "
                 "np.where(z >= 0, 1 / (1 + e), e / (1 + e))")


def _quiet(f):
    """A wrong implementation run without NumPy's overflow warnings (they would confuse the learner)."""
    def run(*args):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return f(*args)
    return run


Exercise("01_neuron.sigmoid", reference=sigmoid, cases=_sigmoid_cases,
         mistakes={"the sign in the exponent is wrong: sigma(z) = 1 / (1 + exp(-z)), with a minus":
                       _quiet(lambda z: 1 / (1 + np.exp(z))),
                   "the '1 +' in the denominator is missing: sigma(z) = 1 / (1 + exp(-z))":
                       _quiet(lambda z: 1 / np.exp(-z)),
                   "operator precedence: 1 / 1 + np.exp(-z) is 1 + exp(-z); write 1 / (1 + np.exp(-z))":
                       _quiet(lambda z: 1 / 1 + np.exp(-z)),
                   "this is tanh(z), which runs from -1 to 1; the sigmoid runs from 0 to 1":
                       lambda z: np.tanh(z)},
         stable_hint=_SIGMOID_HINT,
         title="the sigmoid 1 / (1 + exp(-z)), stable for large |z|")


# ---------------------------------------------------------------------- relu
def relu(z):
    """ReLU(z) = max(0, z), element by element; z any shape."""
    return activations.relu(np.asarray(z, dtype=np.float64))


def _relu_cases(rng):
    return [Case((np.array([-2.0, -0.5, 0.0, 0.5, 2.0]),), label="a few values"),
            Case((rng.normal(size=(4, 3)),), label="a (4, 3) array")]


Exercise("01_neuron.relu", reference=relu, cases=_relu_cases,
         mistakes={"np.max(z, 0) is the largest value along axis 0 (a reduction); the element-wise "
                   "maximum is np.maximum(z, 0)": lambda z: np.max(z, 0),
                   "this is the minimum: ReLU keeps the positive part, max(0, z)": lambda z: np.minimum(z, 0),
                   "this returns 1/0 (ReLU's derivative, a step); ReLU returns the value z where z > 0":
                       lambda z: (z > 0).astype(float),
                   "np.abs(z) flips negative values up; ReLU sets them to 0": lambda z: np.abs(z)},
         title="ReLU(z) = max(0, z)")


# ---------------------------------------------------------------------- sigmoid_derivative
def sigmoid_derivative(z):
    """sigma'(z) = sigma(z) (1 - sigma(z)), element by element; z any shape."""
    return activations.sigmoid_derivative(np.asarray(z, dtype=np.float64))


def _sigmoid_derivative_cases(rng):
    return [Case((np.linspace(-5, 5, 11),), label="moderate z"),
            Case((np.array(0.0),), label="z = 0 (the maximum, 1/4)"),
            Case((rng.normal(scale=2, size=(2, 3)),), label="a (2, 3) array"),
            Case((np.array([-1e4, -50.0, 50.0, 1e4]),), strict_fp=True,
                 label="huge |z|: no overflow (run under np.errstate(over='raise')), derivative ~ 0")]


def _s(z):
    return activations.sigmoid(np.asarray(z, dtype=np.float64))


Exercise("01_neuron.sigmoid_derivative", reference=sigmoid_derivative, cases=_sigmoid_derivative_cases,
         mistakes={"the formula was applied to z instead of sigma(z): compute s = sigmoid(z) first, "
                   "then s * (1 - s)": lambda z: z * (1 - z),
                   "this is sigma(z) itself; the derivative is sigma(z) * (1 - sigma(z))": _s,
                   "a sign is wrong: sigma'(z) = sigma(z) * (1 - sigma(z))": lambda z: _s(z) * (1 + _s(z)),
                   "1 - sigma(z)**2 is the derivative rule of tanh (1 - tanh(z)**2); the sigmoid's is "
                   "sigma(z) * (1 - sigma(z))": lambda z: 1 - _s(z) ** 2},
         stable_hint=_SIGMOID_HINT + ", then s * (1 - s)",
         title="the derivative of the sigmoid, sigma(z) (1 - sigma(z))")


# ---------------------------------------------------------------------- neuron_forward
def neuron_forward(x, w, b, activation):
    """a = f(x . w + b); activation one of "step", "sigmoid", "tanh", "relu", "linear".
    x (d,) or (N, d), w (d,), b a number -> a () or (N,)."""
    if activation not in ACTIVATION_NAMES:
        raise ValueError(f"activation must be one of {ACTIVATION_NAMES}, received {activation!r}")
    f = activations.get(activation)
    return f(np.asarray(x, dtype=np.float64) @ w + b)


def _neuron_cases(rng):
    cases = []
    for i, name in enumerate(ACTIVATION_NAMES):
        n, d = int(rng.integers(3, 7)), int(rng.integers(2, 5))
        cases.append(Case((rng.normal(size=(n, d)), rng.normal(size=d), float(np.round(rng.normal(), 2)), name),
                          label=f"{name}, a batch of {n}"))
    cases.append(Case((rng.normal(size=4), rng.normal(size=4), 0.3, "sigmoid"), label="sigmoid, one example"))
    # x @ w = -0.5 exactly on two rows, so z = 0 exactly there: the step gives H(0) = 1
    cases.append(Case((np.array([[1.0, 3.0], [0.0, 1.0], [2.0, -1.0], [-1.0, 0.0]]), np.array([1.0, -0.5]), 0.5,
                       "step"), label="step at z = 0 exactly: H(0) = 1 (z >= 0)"))
    return cases


def _apply(name, z):
    return activations.get(name)(z)


Exercise("01_neuron.neuron_forward", reference=neuron_forward, cases=_neuron_cases,
         mistakes={"the activation is missing: the neuron returns f(z), not z = x @ w + b":
                       lambda x, w, b, activation: x @ w + b,
                   "the activation is applied to the inputs before the weighted sum; apply it to z: "
                   "a = f(x @ w + b)": lambda x, w, b, activation: _apply(activation, x) @ w + b,
                   "the bias is added after the activation; it belongs inside: a = f(x @ w + b)":
                       lambda x, w, b, activation: _apply(activation, x @ w) + b,
                   "the bias b is missing: a = f(x @ w + b)":
                       lambda x, w, b, activation: _apply(activation, x @ w)},
         title="one neuron: a = f(x . w + b)")
