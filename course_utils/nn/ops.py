"""``keras.ops`` calls as nodes of a functional graph: ``x + y``, ``x * 2.0``, ``keras.ops.relu(x)``.

In a Keras functional model such a call is an ``Operation`` node beside the layers (the keras-io
examples write ``x = x + inputs`` for a residual, ``keras.ops.nn.relu(x)`` for an activation).
``OpNode`` is its NumPy twin: one call of one operation, forward and backward, no weights:

    y = op(a, b, ...)                     a constant argument (``2.0``) stays a constant
    [da, db, ...] = op'(a, b, ...) dy     one gradient per tensor argument, summed back over the
                                          axes broadcasting stretched (``x + bias`` of shape (u,))

Boolean operations (``not_equal``, ``any``, ``all``, ``logical_and``, ``ones_like``/``zeros_like``: the
masks Keras's layers compute, ``Embedding(mask_zero=True)``'s, ``Masking``'s, ``Concatenate``'s) pass no
gradient. ``concatenate`` takes a list of tensors (``keras.ops.concatenate([a, b], axis)``): its OpNode
takes them as positional arguments, ``[da, db] = the slices of dy``. An operation not in
``OPS`` is refused by name, with the Keras layer to write instead.
"""
from __future__ import annotations

import inspect

import numpy as np

from . import activations
from .base import Layer


def _axes(config):
    axis = config.get("axis")
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _reduced_back(a, d, config):
    """dL/da of a sum over ``axis`` (keepdims or not): d broadcast back to a's shape."""
    axis = _axes(config)
    if axis is not None and not config.get("keepdims", False):
        d = np.expand_dims(d, axis)
    return np.broadcast_to(d, a.shape)


def _matmul_back(a, b, y, d, config):
    return [d @ np.swapaxes(b, -1, -2), np.swapaxes(a, -1, -2) @ d]


def _power_back(a, b, y, d, config):
    db = d * y * np.log(np.where(a > 0, a, 1.0)) if np.ndim(b) else None
    return [d * b * np.power(a, b - 1), db]


def _maximum_back(a, b, y, d, config):
    return [d * (a >= b), d * (a < b)]   # a tie goes to the first argument, as TensorFlow's


def _minimum_back(a, b, y, d, config):
    return [d * (a <= b), d * (a > b)]


def _concatenate(*args):
    *xs, config = args
    return np.concatenate(xs, axis=config.get("axis", 0))


def _concatenate_back(*args):
    """dL/dx_i: the slice of dL/dy that x_i filled."""
    *xs, y, d, config = args
    axis = config.get("axis", 0)
    return np.split(d, np.cumsum([np.shape(x)[axis] for x in xs])[:-1], axis=axis)


def _softmax_back(a, y, d, config):
    axis = config.get("axis", -1)
    return [y * (d - np.sum(d * y, axis=axis, keepdims=True))]


# Keras Operation class -> (forward(args, config), backward(*args, y, dout, config) -> grads or None)
# or None for a boolean operation (no gradient)
OPS = {
    "Add": (lambda a, b, c: a + b, lambda a, b, y, d, c: [d, d]),
    "Subtract": (lambda a, b, c: a - b, lambda a, b, y, d, c: [d, -d]),
    "Multiply": (lambda a, b, c: a * b, lambda a, b, y, d, c: [d * b, d * a]),
    "TrueDivide": (lambda a, b, c: a / b, lambda a, b, y, d, c: [d / b, -d * a / b ** 2]),
    "Divide": (lambda a, b, c: a / b, lambda a, b, y, d, c: [d / b, -d * a / b ** 2]),
    "Power": (lambda a, b, c: np.power(a, b), _power_back),
    "Maximum": (lambda a, b, c: np.maximum(a, b), _maximum_back),
    "Minimum": (lambda a, b, c: np.minimum(a, b), _minimum_back),
    "Matmul": (lambda a, b, c: a @ b, _matmul_back),
    "Negative": (lambda a, c: -a, lambda a, y, d, c: [-d]),
    "Relu": (lambda a, c: activations.relu(a), lambda a, y, d, c: [d * (a > 0)]),
    "Sigmoid": (lambda a, c: activations.sigmoid(a), lambda a, y, d, c: [d * y * (1 - y)]),
    "Tanh": (lambda a, c: np.tanh(a), lambda a, y, d, c: [d * (1 - y * y)]),
    "Silu": (lambda a, c: activations.silu(a), lambda a, y, d, c: [d * activations.silu_derivative(a)]),
    "Softplus": (lambda a, c: activations.softplus(a),
                 lambda a, y, d, c: [d * activations.softplus_derivative(a)]),
    "Gelu": (lambda a, c: activations.gelu(a, approximate=c.get("approximate", True)),
             lambda a, y, d, c: [d * activations.gelu_derivative(a, approximate=c.get("approximate", True))]),
    "Softmax": (lambda a, c: activations.softmax(a, axis=c.get("axis", -1)), _softmax_back),
    "Exp": (lambda a, c: np.exp(a), lambda a, y, d, c: [d * y]),
    "Log": (lambda a, c: np.log(a), lambda a, y, d, c: [d / a]),
    "Square": (lambda a, c: np.square(a), lambda a, y, d, c: [2 * a * d]),
    "Sqrt": (lambda a, c: np.sqrt(a), lambda a, y, d, c: [d / (2 * y)]),
    "Abs": (lambda a, c: np.abs(a), lambda a, y, d, c: [d * np.sign(a)]),
    "Sum": (lambda a, c: np.sum(a, axis=_axes(c), keepdims=c.get("keepdims", False)),
            lambda a, y, d, c: [_reduced_back(a, d, c)]),
    "Mean": (lambda a, c: np.mean(a, axis=_axes(c), keepdims=c.get("keepdims", False)),
             lambda a, y, d, c: [_reduced_back(a, d, c) * (np.size(y) / np.size(a))]),
    "Reshape": (lambda a, c: np.reshape(a, (a.shape[0],) + tuple(c["newshape"])[1:])
                if _keeps_batch(c["newshape"]) else np.reshape(a, c["newshape"]),
                lambda a, y, d, c: [d.reshape(a.shape)]),
    "Transpose": (lambda a, c: np.transpose(a, c.get("axes")),
                  lambda a, y, d, c: [np.transpose(d, np.argsort(c["axes"])) if c.get("axes") is not None
                                      else np.transpose(d)]),
    "ExpandDims": (lambda a, c: np.expand_dims(a, _axes(c)), lambda a, y, d, c: [d.reshape(a.shape)]),
    "Squeeze": (lambda a, c: np.squeeze(a, _axes(c)), lambda a, y, d, c: [d.reshape(a.shape)]),
    "Cast": (lambda a, c: np.asarray(a).astype(c["dtype"]), lambda a, y, d, c: [d]),
    "Concatenate": (_concatenate, _concatenate_back),   # a list of tensors: keras.ops.concatenate(xs, axis)
    "OnesLike": (lambda a, c: np.ones_like(a, dtype=c.get("dtype")), None),   # constant: no gradient
    "ZerosLike": (lambda a, c: np.zeros_like(a, dtype=c.get("dtype")), None),
    "NotEqual": (lambda a, b, c: np.not_equal(a, b), None),
    "Equal": (lambda a, b, c: np.equal(a, b), None),
    "Greater": (lambda a, b, c: np.greater(a, b), None),
    "Less": (lambda a, b, c: np.less(a, b), None),
    "LogicalAnd": (lambda a, b, c: np.logical_and(a, b), None),
    "LogicalOr": (lambda a, b, c: np.logical_or(a, b), None),
    "LogicalNot": (lambda a, c: np.logical_not(a), None),
    "Any": (lambda a, c: np.any(a, axis=_axes(c), keepdims=c.get("keepdims", False)), None),
    "All": (lambda a, c: np.all(a, axis=_axes(c), keepdims=c.get("keepdims", False)), None),
}

# The keras.ops function of each operation (its lower-case name unless listed).
_KERAS_FUNCTIONS = {"TrueDivide": "true_divide", "ExpandDims": "expand_dims", "NotEqual": "not_equal",
                    "LogicalAnd": "logical_and", "LogicalOr": "logical_or", "LogicalNot": "logical_not",
                    "OnesLike": "ones_like", "ZerosLike": "zeros_like"}
# The operations whose first argument is a list of tensors: their OpNode takes the list's items as its
# positional arguments (one gradient each).
LIST_ARGUMENT = {"Concatenate"}

# What to write instead of an operation without a twin.
_LAYER_ADVICE = ("keras.layers.Activation(...) for an activation, Add/Subtract/Multiply/Concatenate for "
                 "element-wise merges, Reshape/Permute for shapes, Rescaling for x * c + b")


def _keeps_batch(newshape):
    """Keras keeps the batch axis of a symbolic tensor when the new shape starts with -1 or None."""
    return newshape is not None and len(newshape) > 0 and newshape[0] in (-1, None)


def _unbroadcast(grad, shape):
    """Sum ``grad`` over the axes broadcasting added or stretched, so that it has ``shape``."""
    grad = np.asarray(grad)
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    stretched = tuple(i for i, (g, s) in enumerate(zip(grad.shape, shape)) if s == 1 and g != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad


def refuse_operation(operation):
    """The error for a Keras operation without a NumPy twin: which one, and what to write instead."""
    cls = type(operation)
    return ValueError(f"The Keras functional model calls the operation {cls.__module__}.{cls.__name__} "
                      f"('{operation.name}', keras.ops.{_KERAS_FUNCTIONS.get(cls.__name__, cls.__name__.lower())}) "
                      f"on a tensor; the NumPy library has no twin of it. Operations it converts: "
                      f"{', '.join(sorted(OPS))}. Write it with a Keras layer instead: {_LAYER_ADVICE}.")


class OpNode(Layer):
    """One call of a ``keras.ops`` operation in a functional graph (no weights).

    ``operation``: the Keras Operation class name (``"Add"``, ``"Relu"``, ...); ``config`` its
    arguments (``axis``, ``newshape``, ...); ``tensor_args``: which positional arguments are
    tensors (the others are constants); ``output_shape``: the symbolic output shape.
    Shapes: the operation's (broadcasting as NumPy and Keras do).
    """

    def __init__(self, operation, config=None, tensor_args=(True,), output_shape=None, name=None):
        if operation not in OPS:
            raise ValueError(f"OpNode has no operation {operation!r}; known: {', '.join(sorted(OPS))}.")
        super().__init__(name=name or f"op_{operation.lower()}")
        self.operation = operation
        self.config = {k: v for k, v in (config or {}).items() if k not in ("name", "dtype_policy")}
        self.tensor_args = tuple(bool(t) for t in tensor_args)
        self.output_shape = None if output_shape is None else tuple(output_shape)
        self._cache = None

    def build(self, input_shape):
        self.built = True

    def compute_output_shape(self, input_shape):
        return self.output_shape

    def forward(self, *args):
        forward, _ = OPS[self.operation]
        arrays = [np.asarray(a) if is_tensor else a for a, is_tensor in zip(args, self.tensor_args)]
        y = np.asarray(forward(*arrays, self.config))
        self._cache = (arrays, y)
        return y

    def backward(self, dout):
        """dout (the output's shape) -> one gradient per tensor argument (None for a boolean op)."""
        self._require_forward()
        arrays, y = self._cache
        _, backward = OPS[self.operation]
        tensors = [a for a, is_tensor in zip(arrays, self.tensor_args) if is_tensor]
        if backward is None:
            return [None] * len(tensors)
        grads = backward(*arrays, y, self._check_dout(dout, y.shape), self.config)
        self.set_grads()
        return [None if g is None else _unbroadcast(g, np.shape(a)) for a, g, is_tensor
                in zip(arrays, grads, self.tensor_args) if is_tensor]

    def keras_call(self, *args):
        """The same operation on Keras tensors (for ``to_keras``)."""
        from keras import ops
        fn = getattr(ops, _KERAS_FUNCTIONS.get(self.operation, self.operation.lower()))
        accepted = inspect.signature(fn).parameters
        args = (list(args),) if self.operation in LIST_ARGUMENT else args
        return fn(*args, **{k: v for k, v in self.config.items() if k in accepted})

    def get_config(self):
        return {**super().get_config(), "operation": self.operation, **self.config}
