"""The NumPy core against Keras/TensorFlow in float64: activations, Dense, losses, conversion.

Tolerance: 1e-7 relative (CS231n's rel_error, element-wise) for everything compared with Keras;
centred differences agree to ~1e-6 or better in float64 (h = 1e-5).
"""
import warnings

import numpy as np
import pytest

import course_utils.nn as nn
from course_utils.compare import compare_with_keras
from course_utils.gradcheck import check_layer_gradients, numerical_gradient, rel_error

from helpers import assert_rel, forward_tol, keras_is_float64


keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

RTOL = 1e-7
ACTIVATIONS = ["linear", "sigmoid", "tanh", "relu", "softmax"]


def _tf_grad(fn, x, dout):
    x_t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_t)
        y = fn(x_t)
        loss = tf.reduce_sum(y * dout)
    return np.asarray(y), np.asarray(tape.gradient(loss, x_t))


# ------------------------------------------------------------------ activations
@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("trial", range(4))
def test_activation_forward_and_derivative_match_keras(name, trial, rng):
    shape = tuple(rng.integers(1, 7, size=rng.integers(1, 4)))
    z = rng.normal(scale=3.0, size=shape)
    dout = rng.normal(size=shape)
    act = nn.activations.get(name)
    keras_fn = getattr(keras.activations, name)
    y_ref, dz_ref = _tf_grad(keras_fn, z, dout)
    a = act.forward(z)
    assert_rel(a, y_ref, f"{name} forward")
    assert_rel(act.backward(z, a, dout), dz_ref, f"{name} backward")


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "linear"])
def test_elementwise_derivative_is_finite_difference(name, rng):
    z = rng.normal(size=50) * 2 + 0.01  # keep relu's kink away from the sample points
    act = nn.activations.get(name)
    numeric = (act.forward(z + 1e-6) - act.forward(z - 1e-6)) / 2e-6
    assert rel_error(act.derivative(z), numeric) < 1e-6


def test_softmax_jacobian_matches_vjp(rng):
    z = rng.normal(size=5)
    da = rng.normal(size=5)
    jac = nn.activations.softmax_jacobian(z)
    a = nn.activations.softmax(z)
    assert_rel(jac.T @ da, nn.activations.softmax_vjp(a, da), "softmax J^T da")


@pytest.mark.parametrize("name", ACTIVATIONS + ["step"])
def test_activations_are_stable_for_huge_inputs(name):
    z = np.array([[-1e4, -1e3, -30.0, 0.0, 30.0, 1e3, 1e4]])
    act = nn.activations.get(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow RuntimeWarning fails the test
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            a = act.forward(z)
            d = act.backward(z, a, np.ones_like(z))
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(d))
    if name == "sigmoid":
        np.testing.assert_allclose(a[0, [0, 3, 6]], [0.0, 0.5, 1.0], atol=1e-12)
    if name == "softmax":
        assert a[0, -1] == pytest.approx(1.0) and a.sum() == pytest.approx(1.0)


def test_step_is_the_perceptron_threshold():
    np.testing.assert_array_equal(nn.activations.step(np.array([-2.0, -1e-9, 0.0, 3.0])), [0, 0, 1, 1])
    np.testing.assert_array_equal(nn.activations.step_derivative(np.array([-1.0, 1.0])), [0, 0])


def test_unknown_activation_names_the_choices():
    with pytest.raises(ValueError, match=r"Unknown activation 'relux'.*'relu'"):
        nn.Dense(3, activation="relux")


# ------------------------------------------------------------------------ Dense
def _dense_config(rng):
    activation = str(rng.choice(ACTIVATIONS))
    units = int(rng.integers(2 if activation == "softmax" else 1, 9))  # a softmax over 1 unit is constant
    return dict(units=units, activation=activation, use_bias=bool(rng.integers(0, 2)))


@pytest.mark.parametrize("trial", range(25))
def test_dense_matches_keras_on_random_shapes(trial, rng):
    config = _dense_config(rng)
    batch, input_dim = int(rng.integers(1, 6)), int(rng.integers(1, 9))
    shape = (batch, input_dim) if trial % 5 else (batch, int(rng.integers(1, 4)), input_dim)  # rank 3 too
    x = rng.normal(size=shape)
    layer = nn.Dense(**config)
    report = compare_with_keras(layer, x, seed=trial)
    expected_rows = 2 + (2 if config["use_bias"] else 1)
    assert len(report.rows) == expected_rows
    report.assert_close(RTOL)


@pytest.mark.gpu
def test_dense_matches_keras_on_the_gpu(rng):
    x = rng.normal(size=(16, 32))
    report = compare_with_keras(nn.Dense(8, activation="tanh"), x)
    assert report.device.startswith("GPU")
    report.assert_close(RTOL)


def test_dense_from_keras_float32_layer_is_compared_in_float64(rng):
    layer = keras.layers.Dense(4, activation="relu")
    layer.build((None, 3))
    report = compare_with_keras(layer, rng.normal(size=(5, 3)))
    assert report.dtype == "float64"
    report.assert_close(RTOL)
    # the weights came from the Keras layer (float32 values, exactly representable in float64)
    np.testing.assert_array_equal(report.rows[0].numpy.shape, (5, 4))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_backward_matches_finite_differences(activation, rng):
    layer = nn.Dense(4, activation=activation)
    x = rng.normal(size=(3, 5))
    errors = check_layer_gradients(layer, x)
    assert set(errors) == {"dx", "kernel", "bias"}
    assert max(errors.values()) < 1e-6, errors


def test_sequential_backward_matches_finite_differences(rng):
    model = nn.Sequential([nn.Dense(6, activation="tanh"), nn.Dense(5, activation="relu"),
                           nn.Dense(3, activation="softmax")])
    errors = check_layer_gradients(model, rng.normal(size=(4, 7)))
    assert len(errors) == 1 + 6
    assert max(errors.values()) < 1e-6, errors


def test_sequential_matches_keras(rng):
    model = nn.Sequential([nn.Dense(8, activation="relu"), nn.Dense(6, activation="tanh", use_bias=False),
                           nn.Dense(4, activation="softmax")])
    report = compare_with_keras(model, rng.normal(size=(9, 5)))
    assert [r.quantity for r in report.rows][:2] == ["output", "dx"]
    assert len(report.rows) == 2 + 5
    report.assert_close(RTOL)


def test_dense_grads_follow_keras_trainable_weights_order(rng):
    layer = keras.layers.Dense(3)
    layer.build((None, 2))
    twin = nn.from_keras(layer)
    assert [w.shape for w in twin.weights] == [tuple(w.shape) for w in layer.trainable_weights]
    twin.forward(rng.normal(size=(4, 2)))
    twin.backward(np.ones((4, 3)))
    assert [g.shape for g in twin.grads] == [(2, 3), (3,)]


def test_dense_regularization_gradient_is_finite_difference(rng):
    layer = nn.Dense(3, kernel_regularizer=nn.L2(0.1), bias_regularizer=nn.L1L2(l1=0.01, l2=0.02))
    layer.build((None, 4))
    layer.bias[...] = rng.normal(size=3)
    for w, g in zip(layer.weights, layer.regularization_grads()):
        numeric = numerical_gradient(layer.regularization_loss, w)
        assert rel_error(g, numeric) < 1e-7


def test_dense_regularization_loss_matches_keras(rng):
    layer = nn.Dense(3, kernel_regularizer=nn.L2(0.1))
    layer.build((None, 4))
    k_layer = nn.to_keras(layer, dtype="float64")
    k_layer(np.zeros((1, 4)))
    # Keras casts the factor 0.1 through a float32 tensor (0.10000000149...) and so does L2
    assert layer.regularization_loss() == pytest.approx(float(sum(k_layer.losses)), rel=1e-14)


# --------------------------------------------------------------------- dropout
def test_dropout_is_identity_at_inference_and_unbiased_in_training(rng):
    layer = nn.Dropout(0.25, seed=3)
    x = np.ones((200, 50))
    np.testing.assert_array_equal(layer.forward(x), x)
    y = layer.forward(x, training=True)
    kept = y != 0
    assert set(np.unique(y)) <= {0.0, 1 / 0.75}
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), y)  # the same mask in backward


# ------------------------------------------------------------------------ losses
def _keras_loss_and_grad(loss_obj, y_true, y_pred):
    y_t = tf.constant(y_pred)
    with tf.GradientTape() as tape:
        tape.watch(y_t)
        value = loss_obj(tf.constant(y_true), y_t)
    return float(value), np.asarray(tape.gradient(value, y_t))


def _loss_cases(rng):
    n, k = int(rng.integers(1, 8)), int(rng.integers(2, 6))
    logits = rng.normal(scale=2.0, size=(n, k))
    labels = rng.integers(0, k, size=n)
    onehot = np.eye(k)[labels]
    probs = nn.activations.softmax(logits)
    yb = rng.integers(0, 2, size=(n, 1)).astype(float)
    zb = rng.normal(scale=2.0, size=(n, 1))
    yield "mse", nn.MeanSquaredError(), keras.losses.MeanSquaredError(dtype="float64"), rng.normal(size=(n, k)), \
        rng.normal(size=(n, k))
    yield "bce", nn.BinaryCrossentropy(), keras.losses.BinaryCrossentropy(dtype="float64"), yb, \
        nn.activations.sigmoid(zb)
    yield "bce_logits", nn.BinaryCrossentropy(from_logits=True), \
        keras.losses.BinaryCrossentropy(from_logits=True, dtype="float64"), yb, zb
    yield "cce", nn.CategoricalCrossentropy(), keras.losses.CategoricalCrossentropy(dtype="float64"), onehot, probs
    yield "cce_unnormalised", nn.CategoricalCrossentropy(), keras.losses.CategoricalCrossentropy(dtype="float64"), \
        onehot, rng.uniform(0.1, 2.0, size=(n, k))
    yield "cce_logits", nn.CategoricalCrossentropy(from_logits=True), \
        keras.losses.CategoricalCrossentropy(from_logits=True, dtype="float64"), onehot, logits
    yield "sparse_cce", nn.SparseCategoricalCrossentropy(), \
        keras.losses.SparseCategoricalCrossentropy(dtype="float64"), labels, probs
    yield "sparse_cce_logits", nn.SparseCategoricalCrossentropy(from_logits=True), \
        keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64"), labels, logits


@pytest.mark.parametrize("trial", range(6))
def test_losses_and_gradients_match_keras(trial, rng):
    for name, mine, theirs, y_true, y_pred in _loss_cases(rng):
        value, grad = _keras_loss_and_grad(theirs, y_true, y_pred)
        assert rel_error(mine.loss(y_true, y_pred), value) <= RTOL, (name, mine.loss(y_true, y_pred), value)
        assert_rel(mine.gradient(y_true, y_pred), grad, f"{name} gradient")


@pytest.mark.parametrize("trial", range(3))
def test_loss_gradients_match_finite_differences(trial, rng):
    for name, mine, _, y_true, y_pred in _loss_cases(rng):
        y_pred = y_pred.copy()
        numeric = numerical_gradient(lambda: mine.loss(y_true, y_pred), y_pred, h=1e-6)
        err = rel_error(mine.gradient(y_true, y_pred), numeric)
        assert err < 1e-5, (name, err)


def test_losses_clip_probabilities_like_keras():
    y = np.array([[1.0], [0.0]])
    p = np.array([[0.0], [1.0]])  # confidently wrong: finite thanks to the clip
    value, grad = _keras_loss_and_grad(keras.losses.BinaryCrossentropy(dtype="float64"), y, p)
    assert nn.BinaryCrossentropy().loss(y, p) == pytest.approx(value, rel=1e-9)
    assert np.isfinite(value) and value == pytest.approx(-np.log(1e-7), rel=1e-6)


def test_loss_shape_errors_say_what_to_do():
    with pytest.raises(ValueError, match=r"y_true \(4,\) and y_pred \(4, 3\).*one-hot encode"):
        nn.CategoricalCrossentropy().loss(np.zeros(4), np.ones((4, 3)) / 3)
    with pytest.raises(ValueError, match=r"labels in \[0, 2\] for 3 classes"):
        nn.SparseCategoricalCrossentropy().loss(np.array([0, 3]), np.ones((2, 3)) / 3)
    with pytest.raises(ValueError, match="non-finite predictions"):
        nn.MeanSquaredError().loss(np.zeros(2), np.array([np.nan, 1.0]))


# ------------------------------------------------------------------- conversion
def test_from_keras_and_back_keep_every_weight(rng):
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(3, activation="softmax", use_bias=False)])
    twin = nn.from_keras(model)
    assert isinstance(twin, nn.Sequential) and [type(l) for l in twin.layers] == [nn.Dense, nn.Dense]
    assert twin.layers[1].use_bias is False and twin.layers[1].activation.name == "softmax"
    for mine, theirs in zip(twin.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    x = rng.normal(size=(6, 5)).astype("float32")
    np.testing.assert_allclose(twin.predict(x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    back = nn.to_keras(twin)
    for mine, theirs in zip(back.get_weights(), model.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=0)


def test_from_keras_refuses_what_it_cannot_reproduce():
    layer = keras.layers.Dense(3, kernel_constraint="non_neg")
    with pytest.raises(ValueError, match="kernel_constraint"):
        nn.from_keras(layer)
    with pytest.raises(ValueError, match="no NumPy twin of keras.layers.GaussianNoise"):   # (Maximum has one now)
        nn.from_keras(keras.layers.GaussianNoise(0.1))


def test_to_keras_refuses_the_step_activation():
    layer = nn.Dense(1, activation="step")
    layer.build((None, 2))
    with pytest.raises(ValueError, match="'step', which Keras does not have"):
        nn.to_keras(layer)


# ------------------------------------------------------------------- bad input
def test_wrong_input_shape_names_expected_and_received(rng):
    layer = nn.Dense(3)
    layer.forward(rng.normal(size=(2, 4)))
    with pytest.raises(ValueError, match=r"expected input with last dimension 4, received shape \(2, 5\)"):
        layer.forward(rng.normal(size=(2, 5)))
    with pytest.raises(ValueError, match=r"rank >= 2.*received shape \(4,\).*x\[None\]"):
        layer.forward(rng.normal(size=4))


def test_set_weights_checks_count_and_shapes():
    layer = nn.Dense(3)
    with pytest.raises(ValueError, match="built on its first call"):
        layer.set_weights([np.zeros((2, 3)), np.zeros(3)])
    layer.build((None, 2))
    with pytest.raises(ValueError, match=r"expects 2 weight arrays \(kernel, bias\), received 1"):
        layer.set_weights([np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"weight 'kernel' expects shape \(2, 3\), received shape \(3, 2\)"):
        layer.set_weights([np.zeros((3, 2)), np.zeros(3)])
    model = nn.Sequential([nn.Dense(3), nn.Dense(1)])
    model.build((None, 2))
    with pytest.raises(ValueError, match="expects 4 weight arrays"):
        model.set_weights([np.zeros((2, 3))])


def test_non_finite_and_non_numeric_inputs_are_refused():
    layer = nn.Dense(2)
    with pytest.raises(ValueError, match=r"non-finite input: nan at index \(1, 0\)"):
        layer.forward(np.array([[1.0, 2.0], [np.nan, 0.0]]))
    with pytest.raises(TypeError, match="numeric array.*dtype <U1"):
        layer.forward(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match=r"units=0"):
        nn.Dense(0)


def test_backward_before_forward_and_wrong_dout_shape(rng):
    layer = nn.Dense(3)
    with pytest.raises(RuntimeError, match="call forward\\(\\) before backward"):
        layer.backward(np.zeros((2, 3)))
    layer.forward(rng.normal(size=(2, 4)))
    with pytest.raises(ValueError, match=r"dout of shape \(2, 3\).*received shape \(3, 2\)"):
        layer.backward(np.zeros((3, 2)))


# -------------------------------------------------------------- Keras-like API
def test_fit_learns_and_reports_history(rng, capsys):
    x = rng.normal(size=(200, 2))
    y = (x[:, :1] + x[:, 1:] > 0).astype(float)
    model = nn.Sequential([nn.Dense(8, activation="tanh"), nn.Dense(1, activation="sigmoid")])
    model.compile(optimizer=nn.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=32, validation_data=(x[:50], y[:50]), verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 15/15" in out and "loss:" in out and "━" in out
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert model.evaluate(x, y, return_dict=True)["accuracy"] > 0.95


def test_early_stopping_restores_the_best_weights(rng):
    x = rng.normal(size=(64, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])
    model = nn.Sequential([nn.Dense(1)])
    model.compile(optimizer=nn.SGD(0.05), loss="mse")
    x_val, y_val = x[:16], -y[:16]  # a validation set that gets worse as training improves
    stop = nn.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(x, y, epochs=50, validation_data=(x_val, y_val), callbacks=[stop], verbose=0)
    assert len(history.history["loss"]) == stop.best_epoch + 1 + 2
    assert model.evaluate(x_val, y_val) == pytest.approx(min(history.history["val_loss"]), rel=1e-12)


# ---------------------------------------------------------------- the harness
def test_the_harness_catches_a_wrong_backward(rng):
    """The comparison is not vacuous: a backward pass off by a little is reported, by name."""

    class SlightlyWrongDense(nn.Dense):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads[1] = self.grads[1] * (1 + 1e-5)   # a bias gradient off by 1e-5
            return dx

    report = compare_with_keras(SlightlyWrongDense(3), rng.normal(size=(4, 2)))
    assert report["d bias"].max_rel_err > 1e-6
    assert report["d kernel"].max_rel_err < RTOL
    with pytest.raises(AssertionError, match="d bias"):
        report.assert_close(RTOL)
    assert "max rel err" in str(report) and f"Keras on {report.device}" in str(report)
    assert "<table>" in report._repr_html_()


def test_rel_error_and_numerical_gradient_on_known_results():
    assert rel_error(np.array([1.0]), np.array([1.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([1.0 + 2e-7])) == pytest.approx(1e-7, rel=1e-6)
    w = np.array([1.0, -2.0, 3.0])
    numeric = numerical_gradient(lambda: np.sum(w ** 3), w)
    np.testing.assert_allclose(numeric, 3 * w ** 2, rtol=1e-9)


def test_optimizer_arguments_are_validated():
    with pytest.raises(ValueError, match="learning_rate=-0.1"):
        nn.SGD(-0.1)
    with pytest.raises(ValueError, match="momentum=1.5"):
        nn.SGD(0.1, momentum=1.5)
    w = np.zeros(3)
    with pytest.raises(ValueError, match=r"shape \(2,\) does not match its weight of shape \(3,\)"):
        nn.SGD().apply_gradients([(np.zeros(2), w)])
    with pytest.raises(ValueError, match="NaN or inf.*smaller learning rate"):
        nn.Adam().apply_gradients([(np.array([np.inf, 0, 0]), w)])


def test_to_keras_keeps_float64_weights_in_float64():
    model = nn.Sequential([nn.Dense(2), nn.Dense(1)])
    model.build((None, 3))
    keras_model = nn.to_keras(model)
    assert all(str(w.dtype) == "float64" for w in keras_model.weights)
    for mine, theirs in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)



def _assert_same_keras_model(twin, keras_model, x):
    """twin's computing layers (its InputLayer aside) are keras_model's, with the same classes, weights,
    trainable flags and outputs."""
    layers = [layer for layer in twin.layers if not isinstance(layer, nn.InputLayer)]
    assert [type(layer).__name__ for layer in keras_model.layers] == [type(layer).__name__ for layer in layers]
    assert [layer.trainable for layer in keras_model.layers] == [layer.trainable for layer in layers]
    assert keras_model.trainable == twin.trainable
    exact = keras_is_float64()   # off TensorFlow Keras keeps float64 weights and computes in float32
    for mine, theirs in zip(twin.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(theirs, mine, **(dict(rtol=0, atol=0) if exact else forward_tol()))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_model(x)), twin.forward(x), **forward_tol())


@pytest.mark.parametrize("call_first", [False, True])
def test_to_keras_turns_a_first_input_layer_into_the_keras_input(rng, call_first):
    """nn.Sequential([nn.InputLayer(...), ...]): the InputLayer becomes the keras.Input (Keras keeps it out
    of model.layers), not a second InputLayer - which Keras refused ("should have unique names") - and
    the trainable flags are not shifted by one. Unbuilt, it is built from the InputLayer, as Keras does."""
    twin = nn.Sequential([nn.InputLayer(shape=(4,)), nn.Dense(3, activation="tanh"), nn.Dense(2)])
    twin.layers[-1].trainable = False
    x = rng.normal(size=(5, 4))
    if call_first:
        twin.forward(x)
    keras_model = nn.to_keras(twin)
    assert twin.built and keras_model.input_shape == (None, 4) and keras_model.inputs[0].dtype == "float64"
    _assert_same_keras_model(twin, keras_model, x)
    assert [len(layer.trainable_weights) for layer in keras_model.layers] == [2, 0]
    back = nn.from_keras(keras_model)                     # and back: the same layers, weights and flags
    assert back.input_shape == (None, 4)
    _assert_same_keras_model(back, keras_model, x)


def test_to_keras_input_layer_keeps_its_batch_shape_dtype_and_name_and_frozen_flags(rng):
    twin = nn.Sequential([nn.InputLayer(batch_shape=(6, 4), dtype="float32", name="pixels"),
                          nn.Dense(3), nn.Dense(2), nn.Dense(1)])
    twin.trainable = False                                 # frozen model, one layer unfrozen on its own
    twin.layers[2].trainable = True
    keras_model = nn.to_keras(twin)
    assert keras_model.inputs[0].shape == (6, 4) and keras_model.inputs[0].dtype == "float32"
    assert keras_model.inputs[0].name == "pixels"
    assert [layer.trainable for layer in keras_model.layers] == [False, True, False]
    _assert_same_keras_model(twin, keras_model, rng.normal(size=(6, 4)).astype("float32"))


def test_keras_sequential_with_input_from_keras_and_back(rng):
    keras_model = keras.Sequential([keras.Input((4,), dtype="float64"), keras.layers.Dense(3, activation="relu", dtype="float64"),
                                    keras.layers.Dense(2, dtype="float64")], name="mlp")
    keras_model.layers[0].trainable = False
    twin = nn.from_keras(keras_model)
    x = rng.normal(size=(3, 4))
    _assert_same_keras_model(twin, keras_model, x)
    again = nn.to_keras(twin)
    assert again.input_shape == keras_model.input_shape == (None, 4) and again.name == "mlp"
    _assert_same_keras_model(twin, again, x)
    layer = keras.layers.Dense(500, kernel_initializer=keras.initializers.RandomNormal(stddev=2.0))
    twin = nn.from_keras(layer)          # not built: the twin draws its own weights
    twin.build((None, 400))
    assert twin.kernel.std() == pytest.approx(2.0, rel=0.02)
    back = nn.to_keras(twin)
    assert back.get_config()["kernel_initializer"]["config"]["stddev"] == 2.0
