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


HEADER = ("layer", "device", "dtype", "worst error", "tolerance", "pass", "worst quantity")


def _printer(names, device):
    """A function that prints one table row as soon as it is measured (the header first), so that a
    run cut short still shows what it measured."""
    widths = [max(len(n) for n in names + [HEADER[0]]), max(len(device), 6), 7, 11, 9, 4, 14]
    fmt = " | ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*HEADER), "-+-".join("-" * w for w in widths), sep="\n", flush=True)
    return lambda row: print(fmt.format(*row).rstrip(), flush=True)


def _measure(name, seeds, run_case):
    """(worst error, its quantity, dtype, error message or None) over ``seeds`` draws of a case."""
    worst, worst_row, dtype = 0.0, "", "float64"
    try:
        for seed in range(seeds):
            case_rows, dtype = run_case(name, seed)
            for r in case_rows:
                if not r.max_rel_err <= worst:
                    worst, worst_row = r.max_rel_err, r.quantity
    except Exception as exc:  # a case that cannot run fails, and the others still run
        return worst, worst_row, dtype, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return worst, worst_row, dtype, None


def main(argv=None):
    args = _parse(argv)
    from ..keras_import import import_keras_quietly
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
    failed, start, show = [], time.perf_counter(), _printer(names, device)
    for name in names:
        worst, worst_row, dtype, error = _measure(name, args.seeds, run_case)
        tolerance = tolerance_for(dtype)
        ok = error is None and worst <= tolerance
        if not ok:
            failed.append(name + f" ({error or worst_row})")
        show((name, device, dtype, "error" if error else f"{worst:.2e}", f"{tolerance:g}", "yes" if ok else "NO",
              worst_row))
    print(f"{len(names) - len(failed)}/{len(names)} pass in {time.perf_counter() - start:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
