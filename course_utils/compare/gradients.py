"""Keras's outputs and gradients for L = sum(output * dout), through the active backend's own
differentiation: TensorFlow's GradientTape, ``jax.grad`` over ``stateless_call``, torch autograd.

Every number returned was computed by Keras. A gradient the backend reports as not connected
(TensorFlow, torch: None) is None for the input; for a weight it is zero (the loss does not depend
on it). JAX returns zeros for both - computed zeros.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..keras_import import import_keras_quietly


@dataclass
class KerasResult:
    """What Keras computed: ``outputs`` (a list), ``dx`` (an array, a list for several inputs, or None),
    ``dweights`` (one per trainable weight), ``dstates`` (one per initial state), ``dtype`` (of the
    outputs); ``dargs``: the gradient of each positional argument (keras_gradients)."""
    outputs: list
    dx: object
    dweights: list
    dstates: list = field(default_factory=list)
    dargs: list = field(default_factory=list)

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
    states = None if initial_state is None else _as_list(initial_state)
    result = keras_gradients(keras_model, [x], douts, training=training, device=device, initial_state=states)
    result.dx = result.dargs[0]
    return result


def keras_gradients(layer, args, douts, kwargs=None, training=None, device=None, initial_state=None):
    """Keras's outputs of ``layer(*args, **kwargs)`` and the gradients of L = sum_i sum(output_i * dout_i)
    through the active backend: with respect to each positional argument (an array, or a list of
    arrays; None for an integer one), each trainable weight and each ``initial_state`` array.

    ``kwargs`` are passed as they are (masks, flags); ``training`` is passed when not None.
    Returns a KerasResult (``dargs``, ``dweights``, ``dstates``; ``dx`` is None)."""
    from .devices import keras_backend_name, keras_device
    backend = keras_backend_name()
    run = {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}.get(backend)
    if run is None:
        raise RuntimeError(f"Keras's gradients need the TensorFlow, JAX or PyTorch backend; Keras runs on "
                           f"{backend!r}. Set KERAS_BACKEND to one of them before Keras is first imported.")
    leaves = [a for arg in args for a in _as_list(arg)] + list(initial_state or [])
    call = _Call(layer, args, dict(kwargs or {}), training, initial_state is not None)
    outs, d_leaves, d_weights = run(call, leaves, douts, device or keras_device()[0])
    return _result(call, outs, d_leaves, d_weights, layer.trainable_variables, initial_state or [])


class _Call:
    """Rebuilds ``layer(*args, **kwargs)`` from the flat list of tensors that stand for the arrays."""

    def __init__(self, layer, args, kwargs, training, has_states):
        self.layer, self.args, self.kwargs, self.training, self.has_states = layer, args, kwargs, training, has_states

    def split(self, leaves):
        leaves, args = list(leaves), []
        for arg in self.args:
            n = len(arg) if isinstance(arg, (list, tuple)) else 1
            args.append(leaves[:n] if isinstance(arg, (list, tuple)) else leaves[0])
            leaves = leaves[n:]
        kwargs = dict(self.kwargs)
        if self.has_states:
            kwargs["initial_state"] = leaves
        return args, kwargs

    def __call__(self, leaves):
        args, kwargs = self.split(leaves)
        if self.training is not None:
            kwargs["training"] = self.training
        return _as_list(self.layer(*args, **kwargs))

    def stateless(self, weights, non_trainable, leaves):
        args, kwargs = self.split(leaves)
        if self.training is not None and getattr(self.layer, "_call_has_training_arg", True):
            kwargs["training"] = self.training  # stateless_call calls call() directly
        out, _ = self.layer.stateless_call(weights, non_trainable, *args, **kwargs)
        return _as_list(out)


def _tensorflow(call, leaves, douts, device):
    import tensorflow as tf
    with tf.device(device):
        tensors = [tf.constant(a) for a in leaves]
        with tf.GradientTape() as tape:
            tape.watch([t for t in tensors if t.dtype.is_floating])
            outs = call(tensors)
            loss = tf.add_n([tf.reduce_sum(o * tf.constant(d, dtype=o.dtype)) for o, d in zip(outs, douts)])
        weights = call.layer.trainable_weights
        grads = tape.gradient(loss, tensors + list(weights))
    grads = [None if g is None else tf.convert_to_tensor(g) for g in grads]
    return outs, grads[:len(tensors)], grads[len(tensors):]


def _jax(call, leaves, douts, device):
    import jax
    import jax.numpy as jnp
    trainable = [v.value for v in call.layer.trainable_variables]
    non_trainable = [v.value for v in call.layer.non_trainable_variables]
    float_at = [i for i, a in enumerate(leaves) if _is_float(a)]  # integer inputs have no gradient

    def loss_fn(weights, float_leaves):
        tensors = [jnp.asarray(a) for a in leaves]
        for i, a in zip(float_at, float_leaves):
            tensors[i] = a
        outs = call.stateless(weights, non_trainable, tensors)
        return sum(jnp.sum(o * jnp.asarray(d, dtype=o.dtype)) for o, d in zip(outs, douts)), outs

    with jax.default_device(_jax_device(device)):
        # one compiled program (op-by-op dispatch compiles every primitive separately: slower)
        (_, outs), (d_weights, d_floats) = jax.jit(jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True))(
            trainable, [jnp.asarray(leaves[i]) for i in float_at])
    d_leaves = [None] * len(leaves)
    for i, g in zip(float_at, d_floats):
        d_leaves[i] = g
    return outs, d_leaves, d_weights


def _jax_device(device):
    import jax
    if "GPU" in str(device).upper():
        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        if gpus:
            return gpus[0]
    return jax.devices("cpu")[0]


def _torch(call, leaves, douts, device):
    import torch
    torch_device = torch.device("cuda:0" if "GPU" in str(device).upper() and torch.cuda.is_available() else "cpu")
    tensors = []
    for a in leaves:
        t = torch.as_tensor(np.asarray(a), device=torch_device)
        tensors.append(t.requires_grad_(True) if t.is_floating_point() else t)
    outs = call(tensors)
    loss = sum(torch.sum(o * torch.as_tensor(d, dtype=o.dtype, device=o.device)) for o, d in zip(outs, douts))
    weights = [w.value for w in call.layer.trainable_variables]
    sources = [t for t in tensors if t.requires_grad] + weights
    grads = list(torch.autograd.grad(loss, sources, allow_unused=True))
    d_leaves = [grads.pop(0) if t.requires_grad else None for t in tensors]
    return [o.detach() for o in outs], d_leaves, grads


def _numpy(value):
    if value is None:
        return None
    if hasattr(value, "detach"):  # a torch tensor, perhaps on the GPU
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _result(call, outs, d_leaves, d_weights, weights, states):
    """A KerasResult of NumPy arrays; None weight/state gradients (not connected) become zeros."""
    outs = [_numpy(o) for o in outs]
    dtype = outs[0].dtype
    d_leaves, dargs = [_numpy(g) for g in d_leaves], []
    for arg in call.args:
        n = len(arg) if isinstance(arg, (list, tuple)) else 1
        dargs.append(d_leaves[:n] if isinstance(arg, (list, tuple)) else d_leaves[0])
        d_leaves = d_leaves[n:]
    d_states = [np.zeros(np.shape(s), dtype=dtype) if g is None else g for s, g in zip(states, d_leaves)]
    d_weights = [np.zeros(tuple(w.shape), dtype=dtype) if g is None else _numpy(g) for w, g in zip(weights, d_weights)]
    return KerasResult(outs, None, d_weights, d_states, dargs)
