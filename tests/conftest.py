"""Shared test set-up: quiet TensorFlow, the GPU marker, random-shape helpers."""
import os
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

from course_utils.notebook import import_tensorflow_quietly

try:  # once, up front, without TensorFlow's C++ start-up lines in the test output
    import_tensorflow_quietly()
except ImportError:  # pragma: no cover - the Keras tests skip themselves
    pass


def _gpu_available():
    try:
        import tensorflow as tf
    except ImportError:
        return False
    return bool(tf.config.list_physical_devices("GPU"))


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: runs Keras on the GPU; skipped when TensorFlow sees none")


def pytest_collection_modifyitems(config, items):
    if not any("gpu" in item.keywords for item in items):
        return
    if _gpu_available():
        return
    skip = pytest.mark.skip(reason="no GPU visible to TensorFlow (tf.config.list_physical_devices('GPU') "
                                   "is empty): the GPU variant of the Keras comparison cannot run here")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng(request):
    """A generator seeded from the test's name, so every test draws the same shapes each run."""
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)


@pytest.fixture(autouse=True)
def _seeded_global_numpy(request):
    """NumPy's global random state - the NumPy layers' initializers draw from it - seeded from the
    test's name, so a test's weights do not depend on which tests ran before it in its pytest-xdist
    worker (a finite-difference test once failed in CI for one such order and never alone)."""
    np.random.seed(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def floatx_float64():
    """Keras's floatx set to float64 for the test, then restored. Keras sums regularization losses
    (and a compiled loss) in floatx, and Keras 3.13 computes a float64 layer's penalties only with
    floatx float64: float32 would round what a float64 model is compared on."""
    import keras
    old = keras.config.floatx()
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx(old)
