"""Turning collected answers into scores, in the grading process.

A kernel's harvest is only *data*: each output is read back from ``.npy`` files
(``allow_pickle=False``), checked to be numbers, and converted with ``checks.to_plain``; each
verdict comes from ``checks.diagnose`` against the reference output computed here - the very
function learners' ``check()`` uses, so a check that passes in the notebook and the grader agree.

Scoring: every exercise is one Gradescope test worth ``Exercise.points``, all or nothing - it
scores its points only when every public test case passes (as the learner's ``check()`` ticks
only then). An exercise with hidden test cases gets a second test, "<key> (hidden tests)", worth
its hidden points (the hidden tests file's POINTS, else the exercise's points), also all or
nothing, whose output never shows the hidden inputs.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checks import NotAnswered, diagnose, to_plain

MANIFEST_MAX_BYTES = 16 * 2**20
_NPY_NAME = re.compile(r"^e\d+_c\d+(_\d+)*\.npy$")
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")


@dataclass
class Collected:
    """The answer collected for one exercise: per case ("out", plain data) or ("err", sentence)."""
    cases: list | None = None
    error: str | None = None        # a reason that applies to the whole exercise
    cell: int = 0                   # the notebook cell after which it was collected

    @property
    def complete(self):
        return self.cases is not None and all(kind == "out" for kind, _ in self.cases)


def read_manifest(folder):
    """The harvest manifest written by the kernel, or None if there is none (or it is damaged)."""
    path = Path(folder) / "manifest.json"
    try:
        if path.stat().st_size > MANIFEST_MAX_BYTES:
            return None
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("exercises"), dict):
        return None
    return manifest


def decode_record(plan, record, folder, cell=0):
    """A Collected from one exercise's record in a harvest manifest (never raises)."""
    name = plan.name
    if not isinstance(record, dict):
        return Collected(error="the grader could not read the answer collected from the notebook.", cell=cell)
    if record.get("missing"):
        return Collected(error=f"the notebook does not define `{name}`.", cell=cell)
    if "error" in record:
        code = record.get("error")
        if code == "not_callable":
            kind = str(record.get("type", "something else"))[:80]
            message = (f"expected the function `{name}`, but `{name}` in the notebook is a {kind}, "
                       f"not a function.")
        elif code == "callable":
            message = f"expected a value for `{name}`, got a function; assign its result to `{name}` instead."
        else:
            message = f"the answer `{name}` could not be collected ({str(code)[:80]})."
        return Collected(error=message, cell=cell)
    raw = record.get("cases")
    if not isinstance(raw, list) or not raw:
        return Collected(error="the grader could not read the answer collected from the notebook.", cell=cell)
    cases = []
    for index in range(len(plan.cases) if plan.exercise.kind == "function" else 1):
        entry = raw[index] if index < len(raw) else raw[-1]     # the kernel stops after a repeated failure
        cases.append(_decode_case(plan, index, entry, Path(folder)))
    return Collected(cases=cases, cell=cell)


def _decode_case(plan, index, entry, folder):
    name = plan.name
    if not isinstance(entry, dict):
        return ("err", "the grader could not read this answer.")
    if "out" in entry:
        try:
            value = _decode_output(entry["out"], folder, 0)
            if value is None and plan.exercise.kind == "value":
                return ("err", f"`{name}` is None: assign your result to `{name}`.")
            return ("out", to_plain(value, plan.exercise.n_outputs))
        except NotAnswered as exc:
            return ("err", str(exc))
    code = entry.get("error")
    hidden = index >= len(plan.public)
    if code == "not_implemented":
        return ("err", f"`{name}` is not implemented yet (it raises NotImplementedError).")
    if code == "timeout":
        return ("err", f"`{name}` did not return within {float(entry.get('seconds', 0)):g} s "
                       f"(an infinite loop, or far too slow?).")
    if code == "inplace":
        return ("err", f"`{name}` changed its input array in place; compute a new array instead "
                       f"(e.g. x = x + 1, not x += 1).")
    if code == "raised":
        kind = str(entry.get("type", "an exception"))[:80]
        message = str(entry.get("message", ""))[:300]
        if hidden:
            return ("err", f"`{name}` raised {kind} on a hidden test: {message}")
        return ("err", f"`{name}({describe(plan, plan.cases[index])})` raised {kind}: {message}")
    if code == "overflow":
        from ..checks import GENERIC_STABLE_HINT
        where = f"a hidden test" if hidden else f"`{name}({describe(plan, plan.cases[index])})`"
        label = "" if hidden or not plan.cases[index].label else f" [{plan.cases[index].label}]"
        return ("err", f"{where}{label} overflowed ({str(entry.get('message', ''))[:120]}; this test runs under "
                       f"np.errstate(over=\"raise\")): {plan.exercise.stable_hint or GENERIC_STABLE_HINT}.")
    if code == "crashed":
        return ("err", str(entry.get("message", "")))
    return ("err", f"the answer could not be collected ({str(code)[:80]}).")


def _decode_output(spec, folder, depth):
    if not isinstance(spec, dict) or depth > 6:
        raise NotAnswered("the grader could not read this output.")
    kind = spec.get("t")
    if kind == "none":
        return None
    if kind == "str":
        return str(spec.get("v", ""))
    if kind == "seq":
        items = spec.get("v")
        if not isinstance(items, list):
            raise NotAnswered("the grader could not read this output.")
        return tuple(_decode_output(item, folder, depth + 1) for item in items)
    if kind == "npy":
        name = spec.get("file")
        if not isinstance(name, str) or not _NPY_NAME.match(name):
            raise NotAnswered("the grader could not read this output.")
        try:
            array = np.load(folder / name, allow_pickle=False)
        except Exception:
            raise NotAnswered("the grader could not read this output.") from None
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
            raise NotAnswered("the grader could not read this output.")
        return array
    if kind == "nested":
        raise NotAnswered("the output is nested too deeply; return an array, a number or a tuple of them")
    if kind == "too_many":
        raise NotAnswered(f"the output is a sequence of {int(spec.get('n', 0))} arrays; return an array, "
                          f"a number or a tuple of a few of them")
    if kind == "complex":
        raise NotAnswered("expected real numbers, got complex ones")
    if kind == "too_large":
        raise NotAnswered(f"the output is too large ({int(spec.get('nbytes', 0)) / 2**20:.0f} MiB) to be an answer")
    if kind == "unreadable":
        detail = str(spec.get("detail", ""))[:120]
        raise NotAnswered(f"expected a number or a NumPy array, got {str(spec.get('type', 'an object'))[:80]}"
                          + (f" ({detail})" if detail else ""))
    raise NotAnswered("the grader could not read this output.")


def merge(previous, new):
    """Keep the latest answer that produced outputs: a complete answer always replaces; an
    incomplete one (not implemented, raised, missing) never replaces a complete one."""
    if previous is None or new.complete or not previous.complete:
        return new
    return previous


def describe(plan, case):
    names = getattr(plan.exercise, "parameter_names", ())
    try:
        return case.describe(names)
    except TypeError:   # an older Case.describe without parameter names
        return case.describe()


# ---------------------------------------------------------------------- tests
def exercise_tests(plan, collected, hidden_visibility="after_published", stop_note="", never_ran=False):
    """The Gradescope tests of one exercise: public, and hidden if it has hidden cases.

    stop_note: why the run stopped early (added to the output of an exercise never answered);
    never_ran: the notebook was not run at all (not a notebook...): stop_note is the whole story.
    """
    exercise = plan.exercise
    title = f": {exercise.title}" if exercise.title else ""
    common = dict(stop_note=stop_note, never_ran=never_ran)
    tests = [_test(plan, collected, f"{plan.key}{title}", range(len(plan.public)), plan.expected_public,
                   float(exercise.points), "visible", hidden=False, **common)]
    if plan.hidden:
        indices = range(len(plan.public), len(plan.public) + len(plan.hidden))
        tests.append(_test(plan, collected, f"{plan.key} (hidden tests)", indices, plan.expected_hidden,
                           plan.hidden_points, hidden_visibility, hidden=True, **common))
    return tests


def _test(plan, collected, name, indices, expected, points, visibility, stop_note, never_ran, hidden):
    indices = list(indices)
    total = len(indices)
    what = "hidden tests" if hidden else "tests"
    passed, problem = 0, None
    if never_ran and collected is None:
        problem = stop_note or "the notebook was not run."
    elif collected is None or collected.cases is None:
        reason = collected.error if collected is not None else f"the notebook does not define `{plan.name}`."
        problem = reason[0].upper() + reason[1:]
        if stop_note:
            problem += f" {stop_note}"
    else:
        # the learner's outputs on every case of this test: a recognised mistake must explain them all
        others = [(plan.cases[i], collected.cases[i][1], want) for i, want in zip(indices, expected)
                  if collected.cases[i][0] == "out"]
        for index, want in zip(indices, expected):
            kind, got = collected.cases[index]
            if kind == "err":
                found = got
            else:
                found = diagnose(plan.exercise, plan.cases[index], got, want, others=others)
                if found is not None:
                    found = _located(plan, index, found, hidden)
            if found is None:
                passed += 1
            elif problem is None:
                problem = found
    ok = problem is None and passed == total
    if ok:
        output = f"All {total} {what} passed." if total != 1 else f"The {what[:-1]} passed."
        if not hidden and plan.hidden:
            # honest: passing the public tests is not yet passing the exercise
            output = (f"All {total} public tests passed" if total != 1 else "The public test passed") + \
                     "; the hidden tests are scored separately."
    else:
        problem = problem or "no answer."
        output = f"{passed} of {total} {what} passed. {problem[0].upper()}{problem[1:]}"
    return {"name": name, "score": round(points if ok else 0.0, 6), "max_score": round(points, 6),
            "status": "passed" if ok else "failed", "output": output, "visibility": visibility}


def _located(plan, index, problem, hidden):
    """A diagnosis with the input it is about (as check() shows it), or the hidden test's number."""
    if plan.exercise.kind == "value":
        return problem
    first, newline, rest = problem.partition("\n")
    if hidden:
        where = f" (hidden test {index - len(plan.public) + 1})"
    else:
        case = plan.cases[index]
        label = f" [{case.label}]" if case.label else ""
        where = f"\n  for the input {describe(plan, case)}{label}"
    return f"{first}{where}{newline}{rest}"
