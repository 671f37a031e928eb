"""Learning-rate schedules with Keras's names, arguments and arithmetic.

A schedule maps the optimizer's step counter (``iterations``, the number of updates already made)
to a learning rate: ``schedule(step) -> float``. Pass one as ``learning_rate=`` to any optimizer,
as in Keras: ``nn.SGD(learning_rate=nn.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5))``.

Keras computes a schedule in the dtype of ``initial_learning_rate`` as a tensor, that is float32
for a Python float; the NumPy schedules compute in float32 too, so that the learning rate of step
t is the same number in both libraries (to float32's last bit or so).

    >>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(10)   # 0.1 * 0.5 ** (10 / 10)
    0.05000000074505806
"""
from __future__ import annotations

import math
import numbers

import numpy as np

f32 = np.float32


def _check_number(value, name, positive=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"Argument `{name}` must be a finite number. Received: {name}={value!r}")
    if positive and value <= 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value!r}")
    return value


class LearningRateSchedule:
    """Base class: ``__call__(step) -> learning rate`` (a Python float holding a float32 value)."""

    keras_class = None

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError

    def to_keras(self):
        import keras
        return getattr(keras.optimizers.schedules, self.keras_class)(**self.get_config())

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class ExponentialDecay(LearningRateSchedule):
    """lr(step) = initial_learning_rate * decay_rate ** (step / decay_steps);
    with ``staircase`` the exponent is floored (the rate drops every ``decay_steps`` steps)."""

    keras_class = "ExponentialDecay"

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        self.initial_learning_rate = _check_number(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _check_number(decay_steps, "decay_steps", positive=True)
        self.decay_rate = _check_number(decay_rate, "decay_rate")
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step):
        p = f32(step) / f32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return float(f32(self.initial_learning_rate) * np.power(f32(self.decay_rate), p))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay (Loshchilov & Hutter), with an optional linear warmup first:

        warmup (step < warmup_steps, only with warmup_target):
            lr = initial + (warmup_target - initial) * step / warmup_steps
        decay (s = min(step - warmup_steps, decay_steps), from lr0 = warmup_target or initial):
            lr = lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)
    """

    keras_class = "CosineDecay"

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        self.initial_learning_rate = _check_number(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _check_number(decay_steps, "decay_steps", positive=True)
        self.alpha = _check_number(alpha, "alpha")
        self.name = name
        self.warmup_target = None if warmup_target is None else _check_number(warmup_target, "warmup_target")
        self.warmup_steps = _check_number(warmup_steps, "warmup_steps")

    def _decay(self, step, decay_from_lr):
        cosine_decayed = f32(0.5) * (f32(1.0) + np.cos(f32(math.pi) * (step / f32(self.decay_steps))))
        decayed = f32(1 - self.alpha) * cosine_decayed + f32(self.alpha)
        return decay_from_lr * decayed

    def __call__(self, step):
        initial = f32(self.initial_learning_rate)
        decay_steps = f32(self.decay_steps)
        step = f32(step)
        if self.warmup_target is None:
            return float(self._decay(np.minimum(step, decay_steps), initial))
        target, warmup_steps = f32(self.warmup_target), f32(self.warmup_steps)
        step = np.minimum(step, decay_steps + warmup_steps)
        if step < warmup_steps:
            return float((target - initial) * (step / warmup_steps) + initial)
        return float(self._decay(step - warmup_steps, target))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class PiecewiseConstantDecay(LearningRateSchedule):
    """lr = values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i],
    values[-1] after the last boundary."""

    keras_class = "PiecewiseConstantDecay"

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(f"The length of boundaries should be 1 less than the length of values. Received: "
                             f"boundaries={boundaries} of length {len(boundaries)}, and values={values} "
                             f"of length {len(values)}.")
        for v in values:
            _check_number(v, "values")
        self.boundaries, self.values, self.name = boundaries, values, name

    def __call__(self, step):
        index = int(np.searchsorted(np.asarray(self.boundaries), step, side="left"))   # first b >= step
        return float(f32(self.values[index]))

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, CosineDecay, PiecewiseConstantDecay)}


def from_keras(keras_schedule):
    """The NumPy twin of a Keras learning-rate schedule."""
    name = type(keras_schedule).__name__
    if name not in SCHEDULES:
        raise ValueError(f"No NumPy twin for the Keras schedule {name}; expected one of {sorted(SCHEDULES)}.")
    return SCHEDULES[name](**keras_schedule.get_config())
