"""The comparison's table and its one tolerance rule.

The rule. For each quantity (an output, dL/dx, one weight's gradient) the error is

    error = max |NumPy - Keras| / max(max |Keras|, 1)

the largest difference relative to the quantity's scale - its largest magnitude, or 1 when it
is smaller than 1 (then the error is absolute). A quantity passes when error <= the tolerance
of the dtype Keras computed in:

    float64: 1e-7    (what CS231n's checks expect of float64; the twins agree to ~1e-12 and less)
    float32: 1e-5    (Keras off TensorFlow computes float64 as float32)

Why the scale and not each element (CS231n's element-wise rel_error): float32 rounds each
result to 6e-8 of its size, and a sum of n terms of mixed signs loses more than that relative
to the sum - an element that is a near-cancellation of large terms has a large relative error
that says nothing about the code. The same happens in float64 to an analytically zero gradient
(a bias feeding BatchNormalization in training mode, MultiHeadAttention's key bias): 1e-15 on
one side, 0 on the other, relative error 1. Relative to the quantity's scale, rounding stays at a
few units of the dtype's precision, and the floor of 1 compares a quantity that is zero in exact
arithmetic absolutely.

Why 1e-5 in float32. Measured with ``python -m course_utils.compare --seeds 3`` (every layer kind,
3 random draws each, CPU, Keras 3.15): the worst error of any layer kind is 3.6e-7 on JAX and
3.5e-7 on PyTorch (float64 on TensorFlow: 6.4e-16) - a few units of float32's roundoff
u = 6e-8, as for sums of a few dozen terms. Rounding grows with the length of the sums (~sqrt(n) u
typically, n u at worst): the lessons' models sum over hundreds of terms (64 pixels x 3x3 kernels,
LSTMs over their time steps, batches of 64), and issue 19, which introduced this rule, measured
up to 4.7e-6 (BatchNormalization in training mode) on larger models. 1e-5 is ~170 u: it holds
for those, with a margin of 2 over the largest seen, while a backward pass that is wrong (a missing
term, a wrong sign, a transposed kernel) gives errors of order 1e-2 to 1. What float32 cannot show
is a slip smaller than 1e-5 - the float64 comparisons on TensorFlow (1e-7) are there for that.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOLERANCES = {"float64": 1e-7, "float32": 1e-5}
SCALE_FLOOR = 1.0


def tolerance_for(dtype):
    """The tolerance of the rule for Keras computing in ``dtype`` ('float64' or 'float32')."""
    name = str(np.dtype(dtype))
    if name not in TOLERANCES:
        raise ValueError(f"No comparison tolerance for dtype {name!r}: expected one of {sorted(TOLERANCES)}. "
                         f"Compare in float64 (TensorFlow) or float32 (JAX, PyTorch).")
    return TOLERANCES[name]


def scaled_error(numpy_value, keras_value):
    """max |a - b| / max(max |b|, 1): the error of the rule (inf when the shapes differ)."""
    a, b = np.asarray(numpy_value, dtype=np.float64), np.asarray(keras_value, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), SCALE_FLOOR))


@dataclass
class Row:
    quantity: str
    numpy: np.ndarray
    keras: np.ndarray

    @property
    def max_abs_err(self):
        if np.shape(self.numpy) != np.shape(self.keras):
            return float("inf")
        diff = np.abs(np.asarray(self.numpy, dtype=np.float64) - np.asarray(self.keras, dtype=np.float64))
        return float(np.max(diff)) if diff.size else 0.0

    @property
    def max_rel_err(self):
        """The error of the rule: max |NumPy - Keras| relative to the quantity's scale (max |Keras|, at least 1)."""
        return scaled_error(self.numpy, self.keras)


class ComparisonReport:
    """Rows of (quantity, NumPy value, Keras value) with their errors; shows as a table.

    ``dtype`` is the dtype Keras computed in, ``tolerance`` the rule's bound for it (by default
    that of ``dtype``), ``backend`` and ``device`` where Keras ran."""

    def __init__(self, rows, device, dtype, title="", backend=None, tolerance=None):
        self.rows = rows
        self.device = device
        self.dtype = str(np.dtype(dtype))
        self.title = title
        if backend is None:
            from .devices import keras_backend_name
            backend = keras_backend_name()
        self.backend = backend
        self.tolerance = tolerance_for(self.dtype) if tolerance is None else tolerance

    def __getitem__(self, quantity):
        for row in self.rows:
            if row.quantity == quantity:
                return row
        raise KeyError(f"No row {quantity!r}; rows: {[r.quantity for r in self.rows]}")

    @property
    def max_rel_err(self):
        return max((r.max_rel_err for r in self.rows), default=0.0)

    @property
    def max_abs_err(self):
        return max((r.max_abs_err for r in self.rows), default=0.0)

    def errors(self):
        """{quantity: error of the rule}."""
        return {r.quantity: r.max_rel_err for r in self.rows}

    def assert_close(self, rtol=None):
        """Raise, with the table, if a row's error exceeds ``rtol`` (default: the dtype's tolerance)."""
        rtol = self.tolerance if rtol is None else rtol
        bad = [r for r in self.rows if not r.max_rel_err <= rtol]
        if bad:
            raise AssertionError(f"NumPy and Keras differ by more than {rtol:g} (relative to each quantity's "
                                 f"scale) in {', '.join(r.quantity for r in bad)}:\n{self}")
        return self

    @staticmethod
    def _summ(a):
        a = np.asarray(a)
        if a.size == 0:
            return "[]"
        flat = a.ravel()
        head = ", ".join(f"{v:.5g}" for v in flat[:3])
        return f"{tuple(a.shape)} [{head}{', ...' if flat.size > 3 else ''}]"

    def _table(self):
        header = ("quantity", "NumPy", "Keras", "max abs err", "max rel err")
        body = [(r.quantity, self._summ(r.numpy), self._summ(r.keras),
                 f"{r.max_abs_err:.2e}", f"{r.max_rel_err:.2e}") for r in self.rows]
        return header, body

    def caption(self):
        return (f"{self.title + ': ' if self.title else ''}NumPy vs Keras ({self.dtype}, Keras on {self.device}, "
                f"backend {self.backend}; rel err = max|NumPy-Keras| / max(max|Keras|, 1), "
                f"tolerance {self.tolerance:g})")

    def __str__(self):
        header, body = self._table()
        widths = [max(len(str(row[i])) for row in [header] + body) for i in range(len(header))]
        fmt = " | ".join(f"{{:<{w}}}" for w in widths)
        lines = [self.caption(), fmt.format(*header), "-+-".join("-" * w for w in widths)]
        lines += [fmt.format(*row) for row in body]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self):
        header, body = self._table()
        th = "".join(f"<th style='text-align:left'>{h}</th>" for h in header)
        trs = "".join("<tr>" + "".join(f"<td style='text-align:left'><code>{c}</code></td>" for c in row) + "</tr>"
                      for row in body)
        return f"<table><caption style='text-align:left'>{self.caption()}</caption><tr>{th}</tr>{trs}</table>"
