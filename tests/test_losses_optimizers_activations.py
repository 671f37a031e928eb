"""More activations, losses, optimizer options, schedules and sample/class weights, against Keras.

Tolerances: 1e-7 relative (rel_error, element-wise, float64) for activations and losses (value and
gradient, through tf.GradientTape); schedule values to 3e-7 relative (Keras computes them in float32
with Eigen's pow/cos, one float32 ulp from NumPy's); weights after training to 1e-6 relative
(the trajectory harness of tests/test_trajectory.py).
"""
import numpy as np
import pytest

import course_utils.nn as nn
from course_utils.gradcheck import numerical_gradient, rel_error

from helpers import assert_rel


keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

RTOL = 1e-7


# ----------------------------------------------------------------------- losses
def _keras_loss_and_grad(keras_loss, y_true, y_pred, sample_weight=None):
    p = tf.constant(y_pred)
    with tf.GradientTape() as tape:
        tape.watch(p)
        value = keras_loss(tf.constant(y_true), p, sample_weight=sample_weight)
    return float(value), np.asarray(tape.gradient(value, p))


LOSS_CASES = {
    # name: (numpy loss, keras loss, kind of targets, kind of predictions)
    "mae": (lambda: nn.losses.get("mae"), lambda: keras.losses.MeanAbsoluteError(dtype="float64"), "real", "real"),
    "huber": (lambda: nn.Huber(), lambda: keras.losses.Huber(dtype="float64"), "real", "real"),
    "huber_delta": (lambda: nn.Huber(delta=0.3), lambda: keras.losses.Huber(delta=0.3, dtype="float64"),
                    "real", "real"),
    "kld": (lambda: nn.losses.get("kld"), lambda: keras.losses.KLDivergence(dtype="float64"), "dist", "dist"),
    "mse": (lambda: nn.losses.get("mse"), lambda: keras.losses.MeanSquaredError(dtype="float64"), "real", "real"),
    "bce_smooth": (lambda: nn.BinaryCrossentropy(label_smoothing=0.2),
                   lambda: keras.losses.BinaryCrossentropy(label_smoothing=0.2, dtype="float64"), "binary", "prob"),
    "bce_smooth_logits": (lambda: nn.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
                          lambda: keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1,
                                                                  dtype="float64"), "binary", "real"),
    "cce_smooth": (lambda: nn.CategoricalCrossentropy(label_smoothing=0.15),
                   lambda: keras.losses.CategoricalCrossentropy(label_smoothing=0.15, dtype="float64"),
                   "onehot", "unnormalised"),
    "cce_smooth_logits": (lambda: nn.CategoricalCrossentropy(from_logits=True, label_smoothing=0.3),
                          lambda: keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.3,
                                                                       dtype="float64"), "onehot", "real"),
    "sparse": (lambda: nn.SparseCategoricalCrossentropy(),
               lambda: keras.losses.SparseCategoricalCrossentropy(dtype="float64"), "labels", "dist"),
    "sparse_logits": (lambda: nn.SparseCategoricalCrossentropy(from_logits=True),
                      lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64"),
                      "labels", "real"),
}


def _draw(kind, shape, rng):
    if kind == "real":
        return rng.normal(scale=2.0, size=shape)
    if kind == "prob":
        return rng.uniform(0.02, 0.98, size=shape)
    if kind == "binary":
        return rng.integers(0, 2, size=shape).astype(np.float64)
    if kind == "unnormalised":
        return rng.uniform(0.05, 1.0, size=shape)
    if kind == "dist":
        p = rng.uniform(0.05, 1.0, size=shape)
        return p / p.sum(axis=-1, keepdims=True)
    if kind == "onehot":
        return np.eye(shape[-1])[rng.integers(0, shape[-1], size=shape[:-1])]
    if kind == "labels":
        return rng.integers(0, shape[-1], size=shape[:-1])
    raise AssertionError(kind)


@pytest.mark.parametrize("case", list(LOSS_CASES))
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_value_and_gradient_match_keras(case, weighted, rng):
    make_mine, make_theirs, target_kind, pred_kind = LOSS_CASES[case]
    for _ in range(3):
        shape = (int(rng.integers(1, 6)),) + tuple(int(d) for d in rng.integers(2, 5, size=rng.integers(1, 3)))
        y_true, y_pred = _draw(target_kind, shape, rng), _draw(pred_kind, shape, rng)
        sample_weight = rng.uniform(0.0, 3.0, size=shape[:-1]) if weighted else None
        mine = make_mine()
        value, grad = _keras_loss_and_grad(make_theirs(), y_true, y_pred, sample_weight)
        assert_rel(mine.loss(y_true, y_pred, sample_weight), value, f"{case} value {shape}")
        assert_rel(mine.gradient(y_true, y_pred, sample_weight), grad, f"{case} gradient {shape}")


@pytest.mark.parametrize("case", ["mae", "huber", "kld", "bce_smooth", "cce_smooth", "sparse"])
def test_loss_gradient_matches_finite_differences(case, rng):
    make_mine, _, target_kind, pred_kind = LOSS_CASES[case]
    shape = (3, 4)
    y_true, y_pred = _draw(target_kind, shape, rng), _draw(pred_kind, shape, rng)
    w = rng.uniform(0.5, 2.0, size=3)
    mine = make_mine()
    numeric = numerical_gradient(lambda: mine.loss(y_true, y_pred, w), y_pred)
    assert rel_error(mine.gradient(y_true, y_pred, w), numeric) <= 1e-6


CLIPPED = {
    # predictions with an exact 0, an exact 1 and values within 1e-7 of them (Keras's clip is active)
    "sparse": (nn.SparseCategoricalCrossentropy, keras.losses.SparseCategoricalCrossentropy,
               np.array([2, 0, 1, 2]),
               np.array([[0.2, 0.0, 0.8], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.3, 0.7 - 5e-8, 5e-8]])),
    "categorical": (nn.CategoricalCrossentropy, keras.losses.CategoricalCrossentropy,
                    np.eye(3)[[2, 0, 1, 2]],
                    np.array([[0.2, 0.0, 0.8], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.3, 0.7 - 5e-8, 5e-8]])),
    "binary": (nn.BinaryCrossentropy, keras.losses.BinaryCrossentropy,
               np.array([[1.0, 0.0, 1.0, 0.0, 1.0]]), np.array([[0.0, 1.0, 1.0, 0.0, 1 - 5e-8]])),
    "kld": (nn.KLDivergence, keras.losses.KLDivergence,
            np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 5e-8]])),
}


@pytest.mark.parametrize("case", list(CLIPPED))
def test_losses_at_clipped_probabilities_match_keras(case):
    mine_cls, theirs_cls, y_true, y_pred = CLIPPED[case]
    value, grad = _keras_loss_and_grad(theirs_cls(dtype="float64"), y_true, y_pred)
    assert_rel(mine_cls().loss(y_true, y_pred), value, f"{case} value")
    assert_rel(mine_cls().gradient(y_true, y_pred), grad, f"{case} gradient")


def test_sparse_crossentropy_clips_without_renormalising_as_keras():
    """The finding: for p = [0.2, 0, 0.8], label 2, Keras's gradient is [0.9999999, 0, -0.2500001]."""
    g = nn.SparseCategoricalCrossentropy().gradient(np.array([2]), np.array([[0.2, 0.0, 0.8]]))
    s = 1.0 + 1e-7   # the clipped p sums to 1 + eps; p = 0 is clipped, so no gradient reaches it
    np.testing.assert_allclose(g, [[1 / s, 0.0, (0.8 / s - 1) / 0.8]], rtol=1e-12)


def test_loss_names_configs_and_bad_input():
    assert isinstance(nn.losses.get("huber"), nn.Huber) and isinstance(nn.losses.get("kl_divergence"), nn.KLDivergence)
    assert isinstance(nn.losses.get("mean_absolute_error"), nn.MeanAbsoluteError)
    assert nn.Huber(0.5).to_keras().get_config()["name"] == "huber_loss"
    k = nn.CategoricalCrossentropy(label_smoothing=0.1).to_keras()
    assert k.get_config()["label_smoothing"] == 0.1
    with pytest.raises(ValueError, match="label_smoothing must be a number in"):
        nn.BinaryCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="delta >= 0"):
        nn.Huber(delta=-1)
    with pytest.raises(TypeError):   # as in Keras: the sparse loss has no label smoothing
        nn.SparseCategoricalCrossentropy(label_smoothing=0.1)
    with pytest.raises(ValueError, match="one weight per sample"):
        nn.losses.get("mse").loss(np.zeros((4, 2)), np.ones((4, 2)), sample_weight=np.ones(3))


# -------------------------------------------------------------- schedules and optimizers
SCHEDULES = [
    (lambda m: m.ExponentialDecay(0.1, decay_steps=7, decay_rate=0.6), "exponential"),
    (lambda m: m.ExponentialDecay(0.05, decay_steps=3, decay_rate=0.5, staircase=True), "staircase"),
    (lambda m: m.CosineDecay(0.2, decay_steps=30), "cosine"),
    (lambda m: m.CosineDecay(0.2, decay_steps=25, alpha=0.2), "cosine_alpha"),
    (lambda m: m.CosineDecay(0.0, decay_steps=20, warmup_target=0.1, warmup_steps=10), "cosine_warmup"),
    (lambda m: m.PiecewiseConstantDecay([10, 20, 35], [0.1, 0.05, 0.01, 0.001]), "piecewise"),
]


@pytest.mark.parametrize("make,name", SCHEDULES, ids=[n for _, n in SCHEDULES])
def test_schedule_values_match_keras(make, name):
    mine, theirs = make(nn.schedules), make(keras.optimizers.schedules)
    steps = np.arange(60)
    ours = np.array([mine(int(t)) for t in steps])
    keras_values = np.array([float(theirs(tf.constant(int(t), dtype="int64"))) for t in steps])
    assert_rel(ours, keras_values, f"{name} learning rates", rtol=3e-7)
    assert ours.max() > ours.min() or name == "piecewise"
    back = mine.to_keras()
    assert type(back) is type(theirs) and back.get_config() == theirs.get_config()
    assert nn.schedules.from_keras(theirs).get_config() == mine.get_config()


def test_a_schedule_is_read_at_the_step_before_the_update():
    """Step t uses lr(iterations) with iterations = t - 1 before the update: lr(0), lr(1), ..."""
    opt = nn.SGD(nn.PiecewiseConstantDecay([0, 1], [1.0, 0.5, 0.25]))
    w = np.array([0.0])
    for _ in range(3):
        opt.apply_gradients([(np.array([1.0]), w)])
    assert w[0] == pytest.approx(-(1.0 + 0.5 + 0.25), rel=1e-12)
    assert opt.iterations == 3


def test_invalid_learning_rates_say_what_was_expected():
    for bad in ["0.1", -0.1, 0.0, float("nan"), None, True]:
        with pytest.raises(ValueError, match="learning_rate` should be a positive float, or an instance of "
                                             "LearningRateSchedule"):
            nn.SGD(bad)
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        nn.Adam(clipnorm=1.0, clipvalue=0.5)
    with pytest.raises(ValueError, match="`clipnorm` must be a positive number"):
        nn.RMSprop(clipnorm=-1.0)
    with pytest.raises(ValueError, match="weight_decay` must be a float"):
        nn.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="decay_steps` must be > 0"):
        nn.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5)
    with pytest.raises(ValueError, match="length of boundaries should be 1 less"):
        nn.PiecewiseConstantDecay([1, 2], [0.1, 0.2])


def test_clipping_by_hand():
    """Two weights with gradients [3, 4] (norm 5) and [12] (norm 12); global norm 13."""
    def step(**clip):
        a, b = np.zeros(2), np.zeros(1)
        nn.SGD(1.0, **clip).apply_gradients([(np.array([3.0, 4.0]), a), (np.array([12.0]), b)])
        return np.concatenate([a, b])
    np.testing.assert_allclose(step(clipnorm=1.0), [-0.6, -0.8, -1.0], rtol=1e-12)
    np.testing.assert_allclose(step(global_clipnorm=2.6), [-0.6, -0.8, -2.4], rtol=1e-12)
    np.testing.assert_allclose(step(clipvalue=3.5), [-3.0, -3.5, -3.5], rtol=1e-12)
    np.testing.assert_allclose(step(clipnorm=100.0), [-3.0, -4.0, -12.0], rtol=1e-12)


@pytest.mark.parametrize("make", [
    lambda: nn.RMSprop(0.01, rho=0.8, momentum=0.3, centered=True, clipnorm=2.0),
    lambda: nn.AdamW(0.003, weight_decay=0.01, amsgrad=True, global_clipnorm=1.0),
    lambda: nn.Adam(nn.CosineDecay(0.01, 100, warmup_target=0.1, warmup_steps=10), clipvalue=0.5),
    lambda: nn.SGD(nn.ExponentialDecay(0.1, 10, 0.9), momentum=0.9),
])
def test_to_keras_gives_the_same_optimizer(make):
    mine = make()
    theirs = mine.to_keras()
    config = theirs.get_config()
    for key, value in mine.get_config().items():
        if isinstance(value, nn.schedules.LearningRateSchedule):
            assert config[key]["class_name"] == value.keras_class and config[key]["config"] == value.get_config()
        else:
            assert config[key] == pytest.approx(value), key
    assert isinstance(nn.optimizers.get("rmsprop"), nn.RMSprop) and isinstance(nn.optimizers.get("adamw"), nn.AdamW)


# ------------------------------------------------------------ sample and class weights
STEPS = 10


def _twin_models(rng, output, units=3):
    model = nn.Sequential([nn.Dense(8, activation="tanh"), nn.Dense(units, activation=output)])
    model.build((None, 5))
    return model, nn.to_keras(model, dtype="float64")


def _assert_same_weights(model, keras_model, tol=1e-6):
    for i, (mine, theirs) in enumerate(zip(model.get_weights(), keras_model.get_weights())):
        assert_rel(mine, theirs, f"weight {i}", rtol=tol)


WEIGHTED = {
    # loss, output activation, how y is drawn, units
    "cce": ("categorical_crossentropy", "softmax", "onehot", 3),
    "sparse": ("sparse_categorical_crossentropy", "softmax", "labels", 3),
    "bce": ("binary_crossentropy", "sigmoid", "binary", 1),
    "mse": ("mse", None, "real", 2),
    "huber": ("huber", None, "real", 2),
}


def _keras_loss(name):
    return {"categorical_crossentropy": keras.losses.CategoricalCrossentropy,
            "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
            "binary_crossentropy": keras.losses.BinaryCrossentropy, "mse": keras.losses.MeanSquaredError,
            "huber": keras.losses.Huber}[name](dtype="float64")


@pytest.mark.parametrize("case,weighting", [(case, weighting) for case in WEIGHTED
                                            for weighting in ("sample_weight", "class_weight")
                                            if weighting == "sample_weight" or WEIGHTED[case][2] != "real"])
def test_train_on_batch_with_weights_follows_keras(case, weighting, rng):
    loss, output, kind, units = WEIGHTED[case]
    model, keras_model = _twin_models(rng, output, units)
    model.compile(optimizer=nn.Adam(0.02), loss=loss)
    keras_model.compile(optimizer=keras.optimizers.Adam(0.02), loss=_keras_loss(loss), jit_compile=False)
    start = model.get_weights()
    for _ in range(STEPS):
        x = rng.normal(size=(12, 5))
        y = _draw(kind, (12, units), rng)
        if weighting == "sample_weight":
            kwargs = {"sample_weight": rng.uniform(0.0, 3.0, size=12)}
        else:
            kwargs = {"class_weight": {0: 0.3, 1: 2.7, 2: 1.1}}   # 0.3, 2.7 and 1.1 are not float32 numbers
        model.train_on_batch(x, y, **kwargs)
        keras_model.train_on_batch(x, y, **kwargs)
    assert max(rel_error(a, b) for a, b in zip(model.get_weights(), start)) > 1e-2
    _assert_same_weights(model, keras_model)


def test_weights_change_the_step():
    """Weights of one change nothing; weight 0 drops an example but the loss is still divided by N
    (sum_over_batch_size): with plain SGD that step is 5/6 of the step on the other five examples."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 5)), np.eye(3)[rng.integers(0, 3, size=6)]
    steps = {}
    for label, (xs, ys, kwargs) in {"none": (x, y, {}), "ones": (x, y, {"sample_weight": np.ones(6)}),
                                    "drop": (x, y, {"sample_weight": np.r_[np.ones(5), 0.0]}),
                                    "five": (x[:5], y[:5], {})}.items():
        model = nn.Sequential([nn.Dense(3, activation="softmax", kernel_initializer="ones")])
        model.compile(optimizer=nn.SGD(0.1), loss="categorical_crossentropy")
        model.train_on_batch(xs, ys, **kwargs)
        steps[label] = model.get_weights()[0] - 1.0
    np.testing.assert_array_equal(steps["none"], steps["ones"])
    assert rel_error(steps["drop"], steps["five"] * 5 / 6) <= 1e-7   # (lr is float32: 1e-7)
    assert rel_error(steps["drop"], steps["none"]) > 1e-3


@pytest.mark.parametrize("weighting", ["sample_weight", "class_weight"])
def test_fit_with_weights_follows_keras(weighting, rng):
    model, keras_model = _twin_models(rng, "softmax")
    model.compile(optimizer=nn.SGD(0.1, momentum=0.5), loss="sparse_categorical_crossentropy")
    keras_model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.5),
                        loss=_keras_loss("sparse_categorical_crossentropy"), jit_compile=False)
    # Keras's fit() casts float64 arrays (x, y, sample_weight) to floatx (float32) before training; data that
    # float32 holds exactly keeps the comparison exact (train_on_batch does not cast).
    as_float32 = lambda a: a.astype(np.float32).astype(np.float64)   # noqa: E731
    x, y = as_float32(rng.normal(size=(40, 5))), rng.integers(0, 3, size=40)
    kwargs = ({"sample_weight": as_float32(rng.uniform(0.0, 2.0, size=40))} if weighting == "sample_weight"
              else {"class_weight": {0: 0.5, 2: 3.0}})
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, validation_split=0.25, **kwargs)
    keras_history = keras_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                                    validation_split=0.25, **kwargs)
    _assert_same_weights(model, keras_model)
    # (Keras's logged losses pass through float32 metric trackers, hence 1e-6)
    for key in ("loss", "val_loss"):
        assert_rel(np.array(history.history[key]), np.array(keras_history.history[key]), key, rtol=1e-6)


def test_evaluate_with_sample_weight_matches_keras(rng):
    model, keras_model = _twin_models(rng, None, units=2)
    model.compile(optimizer="sgd", loss="mae")
    keras_model.compile(optimizer="sgd", loss=keras.losses.MeanAbsoluteError(dtype="float64"))
    x, y, w = rng.normal(size=(30, 5)), rng.normal(size=(30, 2)), rng.uniform(0, 2, size=30)
    for batch_size in (None, 7):
        mine = model.evaluate(x, y, batch_size=batch_size, sample_weight=w)
        theirs = keras_model.evaluate(x, y, batch_size=batch_size or 32, sample_weight=w, verbose=0)
        assert mine == pytest.approx(theirs, rel=1e-6)
    assert model.evaluate(x, y, sample_weight=w) != pytest.approx(model.evaluate(x, y), rel=1e-3)


def test_weights_bad_input():
    model = nn.Sequential([nn.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = np.zeros((4, 3)), np.array([0, 1, 1, 0])
    with pytest.raises(ValueError, match="cannot be specified at the same time"):
        model.train_on_batch(x, y, sample_weight=np.ones(4), class_weight={0: 1.0})
    with pytest.raises(ValueError, match="one weight per example"):
        model.fit(x, y, sample_weight=np.ones(3), verbose=0)
    with pytest.raises(ValueError, match="class_weight must be a dict"):
        model.fit(x, y, class_weight=[1.0, 2.0], verbose=0)


def test_label_smoothing_trains_from_logits_like_keras(rng):
    model, keras_model = _twin_models(rng, "softmax")
    model.compile(optimizer=nn.SGD(0.2), loss=nn.CategoricalCrossentropy(label_smoothing=0.2))
    keras_model.compile(optimizer=keras.optimizers.SGD(0.2), jit_compile=False,
                        loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.2, dtype="float64"))
    for _ in range(STEPS):
        x, y = rng.normal(size=(8, 5)), np.eye(3)[rng.integers(0, 3, size=8)]
        model.train_on_batch(x, y)
        keras_model.train_on_batch(x, y)
    _assert_same_weights(model, keras_model)


# ------------------------------------------------------------------ activations
NEW_ACTIVATIONS = ["leaky_relu", "relu6", "elu", "selu", "celu", "gelu", "silu", "swish", "softplus", "softsign",
                   "log_sigmoid", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh", "mish", "exponential",
                   "squareplus", "soft_shrink", "hard_shrink", "tanh_shrink", "sparse_plus", "sparse_sigmoid",
                   "log_softmax"]


def _keras_forward_and_vjp(fn, z, da):
    z_t = tf.constant(z)
    with tf.GradientTape() as tape:
        tape.watch(z_t)
        a = fn(z_t)
        total = tf.reduce_sum(a * da)
    return np.asarray(a), np.asarray(tape.gradient(total, z_t))


# TensorFlow's float64 erfc (Eigen's) is accurate to ~3e-7 relative only (gelu(-1) = -0.15865525393145707;
# TensorFlow gives -0.158655258...), and both gelu forms cancel digits for z < 0 (erfc or 1 + tanh of a large
# negative number), where Eigen's and NumPy's last bits differ. So gelu is compared with Keras at 1e-6 relative,
# values below 5e-2 to 5e-8 absolute (TensorFlow's gelu'(-0.7515) = 1.09451e-4 is 5.6e-9 off), and the exact
# form (value and derivative) with math.erfc at 1e-12.
GELU_RTOL, GELU_FLOOR = 1e-6, 5e-2


def _check_activation(mine_forward, mine_backward, keras_fn, z, da, what, rtol=RTOL, floor=1e-8):
    a = mine_forward(z)
    a_k, dz_k = _keras_forward_and_vjp(keras_fn, z, da)
    assert_rel(a, a_k, f"{what} forward", rtol=rtol, floor=floor)
    assert_rel(mine_backward(z, a, da), dz_k, f"{what} VJP", rtol=rtol, floor=floor)


def test_every_keras_string_activation_is_here_or_refused():
    from keras.src.activations import ALL_OBJECTS_DICT
    for name in ALL_OBJECTS_DICT:
        if name in nn.activations.REFUSED:
            with pytest.raises(ValueError, match="not available as a layer activation"):
                nn.activations.get(name)
        else:
            assert nn.activations.get(name).keras_name is not None, name


@pytest.mark.parametrize("name", NEW_ACTIVATIONS)
def test_activation_forward_and_vjp_match_keras(name, rng):
    act = nn.activations.get(name)
    for _ in range(3):
        shape = tuple(int(d) for d in rng.integers(1, 6, size=rng.integers(1, 4)))
        z = rng.normal(scale=3.0, size=shape)    # covers the kinks at +-0.5, +-1, +-3 and 6 on both sides
        _check_activation(act.forward, act.backward, keras.activations.get(name), z, rng.normal(size=shape), name,
                          **({"rtol": GELU_RTOL, "floor": GELU_FLOOR} if name == "gelu" else {}))


def test_gelu_both_forms_match_keras(rng):
    z, da = rng.normal(scale=3.0, size=(4, 7)), rng.normal(size=(4, 7))
    for approximate in (False, True):
        _check_activation(lambda x: nn.activations.gelu(x, approximate),
                          lambda x, a, d: d * nn.activations.gelu_derivative(x, approximate),
                          lambda x: keras.activations.gelu(x, approximate=approximate), z, da,
                          f"gelu(approximate={approximate})", rtol=GELU_RTOL, floor=GELU_FLOOR)
    import math
    exact = np.array([0.5 * v * math.erfc(-v / math.sqrt(2)) for v in z.ravel()]).reshape(z.shape)
    assert_rel(nn.activations.gelu(z), exact, "gelu vs math.erfc", rtol=1e-12)
    exact_derivative = np.array([0.5 * math.erfc(-v / math.sqrt(2)) + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi)
                                 for v in z.ravel()]).reshape(z.shape)
    assert_rel(nn.activations.gelu_derivative(z), exact_derivative, "gelu' vs math.erfc", rtol=1e-12)
    # the string "gelu" is the exact (erf) form in Keras 3, and here
    np.testing.assert_array_equal(nn.activations.get("gelu")(z), nn.activations.gelu(z, approximate=False))


@pytest.mark.parametrize("name", NEW_ACTIVATIONS)
def test_activation_derivatives_match_finite_differences(name, rng):
    act = nn.activations.get(name)
    z = rng.normal(scale=3.0, size=(3, 5))
    z = z[np.all(np.abs(np.abs(z[..., None]) - np.array([0.5, 1.0, 3.0, 6.0])) > 1e-3, axis=(1, 2))] \
        if name != "log_softmax" else z      # away from the kinks
    da = rng.normal(size=z.shape)
    if name == "log_softmax":   # couples each row: the gradient of the sum, one element at a time
        numeric = numerical_gradient(lambda: float(np.sum(act.forward(z) * da)), z)
    else:   # element-wise: each element's own centred difference, not a difference of a sum of ~4000
        h = 1e-5
        numeric = (act.forward(z + h) - act.forward(z - h)) / (2 * h) * da
    analytic = act.backward(z, act.forward(z), da)
    # Each element within 1e-6 of its own size; centred differences are good to ~1e-10 absolute, so
    # derivatives below 1e-4 (e.g. gelu' near z = -0.75) are compared to that absolute floor.
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), 1e-4)
    assert np.max(np.abs(analytic - numeric) / scale) <= 1e-6


@pytest.mark.parametrize("name", NEW_ACTIVATIONS)
def test_activations_are_stable_at_large_inputs(name):
    z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]])
    act = nn.activations.get(name)
    # (underflow to 0 is the right answer, e.g. e^-1e4; overflow, NaN and division by zero are errors)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        a = act.forward(z)
        dz = act.backward(z, a, np.ones_like(z))
    assert not np.isnan(a).any() and not np.isnan(dz).any()
    a_k, dz_k = _keras_forward_and_vjp(keras.activations.get(name), z, np.ones_like(z))
    rtol = GELU_RTOL if name == "gelu" else RTOL
    np.testing.assert_allclose(a, a_k, rtol=rtol, atol=1e-12)   # inf for exponential, as Keras
    np.testing.assert_allclose(dz, dz_k, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("name", NEW_ACTIVATIONS)
def test_dense_with_the_activation_converts_both_ways(name, rng):
    layer = nn.Dense(4, activation=name)
    x = rng.normal(size=(3, 5))
    y = layer.forward(x)
    keras_layer = nn.to_keras(layer)
    assert keras_layer.get_config()["activation"] == nn.activations.get(name).keras_name
    assert_rel(np.asarray(keras_layer(x)), y, f"Dense({name}) in Keras", rtol=GELU_RTOL if name == "gelu" else RTOL)
    twin = nn.from_keras(keras.layers.Dense(4, activation=name, dtype="float64"))
    assert twin.activation is nn.activations.get(name)


def test_refused_and_unknown_activations_say_why():
    with pytest.raises(ValueError, match="halves the last axis"):
        nn.Dense(4, activation="glu")
    with pytest.raises(ValueError, match="Unknown activation 'relu7'.*'swish'"):
        nn.Dense(4, activation="relu7")
