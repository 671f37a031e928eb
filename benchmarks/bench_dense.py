"""NumPy Dense(256, relu) forward + backward vs compiled Keras, float32, on the CPU, in one run.

    python benchmarks/bench_dense.py [--repeats 50]

Both sides compute the same thing: y = relu(x W + b) on a (256, 784) batch, then dx, dW, db for
the upstream gradient dout. Keras runs a tf.function-compiled GradientTape step. Reports the median
time of each and the ratio NumPy / Keras (the goal: within 1.5x). Times depend on the machine and on
its load, the ratio much less: compare ratios, measured in one run.
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np

from timing import cpu_line, print_ratio, time_numpy_vs_keras


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args(argv)

    import course_utils.nn as nn

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, 784)).astype(np.float32)
    dout = rng.normal(size=(args.batch, 256)).astype(np.float32)

    layer = nn.Dense(256, activation="relu", dtype="float32")
    layer.build(x.shape)
    keras_layer = nn.to_keras(layer, dtype="float32")

    def numpy_step():
        layer.forward(x)
        return layer.backward(dout)

    # the two compute the same numbers (float32 tolerance), then each is timed
    t_numpy, t_keras = time_numpy_vs_keras(numpy_step, keras_layer, x, dout, args.repeats)
    print(f"Dense(256, relu) forward+backward, batch ({args.batch}, 784) float32, {cpu_line()}, "
          f"median of {args.repeats}")
    return print_ratio(t_numpy, t_keras, goal=1.5)


if __name__ == "__main__":
    main(sys.argv[1:])
