"""NumPy Conv1D and Conv2DTranspose vs compiled Keras: forward + backward, measured in one run.

    python benchmarks/bench_conv_more.py [--repeats 15] [--warmup 3] [--batch 64]

The layers (float32 throughout):
- Conv1D(32, 5, padding="same", activation="relu") on a (64, 200, 16) batch;
- Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu") on a (64, 14, 14, 32) batch
  (a decoder's upsampling step, to (64, 28, 28, 16)).
NumPy: ``forward`` then ``backward`` (output, dx, d kernel, d bias). Keras: the same layer and
weights, ``tf.function``-compiled forward + GradientTape backward. The two are timed in alternation
(``bench_conv.interleaved_times``); the medians and the ratio NumPy / Keras are reported. Both float32
results are first checked against the NumPy layer in float64.

Absolute times depend on the machine and on its load; the ratio, measured in the same run, is what
to compare.
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402

from bench_conv import interleaved_times, scaled_error  # noqa: E402
from timing import compiled_keras_step  # noqa: E402


def bench_layer(label, make_numpy, keras_cls, kwargs, x, repeats, warmup):
    """Time NumPy vs compiled Keras for one layer; return the ratio NumPy / Keras."""
    import tensorflow as tf

    layer = make_numpy(**kwargs, dtype="float32")
    layer.build(x.shape)
    out_shape = layer.compute_output_shape(x.shape)
    dout = np.random.default_rng(1).normal(size=out_shape).astype(np.float32)

    def numpy_step():
        layer.forward(x)
        return [layer.backward(dout)] + list(layer.grads)

    keras_layer = keras_cls(**kwargs, dtype="float32")
    keras_layer.build(x.shape)
    keras_layer.set_weights(layer.get_weights())
    keras_step = compiled_keras_step(keras_layer)
    x_t, dout_t = tf.constant(x), tf.constant(dout)

    def keras_run():
        return [g.numpy() for g in keras_step(x_t, dout_t)[1:]]   # dx, d kernel, d bias

    reference = make_numpy(**kwargs)
    reference.build(x.shape)
    reference.set_weights(layer.get_weights())
    reference.forward(x.astype(np.float64))
    ref = [reference.backward(dout.astype(np.float64))] + list(reference.grads)
    for name, result in [("NumPy", numpy_step()), ("Keras", keras_run())]:
        errors = [scaled_error(m, r) for m, r in zip(result, ref)]
        print(f"{label}: {name} float32 vs float64 reference (max abs err / max abs value): "
              + ", ".join(f"{q} {e:.1e}" for q, e in zip(("dx", "d kernel", "d bias"), errors)))
        if max(errors) > 1e-4:
            print(f"  WARNING: {name}'s float32 result is further from the reference than rounding explains")

    (t_numpy, t_numpy_min), (t_keras, t_keras_min) = interleaved_times([numpy_step, keras_run], repeats, warmup)
    print(f"{label}, x {x.shape} float32, forward + backward")
    print(f"  NumPy : median {t_numpy * 1e3:8.2f} ms  (min {t_numpy_min * 1e3:.2f} ms)")
    print(f"  Keras : median {t_keras * 1e3:8.2f} ms  (min {t_keras_min * 1e3:.2f} ms)  tf.function + GradientTape")
    print(f"  ratio NumPy / Keras: {t_numpy / t_keras:.2f}x")
    return t_numpy / t_keras


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from course_utils import nn

    rng = np.random.default_rng(0)
    print(f"TF {tf.__version__}, Keras {keras.__version__}, NumPy {np.__version__}, "
          f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS')}, {os.cpu_count()} CPUs")
    ratios = {}
    ratios["Conv1D"] = bench_layer(
        "Conv1D(32, 5, padding='same', activation='relu')", nn.Conv1D, keras.layers.Conv1D,
        dict(filters=32, kernel_size=5, padding="same", activation="relu"),
        rng.normal(size=(args.batch, 200, 16)).astype(np.float32), args.repeats, args.warmup)
    ratios["Conv2DTranspose"] = bench_layer(
        "Conv2DTranspose(16, 3, strides=2, padding='same', activation='relu')", nn.Conv2DTranspose,
        keras.layers.Conv2DTranspose, dict(filters=16, kernel_size=3, strides=2, padding="same", activation="relu"),
        rng.normal(size=(args.batch, 14, 14, 32)).astype(np.float32), args.repeats, args.warmup)
    return ratios


if __name__ == "__main__":
    main()
