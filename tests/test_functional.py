"""Functional models (nn.Input, nn.Model) and the merge layers against Keras/TensorFlow in float64.

Tolerance: 1e-7 relative (rel_error) for every forward output, input gradient and weight gradient
compared with Keras, in both training=False and training=True; 1e-6 for weights after 10
optimizer steps; centred differences (h = 1e-5) agree to ~1e-7.
"""
import numpy as np
import pytest

import course_utils.nn as nn
from course_utils.compare import compare_with_keras
from course_utils.gradcheck import check_layer_gradients, rel_error

keras = pytest.importorskip("keras")
if keras.backend.backend() != "tensorflow":  # float64 to 1e-7 holds on TensorFlow; tests/test_backends.py covers the others
    pytest.skip("the float64 comparisons to 1e-7 need the TensorFlow backend (Keras computes float64 as float32 "
                "elsewhere; tests/test_backends.py compares every backend in float32)", allow_module_level=True)

RTOL = 1e-7
MODES = [False, True]


def _keras_input(shape, name=None):
    return keras.Input(shape=shape, dtype="float64", name=name)


def _dense(units, activation=None):
    return keras.layers.Dense(units, activation=activation, dtype="float64",
                              bias_initializer="random_normal")


def _compare(model, x, training):
    report = compare_with_keras(model, x, training=training)
    report.assert_close(RTOL)
    return report


# ------------------------------------------------------------------ graphs vs Keras
@pytest.mark.parametrize("training", MODES)
@pytest.mark.parametrize("trial", range(2))
def test_residual_mlp_block_matches_keras(training, trial, rng):
    d, hidden, n = (int(v) for v in rng.integers(2, 9, size=3))
    x = nn.Input(shape=(d,))
    h = nn.Dense(hidden, activation="relu", bias_initializer="random_normal")(x)
    h = nn.Dense(d, bias_initializer="random_normal")(h)
    y = nn.Activation("relu")(nn.Add()([x, h]))
    y = nn.Dense(3, activation="tanh")(y)
    model = nn.Model(inputs=x, outputs=y)
    report = _compare(model, rng.normal(size=(n, d)), training)
    assert [r.quantity for r in report.rows][:2] == ["output", "dx"] and len(report.rows) == 2 + 6


@pytest.mark.parametrize("training", MODES)
def test_conv_residual_block_matches_keras(training, rng):
    inp = _keras_input((6, 6, 3))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", dtype="float64")(inp)
    h = keras.layers.Conv2D(3, 3, padding="same", dtype="float64", bias_initializer="random_normal")(h)
    out = keras.layers.Activation("relu", dtype="float64")(keras.layers.Add(dtype="float64")([inp, h]))
    out = keras.layers.Conv2D(2, 1, strides=2, dtype="float64")(out)
    _compare(keras.Model(inp, out), rng.normal(size=(2, 6, 6, 3)), training)


@pytest.mark.parametrize("training", MODES)
def test_resnet_block_with_batch_normalization_matches_keras(training, rng):
    inp = _keras_input((5, 5, 3))
    h = keras.layers.Conv2D(3, 3, padding="same", use_bias=False, dtype="float64")(inp)  # BN's beta is the bias
    h = keras.layers.BatchNormalization(dtype="float64", moving_mean_initializer="random_normal",
                                        moving_variance_initializer="ones")(h)
    h = keras.layers.Activation("relu", dtype="float64")(h)
    h = keras.layers.Conv2D(3, 3, padding="same", dtype="float64")(h)
    out = keras.layers.Add(dtype="float64")([inp, h])
    km = keras.Model(inp, out)
    twin = nn.from_keras(km)
    assert [type(l).__name__ for l in twin.layers] == [type(l).__name__ for l in km.layers]
    _compare(km, rng.normal(size=(4, 5, 5, 3)), training)


def test_call_kwargs_are_replayed(rng):
    """bn(h, training=False) in the graph is replayed; as in Keras, the model's own training=True/False
    (fit, predict, model(x, training=...)) wins over it, and model(x) alone keeps it."""
    inp = _keras_input((4,))
    # no bias before a batch-normalised layer: in training mode its gradient is exactly zero, and a
    # relative error of two rounding noises (~1e-15 each) means nothing
    h = keras.layers.Dense(5, use_bias=False, dtype="float64")(inp)
    h = keras.layers.BatchNormalization(dtype="float64", moving_mean_initializer="random_normal")(h, training=False)
    km = keras.Model(inp, _dense(2)(h))
    twin = nn.from_keras(km)
    bn_node = next(n for n in twin._nodes if isinstance(n.layer, nn.BatchNormalization))
    assert bn_node.arguments["training"] is False
    x = rng.normal(size=(6, 4))
    for training in (None, True):
        assert rel_error(twin.forward(x, training=training), np.asarray(km(x, training=training))) < RTOL
    assert rel_error(twin.forward(x, training=True), twin.forward(x)) > 1e-3  # the two modes differ here
    _compare(km, x, training=True)


@pytest.mark.parametrize("merge", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"])
@pytest.mark.parametrize("training", MODES)
def test_branches_merged_by_each_merge_layer(merge, training, rng):
    x = nn.Input(shape=(5,))
    a = nn.Dense(4, activation="tanh")(x)
    b = nn.Dense(4, activation="sigmoid")(x)
    merged = getattr(nn, merge)()([a, b])
    model = nn.Model(x, nn.Dense(3)(merged))
    _compare(model, rng.normal(size=(6, 5)), training)


@pytest.mark.parametrize("merge", ["Add", "Multiply", "Average"])
def test_merge_broadcasts_like_keras(merge, rng):
    a, b, c = _keras_input((3, 4)), _keras_input((1, 4)), _keras_input((4,))
    km = keras.Model([a, b, c], getattr(keras.layers, merge)(dtype="float64")([a, b, c]))
    _compare(km, [rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 1, 4)), rng.normal(size=(2, 4))], False)


@pytest.mark.parametrize("axis", [1, 2, -1])
def test_concatenate_axis_matches_keras(axis, rng):
    shapes = [[3, 4], [3, 4]]
    shapes[1][axis % 3 - 1] = 2  # the concatenation axis, without the batch axis
    a, b = _keras_input(tuple(shapes[0])), _keras_input(tuple(shapes[1]))
    km = keras.Model([a, b], keras.layers.Concatenate(axis=axis, dtype="float64")([a, b]))
    _compare(km, [rng.normal(size=(2, *shapes[0])), rng.normal(size=(2, *shapes[1]))], False)


@pytest.mark.parametrize("training", MODES)
def test_tensor_feeding_three_layers_sums_gradients(training, rng):
    x = nn.Input(shape=(4,))
    h = nn.Dense(6, activation="relu")(x)
    branches = [nn.Dense(3, activation=act)(h) for act in ("tanh", "sigmoid", None)]
    model = nn.Model(x, nn.Concatenate()([nn.Add()(branches[:2]), branches[2], h]))
    _compare(model, rng.normal(size=(5, 4)), training)


@pytest.mark.parametrize("training", MODES)
def test_nested_sequential_converts_and_matches(training, rng):
    inp = _keras_input((5,))
    block = keras.Sequential([keras.Input((5,), dtype="float64"), _dense(7, "relu"), _dense(5)], name="block")
    out = _dense(2, "softmax")(keras.layers.Add(dtype="float64")([inp, block(inp)]))
    km = keras.Model(inp, out)
    twin = nn.from_keras(km)
    assert isinstance(twin.layers[1], nn.Sequential) and twin.layers[1].name == "block"
    _compare(km, rng.normal(size=(4, 5)), training)


def test_model_inside_a_model_and_summary(rng, capsys):
    x = nn.Input(shape=(4,))
    inner = nn.Model(x, nn.Add()([x, nn.Dense(4, activation="relu")(x)]), name="inner")
    y = nn.Input(shape=(4,))
    outer = nn.Model(y, nn.Dense(2)(inner(nn.Dense(4)(y))))
    assert [type(l).__name__ for l in outer.layers] == ["InputLayer", "Dense", "Model", "Dense"]
    _compare(outer, rng.normal(size=(3, 4)), False)
    back = nn.to_keras(outer)
    assert type(back.layers[2]).__name__ == "Functional" and len(back.weights) == len(outer.weights) == 6
    outer.summary()
    assert "inner (Model)" in capsys.readouterr().out
    assert rel_error(outer(np.ones((2, 4))), outer.forward(np.ones((2, 4)), training=False)) == 0


def test_self_attention_block_matches_keras(rng):
    inp = _keras_input((4, 6))
    mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3, dtype="float64")
    h = keras.layers.Add(dtype="float64")([inp, mha(inp, inp, use_causal_mask=True)])
    km = keras.Model(inp, _dense(2)(h))
    twin = nn.from_keras(km)
    node = next(n for n in twin._nodes if isinstance(n.layer, nn.MultiHeadAttention))
    assert node.arguments["use_causal_mask"] is True and len(node.input_tensors) == 2
    # 1e-5: the MHA twin itself (course_utils/nn/attention.py) agrees with Keras to ~1e-6 here
    compare_with_keras(km, rng.normal(size=(3, 4, 6)), training=True).assert_close(1e-5)


def test_model_gradients_match_finite_differences(rng):
    x = nn.Input(shape=(3,))
    h = nn.Dense(4, activation="tanh")(x)
    y = nn.Multiply()([nn.Dense(3, activation="sigmoid")(h), x])
    model = nn.Model(x, nn.Add()([y, x]))
    errors = check_layer_gradients(model, rng.normal(size=(5, 3)))
    assert len(errors) == 5 and max(errors.values()) < 1e-7, errors


def test_multi_input_model_matches_keras(rng):
    a, b = nn.Input(shape=(3,), name="a"), nn.Input(shape=(2,), name="b")
    h = nn.Concatenate()([nn.Dense(4, activation="relu")(a), b])
    model = nn.Model([a, b], nn.Dense(2)(h))
    report = _compare(model, [rng.normal(size=(4, 3)), rng.normal(size=(4, 2))], False)
    assert {"dx[0]", "dx[1]"} <= {r.quantity for r in report.rows}


# --------------------------------------------------------------------- layout/conversion
def _branchy_keras_model():
    inp = _keras_input((4,), name="x")
    a = _dense(5, "relu")(inp)
    b = _dense(5, "tanh")(inp)
    c = _dense(5)(keras.layers.Subtract(dtype="float64")([a, b]))
    out = _dense(3, "softmax")(keras.layers.Concatenate(dtype="float64")([c, a]))
    return keras.Model(inp, out)


def test_layers_and_weights_in_keras_order_and_round_trip(rng):
    km = _branchy_keras_model()
    twin = nn.from_keras(km)
    assert [l.name for l in twin.layers] == [l.name for l in km.layers]
    assert twin.input_shape == (None, 4) and twin.output_shape == (None, 3)
    for w, kw in zip(twin.get_weights(), km.get_weights(), strict=True):
        np.testing.assert_array_equal(w, kw)
    back = nn.to_keras(twin)
    assert isinstance(back, keras.Model) and [l.name for l in back.layers] == [l.name for l in km.layers]
    x = rng.normal(size=(6, 4))
    assert rel_error(np.asarray(back(x)), np.asarray(km(x))) < 1e-12
    assert rel_error(twin.predict(x), km.predict(x, verbose=0)) < RTOL


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_ten_steps_matches_keras(optimizer, rng):
    km = _branchy_keras_model()  # softmax output: trained from the logits on both sides
    twin = nn.from_keras(km)
    x, y = rng.normal(size=(40, 4)), np.eye(3)[rng.integers(0, 3, size=40)]
    # learning rates exact in float32: Keras keeps them in a float32 variable
    opt = {"sgd": (keras.optimizers.SGD(0.125, momentum=0.9), nn.SGD(0.125, momentum=0.9)),
           "adam": (keras.optimizers.Adam(2 ** -7), nn.Adam(2 ** -7))}[optimizer]
    km.compile(optimizer=opt[0], loss=keras.losses.CategoricalCrossentropy(dtype="float64"), jit_compile=False)
    twin.compile(optimizer=opt[1], loss="categorical_crossentropy")
    assert twin._logits_loss() is not None
    floatx = keras.config.floatx()
    keras.config.set_floatx("float64")  # Keras's fit casts float data to floatx
    try:
        km.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)  # 10 steps
    finally:
        keras.config.set_floatx(floatx)
    twin.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    moved = max(rel_error(w, w0) for w, w0 in zip(twin.get_weights(), nn.from_keras(_branchy_keras_model()).get_weights()))
    assert moved > 1e-3
    for w, kw in zip(twin.get_weights(), km.get_weights(), strict=True):
        assert rel_error(w, kw) <= 1e-6


def test_frozen_branch_gets_no_gradient_and_does_not_move(rng):
    km = _branchy_keras_model()
    twin = nn.from_keras(km)
    frozen = twin.layers[2]
    frozen.trainable = False
    km.get_layer(frozen.name).trainable = False
    assert len(twin.trainable_weights) == len(km.trainable_weights) == 6
    report = _compare(twin, rng.normal(size=(5, 4)), True)
    assert not any(r.quantity.startswith(f"d {frozen.name}/") for r in report.rows)  # the exact name: "dense_1" is inside "dense_12"
    before = frozen.get_weights()
    twin.compile(optimizer="sgd", loss="mse")
    twin.fit(rng.normal(size=(8, 4)), rng.normal(size=(8, 3)), batch_size=4, verbose=0)
    for w, w0 in zip(frozen.get_weights(), before):
        np.testing.assert_array_equal(w, w0)
    twin.trainable = False
    assert twin.trainable_weights == [] and twin.grads == []


# ------------------------------------------------------------------------- bad input
def test_unused_input_is_refused():
    a, b = nn.Input(shape=(3,), name="used"), nn.Input(shape=(3,), name="unused")
    with pytest.raises(ValueError, match="output does not depend on input 'unused'"):
        nn.Model([a, b], nn.Dense(2)(a))


def test_output_needing_an_undeclared_input_is_refused():
    a, b = nn.Input(shape=(3,), name="declared"), nn.Input(shape=(3,), name="missing")
    with pytest.raises(ValueError, match="Graph disconnected.*missing"):
        nn.Model(a, nn.Add()([a, b]))


def test_inputs_must_come_from_nn_input(rng):
    x = nn.Input(shape=(3,))
    h = nn.Dense(2)(x)
    with pytest.raises(TypeError, match="nn.Input"):
        nn.Model(h, nn.Dense(1)(h))
    with pytest.raises(TypeError, match="nn.Input"):
        nn.Model(rng.normal(size=(2, 3)), h)
    with pytest.raises(TypeError, match="outputs must be symbolic"):
        nn.Model(x, rng.normal(size=(2, 3)))


def test_incompatible_merge_shapes_give_keras_message():
    a, b = keras.Input((3,)), keras.Input((4,))
    with pytest.raises(ValueError, match="incompatible shapes") as keras_error:
        keras.layers.Add()([a, b])
    with pytest.raises(ValueError, match="Inputs have incompatible shapes. Received shapes") as ours:
        nn.Add()([nn.Input(shape=(3,)), nn.Input(shape=(4,))])
    assert str(ours.value) == str(keras_error.value)
    with pytest.raises(ValueError, match="requires inputs with matching shapes except for the concatenation"):
        nn.Concatenate()([nn.Input(shape=(3, 2)), nn.Input(shape=(4, 2))])
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        nn.Subtract()([nn.Input(shape=(3,))] * 3)
    with pytest.raises(ValueError, match="should be called on a list of inputs"):
        nn.Add().forward(np.ones((2, 3)))


def test_model_called_with_wrong_input_shape(rng):
    x = nn.Input(shape=(3,), name="features")
    model = nn.Model(x, nn.Dense(2)(x))
    with pytest.raises(ValueError, match=r"For input 'features', expected shape \(None, 3\), but received "
                                         r"instead a tensor with shape \(4, 5\)"):
        model.forward(rng.normal(size=(4, 5)))


def test_layers_without_twin_are_refused():
    # (a layer called twice is a shared layer since issue 20: tests/test_keras_io_graphs.py)
    inp = keras.Input((3,))
    km = keras.Model(inp, keras.layers.GaussianNoise(0.1)(keras.layers.Dense(3)(inp)))   # (Maximum has a twin now)
    with pytest.raises(ValueError, match="no NumPy twin of keras.layers.GaussianNoise"):
        nn.from_keras(km)
