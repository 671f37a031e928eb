"""``check(key, answer)``: the learner's exercise checker.

    check("01_neuron.weighted_sum", weighted_sum)

runs the exercise's public test cases, compares the learner's answer with the reference and says
what is wrong in words a learner can act on: expected vs got, shape and dtype, the first
mismatching index, and the common mistakes it recognises by name. It needs no network.

On success it prints one line; on failure it raises ``CheckFailed`` (an AssertionError, so that a
failing check fails a notebook run) whose message is shown without a long traceback.

The comparison itself (``diagnose``) works on plain data, so the instructors' grader uses the very
same function on answers brought back from a learner's kernel.
"""
from __future__ import annotations

import numpy as np

from . import exercises as exercises_module
from .exercises import Case, Exercise, copy_args


class CheckFailed(AssertionError):
    """A check did not pass; its message says why. Shown in Jupyter without the traceback."""

    def _render_traceback_(self):  # IPython: print just the message
        return [f"\x1b[31m{line}\x1b[0m" if i == 0 else line for i, line in enumerate(str(self).splitlines())]


class NotAnswered(Exception):
    """The learner's answer could not be obtained (not implemented, raised, wrong kind of object)."""


# ---------------------------------------------------------------------- plain data
def to_plain(value, _depth=0):
    """The learner's output as plain data: a float/int/bool ndarray, or a tuple of them.

    Raises NotAnswered with a sentence when the output is not numeric data (None, a string,
    an object that merely pretends to be equal to everything, ...).
    """
    if _depth > 3:
        raise NotAnswered("the output is nested too deeply; return an array, a number or a tuple of them")
    if value is None:
        raise NotAnswered("the function returned None - did you forget the `return` statement?")
    if isinstance(value, (tuple, list)) and value and not _all_numbers(value):
        return tuple(to_plain(v, _depth + 1) for v in value)
    try:
        array = np.asarray(value)
    except Exception as exc:
        raise NotAnswered(f"the output ({type(value).__name__}) cannot be read as a number or array: {exc}") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise NotAnswered(f"expected a number or a NumPy array, got {type(value).__name__}"
                          + (f" {value!r}"[:80] if isinstance(value, str) else ""))
    if np.issubdtype(array.dtype, np.complexfloating):
        raise NotAnswered("expected real numbers, got complex ones")
    return np.array(array)  # a fresh base-class ndarray: no subclass can change comparisons


def _all_numbers(seq):
    return all(isinstance(v, (int, float, bool, np.number)) for v in seq)


# ---------------------------------------------------------------------- comparing
def _fmt(x):
    x = np.asarray(x)
    if x.ndim == 0:
        return f"{x.item():.6g}" if np.issubdtype(x.dtype, np.floating) else repr(x.item())
    return np.array2string(x, precision=4, threshold=12, edgeitems=2, suppress_small=True)


def _shape(x):
    return "a scalar" if np.ndim(x) == 0 else f"shape {tuple(np.shape(x))}"


def _close(expected, got, rtol, atol):
    if np.shape(expected) != np.shape(got):
        return False
    e = np.asarray(expected, dtype=np.float64)
    g = np.asarray(got, dtype=np.float64)
    return bool(np.all(np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=False)))


def _same_output(expected, got, rtol, atol):
    if isinstance(expected, tuple) != isinstance(got, tuple):
        return False
    if isinstance(expected, tuple):
        return len(expected) == len(got) and all(_same_output(e, g, rtol, atol) for e, g in zip(expected, got))
    return _close(expected, got, rtol, atol)


def compare_arrays(expected, got, rtol=1e-6, atol=1e-8, what="the output", hints=True):
    """None when ``got`` matches ``expected``; otherwise a sentence saying how it differs
    (with ``hints``, also the likely cause when the difference has a telling pattern)."""
    expected = np.asarray(expected)
    got = np.asarray(got)
    if got.shape != expected.shape:
        msg = f"{what} has the wrong shape: expected {_shape(expected)}, got {_shape(got)}."
        if not hints:
            return msg
        if got.ndim == 2 and got.T.shape == expected.shape and _close(expected, got.T, rtol, atol):
            msg += " It is the transpose of the right answer: check the order of the matrix product."
        elif got.size == expected.size and _close(expected.ravel(), got.ravel(), rtol, atol):
            msg += " The numbers are right but arranged differently: check your reshape."
        elif got.ndim == expected.ndim - 1 or (expected.ndim >= 1 and got.ndim == 0):
            msg += " A dimension is missing: did you sum or average over an axis you should have kept?"
        elif got.ndim == expected.ndim + 1:
            msg += " There is an extra dimension: did you forget to sum over an axis (or keepdims=True)?"
        elif got.ndim == expected.ndim:
            msg += " Check which axis you sum over (axis=0 runs down the batch, axis=-1 across features)."
        return msg
    if np.issubdtype(expected.dtype, np.floating) and got.dtype == bool:
        return f"{what} is boolean (True/False); expected numbers - convert with .astype(float)."
    g = got.astype(np.float64)
    e = expected.astype(np.float64)
    if not np.all(np.isfinite(g)) and np.all(np.isfinite(e)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(g))[0])
        where = f" at index {bad}" if g.ndim else ""
        return (f"{what} contains {g[bad] if g.ndim else g}{where}: an overflow or a division by zero. "
                f"Keep exp() from overflowing (e.g. subtract the max first) and avoid log(0).")
    close = np.isclose(g, e, rtol=rtol, atol=atol)
    if np.all(close):
        return None
    bad = tuple(int(i) for i in np.argwhere(~close)[0])
    n_bad = int((~close).sum())
    where = f" at index {bad}" if g.ndim else ""
    msg = (f"{what} is wrong{where}: expected {_fmt(e[bad] if e.ndim else e)}, "
           f"got {_fmt(g[bad] if g.ndim else g)}")
    if g.ndim:
        msg += f" ({n_bad} of {g.size} values differ)."
    else:
        msg += "."
    if not hints:
        return msg
    if np.allclose(g, -e, rtol=rtol, atol=atol):
        msg += " It has the wrong sign."
    elif e.size > 1 and np.all(e != 0) and np.allclose(g / e, (g / e).ravel()[0], rtol=1e-6) \
            and (g / e).ravel()[0] != 0:
        factor = (g / e).ravel()[0]
        msg += (f" Every value is off by the same factor, {factor:.4g}: a sum where a mean belongs "
                f"(or the other way round), or a missing constant such as 2 or 1/n?")
    return msg


def diagnose(exercise: Exercise, case: Case, got, expected=None):
    """None when ``got`` (plain data) is right for ``case``; otherwise what is wrong, in words."""
    if expected is None:
        expected = to_plain(exercise.expected(case))
    names = exercise.output_names
    if isinstance(expected, tuple):
        if not isinstance(got, tuple) or len(got) != len(expected):
            n = len(got) if isinstance(got, tuple) else 1
            return (f"expected {len(expected)} outputs ({', '.join(names) if names else 'a tuple'}), "
                    f"got {n}. Return them as a tuple: return {', '.join(names) if names else 'a, b'}.")
        for i, (e, g) in enumerate(zip(expected, got)):
            what = names[i] if i < len(names) else f"output {i}"
            if compare_arrays(e, g, exercise.rtol, exercise.atol, what=what):
                return _explain(exercise, case, got, e, g, what)
        return None
    if isinstance(got, tuple):
        return f"expected one output ({_shape(expected)}), got a tuple of {len(got)}."
    what = names[0] if names else ("the value" if exercise.kind == "value" else "the output")
    if compare_arrays(expected, got, exercise.rtol, exercise.atol, what=what):
        return _explain(exercise, case, got, expected, got, what)
    return None


def _explain(exercise, case, got, expected_part, got_part, what):
    """The difference in words: a recognised mistake by name if there is one, else the pattern."""
    mistake = _mistake_sentence(exercise, case, got)
    if mistake:
        return compare_arrays(expected_part, got_part, exercise.rtol, exercise.atol, what=what, hints=False) + mistake
    return compare_arrays(expected_part, got_part, exercise.rtol, exercise.atol, what=what)


def _mistake_sentence(exercise, case, got):
    for sentence, wrong in exercise.mistakes.items():
        try:
            if exercise.kind == "function":
                wrong_out = to_plain(wrong(*copy_args(case.args), **copy_args(case.kwargs)))
            else:
                wrong_out = to_plain(wrong() if callable(wrong) else wrong)
        except Exception:
            continue
        if _same_output(wrong_out, got, exercise.rtol, exercise.atol):
            return f"\n  Likely mistake: {sentence}"
    return ""


# ---------------------------------------------------------------------- running
class CheckResult:
    def __init__(self, key, passed, total, problems):
        self.key, self.passed, self.total, self.problems = key, passed, total, problems

    @property
    def ok(self):
        return self.passed == self.total and not self.problems

    def message(self):
        if self.ok:
            return f"\u2714 {self.key}: all {self.total} test{'s' if self.total != 1 else ''} passed."
        lines = [f"\u2718 {self.key}: {self.passed} of {self.total} tests passed."]
        lines += [f"- {p}" for p in self.problems]
        return "\n".join(lines)


def call_learner(exercise, answer, case):
    """The learner's output for one case, as plain data; NotAnswered with a sentence if impossible."""
    if exercise.kind == "value":
        if callable(answer) and not isinstance(answer, np.ndarray):
            raise NotAnswered(f"expected a value for `{exercise.name}`, got a function; call it, or pass its result.")
        if answer is None or answer is Ellipsis:
            raise NotAnswered(f"`{exercise.name}` has no value yet: compute it where the exercise says "
                              f"`# YOUR CODE HERE`, run that cell, then run this check again.")
        return to_plain(answer)
    if not callable(answer):
        raise NotAnswered(f"expected the function `{exercise.name}` itself, got {type(answer).__name__}. "
                          f"Pass the function without calling it: check({exercise.key!r}, {exercise.name}).")
    args, kwargs = copy_args(case.args), copy_args(case.kwargs)
    try:
        out = answer(*args, **kwargs)
    except NotImplementedError:
        raise NotAnswered(f"`{exercise.name}` is not implemented yet: replace `raise NotImplementedError()` "
                          f"with your code, run that cell, then run this check again.") from None
    except Exception as exc:
        call = f"{exercise.name}({case.describe(exercise.parameter_names)})"
        raise NotAnswered(f"`{call}` raised {type(exc).__name__}: {exc}") from None
    for original, passed in zip(case.args, args):
        if isinstance(original, np.ndarray) and isinstance(passed, np.ndarray) and passed.shape == original.shape \
                and not np.array_equal(original, passed, equal_nan=True):
            raise NotAnswered(f"`{exercise.name}` changed its input array in place; "
                              f"compute a new array instead (e.g. x = x + 1, not x += 1).")
    return to_plain(out)


def run_check(key, answer):
    """Run an exercise's public tests on an answer; return a CheckResult (never raises for the learner's faults)."""
    exercise = exercises_module.get(key)
    cases = exercise.public_cases()
    passed, problems = 0, []
    for case in cases:
        try:
            got = call_learner(exercise, answer, case)
        except NotAnswered as exc:
            problems.append(str(exc))
            break  # the same reason would repeat for every case
        problem = diagnose(exercise, case, got)
        if problem is None:
            passed += 1
        else:
            label = f" [{case.label}]" if case.label else ""
            inputs = (f"\n  for the input {case.describe(exercise.parameter_names)}"
                      if exercise.kind == "function" else "")
            # the input goes right under the first line, before a recognised mistake's sentence
            first, newline, rest = problem.partition("\n")
            problems.append(f"{first}{inputs}{label}{newline}{rest}")
            break  # one clear problem at a time
    return CheckResult(key, passed, len(cases), problems)


def check(key, answer):
    """Check an exercise: ``check("01_neuron.weighted_sum", weighted_sum)``.

    Prints a tick when every public test passes; raises CheckFailed saying what is wrong otherwise.
    """
    result = run_check(key, answer)
    if not result.ok:
        raise CheckFailed(result.message())
    print(result.message())
