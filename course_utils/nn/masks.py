"""Masks passed from layer to layer, as Keras passes them (``Layer.compute_mask``, ``supports_masking``).

``Embedding(mask_zero=True)`` and ``Masking`` make a mask (N, T): which time steps are real. Keras
hands it to the layers after them:

- a layer that uses it gets it as ``mask=`` (SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed,
  Multiply, Maximum, Minimum, GlobalAveragePooling1D, BatchNormalization) or as
  ``query_mask``/``value_mask``/``key_mask`` (MultiHeadAttention);
- the output's mask is ``output_mask`` below: kept by the element-wise layers (Dense, Activation,
  Dropout, the normalizations, ...), ``mask if return_sequences`` for a recurrent layer, the OR of
  the inputs' masks for Add/Subtract/Multiply/Average/Maximum/Minimum (None if one of them has none;
  Multiply also uses them: a masked step counts as 1; Maximum and Minimum too: a masked step of an
  input takes the value of the inputs before it, as Keras's ``_apply_merge_op_and_or_mask``), kept by
  TimeDistributed, ``mask if return_sequences`` for Bidirectional (twice with merge_mode=None), None
  after Dot (Keras's Dot.compute_mask), Keras's ``Concatenate.compute_mask`` for Concatenate (each
  input's mask as a boolean tensor of the input's shape - all True for an input without a mask -,
  concatenated along the axis, then ``any`` over the last axis: along the time axis the masks follow
  each other, along the features an unmasked input keeps every step), dropped by the layers that do
  not support masking (Conv1D, Flatten, GlobalMaxPooling1D, ...), as Keras drops it.

``Sequential`` applies the rules to arrays as it runs; a functional ``Model`` built from ``nn.Input``
applies them to its graph once (``propagate_masks``), adding the mask operations as graph nodes
(``nn.ops.OpNode``: NotEqual, LogicalOr, Any, and for Concatenate OnesLike, ZerosLike, ExpandDims and
the Concatenate of a list, as Keras records them) and the ``mask=`` arguments to the calls that take one.
"""
from __future__ import annotations

import inspect

import numpy as np

from .ops import OpNode

KEEPS_MASK = {"Dense", "Activation", "Dropout", "LayerNormalization", "BatchNormalization",
              "UnitNormalization", "LeakyReLU", "ReLU", "Softmax", "Rescaling", "Normalization",
              "MultiHeadAttention"}   # MultiHeadAttention: the query's mask, as Keras sets it
MERGES_MASKS = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}
RECURRENT = {"SimpleRNN", "LSTM", "GRU"}


class _NumpyMaskOps:
    not_equal = staticmethod(np.not_equal)
    logical_or = staticmethod(np.logical_or)

    @staticmethod
    def any_last(a):
        return np.any(a, axis=-1)

    @staticmethod
    def ones_like(x):
        return np.ones(np.shape(x), bool)

    @staticmethod
    def zeros_like(x):
        return np.zeros(np.shape(x), bool)

    @staticmethod
    def expand_last(a):
        return np.expand_dims(a, -1)

    @staticmethod
    def concatenate(masks, axis):
        return np.concatenate(masks, axis=axis)


def _broadcast_shape(a, b):
    """NumPy's broadcast of two symbolic shapes (None: unknown)."""
    a, b = (1,) * (len(b) - len(a)) + tuple(a), (1,) * (len(a) - len(b)) + tuple(b)
    return tuple(j if i == 1 else i if j == 1 else (i if i is not None else j) for i, j in zip(a, b))


class _SymbolicMaskOps:
    """The same operations as nodes of a graph (the Keras operations ``compute_mask`` records)."""

    @staticmethod
    def not_equal(a, b):
        return OpNode("NotEqual", tensor_args=(True, False), output_shape=a.shape)(a, b)

    @staticmethod
    def logical_or(a, b):
        return OpNode("LogicalOr", tensor_args=(True, True), output_shape=_broadcast_shape(a.shape, b.shape))(a, b)

    @staticmethod
    def any_last(a):
        return OpNode("Any", {"axis": -1}, output_shape=a.shape[:-1])(a)

    @staticmethod
    def ones_like(x):
        return OpNode("OnesLike", {"dtype": "bool"}, output_shape=x.shape)(x)

    @staticmethod
    def zeros_like(x):
        return OpNode("ZerosLike", {"dtype": "bool"}, output_shape=x.shape)(x)

    @staticmethod
    def expand_last(a):
        return OpNode("ExpandDims", {"axis": -1}, output_shape=tuple(a.shape) + (1,))(a)

    @staticmethod
    def concatenate(masks, axis):
        shape = list(masks[0].shape)
        sizes = [m.shape[axis] for m in masks]
        shape[axis] = None if None in sizes else sum(sizes)
        return OpNode("Concatenate", {"axis": axis}, tensor_args=(True,) * len(masks), output_shape=shape)(*masks)


def takes_mask(layer):
    return "mask" in inspect.signature(layer.forward).parameters


def output_mask(layer, x, mask, ops=_NumpyMaskOps):
    """The mask of ``layer``'s output for input ``x`` with mask ``mask`` (a list for a merge layer's
    list of inputs), as Keras computes it; ``ops``: arrays or symbolic tensors."""
    kind = layer.keras_class
    masks = mask if isinstance(mask, (list, tuple)) else [mask]
    if kind == "Embedding":
        return ops.not_equal(x, 0) if layer.mask_zero else None
    if kind == "Masking":
        return ops.any_last(ops.not_equal(x, layer.mask_value))
    if all(m is None for m in masks):
        return None
    if kind == "Concatenate":
        return _concatenated_mask(layer, x, masks, ops)
    if kind == "Bidirectional":   # Keras's Bidirectional.compute_mask
        out = mask if layer.return_sequences else None
        outs = [out, out] if layer.merge_mode is None else [out]
        outs += [None] * (2 * len(layer.forward_layer.state_names) if layer.return_state else 0)
        return outs if len(outs) > 1 else outs[0]
    if kind == "TimeDistributed":   # Keras's default compute_mask: the mask passes on
        return mask
    if kind in RECURRENT:
        out = mask if layer.return_sequences else None
        return [out] + [None] * len(layer.state_names) if layer.return_state else out
    if kind in MERGES_MASKS:
        if any(m is None for m in masks):
            return None
        merged = masks[0]
        for m in masks[1:]:
            merged = ops.logical_or(merged, m)
        return merged
    return mask if kind in KEEPS_MASK else None   # Keras drops the mask of a layer without masking


def _concatenated_mask(layer, inputs, masks, ops):
    """Keras's ``Concatenate.compute_mask``: each input's mask as a boolean tensor of the input's shape
    (all True for an input without a mask, the mask repeated along the last axis for an input of one
    more axis), concatenated along the layer's axis, then ``any`` over the last axis."""
    full = []
    for x, m in zip(inputs, masks):
        if m is None:
            full.append(ops.ones_like(x))
        elif m.ndim < x.ndim:
            full.append(ops.logical_or(ops.expand_last(m), ops.zeros_like(x)))
        else:
            full.append(m)
    return ops.any_last(ops.concatenate(full, layer.axis))


def propagate_masks(nodes):
    """Give the calls of a functional graph the masks Keras would pass them (``mask=``, and
    MultiHeadAttention's ``query_mask``/``value_mask``/``key_mask``) where the call names none.
    Returns whether a mask was added (the graph then has new nodes: map it again)."""
    mask_of, added = {}, False
    for node in nodes:
        if node.is_input:
            continue
        names = list(node.arguments)
        first = node.arguments[names[0]]
        masks = ([mask_of.get(id(t)) for t in first] if isinstance(first, (list, tuple))
                 else mask_of.get(id(first)))
        if node.layer.keras_class == "MultiHeadAttention":
            added |= _attention_masks(node, mask_of)
        elif takes_mask(node.layer) and node.arguments.get("mask") is None and _any_mask(masks):
            node.arguments["mask"] = masks
            added = True
        out = output_mask(node.layer, first, masks, _SymbolicMaskOps)
        for t, m in zip(node.outputs, out if len(node.outputs) > 1 else [out]):
            if m is not None:
                mask_of[id(t)] = m
    if added:
        for node in nodes:
            node.refresh_inputs()
    return added


def _any_mask(masks):
    """A mask, or a list of masks (a merge layer's inputs) of which one is not None."""
    return any(m is not None for m in masks) if isinstance(masks, (list, tuple)) else masks is not None


def _attention_masks(node, mask_of):
    """MultiHeadAttention takes the masks of query, value and key (Keras reads them at run time)."""
    added = False
    for name in ("query", "value", "key"):
        tensor = node.arguments.get(name)
        if tensor is not None and id(tensor) in mask_of and node.arguments.get(f"{name}_mask") is None:
            node.arguments[f"{name}_mask"] = mask_of[id(tensor)]
            added = True
    return added
