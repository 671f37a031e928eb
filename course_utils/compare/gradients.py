"""Keras's outputs and gradients for L = sum(output * dout), through the active backend's own
differentiation: TensorFlow's GradientTape, ``jax.grad`` over ``stateless_call``, torch autograd.

Every number returned was computed by Keras. A gradient the backend reports as not connected
(TensorFlow, torch: None) is None for the input; for a weight it is zero (the loss does not depend
on it). JAX returns zeros for both - computed zeros.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..notebook import import_keras_quietly


@dataclass
class KerasResult:
    """What Keras computed: ``outputs`` (a list), ``dx`` (an array, a list for several inputs, or None),
    ``dweights`` (one per trainable weight), ``dstates`` (one per initial state), ``dtype`` (of the outputs)."""
    outputs: list
    dx: object
    dweights: list
    dstates: list = field(default_factory=list)

    @property
    def dtype(self):
        return str(self.outputs[0].dtype)


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _is_float(a):
    return np.issubdtype(np.asarray(a).dtype, np.floating)


def keras_forward_backward(keras_model, x, douts, training=False, device=None, initial_state=None):
    """Keras's output, dL/dx, dL/dw (and dL/d(each initial state)) for L = sum(output * dout).

    ``x``: an array, or a list of arrays for a model with several inputs; ``douts``: one array per
    output; ``initial_state``: a list of arrays for a recurrent layer. Returns a KerasResult."""
    from .devices import keras_backend_name, keras_device
    backend = keras_backend_name()
    device = device or keras_device()[0]
    states = [] if initial_state is None else _as_list(initial_state)
    run = {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}.get(backend)
    if run is None:
        raise RuntimeError(f"Keras's gradients need the TensorFlow, JAX or PyTorch backend; Keras runs on "
                           f"{backend!r}. Set KERAS_BACKEND to one of them before Keras is first imported.")
    return run(keras_model, x, douts, training, device, states)


def _call(keras_model, x, states, training):
    if states:
        return keras_model(x, initial_state=list(states), training=training)
    return keras_model(x, training=training)


def _tensorflow(keras_model, x, douts, training, device, states):
    import tensorflow as tf
    with tf.device(device):
        x_t = [tf.constant(a) for a in x] if isinstance(x, list) else tf.constant(x)
        states_t = [tf.constant(s) for s in states]
        with tf.GradientTape() as tape:
            tape.watch(x_t)
            for s in states_t:
                tape.watch(s)
            outs = _as_list(_call(keras_model, x_t, states_t, training))
            loss = tf.add_n([tf.reduce_sum(o * tf.constant(d, dtype=o.dtype)) for o, d in zip(outs, douts)])
        weights = keras_model.trainable_weights
        grads = tape.gradient(loss, [x_t] + list(weights) + states_t)
    grads = [g if g is None or isinstance(g, list) else tf.convert_to_tensor(g) for g in grads]
    return _result(outs, grads[0], grads[1:1 + len(weights)], grads[1 + len(weights):], weights, states)


def _jax(keras_model, x, douts, training, device, states):
    import jax
    import jax.numpy as jnp
    trainable = [v.value for v in keras_model.trainable_variables]
    non_trainable = [v.value for v in keras_model.non_trainable_variables]
    xs = _as_list(x)
    # Differentiate with respect to the float inputs only (integer inputs, as Embedding's, have none).
    float_at = [i for i, a in enumerate(xs) if _is_float(a)]

    def loss_fn(weights, float_inputs, state_values):
        inputs = [jnp.asarray(a) for a in xs]
        for i, a in zip(float_at, float_inputs):
            inputs[i] = a
        kwargs = {"initial_state": list(state_values)} if states else {}
        if getattr(keras_model, "_call_has_training_arg", True):  # stateless_call calls call() directly
            kwargs["training"] = training
        out, _ = keras_model.stateless_call(weights, non_trainable, inputs if isinstance(x, list) else inputs[0],
                                            **kwargs)
        outs = _as_list(out)
        loss = sum(jnp.sum(o * jnp.asarray(d, dtype=o.dtype)) for o, d in zip(outs, douts))
        return loss, outs

    float_inputs = [jnp.asarray(xs[i]) for i in float_at]
    state_values = [jnp.asarray(s) for s in states]
    with jax.default_device(_jax_device(device)):
        (_, outs), (d_weights, d_inputs, d_states) = jax.value_and_grad(loss_fn, argnums=(0, 1, 2), has_aux=True)(
            trainable, float_inputs, state_values)
    dx = [None] * len(xs)
    for i, g in zip(float_at, d_inputs):
        dx[i] = g
    return _result(outs, dx if isinstance(x, list) else dx[0], d_weights, d_states,
                   keras_model.trainable_variables, states)


def _jax_device(device):
    import jax
    if "GPU" in str(device).upper():
        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        if gpus:
            return gpus[0]
    return jax.devices("cpu")[0]


def _torch(keras_model, x, douts, training, device, states):
    import torch
    torch_device = torch.device("cuda:0" if "GPU" in str(device).upper() and torch.cuda.is_available() else "cpu")

    def tensor(a):
        t = torch.as_tensor(np.asarray(a), device=torch_device)
        return t.requires_grad_(True) if t.is_floating_point() else t

    xs = [tensor(a) for a in _as_list(x)]
    states_t = [tensor(s) for s in states]
    outs = _as_list(_call(keras_model, xs if isinstance(x, list) else xs[0], states_t, training))
    loss = sum(torch.sum(o * torch.as_tensor(d, dtype=o.dtype, device=o.device)) for o, d in zip(outs, douts))
    weights = keras_model.trainable_variables
    sources = [t for t in xs if t.requires_grad] + [w.value for w in weights] + states_t
    grads = list(torch.autograd.grad(loss, sources, allow_unused=True))
    dx = [grads.pop(0) if t.requires_grad else None for t in xs]
    d_weights, d_states = grads[:len(weights)], grads[len(weights):]
    outs = [o.detach() for o in outs]
    return _result(outs, dx if isinstance(x, list) else dx[0], d_weights, d_states, weights, states)


def _numpy(value):
    if value is None:
        return None
    if hasattr(value, "detach"):  # a torch tensor, perhaps on the GPU
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _result(outs, dx, d_weights, d_states, weights, states):
    """A KerasResult of NumPy arrays; None weight/state gradients (not connected) become zeros."""
    outs = [_numpy(o) for o in outs]
    dtype = outs[0].dtype
    dx = [_numpy(g) for g in dx] if isinstance(dx, list) else _numpy(dx)
    d_weights = [np.zeros(tuple(w.shape), dtype=dtype) if g is None else _numpy(g) for w, g in zip(weights, d_weights)]
    d_states = [np.zeros(np.shape(s), dtype=dtype) if g is None else _numpy(g) for s, g in zip(states, d_states)]
    return KerasResult(outs, dx, d_weights, d_states)
