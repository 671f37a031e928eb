"""The instructor's side of a lesson: its exercises, public and hidden test cases, reference
outputs, and the inputs shipped to each kernel (.npz + JSON, no pickle).

Hidden tests live outside the package, in ``--tests DIR``: ``DIR/<lesson>.py`` defines

    CASES = {"weighted_sum": [Case((x, w, b), label="..."), ...], ...}   # or
    def cases(rng): return {"weighted_sum": [...], ...}                 # rng: np.random.Generator

and optionally ``POINTS = {"weighted_sum": 2.0}`` (what each exercise's hidden tests are worth;
the exercise's own points by default) and ``SEED`` (for ``cases(rng)``; 0 by default). Keys are
exercise names ("weighted_sum") or keys ("01_neuron.weighted_sum"); a case may be a Case or a
tuple of positional arguments.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..checks import NotAnswered, to_plain
from ..exercises import Case, Exercise


class GradingSetupError(ValueError):
    """The instructor's set-up is wrong (unknown lesson, missing folder, bad hidden tests)."""


@dataclass
class ExercisePlan:
    """One exercise as graded: its public and hidden cases with the reference outputs."""
    exercise: Exercise
    public: list
    hidden: list = field(default_factory=list)
    expected_public: list = field(default_factory=list)
    expected_hidden: list = field(default_factory=list)
    hidden_points: float = 0.0

    @property
    def key(self):
        return self.exercise.key

    @property
    def name(self):
        return self.exercise.name

    @property
    def cases(self):
        return self.public + self.hidden

    @property
    def max_score(self):
        return float(self.exercise.points) + (self.hidden_points if self.hidden else 0.0)


@dataclass
class LessonPlan:
    """Everything the grading of one lesson needs, prepared once for all submissions."""
    lesson: str
    exercises: list                      # list[ExercisePlan], in definition order
    inputs_npz: bytes = b""
    inputs_json: bytes = b""
    fingerprint: str = ""                # changes when the exercises or hidden tests change

    @property
    def max_score(self):
        return sum(plan.max_score for plan in self.exercises)

    @property
    def keys(self):
        return [plan.key for plan in self.exercises]


def plan_lesson(exercises, hidden=None, hidden_points=None, lesson=None):
    """A LessonPlan from Exercise objects and hidden cases ({exercise key: [Case, ...]}).

    Reference outputs are computed here, once; a reference that fails is the course's bug and
    raises GradingSetupError.
    """
    exercises = list(exercises)
    if not exercises:
        raise GradingSetupError("there are no exercises to grade.")
    names = [ex.name for ex in exercises]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise GradingSetupError(f"several exercises use the notebook name(s) {duplicates}; each exercise "
                                f"needs its own name to be collected from a notebook.")
    lesson = lesson or exercises[0].lesson
    hidden = hidden or {}
    hidden_points = hidden_points or {}
    plans = []
    for ex in exercises:
        public = ex.public_cases()
        extra = [_as_case(c, ex.key) for c in hidden.get(ex.key, [])]
        if extra and ex.kind == "value":
            raise GradingSetupError(f"hidden tests were given for {ex.key}, a value exercise; a value has no "
                                    f"inputs - remove it from the hidden tests.")
        plans.append(ExercisePlan(ex, public, extra, hidden_points=float(hidden_points.get(ex.key, ex.points))))
    plan = LessonPlan(lesson, plans)
    plan.inputs_npz, plan.inputs_json = pack_inputs(plans)     # first: inputs must be plain data
    for p in plans:
        p.expected_public = [_reference(p.exercise, c) for c in p.public]
        p.expected_hidden = [_reference(p.exercise, c) for c in p.hidden]
    digest = hashlib.sha256(plan.inputs_npz + plan.inputs_json)
    for p in plans:
        digest.update(repr((p.key, p.name, p.exercise.kind, p.exercise.points, p.hidden_points,
                            p.exercise.rtol, p.exercise.atol)).encode())
        for out in p.expected_public + p.expected_hidden:
            for part in (out if isinstance(out, tuple) else (out,)):
                digest.update(np.ascontiguousarray(part).tobytes())
    plan.fingerprint = digest.hexdigest()[:16]
    return plan


def _as_case(case, key):
    if isinstance(case, Case):
        return case
    if isinstance(case, (tuple, list)):
        return Case(args=tuple(case))
    raise GradingSetupError(f"a hidden test of {key} is a {type(case).__name__}; use Case(args, kwargs, label) "
                            f"or a tuple of positional arguments.")


def _reference(exercise, case):
    try:
        return to_plain(exercise.expected(case), exercise.n_outputs)
    except NotAnswered as exc:
        raise GradingSetupError(f"the reference of {exercise.key} does not give plain data for the input "
                                f"{case.describe()}: {exc}") from None
    except Exception as exc:
        raise GradingSetupError(f"the reference of {exercise.key} raised {type(exc).__name__} for the input "
                                f"{case.describe()}: {exc}") from None


# ---------------------------------------------------------------------- inputs for the kernel
def pack_inputs(plans):
    """(npz bytes, json bytes): every case's arguments, arrays in the .npz, the structure in JSON."""
    arrays = {}

    def encode(value, where):
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biufcUS":
                raise GradingSetupError(f"{where}: a {value.dtype} array cannot be shipped without pickle; "
                                        f"use numbers, booleans or strings.")
            key = f"a{len(arrays)}"
            arrays[key] = value
            return {"t": "array", "k": key}
        if isinstance(value, np.generic):
            key = f"a{len(arrays)}"
            arrays[key] = np.asarray(value)
            return {"t": "npscalar", "k": key}
        if value is None or isinstance(value, (bool, int, float, str)):
            return {"t": type(value).__name__, "v": value}
        if isinstance(value, (tuple, list)):
            return {"t": "tuple" if isinstance(value, tuple) else "list",
                    "v": [encode(v, where) for v in value]}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"t": "dict", "v": {k: encode(v, where) for k, v in value.items()}}
        raise GradingSetupError(f"{where}: a {type(value).__name__} is not plain data; test inputs must be "
                                f"arrays, numbers, strings, None, or tuples/lists/dicts of them.")

    spec = {"exercises": []}
    for plan in plans:
        cases = []
        if plan.exercise.kind == "function":
            for i, case in enumerate(plan.cases):
                where = f"{plan.key}, test case {i + 1}"
                cases.append({"args": [encode(a, where) for a in case.args],
                              "kwargs": {str(k): encode(v, where) for k, v in case.kwargs.items()},
                              "strict_fp": bool(getattr(case, "strict_fp", False))})
        spec["exercises"].append({"name": plan.name, "kind": plan.exercise.kind, "cases": cases})
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue(), json.dumps(spec).encode()


# ---------------------------------------------------------------------- hidden tests
def load_hidden_tests(tests_dir, lesson, exercises):
    """({exercise key: [Case, ...]}, {exercise key: points}) from ``tests_dir/<lesson>.py``."""
    tests_dir = Path(tests_dir)
    if not tests_dir.is_dir():
        raise GradingSetupError(f"the hidden tests folder {str(tests_dir)!r} does not exist; pass --tests "
                                f"a folder that holds <lesson>.py files (e.g. {lesson}.py).")
    path = tests_dir / f"{lesson}.py"
    if not path.is_file():
        present = sorted(p.name for p in tests_dir.glob("*.py"))
        raise GradingSetupError(f"no hidden tests for lesson {lesson}: expected the file {str(path)!r} "
                                f"(the folder holds: {', '.join(present) or 'no .py file'}).")
    module_name = f"_course_hidden_tests_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise GradingSetupError(f"{path}: importing the hidden tests raised {type(exc).__name__}: {exc}") from None
    if hasattr(module, "CASES"):
        cases = module.CASES
    elif callable(getattr(module, "cases", None)):
        cases = module.cases(np.random.default_rng(getattr(module, "SEED", 0)))
    else:
        raise GradingSetupError(f"{path} defines neither CASES = {{'exercise_name': [Case(...), ...]}} "
                                f"nor a function cases(rng) returning such a dict.")
    if not isinstance(cases, dict):
        raise GradingSetupError(f"{path}: CASES must be a dict {{exercise name: [Case, ...]}}, "
                                f"got {type(cases).__name__}.")
    by_name = {}
    for ex in exercises:
        by_name[ex.key] = ex.key
        by_name[ex.name] = ex.key
        by_name[ex.key.split(".", 1)[1]] = ex.key

    def resolve(name):
        if name not in by_name:
            raise GradingSetupError(f"{path}: there is no exercise {name!r} in lesson {lesson}; its exercises "
                                    f"are {', '.join(ex.name for ex in exercises)}.")
        return by_name[name]

    hidden = {}
    for name, items in cases.items():
        items = [items] if isinstance(items, Case) else list(items)
        hidden[resolve(name)] = [_as_case(c, name) for c in items]
    points = {resolve(name): float(p) for name, p in getattr(module, "POINTS", {}).items()}
    return hidden, points
