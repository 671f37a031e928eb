"""NumPy LSTM vs compiled Keras LSTM: forward + backward (BPTT) on the CPU, in one run.

    python benchmarks/bench_rnn.py [--repeats 30] [--batch 64] [--timesteps 50] [--features 32] [--units 64]

Both get the same float32 weights, input (64, 50, 32) and upstream gradient; Keras runs
``LSTM(64)`` inside a ``tf.function`` with a ``GradientTape`` (dL/dx and every weight gradient,
as the NumPy backward computes). Prints the median time of each after warm-up and the ratio
NumPy / Keras. The two results are also checked to agree (float32, rtol 1e-3), so the
comparison is between equal computations.

What makes the NumPy layer fast (see course_utils/nn/rnn.py): x_t W + b for all time steps in
one matrix product, preallocated time-major arrays, float32 throughout, in-place activations, and
dW, dU, dx as one matrix product each after the backward loop.
"""
from __future__ import annotations

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np

from timing import compiled_keras_step, median_time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--timesteps", type=int, default=50)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--units", type=int, default=64)
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    from course_utils import nn

    rng = np.random.default_rng(0)
    shape = (args.batch, args.timesteps, args.features)
    x = rng.normal(size=shape).astype(np.float32)
    dout = rng.normal(size=(args.batch, args.units)).astype(np.float32)

    layer = nn.LSTM(args.units, dtype="float32")
    layer.build(shape)
    with tf.device("/CPU:0"):
        k_layer = keras.layers.LSTM(args.units, dtype="float32")
        k_layer.build(shape)
        k_layer.set_weights(layer.get_weights())
        x_t, dout_t = tf.constant(x), tf.constant(dout)

        keras_step = compiled_keras_step(k_layer)

        def keras_run():
            return [t.numpy() for t in keras_step(x_t, dout_t)]

    def numpy_run():
        out = layer.forward(x)
        dx = layer.backward(dout)
        return [out, dx] + layer.grads

    # Same computation? (float32: agreement to ~1e-4 relative)
    for name, a, b in zip(["output", "dx", "d kernel", "d recurrent_kernel", "d bias"], numpy_run(), keras_run()):
        assert a.dtype == np.float32, f"{name}: NumPy computed in {a.dtype}, expected float32"
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4, err_msg=f"NumPy and Keras disagree on {name}")

    # Alternate the two so that a change in the machine's load hits both alike.
    t_numpy, t_keras = [], []
    for _ in range(3):
        t_numpy.append(median_time(numpy_run, max(args.repeats // 3, 1)))
        t_keras.append(median_time(keras_run, max(args.repeats // 3, 1)))
    t_numpy, t_keras = statistics.median(t_numpy), statistics.median(t_keras)
    ratio = t_numpy / t_keras
    print(f"LSTM({args.units}) forward + backward, x {shape} float32, CPU, median of {args.repeats} after warm-up "
          f"(TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS')}, {os.cpu_count()} CPUs)")
    rows = [("NumPy course_utils.nn.LSTM", f"{t_numpy * 1e3:8.2f} ms"),
            (f"Keras {keras.__version__} LSTM, tf.function + GradientTape", f"{t_keras * 1e3:8.2f} ms"),
            ("ratio NumPy / Keras", f"{ratio:8.2f}x   (goal: <= 3x)")]
    for label, value in rows:
        print(f"  {label:<52s}{value}")


if __name__ == "__main__":
    main()
