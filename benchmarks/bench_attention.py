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

from timing import cpu_line, print_ratio, time_numpy_vs_keras


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--causal", action="store_true", help="use_causal_mask=True on both sides")
    args = parser.parse_args(argv)

    import course_utils.nn as nn

    seq, dim, heads, key_dim = 32, 64, 4, 16
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, seq, dim)).astype(np.float32)
    dout = rng.normal(size=(args.batch, seq, dim)).astype(np.float32)

    layer = nn.MultiHeadAttention(heads, key_dim, dtype="float32")
    layer.build(x.shape, x.shape)
    keras_layer = nn.to_keras(layer, dtype="float32")

    def numpy_step():
        layer.forward(x, x, use_causal_mask=args.causal)
        dquery, dvalue = layer.backward(dout)
        return dquery + dvalue  # x feeds both arguments

    assert numpy_step().dtype == np.float32
    # the two compute the same numbers (float32 tolerance), then each is timed
    t_numpy, t_keras = time_numpy_vs_keras(
        numpy_step, keras_layer, x, dout, args.repeats, rtol=1e-3,
        call=lambda x_t: keras_layer(x_t, x_t, use_causal_mask=args.causal))
    print(f"MultiHeadAttention({heads} heads, key_dim {key_dim}) self-attention{' (causal)' if args.causal else ''} "
          f"forward+backward, batch ({args.batch}, {seq}, {dim}) float32, {cpu_line()}, median of {args.repeats}")
    return print_ratio(t_numpy, t_keras, goal=2)


if __name__ == "__main__":
    main(sys.argv[1:])
