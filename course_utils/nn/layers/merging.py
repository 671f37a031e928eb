"""Merge layers: ``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``, ``Minimum``,
``Concatenate`` and ``Dot``, as Keras's.

A merge layer takes a list of tensors: ``forward([x1, x2, ...]) -> y`` and
``backward(dout) -> [dx1, dx2, ...]`` (one gradient per input, in order). Like Keras, the
element-wise ones broadcast: axes of size 1 stretch, and an input of lower rank gets axes of
size 1 inserted after the batch axis; backward sums the gradient back over the stretched axes.
No weights.
"""
from __future__ import annotations

import numpy as np

from ..base import InputSpec, Layer


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
    input_spec = {"inputs": InputSpec(min_ndim=1)}   # every array of the list: numeric, finite, a batch axis

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
        self.input_shape = [(None,) + s[1:] for s in input_shape]   # no weights: any batch size
        self.built = True

    def compute_output_shape(self, input_shape):
        input_shape = self._check_shapes(input_shape)
        output_shape = input_shape[0][1:]
        for shape in input_shape[1:]:
            output_shape = self._elementwise_shape(output_shape, shape[1:])
        batch_sizes = {s[0] for s in input_shape} - {None}
        return (batch_sizes.pop() if batch_sizes else None,) + tuple(output_shape)

    # -------------------------------------------------------- forward/backward
    def _check_input_specs(self, arguments):
        """A list of inputs, each checked against the spec, then Keras's shape checks on this batch's shapes."""
        inputs = arguments["inputs"]
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"A merge layer should be called on a list of inputs. "
                             f"Received: inputs={type(inputs).__name__} of shape "
                             f"{getattr(inputs, 'shape', '?')} (not a list of tensors)")
        checked = super()._check_input_specs({"inputs": list(inputs)})   # builds on the first call
        self.compute_output_shape([x.shape for x in checked["inputs"]])
        return checked

    def _inputs(self, xs):
        """Keras expands lower-rank inputs at axis 1, so that they broadcast."""
        ndim = max(x.ndim for x in xs)
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


class _MaskedMerge(_Merge):
    """A merge whose result depends on its inputs' masks (``mask``: one (N, T) mask or None per
    input, from Embedding(mask_zero=True) or Masking); Keras reads them from the inputs at run time."""

    def forward(self, inputs, training=False, mask=None):
        self._masks = None if mask is None or all(m is None for m in mask) else list(mask)
        if self._masks is not None and len(self._masks) != len(inputs):
            raise ValueError(f"{type(self).__name__} '{self.name}' expects one mask (or None) per input: "
                             f"{len(inputs)}, received {len(self._masks)}.")
        if self._masks is not None:   # Keras's reshape (expand_dims at axis 1) of a lower-rank input drops its mask
            ndim = max(np.ndim(x) for x in inputs)
            self._masks = [m if np.ndim(x) == ndim else None for x, m in zip(inputs, self._masks)]
        return super().forward(inputs, training)

    def _broadcast_masks(self, xs):
        """Each input's mask m[..., None] broadcast to the input's shape (None where it has none), as
        Keras's ``broadcast_to(expand_dims(mask, -1), shape(x))``."""
        masks = getattr(self, "_masks", None) or [None] * len(xs)
        return [None if m is None else np.broadcast_to(np.asarray(m, bool)[..., None], x.shape)
                for x, m in zip(xs, masks)]


class Multiply(_MaskedMerge):
    """``y = x1 * x2 * ...`` element-wise, as ``keras.layers.Multiply``.
    Backward: ``dx_i = dy * prod_{j != i} x_j``.

    With masks (``mask``: one (N, T) mask or None per input, from Embedding(mask_zero=True) or
    Masking), as Keras: a masked step of an input counts as 1, x_i' = where(m_i, x_i, 1); when every
    input has a mask, y = where(m_1 | m_2 | ..., prod x_i', 0). Backward: dx_i = m_i dy' prod_{j != i} x_j'
    (dy' = dy where the output is kept).
    """

    keras_class = "Multiply"

    def _masked(self, xs):
        """(x_i' , m_i broadcast to x_i or None, the output's mask or None)."""
        ms = self._broadcast_masks(xs)
        kept = [x if m is None else np.where(m, x, 1.0) for x, m in zip(xs, ms)]
        out_mask = np.logical_or.reduce(ms) if all(m is not None for m in ms) else None
        return kept, ms, out_mask

    def _merge(self, xs):
        xs, _, out_mask = self._masked(xs)
        y = xs[0]
        for x in xs[1:]:
            y = y * x
        return y if out_mask is None else np.where(out_mask, y, 0.0)

    def _merge_grads(self, xs, dout):
        xs, ms, out_mask = self._masked(xs)
        if out_mask is not None:
            dout = dout * out_mask
        grads = []
        for i in range(len(xs)):
            g = dout
            for j, x in enumerate(xs):
                if j != i:
                    g = g * x
            grads.append(g if ms[i] is None else g * ms[i])
        return grads


class _Extremum(_MaskedMerge):
    """Element-wise maximum or minimum, folded over the inputs as Keras's
    ``Merge._apply_merge_op_and_or_mask``: y_1 = x_1, o_1 = m_1, then for i = 2, ..., n

        x_i' = where(m_i, x_i, y_{i-1})            (a masked step of x_i takes the value so far)
        y'   = where(o_{i-1}, y_{i-1}, x_i')       (a step masked so far takes x_i')
        y_i  = op(y', x_i'),   o_i = o_{i-1} | m_i (None once an input has no mask)

    (a where with a mask None keeps its first branch). Without masks: y = op(x_1, ..., x_n).
    Backward, i = n, ..., 2, from dy_n = dy: op's gradient goes to its first argument on a tie (as
    TensorFlow's), s = [y' >= x_i'] for Maximum, [y' <= x_i'] for Minimum:

        dy' = s dy_i,   dx_i' = (1 - s) dy_i + (1 - o_{i-1}) dy'
        dy_{i-1} = o_{i-1} dy' + (1 - m_i) dx_i',   dx_i = m_i dx_i'
        (a mask None counts as all ones), and dx_1 = dy_1.
    """

    _op = None
    _first_wins = None

    def _merge(self, xs):
        ms = self._broadcast_masks(xs)
        y, kept = xs[0], ms[0]
        self._steps = []
        for x, m in zip(xs[1:], ms[1:]):
            if m is not None:
                x = np.where(m, x, y)
            if kept is not None:
                y = np.where(kept, y, x)
            self._steps.append((m, kept, self._first_wins(y, x)))
            kept = kept | m if m is not None and kept is not None else None
            y = self._op(y, x)
        return y

    def _merge_grads(self, xs, dout):
        grads, d = [None] * len(xs), dout
        for i in range(len(xs) - 1, 0, -1):
            m, kept, first = self._steps[i - 1]
            d_y, d_x = np.where(first, d, 0.0), np.where(first, 0.0, d)
            if kept is not None:
                d_y, d_x = np.where(kept, d_y, 0.0), d_x + np.where(kept, 0.0, d_y)
            if m is not None:
                d_y, d_x = d_y + np.where(m, 0.0, d_x), np.where(m, d_x, 0.0)
            grads[i], d = d_x, d_y
        grads[0] = d
        return grads


class Maximum(_Extremum):
    """``y = max(x1, x2, ...)`` element-wise, as ``keras.layers.Maximum``.
    Backward: ``dx_i = dy`` where x_i is the maximum (the first of equal ones), else 0.

    With masks (``mask``: one (N, T) mask or None per input), as Keras: masked steps do not compete
    (``_Extremum`` has the formulas); the output's mask is the OR of the masks (None if one input has none).
    """

    keras_class = "Maximum"
    _op = staticmethod(np.maximum)
    _first_wins = staticmethod(np.greater_equal)


class Minimum(_Extremum):
    """``y = min(x1, x2, ...)`` element-wise, as ``keras.layers.Minimum``.
    Backward: ``dx_i = dy`` where x_i is the minimum (the first of equal ones), else 0.

    With masks, as Maximum (``_Extremum`` has the formulas).
    """

    keras_class = "Minimum"
    _op = staticmethod(np.minimum)
    _first_wins = staticmethod(np.less_equal)


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


class Dot(_Merge):
    """The dot product of two inputs along one axis of each, per example, as
    ``keras.layers.Dot(axes, normalize=False)`` (Keras's ``batch_dot``).

    Shapes: x1 ``(N, ..., d, ...)`` (d on ``axes[0]``), x2 ``(N, ..., d, ...)`` (d on ``axes[1]``) ->
    y ``(N, <x1's other axes>, <x2's other axes>)``, or ``(N, 1)`` for two ``(N, d)`` inputs.
    With ``normalize=True`` each input is first scaled to unit L2 norm along its axis (cosine
    similarity), as ``keras.ops.normalize`` (its 1/norm capped at 1e7).

    Forward:   y[n, I, J] = sum_k u[n, I, k] v[n, J, k]          (u, v: x1, x2 normalized or not)
    Backward:  du[n, I, k] = sum_J dy[n, I, J] v[n, J, k],   dv[n, J, k] = sum_I dy[n, I, J] u[n, I, k]
               then through the normalization: dx = r du - x r^3 sum_k(x du)   (as UnitNormalization)
    """

    keras_class = "Dot"
    input_spec = {"inputs": InputSpec(min_ndim=2)}   # each of the two: a batch axis and the axis contracted

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, (int, np.integer)):
            if not isinstance(axes, (list, tuple)):
                raise TypeError(f"Invalid type for argument `axes`: it should be a list or an int. Received: axes={axes}")
            if len(axes) != 2:
                raise ValueError(f"Invalid format for argument `axes`: it should contain two elements. "
                                 f"Received: axes={axes}")
            if not all(isinstance(a, (int, np.integer)) for a in axes):
                raise ValueError(f"Invalid format for argument `axes`: list elements should be integers. "
                                 f"Received: axes={axes}")
        self.axes = int(axes) if isinstance(axes, (int, np.integer)) else [int(a) for a in axes]
        self.normalize = bool(normalize)

    def _pair(self, shapes):
        """The contracted axis of each input (negative axes counted from each input's rank)."""
        axes = [self.axes] * 2 if isinstance(self.axes, int) else self.axes
        return [a % len(s) if a < 0 else a for a, s in zip(axes, shapes)]

    def _check_shapes(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or \
                not isinstance(input_shape[0], (list, tuple)):
            raise ValueError(f"A `Dot` layer should be called on a list of 2 inputs. Received: input_shape={input_shape}")
        shapes = [tuple(s) for s in input_shape]
        a1, a2 = self._pair(shapes)
        if any(len(s) < 2 for s in shapes) or not (0 < a1 < len(shapes[0]) and 0 < a2 < len(shapes[1])):
            raise ValueError(f"Dot expects two inputs of rank >= 2 and axes off the batch axis, within each "
                             f"input's rank. Received: axes={self.axes}, input shapes {shapes}")
        if None not in (shapes[0][a1], shapes[1][a2]) and shapes[0][a1] != shapes[1][a2]:
            raise ValueError(f"Incompatible input shapes: axis values {shapes[0][a1]} (at axis {a1}) != "
                             f"{shapes[1][a2]} (at axis {a2}). Full input shapes: {shapes[0]}, {shapes[1]}")
        return shapes

    def compute_output_shape(self, input_shape):
        shape1, shape2 = [list(s) for s in self._check_shapes(input_shape)]
        a1, a2 = self._pair([shape1, shape2])
        shape1.pop(a1)
        shape2.pop(a2)
        out = shape1 + shape2[1:]
        return tuple(out + [1] if len(out) == 1 else out)

    @staticmethod
    def _unit(x, axis):
        """(x / ||x|| along axis, 1 / ||x|| capped at 1e7, whether it was capped), as keras.ops.normalize."""
        with np.errstate(divide="ignore"):
            inv = 1.0 / np.sqrt((x * x).sum(axis=axis, keepdims=True))
        return x * np.minimum(inv, 1e7), np.minimum(inv, 1e7), inv >= 1e7

    def _check_input_specs(self, arguments):
        """Two inputs, then the merge layers' checks (each of rank >= 2, Keras's shape checks)."""
        inputs = arguments["inputs"]
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(f"A `Dot` layer should be called on a list of 2 inputs. Received: "
                             f"{type(inputs).__name__} {getattr(inputs, 'shape', len(inputs) if isinstance(inputs, (list, tuple)) else '')}")
        return super()._check_input_specs(arguments)

    def _inputs(self, xs):
        """The two inputs in one dtype; unlike the element-wise merges, no axes inserted (batch_dot)."""
        dtype = np.result_type(*xs)
        return [x.astype(dtype, copy=False) for x in xs]

    def _merge(self, xs):
        x1, x2 = xs
        a1, a2 = self._pair([x1.shape, x2.shape])
        self._axes_now = (a1, a2)
        if self.normalize:
            (u, r1, c1), (v, r2, c2) = self._unit(x1, a1), self._unit(x2, a2)
            self._norms = ((r1, c1), (r2, c2))
        else:
            u, v = x1, x2
        self._uv = (np.moveaxis(u, a1, -1), np.moveaxis(v, a2, -1))    # (N, I..., d), (N, J..., d)
        u_, v_ = self._uv
        i, j = u_.shape[1:-1], v_.shape[1:-1]
        y = np.einsum("nik,njk->nij", u_.reshape(len(u_), -1, u_.shape[-1]), v_.reshape(len(v_), -1, v_.shape[-1]))
        return y.reshape((len(y),) + (i + j if i + j else (1,)))

    def _merge_grads(self, xs, dout):
        u_, v_ = self._uv
        n, d = len(u_), u_.shape[-1]
        dy = dout.reshape(n, int(np.prod(u_.shape[1:-1], dtype=int)), int(np.prod(v_.shape[1:-1], dtype=int)))
        du = np.einsum("nij,njk->nik", dy, v_.reshape(n, -1, d)).reshape(u_.shape)
        dv = np.einsum("nij,nik->njk", dy, u_.reshape(n, -1, d)).reshape(v_.shape)
        grads = [np.moveaxis(du, -1, self._axes_now[0]), np.moveaxis(dv, -1, self._axes_now[1])]
        if self.normalize:
            grads = [np.where(capped, r * g, r * g - x * r ** 3 * (x * g).sum(axis=a, keepdims=True))
                     for g, x, (r, capped), a in zip(grads, xs, self._norms, self._axes_now)]
        return grads

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}
