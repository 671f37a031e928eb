"""NumPy BatchNormalization forward + backward (training mode) vs compiled Keras, float32, CPU, in one run.

    python benchmarks/bench_batchnorm.py [--repeats 50]

Both sides compute the same thing on a dense-shaped (256, 256) and a conv-shaped (64, 16, 16, 32)
batch: y = gamma * (x - mu) / sqrt(var + eps) + beta with the batch statistics (and the moving-average
update), then dx, dgamma, dbeta for the upstream gradient dout. Keras runs a tf.function-compiled
GradientTape step with training=True. Reports the median time of each and the ratio NumPy / Keras
(the goal: within 2x). Times depend on the machine and on its load, the ratio much less: compare
ratios, measured in one run.
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np

from timing import cpu_line, time_numpy_vs_keras

SHAPES = [(256, 256), (64, 16, 16, 32)]


def bench(shape, repeats):
    import course_utils.nn as nn

    rng = np.random.default_rng(0)
    x = rng.normal(loc=0.5, scale=2.0, size=shape).astype(np.float32)
    dout = rng.normal(size=shape).astype(np.float32)
    layer = nn.BatchNormalization(dtype="float32")
    layer.build(x.shape)
    keras_layer = nn.to_keras(layer, dtype="float32")

    def numpy_step():
        layer.forward(x, training=True)
        return layer.backward(dout)

    # the two compute the same numbers (float32 tolerance), then each is timed; Keras with
    # training=True (batch statistics, moving-average update)
    return time_numpy_vs_keras(numpy_step, keras_layer, x, dout, repeats, rtol=1e-3,
                               call=lambda x_t: keras_layer(x_t, training=True))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    print(f"BatchNormalization forward+backward (training=True), float32, {cpu_line()}, "
          f"median of {args.repeats}")
    ratios = []
    for shape in SHAPES:
        t_numpy, t_keras = bench(shape, args.repeats)
        ratio = t_numpy / t_keras
        ratios.append(ratio)
        print(f"  x {shape}:  NumPy {t_numpy * 1e3:8.3f} ms   Keras {t_keras * 1e3:8.3f} ms "
              f"(tf.function + GradientTape)   ratio NumPy/Keras: {ratio:.2f}x  (goal <= 2x)")
    return ratios


if __name__ == "__main__":
    main(sys.argv[1:])
