"""Lesson 11 (attention): the exercise references against Keras and finite differences, and
compare_with_keras on a functional model with an integer input next to a float one (the lesson's
transformer: digits + positional encodings).

Tolerances: 1e-7 relative (rel_error) against Keras in float64; 1e-6 against centred differences.
"""
import numpy as np
import pytest

from course_utils import nn
from course_utils.exercises import lesson_11_attention as lesson
from course_utils.gradcheck import numerical_gradient, rel_error

keras = pytest.importorskip("keras")
from helpers import FLOAT64_ONLY  # noqa: E402


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason=FLOAT64_ONLY)
def test_multi_head_attention_reference_is_keras(rng):
    """The exercise's einsum reference gives Keras's output and scores (key_dim 4: Keras's float32
    rounding of 1/sqrt(key_dim) is exact there)."""
    for trial in range(2):
        N, T, S, Dq, Dv = 2, int(rng.integers(2, 6)), int(rng.integers(2, 6)), 5, 3
        heads, value_dim = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        layer = keras.layers.MultiHeadAttention(heads, 4, value_dim=value_dim, dtype="float64")
        layer.build((N, T, Dq), (N, S, Dv))
        weights = [rng.normal(size=w.shape) for w in layer.get_weights()]
        layer.set_weights(weights)
        query, value = rng.normal(size=(N, T, Dq)), rng.normal(size=(N, S, Dv))
        out, scores = layer(query, value, return_attention_scores=True)
        mine_out, mine_scores = lesson.multi_head_attention(query, value, *weights)
        assert rel_error(mine_out, np.asarray(out)) <= 1e-7
        assert rel_error(mine_scores, np.asarray(scores)) <= 1e-7


def test_scaled_dot_product_attention_reference_is_nn_layer_with_identity_projections(rng):
    """With identity projections and no biases, one head of nn.MultiHeadAttention is the exercise's
    scaled dot-product attention, masks included (Keras's -1e9 rule, a fully masked row uniform)."""
    d, T = 4, 5
    layer = nn.MultiHeadAttention(1, d, use_bias=False)
    layer.build((2, T, d))
    eye = np.eye(d)[:, None, :]
    layer.set_weights([eye, eye, eye, np.eye(d)[None]])
    x = rng.normal(size=(2, T, d))
    mask = rng.random((2, T, T)) < 0.6
    mask[1, 2] = False                       # a fully masked row
    out = layer.forward(x, x, attention_mask=mask)
    ref_out, _ = lesson.scaled_dot_product_attention(x, x, x, mask)
    assert rel_error(out, ref_out) <= 1e-12


def test_attention_backward_reference_finite_differences(rng):
    Q, K, V = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 2))
    mask = lesson.attention_masks(np.array([5, 3]), 5)[0][:, :3]
    out, P = lesson.scaled_dot_product_attention(Q, K, V, mask)
    dout = rng.normal(size=out.shape)
    grads = lesson.attention_backward(dout, Q, K, V, P)
    for X, g in zip((Q, K, V), grads):
        numeric = numerical_gradient(lambda: np.sum(lesson.scaled_dot_product_attention(Q, K, V, mask)[0] * dout), X)
        assert rel_error(g, numeric) <= 1e-6


def test_compare_with_keras_skips_the_integer_input_of_a_two_input_model(rng):
    """Digits (integers, no gradient) and positions (floats) into one model: no dx row for the
    digits, a dx row for the positions, everything within the backend's tolerance (1e-7 in float64
    on TensorFlow, 1e-5 in float32 elsewhere)."""
    from course_utils.compare import compare_with_keras
    T, D = 4, 6
    digits_in, positions_in = keras.Input(shape=(T,)), keras.Input(shape=(T, D))
    x = keras.layers.Add()([keras.layers.Embedding(5, D)(digits_in), positions_in])
    model = keras.Model([digits_in, positions_in], keras.layers.Dense(3)(x))
    digits = rng.integers(0, 5, size=(3, T))
    report = compare_with_keras(model, [digits, rng.normal(size=(3, T, D))])
    quantities = [row.quantity for row in report.rows]
    assert "dx[0]" not in quantities and "dx[1]" in quantities
    assert len(quantities) == 2 + 3      # output, dx[1], embeddings, kernel, bias
    report.assert_close()
