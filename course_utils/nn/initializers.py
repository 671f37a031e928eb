"""Weight initializers with Keras's names and formulas.

They draw from NumPy's global random state, which ``keras.utils.set_random_seed(seed)`` also
seeds, so one call at the top of a notebook makes both libraries reproducible.
"""
from __future__ import annotations

import contextlib

import numpy as np


def _fans(shape, input_axes=None, output_axes=None):
    """fan_in, fan_out as Keras computes them (a conv kernel's receptive field multiplies both;
    with ``input_axes`` and ``output_axes``, the products of those axes' sizes)."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return (int(np.prod([shape[a] for a in input_axes], dtype=np.int64)),
                int(np.prod([shape[a] for a in output_axes], dtype=np.int64)))
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


def truncated_normal(shape, dtype="float64", mean=0.0, stddev=0.05):
    """Normal(mean, stddev) re-drawn outside mean +- 2 stddev, as Keras's TruncatedNormal."""
    return (mean + _truncated_normal(shape, stddev, np.random)).astype(dtype)


def variance_scaling(shape, dtype="float64", scale=1.0, mode="fan_in", distribution="truncated_normal",
                     input_axes=None, output_axes=None):
    """Keras's VarianceScaling: with n = fan_in, fan_out or (fan_in + fan_out) / 2 (``mode``, at least 1),

        "truncated_normal":   stddev = sqrt(scale / n) / 0.8796...  (the truncation's correction)
        "untruncated_normal": stddev = sqrt(scale / n)
        "uniform":            U(-limit, limit), limit = sqrt(3 scale / n)

    glorot_* are scale 1 with fan_avg, he_* scale 2 with fan_in, lecun_* scale 1 with fan_in.
    """
    if scale <= 0.0:
        raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise ValueError(f"Invalid `mode` argument: {mode}. Please use one of {{'fan_in', 'fan_out', 'fan_avg'}}")
    distribution = "truncated_normal" if distribution.lower() == "normal" else distribution.lower()
    if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
        raise ValueError(f"Invalid `distribution` argument: {distribution}. Please use one of "
                         f"{{'uniform', 'truncated_normal', 'untruncated_normal'}}")
    fan_in, fan_out = _fans(shape, input_axes, output_axes)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    scale = scale / max(1.0, n)
    if distribution == "truncated_normal":
        return _truncated_normal(shape, np.sqrt(scale) / 0.87962566103423978, np.random).astype(dtype)
    if distribution == "untruncated_normal":
        return np.random.normal(0.0, np.sqrt(scale), size=shape).astype(dtype)
    limit = np.sqrt(3.0 * scale)
    return np.random.uniform(-limit, limit, size=shape).astype(dtype)


def lecun_normal(shape, dtype="float64"):
    """Truncated normal with stddev sqrt(1 / fan_in) (corrected for truncation): for SELU layers."""
    return variance_scaling(shape, dtype, scale=1.0, mode="fan_in", distribution="truncated_normal")


def lecun_uniform(shape, dtype="float64"):
    """U(-limit, limit), limit = sqrt(3 / fan_in)."""
    return variance_scaling(shape, dtype, scale=1.0, mode="fan_in", distribution="uniform")


def constant(shape, dtype="float64", value=0.0):
    """Every entry = ``value`` (a scalar), as Keras's Constant."""
    if np.ndim(value) != 0:
        raise ValueError(f"The Constant initializer takes a scalar value (as Keras's); received value={value!r}.")
    return np.full(shape, value, dtype=dtype)


def identity(shape, dtype="float64", gain=1.0):
    """gain * I for a 2-D shape (rectangular: ones on the main diagonal), as Keras's Identity."""
    shape = tuple(shape)
    if len(shape) != 2:
        raise ValueError(f"Identity matrix initializer can only be used for 2D matrices. "
                         f"Received: shape={shape} of rank {len(shape)}.")
    return (gain * np.eye(*shape)).astype(dtype)


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


INITIALIZERS = {f.__name__: f for f in (zeros, ones, constant, random_normal, random_uniform, truncated_normal,
                                        glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform,
                                        lecun_normal, variance_scaling, orthogonal, identity)}

# Keras's other names for them (keras.initializers.get accepts these too)
ALIASES = {"normal": "random_normal", "uniform": "random_uniform", "one": "ones", "zero": "zeros",
           "identity_initializer": "identity", "orthogonal_initializer": "orthogonal"}


class KerasInitializer:
    """A Keras initializer the NumPy library does not have, kept as Keras wrote it (name or config).

    ``from_keras`` of a *built* Keras layer copies its weights, so the twin never needs to draw
    them: while it is converted (``weights_copied_from_keras``) this stands in for the initializer
    (the zeros it gives are overwritten by the copy), ``serialize`` gives Keras its initializer
    back for ``to_keras``, and building a new layer with it anywhere else is a clear error.
    """

    def __init__(self, identifier):
        self.identifier = identifier
        self.__name__ = identifier.get("class_name", "?") if isinstance(identifier, dict) else str(identifier)

    def __call__(self, shape, dtype="float64"):
        if _copying_keras_weights:
            return np.zeros(shape, dtype=dtype)
        raise ValueError(f"The NumPy library has no initializer {self.__name__!r} (its weights were copied "
                         f"from a Keras layer by from_keras). To build a new layer, use one of "
                         f"{sorted(INITIALIZERS)} or a function (shape, dtype) -> array.")

    def __repr__(self):
        return f"<KerasInitializer {self.__name__!r}>"


_copying_keras_weights = 0


@contextlib.contextmanager
def weights_copied_from_keras():
    """Within it, an initializer the NumPy library does not have becomes a ``KerasInitializer``
    instead of an error: for ``from_keras`` of a built layer, whose weights are copied anyway."""
    global _copying_keras_weights
    _copying_keras_weights += 1
    try:
        yield
    finally:
        _copying_keras_weights -= 1


def get(identifier):
    """An initializer function from a Keras name ("glorot_uniform"), a Keras config dict
    (``{"class_name": "RandomNormal", "config": {"stddev": 1.0}}``: its arguments are kept) or a
    callable ``(shape, dtype) -> array``."""
    if callable(identifier):
        return identifier
    try:
        return _get(identifier)
    except ValueError:
        if _copying_keras_weights and isinstance(identifier, (str, dict)):
            return KerasInitializer(identifier)
        raise


def _get(identifier):
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
        if key not in INITIALIZERS and key not in ALIASES:  # "GlorotUniform" -> "glorot_uniform"
            key = "".join("_" + c.lower() if c.isupper() else c for c in identifier).lstrip("_")
        key = ALIASES.get(key, key)
        if key in INITIALIZERS:
            return INITIALIZERS[key]
        raise ValueError(f"Unknown initializer {identifier!r}: the NumPy library does not have it. Expected "
                         f"one of {sorted(INITIALIZERS)} or a function (shape, dtype) -> array.")
    raise ValueError(f"Unknown initializer {identifier!r}. Expected one of {sorted(INITIALIZERS)} or a "
                     f"function (shape, dtype) -> array.")


def serialize(initializer):
    """The Keras name (or config dict, for an initializer with arguments) of an initializer."""
    import functools
    if isinstance(initializer, KerasInitializer):
        return initializer.identifier
    if isinstance(initializer, functools.partial):
        name = serialize(initializer.func)
        class_name = "".join(part.title() for part in name.split("_"))
        return {"class_name": class_name, "config": dict(initializer.keywords)}
    for name, f in INITIALIZERS.items():
        if f is initializer:
            return name
    return initializer
