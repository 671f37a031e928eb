"""The comparison of the NumPy library with Keras, on every Keras backend.

    >>> report = compare_with_keras(nn.Dense(3, activation="tanh"), x)
    >>> report                  # quantity | NumPy | Keras | max abs err | max rel err
    >>> report.assert_close()   # the tolerance of the dtype Keras computed in (1e-7 float64, 1e-5 float32)

``python -m course_utils.compare`` runs the comparison for every layer kind of the library on the
current backend and device and prints one table (``--help`` for the flags).

- report: the table (ComparisonReport, Row) and the one tolerance rule (scaled_error, TOLERANCES)
- devices: backend, device (GPU with TF32 off), the dtype Keras really computes in
- gradients: Keras's outputs and gradients through the active backend (KerasResult)
- harness: compare_with_keras
"""
from .devices import keras_backend_name, keras_compute_dtype, keras_device, set_tf32
from .gradients import KerasResult, keras_forward_backward, keras_gradients
from .harness import compare_with_keras
from .report import SCALE_FLOOR, TOLERANCES, ComparisonReport, Row, scaled_error, tolerance_for

__all__ = ["ComparisonReport", "KerasResult", "Row", "SCALE_FLOOR", "TOLERANCES", "compare_with_keras",
           "keras_backend_name", "keras_compute_dtype", "keras_device", "keras_forward_backward", "keras_gradients",
           "scaled_error", "set_tf32", "tolerance_for"]
