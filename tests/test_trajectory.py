"""A NumPy model and a Keras model, started from the same weights and fed the same batches, follow
the same trajectory: after 20 steps their weights agree to rel err <= 1e-6 (float64).

This is what "Keras's exact update rules" means for SGD (plain, momentum, Nesterov) and Adam, and
it also checks the losses' gradients and the Sequential backward pass end to end.
"""
import numpy as np
import pytest

import course_utils.nn as nn
from course_utils.gradcheck import rel_error

keras = pytest.importorskip("keras")
if keras.backend.backend() != "tensorflow":  # float32 trajectories drift; tests/test_backends.py covers the others
    pytest.skip("the float64 training trajectories need the TensorFlow backend (Keras computes float64 as float32 "
                "elsewhere; tests/test_backends.py compares every backend in float32)", allow_module_level=True)

STEPS = 20
RTOL = 1e-6


def _mlp():
    return nn.Sequential([nn.Dense(16, activation="relu"), nn.Dense(12, activation="tanh"),
                          nn.Dense(4, activation="softmax")])


def _batches(rng, n_features=6, classes=4, batch=16):
    x = rng.normal(size=(STEPS, batch, n_features))
    y = np.eye(classes)[rng.integers(0, classes, size=(STEPS, batch))]
    return x, y


OPTIMIZERS = {
    "sgd": (lambda: nn.SGD(0.1), lambda: keras.optimizers.SGD(0.1)),
    "sgd_momentum": (lambda: nn.SGD(0.05, momentum=0.9), lambda: keras.optimizers.SGD(0.05, momentum=0.9)),
    "sgd_nesterov": (lambda: nn.SGD(0.05, momentum=0.9, nesterov=True),
                     lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True)),
    "adam": (lambda: nn.Adam(0.01), lambda: keras.optimizers.Adam(0.01)),
    "adam_weight_decay": (lambda: nn.Adam(0.01, weight_decay=0.1),
                          lambda: keras.optimizers.Adam(0.01, weight_decay=0.1)),
    "adam_amsgrad": (lambda: nn.Adam(0.01, amsgrad=True), lambda: keras.optimizers.Adam(0.01, amsgrad=True)),
    "adamw": (lambda: nn.AdamW(0.01), lambda: keras.optimizers.AdamW(0.01)),
    "adamw_amsgrad": (lambda: nn.AdamW(0.02, weight_decay=0.05, amsgrad=True),
                      lambda: keras.optimizers.AdamW(0.02, weight_decay=0.05, amsgrad=True)),
    "rmsprop": (lambda: nn.RMSprop(0.005), lambda: keras.optimizers.RMSprop(0.005)),
    "rmsprop_momentum_centered": (lambda: nn.RMSprop(0.002, rho=0.8, momentum=0.5, centered=True),
                                  lambda: keras.optimizers.RMSprop(0.002, rho=0.8, momentum=0.5, centered=True)),
    "sgd_clipnorm": (lambda: nn.SGD(0.5, momentum=0.5, clipnorm=0.05),
                     lambda: keras.optimizers.SGD(0.5, momentum=0.5, clipnorm=0.05)),
    "sgd_global_clipnorm": (lambda: nn.SGD(0.5, global_clipnorm=0.1),
                            lambda: keras.optimizers.SGD(0.5, global_clipnorm=0.1)),
    "adam_clipvalue": (lambda: nn.Adam(0.01, clipvalue=0.01), lambda: keras.optimizers.Adam(0.01, clipvalue=0.01)),
    "rmsprop_global_clipnorm_wd": (lambda: nn.RMSprop(0.005, weight_decay=0.1, global_clipnorm=0.2),
                                   lambda: keras.optimizers.RMSprop(0.005, weight_decay=0.1, global_clipnorm=0.2)),
    "sgd_exponential_decay": (
        lambda: nn.SGD(nn.ExponentialDecay(0.3, decay_steps=3, decay_rate=0.7)),
        lambda: keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.3, decay_steps=3, decay_rate=0.7))),
    "adamw_staircase_decay": (
        lambda: nn.AdamW(nn.ExponentialDecay(0.02, 4, 0.5, staircase=True), weight_decay=0.1),
        lambda: keras.optimizers.AdamW(keras.optimizers.schedules.ExponentialDecay(0.02, 4, 0.5, staircase=True),
                                       weight_decay=0.1)),
    "sgd_cosine_decay": (
        lambda: nn.SGD(nn.CosineDecay(0.1, decay_steps=15, alpha=0.1), momentum=0.5),
        lambda: keras.optimizers.SGD(keras.optimizers.schedules.CosineDecay(0.1, decay_steps=15, alpha=0.1),
                                     momentum=0.5)),
    "adam_cosine_warmup": (
        lambda: nn.Adam(nn.CosineDecay(0.001, 12, warmup_target=0.02, warmup_steps=5)),
        lambda: keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.001, 12, warmup_target=0.02,
                                                                             warmup_steps=5))),
    "rmsprop_piecewise": (
        lambda: nn.RMSprop(nn.PiecewiseConstantDecay([5, 12], [0.01, 0.003, 0.001])),
        lambda: keras.optimizers.RMSprop(keras.optimizers.schedules.PiecewiseConstantDecay([5, 12],
                                                                                          [0.01, 0.003, 0.001]))),
}


# Keras evaluates a schedule in float32 with Eigen's pow/cos, which at some steps differ from NumPy's float32
# by one ulp (~6e-8 of the learning rate; tests/test_losses_optimizers_activations.py checks every value to 3e-7). Such a
# step moves the weights by ~1e-9, so for these runs weights below 1e-2 are compared to 1e-8 absolute.
SCHEDULED = {"sgd_exponential_decay", "adamw_staircase_decay", "sgd_cosine_decay", "adam_cosine_warmup"}


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_numpy_and_keras_follow_the_same_trajectory(optimizer, rng):
    make_numpy_opt, make_keras_opt = OPTIMIZERS[optimizer]
    model = _mlp()
    model.build((None, 6))
    keras_model = nn.to_keras(model, dtype="float64")
    model.compile(optimizer=make_numpy_opt(), loss="categorical_crossentropy")
    keras_model.compile(optimizer=make_keras_opt(),
                        loss=keras.losses.CategoricalCrossentropy(dtype="float64"), jit_compile=False)
    x, y = _batches(rng)
    start = model.get_weights()
    numpy_losses, keras_losses = [], []
    for step in range(STEPS):
        numpy_losses.append(model.train_on_batch(x[step], y[step])["loss"])
        # before Keras 3.15 train_on_batch returns the mean loss since the last metrics reset:
        # resetting first makes it this batch's loss on every version
        keras_model.reset_metrics()
        keras_losses.append(float(keras_model.train_on_batch(x[step], y[step])))
    moved = max(rel_error(a, b) for a, b in zip(model.get_weights(), start))
    assert moved > 1e-2, "the weights barely moved: the test would not notice a wrong update rule"
    floor = 1e-2 if optimizer in SCHEDULED else 1e-8
    for i, (mine, theirs) in enumerate(zip(model.get_weights(), keras_model.get_weights())):
        err = rel_error(mine, theirs, floor=floor)
        assert err <= RTOL, f"weight {i} after {STEPS} steps: rel err {err:.2e}\nMine:\n{mine}\nTheirs:\n{theirs}"
    assert rel_error(np.array(numpy_losses), np.array(keras_losses)) <= RTOL


def test_l2_regularized_training_follows_keras(rng, floatx_float64):
    model = nn.Sequential([nn.Dense(8, activation="tanh", kernel_regularizer=nn.L2(0.01)),
                           nn.Dense(4, activation="softmax")])
    model.build((None, 6))
    keras_model = nn.to_keras(model, dtype="float64")
    model.compile(optimizer=nn.SGD(0.1, momentum=0.5), loss="categorical_crossentropy")
    keras_model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.5),
                        loss=keras.losses.CategoricalCrossentropy(dtype="float64"), jit_compile=False)
    x, y = _batches(rng)
    for step in range(STEPS):
        model.train_on_batch(x[step], y[step])
        keras_model.train_on_batch(x[step], y[step])
    for mine, theirs in zip(model.get_weights(), keras_model.get_weights()):
        assert rel_error(mine, theirs) <= RTOL


def test_optimizer_rules_on_one_weight():
    """Known results by hand: one weight w = 1 with gradient g = 0.5."""
    w = np.array([1.0])
    nn.SGD(0.1).apply_gradients([(np.array([0.5]), w)])
    # (Keras, and so the NumPy optimizer, holds lr = 0.1 as float32: 0.10000000149, hence rel=1e-7)
    assert w[0] == pytest.approx(0.95, rel=1e-7)
    w, opt = np.array([1.0]), nn.SGD(0.1, momentum=0.9)
    opt.apply_gradients([(np.array([0.5]), w)])   # m = -0.05, w = 0.95
    opt.apply_gradients([(np.array([0.5]), w)])   # m = -0.045 - 0.05 = -0.095, w = 0.855
    assert w[0] == pytest.approx(0.855, rel=1e-7)
    w, opt = np.array([1.0]), nn.Adam(0.1)
    opt.apply_gradients([(np.array([0.5]), w)])
    # m = 0.05, v = 0.00025, alpha = lr sqrt(1 - beta_2) / (1 - beta_1), with lr, beta_1 and beta_2 held
    # as float32 the way Keras holds them; the step alpha m / (sqrt(v) + eps) is ~lr.
    lr, b1, b2 = (float(np.float32(v)) for v in (0.1, 0.9, 0.999))
    alpha = lr * np.sqrt(1 - b2) / (1 - b1)
    assert w[0] == pytest.approx(1.0 - alpha * 0.05 / (np.sqrt(0.00025) + 1e-7), rel=1e-14)
    assert w[0] == pytest.approx(0.9, rel=1e-5)   # the first Adam step moves each weight by about lr


@pytest.mark.parametrize("case", ["sigmoid_bce", "softmax_cce", "softmax_sparse"])
def test_saturated_outputs_train_from_logits_like_keras(case):
    """With a sigmoid/softmax output and cross-entropy, Keras trains from the logits (no clipping):
    a confidently wrong example (|z| = 20) still gets its full gradient, in both libraries."""
    if case == "sigmoid_bce":
        layer, loss = nn.Dense(1, activation="sigmoid"), "binary_crossentropy"
        x, y = np.array([[1.0], [-1.0]]), np.array([[1.0], [0.0]])
        weights = [np.array([[-20.0]]), np.zeros(1)]
    else:
        layer = nn.Dense(2, activation="softmax")
        loss = "categorical_crossentropy" if case == "softmax_cce" else "sparse_categorical_crossentropy"
        x = np.array([[1.0], [-1.0]])
        y = np.array([[1.0, 0.0], [0.0, 1.0]]) if case == "softmax_cce" else np.array([0, 1])
        weights = [np.array([[-10.0, 10.0]]), np.zeros(2)]
    model = nn.Sequential([layer])
    model.build((None, 1))
    model.set_weights(weights)
    keras_model = nn.to_keras(model, dtype="float64")
    model.compile(optimizer=nn.SGD(0.1), loss=loss)
    keras_loss = {"binary_crossentropy": keras.losses.BinaryCrossentropy,
                  "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
                  "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy}[loss]
    keras_model.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras_loss(dtype="float64"), jit_compile=False)
    mine = model.train_on_batch(x, y)["loss"]
    theirs = float(keras_model.train_on_batch(x, y))
    assert mine == pytest.approx(theirs, rel=1e-9) and mine > 17   # unclipped: ~20, not -log(1e-7) = 16.1
    for a, b in zip(model.get_weights(), keras_model.get_weights()):
        assert rel_error(a, b) <= 1e-9
    assert abs(model.get_weights()[0]).max() < abs(weights[0]).max()   # the step moved the weights
    # (Keras's evaluate reports through a float32 metric tracker, hence 1e-6)
    assert model.evaluate(x, y) == pytest.approx(keras_model.evaluate(x, y, verbose=0), rel=1e-6)
