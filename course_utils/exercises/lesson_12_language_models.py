"""Exercises of lesson 12_language_models: byte-pair encoding, the pieces of a GPT block, a KV cache.

    count_pairs(ids, vocab_size)                  counts[a, b]: how often token b follows token a
    merge_pair(ids, a, b, new_id)                 every (a, b) -> new_id, left to right, no overlaps
    bpe_encode(ids, merges, base_vocab_size)      the merges applied in the order they were learned
    causal_mask(T, S)                             (T, S) booleans: query t (at position S - T + t) sees keys s <= S - T + t
    rms_norm(x, scale, epsilon)                   x / sqrt(mean(x^2) + epsilon) * scale over the last axis
    rms_norm_backward(dout, x, scale, epsilon)    (dx, dscale)
    swiglu(x, W_gate, W_up, W_down)               (silu(x W_gate) * (x W_up)) W_down
    attend_with_cache(q, k_new, v_new, K_cache, V_cache)
                                                  one new query attends to the cached keys and its own: (out, K, V)
"""
import numpy as np

from .. import gpt
from ..nn import activations
from . import Case, Exercise

LESSON = "12_language_models"

_SOFTMAX_HINT = ("subtract each row's maximum before np.exp (scores - scores.max(axis=-1, keepdims=True)): the "
                 "largest exponent is then exp(0) = 1 and nothing overflows")
_SIGMOID_HINT = ("compute the sigmoid without overflow: exp(-|z|) never overflows; sigmoid(z) = 1 / (1 + e) for "
                 "z >= 0 and e / (1 + e) for z < 0, with e = exp(-|z|) (or use your lesson 01 sigmoid)")


# ----------------------------------------------------------------------------- BPE
def count_pairs(ids, vocab_size):
    """counts[a, b] = the number of positions i with ids[i] = a and ids[i + 1] = b.
    ids (L,) ints in 0..vocab_size-1 -> counts (vocab_size, vocab_size) ints."""
    return gpt.count_pairs(ids, vocab_size)


def _count_pairs_wrapping(ids, V):
    ids = np.asarray(ids)
    return gpt.count_pairs(np.append(ids, ids[0]), V)


Exercise(f"{LESSON}.count_pairs", reference=count_pairs,
         cases=[Case((np.array([0, 1, 2, 0, 1, 3, 0, 1]), 4), label="'ab' three times in 8 tokens, vocabulary 4"),
                Case((np.array([2, 2, 2, 2, 1]), 3), label="a run 2 2 2 2: three overlapping pairs (2, 2)"),
                Case((np.array([4]), 6), label="one token: no pairs at all"),
                Case((np.array([5, 0, 3, 0, 5, 0]), 7), label="vocabulary 7, tokens 4 and 6 never appear")],
         mistakes={
             "the counts are transposed: counts[a, b] counts b following a (row = the first token of the pair).":
                 lambda ids, V: gpt.count_pairs(ids, V).T,
             "the last token is paired with the first (the text wrapped around); pairs are ids[i], ids[i + 1] "
             "for i = 0 .. L - 2 only.": _count_pairs_wrapping,
             "each pair is counted once however often it occurs; count every position.":
                 lambda ids, V: (gpt.count_pairs(ids, V) > 0).astype(np.int64),
         },
         output_names=("counts",),
         title="count the adjacent pairs of a token sequence")


def merge_pair(ids, a, b, new_id):
    """ids with every pair (a, b) replaced by new_id, scanning left to right; a pair that overlaps one
    already replaced is left (a a a with (a, a) -> new_id a). ids (L,) ints -> (L - replacements,) ints."""
    return gpt.merge_pair(ids, a, b, new_id)


def _merge_overlapping(ids, a, b, new_id):
    """Every position that matches is replaced, overlaps too (a a a -> new new)."""
    ids = np.asarray(ids)
    out = list(ids)
    match = [i for i in range(len(ids) - 1) if ids[i] == a and ids[i + 1] == b]
    for i in reversed(match):
        out[i:i + 2] = [new_id]
    return np.array(out, dtype=np.int64)


def _merge_first(ids, a, b, new_id):
    ids = list(np.asarray(ids))
    for i in range(len(ids) - 1):
        if ids[i] == a and ids[i + 1] == b:
            return np.array(ids[:i] + [new_id] + ids[i + 2:], dtype=np.int64)
    return np.array(ids, dtype=np.int64)


Exercise(f"{LESSON}.merge_pair", reference=merge_pair,
         cases=[Case((np.array([0, 1, 2, 0, 1, 3, 0, 1]), 0, 1, 4), label="(0, 1) three times, the last at the end"),
                Case((np.array([2, 2, 2, 1, 2, 2, 2, 2]), 2, 2, 5),
                     label="runs of the pair (2, 2): 2 2 2 -> 5 2 and 2 2 2 2 -> 5 5"),
                Case((np.array([3, 1, 0, 3]), 1, 3, 6), label="the pair (1, 3) does not occur: nothing changes"),
                Case((np.array([1, 0, 1, 0, 1]), 1, 0, 7), label="(1, 0) twice, sharing no token")],
         mistakes={
             "overlapping occurrences are both replaced (a a a -> new new); scan left to right and skip the "
             "token just merged: a a a -> new a.": _merge_overlapping,
             "only the first occurrence is replaced; replace every one.": _merge_first,
         },
         output_names=("merged",),
         title="merge one pair everywhere, left to right")


def bpe_encode(ids, merges, base_vocab_size):
    """Character ids -> BPE tokens: merge i (the pair merges[i]) makes token base_vocab_size + i; apply
    merge 0 everywhere, then merge 1, ... ids (L,) ints, merges (M, 2) ints -> (L',) ints."""
    return gpt.bpe_encode(ids, merges, base_vocab_size)


def _encode_ids_from(ids, merges, base, first):
    for i, (a, b) in enumerate(np.asarray(merges)):
        ids = gpt.merge_pair(ids, a, b, base + i + first)
    return ids


Exercise(f"{LESSON}.bpe_encode", reference=bpe_encode,
         cases=[Case((np.array([0, 1, 2, 0, 1, 2, 1, 2]), np.array([[0, 1], [3, 2], [1, 2]]), 3),
                     label="'abcabcbc' with merges ab -> 3, (ab)c -> 4, bc -> 5"),
                Case((np.array([1, 1, 1, 1, 0, 1, 1]), np.array([[1, 1], [5, 5]]), 5),
                     label="merge (1, 1) -> 5, then (5, 5) -> 6: the order matters"),
                Case((np.array([2, 0, 1, 3]), np.zeros((0, 2), dtype=np.int64), 4), label="no merges: unchanged")],
         mistakes={
             "the new tokens are numbered from base_vocab_size + 1; merge i makes token base_vocab_size + i.":
                 lambda ids, m, base: _encode_ids_from(ids, m, base, 1),
             "the merges are applied in reverse order; apply them in the order they were learned (a later "
             "merge may use a token an earlier one made).":
                 lambda ids, m, base: gpt.bpe_encode(ids, np.asarray(m)[::-1], base) if len(m) else np.asarray(ids),
         },
         output_names=("tokens",),
         title="encode with the learned merges")


# ----------------------------------------------------------------------------- the causal mask
def causal_mask(T, S=None):
    """The causal mask of T queries that are the last T of S positions (S = T when None), True = attend:
    mask[t, s] = s <= S - T + t. (T, S) booleans; S = T gives the lower triangle np.tril."""
    S = T if S is None else S
    return np.arange(S)[None, :] <= (S - T) + np.arange(T)[:, None]


def _mask(T, S, keep):
    S = T if S is None else S
    return keep(np.arange(T)[:, None], np.arange(S)[None, :], S - T)


Exercise(f"{LESSON}.causal_mask", reference=causal_mask,
         cases=[Case((4,), label="T = 4, S left at its default (= T): the lower triangle"),
                Case((2, 5), label="the last 2 of 5 positions: query 0 sits at position 3"),
                Case((1, 3), label="one new query after 2 cached positions: it sees all 3"),
                Case((3, 3), label="T = S = 3 given")],
         mistakes={
             "the diagonal is hidden: a position may attend to itself (s <= t), only the future is hidden.":
                 lambda T, S=None: _mask(T, S, lambda t, s, o: s < o + t),
             "the mask is the upper triangle: query t must see the past (s <= t), not the future.":
                 lambda T, S=None: _mask(T, S, lambda t, s, o: s >= o + t),
             "the offset is missing: with S > T, query t sits at position S - T + t (the queries are the "
             "last T positions), so mask[t, s] = s <= S - T + t.":
                 lambda T, S=None: _mask(T, S, lambda t, s, o: s <= t),
         },
         output_names=("mask",),
         title="the causal mask as a lower triangle (with an offset for cached keys)")


# ----------------------------------------------------------------------------- RMSNorm
def rms_norm(x, scale, epsilon=1e-6):
    """x / sqrt(mean(x^2, last axis) + epsilon) * scale. x (..., D), scale (D,) -> (..., D)."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.sqrt(np.mean(np.square(x), axis=-1, keepdims=True) + epsilon) * scale


def _norm_cases(rng):
    return [Case((rng.normal(size=(2, 3, 5)) * 3, rng.normal(size=5)), label="x (2, 3, 5), epsilon left at 1e-6"),
            Case((rng.normal(size=(4, 6)) * 0.05, rng.normal(size=6), 0.01),
                 label="small x (RMS ~0.05) with epsilon 0.01: epsilon matters"),
            Case((rng.normal(size=(3, 2, 4)) + 5.0, rng.normal(size=4), 1e-3),
                 label="x with a mean of 5: RMSNorm does not subtract the mean")]


Exercise(f"{LESSON}.rms_norm", reference=rms_norm, cases=_norm_cases,
         mistakes={
             "the mean is subtracted (that is LayerNormalization); RMSNorm divides x itself by "
             "sqrt(mean(x^2) + epsilon).":
                 lambda x, s, e=1e-6: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + e) * s,
             "epsilon is added outside the square root; it goes inside: sqrt(mean(x^2) + epsilon).":
                 lambda x, s, e=1e-6: x / (np.sqrt(np.mean(x * x, -1, keepdims=True)) + e) * s,
             "the square root is missing: divide by sqrt(mean(x^2) + epsilon), the root mean square.":
                 lambda x, s, e=1e-6: x / (np.mean(x * x, -1, keepdims=True) + e) * s,
         },
         output_names=("y",),
         title="RMSNorm forward")


def rms_norm_backward(dout, x, scale, epsilon=1e-6):
    """Backward of y = x r scale, r = 1 / sqrt(mean(x^2) + epsilon) over the last axis, with g = dout * scale:
        dx = r g - r^3 x mean(g x),    dscale = the sum of dout * x * r over every axis but the last.
    dout, x (..., D), scale (D,) -> (dx (..., D), dscale (D,))."""
    x = np.asarray(x, dtype=np.float64)
    r = 1.0 / np.sqrt(np.mean(np.square(x), axis=-1, keepdims=True) + epsilon)
    g = dout * scale
    dx = r * g - r ** 3 * x * np.mean(g * x, axis=-1, keepdims=True)
    return dx, np.sum(dout * x * r, axis=tuple(range(x.ndim - 1)))


def _norm_backward_cases(rng):
    return [Case((rng.normal(size=c.args[0].shape),) + c.args, label=c.label) for c in _norm_cases(rng)]


def _rms_backward_variant(dout, x, scale, e=1e-6, through_r=True, sum_scale=True):
    r = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + e)
    g = dout * scale
    dx = r * g - (r ** 3 * x * np.mean(g * x, axis=-1, keepdims=True) if through_r else 0)
    dscale = dout * x * r
    return dx, (np.sum(dscale, axis=tuple(range(x.ndim - 1))) if sum_scale else dscale.reshape(-1, x.shape[-1])[0])


Exercise(f"{LESSON}.rms_norm_backward", reference=rms_norm_backward, cases=_norm_backward_cases,
         mistakes={
             "dx misses the path through r: r depends on every x of the row, so dx = r g - r^3 x mean(g x).":
                 lambda d, x, s, e=1e-6: _rms_backward_variant(d, x, s, e, through_r=False),
             "dscale is not summed over the batch (and time) axes: it has one value per feature.":
                 lambda d, x, s, e=1e-6: _rms_backward_variant(d, x, s, e, sum_scale=False),
         },
         output_names=("dx", "dscale"),
         title="RMSNorm backward")


# ----------------------------------------------------------------------------- SwiGLU
def swiglu(x, W_gate, W_up, W_down):
    """The SwiGLU feed-forward: (silu(x W_gate) * (x W_up)) W_down, silu(z) = z sigmoid(z).
    x (..., D), W_gate and W_up (D, F), W_down (F, D_out) -> (..., D_out)."""
    x = np.asarray(x, dtype=np.float64)
    return (activations.silu(x @ W_gate) * (x @ W_up)) @ W_down


def _swiglu_cases(rng):
    def case(shape, D, F, O, spread=1.0, label="", strict=False):
        return Case((rng.normal(size=shape + (D,)) * spread, rng.normal(size=(D, F)), rng.normal(size=(D, F)),
                     rng.normal(size=(F, O))), label=label, strict_fp=strict)
    return [case((2, 3), 4, 6, 5, label="x (2, 3, 4), D=4, F=6, D_out=5"),
            case((5,), 3, 2, 3, label="x (5, 3), F=2"),
            case((2, 2), 3, 4, 2, spread=300.0, strict=True,
                 label="pre-activations of several hundred: silu without overflow (run under np.errstate(over='raise'))")]


Exercise(f"{LESSON}.swiglu", reference=swiglu, cases=_swiglu_cases,
         mistakes={
             "the gate is silu of the up projection: silu goes on x W_gate, the other factor is x W_up.":
                 lambda x, g, u, d: (activations.silu(x @ u) * (x @ g)) @ d,
             "the gate is a sigmoid (that is GLU); SwiGLU gates with silu(z) = z * sigmoid(z).":
                 lambda x, g, u, d: (activations.sigmoid(x @ g) * (x @ u)) @ d,
             "the two projections are added; they are multiplied, element by element.":
                 lambda x, g, u, d: (activations.silu(x @ g) + (x @ u)) @ d,
         },
         output_names=("out",),
         stable_hint=_SIGMOID_HINT,
         title="the SwiGLU gate")


# ----------------------------------------------------------------------------- KV cache
def attend_with_cache(q, k_new, v_new, K_cache, V_cache):
    """One new position attends to every cached position and to itself (one head):
        K = [K_cache; k_new],  V = [V_cache; v_new]  (appended on the position axis),
        out = softmax(q K^T / sqrt(d)) V.
    q, k_new (N, d); v_new (N, dv); K_cache (N, S, d); V_cache (N, S, dv)
    -> (out (N, dv), K (N, S + 1, d), V (N, S + 1, dv))."""
    K = np.concatenate([K_cache, np.asarray(k_new)[:, None]], axis=1)
    V = np.concatenate([V_cache, np.asarray(v_new)[:, None]], axis=1)
    scores = np.einsum("nd,nsd->ns", q, K) / np.sqrt(q.shape[-1])
    return np.einsum("ns,nsv->nv", activations.softmax(scores), V), K, V


def _cache_variant(q, k, v, Kc, Vc, append=True, scale=True, attend=True):
    k, v = np.asarray(k)[:, None], np.asarray(v)[:, None]
    K = np.concatenate([Kc, k] if append else [k, Kc], axis=1)
    V = np.concatenate([Vc, v] if append else [v, Vc], axis=1)
    Ka, Va = (K, V) if attend else (Kc, Vc)
    scores = np.einsum("nd,nsd->ns", q, Ka) / (np.sqrt(q.shape[-1]) if scale else 1.0)
    return np.einsum("ns,nsv->nv", activations.softmax(scores), Va), K, V


def _cache_cases(rng):
    def case(N, S, d, dv, label="", big=False):
        q, k = rng.normal(size=(N, d)), rng.normal(size=(N, d))
        Kc = rng.normal(size=(N, S, d))
        if big:
            q[:, 0], Kc[:, :, 0], k[:, 0] = 40.0, 80.0, 80.0     # scores ~3200/sqrt(d) + O(1)
        return Case((q, k, rng.normal(size=(N, dv)), Kc, rng.normal(size=(N, S, dv))), label=label, strict_fp=big)
    return [case(2, 3, 4, 5, label="2 sequences, 3 cached positions, d=4, dv=5"),
            case(3, 1, 2, 3, label="one cached position, d=2"),
            case(1, 4, 6, 2, big=True, label="scores ~1300: a stable softmax (run under np.errstate(over='raise'))")]


Exercise(f"{LESSON}.attend_with_cache", reference=attend_with_cache, cases=_cache_cases,
         mistakes={
             "the new key and value are put before the cache; append them (the newest position is last).":
                 lambda *a: _cache_variant(*a, append=False),
             "the scores are not scaled: divide q K^T by sqrt(d).": lambda *a: _cache_variant(*a, scale=False),
             "the new query attends to the cache only; it must see its own key and value too (s <= t).":
                 lambda *a: _cache_variant(*a, attend=False),
         },
         output_names=("out", "K", "V"),
         stable_hint=_SOFTMAX_HINT,
         title="attention of one new position with a KV cache")
