"""course_utils.gan against Keras/TensorFlow (float64) and against finite differences.

- The losses equal keras.losses.BinaryCrossentropy(dtype="float64") on the same outputs (<= 1e-12
  relative) and their gradients equal centred differences (<= 1e-7 relative).
- The gradient that flows from the discriminator's output back into the generator (dL/dG(z)) and
  the generator's and discriminator's weight gradients equal centred differences (<= 1e-6).
- One full adversarial step (discriminator update, then generator update), and a few steps, of the
  NumPy GAN and of a keras.Model subclass with a custom train_step (run through fit, so compiled
  with tf.function), from the same weights and the same noise, end at the same weights:
  rel_error <= 1e-6 (measured ~1e-15), and the updates agree to 1e-6 of the largest update.
"""
import numpy as np
import pytest

from course_utils import gan, nn
from course_utils.gradcheck import numerical_gradient, rel_error

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")


# --------------------------------------------------------------------------- the Keras reference
class KerasGAN(keras.Model):
    """The Keras side: a keras.Model whose train_step does the same two updates as gan.GAN.train_step.

    data = (real_batch, noise): the discriminator step uses G(noise), the generator step G(noise)
    again (the same noise, as gan.GAN.train_step with generator_noise=None).
    """

    def __init__(self, generator, discriminator, from_logits=True, generator_loss="non_saturating", **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.generator_loss_kind = generator_loss
        self.bce = keras.losses.BinaryCrossentropy(from_logits=from_logits, dtype="float64")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss", dtype="float64")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss", dtype="float64")

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def train_step(self, data):
        real, noise, _ = keras.utils.unpack_x_y_sample_weight(data)
        n_real = tf.shape(real)[0]
        # (a) the discriminator learns to tell real (1) from fake (0); the generator is frozen
        fake = self.generator(noise, training=True)
        with tf.GradientTape() as tape:
            out = self.discriminator(tf.concat([real, fake], axis=0), training=True)
            labels = tf.concat([tf.ones_like(out[:n_real]), tf.zeros_like(out[n_real:])], axis=0)
            d_loss = self.bce(labels, out) + tf.add_n([tf.constant(0.0, "float64")] + self.discriminator.losses)
        d_weights = self.discriminator.trainable_weights
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_weights), d_weights))
        # (b) the generator learns to fool the updated discriminator; only G's weights change
        with tf.GradientTape() as tape:
            s = self.discriminator(self.generator(noise, training=True), training=True)
            if self.generator_loss_kind == "non_saturating":
                g_loss = self.bce(tf.ones_like(s), s)
            else:
                g_loss = -self.bce(tf.zeros_like(s), s)
            g_loss = g_loss + tf.add_n([tf.constant(0.0, "float64")] + self.generator.losses)
        g_weights = self.generator.trainable_weights
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_weights), g_weights))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def _bce(from_logits):
    return keras.losses.BinaryCrossentropy(from_logits=from_logits, dtype="float64")


def _logits_or_probs(rng, n, from_logits):
    s = rng.normal(0, 2, size=(n, 1))
    return s if from_logits else nn.activations.sigmoid(s)


# ---------------------------------------------------------------------------------------- losses
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("trial", range(4))
def test_losses_match_keras(rng, from_logits, trial):
    n_real, n_fake = rng.integers(1, 40, size=2)
    d_real = _logits_or_probs(rng, n_real, from_logits)
    d_fake = _logits_or_probs(rng, n_fake, from_logits)
    bce = _bce(from_logits)
    keras_d = float(bce(np.concatenate([np.ones((n_real, 1)), np.zeros((n_fake, 1))]),
                        np.concatenate([d_real, d_fake])))
    keras_ns = float(bce(np.ones((n_fake, 1)), d_fake))
    keras_mm = -float(bce(np.zeros((n_fake, 1)), d_fake))
    for name, mine, theirs in [("discriminator_loss", gan.discriminator_loss(d_real, d_fake, from_logits), keras_d),
                               ("non-saturating", gan.generator_loss_nonsaturating(d_fake, from_logits), keras_ns),
                               ("minimax", gan.generator_loss_minimax(d_fake, from_logits), keras_mm)]:
        assert rel_error(mine, theirs) <= 1e-12, f"{name}: mine {mine!r} vs Keras {theirs!r}"


def test_losses_closed_form():
    """From logits s: L_D = mean(softplus(-s_real) ++ softplus(s_fake)); non-saturating mean softplus(-s);
    minimax -mean softplus(s). Known values at s = 0: log 2, log 2, -log 2."""
    s = np.zeros((5, 1))
    assert abs(gan.discriminator_loss(s, s) - np.log(2)) < 1e-15
    assert abs(gan.generator_loss_nonsaturating(s) - np.log(2)) < 1e-15
    assert abs(gan.generator_loss_minimax(s) + np.log(2)) < 1e-15
    s_real, s_fake = np.array([[1.0], [-2.0]]), np.array([[0.5]])
    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731
    expected = (softplus(-1.0) + softplus(2.0) + softplus(0.5)) / 3
    assert abs(gan.discriminator_loss(s_real, s_fake) - expected) < 1e-14, (gan.discriminator_loss(s_real, s_fake),
                                                                           expected)


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("trial", range(3))
def test_loss_gradients_match_finite_differences(rng, from_logits, trial):
    n_real, n_fake = rng.integers(1, 12, size=2)
    d_real = _logits_or_probs(rng, n_real, from_logits)
    d_fake = _logits_or_probs(rng, n_fake, from_logits)
    if not from_logits:   # keep the probabilities away from Keras's clip at 1e-7 and from 0/1
        d_real, d_fake = np.clip(d_real, 0.05, 0.95), np.clip(d_fake, 0.05, 0.95)
    g_real, g_fake = gan.discriminator_loss_gradients(d_real, d_fake, from_logits)
    num_real = numerical_gradient(lambda: gan.discriminator_loss(d_real, d_fake, from_logits), d_real)
    num_fake = numerical_gradient(lambda: gan.discriminator_loss(d_real, d_fake, from_logits), d_fake)
    assert rel_error(g_real, num_real) <= 1e-7, f"dL_D/d_real mine {g_real.ravel()} vs numeric {num_real.ravel()}"
    assert rel_error(g_fake, num_fake) <= 1e-7, f"dL_D/d_fake mine {g_fake.ravel()} vs numeric {num_fake.ravel()}"
    for kind in gan.GENERATOR_LOSSES:
        mine = gan.generator_loss_gradient(d_fake, from_logits, kind)
        numeric = numerical_gradient(lambda: gan.generator_loss(d_fake, from_logits, kind), d_fake)
        assert rel_error(mine, numeric) <= 1e-7, f"{kind}: mine {mine.ravel()} vs numeric {numeric.ravel()}"


def test_minimax_saturates_where_nonsaturating_does_not():
    """When D confidently rejects the fakes (logit s = -10, D = 4.5e-5), the minimax gradient is
    -sigmoid(s)/N ~ -4.5e-5/N while the non-saturating one is (sigmoid(s) - 1)/N ~ -1/N."""
    s = np.full((4, 1), -10.0)
    minimax = gan.generator_loss_gradient(s, kind="minimax")
    nonsat = gan.generator_loss_gradient(s, kind="non_saturating")
    sig = 1 / (1 + np.exp(10.0))
    np.testing.assert_allclose(minimax, -sig / 4, rtol=1e-12)
    np.testing.assert_allclose(nonsat, (sig - 1) / 4, rtol=1e-12)
    assert np.all(np.abs(nonsat) > 1e4 * np.abs(minimax))


# -------------------------------------------------------------------------- gradients through D
def _small_gan(rng, latent_dim=3, data_dim=2, from_logits=True, kind="non_saturating", regularized=False,
               d_optimizer=None, g_optimizer=None):
    g_hidden = tuple(int(u) for u in rng.integers(3, 7, size=2))
    d_hidden = tuple(int(u) for u in rng.integers(3, 7, size=2))
    generator = gan.make_generator(latent_dim, data_dim, g_hidden, activation="tanh")
    discriminator = gan.make_discriminator(data_dim, d_hidden, activation="relu", from_logits=from_logits)
    if regularized:   # an L2 penalty on one kernel of each network: it belongs to each one's loss
        generator.layers[0].kernel_regularizer = nn.L2(0.01)
        discriminator.layers[1].kernel_regularizer = nn.L2(0.02)
    for net in (generator, discriminator):   # random (not Glorot) weights and biases
        net.set_weights([rng.normal(0, 0.7, size=w.shape) for w in net.get_weights()])
    return gan.GAN(generator, discriminator, d_optimizer or nn.SGD(0.125), g_optimizer or nn.SGD(0.125),
                   from_logits=from_logits, generator_loss=kind)


@pytest.mark.parametrize("from_logits,kind,regularized", [(True, "non_saturating", False), (True, "minimax", True),
                                                          (False, "non_saturating", True), (False, "minimax", False)])
def test_gradient_into_generator_matches_finite_differences(rng, from_logits, kind, regularized):
    model = _small_gan(rng, from_logits=from_logits, kind=kind, regularized=regularized)
    noise = rng.normal(size=(int(rng.integers(2, 9)), model.latent_dim))
    g_loss, fake_grad, g_grads = model.generator_gradients(noise)
    fake = model.generate(noise)

    def loss_of_fake():   # L_G as a function of the generated samples alone (D fixed)
        return gan.generator_loss(model.discriminator.forward(fake), from_logits, kind)
    numeric_fake = numerical_gradient(loss_of_fake, fake)
    assert rel_error(fake_grad, numeric_fake) <= 1e-6, f"dL/dG(z) mine {fake_grad} vs numeric {numeric_fake}"

    def loss_of_generator():
        out = model.discriminator.forward(model.generator.forward(noise))
        return gan.generator_loss(out, from_logits, kind) + model.generator.regularization_loss()
    assert abs(g_loss - loss_of_generator()) <= 1e-12 * abs(g_loss)
    for name, w, g in zip(model.generator.weight_names, model.generator.trainable_weights, g_grads):
        numeric = numerical_gradient(loss_of_generator, w)
        assert rel_error(g, numeric) <= 1e-6, f"generator {name}: mine {g.ravel()[:4]} vs numeric {numeric.ravel()[:4]}"


@pytest.mark.parametrize("from_logits,regularized", [(True, True), (False, False)])
def test_discriminator_gradients_match_finite_differences(rng, from_logits, regularized):
    model = _small_gan(rng, from_logits=from_logits, regularized=regularized)
    real = rng.normal(size=(int(rng.integers(2, 8)), 2))
    noise = rng.normal(size=(int(rng.integers(2, 8)), model.latent_dim))
    d_loss, d_grads = model.discriminator_gradients(real, noise)
    fake = model.generate(noise)

    def loss():
        out = model.discriminator.forward(np.concatenate([real, fake]))
        return (gan.discriminator_loss(out[:len(real)], out[len(real):], from_logits)
                + model.discriminator.regularization_loss())
    assert abs(d_loss - loss()) <= 1e-12 * abs(d_loss)
    for name, w, g in zip(model.discriminator.weight_names, model.discriminator.trainable_weights, d_grads):
        numeric = numerical_gradient(loss, w)
        assert rel_error(g, numeric) <= 1e-6, \
            f"discriminator {name}: mine {g.ravel()[:4]} vs numeric {numeric.ravel()[:4]}"


def test_train_step_leaves_the_other_network_alone(rng):
    """(a) changes only D, (b) only G: check by running the two halves by hand (plain SGD, lr 0.125:
    exact in float32, the precision in which Keras, and so nn.SGD, holds the learning rate)."""
    model = _small_gan(rng)
    real, noise = rng.normal(size=(6, 2)), rng.normal(size=(6, model.latent_dim))
    g_before, d_before = model.generator.get_weights(), model.discriminator.get_weights()
    _, d_grads = model.discriminator_gradients(real, noise)
    d_after = [w - 0.125 * g for w, g in zip(d_before, d_grads)]
    model.discriminator.set_weights(d_after)
    _, _, g_grads = model.generator_gradients(noise)
    g_after = [w - 0.125 * g for w, g in zip(g_before, g_grads)]
    model.generator.set_weights(g_before)
    model.discriminator.set_weights(d_before)
    model.train_step(real, noise)
    for mine, expected in zip(model.discriminator.get_weights() + model.generator.get_weights(), d_after + g_after):
        # equal up to round-off (BLAS may round differently from call to call)
        np.testing.assert_allclose(mine, expected, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------- one step: NumPy vs Keras
OPTIMIZERS = {
    "sgd": lambda: nn.SGD(0.05),
    "sgd_momentum": lambda: nn.SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: nn.Adam(2e-3, beta_1=0.5),
}


@pytest.mark.parametrize("optimizer,steps,from_logits,kind", [
    ("sgd", 1, True, "non_saturating"),
    ("adam", 1, True, "non_saturating"),
    ("sgd", 4, True, "minimax"),
    ("adam", 4, False, "non_saturating"),
    ("sgd_momentum", 3, False, "minimax"),
    ("adam", 3, True, "minimax"),
])
def test_adversarial_steps_match_keras(rng, optimizer, steps, from_logits, kind):
    latent_dim, data_dim, batch = int(rng.integers(2, 6)), int(rng.integers(2, 5)), int(rng.integers(4, 17))
    model = _small_gan(rng, latent_dim, data_dim, from_logits=from_logits, kind=kind,
                       regularized=(optimizer == "sgd_momentum"),
                       d_optimizer=OPTIMIZERS[optimizer](), g_optimizer=OPTIMIZERS[optimizer]())
    keras_gan = KerasGAN(nn.to_keras(model.generator, dtype="float64"),
                         nn.to_keras(model.discriminator, dtype="float64"),
                         from_logits=from_logits, generator_loss=kind)
    # jit_compile=False: tf.function without XLA (XLA agrees too, but compiles for seconds per model)
    keras_gan.compile(d_optimizer=model.d_optimizer.to_keras(), g_optimizer=model.g_optimizer.to_keras(),
                      jit_compile=False)
    before = model.generator.get_weights() + model.discriminator.get_weights()
    real = rng.normal(size=(steps * batch, data_dim))
    noise = rng.normal(size=(steps * batch, latent_dim))

    # Keras: fit on `steps` batches in order (train_step compiled by fit), each (real, noise); a
    # tf.data.Dataset keeps them float64 (fit would cast NumPy arrays to float32)
    batches = tf.data.Dataset.from_tensor_slices((real, noise)).batch(batch)
    history = keras_gan.fit(batches, epochs=1, shuffle=False, verbose=0)
    # NumPy: the same batches, the same noise
    d_losses, g_losses = [], []
    for i in range(steps):
        logs = model.train_step(real[i * batch:(i + 1) * batch], noise[i * batch:(i + 1) * batch])
        d_losses.append(logs["d_loss"])
        g_losses.append(logs["g_loss"])

    mine = model.generator.get_weights() + model.discriminator.get_weights()
    theirs = keras_gan.generator.get_weights() + keras_gan.discriminator.get_weights()
    names = [f"generator/{n}" for n in model.generator.weight_names] + \
            [f"discriminator/{n}" for n in model.discriminator.weight_names]
    for name, w0, w_np, w_k in zip(names, before, mine, theirs):
        assert rel_error(w_np, w_k) <= 1e-6, \
            f"{name} after {steps} step(s): NumPy {w_np.ravel()[:4]} vs Keras {w_k.ravel()[:4]}"
        update_np, update_k = w_np - w0, w_k - w0
        scale = np.max(np.abs(update_k))
        assert scale > 0, f"{name} did not change in Keras"
        assert np.max(np.abs(update_np - update_k)) <= 1e-6 * scale, \
            f"{name} update: NumPy {update_np.ravel()[:4]} vs Keras {update_k.ravel()[:4]}"
    for key, ours in (("d_loss", d_losses), ("g_loss", g_losses)):   # fit reports the mean over the steps
        assert rel_error(np.mean(ours), history.history[key][-1]) <= 1e-10, \
            f"{key}: NumPy {np.mean(ours)} vs Keras {history.history[key][-1]}"


def test_eager_train_step_matches_keras(rng):
    """The same check through keras_model.train_step called directly (eager), Adam, one step, and
    generator_noise given explicitly equal to noise."""
    model = _small_gan(rng, 4, 3, d_optimizer=nn.Adam(1e-3), g_optimizer=nn.Adam(5e-3, beta_1=0.5))
    keras_gan = KerasGAN(nn.to_keras(model.generator, dtype="float64"),
                         nn.to_keras(model.discriminator, dtype="float64"))
    keras_gan.compile(d_optimizer=model.d_optimizer.to_keras(), g_optimizer=model.g_optimizer.to_keras())
    real, noise = rng.normal(size=(9, 3)), rng.normal(size=(9, 4))
    logs_k = keras_gan.train_step((tf.constant(real), tf.constant(noise)))
    logs = model.train_step(real, noise, generator_noise=noise.copy())
    for key in ("d_loss", "g_loss"):
        assert rel_error(logs[key], float(logs_k[key])) <= 1e-12, \
            f"{key}: NumPy {logs[key]} vs Keras {float(logs_k[key])}"
    for w_np, w_k in zip(model.generator.get_weights() + model.discriminator.get_weights(),
                         keras_gan.generator.get_weights() + keras_gan.discriminator.get_weights()):
        assert rel_error(w_np, w_k) <= 1e-6


def test_separate_generator_noise_is_used_for_the_generator_step(rng):
    """generator_noise changes step (b) only: D ends the same, G differently."""
    a, b = _small_gan(np.random.default_rng(7)), _small_gan(np.random.default_rng(7))
    real, noise = rng.normal(size=(5, 2)), rng.normal(size=(5, a.latent_dim))
    a.train_step(real, noise)
    b.train_step(real, noise, generator_noise=rng.normal(size=(5, a.latent_dim)))
    for w_a, w_b in zip(a.discriminator.get_weights(), b.discriminator.get_weights()):
        np.testing.assert_allclose(w_a, w_b, rtol=1e-13, atol=1e-15)
    g_differences = [np.max(np.abs(w_a - w_b))
                     for w_a, w_b in zip(a.generator.get_weights(), b.generator.get_weights())]
    assert max(g_differences) > 1e-6


# ------------------------------------------------------------------------------------------ data
def test_ring_of_gaussians_known_values():
    centers = gan.ring_centers(8, 2.0)
    np.testing.assert_allclose(centers[0], [2.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(centers[2], [0.0, 2.0], atol=1e-15)
    np.testing.assert_allclose(centers[7], [np.sqrt(2), -np.sqrt(2)], atol=1e-15)
    u = np.array([0.0, 0.1249, 0.125, 0.99])
    normal = np.array([[0.0, 0.0], [1.0, -1.0], [0.0, 0.0], [2.0, 0.0]])
    samples = gan.sample_ring_of_gaussians(u, normal, std=0.1)
    expected = np.array([centers[0], centers[0] + [0.1, -0.1], centers[1], centers[7] + [0.2, 0.0]])
    np.testing.assert_allclose(samples, expected, atol=1e-15)


def test_mode_counts_and_coverage():
    centers = gan.ring_centers()
    rng = np.random.default_rng(0)
    samples = gan.ring_of_gaussians(4000, rng, std=0.02)
    counts = gan.mode_counts(samples, centers, radius=0.06)
    assert counts.sum() >= 0.985 * 4000 and counts.min() >= 400, counts   # 3 std holds 1 - exp(-4.5) = 98.9% in 2-D
    assert gan.mode_coverage(samples, centers, 0.06) == 8
    one_mode = np.tile(centers[3], (100, 1)) + 0.01
    assert gan.mode_coverage(one_mode, centers, 0.06) == 1
    # 3 samples per mode out of 100: 3 < 0.25 * 100 / 8 = 3.125 -> not a fair share
    sparse = np.concatenate([np.repeat(centers, 3, axis=0), np.zeros((76, 2))])
    np.testing.assert_array_equal(gan.mode_counts(sparse, centers, 0.06), np.full(8, 3))
    assert gan.mode_coverage(sparse, centers, 0.06) == 0
    assert gan.mode_coverage(sparse, centers, 0.06, min_share=0.2) == 8


# ------------------------------------------------------------------------------------ bad input
def test_bad_input_errors(rng):
    model = _small_gan(rng)
    with pytest.raises(ValueError, match=r"noise must have shape \(N, 3\).*received shape \(4, 2\)"):
        model.train_step(rng.normal(size=(4, 2)), rng.normal(size=(4, 2)))
    with pytest.raises(ValueError, match=r"real_batch must have shape \(N, 2\).*received shape \(4, 3\)"):
        model.train_step(rng.normal(size=(4, 3)), rng.normal(size=(4, 3)))
    with pytest.raises(ValueError, match=r"generator_noise must have shape"):
        model.train_step(rng.normal(size=(4, 2)), rng.normal(size=(4, 3)), generator_noise=np.zeros((4, 5)))
    with pytest.raises(ValueError, match="NaN or inf"):
        model.train_step(np.full((4, 2), np.nan), rng.normal(size=(4, 3)))
    with pytest.raises(TypeError, match="numeric NumPy array"):
        model.generate("noise")
    with pytest.raises(ValueError, match="from_logits=True"):
        gan.discriminator_loss(np.array([[2.0]]), np.array([[0.5]]), from_logits=False)
    with pytest.raises(ValueError, match=r"shape \(N, 1\) or \(N,\)"):
        gan.generator_loss(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="generator loss must be one of"):
        gan.generator_loss(np.zeros((4, 1)), kind="wasserstein")
    with pytest.raises(TypeError, match="numeric array"):
        gan.discriminator_loss(np.array([["a"]]), np.zeros((1, 1)))
    g, d = gan.make_generator(3, 5), gan.make_discriminator(2)
    with pytest.raises(ValueError, match="samples of size 5 but the discriminator expects inputs of size 2"):
        gan.GAN(g, d, nn.SGD(), nn.SGD())
    with pytest.raises(ValueError, match="one optimizer each"):
        opt = nn.SGD()
        gan.GAN(gan.make_generator(3, 2), d, opt, opt)
    with pytest.raises(ValueError, match="one number per sample"):
        gan.GAN(gan.make_generator(3, 2), _built(nn.Sequential([nn.Dense(2)]), 2), nn.SGD(), nn.SGD())
    with pytest.raises(ValueError, match="not built"):
        gan.GAN(nn.Sequential([nn.Dense(2)]), d, nn.SGD(), nn.SGD())
    with pytest.raises(TypeError, match="course_utils.nn Sequential"):
        gan.GAN(keras.Sequential([keras.layers.Dense(2)]), d, nn.SGD(), nn.SGD())
    with pytest.raises(ValueError, match=r"u uniform in \[0, 1\)"):
        gan.sample_ring_of_gaussians(np.array([1.0]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"normal of shape \(N, 2\)"):
        gan.sample_ring_of_gaussians(np.array([0.5]), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"samples as a numeric array of shape \(N, 2\)"):
        gan.mode_coverage(np.zeros(5), gan.ring_centers(), 0.1)


def _built(model, input_dim):
    model.build((None, input_dim))
    return model
