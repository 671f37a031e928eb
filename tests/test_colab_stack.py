"""The course on every stack its ranges admit (Colab's pinned one included: ci/colab.sh), and a clear
stop everywhere it cannot be right.

- Keras behaviour that changed between versions is followed per installed version: the L1/L2
  factors (float64 in Keras 3.13, rounded through float32 from 3.14);
- on a Keras backend without gradients (Keras's "numpy"), the comparison harness and the
  conversions stop with a message that names the backend and the fix (TensorFlow, JAX and PyTorch
  all work: tests/test_backends.py);
- the grader refuses a jupyter_client older than 8 (Colab's 7.4.9) with a clear message.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import course_utils.nn as nn
from course_utils.grade.cases import GradingSetupError
from course_utils.grade.kernel import require_supported_jupyter_client
from course_utils.nn import regularizers

keras = pytest.importorskip("keras")
from helpers import FLOAT64_ONLY  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------- Keras-version differences
def _keras_penalty(layer):
    return float(sum(keras.ops.convert_to_numpy(loss) for loss in layer.losses))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason=FLOAT64_ONLY)
@pytest.mark.parametrize("regularizer", [nn.L2(0.01), nn.L1(0.003), nn.L1L2(l1=0.001, l2=0.07)])
def test_penalty_follows_the_installed_keras_to_the_last_digit(regularizer, rng, floatx_float64, monkeypatch):
    if type(regularizer) is nn.L1 and not regularizers.keras_l1_computes_float64():
        pytest.skip("Keras 3.13's L1 cannot penalise float64 weights (its float32 factor times float64 "
                    "weights is refused by TensorFlow); L1L2(l1=...) can")
    layer = nn.Dense(5, kernel_regularizer=regularizer, bias_regularizer=regularizer, dtype="float64")
    layer.build((None, 4))
    layer.set_weights([rng.normal(size=(4, 5)), rng.normal(size=5)])
    keras_layer = nn.to_keras(layer)
    theirs = _keras_penalty(keras_layer)
    assert abs(layer.regularization_loss() - theirs) <= 1e-15 * abs(theirs)
    if type(regularizer) is nn.L1:
        return   # L1's factor is float32 in every Keras version
    # the other version's rule is off by ~1e-8 relative: the test tells the two apart
    rounds = regularizers.keras_rounds_factors_to_float32()
    monkeypatch.setattr(regularizers, "keras_rounds_factors_to_float32", lambda: not rounds)
    other = layer.regularization_loss()
    assert abs(other - theirs) > 1e-10 * abs(theirs)


def test_the_rounding_rule_is_the_installed_versions():
    major, minor = (int(p) for p in keras.__version__.split(".")[:2])
    assert regularizers.keras_rounds_factors_to_float32() == ((major, minor) >= (3, 14))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason=FLOAT64_ONLY)
def test_batch_loss_after_reset_metrics_is_the_batch_loss_on_every_keras(rng, floatx_float64):
    # the pattern the lessons and tests use: before Keras 3.15 train_on_batch returns the running
    # mean since the last reset; after reset_metrics() it is this batch's loss on every version
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x, y = rng.normal(size=(4, 8, 3)), rng.normal(size=(4, 8, 1))
    for xb, yb in zip(x, y):
        expected = float(np.mean((model.predict(xb, verbose=0) - yb) ** 2))
        model.reset_metrics()
        assert float(model.train_on_batch(xb, yb)) == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------- other backends
def _run_with_backend(code, backend="jax"):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=300, cwd=ROOT)


def test_every_entry_point_stops_clearly_on_a_backend_without_gradients():
    """Keras's "numpy" backend has no differentiation: the conversions and the comparison stop at
    once, saying which backends work and how to choose one (tests/test_backends.py runs them on
    TensorFlow, JAX and torch)."""
    result = _run_with_backend("""
        import json
        import numpy as np
        import course_utils.nn as nn
        from course_utils.compare import compare_with_keras
        from course_utils.notebook import KerasBackendError
        import keras

        said = {}
        calls = {
            "compare_with_keras": lambda: compare_with_keras(nn.MaxPooling2D(), np.ones((1, 4, 4, 1))),
            "from_keras": lambda: nn.from_keras(keras.layers.Dense(2)),
            "to_keras": lambda: nn.to_keras(nn.Dense(2)),
        }
        for name, call in calls.items():
            try:
                call()
                said[name] = None
            except KerasBackendError as exc:
                said[name] = str(exc)
        print(json.dumps({"backend": keras.backend.backend(), "said": said}))
    """, backend="numpy")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == "numpy"
    for name, message in report["said"].items():
        assert message is not None, f"{name} ran on the numpy backend instead of stopping"
        assert "'numpy'" in message and "KERAS_BACKEND" in message
        assert all(b in message for b in ("TensorFlow", "JAX", "PyTorch"))


def test_setup_prints_the_backend_it_runs_on():
    pytest.importorskip("tensorflow")
    result = _run_with_backend("from course_utils.notebook import setup; setup(seed=1)", backend="tensorflow")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(backend: tensorflow)" in result.stdout


# ------------------------------------------------------------------------- the grader
@pytest.mark.parametrize("version", ["7.4.9", "6.1.12"])
def test_grader_refuses_an_old_jupyter_client_clearly(version):
    with pytest.raises(GradingSetupError, match=rf"jupyter_client >= 8.*{version}.*Colab.*Gradescope"):
        require_supported_jupyter_client(version)


@pytest.mark.parametrize("version", ["8.0.0", "8.6.3", "9.1"])
def test_grader_accepts_jupyter_client_8_and_later(version):
    require_supported_jupyter_client(version)


def test_grade_command_stops_with_exit_2_on_an_old_jupyter_client(tmp_path, monkeypatch, capsys):
    from importlib import metadata

    from course_utils.grade.__main__ import main
    real_version = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "7.4.9" if name == "jupyter_client" else real_version(name))
    (tmp_path / "subs").mkdir()
    assert main([str(tmp_path / "subs"), "--lesson", "01_neuron", "--out", str(tmp_path / "out")]) == 2
    assert "jupyter_client 7.4.9 is installed" in capsys.readouterr().err
