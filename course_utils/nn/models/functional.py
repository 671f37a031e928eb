"""Functional models, as Keras builds them: ``Model(inputs=..., outputs=...)`` over the graph of
layer calls that ``nn.Input`` tensors recorded (``course_utils.nn.symbolic``).

    >>> x = nn.Input(shape=(8,))
    >>> h = nn.Dense(16, activation="relu")(x)
    >>> y = nn.Add()([x, nn.Dense(8)(h)])             # a residual connection
    >>> model = nn.Model(inputs=x, outputs=y)          # the graph between x and y

``Model`` walks these nodes back from the outputs, as Keras's ``map_graph`` does:

- ``forward`` runs the nodes in topological order (deepest first);
- ``backward`` runs them in reverse: each node's layer turns dL/d(its output) into one gradient
  per tensor argument (in the order they appear in the call; a list contributes its elements),
  and a tensor that feeds several layers gets the sum of their gradients (the chain rule's
  sum over paths).

``Model`` keeps its layers in Keras's order (``keras.Model.layers``, input layers included), so
``weights``, ``get_weights``/``set_weights``, ``grads`` and the training loop (``compile``,
``fit``, ``evaluate``, ``predict``, ``train_on_batch``) are ``BaseModel``'s, as Sequential's.
"""
from __future__ import annotations

import collections

import numpy as np


from ..base import _unique_name, shape_str
from ..masks import propagate_masks
from ..symbolic import SymbolicTensor, _flatten
from .model import BaseModel


def _as_tensor_list(value, what):
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise ValueError(f"Model needs at least one {what} tensor, received an empty list.")
    return values


def map_graph(inputs, outputs):
    """The graph between ``inputs`` and ``outputs``, as Keras's ``map_graph``: (nodes in execution
    order, layers in Keras's order). Raises if an output needs a tensor that is not computable
    from ``inputs`` or if an input does not reach any output."""
    finished, in_progress, ordered, layer_index = set(), set(), [], {}
    input_ids = {id(t) for t in inputs}

    def visit(tensor):
        node = tensor.node
        if node in finished:
            return
        if node.is_input and id(tensor) not in input_ids:
            raise ValueError(f"Graph disconnected: the output depends on the input {tensor}, which is not "
                             f"among the model's inputs {[t.name for t in inputs]}. Pass it in "
                             f"Model(inputs=[...]).")
        if node in in_progress:  # pragma: no cover - a call cannot consume its own output
            raise ValueError(f"Tensor {tensor} from layer '{node.layer.name}' is part of a cycle.")
        layer_index.setdefault(node.layer, len(layer_index))
        in_progress.add(node)
        for t in node.input_tensors:
            visit(t)
        in_progress.discard(node)
        finished.add(node)
        ordered.append(node)

    for t in outputs:
        visit(t)
    # depth: the longest path to an output (Keras's), so that the nodes run deepest first
    depth = {}
    for node in reversed(ordered):
        d = depth.setdefault(node, 0)
        for t in node.input_tensors:
            depth[t.node] = max(depth.get(t.node, 0), d + 1)
    reached = {id(node.outputs[0]) for node in ordered if node.is_input}
    for t in inputs:
        if id(t) not in reached:
            raise ValueError(f"The output does not depend on input '{t.name}' {shape_str(t.shape)}: every "
                             f"input of a Model must feed its outputs. Remove it from inputs=, or "
                             f"connect it to the graph.")
    nodes = sorted(ordered, key=lambda node: -depth[node])  # stable: traversal order within a depth
    layers = sorted(layer_index, key=lambda layer: (-depth[next(n for n in ordered if n.layer is layer)],
                                                    layer_index[layer]))
    return nodes, layers


def _layer_tree(layer):
    """``layer`` and every layer it holds (a wrapper's layer, a nested model's layers), each once."""
    found, stack = {}, [layer]
    while stack:
        item = stack.pop()
        if id(item) not in found:
            found[id(item)] = item
            stack.extend(item._sublayers())
    return list(found.values())


def _snapshot(layer):
    """What a shared layer's forward left behind (its and its sublayers' attributes, shallow), so
    that the backward of each of its calls runs on that call's own forward cache."""
    return [(item, dict(vars(item))) for item in _layer_tree(layer)]


def _restore(snapshot):
    for item, saved in snapshot:
        vars(item).update(saved)


def _sum_grads(total, layer):
    """Add this call's weight gradients (of ``layer`` and its sublayers) into ``total``."""
    for item in _layer_tree(layer):
        grads = [np.asarray(g) for g in vars(item).get("_grads", [])]
        if id(item) in total and grads:
            grads = [a + b for a, b in zip(total[id(item)][1], grads)]
        if grads or id(item) not in total:
            total[id(item)] = (item, grads)


def _is_mask_argument(name):
    return name == "mask" or name.endswith("_mask")   # booleans (attention_mask, query_mask): no gradient


def _input_gradients(node, dxs):
    """One gradient per input tensor of the call (``node.input_tensors``' order), from what the
    layer's backward returned: one per input tensor; or one per tensor that is not a mask (merge
    layers, MultiHeadAttention: [dquery, dvalue(, dkey)]); or the gradient of its first tensor
    argument and the other arguments' from ``layer.argument_gradients()`` (a recurrent layer's
    ``initial_state``). A mask gets none."""
    if isinstance(dxs, (list, tuple)) and len(dxs) == len(node.input_tensors):
        return list(dxs)
    arguments = [(name, _flatten(value)) for name, value in node.arguments.items() if _flatten(value)]
    n_values = sum(len(tensors) for name, tensors in arguments if not _is_mask_argument(name))
    if isinstance(dxs, (list, tuple)) and len(dxs) >= n_values and all(d is None for d in dxs[n_values:]):
        given = iter(dxs[:n_values])
        return [None if _is_mask_argument(name) else next(given) for name, tensors in arguments for _ in tensors]
    extra = getattr(node.layer, "argument_gradients", dict)()
    grads = []
    for i, (name, tensors) in enumerate(arguments):
        if i == 0:
            given = list(dxs) if isinstance(dxs, (list, tuple)) else [dxs]
        elif _is_mask_argument(name):
            given = [None] * len(tensors)
        elif name in extra:
            given = list(extra[name]) if isinstance(extra[name], (list, tuple)) else [extra[name]]
        else:
            raise RuntimeError(f"Layer '{node.layer.name}' ({type(node.layer).__name__}) was called with the "
                               f"tensor argument {name}=, but its backward gives no gradient for it; the "
                               f"NumPy Model cannot backpropagate through it. Pass it as a constant array.")
        if len(given) != len(tensors):
            raise RuntimeError(f"Layer '{node.layer.name}' backward returned {len(given)} gradients for "
                               f"the {len(tensors)} tensors of its argument {name}=.")
        grads += given
    return grads


class Model(BaseModel):
    """A functional model, as ``keras.Model(inputs=..., outputs=...)``; itself a Layer.

    Shapes: x ``(N, *input.shape[1:])`` (or a list, one array per input) -> y likewise per output.

    Forward:   each node y_n = layer_n(its input tensors), deepest node first.
    Backward:  in reverse, [dx_1, ..., dx_k] = layer_n.backward(dy_n); a tensor used by several
               nodes gets dL/dt = sum over its uses.

    ``layers`` is Keras's ``model.layers`` (input layers first); weights, grads, freezing and the
    training loop are ``BaseModel``'s, as for Sequential (a list of layers in Keras's order).
    """

    def __init__(self, inputs, outputs, name=None, _implicit_masks=True):
        super().__init__(name=name or _unique_name("functional"))
        self._multi_input = isinstance(inputs, (list, tuple))
        self._multi_output = isinstance(outputs, (list, tuple))
        self.inputs = _as_tensor_list(inputs, "input")
        self.outputs = _as_tensor_list(outputs, "output")
        for t in self.inputs:
            if not isinstance(t, SymbolicTensor):
                raise TypeError(f"Model inputs must be tensors made by nn.Input(shape=...), received "
                                f"{type(t).__name__}.")
            if not t.node.is_input:
                raise TypeError(f"Model inputs must be tensors made by nn.Input(shape=...); {t} is the "
                                f"output of layer '{t.node.layer.name}'.")
        for t in self.outputs:
            if not isinstance(t, SymbolicTensor):
                raise TypeError(f"Model outputs must be symbolic tensors (the result of calling layers on "
                                f"nn.Input tensors), received {type(t).__name__}.")
        self._nodes, self.layers = map_graph(self.inputs, self.outputs)
        # the masks Keras would pass (Embedding(mask_zero=True), Masking); a converted Keras graph has them
        if _implicit_masks and propagate_masks(self._nodes):
            self._nodes, self.layers = map_graph(self.inputs, self.outputs)
        calls = collections.Counter(node.layer for node in self._nodes if not node.is_input)
        self._shared = {layer for layer, n in calls.items() if n > 1}   # called several times
        self._call_caches = {}
        self.input_shape = self.inputs[0].shape if not self._multi_input else [t.shape for t in self.inputs]
        self.output_shape = self.outputs[0].shape if not self._multi_output else [t.shape for t in self.outputs]
        self.built = True

    def compute_output_shape(self, input_shape):
        shapes = input_shape if self._multi_input else [input_shape]
        batch = shapes[0][0] if shapes and shapes[0] else None
        out = [(batch,) + tuple(t.shape[1:]) for t in self.outputs]
        return out if self._multi_output else out[0]

    # ----------------------------------------------------------- forward/backward
    def _check_inputs(self, x):
        if isinstance(x, dict):  # {input name: array}, as Keras takes a dict of keras.Input
            missing = [t.name for t in self.inputs if t.name not in x]
            if missing or len(x) != len(self.inputs):
                raise ValueError(f"Model '{self.name}' was passed a dict with keys {sorted(x)}; it expects one "
                                 f"array for each of its inputs {[t.name for t in self.inputs]} (missing: {missing}).")
            x = [x[t.name] for t in self.inputs]
        xs = list(x) if (self._multi_input or len(self.inputs) > 1) and isinstance(x, (list, tuple)) else [x]
        if len(xs) != len(self.inputs):
            raise ValueError(f"Model '{self.name}' expects {len(self.inputs)} input(s) "
                             f"({', '.join(t.name for t in self.inputs)}), received {len(xs)}.")
        checked = []
        for t, value in zip(self.inputs, xs):
            value = np.asarray(value)
            if value.ndim != len(t.shape) or any(r is not None and d != r for d, r in zip(value.shape, t.shape)):
                raise ValueError(f"Model '{self.name}' was passed incompatible inputs. For input '{t.name}', "
                                 f"expected shape {shape_str(t.shape)}, but received instead a tensor with "
                                 f"shape {shape_str(value.shape)}.")
            checked.append(value)
        return checked

    def forward(self, x, training=None):
        """The outputs for ``x``. ``training`` (True/False) goes to every layer, as Keras's
        ``model(x, training=...)`` (fit/evaluate/predict pass it); ``None`` keeps a
        ``training=`` fixed when a layer was called in the graph, else inference."""
        values = {id(t): value for t, value in zip(self.inputs, self._check_inputs(x))}
        self._call_caches = {}  # node -> its shared layer's forward cache
        for node in self._nodes:
            if node.is_input:
                continue
            out = node.call(values, training)
            if node.layer in self._shared:
                self._call_caches[node] = _snapshot(node.layer)
            for t, value in zip(node.outputs, out if len(node.outputs) > 1 else [out]):
                values[id(t)] = value
        self._values_shapes = {key: np.shape(value) for key, value in values.items()}
        outs = [values[id(t)] for t in self.outputs]
        return outs if self._multi_output else outs[0]

    def backward(self, dout, from_logits=False):
        """dL/d(inputs) from dL/d(outputs) (a list for several outputs); with ``from_logits`` the
        output layer's activation is skipped (``dout`` is dL/dz of its logits), as Sequential's."""
        if not hasattr(self, "_values_shapes"):
            raise RuntimeError(f"Model '{self.name}': call forward() before backward().")
        douts = list(dout) if self._multi_output else [dout]
        grads, shared_grads = {}, {}
        for t, d in zip(self.outputs, douts):
            grads[id(t)] = grads.get(id(t), 0) + np.asarray(d)
        for node in reversed(self._nodes):
            if node.is_input:
                continue
            dys = [grads.get(id(t)) for t in node.outputs]
            if all(d is None for d in dys):
                continue
            dys = [np.zeros(self._values_shapes[id(t)]) if d is None else d for t, d in zip(node.outputs, dys)]
            if node in self._call_caches:
                _restore(self._call_caches[node])   # this call's forward cache
            if from_logits and node.layer is self.layers[-1]:
                dxs = node.layer.backward_from_logits(dys[0])
            else:
                dxs = node.layer.backward(dys if len(dys) > 1 else dys[0])
            if node.layer in self._shared:
                _sum_grads(shared_grads, node.layer)   # a shared layer's weights: summed over its calls
            for t, dx in zip(node.input_tensors, _input_gradients(node, dxs)):
                if dx is not None:  # None: an integer input (Embedding) has no gradient
                    grads[id(t)] = grads[id(t)] + dx if id(t) in grads else dx
        for item, summed in shared_grads.values():
            item._grads = summed
        dxs = [grads.get(id(t)) for t in self.inputs]
        return dxs if self._multi_input else dxs[0]

    # ------------------------------------------------------------ training / display
    def _check_xy(self, x, y, what="x"):
        if self._multi_input or self._multi_output:
            raise NotImplementedError(f"Model '{self.name}' has {len(self.inputs)} inputs and "
                                      f"{len(self.outputs)} outputs; compile/fit/evaluate of the NumPy Model "
                                      f"take one input and one output. Use forward/backward directly.")
        return super()._check_xy(x, y, what)

    def summary(self, print_fn=print):
        lines = [f'Model: "{self.name}"',
                 f"{'Layer (type)':<32}{'Output Shape':<24}{'Param #':>10}  Connected to"]
        for node in self._nodes:
            shape = ", ".join(shape_str(t.shape) for t in node.outputs)
            parents = ", ".join(t.node.layer.name for t in node.input_tensors) or "-"
            lines.append(f"{node.layer.name + ' (' + type(node.layer).__name__ + ')':<32}{shape:<24}"
                         f"{node.layer.count_params():>10,}  {parents}")
        lines.append(f"Total params: {self.count_params():,}")
        print_fn("\n".join(lines))
