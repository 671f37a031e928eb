"""The comparison harness: the same weights, the same input, the same upstream gradient, into a
NumPy twin and its Keras model; the forward output, the input gradient and every weight gradient
side by side.

    >>> report = compare_with_keras(nn.Dense(3, activation="tanh"), x)
    >>> report                       # a table: quantity | NumPy | Keras | max abs err | max rel err
    >>> report.assert_close(1e-7)    # raises with the table if any row is off

Keras runs in float64 by default, on the GPU when TensorFlow sees one (with TF32 off, so that the
GPU's matrix products are true float32/float64), and the report says which device it used.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gradcheck import rel_error
from .notebook import import_tensorflow_quietly, require_tensorflow_backend


@dataclass
class Row:
    quantity: str
    numpy: np.ndarray
    keras: np.ndarray

    @property
    def max_abs_err(self):
        if self.numpy.shape != self.keras.shape:
            return float("inf")
        return float(np.max(np.abs(self.numpy - self.keras))) if self.numpy.size else 0.0

    @property
    def max_rel_err(self):
        if self.numpy.shape != self.keras.shape:
            return float("inf")
        return rel_error(self.numpy, self.keras)


class ComparisonReport:
    """Rows of (quantity, NumPy value, Keras value) with their errors; shows as a table."""

    def __init__(self, rows, device, dtype, title=""):
        self.rows = rows
        self.device = device
        self.dtype = dtype
        self.title = title

    def __getitem__(self, quantity):
        for row in self.rows:
            if row.quantity == quantity:
                return row
        raise KeyError(f"No row {quantity!r}; rows: {[r.quantity for r in self.rows]}")

    @property
    def max_rel_err(self):
        return max((r.max_rel_err for r in self.rows), default=0.0)

    @property
    def max_abs_err(self):
        return max((r.max_abs_err for r in self.rows), default=0.0)

    def errors(self):
        """{quantity: max rel err}."""
        return {r.quantity: r.max_rel_err for r in self.rows}

    def assert_close(self, rtol=1e-7):
        bad = [r for r in self.rows if not r.max_rel_err <= rtol]
        if bad:
            raise AssertionError(f"NumPy and Keras differ by more than {rtol:g} (relative) in "
                                 f"{', '.join(r.quantity for r in bad)}:\n{self}")
        return self

    @staticmethod
    def _summ(a):
        a = np.asarray(a)
        if a.size == 0:
            return "[]"
        flat = a.ravel()
        head = ", ".join(f"{v:.5g}" for v in flat[:3])
        return f"{tuple(a.shape)} [{head}{', ...' if flat.size > 3 else ''}]"

    def _table(self):
        header = ("quantity", "NumPy", "Keras", "max abs err", "max rel err")
        body = [(r.quantity, self._summ(r.numpy), self._summ(r.keras),
                 f"{r.max_abs_err:.2e}", f"{r.max_rel_err:.2e}") for r in self.rows]
        return header, body

    def __str__(self):
        header, body = self._table()
        widths = [max(len(str(row[i])) for row in [header] + body) for i in range(len(header))]
        fmt = " | ".join(f"{{:<{w}}}" for w in widths)
        lines = [f"{self.title + ': ' if self.title else ''}NumPy vs Keras ({self.dtype}, Keras on {self.device})",
                 fmt.format(*header), "-+-".join("-" * w for w in widths)]
        lines += [fmt.format(*row) for row in body]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self):
        header, body = self._table()
        th = "".join(f"<th style='text-align:left'>{h}</th>" for h in header)
        trs = "".join("<tr>" + "".join(f"<td style='text-align:left'><code>{c}</code></td>" for c in row) + "</tr>"
                      for row in body)
        caption = (f"{self.title + ': ' if self.title else ''}NumPy vs Keras "
                   f"({self.dtype}, Keras on {self.device})")
        return f"<table><caption style='text-align:left'>{caption}</caption><tr>{th}</tr>{trs}</table>"


def keras_device():
    """('/GPU:0', 'GPU:0 (NVIDIA H200)') when TensorFlow sees a GPU (TF32 turned off), else
    ('/CPU:0', 'CPU')."""
    import_tensorflow_quietly()
    import tensorflow as tf
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        tf.config.experimental.enable_tensor_float_32_execution(False)
        try:
            name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
        except Exception:  # pragma: no cover - depends on the driver
            name = "GPU"
        return "/GPU:0", f"GPU:0 ({name})"
    return "/CPU:0", "CPU"


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def keras_forward_backward(keras_model, x, douts, training=False, device=None, initial_state=None):
    """Keras's output, dL/dx and dL/dw for L = sum(output * dout), on ``device``.

    With ``initial_state`` (a list of arrays, for a recurrent layer) the layer is called with it and
    a fourth value is returned: dL/d(each initial state)."""
    import_tensorflow_quietly()
    require_tensorflow_backend("The float64 comparison with Keras")
    import tensorflow as tf
    device = device or keras_device()[0]
    with tf.device(device):
        x_t = [tf.constant(a) for a in x] if isinstance(x, list) else tf.constant(x)  # a list: several inputs
        states_t = [tf.constant(s) for s in _as_list(initial_state)] if initial_state is not None else []
        with tf.GradientTape() as tape:
            tape.watch(x_t)
            for s in states_t:
                tape.watch(s)
            if states_t:
                out = keras_model(x_t, initial_state=states_t, training=training)
            else:
                out = keras_model(x_t, training=training)
            outs = _as_list(out)
            loss = tf.add_n([tf.reduce_sum(o * tf.constant(d, dtype=o.dtype)) for o, d in zip(outs, douts)])
        weights = keras_model.trainable_weights
        grads = tape.gradient(loss, [x_t] + list(weights) + states_t)
    x_dtype = x[0].dtype if isinstance(x, list) else x.dtype
    d_states = [np.zeros(s.shape, dtype=x_dtype) if g is None else np.asarray(g)
                for s, g in zip(states_t, grads[len(grads) - len(states_t):])]
    grads = grads[:len(grads) - len(states_t)]
    outs_np = [np.asarray(o) for o in outs]
    if isinstance(x, list):
        dx = [None if g is None else np.asarray(g) for g in grads[0]]
    else:
        dx = None if grads[0] is None else np.asarray(grads[0])   # None: Keras's output does not depend on x
    dws = [np.zeros(w.shape, dtype=x_dtype) if g is None else np.asarray(tf.convert_to_tensor(g))
           for w, g in zip(weights, grads[1:])]
    if initial_state is not None:
        return outs_np, dx, dws, d_states
    return outs_np, dx, dws


def compare_with_keras(model, x, dout=None, dtype="float64", training=False, seed=0, device=None,
                       title="", initial_state=None):
    """Run a NumPy layer/Sequential (or a Keras one) and its twin on the same input and gradient.

    ``model``: a course_utils.nn layer, Sequential or Model, or a Keras layer / keras.Sequential /
    functional keras.Model (its
    NumPy twin is made with ``from_keras``). Both get the same weights, cast to ``dtype``.
    ``x``: the input batch (a list of batches for a functional model with several inputs).
    ``dout``: dL/d(output) (random normal by default, seeded).
    ``initial_state``: for a recurrent layer, a list of initial states passed to both (rows
    "d initial_state[i]" compare their gradients, the NumPy layer's ``dinitial_state``).
    ``training`` goes to both sides (Dropout/BatchNormalization behave as in fit).
    Returns a ComparisonReport with rows "output", "dx" and one row per trainable weight
    (no "dx" row when the NumPy layer returns None for it: integer inputs, as Embedding's).
    """
    import_tensorflow_quietly()
    import keras
    require_tensorflow_backend("compare_with_keras")

    from .nn import Layer, from_keras, to_keras
    if isinstance(x, (list, tuple)):  # a model with several inputs: one array each
        x = _MultiInput(np.asarray(a, dtype=dtype) for a in x)
    else:
        x = np.asarray(x, dtype=dtype)
    if isinstance(model, (keras.layers.Layer, keras.Model)):
        if not model.built:
            model.build((None,) + x.shape[1:])
        twin = from_keras(model, dtype=dtype)
    elif isinstance(model, Layer):
        twin = model
    else:
        raise TypeError(f"compare_with_keras expects a course_utils.nn layer/Sequential or a Keras layer/"
                        f"Sequential, received {type(model).__name__}.")
    # The twin's weights, cast to dtype, and a fresh Keras model in dtype with the same weights.
    states = None if initial_state is None else [np.asarray(s, dtype=dtype) for s in _as_list(initial_state)]
    state_kwargs = {} if states is None else {"initial_state": [s.copy() for s in states]}
    out = twin.forward(x.copy(), training=training, **state_kwargs)
    if any(w.dtype != np.dtype(dtype) for w in twin.weights):
        weights = [w.astype(dtype) for w in twin.get_weights()]
        twin = _retyped(twin, dtype, x)
        twin.set_weights(weights)
        out = twin.forward(x.copy(), training=training, **state_kwargs)
    keras_model = to_keras(twin, dtype=dtype)
    outs = _as_list(out)
    if dout is None:
        rng = np.random.default_rng(seed)
        douts = [rng.normal(size=o.shape).astype(dtype) for o in outs]
    else:
        douts = [np.asarray(d, dtype=dtype) for d in _as_list(dout)]
    dx = twin.backward(douts if isinstance(out, (list, tuple)) else douts[0])
    grads = list(twin.grads)
    device_str, device_name = (device, device) if device else keras_device()
    if states is None:
        k_outs, k_dx, k_dws = keras_forward_backward(keras_model, x, douts, training=training, device=device_str)
    else:
        k_outs, k_dx, k_dws, k_dstates = keras_forward_backward(keras_model, x, douts, training=training,
                                                                device=device_str, initial_state=states)
    names = _weight_names(twin)
    rows = []
    for i, (o, ko) in enumerate(zip(outs, k_outs)):
        rows.append(Row("output" if len(outs) == 1 else f"output[{i}]", np.asarray(o), ko))
    if dx is not None:
        if k_dx is None:  # never show a Keras gradient that Keras did not compute
            raise AssertionError("Keras computed no gradient with respect to the input (its output does "
                                 "not depend on x through TensorFlow's tape), but the NumPy layer returned "
                                 "dx; they cannot be compared.")
        if isinstance(x, list):
            rows += [Row(f"dx[{i}]", np.asarray(d), kd) for i, (d, kd) in enumerate(zip(dx, k_dx)) if d is not None]
        else:
            rows.append(Row("dx", np.asarray(dx), k_dx))
    if states is not None:
        for i, (d, kd) in enumerate(zip(twin.dinitial_state, k_dstates)):
            rows.append(Row(f"d initial_state[{i}]", np.asarray(d), kd))
    for name, g, kg in zip(names, grads, k_dws):
        rows.append(Row(f"d {name}", np.asarray(g), kg))
    if len(grads) != len(k_dws):
        raise AssertionError(f"The NumPy twin has {len(grads)} weight gradients, Keras {len(k_dws)}.")
    return ComparisonReport(rows, device_name, str(np.dtype(dtype)), title=title or getattr(twin, "name", ""))


class _MultiInput(list):
    """The inputs of a model with several inputs; ``copy()`` copies each array."""

    def copy(self):
        return _MultiInput(a.copy() for a in self)


def _weight_names(twin):
    """The names of the trainable weights, in ``grads``' order ('layer/weight' inside a model;
    non-trainable weights such as BatchNormalization's moving statistics are left out)."""
    from .nn import Sequential
    if not twin.trainable:
        return []
    if isinstance(twin, Sequential):  # and nn.Model
        return [f"{layer.name}/{n}" for layer in twin.layers for n in _weight_names(layer)]
    slots = getattr(twin, "_slots", None)
    return [s.name for s in slots if s.trainable] if slots else list(twin.weight_names)


def _retyped(twin, dtype, x):
    """A copy of the twin whose weights are ``dtype`` (through Keras config, so nothing is lost)."""
    from .nn import from_keras, to_keras
    return from_keras(to_keras(twin, dtype=dtype), dtype=dtype)
