"""python -m course_utils.compare [--require-gpu] [--tf32] [--seeds N] [--only NAME]

Runs the NumPy-vs-Keras comparison for every layer kind of the library (and a few training steps)
on the current backend (KERAS_BACKEND) and device, and prints one table:
layer | device | dtype | worst error | tolerance | pass. Exit status 0 when every row passes,
1 when one does not, 2 when --require-gpu is given and the backend sees no GPU.
Needs only Keras, its backend and NumPy.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m course_utils.compare", description=__doc__.split("\n\n")[1])
    parser.add_argument("--require-gpu", action="store_true", help="exit 2 unless Keras's backend sees a GPU")
    parser.add_argument("--tf32", action="store_true",
                        help="turn the GPU's TF32 fast mode on, to show what it costs (the rows may then fail)")
    parser.add_argument("--seeds", type=int, default=3, help="random draws per layer kind (default 3)")
    parser.add_argument("--only", action="append", help="run only the layer kinds whose name contains this")
    return parser.parse_args(argv)


def _table(rows):
    header = ("layer", "device", "dtype", "worst error", "tolerance", "pass", "worst quantity")
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    fmt = " | ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), "-+-".join("-" * w for w in widths)] + [fmt.format(*r) for r in rows])


def main(argv=None):
    args = _parse(argv)
    from ..notebook import import_keras_quietly
    from .cases import case_names, run_case
    from .devices import keras_backend_name, keras_device, set_tf32
    from .report import tolerance_for
    keras = import_keras_quietly()
    set_tf32(args.tf32)
    _, device = keras_device()
    backend = keras_backend_name()
    if args.require_gpu and not device.startswith("GPU"):
        print(f"--require-gpu: Keras's {backend} backend sees no GPU (device: {device}).", file=sys.stderr)
        return 2
    print(f"Keras {keras.__version__}, backend {backend}, device {device}, TF32 {'on' if args.tf32 else 'off'}; "
          f"worst error over {args.seeds} seeds of max|NumPy-Keras| / max(max|Keras|, 1)")
    names = [n for n in case_names() if not args.only or any(o.lower() in n.lower() for o in args.only)]
    rows, failed, start = [], [], time.perf_counter()
    for name in names:
        worst, dtype, worst_row, error = 0.0, "float64", "", None
        try:
            for seed in range(args.seeds):
                case_rows, dtype = run_case(name, seed)
                for r in case_rows:
                    if not r.max_rel_err <= worst:
                        worst, worst_row = r.max_rel_err, r.quantity
        except Exception as exc:  # a case that cannot run fails, and the others still run
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        tolerance = tolerance_for(dtype)
        ok = error is None and worst <= tolerance
        if not ok:
            failed.append(name + (f" ({error})" if error else f" ({worst_row})"))
        rows.append((name, device, dtype, "error" if error else f"{worst:.2e}", f"{tolerance:g}",
                     "yes" if ok else "NO", worst_row))
    print(_table(rows))
    print(f"{len(rows) - len(failed)}/{len(rows)} pass in {time.perf_counter() - start:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
