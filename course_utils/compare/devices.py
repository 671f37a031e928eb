"""Where Keras computes, and in what: the backend, the device (the GPU when the backend sees one,
with its reduced-precision fast modes off) and the dtype Keras really computes a requested dtype in.

Nothing here imports TensorFlow unless Keras runs on it.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..keras_import import import_keras_quietly

# TF32: float32 matrix products on an Ampere-or-newer GPU rounded to a 10-bit mantissa (1e-3).
# The comparison keeps it off unless asked (``tf32=True``, to show what it costs).
_STATE = {"tf32": False}


def keras_backend_name():
    """The backend Keras runs on ("tensorflow", "jax", "torch"), importing Keras quietly."""
    return import_keras_quietly().backend.backend()


def set_tf32(enabled):
    """Turn the GPU's TF32 fast mode on or off for the active backend (off: true float32 products)."""
    _STATE["tf32"] = bool(enabled)
    backend = keras_backend_name()
    if backend == "tensorflow":
        import tensorflow as tf
        tf.config.experimental.enable_tensor_float_32_execution(bool(enabled))
    elif backend == "jax":
        import jax
        jax.config.update("jax_default_matmul_precision", "tensorfloat32" if enabled else "highest")
    elif backend == "torch":
        import torch
        torch.backends.cuda.matmul.allow_tf32 = bool(enabled)
        torch.backends.cudnn.allow_tf32 = bool(enabled)
        torch.set_float32_matmul_precision("high" if enabled else "highest")


def _gpu_name(backend):
    """The first GPU's name, or None when the backend sees none."""
    if backend == "tensorflow":
        import tensorflow as tf
        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return None
        try:
            return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
        except Exception:  # pragma: no cover - depends on the driver
            return "GPU"
    if backend == "jax":
        import jax
        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        return getattr(gpus[0], "device_kind", "GPU") if gpus else None
    if backend == "torch":
        import torch
        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return None


def keras_device():
    """(device, description) for the device Keras computes on, with TF32 off (unless set_tf32(True)):
    ('/GPU:0', 'GPU:0 (NVIDIA H200)') when the backend sees a GPU, else ('/CPU:0', 'CPU')."""
    backend = keras_backend_name()
    name = _gpu_name(backend)
    set_tf32(_STATE["tf32"])
    if name is None:
        return "/CPU:0", "CPU"
    return "/GPU:0", f"GPU:0 ({name}{', TF32 on' if _STATE['tf32'] else ''})"


def keras_compute_dtype(dtype="float64"):
    """The dtype Keras computes ``dtype`` in on the active backend: the narrower of the dtype of a
    tensor Keras makes and of Keras's own type promotion (``keras.backend.result_type``, which
    applies ``BIT64_TO_BIT32_DTYPE`` off TensorFlow). float64 stays float64 on TensorFlow and
    becomes float32 on JAX (which makes float32 tensors) and PyTorch (whose float64 tensors Keras's
    operations, matmul among them, compute in float32)."""
    keras = import_keras_quietly()
    with warnings.catch_warnings():  # JAX warns that it truncates float64; that is what we measure
        warnings.simplefilter("ignore", UserWarning)
        tensor = keras.ops.convert_to_tensor(np.zeros(1, dtype=dtype), dtype=str(np.dtype(dtype)))
    return narrower(keras.backend.standardize_dtype(tensor.dtype), keras.backend.result_type(str(np.dtype(dtype))))


def narrower(*dtypes):
    """The float dtype with the fewest bits among ``dtypes``."""
    return str(min((np.dtype(d) for d in dtypes), key=lambda d: d.itemsize))
