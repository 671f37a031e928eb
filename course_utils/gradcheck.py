"""Centred-difference gradient checks and ``rel_error``, in the manner of CS231n.

    >>> rel_error(analytic, numeric)      # ~1e-7 or less: right; ~1e-2 or more: a bug

In float64 a correct backward pass agrees with centred differences (h = 1e-5) to a relative error
of about 1e-7 or less.
"""
from __future__ import annotations

import numpy as np


def rel_error(x, y, floor=1e-8):
    """max |x - y| / max(floor, |x| + |y|), element-wise (CS231n). 0 for identical arrays."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error expects arrays of the same shape, received {x.shape} and {y.shape}.")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(floor, np.abs(x) + np.abs(y))))


def numerical_gradient(f, x, h=1e-5):
    """dF/dx of a scalar function F by centred differences, (F(x + h) - F(x - h)) / 2h, one
    element at a time; ``x`` is perturbed in place and restored."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"numerical_gradient needs a floating-point array, received dtype {x.dtype}.")
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = float(f())
        x[i] = old - h
        minus = float(f())
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
        it.iternext()
    return grad


def numerical_gradient_array(f, x, dout, h=1e-5):
    """The vector-Jacobian product dout . dF/dx of an array function F by centred differences,
    i.e. the gradient of sum(F(x) * dout); ``f`` takes no arguments and reads ``x``."""
    return numerical_gradient(lambda: np.sum(f() * dout), x, h)


def check_layer_gradients(layer, x, dout=None, h=1e-5, seed=0):
    """Compare a layer's backward pass with centred differences for the input and every weight.

    Returns ``{"dx": err, "<weight name>": err, ...}`` of rel_error values (float64 expected:
    ~1e-7 or less). The layer is run with ``training=False``.
    """
    x = np.array(x, dtype=np.float64)
    out = layer.forward(x)
    outputs = out if isinstance(out, (list, tuple)) else [out]
    if dout is None:
        rng = np.random.default_rng(seed)
        douts = [rng.normal(size=o.shape) for o in outputs]
    else:
        douts = list(dout) if isinstance(dout, (list, tuple)) else [dout]

    def loss():
        y = layer.forward(x)
        ys = y if isinstance(y, (list, tuple)) else [y]
        return sum(float(np.sum(a * d)) for a, d in zip(ys, douts))

    dx = layer.backward(douts if isinstance(out, (list, tuple)) else douts[0])
    analytic = {"dx": dx}
    for name, g in zip(layer.weight_names, layer.grads):
        analytic[name] = np.array(g)
    errors = {"dx": rel_error(analytic["dx"], numerical_gradient(loss, x, h))}
    for name, w in zip(layer.weight_names, layer.trainable_weights):
        errors[name] = rel_error(analytic[name], numerical_gradient(loss, w, h))
    return errors
