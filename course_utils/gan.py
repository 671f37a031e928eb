"""Generative adversarial networks in NumPy: the two networks, their losses and the adversarial step.

The game, in plain words: the **generator** G turns random noise z into fakes G(z); the
**discriminator** D looks at a sample and says how likely it is to be real. D is trained to tell
real from fake, G is trained to fool D, and each one's progress forces the other to improve.

    >>> generator = make_generator(latent_dim=8, output_dim=2)
    >>> discriminator = make_discriminator(input_dim=2)
    >>> gan = GAN(generator, discriminator, d_optimizer=nn.Adam(1e-3, beta_1=0.5),
    ...           g_optimizer=nn.Adam(1e-3, beta_1=0.5))
    >>> logs = gan.train_step(real_batch, noise)      # {"d_loss": ..., "g_loss": ...}

Shapes: real_batch ``(N, D)``, noise ``(M, latent_dim)``, G(noise) ``(M, D)``, D(x) ``(B, 1)``.

The discriminator outputs a **logit** s (``from_logits=True``, the default: its last layer is a
linear ``Dense(1)``, and D(x) = sigmoid(s)), or a probability p = D(x) (``from_logits=False``: the
last layer is ``Dense(1, activation="sigmoid")``). The losses take either, as Keras's
``BinaryCrossentropy(from_logits=...)`` does, with Keras's reduction (the mean over the batch) and
Keras's clipping of probabilities to [1e-7, 1 - 1e-7].
"""
from __future__ import annotations

import sys
import time

import numpy as np

from . import nn
from .nn.shapes import shape_str
from .nn.threads import one_blas_thread

GENERATOR_LOSSES = ("non_saturating", "minimax")


# ------------------------------------------------------------------------------------------ data
def ring_centers(n_modes=8, radius=2.0):
    """The centres of ``n_modes`` Gaussians evenly spaced on a circle: (radius cos a_k, radius sin a_k)
    with a_k = 2 pi k / n_modes.  Returns shape ``(n_modes, 2)``."""
    n_modes = _positive_int(n_modes, "n_modes")
    angles = 2.0 * np.pi * np.arange(n_modes) / n_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def sample_ring_of_gaussians(u, normal, n_modes=8, radius=2.0, std=0.05):
    """Samples of a mixture of ``n_modes`` equally likely Gaussians on a ring, made deterministic by
    taking the random numbers as inputs:

        k_i = floor(u_i * n_modes)          (u_i uniform in [0, 1): which mode)
        x_i = center_{k_i} + std * normal_i (normal_i standard normal, shape (2,))

    u: ``(N,)``, normal: ``(N, 2)`` -> samples ``(N, 2)``.
    """
    u = np.asarray(u, dtype=np.float64)
    normal = np.asarray(normal, dtype=np.float64)
    if u.ndim != 1 or normal.shape != (len(u), 2):
        raise ValueError(f"sample_ring_of_gaussians expected u of shape (N,) and normal of shape (N, 2), "
                         f"received u {shape_str(u.shape)} and normal {shape_str(normal.shape)}.")
    if u.size and (u.min() < 0 or u.max() >= 1):
        raise ValueError(f"sample_ring_of_gaussians expected u uniform in [0, 1), received values from "
                         f"{u.min():.4g} to {u.max():.4g}. Draw them with rng.random(n).")
    k = np.floor(u * n_modes).astype(np.int64)
    return ring_centers(n_modes, radius)[k] + std * normal


def ring_of_gaussians(n, rng, n_modes=8, radius=2.0, std=0.05):
    """``n`` samples of the ring mixture, drawn with the NumPy Generator ``rng``. Shape ``(n, 2)``."""
    n = _positive_int(n, "n")
    return sample_ring_of_gaussians(rng.random(n), rng.standard_normal((n, 2)), n_modes, radius, std)


def mode_counts(samples, centers, radius):
    """How many samples fall within ``radius`` of each centre (a sample counts for its nearest
    centre only).  samples ``(N, 2)``, centers ``(K, 2)`` -> counts ``(K,)`` (int)."""
    samples, centers = _points(samples, "samples"), _points(centers, "centers")
    if samples.shape[1] != centers.shape[1]:
        raise ValueError(f"mode_counts expected samples and centers with the same number of coordinates, "
                         f"received samples {shape_str(samples.shape)} and centers {shape_str(centers.shape)}.")
    distances = np.sqrt(((samples[:, None, :] - centers[None, :, :]) ** 2).sum(axis=-1))   # (N, K)
    nearest = distances.argmin(axis=1)
    close = distances[np.arange(len(samples)), nearest] <= radius
    return np.bincount(nearest[close], minlength=len(centers))


def mode_coverage(samples, centers, radius, min_share=0.25):
    """The number of modes that get a fair share of the samples.

    A mode is *covered* when at least ``min_share`` of its fair share, N / K samples, fall within
    ``radius`` of its centre (nearest centre only). With K = 8 and min_share = 0.25 that is at
    least 1/32 of all samples. samples ``(N, 2)``, centers ``(K, 2)`` -> int in [0, K].
    """
    counts = mode_counts(samples, centers, radius)
    fair_share = len(np.asarray(samples)) / len(counts)
    return int(np.sum(counts >= min_share * fair_share))


def _points(x, what):
    x = np.asarray(x)
    if x.dtype == bool or not np.issubdtype(x.dtype, np.number) or x.ndim != 2:
        raise ValueError(f"expected {what} as a numeric array of shape (N, 2), "
                         f"received {x.dtype} array of shape {shape_str(x.shape)}.")
    return x.astype(np.float64)


def _positive_int(n, name):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"`{name}` must be a positive integer, received {name}={n!r}.")
    return int(n)


# ---------------------------------------------------------------------------------------- losses
def _d_outputs(d_out, what, from_logits):
    """Validate discriminator outputs: a float array of shape (N, 1) or (N,), finite; probabilities in [0, 1]."""
    if isinstance(d_out, (list, tuple)) or np.isscalar(d_out):
        d_out = np.asarray(d_out)
    if not isinstance(d_out, np.ndarray):
        d_out = np.asarray(d_out)
    if d_out.dtype == bool or not np.issubdtype(d_out.dtype, np.number):
        raise TypeError(f"{what} must be a numeric array (the discriminator's outputs), received dtype {d_out.dtype}.")
    if d_out.ndim not in (1, 2) or (d_out.ndim == 2 and d_out.shape[1] != 1) or d_out.size == 0:
        raise ValueError(f"{what} must have shape (N, 1) or (N,) - one output per sample, N >= 1 - "
                         f"received shape {shape_str(d_out.shape)}. The discriminator ends with Dense(1).")
    d_out = d_out.astype(np.result_type(d_out.dtype, np.float32))
    if not np.all(np.isfinite(d_out)):
        raise ValueError(f"{what} contains NaN or inf: the training has diverged. Try a smaller learning rate.")
    if not from_logits and (d_out.min() < 0 or d_out.max() > 1):
        raise ValueError(f"{what} must be probabilities in [0, 1] when from_logits=False, received values from "
                         f"{d_out.min():.4g} to {d_out.max():.4g}. If the discriminator ends with a linear "
                         f"Dense(1), its outputs are logits: pass from_logits=True.")
    return d_out


def discriminator_loss(d_real, d_fake, from_logits=True):
    """The discriminator's loss: binary cross-entropy with real samples labelled 1 and fakes 0,
    averaged over the whole batch of N_r + N_f outputs (Keras's reduction on the concatenation):

        L_D = -[ sum_i log D(x_i) + sum_j log(1 - D(G(z_j))) ] / (N_r + N_f)

    (with equal batch sizes, the mean of the real and fake halves' losses).
    d_real ``(N_r, 1)``, d_fake ``(N_f, 1)``: logits s (D = sigmoid(s)) or probabilities. -> float.
    """
    d_real = _d_outputs(d_real, "d_real", from_logits)
    d_fake = _d_outputs(d_fake, "d_fake", from_logits)
    bce = nn.BinaryCrossentropy(from_logits=from_logits)
    outputs = np.concatenate([d_real.reshape(-1), d_fake.reshape(-1)])
    labels = np.concatenate([np.ones(d_real.size), np.zeros(d_fake.size)])
    return bce.loss(labels, outputs)


def discriminator_loss_gradients(d_real, d_fake, from_logits=True):
    """dL_D/d_real and dL_D/d_fake (shapes of d_real and d_fake), with n = N_r + N_f:

        from logits:         dL/ds = (sigmoid(s) - y) / n       (y = 1 for real, 0 for fake)
        from probabilities:  dL/dp = (p - y) / (p (1 - p)) / n  (0 where p is clipped)
    """
    d_real = _d_outputs(d_real, "d_real", from_logits)
    d_fake = _d_outputs(d_fake, "d_fake", from_logits)
    bce = nn.BinaryCrossentropy(from_logits=from_logits)
    outputs = np.concatenate([d_real.reshape(-1), d_fake.reshape(-1)])
    labels = np.concatenate([np.ones(d_real.size), np.zeros(d_fake.size)])
    grad = bce.gradient(labels, outputs)
    return grad[:d_real.size].reshape(d_real.shape), grad[d_real.size:].reshape(d_fake.shape)


def _generator_bce(d_fake, from_logits, kind):
    """(bce, target, d_fake, sign): the non-saturating loss is the cross-entropy against 1 (real),
    the minimax one minus the cross-entropy against 0 (fake)."""
    kind = _generator_loss_kind(kind)
    d_fake = _d_outputs(d_fake, "d_fake", from_logits)
    bce = nn.BinaryCrossentropy(from_logits=from_logits)
    if kind == "non_saturating":
        return bce, np.ones_like(d_fake), d_fake, 1.0
    return bce, np.zeros_like(d_fake), d_fake, -1.0


def generator_loss(d_fake, from_logits=True, kind="non_saturating"):
    """The generator's loss on the discriminator's outputs for fakes, D(G(z)), averaged over the batch.

    - ``"minimax"`` (saturating), the original game's term:  L_G = mean log(1 - D(G(z)))
      (minimised: G wants D(G(z)) -> 1, i.e. log(1 - D) -> -inf). From a logit s,
      log(1 - sigmoid(s)) = -softplus(s).
    - ``"non_saturating"``, what is used in practice:        L_G = -mean log D(G(z))
      = BCE with the fakes labelled 1 ("pretend they are real"). From a logit, softplus(-s).

    Why the non-saturating form: early in training the discriminator confidently rejects the fakes,
    D(G(z)) ~ 0, i.e. s << 0. The minimax loss is flat there - its gradient -sigmoid(s)/N -> 0 - so
    the generator learns nothing exactly when it is worst. The non-saturating loss has the same
    goal (push D(G(z)) up) and the same fixed points, but its gradient (sigmoid(s) - 1)/N -> -1/N:
    strongest when the fakes are worst. (See ``generator_loss_gradient``.)

    d_fake ``(N, 1)`` logits or probabilities -> float.
    """
    bce, target, d_fake, sign = _generator_bce(d_fake, from_logits, kind)
    return sign * bce.loss(target, d_fake)


def generator_loss_gradient(d_fake, from_logits=True, kind="non_saturating"):
    """dL_G/d_fake (shape of d_fake): the gradient of ``generator_loss`` w.r.t. the discriminator's
    outputs for the fakes. From logits s, with N outputs:

        non-saturating:  L = mean softplus(-s)    dL/ds = (sigmoid(s) - 1) / N   (-> -1/N as s -> -inf)
        minimax:         L = -mean softplus(s)    dL/ds = -sigmoid(s) / N        (-> 0 as s -> -inf: saturates)

    From probabilities p:  non-saturating dL/dp = -1 / (p N),  minimax dL/dp = -1 / ((1 - p) N)
    (0 where Keras's clip to [1e-7, 1 - 1e-7] is active).
    """
    bce, target, d_fake, sign = _generator_bce(d_fake, from_logits, kind)
    return sign * bce.gradient(target, d_fake)


def generator_loss_nonsaturating(d_fake, from_logits=True):
    """-mean log D(G(z)); see ``generator_loss``."""
    return generator_loss(d_fake, from_logits, kind="non_saturating")


def generator_loss_minimax(d_fake, from_logits=True):
    """mean log(1 - D(G(z))); see ``generator_loss``."""
    return generator_loss(d_fake, from_logits, kind="minimax")


def _generator_loss_kind(kind):
    if kind not in GENERATOR_LOSSES:
        raise ValueError(f"generator loss must be one of {GENERATOR_LOSSES}, received {kind!r}.")
    return kind


# -------------------------------------------------------------------------------------- networks
def make_generator(latent_dim, output_dim, hidden_units=(64, 64), activation="relu", output_activation=None,
                   dtype="float64", name="generator"):
    """The generator G: noise ``(N, latent_dim)`` -> samples ``(N, output_dim)``; a Sequential of Dense
    layers (``hidden_units`` with ``activation``, then ``Dense(output_dim, output_activation)``), built."""
    latent_dim = _positive_int(latent_dim, "latent_dim")
    layers = [nn.Dense(u, activation=activation, dtype=dtype) for u in hidden_units]
    layers.append(nn.Dense(_positive_int(output_dim, "output_dim"), activation=output_activation, dtype=dtype))
    model = nn.Sequential(layers, name=name)
    model.build((None, latent_dim))
    return model


def make_discriminator(input_dim, hidden_units=(64, 64), activation="relu", from_logits=True,
                       dtype="float64", name="discriminator"):
    """The discriminator D: samples ``(N, input_dim)`` -> one output per sample ``(N, 1)``: a logit
    (last layer linear, ``from_logits=True``) or a probability (sigmoid, ``from_logits=False``); built."""
    layers = [nn.Dense(u, activation=activation, dtype=dtype) for u in hidden_units]
    layers.append(nn.Dense(1, activation=None if from_logits else "sigmoid", dtype=dtype))
    model = nn.Sequential(layers, name=name)
    model.build((None, _positive_int(input_dim, "input_dim")))
    return model


# ------------------------------------------------------------------------------------------ GAN
class GAN:
    """A generator and a discriminator, each with its own optimizer, trained adversarially.

    One ``train_step(real_batch, noise, generator_noise=None)`` does, in this order:

    (a) **discriminator step** (the generator is frozen: only run forward)::

            fake = G(noise);  out = D([real_batch; fake])          (one forward pass on the concatenation)
            d_loss = BCE(labels [1...1; 0...0], out)                (``discriminator_loss``)
            D.backward(dL/d out);  d_optimizer updates D's weights

    (b) **generator step**, through the *updated* discriminator (D is not updated here)::

            fake = G(z_g);  s = D(fake)                              z_g = generator_noise, or noise again
            g_loss = generator_loss(s)                               (non-saturating by default)
            dL/d fake = D.backward(dL/ds)      - D's weight gradients from this pass are discarded
            G.backward(dL/d fake);  g_optimizer updates G's weights

    Noise: step (a) uses ``noise``; step (b) uses ``generator_noise`` when given, else the same
    ``noise`` (so one step is fully determined by (real_batch, noise), which is how the Keras
    ``train_step`` in the tests and the lesson takes it). ``train`` draws fresh noise for each step.

    Returned losses are those computed *before* each update (as Keras's ``train_step`` reports them).
    Regularization penalties of the layers (``kernel_regularizer``) are added to each network's loss.
    """

    def __init__(self, generator, discriminator, d_optimizer="adam", g_optimizer="adam", from_logits=True,
                 generator_loss="non_saturating"):
        for net, what in ((generator, "generator"), (discriminator, "discriminator")):
            if not isinstance(net, nn.Layer):
                raise TypeError(f"GAN expects the {what} as a course_utils.nn Sequential (or layer), "
                                f"received {type(net).__name__}. Build it with make_{what}() or nn.Sequential.")
            if not net.built or net.input_shape is None:
                raise ValueError(f"The {what} is not built: call its build((None, input_dim)) first, "
                                 f"so that its input size is known.")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.input_shape[-1])
        self.data_dim = int(discriminator.input_shape[-1])
        g_out = generator.compute_output_shape(generator.input_shape)
        d_out = discriminator.compute_output_shape(discriminator.input_shape)
        if g_out[-1] != self.data_dim:
            raise ValueError(f"The generator makes samples of size {g_out[-1]} but the discriminator expects "
                             f"inputs of size {self.data_dim}: they must match (output_dim == input_dim).")
        if tuple(d_out[1:]) != (1,):
            raise ValueError(f"The discriminator must output one number per sample, shape (N, 1); "
                             f"it outputs {shape_str(d_out)}. End it with Dense(1).")
        self.d_optimizer = nn.optimizers.get(d_optimizer)
        self.g_optimizer = nn.optimizers.get(g_optimizer)
        if self.d_optimizer is self.g_optimizer:
            raise ValueError("The generator and the discriminator need one optimizer each "
                             "(an optimizer keeps per-step state); pass two instances.")
        self.from_logits = bool(from_logits)
        self.generator_loss_kind = _generator_loss_kind(generator_loss)
        self.history = {"step": [], "d_loss": [], "g_loss": []}

    # ------------------------------------------------------------------ checks
    def _batch(self, x, dim, what, hint):
        if isinstance(x, (list, tuple)):
            x = np.asarray(x)
        if not isinstance(x, np.ndarray) or x.dtype == bool or not np.issubdtype(x.dtype, np.number):
            raise TypeError(f"{what} must be a numeric NumPy array of shape (N, {dim}), "
                            f"received {type(x).__name__}{' of dtype ' + str(x.dtype) if hasattr(x, 'dtype') else ''}.")
        if x.ndim != 2 or x.shape[1] != dim or x.shape[0] == 0:
            raise ValueError(f"{what} must have shape (N, {dim}) with N >= 1 ({hint}), "
                             f"received shape {shape_str(x.shape)}.")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{what} contains NaN or inf; check the data.")
        return x.astype(self.generator.dtype or np.float64, copy=False)

    def _noise(self, noise, what="noise"):
        return self._batch(noise, self.latent_dim, what, "one row of latent_dim numbers per fake")

    # ---------------------------------------------------------------- pieces
    def generate(self, noise):
        """G(noise) in inference mode: noise ``(N, latent_dim)`` -> samples ``(N, data_dim)``."""
        return self.generator.forward(self._noise(noise), training=False)

    def discriminator_gradients(self, real_batch, noise):
        """Step (a) without the update: (d_loss, D's weight gradients in Keras's order)."""
        real = self._batch(real_batch, self.data_dim, "real_batch", "one real sample per row")
        fake = self.generator.forward(self._noise(noise), training=True)
        out = self.discriminator.forward(np.concatenate([real, fake]), training=True)
        d_real, d_fake = out[:len(real)], out[len(real):]
        d_loss = discriminator_loss(d_real, d_fake, self.from_logits) + self.discriminator.regularization_loss()
        grad_real, grad_fake = discriminator_loss_gradients(d_real, d_fake, self.from_logits)
        self.discriminator.backward(np.concatenate([grad_real, grad_fake]))
        grads = [g + r for g, r in zip(self.discriminator.grads, self.discriminator.regularization_grads())]
        return d_loss, grads

    def generator_gradients(self, noise):
        """Step (b) without the update: (g_loss, dL/dG(noise) ``(N, data_dim)``, G's weight gradients).

        The chain rule across the two networks: dL/ds (the loss's gradient at D's output)
        -> D.backward -> dL/d fake (the gradient at D's input = G's output) -> G.backward -> dL/dW_G.
        """
        fake = self.generator.forward(self._noise(noise), training=True)
        d_fake = self.discriminator.forward(fake, training=True)
        g_loss = generator_loss(d_fake, self.from_logits, self.generator_loss_kind) \
            + self.generator.regularization_loss()
        d_out_grad = generator_loss_gradient(d_fake, self.from_logits, self.generator_loss_kind)
        fake_grad = self.discriminator.backward(d_out_grad)      # D's own grads from this pass: unused
        self.generator.backward(fake_grad)
        grads = [g + r for g, r in zip(self.generator.grads, self.generator.regularization_grads())]
        return g_loss, fake_grad, grads

    # ------------------------------------------------------------------ step
    def train_step(self, real_batch, noise, generator_noise=None):
        """One adversarial step: (a) update D on real_batch + G(noise), then (b) update G through the
        updated D on G(generator_noise), or G(noise) when generator_noise is None.

        real_batch ``(N, data_dim)``, noise ``(M, latent_dim)`` -> {"d_loss": float, "g_loss": float}.
        """
        d_loss, d_grads = self.discriminator_gradients(real_batch, noise)
        self.d_optimizer.apply_gradients(zip(d_grads, self.discriminator.trainable_weights))
        g_noise = noise if generator_noise is None else self._noise(generator_noise, "generator_noise")
        g_loss, _, g_grads = self.generator_gradients(g_noise)
        self.g_optimizer.apply_gradients(zip(g_grads, self.generator.trainable_weights))
        return {"d_loss": float(d_loss), "g_loss": float(g_loss)}

    def train(self, sample_real, steps, batch_size=256, seed=0, log_every=None, callback=None,
              callback_steps=(), verbose=1):
        """Train for ``steps`` adversarial steps; each draws a real batch ``sample_real(batch_size, rng)``
        and two fresh noise batches (one for each network's step), from ``np.random.default_rng(seed)``.

        Prints a progress line every ``log_every`` steps (``verbose=1``); calls ``callback(step, gan)``
        after each step in ``callback_steps`` (e.g. to take a snapshot of the generated points).
        Appends the losses to ``self.history`` and returns it. Meanwhile NumPy's matrix products run on
        one thread (faster for networks this small; see ``course_utils.nn.threads``).
        """
        steps = _positive_int(steps, "steps")
        batch_size = _positive_int(batch_size, "batch_size")
        rng = np.random.default_rng(seed)
        log_every = log_every or max(steps // 10, 1)
        callback_steps = set(callback_steps)
        with one_blas_thread():
            return self._train(sample_real, steps, batch_size, rng, log_every, callback, callback_steps, verbose)

    def _train(self, sample_real, steps, batch_size, rng, log_every, callback, callback_steps, verbose):
        start = time.perf_counter()
        first = self.history["step"][-1] + 1 if self.history["step"] else 1
        if callback is not None and 0 in callback_steps:
            callback(first - 1, self)
        d_sum = g_sum = 0.0
        for i in range(steps):
            step = first + i
            real = sample_real(batch_size, rng)
            logs = self.train_step(real, rng.standard_normal((batch_size, self.latent_dim)),
                                   rng.standard_normal((batch_size, self.latent_dim)))
            self.history["step"].append(step)
            self.history["d_loss"].append(logs["d_loss"])
            self.history["g_loss"].append(logs["g_loss"])
            d_sum += logs["d_loss"]
            g_sum += logs["g_loss"]
            if callback is not None and (i + 1) in callback_steps:
                callback(step, self)
            if verbose and ((i + 1) % log_every == 0 or i + 1 == steps):
                n = (i % log_every) + 1
                sys.stdout.write(f"step {i + 1:>5}/{steps}  d_loss {d_sum / n:.3f}  g_loss {g_sum / n:.3f}"
                                 f"  ({time.perf_counter() - start:.1f} s)\n")
                d_sum = g_sum = 0.0
        sys.stdout.flush()
        return self.history
