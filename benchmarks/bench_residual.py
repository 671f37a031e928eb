"""A residual block forward + backward: NumPy nn.Model vs compiled Keras, float32, CPU, one run.

    python benchmarks/bench_residual.py [--repeats 50]

The block: x (128, 256) -> Dense(256, relu) -> Dense(256) -> Add([x, .]) -> relu, built with
nn.Input / nn.Model and converted with to_keras. Both sides compute the output, dx and the four
weight gradients for the upstream gradient dout; Keras runs a tf.function-compiled GradientTape
step. NumPy's BLAS runs on one thread by default, as the course's setup() sets it (nn.threads:
on a busy 2-core machine two BLAS threads made this block ~20x slower); --blas-threads 0 lifts
the limit. Reports the median times and the ratio NumPy / Keras (the goal: within 2x). Times depend on
the machine and its load, the ratio much less: compare ratios, measured in one run.
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np

from timing import print_ratio, time_numpy_vs_keras


def residual_block(units, dtype="float32"):
    import course_utils.nn as nn
    x = nn.Input(shape=(units,), dtype=dtype)
    h = nn.Dense(units, activation="relu", dtype=dtype)(x)
    h = nn.Dense(units, dtype=dtype)(h)
    y = nn.Activation("relu", dtype=dtype)(nn.Add(dtype=dtype)([x, h]))
    return nn.Model(inputs=x, outputs=y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--blas-threads", type=int, default=1, help="NumPy BLAS threads (0: no limit)")
    args = parser.parse_args(argv)

    import course_utils.nn as nn
    from course_utils.nn.threads import limit_blas_threads

    limit_blas_threads(args.blas_threads or None)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, args.units)).astype(np.float32)
    dout = rng.normal(size=(args.batch, args.units)).astype(np.float32)

    model = residual_block(args.units)
    keras_model = nn.to_keras(model, dtype="float32")

    def numpy_step():
        model.forward(x, training=True)
        return model.backward(dout)

    assert numpy_step().dtype == np.float32
    t_numpy, t_keras = time_numpy_vs_keras(numpy_step, keras_model, x, dout, args.repeats)
    print(f"Residual block Dense({args.units}, relu) -> Dense({args.units}) -> Add -> relu, forward+backward, "
          f"batch ({args.batch}, {args.units}) float32, CPU ({os.cpu_count()} cores; NumPy BLAS threads: "
          f"{args.blas_threads or 'unlimited'}), median of {args.repeats}")
    return print_ratio(t_numpy, t_keras, goal=2, numpy_label="NumPy nn.Model")


if __name__ == "__main__":
    main(sys.argv[1:])
