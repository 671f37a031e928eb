"""NumPy MultiHeadAttention forward + backward vs compiled Keras, float32, on the CPU, in one run.

    python benchmarks/bench_attention.py [--repeats 50] [--causal]

Both sides compute the same thing: self-attention y = mha(x, x) (4 heads, key_dim 16) on a
(32, 32, 64) batch, then dL/dx and dL/dw for every weight for the upstream gradient dout. Keras runs
a tf.function-compiled GradientTape step. Reports the median time of each and the ratio
NumPy / Keras (the goal: within 2x). Times depend on the machine and on its load, the ratio much
less: compare ratios, measured in one run.
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np

from timing import median_time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--causal", action="store_true", help="use_causal_mask=True on both sides")
    args = parser.parse_args(argv)

    import tensorflow as tf

    import course_utils.nn as nn

    seq, dim, heads, key_dim = 32, 64, 4, 16
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, seq, dim)).astype(np.float32)
    dout = rng.normal(size=(args.batch, seq, dim)).astype(np.float32)

    layer = nn.MultiHeadAttention(heads, key_dim, dtype="float32")
    layer.build(x.shape, x.shape)
    keras_layer = nn.to_keras(layer, dtype="float32")
    x_t, dout_t = tf.constant(x), tf.constant(dout)

    def numpy_step():
        layer.forward(x, x, use_causal_mask=args.causal)
        dquery, dvalue = layer.backward(dout)
        return dquery + dvalue  # x feeds both arguments

    @tf.function
    def keras_step(x_t, dout_t):
        with tf.GradientTape() as tape:
            tape.watch(x_t)
            out = keras_layer(x_t, x_t, use_causal_mask=args.causal)
            loss = tf.reduce_sum(out * dout_t)
        return [out] + tape.gradient(loss, [x_t] + keras_layer.trainable_weights)

    def keras_run():
        keras_step(x_t, dout_t)[1].numpy()  # wait for the result

    # the two compute the same numbers (float32 tolerance)
    numpy_dx = numpy_step()
    assert numpy_dx.dtype == np.float32
    keras_dx = keras_step(x_t, dout_t)[1].numpy()
    assert np.allclose(numpy_dx, keras_dx, rtol=1e-3, atol=1e-4), "NumPy and Keras disagree"

    t_numpy = median_time(numpy_step, args.repeats, warmup=5)
    t_keras = median_time(keras_run, args.repeats, warmup=5)
    ratio = t_numpy / t_keras
    try:
        from threadpoolctl import threadpool_info
        blas = ", ".join(f"{i['internal_api']} {i['num_threads']} thread(s)" for i in threadpool_info()
                         if i["user_api"] == "blas")
    except ImportError:  # pragma: no cover
        blas = "unknown"
    print(f"MultiHeadAttention({heads} heads, key_dim {key_dim}) self-attention{' (causal)' if args.causal else ''} "
          f"forward+backward, batch ({args.batch}, {seq}, {dim}) float32, CPU "
          f"({os.cpu_count()} cores; NumPy BLAS: {blas}), median of {args.repeats}")
    print(f"  NumPy : {t_numpy * 1e3:8.3f} ms")
    print(f"  Keras : {t_keras * 1e3:8.3f} ms  (tf.function + GradientTape)")
    print(f"  ratio NumPy/Keras: {ratio:.2f}x  (goal <= 2x)")
    return ratio


if __name__ == "__main__":
    main(sys.argv[1:])
