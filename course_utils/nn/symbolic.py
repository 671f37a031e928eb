"""The symbolic graph, below the layers (as Keras's ``KerasTensor`` and ``ops/node.py``): what
calling a layer on a symbolic tensor records.

    >>> x = nn.Input(shape=(8,))                       # a symbolic tensor of shape (None, 8)
    >>> h = nn.Dense(16, activation="relu")(x)         # calling a layer records a Node

Calling a layer on a symbolic tensor builds the layer from the symbolic shape and returns a new
symbolic tensor that remembers its ``Node``: the layer, the call's arguments (tensors and
constants such as ``training=False`` or ``use_causal_mask=True``) and the input tensors.
``Layer.__call__`` hands such calls to ``call_symbolic``; the functional ``Model``
(``models/functional.py``) walks the nodes back from its outputs.
"""
from __future__ import annotations

import collections
import inspect

from .shapes import shape_str


class SymbolicTensor:
    """A placeholder for the tensor a layer will compute: a shape (batch ``None``) and where it
    comes from (``node``, the call that made it, and ``index`` among that call's outputs)."""

    def __init__(self, shape, dtype=None, node=None, index=0, name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.node = node
        self.index = index
        self.name = name

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<SymbolicTensor shape={shape_str(self.shape)}, name={self.name}>"


def _flatten(structure):
    """The symbolic tensors in ``structure`` (nested lists/tuples/dicts), in order."""
    if isinstance(structure, SymbolicTensor):
        return [structure]
    if isinstance(structure, (list, tuple)):
        return [t for item in structure for t in _flatten(item)]
    if isinstance(structure, dict):
        return [t for item in structure.values() for t in _flatten(item)]
    return []


def _fill_in(structure, fn):
    """``structure`` with every symbolic tensor ``t`` replaced by ``fn(t)``."""
    if isinstance(structure, SymbolicTensor):
        return fn(structure)
    if isinstance(structure, (list, tuple)):
        return type(structure)(_fill_in(item, fn) for item in structure)
    if isinstance(structure, dict):
        return {key: _fill_in(item, fn) for key, item in structure.items()}
    return structure


class Node:
    """One call of a layer in a graph: ``layer(*args, **kwargs) -> outputs``.

    ``arguments`` is the call bound to the layer's ``forward`` signature (its parameter order),
    symbolic tensors in place; ``input_tensors`` are those tensors flattened in that order - the
    order of the gradients ``layer.backward`` returns.
    """

    def __init__(self, layer, arguments, outputs, signature=None):
        self.layer = layer
        self.arguments = arguments
        self.signature = signature
        self.input_tensors = _flatten(list(arguments.values()))
        self.outputs = outputs

    def refresh_inputs(self):
        """Recount ``input_tensors`` after an argument was added (a mask, ``nn.masks``)."""
        self.input_tensors = _flatten(list(self.arguments.values()))

    @property
    def is_input(self):
        """The node of an ``Input`` (its InputLayer): it has no input tensors (Keras's rule)."""
        return not self.input_tensors

    def call(self, values, training):
        """Run the layer with ``values`` (id(symbolic tensor) -> array) in place of its tensors."""
        arguments = {name: _fill_in(value, lambda t: values[id(t)]) for name, value in self.arguments.items()}
        if "training" in self.signature.parameters:
            # Keras's rule: the model's mode, when given, wins over a training= fixed in the call;
            # model(x) without it uses the call's (else inference)
            if training is not None or arguments.get("training") is None:
                arguments["training"] = bool(training)
        bound = inspect.BoundArguments(self.signature, collections.OrderedDict(
            (name, arguments[name]) for name in self.signature.parameters if name in arguments))
        return self.layer.forward(*bound.args, **bound.kwargs)

    def __repr__(self):
        return f"<Node layer={self.layer.name}>"


def _parameters(fn):
    return inspect.signature(fn).parameters


def has_symbolic(args, kwargs):
    return bool(_flatten(list(args)) or _flatten(kwargs))


def _shape_call(fn, shapes):
    """Call ``build`` or ``compute_output_shape`` with the tensors' shapes: one argument gets the
    first tensor argument's shape; several are matched by name, ``<argument>_shape`` (Keras's rule)."""
    params = [p for p in _parameters(fn) if p not in ("args", "kwargs")]
    if len(params) <= 1:
        return fn(next(iter(shapes.values())))
    return fn(**{p: shapes[p[:-len("_shape")]] for p in params
                 if p.endswith("_shape") and p[:-len("_shape")] in shapes})


def _is_shape_list(shape):
    return isinstance(shape, list) or (isinstance(shape, tuple) and len(shape) > 0 and
                                       all(isinstance(s, (tuple, list)) for s in shape))


def call_symbolic(layer, args, kwargs):
    """``layer(*args, **kwargs)`` on symbolic tensors: build the layer from their shapes, record a
    Node and return the symbolic output tensor(s)."""
    signature = inspect.signature(layer.forward)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"Layer '{layer.name}' ({type(layer).__name__}) cannot be called with these "
                        f"arguments: {exc}. Its forward is {type(layer).__name__}.forward"
                        f"{inspect.signature(layer.forward)}.") from None
    arguments = dict(bound.arguments)
    for name, value in arguments.items():
        for t in _flatten(value):
            if t.node is None:
                raise ValueError(f"Layer '{layer.name}' received a symbolic tensor that no nn.Input "
                                 f"or layer call produced ({name}={t}).")
    shapes = {name: _fill_in(value, lambda t: t.shape) for name, value in arguments.items() if _flatten(value)}
    if not layer.built:
        _shape_call(layer.build, shapes)
    out_shape = _shape_call(layer.compute_output_shape, shapes)
    dtype = next((t.dtype for t in _flatten(list(arguments.values()))), None)
    out_shapes = [tuple(s) for s in out_shape] if _is_shape_list(out_shape) else [tuple(out_shape)]
    outputs = [SymbolicTensor(s, dtype=dtype, index=i, name=f"{layer.name}/output_{i}" if len(out_shapes) > 1
                              else layer.name) for i, s in enumerate(out_shapes)]
    node = Node(layer, arguments, outputs, signature)
    for t in outputs:
        t.node = node
    return outputs if _is_shape_list(out_shape) else outputs[0]
