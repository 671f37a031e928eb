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

from timing import compiled_keras_step, median_time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args(argv)

    import tensorflow as tf

    import course_utils.nn as nn

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, 784)).astype(np.float32)
    dout = rng.normal(size=(args.batch, 256)).astype(np.float32)

    layer = nn.Dense(256, activation="relu", dtype="float32")
    layer.build(x.shape)
    keras_layer = nn.to_keras(layer, dtype="float32")
    x_t, dout_t = tf.constant(x), tf.constant(dout)

    def numpy_step():
        layer.forward(x)
        return layer.backward(dout)

    keras_step = compiled_keras_step(keras_layer)

    def keras_run():
        keras_step(x_t, dout_t)[1].numpy()  # wait for the result

    # the two compute the same numbers (float32 tolerance)
    numpy_dx = numpy_step()
    keras_dx = keras_step(x_t, dout_t)[1].numpy()
    assert np.allclose(numpy_dx, keras_dx, rtol=1e-4, atol=1e-4), "NumPy and Keras disagree"

    t_numpy = median_time(numpy_step, args.repeats, warmup=5)
    t_keras = median_time(keras_run, args.repeats, warmup=5)
    ratio = t_numpy / t_keras
    try:
        from threadpoolctl import threadpool_info
        blas = ", ".join(f"{i['internal_api']} {i['num_threads']} thread(s)" for i in threadpool_info()
                         if i["user_api"] == "blas")
    except ImportError:  # pragma: no cover
        blas = "unknown"
    print(f"Dense(256, relu) forward+backward, batch ({args.batch}, 784) float32, CPU "
          f"({os.cpu_count()} cores; NumPy BLAS: {blas}), median of {args.repeats}")
    print(f"  NumPy : {t_numpy * 1e3:8.3f} ms")
    print(f"  Keras : {t_keras * 1e3:8.3f} ms  (tf.function + GradientTape)")
    print(f"  ratio NumPy/Keras: {ratio:.2f}x  (goal <= 1.5x)")
    return ratio


if __name__ == "__main__":
    main(sys.argv[1:])
