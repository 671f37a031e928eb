"""Moving a model between Keras and the NumPy library: ``from_keras`` and ``to_keras``.

Because the NumPy layers use Keras's names, defaults and weight layout, a twin is built from
the Keras layer's config and the weights are a plain copy:

    >>> twin = from_keras(keras_model)          # NumPy Sequential, weights copied (float64)
    >>> keras_again = to_keras(twin)            # a keras.Sequential with the same weights

A NumPy layer says which Keras class it mirrors (``keras_class``); the Keras protocol of
``Layer`` (``from_keras_config``: Keras config -> constructor arguments, ``keras_config``: the other
way, ``keras_build_shapes``) has defaults that a layer overrides where the two differ.
"""
from __future__ import annotations

import contextlib
import inspect

import numpy as np

from . import initializers
from .base import LAYER_REGISTRY, Layer, layers_that_take_masks
from .layers import Input, InputLayer
from .models import Model, Sequential
from .symbolic import SymbolicTensor, _fill_in


def _keras_dtype(layer):
    policy = getattr(layer, "dtype_policy", None)
    name = getattr(policy, "variable_dtype", None) or getattr(layer, "dtype", None) or "float32"
    return np.dtype(str(name))


def from_keras(keras_obj, dtype="float64"):
    """The NumPy twin of a Keras layer or Sequential model, with its weights copied.

    ``dtype`` is the twin's weight dtype (float64 by default, for exact comparisons;
    ``None`` keeps the Keras variables' dtype).
    """
    import keras

    from .backend import require_supported_backend
    require_supported_backend()

    if isinstance(keras_obj, keras.Sequential):
        return _sequential_from_keras(keras_obj, dtype)
    if isinstance(keras_obj, keras.Model) and hasattr(keras_obj, "_nodes_by_depth"):
        return _functional_from_keras(keras_obj, dtype)
    if isinstance(keras_obj, keras.Model):
        cls = type(keras_obj)
        raise TypeError(f"from_keras converts keras.Sequential, functional keras.Model and single layers; "
                        f"received the subclassed model '{keras_obj.name}' ({cls.__module__}.{cls.__qualname__}), "
                        f"whose call() is Python code that cannot be converted in general. Write it as a "
                        f"functional keras.Model(inputs, outputs) of standard layers, or convert its layers one by one.")
    if not isinstance(keras_obj, keras.layers.Layer):
        raise TypeError(f"from_keras expects a Keras layer or keras.Sequential, received {type(keras_obj).__name__}.")
    return _layer_from_keras(keras_obj, dtype)


def _sequential_from_keras(keras_obj, dtype):
    layers = [from_keras(layer, dtype=dtype) for layer in keras_obj.layers]
    model = Sequential(layers, name=keras_obj.name)
    try:
        input_shape = tuple(keras_obj.input_shape)
    except (AttributeError, ValueError):
        input_shape = None
    if input_shape is not None:
        model.build(input_shape)
        model.set_weights(keras_obj.get_weights())
    elif keras_obj.weights:
        raise ValueError("The Keras Sequential model has weights but no known input shape; "
                         "give it a keras.Input(shape=...) first.")
    _copy_model_trainable(keras_obj, model)
    return model


def _layer_from_keras(keras_obj, dtype):
    """The twin of one Keras layer: its class from ``LAYER_REGISTRY``, its arguments from the Keras
    config (``Layer.from_keras_config``), its weights copied when the Keras layer has some."""
    class_name = type(keras_obj).__name__
    cls = LAYER_REGISTRY.get(class_name)
    if cls is None or not type(keras_obj).__module__.startswith("keras."):
        raise _no_twin(keras_obj)
    config = keras_obj.get_config()
    for key in cls.keras_attributes_missing_from_config:  # not in every Keras version's config, or lossy there
        config[key] = getattr(keras_obj, key)
    if dtype is None:
        dtype = _keras_dtype(keras_obj)
    copied = keras_obj.built and bool(keras_obj.weights)
    # A built layer's weights are copied, so an initializer the NumPy library lacks does not matter
    # (it is kept by its Keras config, for to_keras); an unbuilt layer needs one the library has.
    with initializers.weights_copied_from_keras() if copied else contextlib.nullcontext():
        try:
            twin = cls(**cls.from_keras_config(config), dtype=dtype)
        except ValueError as exc:
            if copied or "initializer" not in str(exc):
                raise
            raise ValueError(f"Cannot convert the unbuilt Keras layer '{keras_obj.name}': {exc} Build the Keras "
                             f"layer first (call it on an input, or layer.build(input_shape)): from_keras then "
                             f"copies its weights, whatever its initializer.") from exc
        if copied:
            if hasattr(twin, "build_from_keras"):  # several input shapes (MultiHeadAttention)
                twin.build_from_keras(keras_obj)
            else:
                _build_like(twin, keras_obj)
            twin.set_weights(keras_obj.get_weights())
    if keras_obj.built and not copied:
        input_shape = _built_input_shape(keras_obj, required=False)
        if input_shape is not None:  # else the weightless twin builds on its first call
            twin.build(input_shape)
    return twin


def _no_twin(keras_obj):
    """The refusal for a Keras layer without a NumPy twin: Keras's own layer by its keras.layers
    name; a Lambda or a user-defined class by its real module path, with what to do instead."""
    cls = type(keras_obj)
    twins = f"Layers with twins: {', '.join(sorted(LAYER_REGISTRY))}."
    if cls.__name__ == "Lambda" and cls.__module__.startswith("keras."):
        return ValueError(f"Layer '{keras_obj.name}' is a keras.layers.Lambda: its Python function cannot be "
                          f"converted to NumPy in general. Write it as standard Keras layers (or keras.ops "
                          f"arithmetic such as x + y, keras.ops.relu(x)) and convert that. {twins}")
    if not cls.__module__.startswith("keras."):
        return ValueError(f"Layer '{keras_obj.name}' is an instance of the user-defined class "
                          f"{cls.__module__}.{cls.__qualname__}: its call() is Python code that cannot be converted "
                          f"to NumPy in general. Write it as standard Keras layers (and keras.ops arithmetic) and "
                          f"convert that model. {twins}")
    return ValueError(f"There is no NumPy twin of keras.layers.{cls.__name__}. {twins}")


def _copy_model_trainable(source, target):
    """A frozen model stays frozen (and each layer keeps its own flag, as set before). The layers are
    paired without their InputLayers: a NumPy Sequential may list one first, Keras's never does."""
    if not source.trainable:
        flags = [layer.trainable for layer in _computing_layers(source)]
        target.trainable = False   # recursive in both libraries ...
        for layer, flag in zip(_computing_layers(target), flags):
            layer.trainable = flag  # ... so the layers' own flags are put back


def _computing_layers(model):
    """A NumPy or Keras model's layers but its InputLayers (in both libraries the class has that name)."""
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def _build_like(twin, keras_layer):
    """Build the twin for the input shape the Keras layer was built for. A Keras layer built
    without one (``Embedding(10, 3).build()``) converts when the twin's weights do not need it."""
    input_shape = _built_input_shape(keras_layer, required=False)
    if input_shape is not None:
        twin.build(input_shape)
        return
    try:
        twin.build(None)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Cannot tell the input shape of the built Keras layer '{keras_layer.name}' (it was "
                         f"built without one, e.g. by layer.build()), and the NumPy {type(twin).__name__} needs "
                         f"it to build its weights. Build the Keras layer with its input shape, "
                         f"layer.build((None, ...)), or call it on an input before converting it.") from exc


def _built_input_shape(keras_layer, required=True):
    build_config = keras_layer.get_build_config() if hasattr(keras_layer, "get_build_config") else None
    if build_config and build_config.get("input_shape") is not None:
        return tuple(build_config["input_shape"])
    shape = getattr(keras_layer, "input_shape", None) or getattr(keras_layer, "_build_shapes_dict", None)
    if isinstance(shape, dict):
        shape = next(iter(shape.values()), None)  # {} (or None) for a layer built without a shape
    if shape is None:  # weightless layers (pooling, dropout) keep no build config; a model's layers know their input
        try:
            shape = tuple(keras_layer.input.shape)
        except (AttributeError, ValueError):
            shape = None
    if shape is None and not required:
        return None
    if shape is None:
        raise ValueError(f"Cannot tell the input shape of the built Keras layer '{keras_layer.name}': it was "
                         f"built without one. Build it with layer.build((None, ...)) or call it on an input.")
    return tuple(shape)


def keras_config(layer, dtype=None):
    """The Keras constructor arguments for a NumPy layer (``Layer.keras_config``), with a layer
    among them (``TimeDistributed``'s) converted to its Keras twin in ``dtype`` - the dtype the
    outer Keras layer is built in (default: the inner layer's own)."""
    return {key: to_keras(value, dtype=dtype or str(value.compute_dtype)) if isinstance(value, Layer) else value
            for key, value in layer.keras_config().items()}


def _weights_dtype(twin):
    """The twin's dtype: its declared dtype, else that of its weights (float64 for NumPy's
    defaults), else float32 (Keras's default) for a layer without weights."""
    if twin.dtype is not None:
        return twin.dtype
    weights = twin.weights
    return weights[0].dtype if weights else "float32"


def _refresh_keras_state(keras_obj):
    """Keras's Normalization reads its statistics into tensors when built or adapted, not on
    set_weights (only load_weights calls its finalize_state): call it after copying weights in."""
    for layer in keras_obj._flatten_layers(include_self=True, recursive=True):
        if hasattr(layer, "finalize_state"):
            layer.finalize_state()


def to_keras(twin, dtype=None):
    """The Keras layer or keras.Sequential equivalent to a NumPy layer or Sequential, weights copied.

    ``dtype`` is the Keras layers' dtype (default: the twin's weight dtype - float64 for a NumPy
    layer built with the defaults - else float32).
    """
    import keras

    from .backend import require_supported_backend
    require_supported_backend()

    if isinstance(twin, Model):
        return _functional_to_keras(twin, dtype)
    if isinstance(twin, Sequential):
        return _sequential_to_keras(twin, dtype)
    if not isinstance(twin, Layer):
        raise TypeError(f"to_keras expects a course_utils.nn layer or Sequential, received {type(twin).__name__}.")
    if twin.keras_class is None:
        raise ValueError(f"{type(twin).__name__} has no Keras equivalent.")
    dtype = str(np.dtype(dtype or _weights_dtype(twin)))
    keras_cls = getattr(keras.layers, twin.keras_class)
    layer = keras_cls(**keras_config(twin, dtype), dtype=dtype)
    if twin.built:
        layer.build(*twin.keras_build_shapes())   # MultiHeadAttention: (query_shape, value_shape, key_shape)
        if twin.weights:
            layer.set_weights(twin.get_weights())
            _refresh_keras_state(layer)
    return layer


def _sequential_to_keras(twin, dtype=None):
    """The keras.Sequential of a NumPy Sequential: a keras.Input, then the twins of its layers. A first
    nn.InputLayer becomes that keras.Input (its batch shape, dtype and name) rather than a layer of its
    own - Keras's Sequential keeps its InputLayer out of ``model.layers``, as ``_computing_layers`` does;
    a Sequential that starts with one is built from its shape, as Keras builds it on construction."""
    import keras

    input_layer = twin.layers[0] if twin.layers and isinstance(twin.layers[0], InputLayer) else None
    if not twin.built and input_layer is not None:
        twin.build(input_layer.batch_shape)
    if not twin.built:
        raise ValueError(f"Sequential '{twin.name}' is not built yet, so its weights do not exist. "
                         f"Call it on a batch (or model.build(input_shape)) first.")
    dtype = str(np.dtype(dtype or _weights_dtype(twin)))
    if input_layer is None:
        keras_input = keras.Input(shape=twin.input_shape[1:], dtype=dtype)
    else:
        keras_input = keras.Input(batch_shape=input_layer.batch_shape, name=input_layer.name,
                                  dtype=str(input_layer.input_dtype or dtype))
    layers = [to_keras(layer, dtype=dtype) for layer in _computing_layers(twin)]
    model = keras.Sequential([keras_input] + layers, name=twin.name)
    model.set_weights(twin.get_weights())
    _refresh_keras_state(model)
    _copy_model_trainable(twin, model)
    return model


# ------------------------------------------------------------------ functional models
def _functional_from_keras(keras_model, dtype):
    """Rebuild a Keras functional model's graph with NumPy twins: walk Keras's own nodes
    (``_nodes_by_depth``, deepest first) and replay each call - its tensors and its constant
    arguments (``training=``, masks, ``use_causal_mask=``) - on the twin of its layer (one twin
    per layer, so a layer called several times stays one shared layer) or of its operation
    (``x + y``, ``keras.ops.relu(x)``: ``nn.ops.OpNode``)."""
    import keras

    tensors = {}  # id(KerasTensor) -> SymbolicTensor
    for kt in keras_model.inputs:
        layer = kt._keras_history.operation
        tensors[id(kt)] = Input(batch_shape=tuple(kt.shape), name=getattr(layer, "name", None))
    twins = {}
    for depth in sorted(keras_model._nodes_by_depth, reverse=True):
        for node in keras_model._nodes_by_depth[depth]:
            if node.is_input:
                continue
            op = node.operation
            if id(op) not in twins and isinstance(op, keras.layers.Layer):
                twins[id(op)] = from_keras(op, dtype=dtype)

            def symbolic(x):
                return _replayed(x, tensors) if hasattr(x, "_keras_history") else x
            args, kwargs = node.arguments.convert(symbolic)
            if isinstance(op, keras.layers.Layer):
                kwargs.update(_padding_masks(op, node, tensors))
                out = _replay_layer_call(twins[id(op)], args, kwargs)
            else:
                out = _op_twin(op, node)(*args)
            for kt, t in zip(node.outputs, out if isinstance(out, list) else [out]):
                assert isinstance(t, SymbolicTensor)
                tensors[id(kt)] = t
    return _functional_model(keras_model, tensors)


def _replayed(kt, tensors):
    """The symbolic twin of a Keras tensor; a mask Keras computed beside the graph (Embedding's
    ``not_equal(x, 0)``, attached to its output, not a node of the model) is replayed from its
    operations first."""
    import keras

    if id(kt) not in tensors:
        node = kt._keras_history.operation._inbound_nodes[kt._keras_history.node_index]
        args = [_fill_in_keras(a, lambda t: _replayed(t, tensors)) for a in node.arguments.args]
        if isinstance(node.operation, keras.layers.Layer) or node.arguments.kwargs:
            raise ValueError(f"The Keras tensor {kt.name} comes from outside the model's graph "
                             f"({node.operation.name}); it cannot be converted.")
        tensors[id(kt)] = _op_twin(node.operation, node)(*args)
    return tensors[id(kt)]


def _fill_in_keras(value, fn):
    """``value`` with every Keras tensor in it (a list of them: ``keras.ops.concatenate``'s) replaced by ``fn(t)``."""
    if hasattr(value, "_keras_history"):
        return fn(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_fill_in_keras(v, fn) for v in value)
    return value


# Keras merge layers whose call reads its inputs' masks at run time (not a call argument in the graph)
_MERGES_READING_MASKS = {"Multiply", "Maximum", "Minimum"}


def _padding_masks(keras_layer, node, tensors):
    """The masks Keras's MultiHeadAttention takes from its inputs at run time (query_mask, value_mask,
    key_mask: not recorded in the graph), as symbolic tensors for its twin's call; and the masks of
    Multiply's, Maximum's and Minimum's inputs (Keras reads them at run time too: a masked step counts
    as 1 in a product, and does not compete in a maximum or a minimum)."""
    if type(keras_layer).__name__ in _MERGES_READING_MASKS:
        inputs = node.arguments.args[0] if node.arguments.args else node.arguments.kwargs.get("inputs")
        masks = [getattr(kt, "_keras_mask", None) for kt in inputs]
        return {} if all(m is None for m in masks) else {
            "mask": [None if m is None else _replayed(m, tensors) for m in masks]}
    if type(keras_layer).__name__ != "MultiHeadAttention":
        return {}
    bound = dict(zip(("query", "value", "key"), node.arguments.args))
    bound.update({k: v for k, v in node.arguments.kwargs.items() if k in ("query", "value", "key")})
    masks = {}
    for name, kt in bound.items():
        mask = getattr(kt, "_keras_mask", None)
        if mask is not None and node.arguments.kwargs.get(f"{name}_mask") is None:
            masks[f"{name}_mask"] = _replayed(mask, tensors)
    return masks


def _is_none(value):
    """None, or a structure of Nones (Keras records mask=[None, None] for a call with several inputs)."""
    if isinstance(value, (list, tuple)):
        return all(_is_none(v) for v in value)
    if isinstance(value, dict):
        return all(_is_none(v) for v in value.values())
    return value is None


def _replay_layer_call(twin, args, kwargs):
    """``twin(*args, **kwargs)`` on symbolic tensors; the mask Keras passed along (``mask=None``,
    or a tensor for a layer that uses it) goes to the twin when its forward takes one."""
    accepted = inspect.signature(twin.forward).parameters
    kwargs = {k: (None if _is_none(v) else v) for k, v in kwargs.items() if not _is_none(v) or k in accepted}
    refused = [k for k in kwargs if k not in accepted and k != "mask"]
    if "mask" in kwargs and "mask" not in accepted:
        raise ValueError(f"Keras passes a mask to layer '{twin.name}' ({type(twin).__name__}) in this model "
                         f"(from Embedding(mask_zero=True), Masking or a layer's compute_mask), but the NumPy "
                         f"{type(twin).__name__} does not use masks, so it would compute something else than "
                         f"Keras. The NumPy layers that take a mask: {', '.join(layers_that_take_masks())}; "
                         f"pad sequences of equal length without a mask for the others.")
    if refused:
        raise ValueError(f"Layer '{twin.name}' is called with {', '.join(refused)} in the Keras model; the NumPy "
                         f"{type(twin).__name__}'s forward takes {', '.join(accepted)}.")
    return twin(*args, **kwargs)


def _op_twin(op, node):
    """The NumPy twin of one call of a keras.ops operation (``nn.ops.OpNode``), or a clear refusal."""
    from .ops import LIST_ARGUMENT, OPS, OpNode, refuse_operation
    name = type(op).__name__
    if name not in OPS:
        raise refuse_operation(op)
    if node.arguments.kwargs:
        raise ValueError(f"The Keras operation '{op.name}' ({name}) is called with the keyword arguments "
                         f"{sorted(node.arguments.kwargs)}; the NumPy OpNode takes positional ones. "
                         f"Write it with a Keras layer instead.")
    config = op.get_config() if hasattr(op, "get_config") else {}
    args = node.arguments.args
    listed = name in LIST_ARGUMENT   # keras.ops.concatenate([a, b]): the OpNode takes a, b
    tensor_args = [hasattr(a, "_keras_history") for a in (args[0] if listed else args)]
    return _ConstantsAsArrays(OpNode(name, config, tensor_args, output_shape=tuple(node.outputs[0].shape),
                                     name=op.name), listed)


class _ConstantsAsArrays:
    """Calls an OpNode with its constant backend tensors (keras.ops.ones((4,)) in x + ones) as NumPy
    arrays: a TensorFlow tensor would otherwise take over NumPy's arithmetic in its own float32."""

    def __init__(self, op, listed=False):
        self.op = op
        self.listed = listed   # the operation's first argument is a list of tensors: passed as the OpNode's arguments

    def __call__(self, *args):
        import keras
        args = tuple(args[0]) + tuple(args[1:]) if self.listed else args
        return self.op(*[a if isinstance(a, SymbolicTensor) or not keras.ops.is_tensor(a)
                         else keras.ops.convert_to_numpy(a) for a in args])


def _functional_model(keras_model, tensors):
    """The NumPy Model over the replayed graph; several inputs (a list or a dict of keras.Input) give
    a model with a list of inputs, in the order of Keras's ``model.inputs``."""
    inputs = [tensors[id(t)] for t in keras_model.inputs]
    outputs = [tensors[id(t)] for t in keras_model.outputs]
    multi_in = isinstance(keras_model._inputs_struct, (list, tuple, dict))
    multi_out = isinstance(keras_model._outputs_struct, (list, tuple, dict))
    model = Model(inputs if multi_in else inputs[0], outputs if multi_out else outputs[0], name=keras_model.name,
                  _implicit_masks=False)   # Keras's graph names its masks (or they were replayed)
    model.set_weights(keras_model.get_weights())
    return model


def _rename_clashing_operation(kt, twin):
    """Keras names an operation from its own counter ("concatenate" for the first keras.ops.concatenate)
    and the layers carry the NumPy names: a clash (a mask's concatenate beside a Concatenate layer named
    "concatenate") would make keras.Model refuse the graph, so the operation gets a free name."""
    operation = kt._keras_history.operation
    taken = {layer.name for layer in twin.layers}
    name, k = operation.name, 1
    while name in taken:
        name, k = f"{operation.name}_op{k}", k + 1
    operation.name = name


def _functional_to_keras(twin, dtype=None):
    """The keras.Model with the same graph as a NumPy functional Model, weights copied."""
    import keras

    dtype = str(np.dtype(dtype or _weights_dtype(twin)))
    from .ops import OpNode

    tensors, layers = {}, {}  # one Keras layer per NumPy layer: a shared layer stays shared
    for t in twin.inputs:
        tensors[id(t)] = keras.Input(batch_shape=t.shape, dtype=dtype, name=t.name)
    for node in twin._nodes:
        if node.is_input:
            continue
        arguments = {name: _fill_in(value, lambda t: tensors[id(t)]) for name, value in node.arguments.items()}
        if isinstance(node.layer, OpNode):
            out = node.layer.keras_call(*arguments["args"])
            _rename_clashing_operation(out, twin)
        else:
            if id(node.layer) not in layers:
                layers[id(node.layer)] = to_keras(node.layer, dtype=dtype)
            if not getattr(layers[id(node.layer)], "_call_has_mask_arg", True):
                arguments.pop("mask", None)   # Multiply, Maximum, Minimum: Keras reads its inputs' masks itself
            first = next(iter(node.signature.parameters))  # the main input goes positionally (Keras's
            out = layers[id(node.layer)](arguments.pop(first), **arguments)  # name may differ), the rest by name
        for t, kt in zip(node.outputs, out if isinstance(out, (list, tuple)) else [out]):
            tensors[id(t)] = kt
    inputs = [tensors[id(t)] for t in twin.inputs]
    outputs = [tensors[id(t)] for t in twin.outputs]
    model = keras.Model(inputs if twin._multi_input else inputs[0],
                        outputs if twin._multi_output else outputs[0], name=twin.name)
    model.set_weights(twin.get_weights())
    _refresh_keras_state(model)
    return model
