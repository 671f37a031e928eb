"""Merge layers: ``Add``, ``Subtract``, ``Multiply``, ``Average`` and ``Concatenate``, as Keras's.

A merge layer takes a list of tensors: ``forward([x1, x2, ...]) -> y`` and
``backward(dout) -> [dx1, dx2, ...]`` (one gradient per input, in order). Like Keras, the
element-wise ones broadcast: axes of size 1 stretch, and an input of lower rank gets axes of
size 1 inserted after the batch axis; backward sums the gradient back over the stretched axes.
No weights.
"""
from __future__ import annotations

import numpy as np

from ..base import Layer


def _unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting stretched to undo it: the result has ``shape``."""
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(1, 1 + extra)))  # the axes Keras inserted after the batch axis
    stretched = tuple(i for i, (g, s) in enumerate(zip(grad.shape, shape)) if s == 1 and g != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad


class _Merge(Layer):
    """Element-wise merge of a list of inputs (Keras's ``Merge`` base class).

    Shapes: xs ``[(N, ...), (N, ...), ...]`` (broadcastable) -> y ``(N, ...)``.
    """

    min_inputs = 1

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._cache = None

    # ------------------------------------------------------------ shape checks
    @staticmethod
    def _elementwise_shape(shape1, shape2):
        """Keras's ``_compute_elemwise_op_output_shape`` (shapes without the batch axis)."""
        if shape1 is None or shape2 is None:
            return None
        if len(shape1) < len(shape2):
            return _Merge._elementwise_shape(shape2, shape1)
        if not shape2:
            return tuple(shape1)
        output_shape = list(shape1[:-len(shape2)])
        for i, j in zip(shape1[-len(shape2):], shape2):
            if i is None or j is None:
                output_shape.append(None)
            elif i == 1:
                output_shape.append(j)
            elif j == 1:
                output_shape.append(i)
            else:
                if i != j:
                    raise ValueError(f"Inputs have incompatible shapes. Received shapes {tuple(shape1)} "
                                     f"and {tuple(shape2)}")
                output_shape.append(i)
        return tuple(output_shape)

    def _check_shapes(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or \
                not isinstance(input_shape[0], (list, tuple)):
            raise ValueError(f"A merge layer should be called on a list of inputs. "
                             f"Received: input_shape={input_shape} (not a list of shapes)")
        input_shape = [tuple(s) for s in input_shape]
        if len(input_shape) < self.min_inputs:
            raise ValueError(f"A `{type(self).__name__}` layer should be called on a list of at least "
                             f"{self.min_inputs} inputs. Received {len(input_shape)} inputs. "
                             f"Full input_shape received: {input_shape}")
        batch_sizes = {s[0] for s in input_shape if s} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(f"Cannot merge tensors with different batch sizes. "
                             f"Received tensors with shapes {input_shape}")
        return input_shape

    def build(self, input_shape):
        input_shape = self._check_shapes(input_shape)
        self.compute_output_shape(input_shape)
        self.input_shape = input_shape
        self.built = True

    def compute_output_shape(self, input_shape):
        input_shape = self._check_shapes(input_shape)
        output_shape = input_shape[0][1:]
        for shape in input_shape[1:]:
            output_shape = self._elementwise_shape(output_shape, shape[1:])
        batch_sizes = {s[0] for s in input_shape} - {None}
        return (batch_sizes.pop() if batch_sizes else None,) + tuple(output_shape)

    # -------------------------------------------------------- forward/backward
    def _inputs(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"A merge layer should be called on a list of inputs. "
                             f"Received: inputs={type(inputs).__name__} of shape "
                             f"{getattr(inputs, 'shape', '?')} (not a list of tensors)")
        xs = [self._as_input(x, min_ndim=1, what=f"input {i}") for i, x in enumerate(inputs)]
        self.compute_output_shape([x.shape for x in xs])  # Keras's shape checks, on the batch
        if not self.built:
            self.build([(None,) + x.shape[1:] for x in xs])
        ndim = max(x.ndim for x in xs)  # Keras expands lower-rank inputs at axis 1
        return [x.reshape(x.shape[:1] + (1,) * (ndim - x.ndim) + x.shape[1:]) for x in xs]

    def forward(self, inputs, training=False):
        xs = self._inputs(inputs)
        y = self._merge(xs)
        self._cache = ([np.shape(x) for x in inputs], xs, y.shape)
        return y

    def backward(self, dout):
        self._require_forward()
        shapes, xs, y_shape = self._cache
        dout = self._check_dout(dout, y_shape)
        self.set_grads()
        return [_unbroadcast(dx, x.shape).reshape(shape)
                for dx, x, shape in zip(self._merge_grads(xs, dout), xs, shapes)]

    def _merge(self, xs):
        raise NotImplementedError

    def _merge_grads(self, xs, dout):
        raise NotImplementedError


class Add(_Merge):
    """``y = x1 + x2 + ...``, as ``keras.layers.Add``.  Backward: ``dx_i = dy``."""

    keras_class = "Add"

    def _merge(self, xs):
        return sum(xs[1:], xs[0])

    def _merge_grads(self, xs, dout):
        return [dout] * len(xs)


class Subtract(_Merge):
    """``y = x1 - x2``, as ``keras.layers.Subtract`` (exactly 2 inputs).
    Backward: ``dx1 = dy``, ``dx2 = -dy``."""

    keras_class = "Subtract"

    def _check_shapes(self, input_shape):
        input_shape = super()._check_shapes(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"A `Subtract` layer should be called on exactly 2 inputs. "
                             f"Received: input_shape={input_shape}")
        return input_shape

    def _merge(self, xs):
        return xs[0] - xs[1]

    def _merge_grads(self, xs, dout):
        return [dout, -dout]


class Multiply(_Merge):
    """``y = x1 * x2 * ...`` element-wise, as ``keras.layers.Multiply``.
    Backward: ``dx_i = dy * prod_{j != i} x_j``."""

    keras_class = "Multiply"

    def _merge(self, xs):
        y = xs[0]
        for x in xs[1:]:
            y = y * x
        return y

    def _merge_grads(self, xs, dout):
        grads = []
        for i in range(len(xs)):
            g = dout
            for j, x in enumerate(xs):
                if j != i:
                    g = g * x
            grads.append(g)
        return grads


class Average(_Merge):
    """``y = (x1 + ... + xn) / n``, as ``keras.layers.Average``.  Backward: ``dx_i = dy / n``."""

    keras_class = "Average"

    def _merge(self, xs):
        return sum(xs[1:], xs[0]) / len(xs)

    def _merge_grads(self, xs, dout):
        return [dout / len(xs)] * len(xs)


class Concatenate(_Merge):
    """Joins the inputs along ``axis``, as ``keras.layers.Concatenate(axis=-1)``.

    Shapes: xs ``[(N, ..., d_1), (N, ..., d_2), ...]`` -> y ``(N, ..., d_1 + d_2 + ...)`` (for the
    last axis; the other axes must match, no broadcasting).
    Backward: ``dx_i`` = the slice of ``dy`` that ``x_i`` filled.
    """

    keras_class = "Concatenate"

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"Concatenate expects an integer axis. Received: axis={axis!r}")
        self.axis = int(axis)

    def _check_shapes(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or \
                not isinstance(input_shape[0], (list, tuple)):
            raise ValueError(f"A `Concatenate` layer should be called on a list of at least 1 input. "
                             f"Received: input_shape={input_shape}")
        input_shape = [tuple(s) for s in input_shape]
        error = (f"A `Concatenate` layer requires inputs with matching shapes except for the "
                 f"concatenation axis. Received: input_shape={input_shape}")
        if len({len(s) for s in input_shape}) != 1:
            raise ValueError(error)
        rank = len(input_shape[0])
        if not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(f"Concatenate axis={self.axis} is out of range for inputs of rank {rank} "
                             f"(or is the batch axis). Received: input_shape={input_shape}")
        axis = self.axis % rank
        for d in range(rank):
            if d != axis and len({s[d] for s in input_shape} - {None}) > 1:
                raise ValueError(error)
        return input_shape

    def compute_output_shape(self, input_shape):
        input_shape = self._check_shapes(input_shape)
        axis = self.axis % len(input_shape[0])
        out = [next((s[d] for s in input_shape if s[d] is not None), None) for d in range(len(input_shape[0]))]
        sizes = [s[axis] for s in input_shape]
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def _merge(self, xs):
        return np.concatenate(xs, axis=self.axis)

    def _merge_grads(self, xs, dout):
        ends = np.cumsum([x.shape[self.axis] for x in xs])[:-1]
        return np.split(dout, ends, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
