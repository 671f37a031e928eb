"""Lesson 12's language-model helpers: byte-pair encoding, a small GPT (one builder for Keras, its NumPy
twin through ``nn.from_keras``), the same GPT as plain NumPy formulas with a KV cache for generation,
sampling with temperature and top-k, and the baselines (a bigram count model).

Shapes: token ids are int arrays; a batch of sequences is ``(N, T)``; logits are ``(N, T, V)`` for a
vocabulary of V tokens. Keras's layouts: an Embedding is ``(V, D)``; MultiHeadAttention's query/key/value
kernels ``(D, heads, key_dim)`` with biases ``(heads, key_dim)``, its output kernel ``(heads, key_dim, D)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .nn import activations


# ----------------------------------------------------------------------------- byte-pair encoding
def char_vocabulary(text):
    """The characters of ``text``, sorted: token i of the character-level vocabulary is ``chars[i]``."""
    return sorted(set(text))


def encode_chars(text, chars):
    """Character ids of ``text`` for the vocabulary ``chars`` (a list of single characters)."""
    index = {c: i for i, c in enumerate(chars)}
    unknown = sorted(set(text) - set(index))
    if unknown:
        raise ValueError(f"The text holds characters outside the vocabulary: {unknown[:10]}. Build the "
                         f"vocabulary from a text that contains them (char_vocabulary).")
    return np.array([index[c] for c in text], dtype=np.int64)


def count_pairs(ids, vocab_size):
    """counts[a, b] = how often token b directly follows token a in ``ids``: (vocab_size, vocab_size)."""
    ids = np.asarray(ids, dtype=np.int64)
    flat = np.bincount(ids[:-1] * vocab_size + ids[1:], minlength=vocab_size * vocab_size)
    return flat.reshape(vocab_size, vocab_size)


def merge_pair(ids, a, b, new_id):
    """``ids`` with every occurrence of the pair (a, b) replaced by ``new_id``, left to right without
    overlaps (``a a a`` with the pair (a, a) becomes ``new a``), as BPE's training and encoding do."""
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) < 2:
        return ids.copy()
    match = (ids[:-1] == a) & (ids[1:] == b)
    if a == b:     # runs of matches overlap: keep the 1st, 3rd, ... of each run
        starts = match & ~np.concatenate([[False], match[:-1]])
        run_start = np.maximum.accumulate(np.where(starts, np.arange(len(match)), 0))
        match &= (np.arange(len(match)) - run_start) % 2 == 0
    out = ids.copy()
    out[:-1][match] = new_id
    keep = np.ones(len(ids), dtype=bool)
    keep[1:][match] = False
    return out[keep]


def train_bpe(ids, base_vocab_size, n_merges):
    """Byte-pair encoding trained on ``ids`` (character ids): ``n_merges`` times, the most frequent
    adjacent pair (ties: the smallest pair id a * V + b) becomes a new token. Returns
    ``(merges (n_merges, 2) ints, lengths (n_merges + 1,))``: merge i makes token ``base_vocab_size + i``
    from the pair ``merges[i]``; ``lengths[m]`` is the length of the text after m merges."""
    ids = np.asarray(ids, dtype=np.int64)
    merges, lengths = [], [len(ids)]
    for i in range(int(n_merges)):
        vocab_size = base_vocab_size + i
        counts = count_pairs(ids, vocab_size)
        best = int(np.argmax(counts))
        if counts.flat[best] < 2:
            break
        a, b = divmod(best, vocab_size)
        ids = merge_pair(ids, a, b, vocab_size)
        merges.append((a, b))
        lengths.append(len(ids))
    return np.array(merges, dtype=np.int64).reshape(-1, 2), np.array(lengths)


def bpe_encode(ids, merges, base_vocab_size):
    """Character ids -> BPE token ids: the merges applied in the order they were learned."""
    ids = np.asarray(ids, dtype=np.int64)
    for i, (a, b) in enumerate(np.asarray(merges).reshape(-1, 2)):
        ids = merge_pair(ids, a, b, base_vocab_size + i)
    return ids


def token_strings(chars, merges):
    """The text of every token: the characters, then each merge's two parts joined."""
    strings = list(chars)
    for a, b in np.asarray(merges).reshape(-1, 2):
        strings.append(strings[a] + strings[b])
    return strings


def bpe_decode(ids, strings):
    """BPE token ids -> text (``strings`` from token_strings)."""
    return "".join(strings[i] for i in np.asarray(ids).ravel())


# ----------------------------------------------------------------------------- data
def random_windows(ids, seq_len, n, rng):
    """n random windows of the token stream: inputs (n, seq_len) and next-token targets (n, seq_len)."""
    ids = np.asarray(ids)
    starts = rng.integers(0, len(ids) - seq_len - 1, size=n)
    index = starts[:, None] + np.arange(seq_len)
    return ids[index], ids[index + 1]


def consecutive_windows(ids, seq_len):
    """The stream cut into non-overlapping windows (for validation): inputs and targets (n, seq_len)."""
    ids = np.asarray(ids)
    n = (len(ids) - 1) // seq_len
    x = ids[:n * seq_len].reshape(n, seq_len)
    return x, ids[1:n * seq_len + 1].reshape(n, seq_len)


def positions_for(tokens):
    """The position ids 0..T-1 of a batch of token windows (N, T) - the GPT's second input."""
    tokens = np.asarray(tokens)
    return np.broadcast_to(np.arange(tokens.shape[-1]), tokens.shape).copy()


# ----------------------------------------------------------------------------- baselines
def bigram_log_probs(train_ids, vocab_size, alpha=0.1):
    """log P(next = b | current = a) from counts with add-alpha smoothing: (vocab_size, vocab_size)."""
    counts = count_pairs(train_ids, vocab_size) + alpha
    return np.log(counts / counts.sum(axis=1, keepdims=True))


def bigram_loss(log_probs, ids):
    """Mean next-token cross-entropy (nats) of a bigram model on a token stream."""
    ids = np.asarray(ids)
    return float(-np.mean(log_probs[ids[:-1], ids[1:]]))


# ----------------------------------------------------------------------------- the GPT
@dataclass
class GPTConfig:
    """A GPT's sizes: vocabulary, context length, width, heads, blocks, SwiGLU hidden units."""
    vocab_size: int
    seq_len: int = 64
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    ff_units: int = 128


def build_gpt(config, dtype=None):
    """The GPT in Keras's functional API, every layer one with a NumPy twin (``nn.from_keras``):

        x = token_embedding(tokens) + position_embedding(positions)
        per block:  x = x + MHA(RMSNorm(x), causal);  h = RMSNorm(x);  x = x + W_down (silu(h W_gate) * h W_up)
        logits = Dense(V)(RMSNorm(x))

    Inputs: tokens and positions, both (N, T) ints. Output: logits (N, T, V)."""
    import keras
    L, c = keras.layers, config
    kw = {} if dtype is None else {"dtype": dtype}
    tokens = keras.Input(shape=(c.seq_len,), dtype="int32", name="tokens")
    positions = keras.Input(shape=(c.seq_len,), dtype="int32", name="positions")
    x = L.Add(**kw)([L.Embedding(c.vocab_size, c.d_model, name="token_embedding", **kw)(tokens),
                     L.Embedding(c.seq_len, c.d_model, name="position_embedding", **kw)(positions)])
    for i in range(c.num_layers):
        h = L.RMSNormalization(name=f"block{i}_attention_norm", **kw)(x)
        attended = L.MultiHeadAttention(c.num_heads, c.d_model // c.num_heads, name=f"block{i}_attention",
                                        **kw)(h, h, use_causal_mask=True)
        x = L.Add(**kw)([x, attended])
        h = L.RMSNormalization(name=f"block{i}_mlp_norm", **kw)(x)
        gate = L.Dense(c.ff_units, activation="silu", use_bias=False, name=f"block{i}_gate", **kw)(h)
        up = L.Dense(c.ff_units, use_bias=False, name=f"block{i}_up", **kw)(h)
        down = L.Dense(c.d_model, use_bias=False, name=f"block{i}_down", **kw)(L.Multiply(**kw)([gate, up]))
        x = L.Add(**kw)([x, down])
    logits = L.Dense(c.vocab_size, name="logits", **kw)(L.RMSNormalization(name="final_norm", **kw)(x))
    return keras.Model([tokens, positions], logits, name="gpt")


def rms_norm(x, scale, epsilon=1e-6):
    """x / sqrt(mean(x^2) + epsilon) * scale over the last axis."""
    return x / np.sqrt(np.mean(np.square(x), axis=-1, keepdims=True) + epsilon) * scale


def causal_attention(q, k, v, offset=0):
    """Causal attention per head, Keras's einsums: q (N, t, H, k), k and v (N, S, H, k); query i sits
    at position offset + i and sees keys s <= offset + i. Returns (N, t, H, k)."""
    scores = np.einsum("nthk,nshk->nhts", q / np.sqrt(q.shape[-1]), k)
    t, s = scores.shape[-2:]
    visible = np.arange(s)[None, :] <= offset + np.arange(t)[:, None]
    weights = activations.softmax(np.where(visible, scores, -1e9))
    return np.einsum("nhts,nshk->nthk", weights, v)


class NumpyGPT:
    """The GPT of ``build_gpt`` as plain NumPy formulas, with the weights of a Keras (or nn) GPT, in
    float64. ``forward(tokens, cache)`` runs new tokens (N, t) after the ``cache`` (a list of (K, V)
    per block, None at first) and returns (logits (N, t, V), the cache grown by t positions): a KV
    cache, so that generating a token costs one position's work, not the whole window's."""

    def __init__(self, model, config):
        self.config = config
        self.w = {layer.name: [np.asarray(v, dtype=np.float64) for v in layer.get_weights()]
                  for layer in model.layers if layer.get_weights()}
        self.epsilon = {layer.name: float(layer.epsilon) for layer in model.layers if hasattr(layer, "epsilon")}

    def _norm(self, name, x):
        return rms_norm(x, self.w[name][0], self.epsilon[name])

    def _attention(self, i, h, cache, offset):
        Wq, bq, Wk, bk, Wv, bv, Wo, bo = self.w[f"block{i}_attention"]
        q = np.einsum("ntd,dhk->nthk", h, Wq) + bq
        k = np.einsum("ntd,dhk->nthk", h, Wk) + bk
        v = np.einsum("ntd,dhk->nthk", h, Wv) + bv
        if cache is not None:
            k, v = np.concatenate([cache[0], k], axis=1), np.concatenate([cache[1], v], axis=1)
        return np.einsum("nthk,hkd->ntd", causal_attention(q, k, v, offset), Wo) + bo, (k, v)

    def forward(self, tokens, cache=None):
        tokens = np.asarray(tokens)
        offset = 0 if cache is None else cache[0][0].shape[1]
        if offset + tokens.shape[1] > self.config.seq_len:
            raise ValueError(f"The GPT has {self.config.seq_len} positions; received {tokens.shape[1]} tokens "
                             f"after a cache of {offset}. Keep the last {self.config.seq_len} tokens only.")
        x = self.w["token_embedding"][0][tokens] + self.w["position_embedding"][0][offset:offset + tokens.shape[1]]
        new_cache = []
        for i in range(self.config.num_layers):
            attended, kv = self._attention(i, self._norm(f"block{i}_attention_norm", x), None if cache is None
                                           else cache[i], offset)
            x = x + attended
            new_cache.append(kv)
            h = self._norm(f"block{i}_mlp_norm", x)
            gate = activations.silu(h @ self.w[f"block{i}_gate"][0])
            x = x + (gate * (h @ self.w[f"block{i}_up"][0])) @ self.w[f"block{i}_down"][0]
        W, b = self.w["logits"]
        return self._norm("final_norm", x) @ W + b, new_cache


# ----------------------------------------------------------------------------- generation
def sample_top_k(logits, temperature, top_k, u):
    """One token per row from softmax(logits / temperature) restricted to the top_k largest logits
    (None: all), drawn with the uniform numbers u (N,): the smallest token index whose cumulative
    probability exceeds u. logits (N, V) -> (N,) ints."""
    logits = np.asarray(logits, dtype=np.float64) / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = np.sort(logits, axis=-1)[:, -top_k][:, None]
        logits = np.where(logits >= kth, logits, -np.inf)
    cumulative = np.cumsum(activations.softmax(logits), axis=-1)
    return np.minimum((cumulative <= np.asarray(u)[:, None]).sum(axis=-1), logits.shape[-1] - 1)


def generate(gpt, prompt, n_new, temperature=1.0, top_k=None, rng=None, use_cache=True):
    """Continue ``prompt`` (N, t) ints by ``n_new`` sampled tokens (prompt + n_new <= seq_len). With
    ``use_cache`` each step runs only the new token through the NumpyGPT; without, the whole sequence
    again. The same draws give the same tokens either way. Returns (N, t + n_new) ints."""
    rng = np.random.default_rng(0) if rng is None else rng
    tokens = np.asarray(prompt)
    logits, cache = gpt.forward(tokens)
    for _ in range(int(n_new)):
        nxt = sample_top_k(logits[:, -1], temperature, top_k, rng.random(len(tokens)))[:, None]
        tokens = np.concatenate([tokens, nxt], axis=1)
        if len(tokens[0]) == len(prompt[0]) + n_new:
            break
        logits, cache = gpt.forward(nxt, cache) if use_cache else gpt.forward(tokens)
    return tokens


def nearest_tokens(embeddings, token, k=5):
    """The k tokens whose embedding rows have the largest cosine similarity with ``token``'s (itself
    excluded): (indices (k,), similarities (k,))."""
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    similarity = unit @ unit[token]
    similarity[token] = -np.inf
    order = np.argsort(-similarity)[:k]
    return order, similarity[order]
