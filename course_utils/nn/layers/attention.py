"""Multi-head attention and the sinusoidal positional encoding of "Attention is all you need".

``MultiHeadAttention`` mirrors ``keras.layers.MultiHeadAttention``: the same arguments, defaults,
weight layout and order, masks and call signature, so ``from_keras`` / ``to_keras`` copy weights
and the two agree number for number in float64.
"""
from __future__ import annotations

import inspect
import math

import numpy as np

from .. import initializers, regularizers
from ..base import InputSpec, Layer, is_positive_int, positive_int, shape_str
from ..symbolic import SymbolicTensor, has_symbolic
from ..threads import one_blas_thread

# Keras replaces masked logits by this before the softmax (keras.src.layers.activations.softmax,
# and the TensorFlow backend's dot_product_attention for float32/float64).
_LARGE_NEGATIVE = -1e9


# ------------------------------------------------------------ the attention kernel (CS231n style)
def scaled_dot_product_attention(Q, K, V, mask=None, scale=None, zero_masked=False, dropout_mask=None):
    """out = softmax(scale * Q K^T, masked) V over the last two axes (any leading axes: batch, heads).

    Q (..., T, k), K (..., S, k), V (..., S, v); ``mask`` booleans broadcastable to (..., T, S) (True:
    attend; a masked logit is replaced by -1e9, as Keras does), ``scale`` 1/sqrt(k) by default.
    ``zero_masked`` zeroes the masked weights after the softmax (Keras's masked softmax: a fully masked
    row then gets zeros); ``dropout_mask`` (..., T, S) multiplies the weights (inverted dropout).
    Returns ``(out (..., T, v), cache)``; ``cache["weights"]`` are the attention weights P (..., T, S).
    """
    scale = 1.0 / math.sqrt(Q.shape[-1]) if scale is None else scale
    Qs = Q * scale
    logits = Qs @ np.swapaxes(K, -1, -2)                                 # (..., T, S)
    if mask is not None:
        logits = np.where(mask, logits, _LARGE_NEGATIVE)
    logits = logits - logits.max(axis=-1, keepdims=True)
    P_soft = np.exp(logits)
    P_soft /= P_soft.sum(axis=-1, keepdims=True)
    P = np.where(mask, P_soft, 0.0) if zero_masked and mask is not None else P_soft
    out = (P if dropout_mask is None else P * dropout_mask) @ V
    cache = dict(Qs=Qs, K=K, V=V, P_soft=P_soft, weights=P, dropout_mask=dropout_mask, mask=mask,
                 zero_masked=zero_masked and mask is not None, scale=scale)
    return out, cache


def attention_cache(Q, K, V, weights, scale=None):
    """The cache of ``scaled_dot_product_attention`` for weights P (..., T, S) computed elsewhere (no
    dropout; a mask is in P already: a masked weight is 0, so its logit gets no gradient)."""
    scale = 1.0 / math.sqrt(Q.shape[-1]) if scale is None else scale
    return dict(Qs=Q * scale, K=K, V=V, P_soft=weights, weights=weights, dropout_mask=None, mask=None,
                zero_masked=False, scale=scale)


def scaled_dot_product_attention_backward(dout, cache, dweights=None):
    """(dQ, dK, dV) from dout = dL/d(out) (and ``dweights`` = dL/dP when the weights were used too):

        dV = P^T dout,   dP = dout V^T,   dS = P * (dP - sum_s(dP * P))   (the softmax's VJP),
        dQ = scale * dS K,   dK = scale * dS^T Q   (a masked logit was a constant: dS = 0 there).
    """
    P_soft, P, drop, mask = cache["P_soft"], cache["weights"], cache["dropout_mask"], cache["mask"]
    P_used = P if drop is None else P * drop
    dV = np.swapaxes(P_used, -1, -2) @ dout
    dP = dout @ np.swapaxes(cache["V"], -1, -2)
    if drop is not None:
        dP = dP * drop
    if dweights is not None:
        dP = dP + dweights
    if cache["zero_masked"]:
        dP = np.where(mask, dP, 0.0)
    dS = P_soft * (dP - np.sum(dP * P_soft, axis=-1, keepdims=True))
    if mask is not None:
        dS = np.where(mask, dS, 0.0)
    dQ = (dS @ cache["K"]) * cache["scale"]
    dK = np.swapaxes(dS, -1, -2) @ cache["Qs"]
    return dQ, dK, dV


class MultiHeadAttention(Layer):
    """Multi-head scaled dot-product attention, as ``keras.layers.MultiHeadAttention``.

    Called as Keras calls it: ``mha(query, value, key=None, attention_mask=None,
    use_causal_mask=False, return_attention_scores=False, training=False)``; ``key`` defaults to
    ``value`` (``mha(x, x)`` is self-attention).

    Shapes (h = num_heads, k = key_dim, v = value_dim, O = output dim):
        query (N, T, D_q), value (N, S, D_v), key (N, S, D_k) -> output (N, T, O),
        O = D_q unless ``output_shape`` is given; attention scores (N, h, T, S).

    Weights, in Keras's order (``layer.weights`` of the Keras layer: query/kernel, query/bias,
    key/kernel, key/bias, value/kernel, value/bias, attention_output/kernel, attention_output/bias):
        query_kernel (D_q, h, k),  query_bias (h, k),
        key_kernel   (D_k, h, k),  key_bias   (h, k),
        value_kernel (D_v, h, v),  value_bias (h, v),
        output_kernel (h, v, O),   output_bias (O,)            (no biases when use_bias=False)

    Forward (n batch, t query position, s key position, d/e/f input features, o output feature):
        Q[n,t,h,k] = sum_d query[n,t,d] Wq[d,h,k] + bq[h,k]
        K[n,s,h,k] = sum_e key[n,s,e]   Wk[e,h,k] + bk[h,k]
        V[n,s,h,v] = sum_f value[n,s,f] Wv[f,h,v] + bv[h,v]
        L[n,h,t,s] = sum_k (Q[n,t,h,k] * scale) K[n,s,h,k]    scale = 1/sqrt(key_dim), on the query as Keras
        P = softmax_s(where(M, L, -1e9))          M: attention_mask & causal mask (True = attend)
        C[n,t,h,v] = sum_s P[n,h,t,s] V[n,s,h,v]  (P after dropout while training)
        out[n,t,o] = sum_{h,v} C[n,t,h,v] Wo[h,v,o] + bo[o]

    Backward (dX = dLoss/dX for every X; dout is the upstream gradient):
        dbo = sum_{n,t} dout            dWo = sum_{n,t} C dout          dC = dout Wo^T
        dP[n,h,t,s] = sum_v dC[n,t,h,v] V[n,s,h,v]         dV[n,s,h,v] = sum_t P dC
        dL = P * (dP - sum_s(dP * P))   (the softmax's vector-Jacobian product), then 0 where ~M
        dQ = (dL K) * scale             dK[n,s,h,k] = sum_t dL[n,h,t,s] Q[n,t,h,k] * scale
        dWq = sum_{n,t} query dQ,  dbq = sum_{n,t} dQ,  dquery = dQ Wq^T   (and so for K and V)

    ``backward(dout)`` returns one gradient per tensor argument, in call order: ``[dquery, dvalue]``,
    or ``[dquery, dvalue, dkey]`` when a key was passed (for ``mha(x, x)`` a graph adds the two).
    After ``return_attention_scores=True`` it also accepts ``[dout, dscores]``.

    A query position whose every key is masked (a fully masked row) is handled as Keras handles
    it, which depends on Keras's code path: with ``return_attention_scores=True`` or
    ``dropout > 0`` Keras's masked softmax gives that row zero weights (its output is the output
    bias alone); otherwise Keras's fused ``dot_product_attention`` gives it uniform weights 1/S
    (the mean of the values). Both are reproduced; ``last_attention_scores`` holds the weights used.

    Refused (ValueError): ``attention_axes`` other than the default (attention over the sequence
    axis), inputs of rank other than 3, and the Keras options ``use_gate``, ``sliding_window``,
    ``activity_regularizer`` and constraints (``from_keras`` refuses a layer that sets them).
    Dropout is supported while training, with its own random numbers (``seed``), so it cannot
    match Keras's dropout masks.

    Known Keras difference: with ``key_dim=1`` or ``value_dim=1``, Keras on TensorFlow adds the
    (heads, 1) projection bias along the sequence axis when the sequence length equals num_heads
    (its ``ops.add`` turns it into a channels-first ``bias_add``); this layer adds it per head.
    """

    keras_class = "MultiHeadAttention"
    keras_arguments_not_supported = {
        "use_gate": ((False,), "a sigmoid gate on the attention output, Keras >= 3.14"),
        "sliding_window": ((None,), "local attention within a window of positions, Keras >= 3.14"),
        "flash_attention": ((None, False, True), "Keras's choice of kernel; the same numbers"),
        "kernel_constraint": ((None,), "a constraint Keras's optimizer applies to the kernels after each step"),
        "bias_constraint": ((None,), "a constraint Keras's optimizer applies to the biases after each step"),
    }
    # (batch, seq, features) each; build adds the feature size each kernel was built for (axes={-1: D})
    input_spec = {"query": InputSpec(ndim=3), "value": InputSpec(ndim=3), "key": InputSpec(ndim=3)}

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, seed=None, **kwargs):
        num_heads = positive_int(num_heads, "num_heads", argument=True)
        key_dim = positive_int(key_dim, "key_dim", argument=True)
        value_dim = positive_int(value_dim, "value_dim", argument=True, allow_none=True)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.floating)) or not 0 <= dropout < 1:
            raise ValueError("Invalid value received for argument `dropout`. Expected a float value "
                             f"between 0 and 1 (1 excluded). Received: dropout={dropout!r}")
        if output_shape:
            if isinstance(output_shape, (int, np.integer)):
                output_shape = (output_shape,)
            try:
                output_shape = tuple(int(d) for d in output_shape)
            except TypeError:
                raise ValueError(f"Invalid `output_shape`: {output_shape!r}. When specified, the "
                                 f"`output_shape` should be of type tuple, list, or int.") from None
            if not output_shape or any(d <= 0 for d in output_shape):
                raise ValueError(f"Invalid `output_shape`: {output_shape!r}: expected positive sizes.")
        else:
            output_shape = None
        if attention_axes is not None:
            axes = (attention_axes,) if isinstance(attention_axes, (int, np.integer)) else attention_axes
            if not isinstance(axes, (list, tuple)):
                raise ValueError(f"`attention_axes` must be an int, list, or tuple. "
                                 f"Received: attention_axes={attention_axes!r}")
            # For (N, T, D) inputs Keras's default is attention over axis 1 of the projected
            # (N, T, heads, dim) tensors, which it also accepts written as -2.
            if tuple(int(a) for a in axes) not in ((1,), (-2,)):
                raise ValueError(f"The NumPy MultiHeadAttention attends over the sequence axis only "
                                 f"(attention_axes=None, Keras's default for (batch, seq, features) "
                                 f"inputs). Received: attention_axes={attention_axes!r}. Use the "
                                 f"default, or reshape the input to (batch, seq, features).")
            attention_axes = tuple(int(a) for a in axes)
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self.output_shape = output_shape
        self.attention_axes = attention_axes
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.last_attention_scores = None
        self.dropout_mask = None
        self._cache = None

    # ----------------------------------------------------------------- building
    def build(self, query_shape, value_shape=None, key_shape=None):
        """Create the weights for query (N, T, D_q), value (N, S, D_v) and key (N, S, D_k) shapes
        (``value_shape`` defaults to ``query_shape``, ``key_shape`` to ``value_shape``), as Keras's
        ``build(query_shape, value_shape, key_shape)``."""
        query_shape = tuple(query_shape)
        value_shape = query_shape if value_shape is None else tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        for what, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3:
                raise ValueError(f"Layer '{self.name}' expected {what} of rank 3 (batch, seq, features), "
                                 f"received shape {shape_str(shape)}.")
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(f"All dimensions of `value` and `key`, except the last one, must be equal. "
                             f"Received: value_shape={value_shape} and key_shape={key_shape}")
        h, k, v = self.num_heads, self.key_dim, self.value_dim
        out_shape = self.output_shape or (query_shape[-1],)
        kernel, bias = self.kernel_initializer, self.bias_initializer
        self.add_weight("query_kernel", (query_shape[-1], h, k), kernel, self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("query_bias", (h, k), bias, self.bias_regularizer)
        self.add_weight("key_kernel", (key_shape[-1], h, k), kernel, self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("key_bias", (h, k), bias, self.bias_regularizer)
        self.add_weight("value_kernel", (value_shape[-1], h, v), kernel, self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("value_bias", (h, v), bias, self.bias_regularizer)
        self.add_weight("output_kernel", (h, v) + tuple(out_shape), kernel, self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("output_bias", tuple(out_shape), bias, self.bias_regularizer)
        else:
            self.query_bias = self.key_bias = self.value_bias = self.output_bias = None
        self.query_shape, self.value_shape, self.key_shape = query_shape, value_shape, key_shape
        self.input_spec = {what: InputSpec(ndim=3, axes={-1: shape[-1]}) for what, shape in
                           (("query", query_shape), ("value", value_shape), ("key", key_shape))}
        super().build(query_shape)

    def keras_build_shapes(self):
        """The arguments of the Keras layer's ``build(query_shape, value_shape, key_shape)``."""
        return self.query_shape, self.value_shape, self.key_shape

    def build_from_keras(self, keras_layer):
        """Build with the feature sizes of a built ``keras.layers.MultiHeadAttention`` (read from its
        kernels, so it works whatever shapes it was built or called with)."""
        dims = [int(dense.kernel.shape[0]) for dense in
                (keras_layer.query_dense, keras_layer.value_dense, keras_layer.key_dense)]
        self.build(*[(None, None, d) for d in dims])

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        if value_shape is not None:
            value_shape = tuple(value_shape)
            key_shape = value_shape if key_shape is None else tuple(key_shape)
            if value_shape[1:-1] != key_shape[1:-1]:
                raise ValueError(f"All dimensions of `value` and `key`, except the last one, must be "
                                 f"equal. Received: value_shape={value_shape} and key_shape={key_shape}")
        return query_shape[:-1] + tuple(self.output_shape or query_shape[-1:])

    @property
    def scale(self):
        """1 / sqrt(key_dim) rounded to float32, as Keras on TensorFlow applies it: its
        ``cast(1 / sqrt(key_dim), dtype)`` makes a float32 tensor of the Python float first (an
        exact float64 scale would differ from Keras by ~1e-8 relative for key_dim 2, 3, 5, ...)."""
        return float(np.float32(1.0 / math.sqrt(float(self.key_dim))))

    def _regularizer(self, slot):
        # the layer's kernel_/bias_regularizer attribute wins (Keras applies one pair to all four projections)
        return self.kernel_regularizer if slot.name.endswith("kernel") else self.bias_regularizer

    # ---------------------------------------------------------------- computing
    def _check_input_specs(self, arguments):
        """query, value, key checked against the specs (rank 3, the feature sizes built for), then
        against each other: value and key of one length S, one batch size for all three."""
        checked = super()._check_input_specs(arguments)
        query, value = checked["query"], checked["value"]
        key = value if checked["key"] is None else checked["key"]
        if checked["key"] is None and value.shape[-1] != self.key_kernel.shape[0]:   # the value serves as key
            raise ValueError(self._axis_size_error(value, -1, self.key_kernel.shape[0], "key"))
        if value.shape[1] != key.shape[1]:
            raise ValueError(f"All dimensions of `value` and `key`, except the last one, must be equal. "
                             f"Received: value_shape={shape_str(value.shape)} and key_shape={shape_str(key.shape)}")
        if not query.shape[0] == value.shape[0] == key.shape[0]:
            raise ValueError(f"Layer '{self.name}' expected query, value and key with the same batch size, "
                             f"received query {shape_str(query.shape)}, value {shape_str(value.shape)}, "
                             f"key {shape_str(key.shape)}.")
        return checked

    def _axis_size_error(self, x, axis, size, what="input"):
        kernel = getattr(self, f"{what}_kernel")
        return (f"Layer '{self.name}' expected {what} with last dimension {kernel.shape[0]} "
                f"(its {what} kernel has shape {shape_str(kernel.shape)}), received {what} of "
                f"shape {shape_str(x.shape)}. Give the same feature size it was built with.")

    def _mask(self, attention_mask, use_causal_mask, N, T, S):
        """The combined boolean mask, broadcastable to (N, 1, T, S), or None: attention_mask (nonzero
        = attend, Keras casts it to bool) AND the causal mask (key position s <= query position t)."""
        mask = None
        if attention_mask is not None:
            mask = np.asarray(attention_mask)
            if mask.dtype != bool and not np.issubdtype(mask.dtype, np.number):
                raise TypeError(f"Layer '{self.name}' expected a boolean or 0/1 attention_mask, received "
                                f"dtype {mask.dtype}.")
            if mask.ndim == 2:
                mask = mask[None]
            if mask.ndim != 3 or any(m not in (1, e) for m, e in zip(mask.shape, (N, T, S))):
                raise ValueError(f"Layer '{self.name}' expected attention_mask of shape (batch, T, S) = "
                                 f"{shape_str((N, T, S))} (each dimension 1 or equal to that), received shape "
                                 f"{shape_str(np.shape(attention_mask))}. attention_mask[n, t, s] says whether "
                                 f"query position t may attend to key position s.")
            mask = mask.astype(bool)
        if use_causal_mask:
            causal = np.tril(np.ones((T, S), dtype=bool))[None]  # t >= s, Keras's lower triangle
            mask = causal if mask is None else mask & causal
        return None if mask is None else mask[:, None]           # (N or 1, 1, T, S): the heads axis

    def forward(self, query, value, key=None, attention_mask=None, use_causal_mask=False,
                return_attention_scores=False, training=False, query_mask=None, value_mask=None, key_mask=None):
        """query (N, T, D_q), value (N, S, D_v), key (N, S, D_k) or None -> output (N, T, O), and the
        attention scores (N, h, T, S) too when ``return_attention_scores``. ``query_mask`` (N, T),
        ``value_mask``/``key_mask`` (N, S): the padding masks Keras takes from its inputs (Embedding's
        mask_zero, Masking), combined as Keras's _compute_attention_mask: q[:, :, None] & v[:, None, :]."""
        attention_mask = self._padding_mask(attention_mask, query_mask, value_mask, key_mask)
        with one_blas_thread():  # small products: one BLAS thread is faster (see nn.threads)
            return self._forward(query, value, key, attention_mask, use_causal_mask, return_attention_scores,
                                 training)

    @staticmethod
    def _padding_mask(attention_mask, query_mask, value_mask, key_mask):
        """attention_mask AND the padding masks (Keras's _compute_attention_mask), or as it was."""
        auto = None
        for padding, axis in ((query_mask, -1), (value_mask, -2), (key_mask, -2)):
            if padding is not None:
                padding = np.expand_dims(np.asarray(padding).astype(bool), axis)
                auto = padding if auto is None else auto & padding
        if auto is None:
            return attention_mask
        return auto if attention_mask is None else np.asarray(attention_mask).astype(bool) & auto

    def __call__(self, *args, **kwargs):
        """``forward`` on arrays; on symbolic tensors (``nn.Input``) a node of a functional ``nn.Model``."""
        if has_symbolic(args, kwargs):
            bound = inspect.signature(self.forward).bind(*args, **kwargs).arguments
            if bound.get("return_attention_scores"):
                raise ValueError(f"Layer '{self.name}': return_attention_scores=True is not supported inside "
                                 f"a functional nn.Model (its nodes have one output). Call the layer on "
                                 f"arrays to get the scores, or read layer.last_attention_scores after forward.")
            # a symbolic attention_mask is one more tensor argument: backward then gives it None
            self._mask_is_tensor = isinstance(bound.get("attention_mask"), SymbolicTensor)
        return super().__call__(*args, **kwargs)

    def _forward(self, query, value, key, attention_mask, use_causal_mask, return_attention_scores, training):
        has_key = key is not None
        key = value if key is None else key                              # mha(x, x): the value is the key
        (N, T, _), S = query.shape, value.shape[1]
        h, k, v = self.num_heads, self.key_dim, self.value_dim
        mask = self._mask(attention_mask, use_causal_mask, N, T, S)

        def project(x, kernel, bias):  # (N, L, D) @ (D, h, dim) -> (N, h, L, dim)
            y = x.reshape(-1, x.shape[-1]) @ kernel.reshape(kernel.shape[0], -1)
            y = y.reshape(x.shape[:2] + kernel.shape[1:])
            if bias is not None:
                y = y + bias
            return y.transpose(0, 2, 1, 3)

        Q = project(query, self.query_kernel, self.query_bias)           # (N, h, T, k)
        K = project(key, self.key_kernel, self.key_bias)                 # (N, h, S, k)
        V = project(value, self.value_kernel, self.value_bias)           # (N, h, S, v)
        # Keras's masked softmax (scores returned, or dropout) zeroes masked weights, so a fully
        # masked row gets all zeros; its fused dot_product_attention keeps the uniform 1/S.
        zero_masked = mask is not None and (return_attention_scores or self.dropout > 0)
        drop = None
        if training and self.dropout > 0:
            shape = (N, h, T, S)
            uniform = self._rng.random(shape) if self._rng is not None else np.random.random_sample(shape)
            drop = (uniform >= self.dropout).astype(np.result_type(Q, K)) / (1.0 - self.dropout)
        self.dropout_mask = drop
        C, attention = scaled_dot_product_attention(Q, K, V, mask, self.scale, zero_masked, drop)  # (N, h, T, v)
        P = attention["weights"]
        C2 = C.transpose(0, 2, 1, 3).reshape(N * T, h * v)
        out_dims = self.output_kernel.shape[2:]
        out = C2 @ self.output_kernel.reshape(h * v, -1)
        if self.use_bias:
            out = out + self.output_bias.reshape(-1)
        out = out.reshape((N, T) + out_dims)
        self.last_attention_scores = P
        self._cache = dict(query=query, value=value, key=key, has_key=has_key, has_mask=attention_mask is not None,
                           attention=attention, P=P, C2=C2, out_shape=out.shape, scores=return_attention_scores)
        return (out, P) if return_attention_scores else out

    def backward(self, dout):
        """dout (N, T, O) -> [dquery, dvalue] (+ dkey when a key was passed); fills ``grads``.
        After ``return_attention_scores=True``, ``dout`` may be ``[dout, dscores]``."""
        with one_blas_thread():
            return self._backward(dout)

    def _backward(self, dout):
        self._require_forward()
        c = self._cache
        dscores = None
        if isinstance(dout, (list, tuple)):
            if not c["scores"] or len(dout) != 2:
                raise ValueError(f"Layer '{self.name}' backward expected one dout array of shape "
                                 f"{shape_str(c['out_shape'])} (or [dout, dscores] after "
                                 f"return_attention_scores=True), received a list of {len(dout)}.")
            dout, dscores = dout
            dscores = self._check_dout(dscores, c["P"].shape)
        dout = self._check_dout(dout, c["out_shape"])
        query, value, key = c["query"], c["value"], c["key"]
        N, T = query.shape[:2]
        h, k, v = self.num_heads, self.key_dim, self.value_dim
        dout2 = dout.reshape(N * T, -1)
        d_output_kernel = (c["C2"].T @ dout2).reshape(self.output_kernel.shape)
        d_output_bias = dout2.sum(axis=0).reshape(self.output_kernel.shape[2:]) if self.use_bias else None
        dC = (dout2 @ self.output_kernel.reshape(h * v, -1).T).reshape(N, T, h, v).transpose(0, 2, 1, 3)
        dQ, dK, dV = scaled_dot_product_attention_backward(dC, c["attention"], dscores)  # (N, h, L, dim)

        def project_back(x, dY, kernel):  # dY (N, h, L, dim) -> dx, dkernel, dbias
            dY = dY.transpose(0, 2, 1, 3).reshape(x.shape[0] * x.shape[1], -1)
            x2 = x.reshape(-1, x.shape[-1])
            dkernel = (x2.T @ dY).reshape(kernel.shape)
            dbias = dY.sum(axis=0).reshape(kernel.shape[1:]) if self.use_bias else None
            dx = (dY @ kernel.reshape(kernel.shape[0], -1).T).reshape(x.shape)
            return dx, dkernel, dbias

        dquery, dWq, dbq = project_back(query, dQ, self.query_kernel)
        dkey, dWk, dbk = project_back(key, dK, self.key_kernel)
        dvalue, dWv, dbv = project_back(value, dV, self.value_kernel)
        grads = dict(query_kernel=dWq, key_kernel=dWk, value_kernel=dWv, output_kernel=d_output_kernel)
        if self.use_bias:
            grads.update(query_bias=dbq, key_bias=dbk, value_bias=dbv, output_bias=d_output_bias)
        self.set_grads(**grads)
        dinputs = [dquery, dvalue, dkey] if c["has_key"] else [dquery, dvalue + dkey]  # no key: value is the key
        if getattr(self, "_mask_is_tensor", False) and c["has_mask"]:
            dinputs.append(None)  # the mask (an nn.Input of a functional model) has no gradient
        return dinputs

    # ------------------------------------------------------------------- config
    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": self.output_shape, "attention_axes": self.attention_axes,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": self.kernel_regularizer, "bias_regularizer": self.bias_regularizer,
                "seed": self.seed}


def positional_encoding(length, depth, max_wavelength=10000.0, dtype="float64"):
    """The sinusoidal positional encoding of "Attention is all you need" (Vaswani et al., 2017).

    Returns PE of shape (length, depth):
        PE[pos, 2i]     = sin(pos / max_wavelength^(2i / depth))
        PE[pos, 2i + 1] = cos(pos / max_wavelength^(2i / depth))
    for positions pos = 0 .. length-1; added to (batch, length, depth) embeddings (it broadcasts).

    Keras itself has no such layer (keras_hub has ``keras_hub.layers.SinePositionEncoding``, with
    the same formula and ``max_wavelength=10000``).
    """
    if not is_positive_int(length) or not is_positive_int(depth):
        raise ValueError(f"positional_encoding expects positive integers length and depth, "
                         f"received length={length!r}, depth={depth!r}.")
    if not max_wavelength > 0:
        raise ValueError(f"positional_encoding expects max_wavelength > 0, received {max_wavelength!r}.")
    position = np.arange(length, dtype=np.float64)[:, None]             # (length, 1)
    pair = np.arange(depth, dtype=np.float64) // 2                        # i of feature 2i and 2i + 1
    angle = position / np.power(float(max_wavelength), 2.0 * pair / depth)  # (length, depth)
    pe = np.where(np.arange(depth) % 2 == 0, np.sin(angle), np.cos(angle))
    return pe.astype(dtype)
