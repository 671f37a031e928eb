"""SimpleRNN, LSTM, GRU, Embedding and TimeDistributed against Keras/TensorFlow in float64.

Tolerances: 1e-7 relative (CS231n's rel_error, element-wise, floor 1e-8) for everything compared
with Keras - outputs, final states, dx, every weight gradient and the initial states' gradients;
centred differences (h = 1e-5) agree to ~1e-7 in float64, so finite-difference checks use 1e-6.
"""
import numpy as np
import pytest

import course_utils.nn as nn
from course_utils.compare import compare_with_keras
from course_utils.gradcheck import check_layer_gradients, numerical_gradient, rel_error

from helpers import assert_rel


keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

RTOL = 1e-7
RTOL_NUMERIC = 1e-6
KINDS = ["SimpleRNN", "LSTM", "GRU", "GRU-reset_before"]


def make_layer(kind, **kwargs):
    """A NumPy recurrent layer by kind name ("GRU-reset_before" is GRU(reset_after=False))."""
    if kind == "GRU-reset_before":
        return nn.GRU(reset_after=False, **kwargs)
    return getattr(nn, kind)(**kwargs)


def n_states(kind):
    return 2 if kind == "LSTM" else 1


def random_config(rng, kind):
    """Random units / shapes / return modes / initial state for one layer kind."""
    config = dict(units=int(rng.integers(1, 9)), return_sequences=bool(rng.integers(2)),
                  return_state=bool(rng.integers(2)), go_backwards=bool(rng.random() < 0.25),
                  use_bias=bool(rng.random() < 0.85))
    x_shape = (int(rng.integers(1, 5)), int(rng.integers(1, 8)), int(rng.integers(1, 7)))
    with_state = bool(rng.integers(2))
    return config, x_shape, with_state


def randomize_weights(layer, rng, scale=0.6):
    layer.set_weights([rng.normal(scale=scale, size=w.shape) for w in layer.get_weights()])


# --------------------------------------------------------------- vs Keras, random
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("trial", range(7))
def test_recurrent_layer_matches_keras(kind, trial, rng):
    """Output, final states, dx, dW, dU, db (and d initial state) equal Keras's to 1e-7."""
    config, x_shape, with_state = random_config(rng, kind)
    layer = make_layer(kind, **config)
    layer.build(x_shape)
    randomize_weights(layer, rng)
    x = rng.normal(size=x_shape)
    states = [rng.normal(size=(x_shape[0], config["units"])) for _ in range(n_states(kind))] if with_state else None
    report = compare_with_keras(layer, x, initial_state=states)
    rows = [r.quantity for r in report.rows]
    n_out = 1 + n_states(kind) if config["return_state"] else 1
    expected = (["output"] if n_out == 1 else [f"output[{i}]" for i in range(n_out)]) + ["dx"]
    expected += [f"d initial_state[{i}]" for i in range(n_states(kind))] if with_state else []
    expected += ["d kernel", "d recurrent_kernel"] + (["d bias"] if config["use_bias"] else [])
    assert rows == expected, f"rows {rows}, expected {expected} for {kind} {config}"
    report.assert_close(RTOL)


@pytest.mark.parametrize("kind", KINDS)
def test_from_keras_layer_with_keras_initialisation(kind, rng):
    """A Keras layer with its own initial weights -> from_keras twin -> same numbers; and to_keras back."""
    units, x_shape = int(rng.integers(2, 7)), (3, int(rng.integers(2, 6)), int(rng.integers(2, 5)))
    cls = {"SimpleRNN": keras.layers.SimpleRNN, "LSTM": keras.layers.LSTM, "GRU": keras.layers.GRU,
           "GRU-reset_before": lambda u, **kw: keras.layers.GRU(u, reset_after=False, **kw)}[kind]
    k_layer = cls(units, return_sequences=True, dtype="float64")
    k_layer.build(x_shape)
    twin = nn.from_keras(k_layer)
    assert type(twin).__name__ == kind.split("-")[0]
    assert [w.shape for w in twin.get_weights()] == [tuple(w.shape) for w in k_layer.weights]
    compare_with_keras(k_layer, rng.normal(size=x_shape)).assert_close(RTOL)
    back = nn.to_keras(twin)
    assert back.get_config()["units"] == units and back.return_sequences
    for mine, theirs in zip(twin.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("kind", KINDS)
def test_other_activations_match_keras(kind, rng):
    """activation="relu" (and a linear recurrent activation) take the general, non-tanh/sigmoid code path."""
    kwargs = dict(units=3, activation="relu", return_sequences=True)
    if kind != "SimpleRNN":
        kwargs["recurrent_activation"] = "linear"
    layer = make_layer(kind, **kwargs)
    x = rng.normal(size=(2, 5, 3))
    layer.build(x.shape)
    randomize_weights(layer, rng, scale=0.4)
    compare_with_keras(layer, x, initial_state=[rng.normal(size=(2, 3)) for _ in range(n_states(kind))]
                       ).assert_close(RTOL)


def test_weight_layout_and_initial_biases_as_keras():
    """Shapes, names and Keras's initial biases: LSTM's forget block = 1, GRU's (2, 3u) bias."""
    shapes = {}
    for kind, layer in [("SimpleRNN", nn.SimpleRNN(5)), ("LSTM", nn.LSTM(5)), ("GRU", nn.GRU(5)),
                        ("GRU-rb", nn.GRU(5, reset_after=False))]:
        layer.build((None, 4, 3))
        shapes[kind] = [w.shape for w in layer.get_weights()]
        assert layer.weight_names == ["kernel", "recurrent_kernel", "bias"]
    assert shapes == {"SimpleRNN": [(3, 5), (5, 5), (5,)], "LSTM": [(3, 20), (5, 20), (20,)],
                      "GRU": [(3, 15), (5, 15), (2, 15)], "GRU-rb": [(3, 15), (5, 15), (15,)]}
    lstm = nn.LSTM(5)
    lstm.build((None, 4, 3))
    k_lstm = keras.layers.LSTM(5)
    k_lstm.build((None, 4, 3))
    np.testing.assert_array_equal(lstm.bias, k_lstm.get_weights()[2])    # [0]*5 + [1]*5 + [0]*10
    assert lstm.bias[5:10].tolist() == [1.0] * 5 and not lstm.bias[:5].any() and not lstm.bias[10:].any()
    no_forget_bias = nn.LSTM(5, unit_forget_bias=False)
    no_forget_bias.build((None, 4, 3))
    assert not no_forget_bias.bias.any()
    # orthogonal recurrent kernel (5, 20): orthonormal rows, U U^T = I, as Keras's Orthogonal
    np.testing.assert_allclose(lstm.recurrent_kernel @ lstm.recurrent_kernel.T, np.eye(5), atol=1e-12)


def test_initial_state_may_be_an_array_and_changes_the_result(rng):
    x = rng.normal(size=(2, 3, 4))
    layer = nn.GRU(3)
    h0 = rng.normal(size=(2, 3))
    with_list, with_array = layer.forward(x, initial_state=[h0]), layer.forward(x, initial_state=h0)
    np.testing.assert_array_equal(with_list, with_array)
    assert rel_error(with_array, layer.forward(x)) > 1e-3


def test_dh_sequence_is_the_gradient_reaching_each_hidden_state(rng):
    """dh_sequence[:, t] = dL/dh_t: running steps t+1..T from the states after step t, the gradient
    of that initial state is the same number."""
    x = rng.normal(size=(3, 6, 2))
    dout = rng.normal(size=(3, 4))
    for cls in (nn.SimpleRNN, nn.LSTM):
        layer, prefix = cls(4), cls(4, return_state=True)
        layer.build(x.shape)
        randomize_weights(layer, rng)
        prefix.build(x.shape)
        prefix.set_weights(layer.get_weights())
        layer.forward(x)
        layer.backward(dout)
        dh_sequence = layer.dh_sequence.copy()
        assert dh_sequence.shape == (3, 6, 4)
        assert_rel(dh_sequence[:, -1], dout, f"{cls.__name__} dh_T")
        for t in range(x.shape[1] - 1):
            states_after_t = prefix.forward(x[:, :t + 1])[1:]
            layer.forward(x[:, t + 1:], initial_state=states_after_t)
            layer.backward(dout)
            assert_rel(dh_sequence[:, t], layer.dinitial_state[0], f"{cls.__name__} dh_{t}")


# --------------------------------------------------------------- finite differences
@pytest.mark.parametrize("kind", KINDS)
def test_recurrent_layer_gradients_are_finite_differences(kind, rng):
    config = dict(units=3, return_sequences=bool(rng.integers(2)), return_state=True)
    layer = make_layer(kind, **config)
    x = rng.normal(size=(2, 4, 3))
    layer.build(x.shape)
    randomize_weights(layer, rng)
    errors = check_layer_gradients(layer, x)
    assert set(errors) == {"dx", "kernel", "recurrent_kernel", "bias"}
    assert max(errors.values()) < RTOL_NUMERIC, f"{kind} {config}: {errors}"


@pytest.mark.parametrize("kind", KINDS)
def test_initial_state_gradient_is_finite_differences(kind, rng):
    layer = make_layer(kind, units=3, return_sequences=True)
    x = rng.normal(size=(2, 3, 2))
    layer.build(x.shape)
    randomize_weights(layer, rng)
    states = [rng.normal(size=(2, 3)) for _ in range(n_states(kind))]
    dout = rng.normal(size=(2, 3, 3))
    layer.forward(x, initial_state=states)
    layer.backward(dout)
    analytic = [d.copy() for d in layer.dinitial_state]
    for s, d in zip(states, analytic):
        numeric = numerical_gradient(lambda: np.sum(layer.forward(x, initial_state=states) * dout), s)
        assert_rel(d, numeric, f"{kind} d initial state", RTOL_NUMERIC)


def test_embedding_and_time_distributed_gradients_are_finite_differences(rng):
    emb = nn.Embedding(6, 3)
    idx = rng.integers(0, 6, size=(4, 5))
    idx[0, :3] = 2  # a repeated token: its gradients must add up
    emb.build(idx.shape)
    dout = rng.normal(size=(4, 5, 3))
    emb.forward(idx)
    assert emb.backward(dout) is None
    numeric = numerical_gradient(lambda: np.sum(emb.forward(idx) * dout), emb.embeddings)
    assert_rel(emb.grads[0], numeric, "d embeddings", RTOL_NUMERIC)
    td = nn.TimeDistributed(nn.Dense(3, activation="tanh"))
    errors = check_layer_gradients(td, rng.normal(size=(2, 4, 5)))
    assert max(errors.values()) < RTOL_NUMERIC, errors


# --------------------------------------------------------------- Embedding, TimeDistributed
def test_embedding_matches_keras(rng):
    input_dim, output_dim = int(rng.integers(3, 12)), int(rng.integers(1, 6))
    idx = rng.integers(0, input_dim, size=(int(rng.integers(1, 5)), int(rng.integers(1, 8))))
    emb = nn.Embedding(input_dim, output_dim)
    emb.build(idx.shape)
    randomize_weights(emb, rng)
    report = compare_with_keras(emb, idx)
    assert [r.quantity for r in report.rows] == ["output", "d embeddings"]  # no dx: integer input
    report.assert_close(RTOL)
    np.testing.assert_array_equal(emb.forward(idx.astype(np.int32)), emb.forward(idx.astype(float)))


def test_embedding_from_keras_and_default_initializer(rng):
    k_emb = keras.layers.Embedding(9, 4)
    k_emb.build((None, 3))
    twin = nn.from_keras(k_emb)
    idx = rng.integers(0, 9, size=(2, 3))
    np.testing.assert_allclose(twin.forward(idx), np.asarray(k_emb(idx)), rtol=1e-7)
    fresh = nn.Embedding(50, 40)
    fresh.build((None, 3))
    assert np.abs(fresh.embeddings).max() <= 0.05 and fresh.embeddings.std() > 0.02   # Keras's "uniform"
    assert nn.to_keras(fresh).get_config()["embeddings_initializer"]["class_name"] == "RandomUniform"


@pytest.mark.parametrize("activation", [None, "relu", "softmax"])
def test_time_distributed_dense_matches_keras_and_plain_dense(activation, rng):
    x = rng.normal(size=(int(rng.integers(1, 4)), int(rng.integers(1, 6)), int(rng.integers(1, 5))))
    td = nn.TimeDistributed(nn.Dense(int(rng.integers(2, 5)), activation=activation))
    td.build(x.shape)
    randomize_weights(td, rng)
    compare_with_keras(td, x).assert_close(RTOL)
    dense = nn.Dense(td.layer.units, activation=activation)
    dense.build(x.shape)
    dense.set_weights(td.get_weights())
    np.testing.assert_allclose(td.forward(x), dense.forward(x), rtol=1e-12)


def test_sequential_embedding_lstm_dense_round_trip(rng):
    """Embedding -> LSTM -> Dense built in Keras, converted with from_keras, compared, and back."""
    vocab, steps = 11, 7
    model = keras.Sequential([keras.Input((steps,)), keras.layers.Embedding(vocab, 5),
                              keras.layers.LSTM(6, return_sequences=True),
                              keras.layers.TimeDistributed(keras.layers.Dense(vocab)),
                              keras.layers.LSTM(4), keras.layers.Dense(3, activation="softmax")])
    idx = rng.integers(0, vocab, size=(4, steps))
    twin = nn.from_keras(model)
    assert [type(layer).__name__ for layer in twin.layers] == ["Embedding", "LSTM", "TimeDistributed",
                                                                "LSTM", "Dense"]
    np.testing.assert_allclose(twin.forward(idx), np.asarray(model(idx)), rtol=1e-5)  # Keras in float32
    compare_with_keras(model, idx).assert_close(RTOL)
    back = nn.to_keras(twin)
    for mine, theirs in zip(twin.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_allclose(np.asarray(back(idx.astype(float))), twin.forward(idx), rtol=1e-12)


# --------------------------------------------------------------- bad input
def test_bad_input_gives_clear_errors(rng):
    lstm = nn.LSTM(3)
    with pytest.raises(ValueError, match=r"expected input of rank 3 \(batch, timesteps, features\), "
                                         r"received shape \(4, 5\).*x\[None\]"):
        lstm.forward(rng.normal(size=(4, 5)))
    lstm.forward(rng.normal(size=(2, 4, 5)))
    with pytest.raises(ValueError, match=r"expected input with 5 features.*received shape \(2, 4, 6\)"):
        lstm.forward(rng.normal(size=(2, 4, 6)))
    with pytest.raises(ValueError, match=r"initial_state as a list of 2 arrays \[h, c\].*received a list of 1"):
        lstm.forward(rng.normal(size=(2, 4, 5)), initial_state=[np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"initial state 'c' of shape \(batch, units\) = \(2, 3\); "
                                         r"received shape \(2, 4\)"):
        lstm.forward(rng.normal(size=(2, 4, 5)), initial_state=[np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match=r"0 time steps"):
        lstm.forward(np.zeros((2, 0, 5)))
    with pytest.raises(ValueError, match=r"non-finite input"):
        lstm.forward(np.full((2, 4, 5), np.nan))
    seq = nn.GRU(2, return_state=True)
    seq.forward(rng.normal(size=(2, 3, 1)))
    with pytest.raises(ValueError, match=r"return_state=True, so backward expects a list \[d output, d h\]"):
        seq.backward(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"expected dout of shape \(2, 2\).*received shape \(2, 3\)"):
        seq.backward([np.zeros((2, 3)), None])
    with pytest.raises(RuntimeError, match="call forward"):
        nn.SimpleRNN(2).backward(np.zeros((1, 2)))


def test_bad_arguments_give_clear_errors():
    with pytest.raises(ValueError, match=r"expected a positive integer. Received: units=0"):
        nn.SimpleRNN(0)
    with pytest.raises(ValueError, match=r"no dropout; received dropout=0.2"):
        nn.LSTM(3, dropout=0.2)
    with pytest.raises(ValueError, match=r"stateful=True"):
        nn.GRU(3, stateful=True)
    with pytest.raises(TypeError, match="wraps a course_utils.nn layer"):
        nn.TimeDistributed(keras.layers.Dense(2))
    k_lstm = keras.layers.LSTM(3, recurrent_dropout=0.1)
    k_lstm.build((None, 2, 2))
    with pytest.raises(ValueError, match=r"recurrent_dropout=0.1"):
        nn.from_keras(k_lstm)
    k_rnn = keras.layers.SimpleRNN(3, kernel_regularizer="l2")
    k_rnn.build((None, 2, 2))
    with pytest.raises(ValueError, match=r"cannot reproduce a Keras layer with kernel_regularizer"):
        nn.from_keras(k_rnn)


def test_embedding_bad_indices(rng):
    emb = nn.Embedding(4, 2)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 3\]; received index 4"):
        emb.forward(np.array([[0, 4]]))
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 3\]; received index -1"):
        emb.forward(np.array([[-1, 2]]))
    with pytest.raises(ValueError, match=r"whole-number token indices, received 1.5"):
        emb.forward(np.array([[1.5, 2.0]]))
    with pytest.raises(TypeError, match=r"integer token indices, received dtype <U1"):
        emb.forward(np.array([["a"]]))


def test_float32_layer_computes_in_float32(rng):
    x = rng.normal(size=(3, 5, 4))
    for layer in (nn.SimpleRNN(3, dtype="float32"), nn.LSTM(3, dtype="float32", return_state=True),
                  nn.GRU(3, dtype="float32")):
        out = layer.forward(x)
        outs = out if isinstance(out, list) else [out]
        assert all(o.dtype == np.float32 for o in outs)
        dx = layer.backward([np.ones_like(o) for o in outs] if isinstance(out, list) else np.ones_like(out))
        assert dx.dtype == np.float32 and all(g.dtype == np.float32 for g in layer.grads)


# --------------------------------------------------------------- GPU
@pytest.mark.gpu
def test_lstm_matches_keras_on_gpu(rng):
    layer = nn.LSTM(5, return_sequences=True, return_state=True)
    x = rng.normal(size=(3, 6, 4))
    layer.build(x.shape)
    randomize_weights(layer, rng)
    states = [rng.normal(size=(3, 5)), rng.normal(size=(3, 5))]
    report = compare_with_keras(layer, x, initial_state=states, device="/GPU:0")
    report.assert_close(RTOL)
