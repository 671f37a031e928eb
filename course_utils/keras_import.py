"""Import Keras without TensorFlow's start-up noise, and without TensorFlow at all unless Keras
runs on it. Below course_utils.notebook and course_utils.compare, which both use it.
"""
from __future__ import annotations

import os
import sys


def quiet_tensorflow():
    """Keep TensorFlow's C++ log lines out of notebook outputs (must run before TF is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    try:
        import absl.logging
        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover
        pass


def import_tensorflow_quietly():
    """Import TensorFlow with the C++ start-up lines ("Could not find cuda drivers ...") kept out
    of sight: they are written to file descriptor 2 before TF_CPP_MIN_LOG_LEVEL is read, and
    Jupyter would show them in the notebook. Python-level errors still surface as exceptions."""
    quiet_tensorflow()
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (some embedded interpreters): nothing to hide
        import tensorflow
        return tensorflow
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow


def configured_backend():
    """The backend Keras runs on, or will run on once imported - read without importing Keras:
    KERAS_BACKEND, else ~/.keras/keras.json (or $KERAS_HOME/keras.json), else "tensorflow"."""
    if "keras" in sys.modules and hasattr(sys.modules["keras"], "backend"):
        return sys.modules["keras"].backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    import json
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as f:
            return json.load(f).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def import_keras_quietly():
    """Import Keras; on the TensorFlow backend TensorFlow first, quietly. No TensorFlow otherwise."""
    if configured_backend() == "tensorflow":
        import_tensorflow_quietly()
    import keras
    return keras
