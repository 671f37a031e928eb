"""Exercises of lesson 13_diffusion: noising in closed form, one DDPM reverse step, one DDIM step.

    q_sample(x0, t, noise, alpha_bar)            x_t = sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) noise
    ddpm_step(x_t, t, eps_hat, betas, noise)     x_{t-1}: the posterior mean from eps_hat, plus sigma_t noise
    ddim_step(x_t, t, t_prev, eps_hat, alpha_bar)   x_{t_prev}: deterministic (eta = 0), t_prev = -1 -> the data

Timesteps are 0-based (t = 0 .. T-1) and alpha_bar at step -1 is 1. The references are
course_utils.diffusion's functions, which are tested against the closed forms and Keras.
"""
from functools import partial

import numpy as np

from .. import diffusion
from . import Case, Exercise

LESSON = "13_diffusion"


def _alpha_bar(schedule, T):
    return diffusion.alpha_bar_of(diffusion.betas_for(schedule, T))


# ----------------------------------------------------------------------------- q_sample
def q_sample(x0, t, noise, alpha_bar):
    """A draw of q(x_t | x0) from given noise: x_t = sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) noise.
    x0, noise (N, ...); t (N,) ints in 0..T-1, one per example; alpha_bar (T,) -> x_t (N, ...)."""
    return diffusion.q_sample(x0, t, noise, alpha_bar)


def _q_sample(x0, t, noise, alpha_bar, signal=np.sqrt, spread=np.sqrt, shift=0):
    a = alpha_bar[np.clip(np.asarray(t) + shift, 0, len(alpha_bar) - 1)]
    a = a.reshape(a.shape + (1,) * (np.ndim(x0) - 1))
    return signal(a) * x0 + spread(1.0 - a) * noise


def _q_sample_cases(rng):
    T1, T2, T3 = 10, 7, 20
    return [Case((rng.normal(size=(5, 2)), np.array([0, 3, 9, 5, 1]), rng.normal(size=(5, 2)),
                  _alpha_bar("linear", T1)),
                 label="5 points in 2-D, linear schedule with T=10, steps 0 (almost clean) to 9 (almost noise)"),
            Case((rng.random((3, 4, 6)), np.array([6, 0, 2]), rng.normal(size=(3, 4, 6)), _alpha_bar("cosine", T2)),
                 label="3 images 4x6, cosine schedule with T=7: alpha_bar[t] multiplies every pixel of example n"),
            Case((rng.normal(size=(4, 3)), np.array([19, 19, 10, 4]), rng.normal(size=(4, 3)),
                  _alpha_bar("cosine", T3)),
                 label="4 examples in 3-D, two of them at the last step T-1=19 (alpha_bar ~ 0: pure noise)")]


Exercise(f"{LESSON}.q_sample", reference=q_sample, cases=_q_sample_cases,
         mistakes={
             "alpha_bar is used without the square roots: the mean is sqrt(alpha_bar_t) x0 and the standard "
             "deviation sqrt(1 - alpha_bar_t) (the variance is 1 - alpha_bar_t).":
                 partial(_q_sample, signal=lambda v: v, spread=lambda v: v),
             "the noise is scaled by 1 - alpha_bar_t, the variance; scale it by the standard deviation "
             "sqrt(1 - alpha_bar_t).":
                 partial(_q_sample, spread=lambda v: v),
             "off by one: step t uses alpha_bar[t - 1]; the steps are 0-based, so step t reads alpha_bar[t].":
                 partial(_q_sample, shift=-1),
         },
         output_names=("x_t",),
         title="noising in closed form: a draw of q(x_t | x0)")


# ----------------------------------------------------------------------------- ddpm_step
def ddpm_step(x_t, t, eps_hat, betas, noise):
    """One DDPM reverse step x_t -> x_{t-1}:
        mean = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_t),
        sigma_t^2 = beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t),   alpha_bar_{-1} = 1,
        x_{t-1} = mean + sigma_t noise.
    x_t, eps_hat, noise (N, ...); t an int in 0..T-1; betas (T,) -> x_{t-1} (N, ...)."""
    return diffusion.ddpm_step(x_t, t, eps_hat, betas, noise)


def _ddpm(x_t, t, eps_hat, betas, noise, variance="posterior", eps_coefficient="beta", divide=True):
    alpha_bar = np.cumprod(1.0 - betas)
    previous = alpha_bar[t - 1] if (t > 0 or variance == "wrapped") else 1.0
    c = betas[t] / np.sqrt(1.0 - alpha_bar[t]) if eps_coefficient == "beta" else np.sqrt(1.0 - alpha_bar[t])
    mean = (x_t - c * eps_hat) / (np.sqrt(1.0 - betas[t]) if divide else 1.0)
    if variance == "beta":
        return mean + np.sqrt(betas[t]) * noise
    return mean + np.sqrt(betas[t] * (1.0 - previous) / (1.0 - alpha_bar[t])) * noise


def _ddpm_cases(rng):
    betas_a, betas_b = diffusion.linear_betas(12), diffusion.cosine_betas(9)
    return [Case((rng.normal(size=(4, 2)), 7, rng.normal(size=(4, 2)), betas_a, rng.normal(size=(4, 2))),
                 label="4 points in 2-D, t=7 of T=12 (linear schedule)"),
            Case((rng.normal(size=(2, 3, 5)), 0, rng.normal(size=(2, 3, 5)), betas_b, rng.normal(size=(2, 3, 5))),
                 label="the last step, t=0 of T=9 (cosine): sigma_0 = 0, no noise is added"),
            Case((rng.normal(size=(3, 4)), 8, rng.normal(size=(3, 4)), betas_b, rng.normal(size=(3, 4))),
                 label="the first step, t=T-1=8 (cosine), 3 examples of 4 numbers")]


Exercise(f"{LESSON}.ddpm_step", reference=ddpm_step, cases=_ddpm_cases,
         mistakes={
             "sigma_t^2 = beta_t: the lesson's step uses the posterior's variance "
             "beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t), which is 0 at t = 0 (the last step adds no noise).":
                 partial(_ddpm, variance="beta"),
             "at t = 0, alpha_bar_{t-1} is read as alpha_bar[-1] - Python's last element, the noisiest step; "
             "alpha_bar before the first step is 1 (clean data), so sigma_0 = 0.":
                 partial(_ddpm, variance="wrapped"),
             "eps_hat is scaled by sqrt(1 - alpha_bar_t) (that is x0's formula); the mean subtracts "
             "beta_t / sqrt(1 - alpha_bar_t) eps_hat.":
                 partial(_ddpm, eps_coefficient="sqrt"),
             "the division by sqrt(alpha_t) = sqrt(1 - beta_t) is missing from the mean.":
                 partial(_ddpm, divide=False),
         },
         output_names=("x_prev",),
         title="one DDPM reverse step x_t -> x_{t-1}")


# ----------------------------------------------------------------------------- ddim_step
def ddim_step(x_t, t, t_prev, eps_hat, alpha_bar):
    """One deterministic DDIM step (eta = 0) from step t to an earlier step t_prev (-1 <= t_prev < t):
        x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t),
        x_{t_prev} = sqrt(alpha_bar_{t_prev}) x0_hat + sqrt(1 - alpha_bar_{t_prev}) eps_hat,  alpha_bar_{-1} = 1.
    x_t, eps_hat (N, ...); t, t_prev ints; alpha_bar (T,) -> x_{t_prev} (N, ...)."""
    return diffusion.ddim_step(x_t, t, t_prev, eps_hat, alpha_bar)


def _ddim(x_t, t, t_prev, eps_hat, alpha_bar, wrap=False, keep_eps=True, roots=True):
    previous = alpha_bar[t_prev] if (t_prev >= 0 or wrap) else 1.0
    root = np.sqrt if roots else (lambda v: v)
    x0_hat = (x_t - root(1.0 - alpha_bar[t]) * eps_hat) / root(alpha_bar[t])
    return root(previous) * x0_hat + (root(1.0 - previous) * eps_hat if keep_eps else 0.0)


def _ddim_cases(rng):
    a_lin, a_cos = _alpha_bar("linear", 15), _alpha_bar("cosine", 11)
    return [Case((rng.normal(size=(4, 2)), 10, 5, rng.normal(size=(4, 2)), a_lin),
                 label="4 points in 2-D, a jump of 5 steps: t=10 -> t_prev=5 (linear, T=15)"),
            Case((rng.normal(size=(3, 2, 5)), 3, -1, rng.normal(size=(3, 2, 5)), a_cos),
                 label="the last step, t=3 -> t_prev=-1: to the data, alpha_bar_{-1} = 1 (cosine, T=11)"),
            Case((rng.normal(size=(2, 6)), 10, 9, rng.normal(size=(2, 6)), a_cos),
                 label="one step from the start: t=T-1=10 -> t_prev=9 (cosine), 2 examples of 6 numbers")]


Exercise(f"{LESSON}.ddim_step", reference=ddim_step, cases=_ddim_cases,
         mistakes={
             "at t_prev = -1, alpha_bar is read as alpha_bar[-1] - Python's last element, the noisiest step; "
             "before the first step alpha_bar is 1, so the last DDIM step returns x0_hat itself.":
                 partial(_ddim, wrap=True),
             "the predicted noise is not added back: x_{t_prev} = sqrt(alpha_bar_{t_prev}) x0_hat "
             "+ sqrt(1 - alpha_bar_{t_prev}) eps_hat (DDIM keeps the noise direction it predicted).":
                 partial(_ddim, keep_eps=False),
             "alpha_bar is used without the square roots: signal sqrt(alpha_bar), noise sqrt(1 - alpha_bar).":
                 partial(_ddim, roots=False),
         },
         output_names=("x_prev",),
         title="one deterministic DDIM step x_t -> x_{t_prev}")
