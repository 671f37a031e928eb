"""Exercises of lesson 08_gan: the adversarial losses, their gradients, the ring data and mode coverage.

    discriminator_loss(d_real_logits, d_fake_logits)       BCE: real labelled 1, fake 0, mean over all outputs
    generator_loss_nonsaturating(d_fake_logits)            -mean log D(G(z))
    generator_loss_minimax(d_fake_logits)                  mean log(1 - D(G(z)))
    generator_loss_gradients(d_fake_logits)                (dL/ds non-saturating, dL/ds minimax)
    sample_ring_of_gaussians(u, normal, n_modes, radius, std)   the 2-D data, from given random numbers
    mode_coverage(samples, centers, radius, min_share)     how many modes get a fair share of samples

The discriminator's outputs are logits s (D = sigmoid(s)), shape ``(N, 1)``. The references are
course_utils.gan's functions, which are verified against Keras and finite differences.
"""
import numpy as np

from .. import gan
from ..nn.activations import sigmoid as _sigmoid
from . import Case, Exercise

LESSON = "08_gan"


def _softplus(x):
    return np.logaddexp(0.0, x)


_SOFTPLUS_HINT = ("use the softplus form, which never overflows: -log sigmoid(s) = np.logaddexp(0, -s) and "
                  "-log(1 - sigmoid(s)) = np.logaddexp(0, s) (not log(1 + exp(...)), not log of a sigmoid)")


def _logits(rng, n, scale=2.0):
    return rng.normal(0.0, scale, size=(n, 1))


# ----------------------------------------------------------------------------- discriminator_loss
def discriminator_loss(d_real_logits, d_fake_logits):
    """-[sum log D(x) + sum log(1 - D(G(z)))] / (N_r + N_f), from logits.
    d_real_logits (N_r, 1), d_fake_logits (N_f, 1) -> a number."""
    return gan.discriminator_loss(d_real_logits, d_fake_logits, from_logits=True)


def _discriminator_loss_cases(rng):
    return [Case((_logits(rng, 6), _logits(rng, 6)), label="6 real, 6 fake"),
            Case((_logits(rng, 5), _logits(rng, 3)), label="5 real, 3 fake"),
            Case((np.array([[40.0], [-3.0]]), np.array([[-40.0], [40.0], [0.5]])),
                 label="extreme logits of +-40 (a fake taken for real with certainty)"),
            Case((np.array([[1000.0], [-1000.0]]), np.array([[-1000.0], [1000.0]])), strict_fp=True,
                 label="logits of +-1000: computed stably, no overflow (run under np.errstate(over='raise'))")]


def _naive_log(s_real, s_fake):
    with np.errstate(divide="ignore", over="ignore"):
        terms = np.concatenate([np.log(_sigmoid(s_real)), np.log(1 - _sigmoid(s_fake))])
    return float(-np.mean(terms))


Exercise(f"{LESSON}.discriminator_loss", reference=discriminator_loss, cases=_discriminator_loss_cases,
         mistakes={
             "the labels are swapped: real samples are labelled 1 (term log D(x)) and fakes 0 "
             "(term log(1 - D(G(z)))).":
                 lambda r, f: float(np.mean(np.concatenate([_softplus(r), _softplus(-f)]))),
             "the real and fake losses are each averaged and then added; Keras's binary cross-entropy "
             "on the concatenated batch averages over all N_r + N_f outputs at once.":
                 lambda r, f: float(np.mean(_softplus(-r)) + np.mean(_softplus(f))),
             "the real and fake losses are averaged separately, then their mean is taken; that weights "
             "the two batches equally whatever their sizes. Average over all N_r + N_f outputs at once.":
                 lambda r, f: float(0.5 * (np.mean(_softplus(-r)) + np.mean(_softplus(f)))),
             "the minus sign is missing: L_D = -mean[log D(x) ... ]; a cross-entropy is positive.":
                 lambda r, f: -float(np.mean(np.concatenate([_softplus(-r), _softplus(f)]))),
             "log(sigmoid(s)) overflows to -inf for a confident discriminator; use the stable forms "
             "-log sigmoid(s) = log(1 + exp(-s)) = np.logaddexp(0, -s) and -log(1 - sigmoid(s)) = "
             "np.logaddexp(0, s).": _naive_log,
         },
         output_names=("loss",),
         stable_hint=_SOFTPLUS_HINT,
         title="the discriminator's loss: binary cross-entropy, real = 1, fake = 0, from logits")


# ----------------------------------------------------------------------------- generator losses
def generator_loss_nonsaturating(d_fake_logits):
    """-mean log D(G(z)) = mean log(1 + exp(-s)), from logits s.   d_fake_logits (N, 1) -> a number."""
    return gan.generator_loss(d_fake_logits, from_logits=True, kind="non_saturating")


def generator_loss_minimax(d_fake_logits):
    """mean log(1 - D(G(z))) = -mean log(1 + exp(s)), from logits s.   d_fake_logits (N, 1) -> a number."""
    return gan.generator_loss(d_fake_logits, from_logits=True, kind="minimax")


def _generator_loss_cases(rng):
    return [Case((_logits(rng, 6),), label="6 fakes"),
            Case((_logits(rng, 3) - 4.0,), label="fakes the discriminator rejects (logits around -4)"),
            Case((np.array([[-40.0], [40.0], [0.0]]),), label="logits of -40, 40 and 0"),
            Case((np.array([[-1000.0], [1000.0], [2.0]]),), strict_fp=True,
                 label="logits of -1000 and 1000: computed stably, no overflow (run under np.errstate(over='raise'))")]


Exercise(f"{LESSON}.generator_loss_nonsaturating", reference=generator_loss_nonsaturating,
         cases=_generator_loss_cases,
         mistakes={
             "this is the minimax loss mean log(1 - D(G(z))); the non-saturating loss is "
             "-mean log D(G(z)) (binary cross-entropy with the fakes labelled 1).":
                 lambda s: float(-np.mean(_softplus(s))),
             "the minus sign is missing: L_G = -mean log D(G(z)), which is positive.":
                 lambda s: float(-np.mean(_softplus(-s))),
             "the loss is summed over the batch; average it (np.mean), as Keras does.":
                 lambda s: float(np.sum(_softplus(-s))),
         },
         output_names=("loss",),
         stable_hint=_SOFTPLUS_HINT,
         title="the generator's non-saturating loss -mean log D(G(z)), from logits")

Exercise(f"{LESSON}.generator_loss_minimax", reference=generator_loss_minimax,
         cases=_generator_loss_cases,
         mistakes={
             "the sign is flipped: the minimax generator loss is +mean log(1 - D(G(z))) = "
             "-mean log(1 + exp(s)), a negative number the generator pushes towards -infinity.":
                 lambda s: float(np.mean(_softplus(s))),
             "this is the non-saturating loss -mean log D(G(z)); the minimax one is mean log(1 - D(G(z))).":
                 lambda s: float(np.mean(_softplus(-s))),
             "the loss is summed over the batch; average it (np.mean), as Keras does.":
                 lambda s: float(-np.sum(_softplus(s))),
         },
         output_names=("loss",),
         stable_hint=_SOFTPLUS_HINT,
         title="the generator's minimax (saturating) loss mean log(1 - D(G(z))), from logits")


# ----------------------------------------------------------------------------- gradients
def generator_loss_gradients(d_fake_logits):
    """dL/ds of both generator losses, from logits s, N = len(s):
    non-saturating (sigmoid(s) - 1) / N,  minimax -sigmoid(s) / N.
    d_fake_logits (N, 1) -> (d_nonsaturating (N, 1), d_minimax (N, 1))."""
    return (gan.generator_loss_gradient(d_fake_logits, from_logits=True, kind="non_saturating"),
            gan.generator_loss_gradient(d_fake_logits, from_logits=True, kind="minimax"))


Exercise(f"{LESSON}.generator_loss_gradients", reference=generator_loss_gradients,
         cases=lambda rng: [Case((_logits(rng, 5),), label="5 fakes"),
                            Case((np.array([[-10.0], [0.0], [10.0]]),), label="logits -10, 0, 10"),
                            Case((np.array([[-1000.0], [800.0], [-50.0], [2.0]]),), strict_fp=True,
                                 label="logits -1000 and 800: the sigmoid must not overflow (run under np.errstate(over='raise'))")],
         mistakes={
             "the 1/N of the mean is missing: each gradient is divided by the batch size N.":
                 lambda s: (_sigmoid(s) - 1, -_sigmoid(s)),
             "the two gradients are swapped: non-saturating first, (sigmoid(s) - 1) / N; then minimax, "
             "-sigmoid(s) / N.":
                 lambda s: (-_sigmoid(s) / len(s), (_sigmoid(s) - 1) / len(s)),
             "these are gradients with respect to D = sigmoid(s), not to the logit s; multiply by "
             "dD/ds = D (1 - D): the results simplify to (D - 1) / N and -D / N.":
                 lambda s: (-1 / _sigmoid(s) / len(s), -1 / (1 - _sigmoid(s)) / len(s)),
             "the signs are flipped: both losses fall as D(G(z)) rises, so both gradients are negative.":
                 lambda s: ((1 - _sigmoid(s)) / len(s), _sigmoid(s) / len(s)),
         },
         output_names=("d_nonsaturating", "d_minimax"),
         stable_hint=("compute sigmoid(s) stably (exponentiate only -|s|: e = np.exp(-np.abs(s)), then "
                      "np.where(s >= 0, 1 / (1 + e), e / (1 + e))); the gradients are (sigmoid(s) - 1) / N and "
                      "-sigmoid(s) / N"),
         title="the gradients of both generator losses with respect to the discriminator's logits")


# ----------------------------------------------------------------------------- the ring data
def sample_ring_of_gaussians(u, normal, n_modes, radius, std):
    """Mode k = floor(u * n_modes), centre (radius cos(2 pi k / n_modes), radius sin(2 pi k / n_modes)),
    sample = centre + std * normal.   u (N,) in [0, 1), normal (N, 2) -> samples (N, 2)."""
    return gan.sample_ring_of_gaussians(u, normal, n_modes=n_modes, radius=radius, std=std)


def _ring_cases(rng):
    return [Case((rng.random(10), rng.standard_normal((10, 2)), 8, 2.0, 0.05), label="10 samples, 8 modes"),
            Case((np.array([0.0, 0.2, 0.49, 0.5, 0.99]), np.zeros((5, 2)), 4, 1.0, 0.1),
                 label="the centres of 4 modes (normal = 0)"),
            Case((rng.random(6), rng.standard_normal((6, 2)), 3, 3.0, 0.5), label="3 modes, radius 3, std 0.5")]


def _ring(u, normal, n_modes, radius, std, k=None, angle_scale=2 * np.pi, swap=False, scale=True):
    k = np.floor(u * n_modes).astype(int) if k is None else k
    angles = angle_scale * k / n_modes
    centres = radius * np.stack([np.sin(angles), np.cos(angles)] if swap else [np.cos(angles), np.sin(angles)], axis=1)
    return centres + (std * normal if scale else normal)


Exercise(f"{LESSON}.sample_ring_of_gaussians", reference=sample_ring_of_gaussians, cases=_ring_cases,
         mistakes={
             "the mode is rounded; take floor(u * n_modes) (np.floor, then .astype(int)) so that each "
             "mode gets an equal slice of [0, 1).":
                 lambda u, e, k, r, s: _ring(u, e, k, r, s, k=np.round(u * k).astype(int) % k),
             "the angles cover half the circle: the k-th centre is at angle 2 pi k / n_modes.":
                 lambda u, e, k, r, s: _ring(u, e, k, r, s, angle_scale=np.pi),
             "cos and sin are swapped: the centre is (radius cos(angle), radius sin(angle)).":
                 lambda u, e, k, r, s: _ring(u, e, k, r, s, swap=True),
             "the noise is not scaled: add std * normal to the centre.":
                 lambda u, e, k, r, s: _ring(u, e, k, r, s, scale=False),
         },
         output_names=("samples",),
         title="samples of a ring of Gaussians from given random numbers")


# ----------------------------------------------------------------------------- mode coverage
def mode_coverage(samples, centers, radius, min_share):
    """The number of modes with at least min_share * N / K samples within `radius` of their centre
    (each sample counted for its nearest centre).   samples (N, 2), centers (K, 2) -> an int."""
    return gan.mode_coverage(samples, centers, radius, min_share=min_share)


def _coverage_cases(rng):
    centers = gan.ring_centers(8, 2.0)
    # mode k gets counts[k] samples at distance 0.5 * radius ... plus some far away points
    def at_modes(counts, spread, far=0):
        parts = [c + spread * rng.uniform(-0.7, 0.7, size=(n, 2)) for c, n in zip(centers, counts)]
        return np.concatenate(parts + [rng.uniform(-0.5, 0.5, size=(far, 2))])
    return [Case((at_modes([30, 30, 30, 30, 0, 0, 0, 0], 0.1), centers, 0.15, 0.25), label="4 modes of 8"),
            Case((at_modes([40, 20, 2, 1, 25, 0, 12, 20], 0.1, far=40), centers, 0.15, 0.25),
                 label="uneven modes and 40 samples far from every mode"),
            Case((_ring_at_distances(centers, [0.05] * 4 + [0.3] * 4, 10, extra_close=[0, 0, 0, 0, 1, 1, 0, 0]),
                  centers, 0.15, 0.5),
                 label="modes 4-7: 10 samples each at distance 0.3 > radius (+ one close sample at modes 4, 5)"),
            Case((_threshold_and_nearest(rng), gan.ring_centers(4, 1.0), 1.0, 0.5),
                 label="4 modes, N = 40: mode 0 has exactly min_share * N / K = 5 samples (>= counts); "
                       "radius 1 reaches two centres, so each sample counts for its nearest only"),
            Case((at_modes([15, 15, 15, 15, 15, 15, 30, 0], 0.1), centers, 0.08, 0.9),
                 label="6 modes of 8 (the first case's shapes again: a second call, no state may carry over)")]


def _threshold_and_nearest(rng):
    """40 samples around 4 centres of radius 1: 5 next to centre 0 (exactly the threshold 0.5 * 40 / 4),
    4 next to centre 1, 20 next to centre 2 and 11 between centres 2 and 3, nearer 2 but within
    radius 1 of 3 as well."""
    centers = gan.ring_centers(4, 1.0)
    def near(k, n, d=0.05):
        angles = 2 * np.pi * np.arange(n) / n
        return centers[k] + d * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    between = centers[2] + 0.4 * (centers[3] - centers[2]) + 0.01 * rng.uniform(-1, 1, size=(11, 2))
    return np.concatenate([near(0, 5), near(1, 4), near(2, 20), between])


def _ring_at_distances(centers, distances, n, extra_close):
    """n samples around each centre at the given distance (in n directions), plus extra_close[k] samples
    right next to centre k."""
    angles = 2 * np.pi * np.arange(n) / n
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    parts = [c + d * ring for c, d in zip(centers, distances)]
    parts += [np.repeat(c[None] + 0.01, m, axis=0) for c, m in zip(centers, extra_close)]
    return np.concatenate(parts)


def _coverage_any(samples, centers, radius, min_share):
    return int(np.sum(gan.mode_counts(samples, centers, radius) > 0))


def _coverage_squared(samples, centers, radius, min_share):
    squared = ((samples[:, None, :] - centers[None]) ** 2).sum(-1)
    nearest = squared.argmin(1)
    close = squared[np.arange(len(samples)), nearest] <= radius
    counts = np.bincount(nearest[close], minlength=len(centers))
    return int(np.sum(counts >= min_share * len(samples) / len(centers)))


def _coverage_no_radius(samples, centers, radius, min_share):
    nearest = np.sqrt(((samples[:, None, :] - centers[None]) ** 2).sum(-1)).argmin(1)
    counts = np.bincount(nearest, minlength=len(centers))
    return int(np.sum(counts >= min_share * len(samples) / len(centers)))


Exercise(f"{LESSON}.mode_coverage", reference=mode_coverage, cases=_coverage_cases,
         mistakes={
             "a mode with a single nearby sample counts as covered; it needs a fair share: at least "
             "min_share * N / K samples within the radius.": _coverage_any,
             "squared distances are compared with the radius; take the square root first (or compare "
             "with radius ** 2).": _coverage_squared,
             "every sample counts for its nearest centre however far it is; count only those within "
             "`radius` of it.": _coverage_no_radius,
         },
         output_names=("covered",),
         title="how many modes get a fair share of the generated samples")
