"""Weight penalties added to the training loss, as Keras's ``kernel_regularizer``.

``L2(l2)`` adds ``l2 * sum(w**2)`` to the loss; its gradient is ``2 * l2 * w``, which pulls every
weight towards zero a little at each step ("weight decay").
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


def keras_version():
    """(major, minor) of the installed Keras, or None without one."""
    from importlib import metadata
    try:
        return tuple(int(part) for part in metadata.version("keras").split(".")[:2])
    except metadata.PackageNotFoundError:
        return None


def keras_l1_computes_float64():
    """Whether the installed Keras's ``L1`` can penalise float64 weights: Keras 3.13 keeps its factor
    as a float32 tensor and multiplies it by the weights, which TensorFlow refuses for float64."""
    version = keras_version()
    return version is None or version >= (3, 14)


@lru_cache(maxsize=None)
def keras_rounds_factors_to_float32():
    """Whether the installed Keras rounds the ``L2`` / ``L1L2`` factors through float32
    (0.01 -> 0.0099999998).

    Keras 3.13 multiplies by the Python float (float64 in a float64 model); from 3.14 on it casts
    the factor to a float32 tensor first. (``L1`` holds its factor as a float32 tensor in every
    version.) The NumPy penalties follow the installed version, so that float64 training with a
    penalty agrees with Keras to the last digits on either. Without Keras installed, the newest
    behaviour.
    """
    version = keras_version()
    return version is None or version >= (3, 14)


def _factor(value, always_float32=False):
    return float(np.float32(value)) if always_float32 or keras_rounds_factors_to_float32() else float(value)


class Regularizer:
    def __call__(self, w):
        raise NotImplementedError

    def gradient(self, w):
        raise NotImplementedError


class L1L2(Regularizer):
    """penalty = l1 * sum(|w|) + l2 * sum(w^2); d penalty / dw = l1 * sign(w) + 2 * l2 * w."""

    def __init__(self, l1=0.0, l2=0.0):
        for name, value in (("l1", l1), ("l2", l2)):
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, received {name}={value!r}.")
        self.l1 = float(l1)
        self.l2 = float(l2)

    # The factors as the installed Keras holds them (see keras_rounds_factors_to_float32).
    def _factors(self):
        l1_always_float32 = type(self) is L1   # keras.regularizers.L1 stores a float32 tensor
        return _factor(self.l1, l1_always_float32), _factor(self.l2)

    def __call__(self, w):
        l1, l2 = self._factors()
        return l1 * np.sum(np.abs(w)) + l2 * np.sum(np.square(w))

    def gradient(self, w):
        l1, l2 = self._factors()
        return l1 * np.sign(w) + 2.0 * l2 * w

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self):
        return f"{type(self).__name__}(l1={self.l1}, l2={self.l2})"


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l1=0.0, l2=l2)

    def get_config(self):
        return {"l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1, l2=0.0)

    def get_config(self):
        return {"l1": self.l1}


def get(identifier):
    """None, a Regularizer, a name ("l2") or a Keras serialized regularizer dict."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        table = {"l1": L1, "l2": L2, "l1_l2": L1L2}
        if identifier.lower() in table:
            return table[identifier.lower()]()
    if isinstance(identifier, dict):
        cls = {"L1": L1, "L2": L2, "L1L2": L1L2}.get(identifier.get("class_name"))
        if cls is not None:
            return cls(**identifier.get("config", {}))
    raise ValueError(f"Unknown regularizer {identifier!r}. Expected None, L1(...), L2(...), L1L2(...).")


def to_keras(regularizer):
    """The equivalent keras.regularizers object (or None)."""
    if regularizer is None:
        return None
    import keras
    if type(regularizer) is L2:
        return keras.regularizers.L2(regularizer.l2)
    if type(regularizer) is L1:
        return keras.regularizers.L1(regularizer.l1)
    return keras.regularizers.L1L2(l1=regularizer.l1, l2=regularizer.l2)
