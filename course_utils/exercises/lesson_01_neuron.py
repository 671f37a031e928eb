"""Exercises of lesson 01_neuron (placeholder example; the lesson author completes it)."""
import numpy as np

from . import Case, Exercise


def weighted_sum(x, w, b):
    return x @ w + b


def _cases(rng):
    return [Case((rng.normal(size=3), rng.normal(size=3), 0.5), label="one example"),
            Case((rng.normal(size=(4, 3)), rng.normal(size=3), -1.0), label="a batch of 4")]


Exercise("01_neuron.weighted_sum", reference=weighted_sum, cases=_cases,
         mistakes={"the bias b is missing: z = x @ w + b": lambda x, w, b: x @ w,
                   "the bias is subtracted: z = x @ w + b": lambda x, w, b: x @ w - b},
         title="the weighted sum z = x . w + b")
