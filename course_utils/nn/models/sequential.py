"""``Sequential``: a stack of NumPy layers with Keras's interface.

- ``forward(x)`` runs the layers in order; ``backward(dout)`` runs their backward passes in reverse
  (the chain rule, one layer at a time) and returns dL/dx; ``grads`` then lists every trainable
  weight's gradient in the order of Keras's ``model.trainable_weights``.
- ``compile(optimizer, loss, metrics)`` / ``fit`` / ``evaluate`` / ``predict`` /
  ``train_on_batch`` (``course_utils.nn.trainer``) feel like Keras; ``fit`` returns a ``History``.
"""
from __future__ import annotations

import numpy as np

from ..base import Layer, _unique_name, shape_str
from ..masks import output_mask, takes_mask
from .model import BaseModel


class Sequential(BaseModel):
    """A linear stack of layers, as ``keras.Sequential``; itself a Layer (forward/backward/grads)."""

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name or _unique_name("sequential"), trainable=trainable)
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential expects course_utils.nn layers, received {type(layer).__name__}. "
                            f"(A Keras layer can be converted with course_utils.nn.from_keras.)")
        if self.built:
            raise ValueError("Cannot add a layer to a model that is already built.")
        self.layers.append(layer)

    def build(self, input_shape):
        if not self.layers:
            raise ValueError("Sequential has no layers; add some before building it.")
        shape = tuple(input_shape)
        self.input_shape = shape
        for layer in self.layers:
            if not layer.built:
                layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.output_shape = shape
        self.built = True

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def forward(self, x, training=False):
        if not self.built:
            x = np.asarray(x)
            self.build((None,) + x.shape[1:])
        mask = None   # Keras's: made by Embedding(mask_zero=True) or Masking, passed on (nn.masks)
        for layer in self.layers:
            masked = {"mask": mask} if mask is not None and takes_mask(layer) else {}
            x, mask = layer.forward(x, training=training, **masked), output_mask(layer, x, mask)
        return x

    def backward(self, dout, from_logits=False):
        """Backpropagation: each layer turns dL/d(its output) into dL/d(its input).

        With ``from_logits``, ``dout`` is dL/dz of the last layer's logits (its activation skipped).
        """
        layers = list(reversed(self.layers))
        if from_logits:
            dout = layers.pop(0).backward_from_logits(dout)
        for layer in layers:
            dout = layer.backward(dout)
        return dout

    def summary(self, print_fn=print):
        lines = [f'Model: "{self.name}"', f"{'Layer (type)':<32}{'Output Shape':<24}{'Param #':>10}"]
        shape = self.input_shape
        for layer in self.layers:
            out = layer.compute_output_shape(shape) if shape is not None else "?"
            lines.append(f"{layer.name + ' (' + type(layer).__name__ + ')':<32}"
                         f"{shape_str(out) if shape is not None else '?':<24}{layer.count_params():>10,}")
            shape = out if shape is not None else None
        lines.append(f"Total params: {self.count_params():,}")
        print_fn("\n".join(lines))
