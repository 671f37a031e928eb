"""The course's exercises: what each one asks, its reference answer, its public test inputs and the
common mistakes it recognises.

One module per lesson, ``course_utils/exercises/lesson_<NN_name>.py``, defines its exercises with
``Exercise(...)``; ``get("01_neuron.weighted_sum")`` finds one. Both the learners' ``check()`` and
the instructors' grader use these definitions, so they can never disagree.

An exercise is either

- a **function** the learner writes (``kind="function"``): it is called on each test case's
  arguments (NumPy arrays, numbers, strings: plain data only) and its output - an array, a number
  or a tuple of them - is compared with the reference implementation's output; or
- a **value** the learner computes (``kind="value"``): compared with the reference value.

A *mistake* is a known wrong implementation with the same signature, with a sentence that
explains it ("the bias is missing: z = x @ w + b"). The feedback names a mistake only when it is
the cause: its output equals the learner's on every public case (so it explains the whole
difference, not a coincidence on one case), it differs from the reference on the failing case,
and the learner's output is not merely the reference in another dtype.

A case with ``strict_fp=True`` is run under ``np.errstate(over="raise", invalid="raise",
divide="raise")``: a label that promises "exp must not overflow" is enforced, for the learner's
``check()`` and the grader alike. ``Exercise.stable_hint`` is the fix named when an output is not
finite or the computation overflowed (the max-shift for a softmax, the softplus form for
log(1 - sigmoid), ...).
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from typing import Any

import numpy as np

EXERCISES: dict[str, "Exercise"] = {}


@dataclass
class Case:
    """One test input: positional and keyword arguments, and a short label shown in feedback."""
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    label: str = ""
    strict_fp: bool = False       # run under np.errstate(over/invalid/divide="raise"): no overflow allowed

    def describe(self, names=()):
        """'x=array (3, 2) float64, w=[0.5 1. ], b=0.5' - shown when a case fails.

        names: the function's parameter names, to label the positional arguments (optional).
        """
        def one(v):
            if isinstance(v, np.ndarray):
                return f"array {tuple(v.shape)} {v.dtype}" if v.size > 6 else np.array2string(v, precision=4)
            return repr(v)
        names = tuple(names)[:len(self.args)]
        parts = ([f"{n}={one(a)}" for n, a in zip(names, self.args)] + [one(a) for a in self.args[len(names):]]
                 + [f"{k}={one(v)}" for k, v in self.kwargs.items()])
        return ", ".join(parts)


@dataclass
class Exercise:
    key: str                                  # "01_neuron.weighted_sum": lesson stem . exercise name
    reference: Any                            # the right function (kind="function") or value / () -> value
    cases: Any = None                         # list[Case] or (rng) -> list[Case]; public inputs
    kind: str = "function"
    points: float = 1.0
    mistakes: dict = field(default_factory=dict)   # sentence -> wrong implementation (or wrong value)
    rtol: float = 1e-6
    atol: float = 1e-8
    output_names: tuple = ()                  # names of the parts of a tuple output ("dW", "db")
    title: str = ""                           # what the exercise asks, in the lesson's words
    seed: int = 0
    name: str = ""                            # the name of the learner's function/variable in the notebook
    stable_hint: str = ""                     # the fix for an overflow / a non-finite output, for this formula

    def __post_init__(self):
        if "." not in self.key:
            raise ValueError(f"Exercise key must be 'lesson.exercise', received {self.key!r}.")
        if self.kind not in ("function", "value"):
            raise ValueError(f"Exercise kind must be 'function' or 'value', received {self.kind!r}.")
        if not self.name:
            self.name = self.key.split(".", 1)[1]
        if self.key in EXERCISES and EXERCISES[self.key] is not self:
            raise ValueError(f"Exercise {self.key!r} is defined twice.")
        EXERCISES[self.key] = self

    @property
    def lesson(self):
        return self.key.split(".", 1)[0]

    @property
    def n_outputs(self):
        """How many outputs the function returns (a tuple when more than 1)."""
        return max(1, len(self.output_names))

    @property
    def parameter_names(self):
        """The reference function's positional parameter names (to label inputs in feedback)."""
        try:
            parameters = inspect.signature(self.reference).parameters.values()
        except (TypeError, ValueError):
            return ()
        return tuple(p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))

    def public_cases(self):
        """The public test inputs, and last one of them again with other values of the same shapes
        (``called_again``): every check calls the function twice with inputs of the same shapes, so
        that no answer that keeps state between calls passes."""
        if self.kind == "value":
            return [Case(label="the value")]
        cases = self.cases(np.random.default_rng(self.seed)) if callable(self.cases) else list(self.cases or [])
        cases = [c if isinstance(c, Case) else Case(args=tuple(c)) for c in cases]
        for case in cases:     # the first version of a case whose output changes with its values
            for again in called_again(case):
                try:
                    if not _same_value(self.expected(again), self.expected(case)):
                        return cases + [again]
                except Exception:
                    continue
        return cases

    def expected(self, case=None):
        """The reference output for a case (for a value exercise, the reference value)."""
        if self.kind == "value":
            return self.reference() if callable(self.reference) else self.reference
        return self.reference(*copy_args(case.args), **copy_args(case.kwargs))


def called_again(case):
    """Versions of ``case`` with other values of the same shapes, to try in turn: one array argument
    reversed along every axis (rows stay rows, one-hot stays one-hot, probabilities stay
    probabilities; the other arguments as they are), then one array of values outside [0, 1]
    (logits, features: not probabilities, masks or labels) halved."""
    label = (f"{case.label} - again, with other values of the same shapes (a second call: no state may carry "
             f"over between calls)" if case.label else "the first input again, with other values of the same shapes")
    arrays = [i for i, v in enumerate(case.args)
              if isinstance(v, np.ndarray) and v.dtype.kind in "biuf" and v.size > 1]
    changes = [(i, lambda v: v[tuple(slice(None, None, -1) for _ in range(v.ndim))].copy()) for i in arrays]
    changes += [(i, lambda v: v / 2) for i in arrays
                if case.args[i].dtype.kind == "f" and ((case.args[i] < 0) | (case.args[i] > 1)).any()]
    for i, change in changes:
        args = list(case.args)
        args[i] = change(args[i])
        yield Case(tuple(args), dict(case.kwargs), label=label, strict_fp=case.strict_fp)


def _same_value(a, b):
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(_same_value(x, y) for x, y in zip(a, b)))
    try:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))


FP_STRICT = dict(over="raise", invalid="raise", divide="raise")


def errstate_for(case):
    """The np.errstate a case is run under: raising on overflow for a ``strict_fp`` case."""
    return np.errstate(**FP_STRICT) if getattr(case, "strict_fp", False) else np.errstate()


def copy_args(value):
    """Deep copies of arrays (in tuples, lists, dicts), so that no call can change a case's inputs."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(copy_args(v) for v in value)
    if isinstance(value, list):
        return [copy_args(v) for v in value]
    if isinstance(value, dict):
        return {k: copy_args(v) for k, v in value.items()}
    return value


def lesson_module_name(lesson):
    return f"{__name__}.lesson_{lesson}"


def load_lesson(lesson):
    """Import the lesson's exercise definitions; return its exercises in definition order."""
    try:
        importlib.import_module(lesson_module_name(lesson))
    except ModuleNotFoundError as exc:
        if exc.name != lesson_module_name(lesson):
            raise
        raise KeyError(f"There is no lesson {lesson!r}. Lessons: {', '.join(lessons())}.") from None
    return [ex for ex in EXERCISES.values() if ex.lesson == lesson]


def lessons():
    """The stems of the lessons that have exercises ("01_neuron", ...)."""
    return sorted(m.name[len("lesson_"):] for m in pkgutil.iter_modules(__path__)
                  if m.name.startswith("lesson_"))


def get(key):
    """The Exercise for 'lesson.exercise'."""
    if key not in EXERCISES:
        if not isinstance(key, str) or "." not in key:
            raise KeyError(f"An exercise is named 'lesson.exercise', e.g. '01_neuron.weighted_sum'; "
                           f"received {key!r}.")
        load_lesson(key.split(".", 1)[0])
    if key not in EXERCISES:
        lesson = key.split(".", 1)[0]
        known = [k for k in EXERCISES if k.startswith(lesson + ".")]
        raise KeyError(f"There is no exercise {key!r}. The exercises of {lesson} are: {', '.join(known)}.")
    return EXERCISES[key]


def all_exercises():
    for lesson in lessons():
        load_lesson(lesson)
    return dict(EXERCISES)
