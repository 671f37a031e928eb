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


# ------------------------------------------------- more of Keras's activations (keras.activations.get)
# Each: forward f(z) and its derivative f'(z) (or, where outputs are coupled, a VJP dz from a and da),
# in TensorFlow's formulas so that float64 results agree to rounding; none overflows at |z| = 1e4
# (exponential excepted: e^1e4 is inf, as in Keras).

def _scalar_slope(value):
    """TensorFlow keeps leaky_relu's slope as a float32 attribute of its op (0.2 -> 0.20000000298...)."""
    return float(np.float32(value))


def leaky_relu(z, negative_slope=0.2):
    """f(z) = z if z > 0 else negative_slope z (Keras 3's activation default 0.2; the layer's is 0.3)."""
    z = np.asarray(z)
    return np.where(z > 0, z, z * _scalar_slope(negative_slope))


def leaky_relu_derivative(z, negative_slope=0.2):
    """f'(z) = 1 where z > 0, else negative_slope."""
    return np.where(np.asarray(z) > 0, 1.0, _scalar_slope(negative_slope))


def relu6(z):
    """f(z) = min(max(z, 0), 6)."""
    return np.clip(z, 0.0, 6.0)


def relu6_derivative(z):
    """f'(z) = 1 where 0 < z < 6, else 0 (TensorFlow's convention at the kinks)."""
    z = np.asarray(z)
    return ((z > 0) & (z < 6)).astype(np.float64)


def elu(z, alpha=1.0):
    """f(z) = z if z > 0 else alpha (e^z - 1)."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


def elu_derivative(z, alpha=1.0):
    """f'(z) = 1 if z > 0 else alpha e^z."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0)))


SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def selu(z):
    """f(z) = scale z if z > 0 else scale alpha (e^z - 1), scale = 1.0507..., alpha = 1.6732... (Klambauer et al.)."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return np.where(z > 0, SELU_SCALE * z, SELU_SCALE * SELU_ALPHA * np.expm1(np.minimum(z, 0)))


def selu_derivative(z):
    """f'(z) = scale if z > 0 else scale alpha e^z."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return np.where(z < 0, SELU_SCALE * SELU_ALPHA * np.exp(np.minimum(z, 0)), SELU_SCALE)   # scale at 0, as TF


def celu(z, alpha=1.0):
    """f(z) = max(z, 0) + alpha (e^(min(z, 0) / alpha) - 1)."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return np.maximum(z, 0) + alpha * np.expm1(np.minimum(z, 0) / alpha)


def celu_derivative(z, alpha=1.0):
    """f'(z) = 1 if z > 0 else e^(z / alpha); at z = 0 TensorFlow passes the gradient through both max
    and min, so its derivative there is 2 (reproduced here)."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return (z >= 0) + np.where(z <= 0, np.exp(np.minimum(z, 0) / alpha), 0.0)


def _erfc(x):
    from scipy.special import erfc   # SciPy comes with scikit-learn (requirements.txt)
    return erfc(x)


def gelu(z, approximate=False):
    """Gaussian error linear unit (Hendrycks & Gimpel), Keras 3's default the exact form:
        exact:        f(z) = z Phi(z) = z (1 + erf(z / sqrt 2)) / 2 = z erfc(-z / sqrt 2) / 2
        approximate:  f(z) = z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))) / 2
    """
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    if approximate:
        return 0.5 * z * (1.0 + np.tanh(0.7978845608028654 * (z + 0.044715 * z ** 3)))
    return 0.5 * z * _erfc(-z * 0.7071067811865476)   # erfc, as TensorFlow: 1 + erf(x) loses digits for x < 0


def gelu_derivative(z, approximate=False):
    """exact:  f'(z) = Phi(z) + z phi(z),  phi(z) = e^(-z^2/2) / sqrt(2 pi)
    approximate:  with u = sqrt(2/pi) (z + 0.044715 z^3), t = tanh u:
        f'(z) = (1 + t) / 2 + z (1 - t^2) sqrt(2/pi) (1 + 3 0.044715 z^2) / 2"""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    if approximate:
        t = np.tanh(0.7978845608028654 * (z + 0.044715 * z ** 3))
        return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * 0.7978845608028654 * (1.0 + 3 * 0.044715 * z * z)
    phi = np.exp(-0.5 * np.minimum(z * z, 1e4)) / np.sqrt(2 * np.pi)   # the min keeps z^2 finite; phi is 0 there
    return 0.5 * _erfc(-z * 0.7071067811865476) + z * phi


def silu(z):
    """f(z) = z sigmoid(z) (also called swish)."""
    return np.asarray(z) * sigmoid(z)


def silu_derivative(z):
    """f'(z) = s + z s (1 - s), s = sigmoid(z)."""
    s = sigmoid(z)
    return s + np.asarray(z) * s * (1.0 - s)


def softplus(z):
    """f(z) = log(1 + e^z), computed as logaddexp(0, z): no overflow."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return np.logaddexp(0.0, z)


def softplus_derivative(z):
    """f'(z) = sigmoid(z)."""
    return sigmoid(z)


def log_sigmoid(z):
    """f(z) = log sigmoid(z) = -softplus(-z)."""
    return -softplus(-np.asarray(z))


def log_sigmoid_derivative(z):
    """f'(z) = 1 - sigmoid(z) = sigmoid(-z)."""
    return sigmoid(-np.asarray(z))


def softsign(z):
    """f(z) = z / (1 + |z|)."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return z / (1.0 + np.abs(z))


def softsign_derivative(z):
    """f'(z) = 1 / (1 + |z|)^2."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return 1.0 / np.square(1.0 + np.abs(z))


def hard_sigmoid(z):
    """f(z) = relu6(z + 3) / 6 (Keras 3, 3.13 to 3.15: 0 below -3, 1 above 3, z/6 + 1/2 between)."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return relu6(z + 3.0) / 6.0


def hard_sigmoid_derivative(z):
    """f'(z) = 1/6 where -3 < z < 3, else 0."""
    return relu6_derivative(np.asarray(z) + 3.0) / 6.0


def hard_silu(z):
    """f(z) = z hard_sigmoid(z) (also called hard_swish)."""
    return np.asarray(z) * hard_sigmoid(z)


def hard_silu_derivative(z):
    """f'(z) = hard_sigmoid(z) + z hard_sigmoid'(z)."""
    return hard_sigmoid(z) + np.asarray(z) * hard_sigmoid_derivative(z)


def hard_tanh(z):
    """f(z) = clip(z, -1, 1)."""
    return np.clip(z, -1.0, 1.0)


def hard_tanh_derivative(z):
    """f'(z) = 1 where -1 <= z <= 1 (TensorFlow's clip passes the gradient at the bounds), else 0."""
    z = np.asarray(z)
    return ((z >= -1) & (z <= 1)).astype(np.float64)


def exponential(z):
    """f(z) = e^z (inf beyond z ~ 709 in float64, as in Keras; no overflow warning)."""
    with np.errstate(over="ignore"):
        return np.exp(np.asarray(z, dtype=np.result_type(z, np.float32)))


def mish(z):
    """f(z) = z tanh(softplus(z)) (Misra)."""
    return np.asarray(z) * np.tanh(softplus(z))


def mish_derivative(z):
    """f'(z) = tanh(sp) + z (1 - tanh(sp)^2) sigmoid(z),  sp = softplus(z)."""
    t = np.tanh(softplus(z))
    return t + np.asarray(z) * (1.0 - t * t) * sigmoid(z)


def squareplus(z, b=4.0):
    """f(z) = (z + sqrt(z^2 + b)) / 2 (Barron)."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return (z + np.sqrt(np.square(z) + b)) / 2


def squareplus_derivative(z, b=4.0):
    """f'(z) = (1 + z / sqrt(z^2 + b)) / 2."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return (1.0 + z / np.sqrt(np.square(z) + b)) / 2


def soft_shrink(z, threshold=0.5):
    """f(z) = z - threshold if z > threshold, z + threshold if z < -threshold, else 0."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return np.where(z > threshold, z - threshold, np.where(z < -threshold, z + threshold, 0.0))


def shrink_derivative(z, threshold=0.5):
    """f'(z) = 1 where |z| > threshold, else 0 (soft_shrink and hard_shrink alike)."""
    return (np.abs(np.asarray(z)) > threshold).astype(np.float64)


def hard_shrink(z, threshold=0.5):
    """f(z) = z where |z| > threshold, else 0."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return np.where(np.abs(z) > threshold, z, 0.0)


def tanh_shrink(z):
    """f(z) = z - tanh(z)."""
    return np.asarray(z) - np.tanh(z)


def tanh_shrink_derivative(z):
    """f'(z) = tanh(z)^2."""
    return np.square(np.tanh(z))


def sparse_plus(z):
    """f(z) = 0 for z <= -1, (z + 1)^2 / 4 for -1 < z < 1, z for z >= 1."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return np.where(z <= -1, 0.0, np.where(z < 1, 0.25 * np.square(z + 1), z))


def sparse_plus_derivative(z):
    """f'(z) = 0, (z + 1) / 2, 1 on the three pieces."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return np.where(z <= -1, 0.0, np.where(z < 1, 0.5 * (z + 1), 1.0))


def sparse_sigmoid(z):
    """f(z) = 0 for z <= -1, (z + 1) / 2 for -1 < z < 1, 1 for z >= 1."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    return np.where(z <= -1, 0.0, np.where(z >= 1, 1.0, 0.5 * (z + 1)))


def sparse_sigmoid_derivative(z):
    """f'(z) = 1/2 on -1 < z < 1, else 0."""
    z = np.asarray(z)
    return np.where((z > -1) & (z < 1), 0.5, 0.0)


def log_softmax(z, axis=-1):
    """f(z)_k = z_k - log sum_j exp(z_j) along ``axis`` (the max subtracted first)."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def log_softmax_vjp(a, da, axis=-1):
    """dL/dz from dL/da for a = log_softmax(z): da - softmax(z) sum(da), softmax(z) = e^a."""
    return da - np.exp(a) * np.sum(da, axis=axis, keepdims=True)


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
# Keras's other string activations, with Keras's default arguments. The Keras name is the name.
for _name, _function, _derivative in [
        ("leaky_relu", leaky_relu, leaky_relu_derivative), ("relu6", relu6, relu6_derivative),
        ("elu", elu, elu_derivative), ("selu", selu, selu_derivative), ("celu", celu, celu_derivative),
        ("gelu", gelu, gelu_derivative), ("silu", silu, silu_derivative),
        ("softplus", softplus, softplus_derivative), ("softsign", softsign, softsign_derivative),
        ("log_sigmoid", log_sigmoid, log_sigmoid_derivative),
        ("hard_sigmoid", hard_sigmoid, hard_sigmoid_derivative), ("hard_silu", hard_silu, hard_silu_derivative),
        ("hard_tanh", hard_tanh, hard_tanh_derivative), ("mish", mish, mish_derivative),
        ("exponential", exponential, exponential), ("squareplus", squareplus, squareplus_derivative),
        ("soft_shrink", soft_shrink, shrink_derivative), ("hard_shrink", hard_shrink, shrink_derivative),
        ("tanh_shrink", tanh_shrink, tanh_shrink_derivative), ("sparse_plus", sparse_plus, sparse_plus_derivative),
        ("sparse_sigmoid", sparse_sigmoid, sparse_sigmoid_derivative)]:
    ACTIVATIONS[_name] = Activation(_name, _function, _derivative, keras_name=_name)
ACTIVATIONS["log_softmax"] = Activation("log_softmax", log_softmax, None, vjp=log_softmax_vjp,
                                        keras_name="log_softmax")
# Keras's aliases: the same function (Keras serialises them under the first name)
ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}
# Keras names that cannot be a layer's activation here: glu halves the last axis (a Dense with
# activation="glu" would not have `units` outputs); threshold needs arguments that a name cannot carry.
REFUSED = {
    "glu": "it halves the last axis (x1 * sigmoid(x2) for the two halves), so the layer's output shape "
           "would not be its units; apply it to the output yourself",
    "threshold": "it needs `threshold` and `default_value` arguments, which a name cannot carry",
    # keras/src/backend/tensorflow/nn.py (3.13 to 3.15) takes tau = (sum of the support's cumulative sums - 1) / k
    # instead of (the cumulative sum at k - 1) / k, so its outputs need not sum to 1 (often all 0)
    "sparsemax": "Keras's TensorFlow sparsemax (3.13 to 3.15) computes the threshold tau wrongly (its outputs "
                 "need not sum to 1), so there is no faithful twin to check against",
}


def get(identifier):
    """The Activation for a name (``"relu"``), ``None`` (linear) or an Activation (returned as is)."""
    if identifier is None:
        return ACTIVATIONS["linear"]
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        key = ALIASES.get(identifier.lower(), identifier.lower())
        if key in ACTIVATIONS:
            return ACTIVATIONS[key]
        if key in REFUSED:
            raise ValueError(f"The activation '{identifier}' is not available as a layer activation: "
                             f"{REFUSED[key]}.")
        raise ValueError(f"Unknown activation '{identifier}'. "
                         f"Expected one of {sorted(ACTIVATIONS) + sorted(ALIASES)} or None (linear).")
    raise TypeError(f"activation must be a name such as 'relu', None or an Activation; "
                    f"received {type(identifier).__name__}: {identifier!r}.")


def serialize(activation):
    return get(activation).name
