"""The core layers, as Keras groups them in ``keras/src/layers/core``: ``Dense`` (the layer of an
MLP), ``Embedding`` (a lookup table of learned vectors) and ``InputLayer`` / ``Input`` (the
symbolic input of a functional model).
"""
from __future__ import annotations

import numpy as np

from .. import initializers
from ..base import InputSpec, KernelAndBias, Layer, _unique_name, positive_int, shape_str
from ..optimizers import IndexedRows
from ..symbolic import Node, SymbolicTensor


# -------- Dense ----------------------------------------------------------------------------------


class Dense(KernelAndBias, Layer):
    """A fully connected layer: ``y = f(x @ kernel + bias)``.

    Arguments, defaults and layout as ``keras.layers.Dense``:
    kernel ``(input_dim, units)``, bias ``(units,)``; weights ``[kernel, bias]``.
    Like Keras, an input of rank > 2 is transformed along its last axis.

    Shapes: x ``(N, ..., input_dim)`` -> y ``(N, ..., units)``.

    Forward:   z = x W + b,          a = f(z)
    Backward:  dz = f'(z) * da       (a vector-Jacobian product for softmax)
               dW = x^T dz           (summed over the batch and any middle axes)
               db = sum_n dz
               dx = dz W^T
    """

    keras_class = "Dense"
    input_spec = InputSpec(min_ndim=2)
    keras_arguments_not_supported = {
        "lora_rank": ((None,), "LoRA fine-tuning"), "lora_alpha": ((None,), "LoRA fine-tuning"),
        "quantization_config": ((None,), "quantization"),
    }

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, "units")
        self._kernel_and_bias_options(activation, use_bias, kernel_initializer, bias_initializer,
                                      kernel_regularizer, bias_regularizer)

    def build(self, input_shape):
        input_shape = self._shape_of_min_rank(input_shape, 2, "expected input of rank >= 2 (batch, features)")
        input_dim = input_shape[-1]
        self._add_kernel_and_bias((input_dim, self.units), self.units)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})   # as Keras: any batch, any middle axes
        super().build(input_shape)

    def _axis_size_error(self, x, axis, size, what="input"):
        return f"Layer '{self.name}' expected input with last dimension {size}, received shape {shape_str(x.shape)}."

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        z = x @ self.kernel
        if self.use_bias:
            z = z + self.bias
        a = self.activation.forward(z)
        self._cache = (x, z, a)
        return a

    def backward(self, dout):
        self._require_forward()
        x, z, a = self._cache
        da = self._check_dout(dout, a.shape)
        return self.backward_from_logits(self.activation.backward(z, a, da))

    @property
    def logits(self):
        """z = x W + b of the last forward pass (the input of the activation)."""
        self._require_forward()
        return self._cache[1]

    def backward_from_logits(self, dz):
        """The backward pass from dL/dz (skipping the activation): fills grads, returns dx.
        Used when the loss is computed from the logits, e.g. softmax + cross-entropy, where
        dL/dz = (p - y) / N directly."""
        self._require_forward()
        x, z, _ = self._cache
        dz = self._check_dout(dz, z.shape)
        x2 = x.reshape(-1, x.shape[-1])
        dz2 = dz.reshape(-1, dz.shape[-1])
        self.dkernel = x2.T @ dz2
        self.dbias = dz2.sum(axis=0) if self.use_bias else None
        self._set_kernel_and_bias_grads()
        return dz @ self.kernel.T

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation.name,
                **self._kernel_and_bias_config()}


# -------- Embedding ------------------------------------------------------------------------------


class Embedding(Layer):
    """Turns integer indices into dense vectors, as ``keras.layers.Embedding``.

    Weights ``[embeddings (input_dim, output_dim)]``: row k is the vector of token k.
    Shapes: indices ``(N, ...)`` (integers in [0, input_dim)) -> ``(N, ..., output_dim)``.

    Forward:   y[n, t] = E[x[n, t]]                 (a row lookup: one-hot(x) @ E without the zeros)
    Backward:  dE[k] = sum over (n, t) with x[n, t] = k of dy[n, t]    (np.add.at: repeated tokens add up)
               dx: none - the input is a set of integers, which have no gradient; ``backward``
               returns None (Keras likewise gives no gradient for the indices).

    Floating-point arrays holding whole numbers are accepted (Keras casts them to int32).
    ``mask_zero=True``: index 0 is padding; ``compute_mask(x)`` is ``x != 0``, which a functional
    Model or Sequential passes on to the layers after it, as Keras does (``course_utils.nn.symbolic``).
    """

    keras_class = "Embedding"
    input_spec = InputSpec(min_ndim=1)   # integer indices: checked by _check_input_spec below
    keras_arguments_not_supported = {
        "embeddings_regularizer": ((None,), "a penalty on the embeddings"),
        "embeddings_constraint": ((None,), "a constraint Keras's optimizer applies after each step"),
        "weights": ((None,), "initial embeddings; call set_weights([embeddings]) after building instead"),
        "lora_rank": ((None,), "LoRA fine-tuning"), "lora_alpha": ((None,), "LoRA fine-tuning"),
        "quantization_config": ((None,), "quantization"),
    }

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = positive_int(input_dim, "input_dim")
        self.output_dim = positive_int(output_dim, "output_dim")
        self._initializer_name = embeddings_initializer
        # Keras's "uniform" is RandomUniform(-0.05, 0.05)
        self.embeddings_initializer = initializers.random_uniform if embeddings_initializer == "uniform" \
            else initializers.get(embeddings_initializer)
        self.mask_zero = bool(mask_zero)   # index 0 is padding: compute_mask gives x != 0, as Keras
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

    def _check_input_spec(self, x):
        """Integer indices (whole-number floats accepted, as Keras casts them), in range; built on them."""
        idx = self._indices(x)
        self._ensure_built(idx)
        return idx

    def forward(self, x, training=False):
        """x (N, ...) integer indices -> (N, ..., output_dim): y = E[x]."""
        self._cache = x
        return self.embeddings[x]

    def backward(self, dout):
        """dout (N, ..., output_dim) -> None; fills grads = [dE (input_dim, output_dim)]."""
        self._require_forward()
        idx = self._cache
        dout = self._check_dout(dout, idx.shape + (self.output_dim,))
        dE = np.zeros_like(self.embeddings)
        rows = dout.reshape(-1, self.output_dim)
        np.add.at(dE, idx.ravel(), rows)   # dE[k] += dy[n, t] where x[n, t] = k
        self.set_grads(embeddings=dE)
        # the rows too, as TensorFlow's IndexedSlices: Keras's optimizers square/clip them one by one there
        self._grads = [IndexedRows(dE, idx.ravel(), rows)]
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


# -------- InputLayer and Input -------------------------------------------------------------------


class Masking(Layer):
    """Masks the time steps whose features all equal ``mask_value``, as ``keras.layers.Masking``.

    Shapes: x ``(N, T, ...)`` -> y the same. No weights.
    Forward:   m = any(x != mask_value, axis=-1);  y = x where m, else 0
    Backward:  dx = dy where m, else 0.  ``compute_mask(x)`` is m (N, T), for the layers after it.
    """

    keras_class = "Masking"
    input_spec = InputSpec(min_ndim=2)   # (batch, steps, ...): the mask is over the last axis

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self._cache = None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, x, mask=None):
        return np.any(np.asarray(x) != self.mask_value, axis=-1)

    def forward(self, x, training=False):
        keep = self.compute_mask(x)[..., None]
        self._cache = keep
        return np.where(keep, x, 0.0).astype(x.dtype)

    def backward(self, dout):
        self._require_forward()
        self.set_grads()
        return np.where(self._cache, dout, 0.0)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


class InputLayer(Layer):
    """The layer behind ``Input``: no computation, it only declares the input's shape."""

    keras_class = "InputLayer"
    keras_arguments_not_supported = {
        "sparse": ((None, False), "sparse tensors"), "ragged": ((None, False), "ragged tensors"),
        "optional": ((False,), "an input that may be None"), "input_tensor": ((None,), "an existing tensor"),
    }

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, batch_shape=None, **kwargs):
        super().__init__(name=name or _unique_name("input_layer"), **kwargs)
        if batch_shape is None:
            if shape is None:
                raise ValueError("You must pass a `shape` argument to Input, e.g. Input(shape=(8,)).")
            if isinstance(shape, (int, np.integer)):
                shape = (shape,)
            batch_shape = (batch_size,) + tuple(shape)
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self.input_dtype = np.dtype(dtype) if dtype is not None else None
        self.input_shape = self.batch_shape
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        return x

    def backward(self, dout):
        return dout

    def keras_config(self):
        return {"batch_shape": self.batch_shape, "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None):
    """A symbolic input tensor of shape ``(batch_size, *shape)`` (batch ``None``: any size), as
    ``keras.Input``; call layers on it, then make a ``Model(inputs=..., outputs=...)``."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name, batch_shape=batch_shape)
    tensor = SymbolicTensor(layer.batch_shape, dtype=layer.input_dtype, name=layer.name)
    tensor.node = Node(layer, {}, [tensor])
    return tensor
