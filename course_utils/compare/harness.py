"""The comparison harness: the same weights, the same input, the same upstream gradient, into a
NumPy twin and its Keras model; the forward output, the input gradient and every weight gradient
side by side.

    >>> report = compare_with_keras(nn.Dense(3, activation="tanh"), x)
    >>> report                       # a table: quantity | NumPy | Keras | max abs err | max rel err
    >>> report.assert_close(1e-7)    # raises with the table if any row is off

Keras runs on its active backend (TensorFlow, JAX or PyTorch), on the GPU when the backend sees one
(with TF32 off, so that the GPU's matrix products are true float32/float64), in float64 on
TensorFlow and float32 elsewhere; the report names backend, device, dtype and the tolerance of the
rule (course_utils.compare.report) it applies.
"""
from __future__ import annotations

import numpy as np

from ..keras_import import import_keras_quietly
from .devices import keras_compute_dtype, keras_device, narrower
from .gradients import _as_list, _is_float, keras_forward_backward
from .report import ComparisonReport, Row


def compare_with_keras(model, x, dout=None, dtype="float64", training=False, seed=0, device=None,
                       title="", initial_state=None):
    """Run a NumPy layer/Sequential (or a Keras one) and its twin on the same input and gradient.

    ``model``: a course_utils.nn layer, Sequential or Model, or a Keras layer / keras.Sequential /
    functional keras.Model (its NumPy twin is made with ``from_keras``).
    ``x``: the input batch (a list of batches for a functional model with several inputs).
    ``dout``: dL/d(output) (random normal by default, seeded).
    ``initial_state``: for a recurrent layer, a list of initial states passed to both (rows
    "d initial_state[i]" compare their gradients, the NumPy layer's ``dinitial_state``).
    ``training`` goes to both sides (Dropout/BatchNormalization behave as in fit).
    ``dtype``: the NumPy side's dtype and the one asked of Keras. Keras computes float64 as float32
    off TensorFlow: then the weights, inputs and upstream gradients are rounded to float32 for
    both sides, NumPy computes in ``dtype`` on them, and the report's dtype (and tolerance) is
    float32 - the dtype of Keras's outputs.
    Returns a ComparisonReport with rows "output", "dx" and one row per trainable weight
    (no "dx" row when the NumPy layer returns None for it: integer inputs, as Embedding's).
    """
    keras = import_keras_quietly()
    from ..nn import to_keras
    x = _as_inputs(_dict_as_list(x, model), dtype)
    states = None if initial_state is None else [np.asarray(s, dtype=dtype) for s in _as_list(initial_state)]
    twin = _twin(model, x, dtype, keras, states)
    keras_dtype = keras_compute_dtype(dtype)
    if keras_dtype != str(np.dtype(dtype)):  # both sides on the numbers Keras can hold
        x, states = _rounded(x, keras_dtype, dtype), _rounded(states, keras_dtype, dtype)
        twin.set_weights(_rounded(twin.get_weights(), keras_dtype, dtype))
    state_kwargs = {} if states is None else {"initial_state": [s.copy() for s in states]}
    out = twin.forward(x.copy(), training=training, **state_kwargs)
    keras_model = to_keras(twin, dtype=keras_dtype)
    outs = _as_list(out)
    if dout is None:
        rng = np.random.default_rng(seed)
        douts = [rng.normal(size=o.shape).astype(dtype) for o in outs]
    else:
        douts = [np.asarray(d, dtype=dtype) for d in _as_list(dout)]
    douts = _rounded(douts, keras_dtype, dtype)
    dx = twin.backward(douts if isinstance(out, (list, tuple)) else douts[0])
    device_str, device_name = (device, device) if device else keras_device()
    result = keras_forward_backward(keras_model, _keras_inputs(x, keras_dtype), [d.astype(keras_dtype) for d in douts],
                                    training=training, device=device_str,
                                    initial_state=None if states is None else [s.astype(keras_dtype) for s in states])
    rows = _rows(twin, outs, dx, x, result)
    return ComparisonReport(rows, device_name, narrower(keras_dtype, result.dtype), title=title or getattr(twin, "name", ""),
                            backend=keras.backend.backend())


def _dict_as_list(x, model):
    """x given as {input name: array} (a model with a dict of keras.Input) as a list in the order
    of the model's inputs (Keras's ``model.inputs``, the twin's too)."""
    if not isinstance(x, dict):
        return x
    inputs = getattr(model, "inputs", None) or []
    names = [getattr(getattr(t, "_keras_history", None), "operation", t).name for t in inputs]
    if sorted(names) != sorted(x):
        raise ValueError(f"compare_with_keras was given x with keys {sorted(x)}; the model's inputs are "
                         f"{names}. Pass one array per input, by name.")
    return [x[name] for name in names]


def _as_inputs(x, dtype):
    if isinstance(x, (list, tuple)):  # a model with several inputs: one array each
        return _MultiInput(np.asarray(a, dtype=dtype) for a in x)
    return np.asarray(x, dtype=dtype)


def _twin(model, x, dtype, keras, states):
    """The NumPy twin, built (by a forward pass in inference mode), its weights in ``dtype``."""
    from ..nn import Layer, from_keras
    if isinstance(model, (keras.layers.Layer, keras.Model)):
        if not model.built:
            model.build((None,) + x.shape[1:])
        return from_keras(model, dtype=dtype)
    if not isinstance(model, Layer):
        raise TypeError(f"compare_with_keras expects a course_utils.nn layer/Sequential or a Keras layer/"
                        f"Sequential, received {type(model).__name__}.")
    if not model.built:
        model.forward(x.copy(), **({} if states is None else {"initial_state": [s.copy() for s in states]}))
    if any(w.dtype != np.dtype(dtype) for w in model.weights):
        weights = [w.astype(dtype) for w in model.get_weights()]
        model = _retyped(model, dtype, x)
        model.set_weights(weights)
    return model


def _rounded(arrays, keras_dtype, dtype):
    """The arrays rounded to ``keras_dtype`` and held in ``dtype`` (None stays None)."""
    if arrays is None:
        return None
    rounded = [np.asarray(a).astype(keras_dtype).astype(dtype) if _is_float(a) else a for a in arrays]
    return _MultiInput(rounded) if isinstance(arrays, _MultiInput) else rounded if isinstance(arrays, list) \
        else np.asarray(arrays).astype(keras_dtype).astype(dtype)


def _keras_inputs(x, keras_dtype):
    if isinstance(x, list):
        return [a.astype(keras_dtype) for a in x]
    return x.astype(keras_dtype)


def _rows(twin, outs, dx, x, result):
    rows = [Row("output" if len(outs) == 1 else f"output[{i}]", np.asarray(o), ko)
            for i, (o, ko) in enumerate(zip(outs, result.outputs))]
    if dx is not None:
        if result.dx is None:  # never show a Keras gradient that Keras did not compute
            raise AssertionError("Keras computed no gradient with respect to the input (its output does "
                                 "not depend on x through the backend's differentiation), but the NumPy "
                                 "layer returned dx; they cannot be compared.")
        if isinstance(x, list):
            rows += [Row(f"dx[{i}]", np.asarray(d), kd) for i, (d, kd) in enumerate(zip(dx, result.dx))
                     if d is not None]
        else:  # one array for a model whose inputs are a one-element list (keras.Model(m.inputs, ...))
            dx = dx[0] if isinstance(dx, (list, tuple)) and len(dx) == 1 else dx
            kdx = result.dx[0] if isinstance(result.dx, (list, tuple)) and len(result.dx) == 1 else result.dx
            rows.append(Row("dx", np.asarray(dx), kdx))
    for i, (d, kd) in enumerate(zip(getattr(twin, "dinitial_state", []) if result.dstates else [], result.dstates)):
        rows.append(Row(f"d initial_state[{i}]", np.asarray(d), kd))
    grads = list(twin.grads)
    if len(grads) != len(result.dweights):
        raise AssertionError(f"The NumPy twin has {len(grads)} weight gradients, Keras {len(result.dweights)}.")
    rows += [Row(f"d {name}", np.asarray(g), kg) for name, g, kg in zip(_weight_names(twin), grads, result.dweights)]
    return rows


class _MultiInput(list):
    """The inputs of a model with several inputs; ``copy()`` copies each array."""

    def copy(self):
        return _MultiInput(a.copy() for a in self)


def _weight_names(twin):
    """The names of the trainable weights, in ``grads``' order ('layer/weight' inside a model;
    non-trainable weights such as BatchNormalization's moving statistics are left out)."""
    from ..nn.models import BaseModel as Sequential  # Sequential and the functional nn.Model (siblings since issue 18)
    if not twin.trainable:
        return []
    if isinstance(twin, Sequential):  # and nn.Model
        return [f"{layer.name}/{n}" for layer in twin.layers for n in _weight_names(layer)]
    slots = getattr(twin, "_slots", None)
    return [s.name for s in slots if s.trainable] if slots else list(twin.weight_names)


def _retyped(twin, dtype, x):
    """A copy of the twin whose weights are ``dtype`` (through Keras config, so nothing is lost)."""
    from ..nn import from_keras, to_keras
    return from_keras(to_keras(twin, dtype=dtype), dtype=dtype)
