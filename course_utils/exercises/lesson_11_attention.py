"""Exercises of lesson 11_attention: scaled dot-product attention, masks, its backward, multi-head attention.

    softmax(scores)                                   a numerically stable softmax over the last axis
    scaled_dot_product_attention(Q, K, V, mask)       (out, weights), mask True/1 = attend (Keras's rule)
    attention_masks(lengths, T)                       (padding mask, causal padding mask), (N, T, T) booleans
    attention_backward(dout, Q, K, V, weights)        (dQ, dK, dV), through the softmax
    multi_head_attention(query, value, Wq, bq, Wk, bk, Wv, bv, Wo, bo)
                                                      (out, weights) with Keras's kernel layout

Shapes: Q (N, T, d), K (N, S, d), V (N, S, dv), weights (N, T, S) - one row per query, one column per
key. Masked logits are replaced by -1e9 before the softmax, as Keras does, so a query whose every key
is masked gets uniform weights 1/S (the mean of the values), as Keras's fused attention gives it.
"""
import numpy as np

from ..nn.layers.attention import attention_cache
from ..nn.layers.attention import scaled_dot_product_attention as _attention_kernel
from ..nn.layers.attention import scaled_dot_product_attention_backward as _attention_kernel_backward
from . import Case, Exercise

LESSON = "11_attention"
LARGE_NEGATIVE = -1e9      # what Keras puts in place of a masked logit

_SOFTMAX_HINT = ("subtract each row's maximum before np.exp (z - z.max(axis=-1, keepdims=True)): the "
                 "largest exponent is then exp(0) = 1, nothing overflows, and the softmax is unchanged")


def _stable_softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ----------------------------------------------------------------------------- softmax
def softmax(scores):
    """softmax over the last axis, stable for any finite scores.
    scores (..., S) -> weights (..., S), each row >= 0 and summing to 1."""
    return _stable_softmax(np.asarray(scores, dtype=np.float64))


def _softmax_cases(rng):
    return [Case((rng.normal(size=(2, 3, 4)),), label="scores (2, 3, 4)"),
            Case((np.array([[1.0, 2.0, 3.0], [1000.0, 1001.0, 1002.0], [-5.0, 0.0, 5.0]]),),
                 label="rows of very different scale (the second row is the first + 999)"),
            Case((np.array([[2.0, 2.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]]),),
                 label="exact ties: equal scores get equal weights"),
            Case((np.array([[[1e4, -1e4, 0.0], [-1e4, -1e4, 3.0]], [[LARGE_NEGATIVE, LARGE_NEGATIVE, LARGE_NEGATIVE],
                                                                   [0.5, LARGE_NEGATIVE, -0.5]]]),), strict_fp=True,
                 label="extreme scores +-1e4 and -1e9 (masked) entries, a row all -1e9: computed stably, "
                       "no overflow (run under np.errstate(over='raise'))")]


Exercise(f"{LESSON}.softmax", reference=softmax, cases=_softmax_cases,
         mistakes={
             "the softmax is taken down the rows (axis -2, over the queries); each query's row - the last "
             "axis - must sum to 1.": lambda z: _stable_softmax(np.asarray(z, dtype=float), axis=-2),
             "the exponentials are divided by their total over the whole array; divide each row by its own "
             "sum (np.sum(e, axis=-1, keepdims=True)).":
                 lambda z: (lambda e: e / e.sum())(np.exp(z - np.max(z, axis=-1, keepdims=True))),
         },
         output_names=("weights",),
         stable_hint=_SOFTMAX_HINT,
         title="a numerically stable softmax over the last axis")


# ----------------------------------------------------------------------------- attention
def scaled_dot_product_attention(Q, K, V, mask=None):
    """softmax(Q K^T / sqrt(d) with masked logits replaced by -1e9) V.
    Q (N, T, d), K (N, S, d), V (N, S, dv), mask (N, T, S) booleans or 0/1 (True/1 = attend) or None
    -> (out (N, T, dv), weights (N, T, S))."""
    out, cache = _attention_kernel(Q, K, V, None if mask is None else np.asarray(mask).astype(bool))
    return out, cache["weights"]


def _attention(Q, K, V, mask, scale=None, invert=False, axis=-1, zero_after=False):
    d = Q.shape[-1]
    scores = Q @ np.swapaxes(K, -1, -2) / (np.sqrt(d) if scale is None else scale(d))
    keep = np.asarray(mask).astype(bool)
    if invert:
        keep = ~keep
    if not zero_after:
        scores = np.where(keep, scores, LARGE_NEGATIVE)
    weights = _stable_softmax(scores, axis=axis)
    if zero_after:
        weights = np.where(keep, weights, 0.0)
    return weights @ V, weights


def _padding_mask(lengths, T, S=None):
    S = T if S is None else S
    return np.broadcast_to(np.arange(S)[None, None, :] < np.asarray(lengths)[:, None, None], (len(lengths), T, S))


def _attention_cases(rng):
    N, T, S, d, dv = 2, 3, 5, 4, 3
    causal = np.tril(np.ones((4, 4), dtype=bool))[None].repeat(2, axis=0)
    fully_masked = np.ones((2, 3, 4), dtype=bool)
    fully_masked[1, 2] = False
    fully_masked[0, 0, 1] = False
    return [Case((rng.normal(size=(N, T, d)), rng.normal(size=(N, S, d)), rng.normal(size=(N, S, dv)),
                  _padding_mask([5, 3], T, S).copy()),
                 label="cross-attention T=3, S=5, d=4; padding: the second sequence has 3 real keys"),
            Case((rng.normal(size=(2, 4, 8)), rng.normal(size=(2, 4, 8)), rng.normal(size=(2, 4, 2)), causal.copy()),
                 label="self-attention, causal mask (query t sees keys s <= t), d=8"),
            Case((rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 4, 2)), rng.normal(size=(2, 4, 3)), fully_masked),
                 label="query 2 of sequence 1 has every key masked: uniform weights 1/S, as Keras"),
            Case((rng.normal(size=(1, 2, 4)), rng.normal(size=(1, 3, 4)), rng.normal(size=(1, 3, 2)),
                  np.array([[[1, 1, 0], [0, 1, 1]]])),
                 label="a 0/1 integer mask (1 = attend, as Keras)"),
            Case((rng.normal(size=(3, 2, 5)), rng.normal(size=(3, 4, 5)), rng.normal(size=(3, 4, 6))),
                 label="no mask (mask=None, the default): N=3, T=2, S=4, d=5, dv=6"),
            Case(_huge_scores(rng) + (_padding_mask([3, 2], 3).copy(),), strict_fp=True,
                 label="huge scores (Q K^T ~ 3000, every key shares a large component): computed stably, "
                       "no overflow (run under np.errstate(over='raise'))")]


def _huge_scores(rng):
    """Q, K, V whose scores are ~3000 + O(1): each key has 3000 in its feature 0 and each query a positive
    feature 0, so a softmax without the max-shift overflows, while the weights still depend on the O(1) rest."""
    Q, K, V = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 2))
    Q[..., 0] = 1.0 + np.abs(Q[..., 0])
    K[..., 0] = 3000.0
    return Q, K, V


Exercise(f"{LESSON}.scaled_dot_product_attention", reference=scaled_dot_product_attention,
         cases=_attention_cases,
         mistakes={
             "the scores are not scaled: divide Q K^T by sqrt(d), d = Q.shape[-1] (the key dimension).":
                 lambda Q, K, V, m: _attention(Q, K, V, m, scale=lambda d: 1.0),
             "the scores are divided by d; divide by sqrt(d) (np.sqrt(Q.shape[-1])).":
                 lambda Q, K, V, m: _attention(Q, K, V, m, scale=lambda d: float(d)),
             "the mask is inverted: in Keras True (or 1) means 'attend', so keep the scores where the mask "
             "is True and put -1e9 where it is False.":
                 lambda Q, K, V, m: _attention(Q, K, V, m, invert=True),
             "the softmax runs over the queries (axis -2); each query's weights over the keys (the last "
             "axis) must sum to 1.": lambda Q, K, V, m: _attention(Q, K, V, m, axis=-2),
             "the masked weights are zeroed after the softmax, so the rows no longer sum to 1; mask the "
             "scores before it (np.where(mask, scores, -1e9)).":
                 lambda Q, K, V, m: _attention(Q, K, V, m, zero_after=True),
         },
         output_names=("out", "weights"),
         stable_hint=_SOFTMAX_HINT,
         title="scaled dot-product attention with a mask (True/1 = attend)")


# ----------------------------------------------------------------------------- masks
def attention_masks(lengths, T):
    """The self-attention masks of a padded batch, True = attend:
    padding[n, t, s] = s < lengths[n]   (a real key, not padding);
    causal[n, t, s]  = padding[n, t, s] and s <= t   (and no key from the future).
    lengths (N,) ints in 0..T -> (padding (N, T, T), causal (N, T, T)) boolean arrays."""
    lengths = np.asarray(lengths)
    padding = np.arange(T)[None, None, :] < lengths[:, None, None]
    padding = np.broadcast_to(padding, (len(lengths), T, T)).copy()
    return padding, padding & np.tril(np.ones((T, T), dtype=bool))


def _masks(lengths, T, pad=lambda s, n: s < n, keep=lambda t, s: s <= t, on_queries=False):
    lengths = np.asarray(lengths)
    t = np.arange(T)[None, :, None]
    s = np.arange(T)[None, None, :]
    n = lengths[:, None, None]
    padding = np.broadcast_to(pad(t if on_queries else s, n), (len(lengths), T, T)).copy()
    return padding, padding & keep(t, s)


Exercise(f"{LESSON}.attention_masks", reference=attention_masks,
         cases=[Case((np.array([3, 5, 1]), 5), label="lengths 3, 5 (= T, no padding) and 1"),
                Case((np.array([2, 4]), 4), label="lengths 2 and 4 = T"),
                Case((np.array([0, 2]), 3), label="length 0: an empty sequence, every key is padding")],
         mistakes={
             "off by one: position s is a real key when s < lengths[n] (positions 0 .. length - 1), not s <= length.":
                 lambda l, T: _masks(l, T, pad=lambda s, n: s <= n),
             "the padding mask hides padded queries (rows t) instead of padded keys (columns s): "
             "mask[n, t, s] = s < lengths[n].": lambda l, T: _masks(l, T, on_queries=True),
             "the causal mask is transposed: query t may see keys s <= t (the past and itself), "
             "np.tril, not np.triu.": lambda l, T: _masks(l, T, keep=lambda t, s: s >= t),
             "the causal mask hides the diagonal: a position may attend to itself (s <= t, not s < t).":
                 lambda l, T: _masks(l, T, keep=lambda t, s: s < t),
         },
         output_names=("padding", "causal"),
         title="the padding mask and the causal mask of a padded batch (True = attend)")


# ----------------------------------------------------------------------------- backward
def attention_backward(dout, Q, K, V, weights):
    """Backward of out = P V, P = softmax(Q K^T / sqrt(d)) (the weights P from the forward pass; a mask
    is in P already: a masked weight is 0, so its logit gets no gradient).
    dout (N, T, dv) -> (dQ (N, T, d), dK (N, S, d), dV (N, S, dv)):
        dV = P^T dout,  dP = dout V^T,  dS = P * (dP - sum_s(dP * P)),
        dQ = dS K / sqrt(d),  dK = dS^T Q / sqrt(d)."""
    return _attention_kernel_backward(dout, attention_cache(Q, K, V, weights))


def _backward(dout, Q, K, V, P, dS_rule="full", scale=True):
    s = 1.0 / np.sqrt(Q.shape[-1]) if scale else 1.0
    dV = np.swapaxes(P, -1, -2) @ dout
    dP = dout @ np.swapaxes(V, -1, -2)
    if dS_rule == "full":
        dS = P * (dP - np.sum(dP * P, axis=-1, keepdims=True))
    elif dS_rule == "diagonal":
        dS = dP * P * (1 - P)
    else:
        dS = P * dP
    return dS @ K * s, np.swapaxes(dS, -1, -2) @ Q * s, dV


def _backward_cases(rng):
    def case(N, T, S, d, dv, mask=None, label=""):
        Q, K, V = rng.normal(size=(N, T, d)), rng.normal(size=(N, S, d)), rng.normal(size=(N, S, dv))
        _, P = scaled_dot_product_attention(Q, K, V, mask)
        return Case((rng.normal(size=(N, T, dv)), Q, K, V, P), label=label)
    causal = np.tril(np.ones((4, 4), dtype=bool))[None]
    return [case(2, 3, 5, 4, 2, label="cross-attention T=3, S=5, d=4, dv=2"),
            case(1, 4, 4, 8, 3, mask=causal, label="causal self-attention (masked weights are 0)"),
            case(3, 2, 3, 2, 2, label="3 sequences, T=2, S=3")]


Exercise(f"{LESSON}.attention_backward", reference=attention_backward, cases=_backward_cases,
         mistakes={
             "the 1/sqrt(d) of the scores is missing from dQ and dK: S = Q K^T / sqrt(d), so "
             "dQ = dS K / sqrt(d) and dK = dS^T Q / sqrt(d).":
                 lambda g, Q, K, V, P: _backward(g, Q, K, V, P, scale=False),
             "only the diagonal of the softmax's Jacobian is used (dS = dP * P * (1 - P)); every weight of a "
             "row depends on every score: dS = P * (dP - sum(dP * P, axis=-1, keepdims=True)).":
                 lambda g, Q, K, V, P: _backward(g, Q, K, V, P, dS_rule="diagonal"),
             "the softmax's correction term is missing (dS = P * dP); subtract each row's "
             "sum(dP * P, axis=-1, keepdims=True) first.":
                 lambda g, Q, K, V, P: _backward(g, Q, K, V, P, dS_rule="no sum"),
         },
         output_names=("dQ", "dK", "dV"),
         title="the backward pass of attention, through the softmax")


# ----------------------------------------------------------------------------- multi-head attention
def multi_head_attention(query, value, Wq, bq, Wk, bk, Wv, bv, Wo, bo):
    """Multi-head self/cross-attention as keras.layers.MultiHeadAttention (key = value), without masks.
    query (N, T, Dq), value (N, S, Dv); kernels in Keras's layout: Wq (Dq, h, k), Wk (Dv, h, k),
    Wv (Dv, h, v), biases bq, bk (h, k), bv (h, v), Wo (h, v, O), bo (O,)
    -> (out (N, T, O), weights (N, h, T, S)); the scores of each head are divided by sqrt(k)."""
    Q = np.einsum("ntd,dhk->nhtk", query, Wq) + bq[:, None, :]
    K = np.einsum("nsd,dhk->nhsk", value, Wk) + bk[:, None, :]
    V = np.einsum("nsd,dhv->nhsv", value, Wv) + bv[:, None, :]
    C, cache = _attention_kernel(Q, K, V)                 # (N, h, T, v), scores divided by sqrt(k)
    return np.einsum("nhtv,hvo->nto", C, Wo) + bo, cache["weights"]


def _mha(query, value, Wq, bq, Wk, bk, Wv, bv, Wo, bo, scale=None, output_bias=True, one_head=False):
    Q = np.einsum("ntd,dhk->nhtk", query, Wq) + bq[:, None, :]
    K = np.einsum("nsd,dhk->nhsk", value, Wk) + bk[:, None, :]
    V = np.einsum("nsd,dhv->nhsv", value, Wv) + bv[:, None, :]
    d = Wq.shape[-1] if scale is None else scale(query, Wq)
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(d)
    if one_head:  # the scores summed over the heads: one attention over all h * k features
        scores = np.broadcast_to(scores.sum(axis=1, keepdims=True), scores.shape)
    weights = _stable_softmax(scores)
    out = np.einsum("nhtv,hvo->nto", weights @ V, Wo)
    return (out + bo if output_bias else out), weights


def _mha_cases(rng):
    def case(N, T, S, Dq, Dv, h, k, v, O, self_attention=False, key_bias=1.0, label="", strict=False):
        query = rng.normal(size=(N, T, Dq))
        value = query.copy() if self_attention else rng.normal(size=(N, S, Dv))
        Dv = Dq if self_attention else Dv
        weights = [rng.normal(size=(Dq, h, k)), rng.normal(size=(h, k)), rng.normal(size=(Dv, h, k)),
                   key_bias * rng.normal(size=(h, k)), rng.normal(size=(Dv, h, v)), rng.normal(size=(h, v)),
                   rng.normal(size=(h, v, O)), rng.normal(size=(O,))]
        return Case((query, value, *weights), label=label, strict_fp=strict)
    return [case(2, 4, 4, 6, 6, 2, 3, 3, 6, self_attention=True, label="self-attention, 2 heads, key_dim 3"),
            case(2, 3, 5, 4, 5, 3, 2, 4, 7, label="cross-attention: T=3, S=5, 3 heads, key_dim 2, value_dim 4, "
                                                    "output 7"),
            case(1, 3, 2, 5, 3, 4, 2, 1, 5, label="4 heads, value_dim 1, S = 2"),
            case(2, 3, 3, 4, 4, 2, 2, 2, 4, self_attention=True, key_bias=2000.0, strict=True,
                 label="a key bias of ~2000: scores ~1e3 that a softmax must survive (run under "
                       "np.errstate(over='raise')); it adds the same q . b_k to every score of a row, "
                       "so the weights do not change")]


Exercise(f"{LESSON}.multi_head_attention", reference=multi_head_attention, cases=_mha_cases,
         mistakes={
             "the scores are divided by sqrt of the model dimension D; Keras divides by sqrt(key_dim), "
             "the size of one head's queries (Wq.shape[-1]).":
                 lambda q, v, *w: _mha(q, v, *w, scale=lambda query, Wq: query.shape[-1]),
             "the scores are not scaled: divide each head's Q K^T by sqrt(key_dim).":
                 lambda q, v, *w: _mha(q, v, *w, scale=lambda query, Wq: 1.0),
             "the output bias bo is missing: out = sum_{h,v} C[n,t,h,v] Wo[h,v,o] + bo[o].":
                 lambda q, v, *w: _mha(q, v, *w, output_bias=False),
             "the heads are not separated: the scores are summed over the heads (one attention over all "
             "h * k features); give each head its own softmax (keep the head axis in Q K^T).":
                 lambda q, v, *w: _mha(q, v, *w, one_head=True),
         },
         output_names=("out", "weights"),
         stable_hint=_SOFTMAX_HINT,
         title="multi-head attention as einsums, with Keras's kernel layout")
