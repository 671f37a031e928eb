"""How many threads NumPy's matrix library (OpenBLAS/MKL) may use; threadpoolctl comes with
scikit-learn.

The course's matrices are small: splitting a (256, 64) x (64, 64) product over threads costs
more in start-up and waiting than it saves, and on a busy 2-core machine (a laptop, Colab) the
waiting threads spin and compete with TensorFlow's own - products measured 4-100x slower with
2 threads than with one.
"""
from __future__ import annotations

import contextlib

_controller = None


def one_blas_thread():
    """A context in which BLAS uses one thread (a no-op where threadpoolctl cannot act)."""
    global _controller
    try:
        if _controller is None:
            from threadpoolctl import ThreadpoolController
            _controller = ThreadpoolController()
        return _controller.limit(limits=1, user_api="blas")
    except Exception:  # threadpoolctl missing or unable to act: run as is
        return contextlib.nullcontext()


def limit_blas_threads(threads=1):
    """From now on, let BLAS use ``threads`` threads (``None`` lifts the limit)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return None
    return threadpool_limits(limits=threads, user_api="blas")
