"""The setup every lesson runs first: quiet TensorFlow (when Keras runs on it), one seed for
everything, plot defaults, and one line saying the versions, the backend, the device and the
precision of the NumPy-vs-Keras comparisons.

    from course_utils.notebook import setup
    setup(seed=42)
"""
from __future__ import annotations

import random
import sys
import warnings

# Importing Keras (TensorFlow only on its backend) lives in course_utils.keras_import, below this
# module and the comparison; the backend guard in the library (course_utils.nn.backend). The
# lessons import both from here.
from .keras_import import (configured_backend, import_keras_quietly,  # noqa: F401
                           import_tensorflow_quietly, quiet_tensorflow)
from .nn.backend import (TENSORFLOW_BACKEND_FIX, KerasBackendError, keras_backend,  # noqa: F401
                         require_tensorflow_backend)

def in_colab():
    """True inside Google Colab."""
    return "google.colab" in sys.modules



def set_seed(seed):
    """Seed Python, NumPy and (if installed) Keras and its backend with one number.

    keras.utils.set_random_seed seeds NumPy's global generator too, which is what the NumPy
    library's initializers draw from, so both libraries are reproducible from this one call.
    """
    import numpy as np
    random.seed(seed)
    np.random.seed(seed)
    try:
        keras = import_keras_quietly()
    except ImportError:
        return
    keras.utils.set_random_seed(seed)


def keras_versions():
    """['TensorFlow 2.21.0', 'Keras 3.15.1 (backend: tensorflow)', 'device: CPU',
    'comparisons: float64, tolerance 1e-07'] - the backend's version (TensorFlow, JAX or PyTorch)."""
    keras = import_keras_quietly()
    from .compare import keras_compute_dtype, keras_device, tolerance_for
    backend = keras.backend.backend()
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend)
    names = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
    versions = [f"{names[backend]} {sys.modules[module].__version__}"] if module in sys.modules else []
    dtype = keras_compute_dtype("float64")
    return versions + [f"Keras {keras.__version__} (backend: {backend})", f"device: {keras_device()[1]}",
                       f"comparisons: {dtype}, tolerance {tolerance_for(dtype):g}"]


def setup(seed=42, keras=True, quiet=True, blas_threads=1):
    """Quiet logs, seed everything, set plot defaults, one BLAS thread (see course_utils.nn.threads);
    print in one line the versions, Keras's backend, its device and the precision of the
    NumPy-vs-Keras comparisons (float64 to 1e-7 on TensorFlow, float32 to 1e-5 on JAX and PyTorch)."""
    if quiet:
        quiet_tensorflow()
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
    import numpy as np
    versions = [f"Python {sys.version.split()[0]}", f"NumPy {np.__version__}"]
    if keras:
        versions += keras_versions()
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
