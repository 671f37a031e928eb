"""``BaseModel``: what every model is, as Keras's ``models/model.py``: a Layer that holds
``layers`` (their weights, gradients, freezing and regularizers, in Keras's order) and trains
(``Trainer``: compile / fit / evaluate / predict). ``Sequential`` (a stack) and the functional
``Model`` (a graph) are its two subclasses, side by side; each says how it runs forward and backward.
"""
from __future__ import annotations

from ..base import Layer
from ..trainer import Trainer


class BaseModel(Trainer, Layer):
    """A Layer made of ``self.layers``; subclasses set ``layers`` and implement ``forward``,
    ``backward``, ``compute_output_shape`` and ``summary``."""

    def __init__(self, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        self.layers = []
        self._init_training()

    # The dtype is the layers': the first one a layer declares.
    @property
    def dtype(self):
        for layer in self.layers:
            if layer.dtype is not None:
                return layer.dtype
        return None

    @property
    def weight_names(self):
        """'layer_name/weight_name' for every weight, in order."""
        return [f"{layer.name}/{n}" for layer in self.layers for n in layer.weight_names]

    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    # Freezing as Keras: model.trainable = False freezes every layer (Layer's setter recurses into
    # self.layers); a frozen model has no trainable weights even if a layer is unfrozen afterwards.
    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        if not self.built:
            raise ValueError(f"{type(self).__name__} '{self.name}' is not built yet, so its weights do not exist. "
                             f"Call it on a batch (or model.build(input_shape)) first.")
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != expected:
            per_layer = ", ".join(f"{layer.name}: {len(layer.weights)}" for layer in self.layers)
            raise ValueError(f"{type(self).__name__} '{self.name}' expects {expected} weight arrays ({per_layer}), "
                             f"received {len(weights)}.")
        i = 0
        for layer in self.layers:
            n = len(layer.weights)
            if n:
                layer.set_weights(weights[i:i + n])
            i += n

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    @property
    def grads(self):
        """Every trainable weight's gradient of the last backward pass, in ``trainable_weights``' order."""
        if not self.trainable:
            return []
        return [g for layer in self.layers for g in layer.grads]

    def regularization_loss(self):
        if not self.trainable:
            return 0.0  # Keras sums the regularizers of trainable weights only
        return float(sum(layer.regularization_loss() for layer in self.layers))

    def regularization_grads(self):
        if not self.trainable:
            return []
        return [g for layer in self.layers for g in layer.regularization_grads()]

    def __getitem__(self, index):
        return self.layers[index]

    def __len__(self):
        return len(self.layers)
