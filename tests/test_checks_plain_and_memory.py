"""Issue 21: a learner's output in any regular nesting is read as one array when the exercise has
one output; the grader stops a kernel past its resident-memory limit and says so."""
import numpy as np
import pytest

from course_utils.checks import CheckFailed, NotAnswered, check, run_check, to_plain
from course_utils.exercises import get


@pytest.mark.parametrize("value, shape, dtype", [
    ([[1.0, 2.0], [3.0, 4.0]], (2, 2), np.float64),                     # a list of rows
    ([np.array([1.0, 2.0]), np.array([3.0, 4.0])], (2, 2), np.float64),  # a list of row arrays
    ([np.array(1.0), np.array(2.0)], (2,), np.float64),                 # np.where results in a loop
    ([np.bool_(True), np.bool_(False)], (2,), np.bool_),                # a list of np.bool_
    (([1, 2], (3, 4)), (2, 2), np.int64),                               # tuples and lists mixed
    ([[[np.float64(1.0)]], [[np.float64(2.0)]]], (2, 1, 1), np.float64),
])
def test_one_output_reads_any_regular_nesting_as_one_array(value, shape, dtype):
    out = to_plain(value, 1)
    assert isinstance(out, np.ndarray) and out.shape == shape and out.dtype == dtype


def test_several_outputs_read_a_sequence_as_parts():
    a, b = to_plain([np.ones(3), np.zeros(3)], 2)     # equal shapes: still two parts
    assert a.shape == b.shape == (3,)
    ragged = to_plain([np.ones(2), np.ones(3)], 1)    # not a regular array: parts, told as a tuple
    assert isinstance(ragged, tuple) and len(ragged) == 2
    with pytest.raises(NotAnswered):
        to_plain(["a", "b"], 1)


def test_a_list_of_rows_is_accepted_and_booleans_get_the_dtype_message():
    ref = get("04_mlp_backprop.softmax").reference
    assert run_check("04_mlp_backprop.softmax", lambda z: [list(row) for row in ref(z)]).ok
    predict = get("02_perceptron.perceptron_predict").reference
    message = run_check("02_perceptron.perceptron_predict",
                        lambda X, w, b: [np.bool_(v) for v in predict(X, w, b) == 1]).message()
    assert "boolean" in message and "tuple" not in message, message


def test_nan_hints_name_their_cause():
    from course_utils import checks
    assert checks.fp_cause_hint("invalid value encountered in subtract") == checks.SUBTRACT_INF_HINT
    assert checks.fp_cause_hint("invalid value encountered in divide") == checks.ZERO_BY_ZERO_HINT
    assert checks.fp_cause_hint("invalid value encountered in sqrt") == checks.SQRT_NEGATIVE_HINT
    assert checks.fp_cause_hint("invalid value encountered in log") == checks.LOG_NEGATIVE_HINT
    assert checks.fp_cause_hint("overflow encountered in exp", "subtract the max") == "subtract the max"
    # the grader's case (no re-run): the inputs and the output are the evidence
    assert checks.nonfinite_hint(np.array([np.nan]), (np.array([-np.inf, 1.0]),)) == checks.SUBTRACT_INF_HINT
    assert checks.nonfinite_hint(np.array([np.nan]), (np.array([0.5, 2.0]),), "max-shift") == checks.NAN_HINT
    assert checks.nonfinite_hint(np.array([np.inf]), (np.array([0.5]),), "max-shift") == "max-shift"
    with np.errstate(all="ignore"):
        sqrt_message = run_check("09_deep_networks.batchnorm_forward",
                                 lambda x, g, b, eps: g * (x - x.mean(0)) / np.sqrt(x.mean(0) ** 2 - (x ** 2).mean(0))
                                 + b).message()
    assert "square root of a negative number" in sqrt_message, sqrt_message
    assert "subtract each row" not in sqrt_message


def test_an_ambiguous_missing_axis_names_both_candidates():
    from course_utils.checks import compare_arrays
    expected = np.arange(24.0).reshape(2, 2, 6)
    assert "Axis 1 (of length 2) is missing" in compare_arrays(expected, expected.mean(axis=1))
    assert "Axis 0 or axis 1 (both of length 2) is missing" in compare_arrays(expected, np.ones((2, 6)))
    message = compare_arrays(np.arange(24.0).reshape(2, 3, 4), np.ones((2, 3, 3)))
    assert "off by one" not in message and "Axis 2 has length 3 instead of 4." in message
