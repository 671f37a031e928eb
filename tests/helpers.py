"""Assertions the tests share (imported as ``from helpers import ...``: pytest puts tests/ on the path)."""
from course_utils.compare import compare_with_keras
from course_utils.gradcheck import rel_error

RTOL = 1e-7   # NumPy vs Keras (or vs the formula), float64


def assert_rel(mine, theirs, what, rtol=RTOL, floor=1e-8):
    """rel_error(mine, theirs) <= rtol (element-wise, CS231n's), with both arrays in the message."""
    err = rel_error(mine, theirs, floor=floor)
    assert err <= rtol, f"{what}: rel err {err:.3e} > {rtol:g}\nMine:\n{mine}\nTheirs:\n{theirs}"


def pair(rng, low, high):
    """(a, b) with a, b in [low, high]; square half of the time."""
    a = int(rng.integers(low, high + 1))
    return (a, a) if rng.random() < 0.5 else (a, int(rng.integers(low, high + 1)))


def assert_keras_close(layer, x, what, rtol=RTOL):
    """The NumPy layer and its Keras twin agree on ``x`` (output, dx, every weight gradient) to ``rtol``;
    returns the comparison report."""
    report = compare_with_keras(layer, x, title=what)
    report.assert_close(rtol)
    return report
