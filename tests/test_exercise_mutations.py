"""A mutation test of the exercises: plausible wrong answers must fail the public cases, correct
answers written differently must pass, and a recognised mistake is named only when it is the cause.

For every exercise of every lesson the wrong variants are

- generic ones, wrappers around the reference that perturb its output (wrong sign, a factor 2 or
  1/2, a relative error of 1e-4, float32, an off-by-one slice, an element dropped or repeated,
  the order reversed, a transpose or swapped axes, an extra or a missing axis, a sum down the
  batch, rounding/floor, 0/1 as booleans, +-1 on integer outputs, swapped or missing parts of a
  tuple) or its inputs (an integer argument off by one, a number argument dropped (0) or negated,
  an input modified in place);
- hand-written ones for the boundaries each exercise states (the step at z = 0, ties, thresholds
  met exactly, even kernels, rows of very different scale, extreme logits, ...);
- its own ``mistakes``.

A generic variant that happens to equal the reference on every public case (e.g. reversing a
symmetric output) is not a wrong answer and is not counted; every hand-written variant must be
rejected. ``test_mutation_counts`` prints the counts per lesson (pytest -s).
"""
from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pytest

from course_utils import exercises as exercises_module
from course_utils.checks import _parts, _same_output, run_check, to_plain
from course_utils.exercises import copy_args, errstate_for

# every lesson with exercises (a new lesson is held to the same rules as soon as it lands)
LESSONS = sorted(lesson[:2] for lesson in exercises_module.lessons())
EXERCISES = {e.key: e for lesson in exercises_module.lessons() for e in exercises_module.load_lesson(lesson)}


def _ref(ex):
    return ex.reference


# ---------------------------------------------------------------------- generic output perturbations
def _array_perturbations(x):
    """(name, f) pairs: plausible wrong versions of one output array/number x."""
    x = np.asarray(x)
    out = []
    is_float = np.issubdtype(x.dtype, np.floating)
    if is_float:
        out += [("wrong sign", lambda v: -np.asarray(v)),
                ("a factor 2", lambda v: 2.0 * np.asarray(v)),
                ("a factor 1/2", lambda v: 0.5 * np.asarray(v)),
                ("a relative error of 1e-4", lambda v: np.asarray(v) * (1 + 1e-4)),
                ("float32", lambda v: np.asarray(v).astype(np.float32)),
                ("rounded to 3 decimals", lambda v: np.round(v, 3)),
                ("floor", lambda v: np.floor(v))]
        if x.size and np.all((x == 0) | (x == 1)):
            out.append(("0/1 as booleans", lambda v: np.asarray(v).astype(bool)))
    else:
        out += [("+1", lambda v: np.asarray(v) + 1), ("-1", lambda v: np.asarray(v) - 1)]
    if x.ndim >= 1 and x.shape[0] > 1:
        out += [("off by one: last row dropped", lambda v: np.asarray(v)[:-1]),
                ("off by one: first row dropped", lambda v: np.asarray(v)[1:]),
                ("order reversed", lambda v: np.asarray(v)[::-1]),
                ("shifted by one", lambda v: np.roll(v, 1, axis=0)),
                ("summed down the batch", lambda v: np.asarray(v).sum(axis=0))]
    if x.ndim >= 2:
        out += [("transposed", lambda v: np.swapaxes(v, -1, -2)),
                ("last axis reversed", lambda v: np.asarray(v)[..., ::-1]),
                ("one value too few on the last axis", lambda v: np.asarray(v)[..., :-1])]
    out += [("an extra axis", lambda v: np.asarray(v)[..., None])]
    if x.ndim >= 1 and 1 in x.shape:
        out.append(("keepdims missing", lambda v: np.squeeze(v)))
    if x.ndim >= 1:
        out.append(("the first value only", lambda v: np.asarray(v).ravel()[0]))
    return out


def _output_wrappers(ex, sample):
    """Wrappers around the reference that perturb its output (per part of a tuple)."""
    wrappers = []
    reference = _ref(ex)
    if isinstance(sample, tuple):
        n = len(sample)
        for i, part in enumerate(sample):
            for name, f in _array_perturbations(part):
                def w(*a, _i=i, _f=f, **k):
                    out = list(reference(*a, **k))
                    out[_i] = _f(out[_i])
                    return tuple(out)
                wrappers.append((f"{ex.output_names[i] if i < len(ex.output_names) else i}: {name}", w))
        for i, j in itertools.combinations(range(n), 2):
            def w(*a, _i=i, _j=j, **k):
                out = list(reference(*a, **k))
                out[_i], out[_j] = out[_j], out[_i]
                return tuple(out)
            wrappers.append((f"parts {i} and {j} swapped", w))
        wrappers.append(("the last part missing", lambda *a, **k: tuple(reference(*a, **k))[:-1]))
        wrappers.append(("the first part only", lambda *a, **k: tuple(reference(*a, **k))[0]))
    else:
        for name, f in _array_perturbations(sample):
            wrappers.append((name, lambda *a, _f=f, **k: _f(reference(*a, **k))))
    return wrappers


def _input_wrappers(ex, case):
    """Wrappers that call the reference with one input perturbed, or that change an input in place."""
    reference = _ref(ex)
    wrappers = []
    for i, arg in enumerate(case.args):
        if isinstance(arg, (bool, np.bool_, str)):
            continue
        if isinstance(arg, (int, np.integer)):
            for d in (1, -1):
                def w(*a, _i=i, _d=d, **k):
                    a = list(a)
                    a[_i] = a[_i] + _d
                    return reference(*a, **k)
                wrappers.append((f"argument {i} off by {d:+d}", w))
        elif isinstance(arg, (float, np.floating)):
            for name, f in (("dropped (0)", lambda v: 0.0), ("negated", lambda v: -v)):
                def w(*a, _i=i, _f=f, **k):
                    a = list(a)
                    a[_i] = _f(a[_i])
                    return reference(*a, **k)
                wrappers.append((f"argument {i} {name}", w))
        elif isinstance(arg, np.ndarray) and np.issubdtype(arg.dtype, np.floating) and arg.size:
            def w(*a, _i=i, **k):
                out = reference(*a, **k)
                a[_i][...] = a[_i] * 2 + 1          # the learner's function changed its input in place
                return out
            wrappers.append((f"argument {i} changed in place", w))
    return wrappers


# ---------------------------------------------------------------------- hand-written wrong variants
def _sig(z):
    return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))


def _softmax_global(z):
    e = np.exp(z - np.max(z))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_naive(z):
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _early_ties_improve(val_losses, patience):
    best, wait = np.inf, 0
    for epoch, loss in enumerate(val_losses):
        if loss <= best:
            best, wait = loss, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch
    return len(val_losses) - 1


def _pad_centered(n, k, s):
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total - total // 2, total // 2


def _conv_symmetric_pad(x, kernel, bias, stride, padding):
    from course_utils.exercises.lesson_06_cnn import _conv_loops
    if padding == "valid":
        pads = ((0, 0), (0, 0))
    else:
        pads = ((kernel.shape[0] // 2, kernel.shape[0] // 2), (kernel.shape[1] // 2, kernel.shape[1] // 2))
    z = _conv_loops(x, kernel, bias, stride, pads)
    n_out = [-(-x.shape[1] // stride), -(-x.shape[2] // stride)] if padding == "same" else None
    return z[:, :n_out[0], :n_out[1]] if n_out else z


def _sample_left(logits, temperature, u):
    p = np.exp(logits / temperature - np.max(logits / temperature))
    p /= p.sum()
    return min(int(np.searchsorted(np.cumsum(p), u, side="left")), len(p) - 1)


def _coverage_strict(samples, centers, radius, min_share):
    from course_utils import gan
    return int(np.sum(gan.mode_counts(samples, centers, radius) > min_share * len(samples) / len(centers)))


def _coverage_any_centre(samples, centers, radius, min_share):
    d = np.sqrt(((samples[:, None, :] - centers[None]) ** 2).sum(-1))
    counts = (d <= radius).sum(axis=0)
    return int(np.sum(counts >= min_share * len(samples) / len(centers)))


def _pool_backward_last_max(x, dout, pool_size, stride):
    dx = np.zeros_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[3]):
            for p in range(dout.shape[1]):
                for q in range(dout.shape[2]):
                    window = x[n, p * stride:p * stride + pool_size, q * stride:q * stride + pool_size, c]
                    flat = window.ravel()
                    k = len(flat) - 1 - int(np.argmax(flat[::-1]))
                    i, j = divmod(k, window.shape[1])
                    dx[n, p * stride + i, q * stride + j, c] += dout[n, p, q, c]
    return dx


def _softplus_naive(x):
    return np.log(1 + np.exp(x))


def _clipped_sig(s):
    return np.clip(_sig(s), 1e-7, 1 - 1e-7)


def _var_cancelling(x, axis=0):
    """E[x^2] - E[x]^2: catastrophic cancellation when the mean is large against the spread."""
    return (x ** 2).mean(axis=axis) - x.mean(axis=axis) ** 2


def _bn_forward_cancelling(x, gamma, beta, epsilon):
    return gamma * (x - x.mean(0)) / np.sqrt(_var_cancelling(x) + epsilon) + beta


def _moving_cancelling(moving_mean, moving_variance, x, momentum):
    n = len(x)
    var = _var_cancelling(x) * n / (n - 1)
    return momentum * moving_mean + (1 - momentum) * x.mean(0), momentum * moving_variance + (1 - momentum) * var


def _sample_unclamped(logits, temperature, u):
    z = np.asarray(logits, dtype=float) / temperature
    p = np.exp(z - z.max())
    return int(np.searchsorted(np.cumsum(p / p.sum()), u, side="right"))


def _coverage_l1(samples, centers, radius, min_share):
    d = np.abs(samples[:, None, :] - centers[None]).sum(-1)
    nearest = d.argmin(1)
    counts = np.bincount(nearest[d[np.arange(len(samples)), nearest] <= radius], minlength=len(centers))
    return int(np.sum(counts >= min_share * len(samples) / len(centers)))


HAND_WRONG = {
    "01_neuron.sigmoid": {
        "the textbook formula (overflows)": lambda z: _sig(z),
        "np.where with both branches computed (overflows)":
            lambda z: np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z))),
    },
    "01_neuron.sigmoid_derivative": {
        "exp(-z) / (1 + exp(-z))**2 (overflows)": lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2,
        "the textbook sigmoid inside": lambda z: _sig(z) * (1 - _sig(z)),
    },
    "01_neuron.relu": {
        "z where z > 0, else z / 100 (leaky)": lambda z: np.where(z > 0, z, 0.01 * z),
        "np.clip(z, 0, 1)": lambda z: np.clip(z, 0, 1),
    },
    "01_neuron.neuron_forward": {
        "the step with > (H(0) = 0)": lambda x, w, b, a: ((x @ w + b > 0).astype(float) if a == "step"
                                                          else _REF["01_neuron.neuron_forward"](x, w, b, a)),
        "tanh for sigmoid": lambda x, w, b, a: (np.tanh(x @ w + b) if a == "sigmoid"
                                                else _REF["01_neuron.neuron_forward"](x, w, b, a)),
    },
    "02_perceptron.perceptron_predict": {
        "the step with >": lambda X, w, b: (X @ w + b > 0).astype(float),
        "booleans": lambda X, w, b: X @ w + b >= 0,
    },
    "02_perceptron.perceptron_update": {
        "the step with >": lambda w, b, x, y, lr: (w + lr * (y - float(x @ w + b > 0)) * x, b + lr * (y - float(x @ w + b > 0))),
        "always updates by y": lambda w, b, x, y, lr: (w + lr * y * x, b + lr * y),
    },
    "02_perceptron.train_perceptron": {
        "examples visited in reverse order": lambda X, y, lr, e: _REF["02_perceptron.train_perceptron"](X[::-1], y[::-1], lr, e),
        "the step with >": lambda X, y, lr, e: _train_strict(X, y, lr, e),
    },
    "03_logistic_regression.bce_loss": {
        "clipped to 1e-15": lambda y, p: -np.mean(y * np.log(np.clip(p, 1e-15, 1 - 1e-15))
                                                  + (1 - y) * np.log(np.clip(1 - p, 1e-15, 1))),
        "p clipped from below only": lambda y, p: -np.mean(y * np.log(np.clip(p, 1e-7, None))
                                                           + (1 - y) * np.log(1 - np.clip(p, 1e-7, None))),
    },
    "04_mlp_backprop.softmax": {
        "one global max (rows of different scale underflow)": _softmax_global,
        "no max-shift (overflows)": _softmax_naive,
        "the max of axis 0": lambda z: np.exp(z - z.max(axis=0)) / np.exp(z - z.max(axis=0)).sum(axis=-1, keepdims=True),
    },
    "04_mlp_backprop.mlp_forward": {
        "sigmoid instead of relu": lambda x, W1, b1, W2, b2: _REF["04_mlp_backprop.softmax"](_sig(x @ W1 + b1) @ W2 + b2),
    },
    "05_training.dropout_forward": {
        "kept where u > rate": lambda x, rate, u: x * (u > rate) / (1 - rate),
        "kept where u >= rate, scaled by 1 / rate": lambda x, rate, u: x * (u >= rate) / max(rate, 1e-12),
    },
    "05_training.early_stopping_epoch": {
        "a tie counts as an improvement (<=)": _early_ties_improve,
    },
    "06_cnn.same_padding": {
        "the extra zero before (centred the other way)": _pad_centered,
        "k // 2 on both sides": lambda n, k, s: (k // 2, k // 2),
        "(k - 1) // 2 before, k // 2 after, whatever the stride": lambda n, k, s: ((k - 1) // 2, k // 2),
    },
    "06_cnn.output_size": {
        "'same' as n // s + 1": lambda n, k, s, p: n // s + 1 if p == "same" else (n - k) // s + 1,
        "'valid' as ceil((n - k) / s) + 1": lambda n, k, s, p: -(-n // s) if p == "same" else -(-(n - k) // s) + 1,
    },
    "06_cnn.conv2d_forward": {
        "k // 2 zeros on every side (wrong for even kernels)": _conv_symmetric_pad,
    },
    "06_cnn.max_pool2d_backward": {
        "ties: the last max gets the gradient": _pool_backward_last_max,
    },
    "07_rnn.sample_with_temperature": {
        "cumsum >= u (np.searchsorted side='left')": _sample_left,
    },
    "08_gan.discriminator_loss": {
        "log of a clipped sigmoid": lambda r, f: float(-np.mean(np.concatenate([np.log(_clipped_sig(r)),
                                                                                 np.log(1 - _clipped_sig(f))]))),
        "log(1 + exp(...)) (overflows)": lambda r, f: float(np.mean(np.concatenate([_softplus_naive(-r), _softplus_naive(f)]))),
    },
    "08_gan.generator_loss_nonsaturating": {
        "log of a clipped sigmoid": lambda s: float(-np.mean(np.log(_clipped_sig(s)))),
        "log(1 + exp(-s)) (overflows)": lambda s: float(np.mean(_softplus_naive(-s))),
        "-log of the textbook sigmoid": lambda s: float(-np.mean(np.log(_sig(s)))),
    },
    "08_gan.generator_loss_minimax": {
        "log of a clipped sigmoid": lambda s: float(np.mean(np.log(1 - _clipped_sig(s)))),
        "-log(1 + exp(s)) (overflows)": lambda s: float(-np.mean(_softplus_naive(s))),
        "log(1 - textbook sigmoid)": lambda s: float(np.mean(np.log(1 - _sig(s)))),
    },
    "03_logistic_regression.bce_loss#21": {
        "log(p + 1e-7) instead of clipping p": lambda y, p: -np.mean(y * np.log(p + 1e-7) + (1 - y) * np.log(1 - p + 1e-7)),
    },
    "04_mlp_backprop.cross_entropy": {
        "log(p + 1e-7) instead of clipping p": lambda y, p: -np.mean(np.sum(y * np.log(p + 1e-7), axis=-1)),
    },
    "06_cnn.output_size#21": {
        "round() for floor (valid) and ceil (same)": lambda n, k, s, p: round(n / s) if p == "same" else round((n - k) / s) + 1,
        "int() of the division for 'same'": lambda n, k, s, p: int(n / s) if p == "same" else (n - k) // s + 1,
    },
    "06_cnn.same_padding#21": {
        "round(total / 2) before": lambda n, k, s: (lambda t: (round(t / 2), t - round(t / 2)))(max((-(-n // s) - 1) * s + k - n, 0)),
    },
    "07_rnn.sample_with_temperature#21": {
        "u -> 1 not clamped (one past the end)": _sample_unclamped,
    },
    "09_deep_networks.batchnorm_forward": {
        "var = E[x^2] - E[x]^2 (cancellation)": _bn_forward_cancelling,
    },
    "09_deep_networks.update_moving_statistics": {
        "var = E[x^2] - E[x]^2 (cancellation)": _moving_cancelling,
    },
    "08_gan.mode_coverage#21": {
        "L1 distance for L2": _coverage_l1,
    },
    "08_gan.mode_coverage": {
        "a count must exceed the threshold (>)": _coverage_strict,
        "a sample counts for every centre within the radius": _coverage_any_centre,
    },
    "12_language_models.rms_norm": {
        "the mean over every axis": lambda x, s, e=1e-6: x / np.sqrt(np.mean(x * x) + e) * s,
        "epsilon hard-coded to 1e-6": lambda x, s, e=1e-6: x / np.sqrt(np.mean(x * x, -1, keepdims=True) + 1e-6) * s,
    },
    "12_language_models.merge_pair": {
        "np.where on the matches, overlaps kept": lambda ids, a, b, n: _merge_all_matches(ids, a, b, n),
    },
    "12_language_models.attend_with_cache": {
        "the textbook softmax (overflows)": lambda q, k, v, Kc, Vc: _cache_naive(q, k, v, Kc, Vc),
    },
    "13_diffusion.q_sample": {
        "alpha_bar of the first example's step for every example": lambda x0, t, e, a: np.sqrt(a[t[0]]) * x0 + np.sqrt(1 - a[t[0]]) * e,
        "signal and noise factors swapped": lambda x0, t, e, a: _q13(x0, t, e, a, swap=True),
    },
    "13_diffusion.ddpm_step": {
        "divides the mean by sqrt(alpha_bar_t), not sqrt(alpha_t)": lambda x, t, e, b, z: _ddpm13(x, t, e, b, z, divide_by_bar=True),
        "reads betas[t - 1] (off by one)": lambda x, t, e, b, z: _REF["13_diffusion.ddpm_step"](x, t, e, np.roll(b, 1) if t else b, z),
    },
    "13_diffusion.ddim_step": {
        "x0_hat clipped to [-1, 1]": lambda x, t, s, e, a: _ddim13(x, t, s, e, a, clip=True),
        "alpha_bar[t_prev + 1] (off by one)": lambda x, t, s, e, a: _ddim13(x, t, s, e, a, shift=1),
    },
}


def _q13(x0, t, e, a, swap=False):
    c = a[t].reshape((len(t),) + (1,) * (np.ndim(x0) - 1))
    return (np.sqrt(1 - c) * x0 + np.sqrt(c) * e) if swap else (np.sqrt(c) * x0 + np.sqrt(1 - c) * e)


def _ddpm13(x, t, e, b, z, divide_by_bar=False):
    a = np.cumprod(1 - b)
    prev = a[t - 1] if t else 1.0
    mean = (x - b[t] / np.sqrt(1 - a[t]) * e) / np.sqrt(a[t] if divide_by_bar else 1 - b[t])
    return mean + np.sqrt(b[t] * (1 - prev) / (1 - a[t])) * z


def _ddim13(x, t, s, e, a, clip=False, shift=0):
    prev = a[s + shift] if s + shift >= 0 and s + shift < len(a) else 1.0
    x0 = (x - np.sqrt(1 - a[t]) * e) / np.sqrt(a[t])
    x0 = np.clip(x0, -1, 1) if clip else x0
    return np.sqrt(prev) * x0 + np.sqrt(1 - prev) * e


def _merge_all_matches(ids, a, b, new_id):
    match = np.append((ids[:-1] == a) & (ids[1:] == b), False)
    keep = ~np.concatenate([[False], match[:-1]])
    return np.where(match, new_id, ids)[keep]


def _cache_naive(q, k, v, Kc, Vc):
    K, V = np.concatenate([Kc, k[:, None]], axis=1), np.concatenate([Vc, v[:, None]], axis=1)
    e = np.exp(np.einsum("nd,nsd->ns", q, K) / np.sqrt(q.shape[-1]))
    return np.einsum("ns,nsv->nv", e / e.sum(-1, keepdims=True), V), K, V


def _pairs_add_at(ids, V):
    counts = np.zeros((V, V), dtype=int)
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    return counts


def _pairs_counter(ids, V):
    from collections import Counter
    counts = np.zeros((V, V), dtype=int)
    for (a, b), n in Counter(zip(ids.tolist(), ids[1:].tolist())).items():
        counts[a, b] = n
    return counts


def _merge_loop(ids, a, b, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(int(ids[i]))
            i += 1
    return np.array(out)


for _key in [k for k in HAND_WRONG if "#" in k]:
    HAND_WRONG.setdefault(_key.split("#")[0], {}).update(HAND_WRONG.pop(_key))


def _train_strict(X, y, lr, epochs):
    w, b, errors = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        n = 0
        for x_i, y_i in zip(X, y):
            y_hat = float(x_i @ w + b > 0)
            n += int(y_hat != y_i)
            w, b = w + lr * (y_i - y_hat) * x_i, b + lr * (y_i - y_hat)
        errors.append(n)
    return w, b, np.array(errors)


_REF = {k: e.reference for k, e in EXERCISES.items()}


# ---------------------------------------------------------------------- correct alternatives
def _as_list(f):
    return lambda *a, **k: list(f(*a, **k)) if isinstance(f(*a, **k), tuple) else f(*a, **k)


def _early_loop(val_losses, patience):
    best, wait = np.inf, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best:
            best, wait = loss, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch
    return len(val_losses) - 1


def _softmax_loops(z):
    out = np.empty_like(z, dtype=float)
    for idx in np.ndindex(z.shape[:-1]):
        row = z[idx] - max(z[idx])
        e = np.exp(row)
        out[idx] = e / e.sum()
    return out


def _sigmoid_expit(z):
    from scipy.special import expit
    return expit(np.asarray(z, dtype=float))


def _softplus(x):
    return np.logaddexp(0.0, x)


CORRECT = {
    "01_neuron.weighted_sum": {"einsum": lambda x, w, b: np.einsum("...d,d->...", x, w) + b,
                               "a loop over features": lambda x, w, b: sum(x[..., i] * w[i] for i in range(len(w))) + b},
    "01_neuron.sigmoid": {"scipy's expit": _sigmoid_expit,
                          "tanh form": lambda z: 0.5 * (1 + np.tanh(0.5 * np.asarray(z, dtype=float)))},
    "01_neuron.relu": {"np.where": lambda z: np.where(z > 0, z, 0.0), "z * (z > 0)": lambda z: z * (z > 0)},
    "02_perceptron.perceptron_predict": {"np.where": lambda X, w, b: np.where(X @ w + b >= 0, 1.0, 0.0),
                                         "ints": lambda X, w, b: (X @ w + b >= 0).astype(int)},
    "02_perceptron.perceptron_update": {"a list": lambda w, b, x, y, lr: list(_REF["02_perceptron.perceptron_update"](w, b, x, y, lr))},
    "03_logistic_regression.bce_gradient": {"einsum": lambda X, y, w, b: (
        np.einsum("nd,n->d", X, _sigmoid_expit(X @ w + b) - y) / len(y), np.mean(_sigmoid_expit(X @ w + b) - y))},
    "04_mlp_backprop.softmax": {"loops over rows": _softmax_loops},
    "04_mlp_backprop.dense_backward": {"einsum": lambda x, W, d: (np.einsum("nh,dh->nd", d, W), np.einsum("nd,nh->dh", x, d),
                                                                  np.einsum("nh->h", d)),
                                       "a list": lambda x, W, d: [d @ W.T, x.T @ d, d.sum(axis=0)]},
    "05_training.early_stopping_epoch": {"a loop": _early_loop},
    "05_training.adam_update": {"the paper's form (eps scaled to Keras's)": lambda w, g, m, v, t, lr, b1, b2, eps: (
        lambda m2, v2: (w - lr * (m2 / (1 - b1 ** t)) / (np.sqrt(v2 / (1 - b2 ** t)) + eps / np.sqrt(1 - b2 ** t)), m2, v2))(
        b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g)},
    "05_training.dropout_forward": {"np.where": lambda x, rate, u: np.where(u >= rate, x / (1 - rate), 0.0)},
    "06_cnn.correlate2d": {"loops": lambda image, kernel: _loops_correlate(image, kernel)},
    "06_cnn.same_padding": {"a list": lambda n, k, s: list(_REF["06_cnn.same_padding"](n, k, s)),
                            "numpy ints": lambda n, k, s: tuple(np.int64(v) for v in _REF["06_cnn.same_padding"](n, k, s))},
    "06_cnn.output_size": {"math.ceil / math.floor": lambda n, k, s, p: (__import__("math").ceil(n / s) if p == "same"
                                                                         else __import__("math").floor((n - k) / s) + 1)},
    "07_rnn.rnn_step": {"einsum": lambda x, h, Wx, Wh, b: np.tanh(np.einsum("nf,fu->nu", x, Wx) + np.einsum("nv,vu->nu", h, Wh) + b)},
    "07_rnn.sample_with_temperature": {"a loop over the cumulative sum": lambda logits, T, u: _sample_loop(logits, T, u)},
    "08_gan.discriminator_loss": {"softplus": lambda r, f: np.mean(np.concatenate([_softplus(-r), _softplus(f)]))},
    "08_gan.generator_loss_minimax": {"-softplus": lambda s: -np.mean(_softplus(s))},
    "08_gan.mode_coverage": {"loops": lambda samples, centers, radius, min_share: _coverage_loops(samples, centers, radius, min_share)},
    "12_language_models.count_pairs": {"np.add.at": lambda ids, V: _pairs_add_at(ids, V),
                                       "a Counter of zip(ids, ids[1:])": lambda ids, V: _pairs_counter(ids, V)},
    "12_language_models.merge_pair": {"a while loop over a list": lambda ids, a, b, n: _merge_loop(ids, a, b, n)},
    "12_language_models.causal_mask": {"np.tril with k = S - T": lambda T, S=None: np.tril(
        np.ones((T, T if S is None else S), dtype=bool), k=(T if S is None else S) - T)},
    "12_language_models.rms_norm": {"np.linalg.norm": lambda x, s, e=1e-6: x / np.sqrt(
        np.linalg.norm(x, axis=-1, keepdims=True) ** 2 / x.shape[-1] + e) * s},
    "12_language_models.attend_with_cache": {"a list of outputs": lambda *a: list(_REF["12_language_models.attend_with_cache"](*a))},
    "13_diffusion.q_sample": {"a loop over the examples": lambda x0, t, e, a: np.stack(
        [np.sqrt(a[ti]) * xi + np.sqrt(1 - a[ti]) * ei for xi, ti, ei in zip(x0, t, e)]),
        "alpha_bar indexed with t as a Python list, reshaped": lambda x0, t, e, a: _q13(x0, list(t), e, a)},
    "13_diffusion.ddpm_step": {"through x0_hat and the posterior mean": lambda x, t, e, b, z: _ddpm_posterior13(x, t, e, b, z)},
    "13_diffusion.ddim_step": {"as a ratio of x_t": lambda x, t, s, e, a: (lambda p: np.sqrt(p / a[t]) * x + (
        np.sqrt(1 - p) - np.sqrt(p / a[t]) * np.sqrt(1 - a[t])) * e)(a[s] if s >= 0 else 1.0)},
}


def _ddpm_posterior13(x, t, e, b, z):
    a = np.cumprod(1 - b)
    prev = a[t - 1] if t > 0 else 1.0
    x0 = (x - np.sqrt(1 - a[t]) * e) / np.sqrt(a[t])
    mean = (np.sqrt(prev) * b[t] * x0 + np.sqrt(1 - b[t]) * (1 - prev) * x) / (1 - a[t])
    return mean + np.sqrt(b[t] * (1 - prev) / (1 - a[t])) * z


def _loops_correlate(image, kernel):
    kh, kw = kernel.shape
    return np.array([[np.sum(image[p:p + kh, q:q + kw] * kernel) for q in range(image.shape[1] - kw + 1)]
                     for p in range(image.shape[0] - kh + 1)])


def _sample_loop(logits, T, u):
    z = np.asarray(logits, dtype=float) / T
    e = np.exp(z - z.max())
    p = e / e.sum()
    total = 0.0
    for k, pk in enumerate(p):
        total += pk
        if total > u:
            return k
    return len(p) - 1


def _coverage_loops(samples, centers, radius, min_share):
    counts = [0] * len(centers)
    for s in samples:
        d = [float(np.hypot(*(s - c))) for c in centers]
        k = int(np.argmin(d))
        if d[k] <= radius:
            counts[k] += 1
    return sum(c >= min_share * len(samples) / len(centers) for c in counts)


# ---------------------------------------------------------------------- helpers
def _equals_reference_everywhere(ex, f):
    """True when f gives the reference's output on every public case (then it is not wrong here)."""
    for case in ex.public_cases():
        try:
            with np.errstate(all="ignore"), errstate_for(case):
                a = copy_args(case.args)
                got = to_plain(f(*a))
                changed = any(isinstance(o, np.ndarray) and not np.array_equal(o, p)
                              for o, p in zip(case.args, a))
        except Exception:
            return False
        if changed or not _same_output(to_plain(ex.expected(case)), got, ex.rtol, ex.atol) \
                or _dtype_differs(to_plain(ex.expected(case)), got):
            return False
    return True


def _dtype_differs(e, g):
    if isinstance(e, tuple):
        return not isinstance(g, tuple) or any(_dtype_differs(a, b) for a, b in zip(e, g))
    e, g = np.asarray(e), np.asarray(g)
    return (g.dtype == bool and e.dtype != bool) or (np.issubdtype(g.dtype, np.floating) and g.dtype.itemsize < 8)


def _rejected(key, f):
    return not run_check(key, f).ok


def _generic_variants(ex):
    cases = ex.public_cases()
    sample = to_plain(ex.expected(cases[0]))
    variants = _output_wrappers(ex, sample)
    seen = set()
    for case in cases:
        for name, w in _input_wrappers(ex, case):
            if name not in seen:
                seen.add(name)
                variants.append((name, w))
    return variants


FUNCTION_KEYS = sorted(k for k, e in EXERCISES.items() if e.kind == "function")


def test_every_lesson_has_exercises():
    assert {k[:2] for k in EXERCISES} == set(LESSONS)
    assert set(LESSONS) >= {f"{n:02d}" for n in range(1, 9)}


@pytest.mark.parametrize("key", FUNCTION_KEYS)
def test_generic_wrong_variants_are_rejected(key):
    ex = EXERCISES[key]
    accepted = []
    for name, variant in _generic_variants(ex):
        if _equals_reference_everywhere(ex, variant):
            continue     # not a wrong answer on these inputs (e.g. reversing a symmetric output)
        if not _rejected(key, variant):
            accepted.append(name)
    assert not accepted, f"{key}: the public cases accept the wrong variants {accepted}"


@pytest.mark.parametrize("key", sorted(HAND_WRONG))
def test_hand_written_wrong_variants_are_rejected(key):
    for name, variant in HAND_WRONG[key].items():
        assert not _equals_reference_everywhere(EXERCISES[key], variant), f"{key}: {name!r} equals the reference"
        assert _rejected(key, variant), f"{key}: the public cases accept {name!r}"


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_every_recognised_mistake_is_rejected_and_named(key):
    """Each recognised mistake fails the public cases, and check() names it (the real cause) -
    unless another recognised mistake gives the very same outputs on every case."""
    ex = EXERCISES[key]
    for sentence, wrong in ex.mistakes.items():
        f = wrong if ex.kind == "function" else (lambda: wrong)
        answer = f if ex.kind == "function" else (wrong() if callable(wrong) else wrong)
        result = run_check(key, answer)
        assert not result.ok, f"{key}: the mistake {sentence!r} passes"
        message = result.message()
        if "overflowed" in message or "not finite" in message:
            continue     # a strict-fp case stopped it first: the overflow hint is the cause there
        assert "Likely mistake" in message and sentence in message, f"{key}: {sentence!r} not named:\n{message}"


@pytest.mark.parametrize("key", FUNCTION_KEYS)
def test_no_mistake_is_named_for_a_correct_answer_in_another_dtype(key):
    """A correct answer returned as float32 (or, where the outputs are 0/1, as booleans) is told
    about its dtype only."""
    ex = EXERCISES[key]
    outputs = [to_plain(ex.expected(c)) for c in ex.public_cases()]
    flat = [np.asarray(p) for o in outputs for p in (o if isinstance(o, tuple) else (o,))]
    casts = [lambda v: np.asarray(v).astype(np.float32)]
    if all(np.all((f == 0) | (f == 1)) for f in flat):
        casts.append(lambda v: np.asarray(v).astype(bool))
    for cast in casts:
        def answer(*a, _cast=cast, **k):
            out = ex.reference(*a, **k)
            return tuple(_cast(o) for o in out) if isinstance(out, tuple) else _cast(out)
        message = run_check(key, answer).message()
        assert "Likely mistake" not in message, f"{key}: {message}"


@pytest.mark.parametrize("key", sorted(CORRECT))
def test_correct_alternatives_are_accepted(key):
    for name, f in CORRECT[key].items():
        result = run_check(key, f)
        assert result.ok, f"{key}: the correct {name!r} is rejected:\n{result.message()}"


@pytest.mark.parametrize("key", FUNCTION_KEYS)
def test_generic_correct_alternatives_are_accepted(key):
    """Lists for tuples, Python floats for 0-d arrays, a Fortran-ordered copy: all accepted."""
    ex = EXERCISES[key]

    def as_list(*a, **k):
        out = ex.reference(*a, **k)
        return list(out) if isinstance(out, tuple) else out

    def pythonic(*a, **k):
        out = ex.reference(*a, **k)
        conv = (lambda v: v.item() if isinstance(v, np.ndarray) and v.ndim == 0
                else (np.asfortranarray(v) if isinstance(v, np.ndarray) else v))
        return tuple(conv(o) for o in out) if isinstance(out, tuple) else conv(out)

    for f in (as_list, pythonic):
        result = run_check(key, f)
        assert result.ok, result.message()


def test_mutation_counts(capsys):
    """The counts per lesson (run with -s to see them): wrong variants rejected / total, correct
    alternatives accepted / total."""
    counts = defaultdict(lambda: [0, 0, 0, 0])
    for key, ex in sorted(EXERCISES.items()):
        lesson = key[:2]
        # every class: generic, hand-written, recognised mistakes, hard-coded arguments, stateful,
        # naive internal sigmoid/softmax (a fresh answer per check: a stateful one starts empty)
        variants = _all_variants(ex) if ex.kind == "function" else []
        for name, make in variants:
            if name not in ("stateful", "naive internal sigmoid/softmax") and _equals_reference_everywhere(ex, make()):
                continue
            if name == "naive internal sigmoid/softmax":
                answer, calls = _with_naive_internals(ex)
                rejected = _rejected(key, answer)
                if not calls[0]:
                    continue          # the reference computes no sigmoid/softmax: not a variant here
            else:
                rejected = _rejected(key, make())
            counts[lesson][1] += 1
            counts[lesson][0] += rejected
        for name, f in CORRECT.get(key, {}).items():
            counts[lesson][3] += 1
            counts[lesson][2] += run_check(key, f).ok
    with capsys.disabled():
        print("\nlesson: wrong variants rejected / total; correct alternatives accepted / total")
        for lesson in sorted(counts):
            r, t, a, c = counts[lesson]
            print(f"  {lesson}: {r}/{t}; {a}/{c}")
    for lesson, (r, t, a, c) in counts.items():
        assert r == t and a == c, (lesson, r, t, a, c)


# ---------------------------------------------------------------------- hints that are the cause
def _message(key, f):
    result = run_check(key, f)
    assert not result.ok
    return result.message()


def test_success_says_public_tests():
    assert run_check("01_neuron.relu", EXERCISES["01_neuron.relu"].reference).message() == \
        "\u2714 01_neuron.relu: all 3 public tests passed."


def test_each_part_of_a_tuple_of_numbers_is_named():
    ref = EXERCISES["06_cnn.same_padding"].reference
    message = _message("06_cnn.same_padding", lambda n, k, s: (ref(n, k, s)[0], ref(n, k, s)[1] + 1))
    assert "- pad_after is wrong" in message and "pad_before" not in message.split("\n")[1]


def test_a_mistake_is_named_only_when_it_explains_every_case():
    calls = []

    def answer(x, w, b):                        # the bias is missing on the first case only
        calls.append(1)
        return x @ w if len(calls) == 1 else x @ w + 2 * b
    message = _message("01_neuron.weighted_sum", answer)
    assert "Likely mistake" not in message
    assert "Likely mistake: the bias b is missing" in _message("01_neuron.weighted_sum", lambda x, w, b: x @ w)


def test_booleans_are_told_their_dtype_not_a_mistake():
    message = _message("02_perceptron.perceptron_predict", lambda X, w, b: X @ w + b >= 0)
    assert "boolean" in message and "Likely mistake" not in message


def test_float32_policy_is_one_message_everywhere():
    for key in ("01_neuron.sigmoid", "04_mlp_backprop.softmax", "08_gan.generator_loss_gradients"):
        ref = EXERCISES[key].reference
        message = _message(key, lambda *a, _r=ref: tuple(np.float32(o) for o in _r(*a)) if isinstance(_r(*a), tuple)
                           else np.asarray(_r(*a), dtype=np.float32))
        assert "is float32; compute in float64" in message, message


@pytest.mark.parametrize("got_shape, hint", [
    ((3, 4, 2), "axes are in another order"),
    ((2, 3), "Axis 2 (of length 4) is missing"),
    ((2, 3, 3), "Axis 2 has length 3 instead of 4: off by one"),
    ((2, 3, 4, 1), "extra axis 3 of length 1"),
])
def test_the_shape_hint_fits_the_shapes(got_shape, hint):
    from course_utils.checks import compare_arrays
    expected = np.arange(24.0).reshape(2, 3, 4)
    got = {(3, 4, 2): np.transpose(expected, (1, 2, 0)), (2, 3, 3): expected[..., 1:]}.get(got_shape, np.ones(got_shape))
    message = compare_arrays(expected, got)
    assert hint in message, message
    assert "which axis you sum over" not in message


def test_values_that_print_alike_show_more_digits_and_the_difference():
    from course_utils.checks import compare_arrays
    message = compare_arrays(np.float64(0.041326), np.float64(0.0413261))
    assert "expected 0.041326, got 0.0413261 (a difference of" in message, message
    assert compare_arrays(np.float64(0.5), np.float64(0.25)) == "the output is wrong: expected 0.5, got 0.25."


def test_stability_hints_name_the_fix_for_the_formula():
    minimax = _message("08_gan.generator_loss_minimax", lambda s: float(np.mean(np.log(1 - 1 / (1 + np.exp(-s))))))
    assert "np.logaddexp(0, s)" in minimax and "subtract the max" not in minimax
    softmax = _message("04_mlp_backprop.softmax", lambda z: np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True))
    assert "each row's own max" in softmax and "np.errstate" in softmax
    sigmoid = _message("01_neuron.sigmoid", lambda z: 1 / (1 + np.exp(-z)))
    assert "overflowed" in sigmoid and "np.exp(-np.abs(z))" in sigmoid


# ---------------------------------------------------------------------- issue 21: the new mutant classes
# Generic classes, built for every exercise from its reference and its public cases:
# - square-only: two axes of one input always of the same size (an answer that uses one axis's
#   size for both passes); kernel sizes given as (kh, kw) always equal;
# - hard-coded argument: a number, string or flag fixed at its first case's value;
# - optional argument: never left at its default, or never given;
# - stateful: an answer that returns what it computed on the first call for inputs of the same
#   shapes (a global re-initialised only when the input shape changes);
# - naive internal sigmoid/softmax/softplus/log-softmax: the reference with the library's stable
#   functions swapped for the textbook formulas, wherever it uses them.
# Hand-written classes (exercise by exercise): E[x^2] - E[x]^2 variances, log(p + eps) for a
# clipped log, L1 for L2 distances, round/ceil for floor, and samplers at u -> 1.
import inspect
import sys

# axes of one input that are equal by definition (a recurrent kernel is (units, units), ...)
SAME_BY_DEFINITION = {
    "07_rnn.rnn_step": {(3, 0, 1)}, "07_rnn.rnn_forward": {(3, 0, 1)}, "07_rnn.rnn_step_backward": {(5, 0, 1)},
}
# arguments that may stay constant across the public cases (with the reason)
CONSTANT_ALLOWED = {}


def _scalar(v):
    return isinstance(v, (bool, int, float, str, np.number, np.bool_))


def test_axis_sizes_are_independent():
    """Square-only class: no two axes of one input have the same size in every public case."""
    problems = []
    for key in FUNCTION_KEYS:
        cases = EXERCISES[key].public_cases()
        n_args = min(len(c.args) for c in cases)
        for i in range(n_args):
            values = [c.args[i] for c in cases]
            if all(isinstance(v, np.ndarray) for v in values):
                ndim = {v.ndim for v in values}
                if len(ndim) != 1 or ndim.pop() < 2:
                    continue
                for a, b in itertools.combinations(range(values[0].ndim), 2):
                    if (i, a, b) in SAME_BY_DEFINITION.get(key, ()):
                        continue
                    if all(v.shape[a] == v.shape[b] for v in values):
                        problems.append(f"{key}: argument {i} has axes {a} and {b} of equal size in every case")
            elif all(isinstance(v, tuple) and len(v) == 2 and all(_scalar(x) for x in v) for v in values):
                if all(v[0] == v[1] for v in values):
                    problems.append(f"{key}: argument {i} {values[0]} is square in every case")
    assert not problems, "\n".join(problems)


def _hard_coded_variants(ex):
    """The reference with one scalar argument (positional or keyword) fixed at its first value."""
    cases = ex.public_cases()
    first = cases[0]
    variants = []
    names = ex.parameter_names
    for i, v in enumerate(first.args):
        if _scalar(v):
            def w(*a, _i=i, _v=v, **k):
                a = list(a)
                if _i < len(a):
                    a[_i] = _v
                return ex.reference(*a, **k)
            variants.append((f"argument {names[i] if i < len(names) else i} hard-coded to {v!r}", w))
    kw_values = {}
    for c in cases:
        for k, v in c.kwargs.items():
            if _scalar(v):
                kw_values.setdefault(k, v)
    for k, v in kw_values.items():
        def w(*a, _k=k, _v=v, **kw):
            kw = dict(kw)
            kw[_k] = _v
            return ex.reference(*a, **kw)
        variants.append((f"keyword {k} hard-coded to {v!r}", w))
    return variants


@pytest.mark.parametrize("key", FUNCTION_KEYS)
def test_hard_coded_arguments_are_rejected(key):
    ex = EXERCISES[key]
    accepted = [name for name, f in _hard_coded_variants(ex)
                if name.split(" hard-coded")[0].split()[-1] not in CONSTANT_ALLOWED.get(key, ())
                and not _rejected(key, f)]
    assert not accepted, f"{key}: the public cases accept {accepted}"


def test_optional_arguments_are_left_at_their_default_and_given():
    problems = []
    for key in FUNCTION_KEYS:
        ex = EXERCISES[key]
        params = list(inspect.signature(ex.reference).parameters.values())
        for index, p in enumerate(params):
            if p.default is inspect.Parameter.empty:
                continue
            given = [index < len(c.args) or p.name in c.kwargs for c in ex.public_cases()]
            if all(given) or not any(given):
                problems.append(f"{key}: {p.name} is {'always' if all(given) else 'never'} given")
    assert not problems, "\n".join(problems)


def _stateful(ex):
    """An answer that keeps state between calls: the output of the first call for these input shapes."""
    memory = {}

    def answer(*a, **k):
        shapes = tuple(np.shape(v) for v in a if isinstance(v, np.ndarray))
        if shapes not in memory:
            memory[shapes] = ex.reference(*a, **k)
        return copy_args(memory[shapes])
    return answer


@pytest.mark.parametrize("key", FUNCTION_KEYS)
def test_a_stateful_answer_is_rejected(key):
    """Every check calls the function twice with inputs of the same shapes (and other values)."""
    assert _rejected(key, _stateful(EXERCISES[key])), f"{key}: an answer that keeps state between calls passes"


def _naive_sigmoid(z):
    return 1 / (1 + np.exp(-np.asarray(z, dtype=np.float64)))


def _naive_softmax(z, axis=-1):
    e = np.exp(np.asarray(z, dtype=np.float64))
    return e / e.sum(axis=axis, keepdims=True)


def _naive_softplus(z):
    return np.log(1 + np.exp(z))


def _naive_log_softmax(z, axis=-1):
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def _naive_internals():
    """{stable function object: textbook replacement}: the library's and the lessons' own."""
    from course_utils.nn import activations
    table = {activations.sigmoid: _naive_sigmoid, activations.softmax: _naive_softmax,
             activations.softplus: _naive_softplus, activations.log_softmax: _naive_log_softmax}
    for key, naive in (("01_neuron.sigmoid", _naive_sigmoid), ("04_mlp_backprop.softmax", _naive_softmax),
                       ("11_attention.softmax", _naive_softmax)):
        table[EXERCISES[key].reference] = naive
    return table


def _with_naive_internals(ex):
    """The reference run with every stable sigmoid/softmax it reaches swapped for the textbook one
    (in every course_utils module that holds it); (answer, calls) - calls counts the swapped calls."""
    table = _naive_internals()
    calls = [0]

    def counting(naive):
        def f(*a, **k):       # run under the case's own np.errstate, as a learner's code would be
            calls[0] += 1
            return naive(*a, **k)
        return f

    def answer(*a, **k):
        patched = []
        try:
            for module in [m for name, m in list(sys.modules.items()) if name.startswith("course_utils") and m]:
                for attr, value in list(vars(module).items()):
                    if callable(value) and value in table and value is not ex.reference:
                        patched.append((module, attr, value))
                        setattr(module, attr, counting(table[value]))
            return ex.reference(*a, **k)
        finally:
            for module, attr, value in patched:
                setattr(module, attr, value)
    return answer, calls


@pytest.mark.parametrize("key", FUNCTION_KEYS)
def test_a_naive_internal_sigmoid_or_softmax_is_rejected(key):
    """Stability is held everywhere, not only where it is taught: an exercise whose reference
    computes a sigmoid, softmax or softplus inside has a public case where the textbook formula fails."""
    ex = EXERCISES[key]
    answer, calls = _with_naive_internals(ex)
    rejected = _rejected(key, answer)
    if calls[0]:
        assert rejected, f"{key}: the textbook sigmoid/softmax inside passes every public case"


# ---------------------------------------------------------------------- issue 21: a hint is the variant's own
def _all_variants(ex):
    """Every wrong variant of the mutation suite for one function exercise, as (name, factory):
    a factory makes a fresh answer (a stateful one must start empty for each check)."""
    plain = _generic_variants(ex) + list(HAND_WRONG.get(ex.key, {}).items()) + list(ex.mistakes.items()) \
        + _hard_coded_variants(ex)
    made = [(name, (lambda f=f: f)) for name, f in plain]
    made.append(("stateful", lambda: _stateful(ex)))
    made.append(("naive internal sigmoid/softmax", lambda: _with_naive_internals(ex)[0]))
    return made


def _outputs(ex, f):
    """f's plain outputs on the public cases (None where it raises), fresh state for the run."""
    outs = []
    for case in ex.public_cases():
        try:
            with errstate_for(case):
                outs.append(to_plain(f(*copy_args(case.args), **copy_args(case.kwargs)), ex.n_outputs))
        except Exception:
            outs.append(None)
    return outs


def _stability_hints(ex):
    from course_utils import checks
    return [h for h in (checks.GENERIC_STABLE_HINT, checks.NAN_HINT, checks.SUBTRACT_INF_HINT, checks.ZERO_BY_ZERO_HINT,
                        checks.LOG_ZERO_HINT, checks.LOG_NEGATIVE_HINT, checks.SQRT_NEGATIVE_HINT,
                        checks.ZERO_TIMES_INF_HINT, ex.stable_hint, "overflowed (") if h]


@pytest.mark.parametrize("key", FUNCTION_KEYS)
def test_the_hint_shown_is_the_variants_own_or_none(key):
    """For every (exercise, wrong variant): a named mistake gives the variant's outputs on every public
    case; a stability or NaN hint comes with a non-finite output or a floating-point error; 'off by one'
    only when the output is the expected one with an end entry dropped or added."""
    ex = EXERCISES[key]
    expected = [to_plain(ex.expected(c), ex.n_outputs) for c in ex.public_cases()]
    problems = []
    for name, make in _all_variants(ex):
        result = run_check(key, make())
        if result.ok:
            continue
        message = result.message()
        if "Likely mistake: " in message:
            sentence = message.split("Likely mistake: ", 1)[1]
            named = [s for s in ex.mistakes if sentence.startswith(s)]
            mine = _outputs(ex, make())
            theirs = _outputs(ex, ex.mistakes[named[0]]) if named else []
            n = ex.n_outputs
            if not named or any(m is not None and not _same_output(_parts(t, n), _parts(m, n), ex.rtol, ex.atol)
                                for m, t in zip(mine, theirs)):
                problems.append(f"{name!r}: names a mistake that does not give its outputs")
        mine = _outputs(ex, make())
        if any(h in message for h in _stability_hints(ex)) and "Likely mistake" not in message:
            nonfinite = any(o is None or not all(np.all(np.isfinite(np.asarray(p, dtype=float)))
                                                 for p in (o if isinstance(o, tuple) else (o,))) for o in mine)
            if not nonfinite:
                problems.append(f"{name!r}: a stability/NaN hint without a non-finite output or an FP error")
        if "off by one" in message.split("Likely mistake")[0]:
            def one_off(e, g):
                e, g = np.asarray(e), np.asarray(g)
                if e.ndim != g.ndim or e.ndim == 0:
                    return False
                return any(abs(e.shape[a] - g.shape[a]) == 1 for a in range(e.ndim))
            if not any(o is not None and not isinstance(o, tuple) and one_off(e, o) for e, o in zip(expected, mine)) \
                    and not any(isinstance(o, tuple) for o in mine):
                problems.append(f"{name!r}: 'off by one' for an output that is not one entry short or long")
    assert not problems, f"{key}:\n" + "\n".join(problems)
