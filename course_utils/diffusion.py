"""Denoising diffusion in NumPy: noise schedules, noising in closed form, DDPM and DDIM steps, a sampler.

The forward process adds Gaussian noise in ``T`` small steps, x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) e.
With alpha_t = 1 - beta_t and alpha_bar_t = alpha_1 ... alpha_t it has a closed form (Ho et al., 2020):

    q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I),
    x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise                      (q_sample)

A denoiser eps_theta(x_t, t) is trained to predict ``noise`` from x_t (mean squared error). Sampling runs
the process backwards from x_T ~ N(0, I):

    DDPM:  x_{t-1} = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t) + sigma_t z,
           sigma_t^2 = beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)            (ddpm_step)
    DDIM:  x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t),
           x_s = sqrt(alpha_bar_s) x0_hat + sqrt(1 - alpha_bar_s) eps,  s < t       (ddim_step, eta = 0)

Timesteps are 0-based: t = 0 .. T-1, ``betas[t]`` and ``alpha_bar[t]``; "alpha_bar_{-1}" = 1 (the clean
data), so the last DDPM step (t = 0) adds no noise and a DDIM step to s = -1 returns x0_hat.

Every step uses only arithmetic with NumPy scalars on ``x``, so the same functions run on Keras tensors
(the Keras side of the lesson's sampler). Shapes: x (N, ...) any trailing shape; t an int (a sampler step)
or (N,) ints (training, one t per example).
"""
from __future__ import annotations

import numpy as np

from . import nn
from .nn import positional_encoding
from .nn.shapes import shape_str

SCHEDULES = ("linear", "cosine")


# -------------------------------------------------------------------------------------- schedules
def linear_betas(T, beta_start=1e-4, beta_end=0.02):
    """Ho et al.'s schedule: beta_t evenly spaced from beta_start to beta_end (their values for T = 1000;
    scaled by 1000 / T so that a shorter chain destroys the data as much). Returns (T,)."""
    T = _steps(T)
    scale = 1000.0 / T
    return np.linspace(beta_start * scale, min(beta_end * scale, 0.999), T)


def cosine_alpha_bar(T, s=0.008):
    """Nichol & Dhariwal's schedule: alpha_bar_t = f(t + 1) / f(0), f(u) = cos((u / T + s) / (1 + s) * pi / 2)^2,
    for t = 0 .. T-1 (alpha_bar falls like a cosine from ~1 to 0). Returns (T,)."""
    T = _steps(T)
    f = np.cos((np.arange(T + 1) / T + s) / (1 + s) * np.pi / 2) ** 2
    return f[1:] / f[0]


def cosine_betas(T, s=0.008, max_beta=0.999):
    """The betas of the cosine schedule: beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}, clipped at max_beta
    (the last step would otherwise be 1). Returns (T,)."""
    alpha_bar = cosine_alpha_bar(T, s)
    previous = np.concatenate([[1.0], alpha_bar[:-1]])
    return np.minimum(1.0 - alpha_bar / previous, max_beta)


def betas_for(schedule, T):
    """The betas of the named schedule ("linear" or "cosine") with T steps."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, received {schedule!r}.")
    return linear_betas(T) if schedule == "linear" else cosine_betas(T)


def alpha_bar_of(betas):
    """alpha_bar_t = prod_{s <= t} (1 - beta_s). betas (T,) -> (T,)."""
    betas = np.asarray(betas, dtype=np.float64)
    if betas.ndim != 1 or np.any(betas <= 0) or np.any(betas >= 1):
        raise ValueError(f"expected betas of shape (T,) in (0, 1), received shape {shape_str(betas.shape)} "
                         f"with values from {betas.min():.3g} to {betas.max():.3g}.")
    return np.cumprod(1.0 - betas)


def snr(alpha_bar):
    """The signal-to-noise ratio of x_t: alpha_bar_t / (1 - alpha_bar_t)."""
    alpha_bar = np.asarray(alpha_bar, dtype=np.float64)
    return alpha_bar / (1.0 - alpha_bar)


def _steps(T):
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 2:
        raise ValueError(f"the number of diffusion steps T must be an integer >= 2, received T={T!r}.")
    return int(T)


# ---------------------------------------------------------------------------------- forward process
def _per_example(values, t, ndim):
    # values[t] shaped (N, 1, ..., 1) to broadcast over an example's trailing axes
    t = np.asarray(t)
    return values[t].reshape(t.shape + (1,) * (ndim - t.ndim))


def q_sample(x0, t, noise, alpha_bar):
    """x_t = sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) noise, a draw of q(x_t | x0).
    x0, noise (N, ...); t (N,) ints in 0..T-1 (one step per example); alpha_bar (T,) -> x_t (N, ...)."""
    x0, noise = np.asarray(x0, dtype=np.float64), np.asarray(noise, dtype=np.float64)
    t, alpha_bar = _check_t(t, alpha_bar, len(x0)), np.asarray(alpha_bar, dtype=np.float64)
    if noise.shape != x0.shape:
        raise ValueError(f"q_sample expected noise of the same shape as x0, received x0 {shape_str(x0.shape)} "
                         f"and noise {shape_str(noise.shape)}.")
    a = _per_example(alpha_bar, t, x0.ndim)
    return np.sqrt(a) * x0 + np.sqrt(1.0 - a) * noise


def _check_t(t, alpha_bar, n):
    t = np.asarray(t)
    T = len(np.asarray(alpha_bar))
    if t.shape != (n,) or t.dtype.kind not in "iu" or (t.size and (t.min() < 0 or t.max() >= T)):
        raise ValueError(f"expected t as {n} integer steps in 0..{T - 1} (one per example), received "
                         f"{t.dtype} array of shape {shape_str(t.shape)}"
                         + (f" with values {t.min()}..{t.max()}" if t.size and t.dtype.kind in "iuf" else "")
                         + ". Draw them with rng.integers(0, T, size=N).")
    return t


def time_embedding(t, depth, T):
    """The sinusoidal encoding of lesson 11 (nn.positional_encoding) read at step t: the denoiser's
    second input. t an int or (N,) ints in 0..T-1 -> (depth,) or (N, depth)."""
    t = np.asarray(t)
    if t.dtype.kind not in "iu" or (t.size and (t.min() < 0 or t.max() >= T)):
        raise ValueError(f"time_embedding expected integer steps in 0..{T - 1}, received {t.dtype} {t!r}.")
    return positional_encoding(T, depth)[t]


def diffusion_batch(x0, rng, alpha_bar, depth):
    """One training batch: t ~ U{0..T-1}, noise ~ N(0, I), x_t = q_sample(x0, t, noise).
    Returns (x_t, time_embedding(t) (N, depth), noise, t): the denoiser's inputs, its target, the steps."""
    T = len(alpha_bar)
    t = rng.integers(0, T, size=len(x0))
    noise = rng.standard_normal(np.shape(x0))
    return q_sample(x0, t, noise, alpha_bar), time_embedding(t, depth, T), noise, t


# ------------------------------------------------------------------------------------ reverse steps
def ddpm_step(x_t, t, eps_hat, betas, noise):
    """One DDPM reverse step, x_t -> x_{t-1}, with sigma_t^2 = beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)
    (the posterior's variance: 0 at t = 0, so the last step adds no noise).
    x_t, eps_hat, noise (N, ...); t an int in 0..T-1; betas (T,) -> x_{t-1} (N, ...)."""
    betas = np.asarray(betas, dtype=np.float64)
    alpha_bar = np.cumprod(1.0 - betas)
    t = _one_step(t, len(betas))
    previous = float(alpha_bar[t - 1]) if t > 0 else 1.0
    beta, a_bar = float(betas[t]), float(alpha_bar[t])      # Python floats: x may be a Keras tensor
    mean = (x_t - float(beta / np.sqrt(1.0 - a_bar)) * eps_hat) / float(np.sqrt(1.0 - beta))
    sigma = np.sqrt(beta * (1.0 - previous) / (1.0 - a_bar))
    return mean + float(sigma) * _as_kind_of(mean, noise)


def _as_kind_of(x, a):
    """``a`` (a NumPy array) as the kind of ``x``: unchanged when ``x`` is NumPy, else a Keras tensor of
    ``x``'s dtype. A PyTorch tensor does not add a NumPy array to itself (TensorFlow and JAX tensors do)."""
    if isinstance(x, (np.ndarray, np.generic, float, int)):
        return a
    import keras                                            # x is a Keras tensor: Keras is imported already
    return keras.ops.convert_to_tensor(a, dtype=keras.backend.standardize_dtype(x.dtype))


def ddim_step(x_t, t, t_prev, eps_hat, alpha_bar):
    """One deterministic DDIM step (eta = 0), x_t -> x_{t_prev}, t_prev < t (t_prev = -1: to the data,
    alpha_bar = 1). x_t, eps_hat (N, ...); t, t_prev ints; alpha_bar (T,) -> x_{t_prev} (N, ...)."""
    alpha_bar = np.asarray(alpha_bar, dtype=np.float64)
    t = _one_step(t, len(alpha_bar))
    if not (isinstance(t_prev, (int, np.integer)) and -1 <= t_prev < t):
        raise ValueError(f"ddim_step expected an integer t_prev with -1 <= t_prev < t = {t}, received "
                         f"t_prev={t_prev!r}.")
    previous = float(alpha_bar[t_prev]) if t_prev >= 0 else 1.0
    a_bar = float(alpha_bar[t])                             # Python floats: x may be a Keras tensor
    x0_hat = (x_t - float(np.sqrt(1.0 - a_bar)) * eps_hat) / float(np.sqrt(a_bar))
    return float(np.sqrt(previous)) * x0_hat + float(np.sqrt(1.0 - previous)) * eps_hat


def _one_step(t, T):
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t < T:
        raise ValueError(f"expected one integer step t in 0..{T - 1}, received t={t!r}.")
    return int(t)


def ddim_timesteps(T, n_steps):
    """n_steps timesteps from T-1 down to 0 (just T-1 when n_steps = 1), evenly spaced and rounded: the
    DDIM path (its last step goes on to t_prev = -1, the data)."""
    if not isinstance(n_steps, (int, np.integer)) or not 1 <= n_steps <= T:
        raise ValueError(f"n_steps must be an integer in 1..T={T}, received n_steps={n_steps!r}.")
    return np.unique(np.round(np.linspace(T - 1, 0, n_steps)).astype(np.int64))[::-1]


# ----------------------------------------------------------------------------------------- sampler
def sample(denoise, x_T, betas, method="ddpm", n_steps=None, rng=None):
    """Run the reverse process from x_T with ``denoise(x, t) -> eps_hat``.

    method "ddpm": all T steps of ddpm_step, z ~ N(0, I) drawn from ``rng`` (a NumPy Generator), one
    array of x's shape per step from t = T-1 down to 0 (two sides given Generators with the same seed draw
    the same noise); method "ddim": ddim_step along ddim_timesteps(T, n_steps), no noise drawn.
    x_T (N, ...) a NumPy array or a Keras tensor (denoise must return the same kind) -> x_0 (N, ...).
    """
    betas = np.asarray(betas, dtype=np.float64)
    T, x = len(betas), x_T
    if method == "ddpm":
        if rng is None:
            raise ValueError("sample(method='ddpm') draws noise at every step: pass rng=np.random.default_rng(seed).")
        for t in range(T - 1, -1, -1):
            x = ddpm_step(x, t, denoise(x, t), betas, rng.standard_normal(np.shape(x_T)))
        return x
    if method == "ddim":
        alpha_bar = np.cumprod(1.0 - betas)
        steps = ddim_timesteps(T, T if n_steps is None else n_steps)
        for t, t_prev in zip(steps, list(steps[1:]) + [-1]):
            x = ddim_step(x, int(t), int(t_prev), denoise(x, int(t)), alpha_bar)
        return x
    raise ValueError(f"method must be 'ddpm' or 'ddim', received {method!r}.")


# ----------------------------------------------------------------------------------------- denoiser
def make_denoiser(data_dim, depth=16, units=(128, 128), activation="silu", name="denoiser", dtype="float64"):
    """The noise predictor eps_theta(x_t, t) as a functional nn.Model with two inputs: x_t (N, data_dim)
    and the time embedding (N, depth); Concatenate -> Dense(units[i], activation) ... -> Dense(data_dim).
    Its Keras twin is nn.to_keras(model)."""
    x_in = nn.Input(shape=(data_dim,), name="x_t")
    t_in = nn.Input(shape=(depth,), name="time_embedding")
    h = nn.Concatenate()([x_in, t_in])
    for n in units:
        h = nn.Dense(n, activation=activation, dtype=dtype)(h)
    return nn.Model([x_in, t_in], nn.Dense(data_dim, dtype=dtype)(h), name=name)


def noise_prediction_loss(eps_hat, noise):
    """The training objective: mean squared error over every number, and its gradient d loss / d eps_hat.
    eps_hat, noise (N, ...) -> (loss, (N, ...))."""
    eps_hat, noise = np.asarray(eps_hat, dtype=np.float64), np.asarray(noise, dtype=np.float64)
    return float(np.mean((eps_hat - noise) ** 2)), 2.0 * (eps_hat - noise) / eps_hat.size
