"""Which Keras backend runs, and the guard the Keras converters call: they work on TensorFlow, JAX
and PyTorch (Keras's "numpy" backend has no gradients to compare with).

This lives in ``nn`` (the ground floor) so that the library imports nothing from the rest of
course_utils; ``course_utils.notebook`` keeps the same check for the lessons.
"""
from __future__ import annotations

import os

TENSORFLOW_BACKEND_FIX = (
    "Restart the kernel (in Colab: Runtime > Restart session) with the TensorFlow backend: unset "
    "KERAS_BACKEND, or set it before Keras is first imported - `import os; "
    "os.environ[\"KERAS_BACKEND\"] = \"tensorflow\"` in the first cell - and check that "
    "~/.keras/keras.json does not name another backend.")


class KerasBackendError(RuntimeError):
    """Keras runs on a backend other than TensorFlow, where float64 is computed as float32."""


def keras_backend():
    """The name of the backend Keras runs on ("tensorflow", "jax", "torch", "numpy")."""
    import keras
    return keras.backend.backend()


def require_tensorflow_backend(what="The course"):
    """Stop, with a message that says how to fix it, unless Keras runs on TensorFlow.

    The course compares NumPy with Keras in float64. Keras 3 computes float64 as float32 on every
    backend but TensorFlow (``BIT64_TO_BIT32_DTYPE`` in keras/src/backend/common/dtypes.py), so on
    JAX or PyTorch those comparisons would show numbers that were never computed in float64.
    """
    backend = keras_backend()
    if backend != "tensorflow":
        source = (f"KERAS_BACKEND={os.environ['KERAS_BACKEND']!r}" if os.environ.get("KERAS_BACKEND")
                  else "~/.keras/keras.json")
        raise KerasBackendError(
            f"{what} needs Keras on the TensorFlow backend, but Keras is running on {backend!r} "
            f"(set by {source}). On {backend!r} Keras computes float64 as float32, so the course's "
            f"float64 comparisons of NumPy and Keras would be wrong. {TENSORFLOW_BACKEND_FIX}")
    return backend


SUPPORTED_BACKENDS = ("tensorflow", "jax", "torch")


def require_supported_backend(what="Converting between course_utils.nn and Keras"):
    """Stop, with a message that says how to fix it, unless Keras runs on TensorFlow, JAX or PyTorch."""
    backend = keras_backend()
    if backend not in SUPPORTED_BACKENDS:
        raise KerasBackendError(
            f"{what} needs Keras on the TensorFlow, JAX or PyTorch backend, but Keras is running on "
            f"{backend!r}. Restart the kernel with KERAS_BACKEND set to 'tensorflow', 'jax' or 'torch' "
            f"before Keras is first imported.")
    return backend
