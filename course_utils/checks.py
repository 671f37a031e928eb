"""``check(key, answer)``: the learner's exercise checker.

    check("01_neuron.weighted_sum", weighted_sum)

runs the exercise's public test cases, compares the learner's answer with the reference and says
what is wrong in words a learner can act on: expected vs got, shape and dtype, the first
mismatching index, and the common mistakes it recognises by name. It needs no network.

On success it prints one line; on failure it raises ``CheckFailed`` (an AssertionError, so that a
failing check fails a notebook run) whose message is shown without a long traceback.

What the feedback promises:

- **float32 policy** (the same for every exercise): the course computes in float64, and every check
  compares with a float64 reference (rtol about 1e-6, atol 1e-8). A floating output of lower
  precision (float32, float16) is not accepted, whatever its values: the message says to compute
  in float64. (Integers where whole numbers are expected, and exact integer values in a float
  array, are fine; booleans where numbers are expected get "convert with .astype(float)".)
- a **recognised mistake** is named only when it is the cause: its output equals the learner's on
  every public case and differs from the reference on the failing one, and never when the only
  difference is the dtype. Each part of a tuple output is named by its own name.
- the **shape hint** fits the shapes (axes in another order, a missing or extra axis, a length off
  by one); values that print alike at 6 digits are shown with more digits and their difference; an
  overflow or a non-finite output names the fix that fits the formula (``Exercise.stable_hint``),
  and a case marked ``strict_fp`` runs under ``np.errstate(over="raise", ...)``.
- success says "all N **public** tests passed": an instructor's grader may hold hidden tests.

The comparison itself (``diagnose``) works on plain data, so the instructors' grader uses the very
same function on answers brought back from a learner's kernel.
"""
from __future__ import annotations

import numpy as np

from . import exercises as exercises_module
from .exercises import Case, Exercise, copy_args, errstate_for


class CheckFailed(AssertionError):
    """A check did not pass; its message says why. Shown in Jupyter without the traceback."""

    def _render_traceback_(self):  # IPython: print just the message
        return [f"\x1b[31m{line}\x1b[0m" if i == 0 else line for i, line in enumerate(str(self).splitlines())]


class NotAnswered(Exception):
    """The learner's answer could not be obtained (not implemented, raised, wrong kind of object)."""


# ---------------------------------------------------------------------- plain data
def to_plain(value, n_outputs=None, _depth=0):
    """The learner's output as plain data: a float/int/bool ndarray, or a tuple of them.

    n_outputs: how many outputs the exercise returns (``Exercise.n_outputs``). With 1, any nesting
    of lists/tuples/0-d arrays/NumPy scalars that forms a regular array is that one array (a list
    of rows, a list of ``np.where`` results, a list of ``np.bool_``); with more, a tuple or list is
    read as that many parts, each one array. Unknown (None): a sequence of numbers (0-d arrays
    included) is an array, any other sequence a tuple of parts.

    Raises NotAnswered with a sentence when the output is not numeric data (None, a string,
    an object that merely pretends to be equal to everything, ...).
    """
    if value is None:
        raise NotAnswered("the function returned None - did you forget the `return` statement?")
    if isinstance(value, (tuple, list)) and value:
        if n_outputs is None or n_outputs == 1:
            array = _regular_array(value)
            if array is not None and (n_outputs == 1 or _all_numbers(value)):
                return array
        if _depth >= 3:
            raise NotAnswered("the output is nested too deeply; return an array, a number or a tuple of them")
        return tuple(to_plain(v, None if n_outputs is None else 1, _depth + 1) for v in value)
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


def _regular_array(seq):
    """``seq`` (nested lists/tuples/arrays/numbers) as one real numeric ndarray, or None when it is
    ragged or holds anything else (strings, objects, complex numbers)."""
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = np.array(seq)
    except Exception:
        return None
    if array.dtype.kind not in "biuf":
        return None
    return np.array(array)


def _all_numbers(seq):
    return all(isinstance(v, (int, float, bool, np.number)) or (isinstance(v, np.ndarray) and v.ndim == 0)
               for v in seq)


# ---------------------------------------------------------------------- comparing
GENERIC_STABLE_HINT = ("an overflow (exp of a large number) or a log(0) / division by zero; rewrite the "
                       "formula so that no intermediate value overflows")
NAN_HINT = ("NaN (not a number) comes from 0/0, inf - inf, 0 * inf, or the log or square root of a negative "
            "number; find the step that makes it (np.seterr(all='raise') stops there)")
SUBTRACT_INF_HINT = ("-inf - (-inf) is NaN: a row that is -inf everywhere (every entry masked) has the maximum -inf, "
                     "so z - max(z) gives NaN there; give masked entries a large finite negative value (e.g. -1e9), "
                     "or treat a fully masked row on its own")
ZERO_BY_ZERO_HINT = ("0/0 is NaN: a denominator is 0 - a sum of exp that all underflowed to 0, or a row whose "
                     "entries are all masked; subtract each row's max before exp (its largest term is then "
                     "exp(0) = 1), and treat a fully masked row on its own")
LOG_ZERO_HINT = ("log(0) = -inf: a probability of exactly 0 or 1 went into a log; clip it into [eps, 1 - eps] "
                 "first, or compute the loss from the logits (np.logaddexp)")
LOG_NEGATIVE_HINT = ("the log of a negative number is NaN: check what goes inside the log (1 - p with p > 1? "
                     "a difference that rounding made negative?)")
SQRT_NEGATIVE_HINT = ("the square root of a negative number is NaN: a variance computed as E[x^2] - E[x]^2 can "
                      "come out negative by rounding (cancellation); compute np.mean((x - mean)**2) instead")
ZERO_TIMES_INF_HINT = ("0 * inf is NaN: an infinite intermediate value (an overflow, or log(0)) was multiplied "
                       "by 0")

# (what NumPy's FloatingPointError says, the cause in words); None: the exercise's stable hint
_FP_CAUSES = (("overflow", None),
              ("invalid value encountered in subtract", SUBTRACT_INF_HINT),
              ("invalid value encountered in add", SUBTRACT_INF_HINT),
              ("divide by zero encountered in log", LOG_ZERO_HINT),
              ("invalid value encountered in log", LOG_NEGATIVE_HINT),
              ("invalid value encountered in sqrt", SQRT_NEGATIVE_HINT),
              ("invalid value encountered in multiply", ZERO_TIMES_INF_HINT),
              ("invalid value encountered in", ZERO_BY_ZERO_HINT),     # divide / true_divide
              ("divide by zero", None))


def fp_cause_hint(message, stable_hint=""):
    """The fix that fits a FloatingPointError's message ('overflow encountered in exp',
    'invalid value encountered in subtract', ...)."""
    for needle, hint in _FP_CAUSES:
        if needle in str(message):
            if hint is LOG_ZERO_HINT and stable_hint:
                return stable_hint      # the formula's own fix (the logits form, a clip)
            return hint or stable_hint or GENERIC_STABLE_HINT
    return stable_hint or GENERIC_STABLE_HINT


def nonfinite_hint(got, args=(), stable_hint=""):
    """The cause of a non-finite output as far as the output and the inputs tell it (the grader's
    case, where the learner's function cannot be run again): -inf in the inputs and NaN out is
    -inf - (-inf); inf out, or large inputs, an overflow; NaN from moderate inputs is named
    generically."""
    g = np.asarray(got, dtype=np.float64)
    arrays = [np.asarray(a, dtype=np.float64) for a in _numeric_leaves(args)]
    if np.isnan(g).any() and any(np.isneginf(a).any() for a in arrays):
        return SUBTRACT_INF_HINT
    if np.isinf(g).any() or any(a.size and np.nanmax(np.abs(np.where(np.isfinite(a), a, 0))) >= 30 for a in arrays):
        return stable_hint or GENERIC_STABLE_HINT
    return NAN_HINT


def _numeric_leaves(value):
    if isinstance(value, (tuple, list)):
        for v in value:
            yield from _numeric_leaves(v)
    elif isinstance(value, dict):
        yield from _numeric_leaves(list(value.values()))
    elif isinstance(value, (int, float, np.number, np.ndarray)) and not isinstance(value, bool) \
            and np.asarray(value).dtype.kind in "iuf":
        yield value


def _digits(x, digits):
    return f"{float(x):.{digits}g}"


def _fmt_pair(e, g):
    """(expected, got) as text, with enough digits to tell them apart, and their difference when
    they are close ("expected 0.041326, got 0.0413261" alone says little)."""
    e, g = np.asarray(e), np.asarray(g)
    if not (np.issubdtype(e.dtype, np.floating) or np.issubdtype(g.dtype, np.floating)):
        return repr(e.item()), repr(g.item())
    ef, gf = float(e), float(g)
    for digits in range(6, 18):
        es, gs = _digits(ef, digits), _digits(gf, digits)
        if es != gs or digits == 17:
            break
    if np.isfinite(ef) and np.isfinite(gf) and (digits > 6 or abs(gf - ef) < 1e-3 * max(abs(ef), abs(gf))):
        gs += f" (a difference of {gf - ef:.3g})"   # close values: say by how much they differ
    if not np.issubdtype(g.dtype, np.floating) and float(gf).is_integer():
        gs = repr(g.item())
    if not np.issubdtype(e.dtype, np.floating) and float(ef).is_integer():
        es = repr(e.item())
    return es, gs


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
    return bool(np.all(np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)))


def _same_output(expected, got, rtol, atol):
    if isinstance(expected, tuple) != isinstance(got, tuple):
        return False
    if isinstance(expected, tuple):
        return len(expected) == len(got) and all(_same_output(e, g, rtol, atol) for e, g in zip(expected, got))
    return _close(expected, got, rtol, atol)


def _only_dtype_differs(expected, got, rtol, atol):
    """True when ``got`` holds the right numbers in another dtype (booleans, float32, ...)."""
    if isinstance(expected, tuple) or isinstance(got, tuple):
        return (isinstance(expected, tuple) and isinstance(got, tuple) and len(expected) == len(got)
                and all(_same_output(e, g, rtol, atol) or _only_dtype_differs(e, g, rtol, atol)
                        for e, g in zip(expected, got)))
    e, g = np.asarray(expected), np.asarray(got)
    return e.dtype != g.dtype and _dtype_problem(e, g) is not None and _close(e, g, max(rtol, 1e-5), max(atol, 1e-6))


def _dtype_problem(expected, got, what="the output"):
    """The float32 policy (one rule for every exercise): the course computes in float64, so a
    floating output of lower precision (float32, float16) is not accepted; the message says to
    compute in float64. Booleans where numbers are expected get their own message."""
    if np.issubdtype(expected.dtype, np.floating) and got.dtype == bool:
        return f"{what} is boolean (True/False); expected numbers - convert with .astype(float)."
    if np.issubdtype(got.dtype, np.floating) and got.dtype.itemsize < 8 \
            and (np.issubdtype(expected.dtype, np.floating) or np.issubdtype(expected.dtype, np.integer)):
        return (f"{what} is {got.dtype}; compute in float64 (the course's default): every check compares "
                f"with a float64 reference to about 1e-6, which {got.dtype} cannot hold. Remove the "
                f".astype(np.{got.dtype}) / dtype={got.dtype!s} (or the float32 input you made).")
    return None


def _shape_hint(expected, got, rtol, atol):
    """A sentence that fits how the shapes differ, or ''."""
    es, gs = expected.shape, got.shape
    if got.ndim == expected.ndim and sorted(gs) == sorted(es):
        if got.ndim == 2 and _close(expected, got.T, rtol, atol):
            return " It is the transpose of the right answer: check the order of the matrix product (or a .T)."
        import itertools
        for perm in itertools.permutations(range(got.ndim)):
            if tuple(gs[i] for i in perm) == es and _close(expected, np.transpose(got, perm), rtol, atol):
                return (f" The numbers are right but the axes are in another order (np.transpose(output, "
                        f"{perm}) would be right): check the axis you stack on, or a transpose.")
        return " The axes are in another order: check the axis you stack or concatenate on, or a transpose."
    if got.size == expected.size and _close(expected.ravel(), got.ravel(), rtol, atol):
        return " The numbers are right but arranged differently: check your reshape."
    if got.ndim == expected.ndim - 1:
        return _missing_axis_hint(expected, got, rtol, atol)
    if got.ndim == expected.ndim + 1:
        return _extra_axis_hint(expected, got, rtol, atol)
    if got.ndim == expected.ndim:
        differ = [i for i in range(got.ndim) if gs[i] != es[i]]
        if len(differ) == 1 and abs(gs[differ[0]] - es[differ[0]]) == 1:
            i = differ[0]
            if _off_by_one(expected, got, i, rtol, atol):
                return (f" Axis {i} has length {gs[i]} instead of {es[i]}: off by one (a loop bound, a "
                        f"range() or a slice end?).")
            return f" Axis {i} has length {gs[i]} instead of {es[i]}."
        if len(differ) == 1 and (gs[differ[0]] == 1 or es[differ[0]] == 1):
            return " An axis has length 1 where it should not (or the other way round): check the axis you reduce over."
    return ""


def _off_by_one(expected, got, axis, rtol, atol):
    """True when one array is the other with its first or last entry along ``axis`` dropped."""
    longer, shorter = (expected, got) if expected.shape[axis] > got.shape[axis] else (got, expected)
    n = longer.shape[axis]
    return any(_close(np.take(longer, range(a, b), axis=axis), shorter, rtol, atol) for a, b in ((0, n - 1), (1, n)))


def _reductions(x, axis):
    """What summing, averaging or indexing ``axis`` of x gives (the ways an axis gets lost)."""
    with np.errstate(all="ignore"):
        x = x.astype(np.float64)
        return [x.sum(axis=axis), x.mean(axis=axis), np.take(x, 0, axis=axis), np.take(x, -1, axis=axis),
                x.max(axis=axis), x.min(axis=axis)]


def _axes_named(axes, shape):
    lengths = {shape[a] for a in axes}
    if len(axes) == 1:
        return f"Axis {axes[0]} (of length {shape[axes[0]]})"
    which = " or ".join(f"axis {a}" for a in axes)
    return f"{which[0].upper()}{which[1:]} ({'both' if len(axes) == 2 else 'all'} of length {lengths.pop()})"


def _lost_axis_candidates(expected, got, rtol, atol):
    """The axes whose removal turns the shape with one axis more (expected's or got's) into the other;
    where several would, only the one that a sum, mean or index over it explains, if just one does."""
    missing = got.ndim < expected.ndim
    longer, shorter = (expected, got) if missing else (got, expected)
    ls = longer.shape
    candidates = [a for a in range(longer.ndim) if ls[:a] + ls[a + 1:] == shorter.shape]
    if len(candidates) > 1:    # name the axis only if the output shows which one was lost
        explained = [a for a in candidates
                     if any(_close(r, got, rtol, atol) if missing else _close(expected, r, rtol, atol)
                            for r in _reductions(longer, a))]
        candidates = explained if len(explained) == 1 else candidates
    return candidates


def _missing_axis_hint(expected, got, rtol, atol):
    es = expected.shape
    candidates = _lost_axis_candidates(expected, got, rtol, atol)
    if not candidates:
        return " A dimension is missing."
    named = _axes_named(candidates, es)
    if es[candidates[0]] == 1:
        return f" {named} is missing: keep it, e.g. keepdims=True, or index with [:, None]."
    return f" {named} is missing: did you sum, average or index over an axis you should have kept?"


def _extra_axis_hint(expected, got, rtol, atol):
    gs = got.shape
    candidates = _lost_axis_candidates(expected, got, rtol, atol)
    if not candidates:
        return " There is an extra dimension."
    if gs[candidates[0]] == 1:
        return f" There is an extra axis {candidates[0]} of length 1: drop it (np.squeeze, or no keepdims)."
    if len(candidates) == 1:
        return (f" There is an extra axis {candidates[0]} of length {gs[candidates[0]]}: did you forget to sum "
                f"over it (or to take one of its entries)?")
    which = " or ".join(str(a) for a in candidates)
    return (f" There is an extra axis ({which}, of length {gs[candidates[0]]}): did you forget to sum over it "
            f"(or to take one of its entries)?")


def compare_arrays(expected, got, rtol=1e-6, atol=1e-8, what="the output", hints=True, stable_hint="",
                   nonfinite=""):
    """None when ``got`` matches ``expected``; otherwise a sentence saying how it differs
    (with ``hints``, also the likely cause when the difference has a telling pattern).
    nonfinite: the cause of a NaN/inf output when it is known (see ``fp_cause_hint``)."""
    expected = np.asarray(expected)
    got = np.asarray(got)
    if got.shape != expected.shape:
        msg = f"{what} has the wrong shape: expected {_shape(expected)}, got {_shape(got)}."
        return msg + _shape_hint(expected, got, rtol, atol) if hints else msg
    problem = _dtype_problem(expected, got, what)
    if problem:
        return problem
    g = got.astype(np.float64)
    e = expected.astype(np.float64)
    if not np.all(np.isfinite(g)) and np.all(np.isfinite(e)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(g))[0])
        where = f" at index {bad}" if g.ndim else ""
        return (f"{what} contains {g[bad] if g.ndim else g}{where} (expected "
                f"{_fmt(e[bad] if e.ndim else e)}): {nonfinite or stable_hint or GENERIC_STABLE_HINT}.")
    close = np.isclose(g, e, rtol=rtol, atol=atol)
    if np.all(close):
        return None
    bad = tuple(int(i) for i in np.argwhere(~close)[0])
    n_bad = int((~close).sum())
    where = f" at index {bad}" if g.ndim else ""
    want, have = _fmt_pair(expected[bad] if e.ndim else expected, got[bad] if g.ndim else got)
    msg = f"{what} is wrong{where}: expected {want}, got {have}"
    if g.ndim:
        msg += f" ({n_bad} of {g.size} values differ)."
    else:
        msg += "."
    if not hints:
        return msg
    if np.allclose(g, -e, rtol=rtol, atol=atol):
        msg += " It has the wrong sign."
    elif e.size > 1 and np.all(e != 0) and len(np.unique(np.abs(e))) > 2 \
            and np.allclose(g / e, (g / e).ravel()[0], rtol=1e-6) and (g / e).ravel()[0] != 0:
        # (three or more distinct magnitudes: 0.5 where a step's 1 belongs is no scaling)
        factor = (g / e).ravel()[0]
        msg += (f" Every value is off by the same factor, {factor:.4g}: a sum where a mean belongs "
                f"(or the other way round), or a missing constant such as 2 or 1/n?")
    return msg


def _parts(value, n):
    """A 1-D array of n numbers as a tuple of n scalars: a tuple of plain numbers (pad_before,
    pad_after) reads as one array, but each part has its own name."""
    if n > 1 and isinstance(value, np.ndarray) and value.shape == (n,):
        return tuple(value[i] for i in range(n))
    return value


def diagnose(exercise: Exercise, case: Case, got, expected=None, others=None, fp_message=None):
    """None when ``got`` (plain data) is right for ``case``; otherwise what is wrong, in words.

    others: [(case, got, expected), ...] the learner's outputs on the other cases (as many as are
    known); a recognised mistake is named only when it matches the learner on all of them.
    fp_message: what NumPy said when the learner's function was run again with floating-point
    errors raising (``check`` does that for a non-finite output; the grader cannot), the evidence
    for the cause of a NaN or inf.
    """
    if expected is None:
        expected = to_plain(exercise.expected(case), exercise.n_outputs)
    names = exercise.output_names
    expected, got = _parts(expected, len(names)), _parts(got, len(names))
    if isinstance(expected, tuple):
        if not isinstance(got, tuple) or len(got) != len(expected):
            n = len(got) if isinstance(got, tuple) else 1
            return (f"expected {len(expected)} outputs ({', '.join(names) if names else 'a tuple'}), "
                    f"got {n}. Return them as a tuple: return {', '.join(names) if names else 'a, b'}.")
        for i, (e, g) in enumerate(zip(expected, got)):
            what = names[i] if i < len(names) else f"output {i}"
            if compare_arrays(e, g, exercise.rtol, exercise.atol, what=what):
                return _explain(exercise, case, got, expected, e, g, what, others, fp_message)
        return None
    if isinstance(got, tuple):
        return f"expected one output ({_shape(expected)}), got a tuple of {len(got)}."
    what = names[0] if names else ("the value" if exercise.kind == "value" else "the output")
    if compare_arrays(expected, got, exercise.rtol, exercise.atol, what=what):
        return _explain(exercise, case, got, expected, expected, got, what, others, fp_message)
    return None


def _explain(exercise, case, got, expected, expected_part, got_part, what, others, fp_message=None):
    """The difference in words: a recognised mistake by name if it is the cause, else the pattern."""
    if fp_message:
        nonfinite = fp_cause_hint(fp_message, exercise.stable_hint)
    else:
        nonfinite = nonfinite_hint(got_part, tuple(case.args) + tuple(case.kwargs.values()), exercise.stable_hint)
    kwargs = dict(rtol=exercise.rtol, atol=exercise.atol, what=what, stable_hint=exercise.stable_hint,
                  nonfinite=nonfinite)
    mistake = _mistake_sentence(exercise, case, got, expected, others)
    if mistake:
        return compare_arrays(expected_part, got_part, hints=False, **kwargs) + mistake
    return compare_arrays(expected_part, got_part, **kwargs)


def _wrong_output(exercise, wrong, case):
    if exercise.kind == "function":
        with np.errstate(all="ignore"):
            return to_plain(wrong(*copy_args(case.args), **copy_args(case.kwargs)), exercise.n_outputs)
    return to_plain(wrong() if callable(wrong) else wrong, exercise.n_outputs)


def _mistake_sentence(exercise, case, got, expected, others=None):
    """'\\n  Likely mistake: ...' when a recognised mistake is the cause of the difference: it gives
    the learner's output on this case (and differs from the reference there) and on every other
    case whose output is known; never when only the dtype differs."""
    if _only_dtype_differs(expected, got, exercise.rtol, exercise.atol):
        return ""
    n = len(exercise.output_names)
    tol = (exercise.rtol, exercise.atol)
    for sentence, wrong in exercise.mistakes.items():
        try:
            wrong_out = _parts(_wrong_output(exercise, wrong, case), n)
            if not _same_output(wrong_out, got, *tol) or _same_output(wrong_out, expected, *tol):
                continue
            explains_all = True
            for other_case, other_got, _ in (others or ()):
                if other_case is case or other_got is None:
                    continue
                if not _same_output(_parts(_wrong_output(exercise, wrong, other_case), n),
                                    _parts(other_got, n), *tol):
                    explains_all = False
                    break
        except Exception:
            continue
        if explains_all:
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
            # honest: these are the public tests; an instructor's grader may hold hidden ones too
            return f"\u2714 {self.key}: all {self.total} public test{'s' if self.total != 1 else ''} passed."
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
        return to_plain(answer, exercise.n_outputs)
    if not callable(answer):
        raise NotAnswered(f"expected the function `{exercise.name}` itself, got {type(answer).__name__}. "
                          f"Pass the function without calling it: check({exercise.key!r}, {exercise.name}).")
    args, kwargs = copy_args(case.args), copy_args(case.kwargs)
    try:
        with errstate_for(case):
            out = answer(*args, **kwargs)
    except NotImplementedError:
        raise NotAnswered(f"`{exercise.name}` is not implemented yet: replace `raise NotImplementedError()` "
                          f"with your code, run that cell, then run this check again.") from None
    except FloatingPointError as exc:
        call = f"{exercise.name}({case.describe(exercise.parameter_names)})"
        label = f" [{case.label}]" if case.label else ""
        what = "overflowed" if "overflow" in str(exc) else "made a NaN or an infinity"
        raise NotAnswered(f"`{call}`{label} {what} ({exc}; this test runs under np.errstate(over=\"raise\")): "
                          f"{fp_cause_hint(exc, exercise.stable_hint)}.") from None
    except Exception as exc:
        call = f"{exercise.name}({case.describe(exercise.parameter_names)})"
        raise NotAnswered(f"`{call}` raised {type(exc).__name__}: {exc}") from None
    for original, passed in zip(case.args, args):
        if isinstance(original, np.ndarray) and isinstance(passed, np.ndarray) and passed.shape == original.shape \
                and not np.array_equal(original, passed, equal_nan=True):
            raise NotAnswered(f"`{exercise.name}` changed its input array in place; "
                              f"compute a new array instead (e.g. x = x + 1, not x += 1).")
    return to_plain(out, exercise.n_outputs)


def _fp_message(exercise, answer, case, got, expected):
    """When the learner's output has a NaN/inf the reference does not: what NumPy says when the
    function is run again with floating-point errors raising (the first one: 'overflow encountered
    in exp', 'invalid value encountered in subtract', ...); None otherwise."""
    if exercise.kind != "function" or not _has_new_nonfinite(got, expected):
        return None
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            answer(*copy_args(case.args), **copy_args(case.kwargs))
    except FloatingPointError as exc:
        return str(exc)
    except Exception:
        return None
    return None


def _has_new_nonfinite(got, expected):
    if isinstance(got, tuple) or isinstance(expected, tuple):
        return (isinstance(got, tuple) and isinstance(expected, tuple)
                and any(_has_new_nonfinite(g, e) for g, e in zip(got, expected)))
    g, e = np.asarray(got), np.asarray(expected)
    if g.dtype.kind != "f" or g.shape != e.shape:
        return False
    return bool((~np.isfinite(g) & np.isfinite(e.astype(np.float64))).any())


def run_check(key, answer):
    """Run an exercise's public tests on an answer; return a CheckResult (never raises for the learner's faults).

    The answer is called on every case first (a recognised mistake must explain all of them), then
    the first failing case is reported - one clear problem at a time."""
    exercise = exercises_module.get(key)
    cases = exercise.public_cases()
    outputs, stopped = [], None
    for case in cases:
        try:
            got = call_learner(exercise, answer, case)
        except NotAnswered as exc:
            stopped = str(exc)
            break  # the same reason would repeat for every case
        outputs.append((case, got, to_plain(exercise.expected(case), exercise.n_outputs)))
    passed, problems = 0, []
    for case, got, expected in outputs:
        problem = diagnose(exercise, case, got, expected, others=outputs,
                           fp_message=_fp_message(exercise, answer, case, got, expected))
        if problem is None:
            passed += 1
            continue
        label = f" [{case.label}]" if case.label else ""
        inputs = (f"\n  for the input {case.describe(exercise.parameter_names)}"
                  if exercise.kind == "function" else "")
        # the input goes right under the first line, before a recognised mistake's sentence
        first, newline, rest = problem.partition("\n")
        problems.append(f"{first}{inputs}{label}{newline}{rest}")
        break  # one clear problem at a time
    if stopped is not None and not problems:
        problems.append(stopped)
    return CheckResult(key, passed, len(cases), problems)


def check(key, answer):
    """Check an exercise: ``check("01_neuron.weighted_sum", weighted_sum)``.

    Prints a tick when every public test passes; raises CheckFailed saying what is wrong otherwise.
    """
    result = run_check(key, answer)
    if not result.ok:
        raise CheckFailed(result.message())
    print(result.message())
