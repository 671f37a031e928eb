"""Embedding (a lookup table of learned vectors) and TimeDistributed (one layer applied at every
time step): the two layers a character model needs around its RNN, as in Keras."""
from __future__ import annotations

import numpy as np

from . import initializers
from .base import LAYER_REGISTRY, Layer, shape_str


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Received an invalid value for `{name}`, expected a positive integer. "
                         f"Received: {name}={value!r}")
    return int(value)


class Embedding(Layer):
    """Turns integer indices into dense vectors, as ``keras.layers.Embedding``.

    Weights ``[embeddings (input_dim, output_dim)]``: row k is the vector of token k.
    Shapes: indices ``(N, ...)`` (integers in [0, input_dim)) -> ``(N, ..., output_dim)``.

    Forward:   y[n, t] = E[x[n, t]]                 (a row lookup: one-hot(x) @ E without the zeros)
    Backward:  dE[k] = sum over (n, t) with x[n, t] = k of dy[n, t]    (np.add.at: repeated tokens add up)
               dx: none - the input is a set of integers, which have no gradient; ``backward``
               returns None (Keras likewise gives no gradient for the indices).

    Floating-point arrays holding whole numbers are accepted (Keras casts them to int32).
    ``mask_zero=True`` (padding masks for the layers after it) is not supported by the NumPy layers.
    """

    keras_class = "Embedding"

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = _positive_int(input_dim, "input_dim")
        self.output_dim = _positive_int(output_dim, "output_dim")
        self._initializer_name = embeddings_initializer
        # Keras's "uniform" is RandomUniform(-0.05, 0.05)
        self.embeddings_initializer = initializers.random_uniform if embeddings_initializer == "uniform" \
            else initializers.get(embeddings_initializer)
        if mask_zero:
            raise ValueError("The NumPy layers do not propagate masks, so Embedding(mask_zero=True) would "
                             "make the next layers compute something else than Keras; received mask_zero=True. "
                             "Use mask_zero=False (sequences of equal length need no mask).")
        self.mask_zero = False
        self._cache = None

    def build(self, input_shape):
        self.add_weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def _indices(self, x):
        x = x if isinstance(x, np.ndarray) else np.asarray(x)
        if x.dtype == bool or not np.issubdtype(x.dtype, np.number):
            raise TypeError(f"Embedding '{self.name}' expects integer token indices, received dtype {x.dtype}.")
        if x.ndim < 1:
            raise ValueError(f"Embedding '{self.name}' expects indices with a batch dimension, (batch,) or "
                             f"(batch, timesteps); received a scalar. Use np.array([[index]]).")
        if np.issubdtype(x.dtype, np.floating):
            if not np.all(np.isfinite(x)) or not np.all(x == np.round(x)):
                bad = x.ravel()[~(np.isfinite(x.ravel()) & (x.ravel() == np.round(x.ravel())))][0]
                raise ValueError(f"Embedding '{self.name}' expects whole-number token indices, received "
                                 f"{bad} in an array of dtype {x.dtype}. Convert with x.astype(int) after rounding.")
            x = x.astype(np.int64)
        elif not np.issubdtype(x.dtype, np.integer):
            raise TypeError(f"Embedding '{self.name}' expects integer token indices, received dtype {x.dtype}.")
        if x.size and (x.min() < 0 or x.max() >= self.input_dim):
            bad = int(x.min()) if x.min() < 0 else int(x.max())
            raise ValueError(f"Embedding '{self.name}' has input_dim={self.input_dim}, so indices must lie in "
                             f"[0, {self.input_dim - 1}]; received index {bad}. Make input_dim the vocabulary size.")
        return x

    def forward(self, x, training=False):
        """x (N, ...) integer indices -> (N, ..., output_dim): y = E[x]."""
        idx = self._indices(x)
        self._ensure_built(idx)
        self._cache = idx
        return self.embeddings[idx]

    def backward(self, dout):
        """dout (N, ..., output_dim) -> None; fills grads = [dE (input_dim, output_dim)]."""
        self._require_forward()
        idx = self._cache
        dout = self._check_dout(dout, idx.shape + (self.output_dim,))
        dE = np.zeros_like(self.embeddings)
        np.add.at(dE, idx.ravel(), dout.reshape(-1, self.output_dim))   # dE[k] += dy[n, t] where x[n, t] = k
        self.dembeddings = dE
        self.set_grads(embeddings=dE)
        return None

    def get_config(self):
        init = self._initializer_name if isinstance(self._initializer_name, str) \
            else initializers.serialize(self.embeddings_initializer)
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": init, "mask_zero": self.mask_zero}

    def keras_config(self):
        config = self.get_config()
        if callable(config["embeddings_initializer"]):
            raise ValueError(f"Layer '{self.name}' uses a custom embeddings_initializer; name a Keras one instead.")
        return config


class TimeDistributed(Layer):
    """Applies one layer to every time step, as ``keras.layers.TimeDistributed(layer)``.

    The same weights serve every step: the wrapped layer sees the (N, T, ...) input as N*T examples.
    Weights, their order and ``grads`` are those of the wrapped layer.
    (``Dense`` already works along the last axis of a rank-3 input, so
    ``TimeDistributed(Dense(k))`` and ``Dense(k)`` compute the same thing; the wrapper is the general form.)

    Shapes: x ``(N, T, ...)`` -> ``(N, T, ...out)``.
    Forward:   y[:, t] = layer(x[:, t])              (as one call on x reshaped to (N T, ...))
    Backward:  dx[:, t] = layer.backward(dy[:, t]);  dW = sum_t dW_t    (the same reshape)
    """

    keras_class = "TimeDistributed"

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed wraps a course_utils.nn layer, received {type(layer).__name__}. "
                            f"(A Keras layer can be converted with course_utils.nn.from_keras.)")
        if self.dtype is not None and layer.dtype is None:
            layer.dtype = self.dtype
        self.layer = layer
        self._cache = None

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed '{self.name}' expects input of rank >= 3 (batch, timesteps, ...), "
                             f"received shape {shape_str(input_shape)}.")
        if not self.layer.built:
            self.layer.build((None,) + input_shape[2:])
        super().build(input_shape)

    # The weights, their order and their gradients are the wrapped layer's (the same arrays).
    @property
    def _slots(self):
        return self.layer._slots

    @_slots.setter
    def _slots(self, value):
        pass


    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def forward(self, x, training=False):
        """x (N, T, ...) -> (N, T, ...out)."""
        x = self._as_input(x, min_ndim=3)
        self._ensure_built(x)
        N, T = x.shape[:2]
        y = self.layer.forward(x.reshape((N * T,) + x.shape[2:]), training=training)
        self._cache = (N, T)
        return y.reshape((N, T) + y.shape[1:])

    def backward(self, dout):
        """dout (N, T, ...out) -> dx (N, T, ...); grads = the wrapped layer's, summed over time."""
        self._require_forward()
        N, T = self._cache
        dout = np.asarray(dout)
        if dout.shape[:2] != (N, T):
            raise ValueError(f"TimeDistributed '{self.name}' backward expected dout of shape (batch, timesteps, "
                             f"...) = ({N}, {T}, ...), received shape {shape_str(dout.shape)}.")
        dx = self.layer.backward(dout.reshape((N * T,) + dout.shape[2:]))
        return None if dx is None else dx.reshape((N, T) + dx.shape[1:])

    @property
    def trainable_weights(self):
        return self.layer.trainable_weights if self.trainable else []

    @property
    def grads(self):
        return self.layer.grads if self.trainable else []

    @property
    def non_trainable_weights(self):
        return self.layer.non_trainable_weights if self.trainable else self.weights

    def regularization_loss(self):
        return self.layer.regularization_loss() if self.trainable else 0.0

    def regularization_grads(self):
        return self.layer.regularization_grads() if self.trainable else []

    def get_config(self):
        return {**super().get_config(), "layer": self.layer}

    def keras_config(self):
        from .convert import to_keras
        return {"name": self.name, "trainable": self.trainable,
                "layer": to_keras(self.layer, dtype=str(self.layer.compute_dtype))}

    @classmethod
    def from_keras_config(cls, config):
        from .convert import default_from_keras_config
        inner = config["layer"]
        class_name = inner.get("class_name") if isinstance(inner, dict) else type(inner).__name__
        inner_cls = LAYER_REGISTRY.get(class_name)
        if inner_cls is None:
            raise ValueError(f"There is no NumPy twin of keras.layers.{class_name} (inside TimeDistributed). "
                             f"Layers with twins: {', '.join(sorted(LAYER_REGISTRY))}.")
        inner_config = inner["config"]
        convert = getattr(inner_cls, "from_keras_config", None)
        kwargs = convert(inner_config) if convert else default_from_keras_config(inner_cls, inner_config)
        return {"layer": inner_cls(**kwargs), "name": config.get("name"), "trainable": config.get("trainable", True)}
