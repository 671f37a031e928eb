"""Assertions the tests share (imported as ``from helpers import ...``: pytest puts tests/ on the path)."""
from course_utils.compare import compare_with_keras
from course_utils.gradcheck import rel_error

RTOL = 1e-7   # NumPy vs Keras (or vs the formula), float64

FLOAT64_ONLY = ("float64 agreement with Keras needs the TensorFlow backend (Keras computes float64 as float32 "
                "elsewhere); tests/test_backends.py compares every backend in float32")


def keras_is_float64():
    """Whether Keras computes float64 in float64 on the active backend (TensorFlow only)."""
    from course_utils.compare import keras_compute_dtype
    return keras_compute_dtype() == "float64"


def keras_rtol():
    """The tolerance of compare_with_keras's rule for the dtype Keras computes in: 1e-7 (float64,
    TensorFlow), 1e-5 (float32, JAX and PyTorch)."""
    from course_utils.compare.report import tolerance_for
    from course_utils.compare import keras_compute_dtype
    return tolerance_for(keras_compute_dtype())


def forward_tol():
    """assert_allclose's rtol/atol for a NumPy forward pass against the same weights in Keras: float64
    to 1e-12 on TensorFlow; float32 rounding (rtol 1e-5, atol 1e-6) elsewhere."""
    return dict(rtol=1e-12, atol=1e-14) if keras_is_float64() else dict(rtol=1e-5, atol=1e-6)


def skip_torch_conv_backward_bug(error):
    """Skip a case that Keras's torch backend cannot differentiate on the CPU (Keras 3.15, torch 2.13):
    torch's slow_conv2d backward refuses the non-contiguous kernel gradient Keras's conv hands it.
    Plain-Keras reproduction, no course_utils (KERAS_BACKEND=torch):
        layer = keras.layers.Conv2D(1, 3, padding="same")
        x = torch.ones((1, 1, 1, 2), requires_grad=True)
        layer(x).sum().backward()  # RuntimeError: slow_conv2d: grad_weight must be contiguous
    (Conv2DTranspose: "grad_weight needs to be contiguous"). Raised on every other backend."""
    import keras
    import pytest
    if keras.backend.backend() != "torch":
        raise error
    pytest.skip(f"Keras's torch backend cannot differentiate this convolution on the CPU ({error}); "
                f"a Keras/torch bug, reproduced without course_utils in tests/helpers.py")


def to_numpy(value):
    """A Keras output as a NumPy array on every backend (np.asarray fails on torch tensors that require grad)."""
    import keras
    return keras.ops.convert_to_numpy(value)


def assert_rel(mine, theirs, what, rtol=RTOL, floor=1e-8):
    """rel_error(mine, theirs) <= rtol (element-wise, CS231n's), with both arrays in the message."""
    err = rel_error(mine, theirs, floor=floor)
    assert err <= rtol, f"{what}: rel err {err:.3e} > {rtol:g}\nMine:\n{mine}\nTheirs:\n{theirs}"


def pair(rng, low, high):
    """(a, b) with a, b in [low, high]; square half of the time."""
    a = int(rng.integers(low, high + 1))
    return (a, a) if rng.random() < 0.5 else (a, int(rng.integers(low, high + 1)))


def assert_keras_close(layer, x, what, rtol=None):
    """The NumPy layer and its Keras twin agree on ``x`` (output, dx, every weight gradient) to ``rtol``
    (default: keras_rtol(), 1e-7 in float64 on TensorFlow, 1e-5 in float32 elsewhere); returns the
    comparison report."""
    try:
        report = compare_with_keras(layer, x, title=what)
    except RuntimeError as error:
        if "grad_weight" in str(error) and "contiguous" in str(error):
            skip_torch_conv_backward_bug(error)
        raise
    report.assert_close(keras_rtol() if rtol is None else rtol)
    return report
