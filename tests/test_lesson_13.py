"""Lesson 13 (diffusion): course_utils.diffusion against the closed forms of the forward and reverse
processes, and the NumPy denoiser, training step and sampler against Keras.

Tolerances: the closed-form identities hold to 1e-12 (float64 round-off over <= 100 products); Monte Carlo
moments to 5 standard errors; NumPy vs Keras 1e-7 on TensorFlow (float64), the float32 rule elsewhere
(keras_rtol(): 1e-5 relative to the quantity's scale; the 20-step samplers 1e-4, see the test).
"""
import numpy as np
import pytest

from course_utils import diffusion as dm
from course_utils import nn
from course_utils.compare.report import scaled_error
from course_utils.exercises import lesson_13_diffusion as lesson

keras = pytest.importorskip("keras")
from helpers import keras_rtol, to_numpy  # noqa: E402


@pytest.mark.parametrize("schedule", dm.SCHEDULES)
def test_schedules_alpha_bar_and_snr(schedule):
    T = 50
    betas = dm.betas_for(schedule, T)
    alpha_bar = dm.alpha_bar_of(betas)
    assert betas.shape == (T,) and np.all((betas > 0) & (betas < 1))
    assert np.all(np.diff(alpha_bar) < 0) and alpha_bar[0] > 0.98 and alpha_bar[-1] < 0.01
    assert np.all(np.diff(dm.snr(alpha_bar)) < 0)
    if schedule == "cosine":   # the betas give back the closed-form alpha_bar (the last beta is clipped)
        assert np.max(np.abs(alpha_bar[:-1] - dm.cosine_alpha_bar(T)[:-1])) <= 1e-12
    else:
        assert np.allclose(betas[[0, -1]], [1e-4 * 1000 / T, 0.02 * 1000 / T], rtol=1e-12)


@pytest.mark.parametrize("schedule", dm.SCHEDULES)
def test_q_sample_is_the_forward_chain_in_closed_form(schedule, rng):
    """x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) e_t, step by step, has mean sqrt(alpha_bar_t) x0 and
    variance 1 - alpha_bar_t exactly (recursions); q_sample draws with those moments (5 standard errors)."""
    betas = dm.betas_for(schedule, 30)
    alpha_bar = dm.alpha_bar_of(betas)
    mean_coefficient, variance = 1.0, 0.0
    for t, beta in enumerate(betas):
        mean_coefficient, variance = np.sqrt(1 - beta) * mean_coefficient, (1 - beta) * variance + beta
        assert abs(mean_coefficient - np.sqrt(alpha_bar[t])) <= 1e-12 and abs(variance - (1 - alpha_bar[t])) <= 1e-12
    n, x0 = 40000, np.array([[1.5, -0.5]])
    t = np.full(n, 12)
    draws = dm.q_sample(np.repeat(x0, n, 0), t, rng.standard_normal((n, 2)), alpha_bar)
    std = np.sqrt(1 - alpha_bar[12])
    assert np.all(np.abs(draws.mean(0) - np.sqrt(alpha_bar[12]) * x0[0]) <= 5 * std / np.sqrt(n))
    assert np.all(np.abs(draws.var(0) - std ** 2) <= 5 * std ** 2 * np.sqrt(2 / n))


def test_ddpm_step_mean_is_the_posterior_mean(rng):
    """With the true noise, the DDPM mean is the mean of q(x_{t-1} | x_t, x0) (Ho et al. eq. 7), and the
    added variance is the posterior's; at t = 0 nothing is added."""
    betas = dm.cosine_betas(25)
    alpha_bar = dm.alpha_bar_of(betas)
    x0, noise = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    for t in (0, 1, 13, 24):
        x_t = dm.q_sample(x0, np.full(5, t), noise, alpha_bar)
        prev = alpha_bar[t - 1] if t else 1.0
        posterior_mean = (np.sqrt(prev) * betas[t] * x0 + np.sqrt(1 - betas[t]) * (1 - prev) * x_t) / (1 - alpha_bar[t])
        mean = dm.ddpm_step(x_t, t, noise, betas, np.zeros_like(x_t))
        assert np.max(np.abs(mean - posterior_mean)) <= 1e-12
        z = rng.normal(size=x_t.shape)
        sigma = np.sqrt(betas[t] * (1 - prev) / (1 - alpha_bar[t]))
        assert np.max(np.abs(dm.ddpm_step(x_t, t, noise, betas, z) - (mean + sigma * z))) <= 1e-12
        assert t or sigma == 0.0


def test_ddim_step_with_the_true_noise_stays_on_the_forward_path(rng):
    """With eps_hat = the noise that made x_t, a DDIM step to s gives q_sample(x0, s, the same noise); to
    s = -1 it gives x0."""
    alpha_bar = dm.alpha_bar_of(dm.linear_betas(40))
    x0, noise = rng.normal(size=(4, 2, 3)), rng.normal(size=(4, 2, 3))
    x_t = dm.q_sample(x0, np.full(4, 33), noise, alpha_bar)
    for s in (32, 20, 0):
        assert np.max(np.abs(dm.ddim_step(x_t, 33, s, noise, alpha_bar) - dm.q_sample(x0, np.full(4, s), noise, alpha_bar))) <= 1e-12
    assert np.max(np.abs(dm.ddim_step(x_t, 33, -1, noise, alpha_bar) - x0)) <= 1e-12


def test_ddim_timesteps():
    for T, n in [(100, 10), (100, 100), (7, 3), (50, 1)]:
        steps = dm.ddim_timesteps(T, n)
        assert len(steps) == n and steps[0] == T - 1 and (steps[-1] == 0 or n == 1)
        assert np.all(np.diff(steps) < 0)


def test_time_embedding_reads_lesson_11s_encoding():
    t = np.array([0, 5, 19])
    assert np.array_equal(dm.time_embedding(t, 8, 20), nn.positional_encoding(20, 8)[t])


def test_exercise_references_are_the_library():
    rng = np.random.default_rng(3)
    betas = dm.linear_betas(10)
    alpha_bar = dm.alpha_bar_of(betas)
    x, e, z, t = rng.normal(size=(3, 2)), rng.normal(size=(3, 2)), rng.normal(size=(3, 2)), np.array([0, 4, 9])
    assert np.array_equal(lesson.q_sample(x, t, e, alpha_bar), dm.q_sample(x, t, e, alpha_bar))
    assert np.array_equal(lesson.ddpm_step(x, 4, e, betas, z), dm.ddpm_step(x, 4, e, betas, z))
    assert np.array_equal(lesson.ddim_step(x, 4, 1, e, alpha_bar), dm.ddim_step(x, 4, 1, e, alpha_bar))


@pytest.mark.parametrize("call, message", [
    (lambda: dm.q_sample(np.zeros((3, 2)), np.array([0, 1, 10]), np.zeros((3, 2)), np.ones(10) * 0.5), "0..9"),
    (lambda: dm.q_sample(np.zeros((3, 2)), np.array([0.0, 1, 2]), np.zeros((3, 2)), np.ones(10) * 0.5), "integer"),
    (lambda: dm.ddpm_step(np.zeros((3, 2)), 10, np.zeros((3, 2)), dm.linear_betas(10), np.zeros((3, 2))), "t=10"),
    (lambda: dm.ddim_step(np.zeros((3, 2)), 4, 4, np.zeros((3, 2)), np.ones(10) * 0.5), "t_prev=4"),
    (lambda: dm.betas_for("quadratic", 10), "quadratic"),
    (lambda: dm.sample(lambda x, t: x, np.zeros((2, 2)), dm.linear_betas(5)), "rng="),
])
def test_errors_say_what_was_expected_and_received(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def _keras_twin(denoiser):
    from course_utils.compare import keras_compute_dtype
    return nn.to_keras(denoiser, dtype=keras_compute_dtype())


def test_one_training_step_numpy_equals_keras(rng):
    """The loss and every weight gradient of one step (same x0, t and noise; q_sample done by each side)."""
    from course_utils import keras_steps
    T, depth = 30, 8
    alpha_bar = dm.alpha_bar_of(dm.cosine_betas(T))
    denoiser = dm.make_denoiser(2, depth, (16, 12))
    twin = _keras_twin(denoiser)
    denoiser.set_weights([np.asarray(to_numpy(w), dtype=np.float64) for w in twin.weights])   # Keras's rounding
    dtype = twin.weights[0].dtype
    x0, t, noise = rng.normal(size=(9, 2)), rng.integers(0, T, 9), rng.normal(size=(9, 2))
    x0, noise = x0.astype(dtype).astype(np.float64), noise.astype(dtype).astype(np.float64)
    x_t, emb = dm.q_sample(x0, t, noise, alpha_bar), dm.time_embedding(t, depth, T)
    loss, d_eps = dm.noise_prediction_loss(denoiser.forward([x_t, emb]), noise)
    denoiser.backward(d_eps)
    root_a = keras.ops.convert_to_tensor(np.sqrt(alpha_bar[t])[:, None], dtype)   # a torch tensor does not
    root_1a = keras.ops.convert_to_tensor(np.sqrt(1 - alpha_bar[t])[:, None], dtype)   # multiply a NumPy array

    def keras_loss():
        k_x_t = root_a * keras.ops.convert_to_tensor(x0, dtype) + root_1a * keras.ops.convert_to_tensor(noise, dtype)
        eps_hat = twin([k_x_t, keras.ops.convert_to_tensor(emb, dtype)])
        return keras.ops.mean(keras.ops.square(eps_hat - keras.ops.convert_to_tensor(noise, dtype)))

    keras_loss_value, grads = keras_steps.gradients(keras_loss, twin.trainable_weights)
    assert scaled_error(loss, to_numpy(keras_loss_value)) <= keras_rtol()
    for mine, theirs in zip(denoiser.grads, grads):
        assert scaled_error(mine, to_numpy(theirs)) <= keras_rtol()


@pytest.mark.parametrize("method, n_steps", [("ddpm", None), ("ddim", 7)])
def test_numpy_sampler_equals_keras_sampler(method, n_steps):
    """The same loop on Keras tensors (the Keras model as denoiser) gives the NumPy samples for the same
    noise draws. float32 (JAX, PyTorch): chained steps, each dividing by sqrt(alpha_t), let float32
    round-off grow past one pass's 1e-5 rule; asserted 1e-4 (measured on JAX, seeds 0-4, the lesson's
    128-unit denoiser and 100 DDPM steps: 1.0e-6; 10 DDIM steps 4.7e-7). TensorFlow float64: 1e-7
    (measured 1.1e-15)."""
    T, depth = 20, 8
    betas = dm.linear_betas(T)
    keras.utils.set_random_seed(1)
    denoiser = dm.make_denoiser(2, depth, (16, 16))
    twin = _keras_twin(denoiser)
    denoiser.set_weights([np.asarray(to_numpy(w), dtype=np.float64) for w in twin.weights])
    dtype = twin.weights[0].dtype
    x_T = np.random.default_rng(2).standard_normal((50, 2)).astype(dtype).astype(np.float64)
    mine = dm.sample(lambda x, t: denoiser.forward([x, np.repeat(dm.time_embedding(t, depth, T)[None], len(x), 0)]),
                     x_T, betas, method, n_steps, rng=np.random.default_rng(3))
    theirs = dm.sample(lambda x, t: twin([x, keras.ops.convert_to_tensor(
        np.repeat(dm.time_embedding(t, depth, T)[None], 50, 0), dtype)]),
        keras.ops.convert_to_tensor(x_T, dtype), betas, method, n_steps, rng=np.random.default_rng(3))
    assert keras.ops.is_tensor(theirs)
    assert scaled_error(mine, to_numpy(theirs)) <= (1e-7 if keras_rtol() == 1e-7 else 1e-4)
