"""course_utils.keras_steps: one custom training step for every Keras backend.

Run on the active backend (TensorFlow in CI jobs 1 and 2, JAX in job 3): the gradients are the
analytic ones, and a model trained by `fit` through `CustomStepModel` + `minimize` ends at the
same weights - trainable, BatchNormalization's moving statistics, the optimizer's state - as the
same model trained by Keras's own `fit`.
"""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
from helpers import FLOAT64_ONLY  # noqa: E402

from course_utils import keras_steps  # noqa: E402


def test_gradients_are_the_analytic_ones():
    w = keras.Variable(np.array([[1.0, -2.0], [0.5, 3.0]], dtype="float32"))
    b = keras.Variable(np.array([0.25, -1.0], dtype="float32"))
    x = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, 1.0]], dtype="float32")

    def loss():   # mean over the batch of sum((x w + b)^2)
        y = keras.ops.matmul(x, w) + b
        return keras.ops.mean(keras.ops.sum(y * y, axis=1)), y

    (value, y), (dw, db) = keras_steps.gradients(loss, [w, b])
    y_np = x @ np.asarray(w.numpy()) + np.asarray(b.numpy())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(y), y_np, rtol=1e-6)
    np.testing.assert_allclose(float(value), np.mean(np.sum(y_np ** 2, axis=1)), rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(dw), 2 * x.T @ y_np / len(x), rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(db), 2 * y_np.sum(axis=0) / len(x), rtol=1e-5)


def _network(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(8), keras.layers.BatchNormalization(),
                             keras.layers.Activation("tanh"), keras.layers.Dense(1)])


class _Regressor(keras_steps.CustomStepModel):
    """Mean squared error on one network, its optimizer attached (not the one given to compile)."""

    def __init__(self, network):
        super().__init__()
        self.network = network
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def compile(self, optimizer, **kwargs):
        super().compile(**kwargs)
        self.network_optimizer = self.attach_optimizer(optimizer, self.network.trainable_weights)

    @property
    def metrics(self):
        return [self.loss_tracker]

    def custom_train_step(self, data):
        x, y = data

        def loss():
            return keras.ops.mean(keras.ops.square(self.network(x, training=True) - y))

        self.loss_tracker.update_state(keras_steps.minimize(self.network_optimizer, loss,
                                                            self.network.trainable_weights))
        return {"loss": self.loss_tracker.result()}


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason=FLOAT64_ONLY)
def test_fit_through_a_custom_step_equals_keras_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 5)).astype("float32")
    y = (x @ rng.normal(size=(5, 1)) + 0.1 * rng.normal(size=(96, 1))).astype("float32")

    reference = _network(1)
    reference.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    reference_history = reference.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)

    custom = _Regressor(_network(1))
    optimizer = keras.optimizers.Adam(0.01)
    custom.compile(optimizer, steps_per_execution=2)
    custom_history = custom.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)

    names = [w.path for w in reference.weights]
    assert any("moving_mean" in name for name in names)          # the non-trainable updates are checked
    for name, mine, theirs in zip(names, custom.network.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5, err_msg=name)
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 3 * 6   # its state went along
    np.testing.assert_allclose(custom_history.history["loss"], reference_history.history["loss"], rtol=1e-4)
    # and training did something: the weights moved away from their start
    assert not np.allclose(custom.network.get_weights()[0], _network(1).get_weights()[0])


def test_steps_per_execution_is_what_the_backend_accepts():
    # PyTorch's trainer refuses steps_per_execution > 1; TensorFlow and JAX run that many steps per call
    steps = keras_steps.steps_per_execution(20)
    assert steps == (1 if keras.backend.backend() == "torch" else 20)
    for bad in (0, -3, 2.0, True, "20"):
        with pytest.raises(ValueError, match="expected a positive int.*received"):
            keras_steps.steps_per_execution(bad)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)).astype("float32")
    custom = _Regressor(_network(1))
    custom.compile(keras.optimizers.Adam(0.01), steps_per_execution=steps)
    history = custom.fit(x, x[:, :1], batch_size=8, epochs=1, verbose=0)   # Keras accepts it and trains
    assert np.isfinite(history.history["loss"][-1])
