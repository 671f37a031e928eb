"""The comparison on every Keras backend: these tests run under whatever KERAS_BACKEND is set
(TensorFlow by default; CI's JAX job runs them without TensorFlow; torch where it is installed).

- every layer kind of the library (course_utils.compare.cases, what ``python -m
  course_utils.compare`` runs) agrees with Keras within the tolerance of the dtype Keras computed
  in: float64 on TensorFlow (1e-7), float32 on JAX and PyTorch (1e-5), relative to each
  quantity's scale (max |NumPy - Keras| / max(max |Keras|, 1));
- the Keras column is Keras's own numbers: the output equals the Keras layer's own call, and the
  gradients of a linear layer equal their closed forms to the dtype's rounding;
- the rule compares an analytically zero gradient absolutely and catches a wrong backward;
- in subprocesses: the course on JAX (and torch) with TensorFlow made unimportable.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import course_utils.nn as nn
from course_utils.compare import (ComparisonReport, Row, compare_with_keras, keras_compute_dtype, keras_device,
                                  keras_gradients, scaled_error, tolerance_for)
from course_utils.compare.cases import case_names, run_case

keras = pytest.importorskip("keras")

ROOT = Path(__file__).resolve().parents[1]
BACKEND = keras.backend.backend()
DTYPE = keras_compute_dtype("float64")


def test_keras_computes_float64_as_float64_on_tensorflow_only():
    assert DTYPE == ("float64" if BACKEND == "tensorflow" else "float32")
    assert tolerance_for(DTYPE) == {"float64": 1e-7, "float32": 1e-5}[DTYPE]


@pytest.mark.parametrize("name", case_names())
def test_every_layer_kind_matches_keras_within_the_dtypes_tolerance(name):
    rows, dtype = run_case(name, seed=1)
    assert dtype == DTYPE
    worst = max(rows, key=lambda r: r.max_rel_err)
    assert worst.max_rel_err <= tolerance_for(dtype), f"{name}: {worst.quantity} {worst.max_rel_err:.2e}"


def test_the_report_names_backend_device_dtype_and_tolerance(rng):
    report = compare_with_keras(nn.Dense(3, activation="tanh"), rng.normal(size=(4, 5)))
    assert (report.backend, report.dtype, report.tolerance) == (BACKEND, DTYPE, tolerance_for(DTYPE))
    assert report.device == keras_device()[1]
    caption = str(report).splitlines()[0]
    for word in (BACKEND, DTYPE, f"Keras on {report.device}", f"tolerance {tolerance_for(DTYPE):g}"):
        assert word in caption
    report.assert_close()   # the dtype's tolerance


def test_the_keras_column_is_kerass_own_output(rng):
    """The same rounded input into the user's own Keras layer gives exactly the report's Keras output."""
    layer = keras.layers.Dense(4, activation="tanh", bias_initializer="random_normal", dtype=DTYPE)
    x = rng.normal(size=(6, 3)).astype(DTYPE)
    layer.build((None, 3))
    report = compare_with_keras(layer, x)
    np.testing.assert_array_equal(report["output"].keras, keras.ops.convert_to_numpy(layer(x)))


def test_kerass_gradients_of_a_linear_layer_are_the_closed_forms(rng):
    """d kernel = x^T dout, d bias = sum(dout), dx = dout kernel^T, to the dtype's rounding."""
    layer = keras.layers.Dense(4, dtype=DTYPE)
    layer.build((None, 3))
    x, dout = rng.normal(size=(6, 3)).astype(DTYPE), rng.normal(size=(6, 4)).astype(DTYPE)
    result = keras_gradients(layer, [x], [dout])
    kernel = keras.ops.convert_to_numpy(layer.kernel).astype(np.float64)
    x64, dout64 = x.astype(np.float64), dout.astype(np.float64)
    expected = [x64.T @ dout64, dout64.sum(axis=0)]
    for got, want in zip(result.dweights, expected):
        assert scaled_error(got, want) <= tolerance_for(DTYPE)
    assert scaled_error(result.dargs[0], dout64 @ kernel.T) <= tolerance_for(DTYPE)


def test_the_rule_compares_an_analytic_zero_absolutely_and_a_scale_relatively():
    noise = np.array([1e-15, -2e-15, 0.0])
    assert scaled_error(noise, np.zeros(3)) < 1e-14            # CS231n's element-wise form: 1.0
    big = np.array([1000.0, -3.0])
    assert scaled_error(big * (1 + 2e-7), big) == pytest.approx(2e-7, rel=1e-3)
    assert scaled_error(np.zeros(2), np.zeros(3)) == float("inf")
    with pytest.raises(ValueError, match="float16.*float64.*float32"):
        tolerance_for("float16")


def test_assert_close_defaults_to_the_dtypes_tolerance():
    rows = [Row("d kernel", np.array([1.0 + 5e-7]), np.array([1.0]))]
    ComparisonReport(rows, "CPU", "float32", backend="jax").assert_close()
    with pytest.raises(AssertionError, match="1e-07.*d kernel"):
        ComparisonReport(rows, "CPU", "float64", backend="tensorflow").assert_close()


def test_a_wrong_backward_fails_in_every_dtype(rng):
    class SlightlyWrongDense(nn.Dense):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads[1] = self.grads[1] * (1 + 1e-3)
            return dx

    report = compare_with_keras(SlightlyWrongDense(3), rng.normal(size=(4, 2)))
    with pytest.raises(AssertionError, match="d bias"):
        report.assert_close()


def _run(code, backend, block_tensorflow=True, timeout=600):
    """Run ``code`` in a fresh interpreter on ``backend``, with `import tensorflow` failing if asked."""
    # None in sys.modules: `import tensorflow` raises ImportError, importlib.util.find_spec answers None
    # (what torch._dynamo asks), as in an environment without TensorFlow
    blocker = 'import sys\nsys.modules["tensorflow"] = None\n' if block_tensorflow else ""
    env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-c", blocker + textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


COURSE_WITHOUT_TENSORFLOW = """
    import sys
    import numpy as np
    import course_utils
    from course_utils.notebook import setup
    setup(seed=0)
    import course_utils.nn as nn
    from course_utils.compare import compare_with_keras
    import keras
    report = compare_with_keras(nn.Sequential([nn.Dense(4, activation="relu"), nn.Dense(2)]),
                                np.random.default_rng(0).normal(size=(5, 3)))
    report.assert_close()
    dense = nn.Dense(2, bias_initializer="random_normal")
    dense.build((None, 3))
    back = nn.from_keras(nn.to_keras(dense))   # Keras holds float32: the weights come back rounded
    assert all(np.allclose(a, b, rtol=1e-7, atol=0) for a, b in zip(back.get_weights(), dense.get_weights()))
    assert sys.modules.get("tensorflow") is None, "TensorFlow was imported"
    print("RESULT", report.backend, report.dtype, report.tolerance)
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_course_runs_without_tensorflow(backend):
    pytest.importorskip(backend, reason=f"{backend} is not installed" + (
        " (PyPI's torch is a multi-GB CUDA build: CI skips the torch tests)" if backend == "torch" else ""))
    result = _run(COURSE_WITHOUT_TENSORFLOW, backend)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"(backend: {backend})" in result.stdout and "comparisons: float32, tolerance 1e-05" in result.stdout
    assert f"RESULT {backend} float32 1e-05" in result.stdout


def test_setup_prints_backend_device_and_precision_on_tensorflow():
    pytest.importorskip("tensorflow")
    result = _run("from course_utils.notebook import setup; setup(seed=1)", "tensorflow", block_tensorflow=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(backend: tensorflow) | device: " in result.stdout
    assert "comparisons: float64, tolerance 1e-07" in result.stdout


def test_compare_command_prints_one_table_and_exits_0(tmp_path):
    result = subprocess.run([sys.executable, "-m", "course_utils.compare", "--seeds", "1", "--only", "Dense (tanh)"],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    header = "layer | device | dtype | worst error | tolerance | pass"
    assert any(line.startswith("layer ") and all(w in line for w in header.split(" | ")) for line in
               result.stdout.splitlines())
    assert f"| {DTYPE} " in result.stdout and "1/1 pass" in result.stdout


def test_compare_command_with_require_gpu_exits_2_without_a_gpu():
    if keras_device()[1].startswith("GPU"):
        pytest.skip("a GPU is visible: --require-gpu runs the comparison")
    result = subprocess.run([sys.executable, "-m", "course_utils.compare", "--require-gpu"],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 2 and "sees no GPU" in result.stderr
