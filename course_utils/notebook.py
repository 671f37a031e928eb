"""The setup every lesson runs first: quiet TensorFlow, one seed for everything, plot defaults.

    from course_utils.notebook import setup
    setup(seed=42)
"""
from __future__ import annotations

import os
import random
import sys
import warnings


def in_colab():
    """True inside Google Colab."""
    return "google.colab" in sys.modules


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


def set_seed(seed):
    """Seed Python, NumPy and (if installed) Keras/TensorFlow with one number.

    keras.utils.set_random_seed seeds NumPy's global generator too, which is what the NumPy
    library's initializers draw from, so both libraries are reproducible from this one call.
    """
    import numpy as np
    random.seed(seed)
    np.random.seed(seed)
    try:
        import_tensorflow_quietly()
        import keras
    except ImportError:
        return
    keras.utils.set_random_seed(seed)


def setup(seed=42, keras=True, quiet=True, blas_threads=1):
    """Quiet logs, seed everything, set plot defaults, one BLAS thread (see course_utils.nn.threads);
    print the versions in one line."""
    if quiet:
        quiet_tensorflow()
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
    import numpy as np
    versions = [f"Python {sys.version.split()[0]}", f"NumPy {np.__version__}"]
    if keras:
        tf = import_tensorflow_quietly()
        import keras as keras_module
        require_tensorflow_backend("This lesson")
        versions += [f"TensorFlow {tf.__version__}", f"Keras {keras_module.__version__} "
                                                     f"(backend: {keras_backend()})"]
    set_seed(seed)
    if blas_threads:
        from .nn.threads import limit_blas_threads
        limit_blas_threads(blas_threads)
    try:
        import matplotlib as mpl
        mpl.rcParams.update({"figure.figsize": (6, 4), "figure.dpi": 90, "axes.grid": True,
                             "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
                             "image.cmap": "gray_r"})
    except ImportError:  # pragma: no cover
        pass
    np.set_printoptions(precision=4, suppress=True)
    print(" | ".join(versions) + f" | seed {seed}" + (" | Colab" if in_colab() else ""))
