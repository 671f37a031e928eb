"""NumPy Conv2D vs compiled Keras Conv2D: forward + backward, measured in one run.

    python benchmarks/bench_conv.py [--repeats 15] [--warmup 3]

The layer: Conv2D(32, 3, padding="same", activation="relu") on a (64, 28, 28, 8) float32 batch.
NumPy: ``forward`` then ``backward`` (output, dx, d kernel, d bias), float32 throughout.
Keras: the same layer and weights, ``tf.function``-compiled forward + GradientTape backward
(output, dx, d kernel, d bias). Each is timed after warm-up; the median of the repeats is reported,
with the ratio NumPy / Keras (the goal: within 3x on the CPU). The two are timed in
alternation, one call each per round, so that both see the same machine load.

Absolute times depend on the machine and on its load; the ratio, measured in the same run, is what
to compare.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402

from timing import compiled_keras_step  # noqa: E402


def interleaved_times(fns, repeats, warmup):
    """Median and min seconds of each function, timed in alternation (one call of each per round),
    so that both see the same machine load."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, bucket in zip(fns, times):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [(float(np.median(t)), float(np.min(t))) for t in times]


def scaled_error(mine, theirs):
    """max |mine - theirs| / max |theirs|: float32 agreement, insensitive to near-zero entries."""
    return float(np.max(np.abs(mine - theirs)) / np.max(np.abs(theirs)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)

    import tensorflow as tf
    import keras

    from course_utils import nn

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, 28, 28, 8)).astype(np.float32)
    dout = rng.normal(size=(args.batch, 28, 28, 32)).astype(np.float32)

    layer = nn.Conv2D(32, 3, padding="same", activation="relu", dtype="float32")
    layer.build(x.shape)

    def numpy_step():
        layer.forward(x)
        return layer.backward(dout), layer.grads

    keras_layer = keras.layers.Conv2D(32, 3, padding="same", activation="relu", dtype="float32")
    keras_layer.build(x.shape)
    keras_layer.set_weights(layer.get_weights())
    x_t, dout_t = tf.constant(x), tf.constant(dout)

    keras_step = compiled_keras_step(keras_layer)

    def keras_run():
        grads = keras_step(x_t, dout_t)[1:]   # dx, d kernel, d bias
        return [g.numpy() for g in grads]  # wait for the result, as NumPy's is ready when it returns

    # both float32 results against a float64 reference (the NumPy layer in float64, same weights):
    # float32 rounding puts each at ~1e-7 of the largest value; anything larger would be a bug
    reference = nn.Conv2D(32, 3, padding="same", activation="relu")
    reference.build(x.shape)
    reference.set_weights(layer.get_weights())
    reference.forward(x.astype(np.float64))
    ref_dx = reference.backward(dout.astype(np.float64))
    dx, (dk, db) = numpy_step()
    k_dx, k_dk, k_db = keras_run()
    for name, (mine_dx, mine_dk, mine_db) in [("NumPy", (dx, dk, db)), ("Keras", (k_dx, k_dk, k_db))]:
        errors = [scaled_error(m, r) for m, r in zip((mine_dx, mine_dk, mine_db), (ref_dx, *reference.grads))]
        print(f"{name} float32 vs float64 reference (max abs err / max abs value): dx {errors[0]:.1e}, "
              f"d kernel {errors[1]:.1e}, d bias {errors[2]:.1e}")
        if max(errors) > 1e-4:
            print(f"  WARNING: {name}'s float32 result is further from the reference than rounding explains")

    (t_numpy, t_numpy_min), (t_keras, t_keras_min) = interleaved_times([numpy_step, keras_run],
                                                                       args.repeats, args.warmup)
    print(f"Conv2D(32, 3, padding='same', activation='relu'), x {x.shape} float32, forward + backward")
    print(f"  TF {tf.__version__}, Keras {keras.__version__}, NumPy {np.__version__}, "
          f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS')}, {os.cpu_count()} CPUs")
    print(f"  NumPy : median {t_numpy * 1e3:8.2f} ms  (min {t_numpy_min * 1e3:.2f} ms)")
    print(f"  Keras : median {t_keras * 1e3:8.2f} ms  (min {t_keras_min * 1e3:.2f} ms)  tf.function + GradientTape")
    print(f"  ratio NumPy / Keras: {t_numpy / t_keras:.2f}x  (goal: <= 3x)")
    return t_numpy / t_keras


if __name__ == "__main__":
    main()
