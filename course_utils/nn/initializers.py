"""Weight initializers with Keras's names and formulas.

They draw from NumPy's global random state, which ``keras.utils.set_random_seed(seed)`` also
seeds, so one call at the top of a notebook makes both libraries reproducible.
"""
from __future__ import annotations

import numpy as np


def _fans(shape):
    """fan_in, fan_out as Keras computes them (a conv kernel's receptive field multiplies both)."""
    shape = tuple(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_normal(shape, stddev, rng):
    """Normal(0, stddev) re-drawn outside two standard deviations, as Keras's TruncatedNormal."""
    out = rng.normal(0.0, 1.0, size=shape)
    bad = np.abs(out) > 2.0
    while np.any(bad):
        out[bad] = rng.normal(0.0, 1.0, size=int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out * stddev


def zeros(shape, dtype="float64"):
    return np.zeros(shape, dtype=dtype)


def ones(shape, dtype="float64"):
    return np.ones(shape, dtype=dtype)


def random_normal(shape, dtype="float64", mean=0.0, stddev=0.05):
    return np.random.normal(mean, stddev, size=shape).astype(dtype)


def random_uniform(shape, dtype="float64", minval=-0.05, maxval=0.05):
    return np.random.uniform(minval, maxval, size=shape).astype(dtype)


def glorot_uniform(shape, dtype="float64"):
    """U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)): Keras's default kernel init."""
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return np.random.uniform(-limit, limit, size=shape).astype(dtype)


def glorot_normal(shape, dtype="float64"):
    fan_in, fan_out = _fans(shape)
    stddev = np.sqrt(2.0 / (fan_in + fan_out)) / 0.87962566103423978
    return _truncated_normal(shape, stddev, np.random).astype(dtype)


def he_uniform(shape, dtype="float64"):
    fan_in, _ = _fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return np.random.uniform(-limit, limit, size=shape).astype(dtype)


def he_normal(shape, dtype="float64"):
    """Truncated normal with stddev sqrt(2 / fan_in) (corrected for truncation): for ReLU layers."""
    fan_in, _ = _fans(shape)
    stddev = np.sqrt(2.0 / fan_in) / 0.87962566103423978
    return _truncated_normal(shape, stddev, np.random).astype(dtype)


def orthogonal(shape, dtype="float64", gain=1.0):
    """A (semi-)orthogonal matrix, Keras's default recurrent kernel init."""
    rows = int(np.prod(shape[:-1]))
    cols = shape[-1]
    flat = np.random.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q[:rows, :cols]).reshape(shape).astype(dtype)


INITIALIZERS = {f.__name__: f for f in (zeros, ones, random_normal, random_uniform, glorot_uniform,
                                        glorot_normal, he_uniform, he_normal, orthogonal)}


def get(identifier):
    """An initializer function from a Keras name ("glorot_uniform"), a Keras config dict
    (``{"class_name": "RandomNormal", "config": {"stddev": 1.0}}``: its arguments are kept) or a
    callable ``(shape, dtype) -> array``."""
    if callable(identifier):
        return identifier
    if isinstance(identifier, dict):  # a Keras serialized initializer
        function = get(identifier.get("class_name", ""))
        config = {k: v for k, v in (identifier.get("config") or {}).items() if k != "seed" and v is not None}
        if not config:
            return function
        import functools
        import inspect
        accepted = set(inspect.signature(function).parameters) - {"shape", "dtype"}
        unknown = set(config) - accepted
        if unknown:
            raise ValueError(f"The NumPy initializer {function.__name__} cannot take "
                             f"{', '.join(f'{k}={config[k]!r}' for k in sorted(unknown))}.")
        configured = functools.partial(function, **config)
        configured.__name__ = function.__name__
        return configured
    if isinstance(identifier, str):
        key = identifier
        if key not in INITIALIZERS:  # "GlorotUniform" -> "glorot_uniform"
            key = "".join("_" + c.lower() if c.isupper() else c for c in identifier).lstrip("_")
        if key in INITIALIZERS:
            return INITIALIZERS[key]
    raise ValueError(f"Unknown initializer {identifier!r}. Expected one of {sorted(INITIALIZERS)} or a "
                     f"function (shape, dtype) -> array.")


def serialize(initializer):
    """The Keras name (or config dict, for an initializer with arguments) of an initializer."""
    import functools
    if isinstance(initializer, functools.partial):
        name = serialize(initializer.func)
        class_name = "".join(part.title() for part in name.split("_"))
        return {"class_name": class_name, "config": dict(initializer.keywords)}
    for name, f in INITIALIZERS.items():
        if f is initializer:
            return name
    return initializer
