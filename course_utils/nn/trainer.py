"""The training loop, as Keras's ``trainers/trainer.py``: ``compile``, ``fit``, ``evaluate``,
``predict`` and ``train_on_batch`` for any model that has ``forward``, ``backward``, ``layers``,
``grads`` and ``trainable_weights`` (the ``BaseModel`` of ``models/model.py`` mixes it in).

A step: forward (training=True), the loss and dL/d(output) - from the logits when the last layer
ends in the activation that matches the loss, as Keras does -, backward, the regularizers'
gradients added, one optimizer update. ``fit`` returns a ``History``.
"""
from __future__ import annotations

import warnings

import numpy as np

from . import losses, optimizers
from .callbacks import History
from .metrics import accuracy
from .progbar import Progress
from .shapes import shape_str


def class_weight_to_sample_weights(y, class_weight):
    """Keras's mapping of ``class_weight`` ({class index: weight}) to one weight per example: the class
    is argmax(y) for one-hot y, else round(y) (labels, or a single 0/1 column); classes missing from
    the dict weigh 1. Keras stores the weights in floatx (float32), so they are rounded as Keras does."""
    if not isinstance(class_weight, dict):
        raise ValueError(f"class_weight must be a dict {{class index: weight}}, received {class_weight!r}.")
    y = np.asarray(y)
    if y.ndim > 1:
        y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else y[..., 0]
    if y.ndim != 1:
        raise ValueError(f"class_weight needs one class per example; y has shape {shape_str(np.shape(y))}.")
    classes = np.round(y).astype(np.int64)
    weights = np.array([optimizers.as_keras_learning_rate(class_weight.get(int(c), 1.0))
                        for c in range(int(classes.max(initial=0)) + 1)])
    return weights[classes]


class Trainer:
    """The training loop; a mixin of ``BaseModel``."""

    def _init_training(self):
        self.optimizer = None
        self.loss = None
        self.metrics = []
        self.stop_training = False

    def compile(self, optimizer="sgd", loss=None, metrics=None):
        if loss is None:
            raise ValueError("compile() needs a loss, e.g. loss='binary_crossentropy' or losses.MeanSquaredError().")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        metrics = list(metrics or [])
        for m in metrics:
            if m not in ("accuracy", "acc"):
                raise ValueError(f"Unknown metric {m!r}; the NumPy Sequential supports 'accuracy'.")
        self.metrics = ["accuracy" for _ in metrics[:1]]

    def _require_compiled(self):
        if self.optimizer is None or self.loss is None:
            raise RuntimeError("You must call compile() before training or evaluating the model.")

    def _check_xy(self, x, y, what="x"):
        x = np.asarray(x)
        y = np.asarray(y)
        if len(x) != len(y):
            raise ValueError(f"{what} and y must have the same number of examples, received "
                             f"{what} {shape_str(x.shape)} and y {shape_str(y.shape)}.")
        return x, y

    def _logits_loss(self):
        """The from-logits twin of the loss when the last layer ends in the matching activation.

        Like Keras, a sigmoid output with binary cross-entropy (or a softmax output with
        categorical cross-entropy) is trained from the logits z: the loss is computed from z
        without clipping, and dL/dz = (p - y) / N flows straight into the last layer. This is
        both exact and stable where p would round to 0 or 1.
        """
        if not self.layers:
            return None
        last = self.layers[-1]
        activation = getattr(getattr(last, "activation", None), "name", None)
        if not hasattr(last, "backward_from_logits") or getattr(self.loss, "from_logits", True):
            return None
        if activation == "sigmoid" and isinstance(self.loss, losses.BinaryCrossentropy):
            return losses.BinaryCrossentropy(from_logits=True, label_smoothing=self.loss.label_smoothing,
                                             reduction=self.loss.reduction)
        if activation == "softmax" and isinstance(self.loss, (losses.CategoricalCrossentropy,
                                                              losses.SparseCategoricalCrossentropy)):
            return type(self.loss)(**{**self.loss.get_config(), "from_logits": True})   # label_smoothing kept
        return None

    def _loss_and_gradient(self, y, y_pred, gradient=True, sample_weight=None):
        """The loss of the last forward pass and, with ``gradient``, (dL/d(what), from_logits):
        from the logits where Keras uses them, else from the output; weighted as Keras weights it,
        sum_i w_i l_i / N."""
        logits_loss = self._logits_loss()
        if logits_loss is not None:
            loss, target = logits_loss, self.layers[-1].logits
        else:
            loss, target = self.loss, y_pred
        value = loss.loss(y, target, sample_weight)
        if np.ndim(value):   # reduction="none": Keras's fit (TensorFlow) reports the mean of the unreduced
            value = float(np.mean(value))   # losses and steps along the gradient of their sum
        return (value, loss.gradient(y, target, sample_weight), logits_loss is not None) if gradient else value

    def _sample_weights(self, y, sample_weight, class_weight):
        """One weight per example, from ``sample_weight`` or from ``class_weight`` (Keras's mapping)."""
        if sample_weight is not None and class_weight is not None:
            raise ValueError("Arguments `sample_weight` and `class_weight` cannot be specified at the same "
                             f"time. Received: sample_weight={sample_weight}, class_weight={class_weight}")
        if class_weight is not None:
            return class_weight_to_sample_weights(y, class_weight)
        if sample_weight is None:
            return None
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if sample_weight.ndim == 0 or len(sample_weight) != len(y):
            raise ValueError(f"sample_weight must have one weight per example: expected shape ({len(y)},), "
                             f"received {shape_str(sample_weight.shape)}.")
        return sample_weight

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None):
        """One gradient step on one batch; returns the loss before the step (as Keras 3.15 does).
        ``sample_weight`` (one per example) or ``class_weight`` ({class: weight}) weight the loss:
        L = sum_i w_i l_i / N."""
        self._require_compiled()
        x, y = self._check_xy(x, y)
        sample_weight = self._sample_weights(y, sample_weight, class_weight)
        y_pred = self.forward(x, training=True)
        loss, dout, from_logits = self._loss_and_gradient(y, y_pred, sample_weight=sample_weight)
        loss += self.regularization_loss()
        self.backward(dout, from_logits=from_logits)
        if self.trainable_weights:
            grads = [g + r for g, r in zip(self.grads, self.regularization_grads())]
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        else:  # as Keras: no step at all (the optimizer's iterations do not advance)
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        logs = {"loss": loss}
        if self.metrics:
            logs["accuracy"] = accuracy(self.loss, y, y_pred)
        return logs

    def fit(self, x, y, batch_size=32, epochs=1, verbose=1, validation_data=None, validation_split=0.0,
            shuffle=True, callbacks=None, initial_epoch=0, sample_weight=None, class_weight=None):
        """Train for ``epochs`` passes over (x, y) in mini-batches; returns a History.
        ``sample_weight`` / ``class_weight`` weight each example's loss, as in ``train_on_batch``."""
        self._require_compiled()
        x, y = self._check_xy(x, y)
        sample_weight = self._sample_weights(y, sample_weight, class_weight)
        if class_weight is not None:   # as Keras: class weights weigh the training split only
            sample_weight = None
        if validation_split and validation_data is None:
            split = int(len(x) * (1 - validation_split))
            x, x_val, y, y_val = x[:split], x[split:], y[:split], y[split:]
            validation_data = (x_val, y_val)
            if sample_weight is not None:   # as Keras: the weights are split with the data
                sample_weight, val_weight = sample_weight[:split], sample_weight[split:]
                validation_data = (x_val, y_val, val_weight)
        if class_weight is not None:
            sample_weight = class_weight_to_sample_weights(y, class_weight)
        batch_size = len(x) if batch_size is None else int(batch_size)
        if batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, received batch_size={batch_size}.")
        steps = int(np.ceil(len(x) / batch_size))
        history = History()
        callbacks = list(callbacks or [])
        for cb in callbacks:
            cb.on_train_begin(self)
        self.stop_training = False
        for epoch in range(initial_epoch, epochs):
            order = np.random.permutation(len(x)) if shuffle else np.arange(len(x))
            progress = Progress(epoch, epochs, steps, verbose)
            totals, seen = {}, 0
            for step in range(steps):
                idx = order[step * batch_size:(step + 1) * batch_size]
                logs = self.train_on_batch(x[idx], y[idx],
                                           sample_weight=None if sample_weight is None else sample_weight[idx])
                seen += len(idx)
                for k, v in logs.items():   # running mean weighted by batch size, as Keras
                    totals[k] = totals.get(k, 0.0) + v * len(idx)
                progress.update(step + 1, {k: v / seen for k, v in totals.items()})
            epoch_logs = {k: v / seen for k, v in totals.items()}
            if validation_data is not None:
                val_x, val_y, *val_weight = validation_data   # (x, y) or (x, y, sample_weight), as Keras
                val = self.evaluate(val_x, val_y, verbose=0, return_dict=True,
                                    sample_weight=val_weight[0] if val_weight else None)
                epoch_logs.update({f"val_{k}": v for k, v in val.items()})
            progress.update(steps, epoch_logs, final=True)
            history.append(epoch, epoch_logs)
            for cb in callbacks:
                if cb.on_epoch_end(epoch, epoch_logs):
                    self.stop_training = True
            if self.stop_training:
                break
        self.history = history
        return history

    def evaluate(self, x, y, batch_size=None, verbose=0, return_dict=False, sample_weight=None):
        self._require_compiled()
        x, y = self._check_xy(x, y)
        sample_weight = self._sample_weights(y, sample_weight, None)
        if batch_size is None or batch_size >= len(x):
            y_pred = self.forward(x, training=False)
            loss = self._loss_and_gradient(y, y_pred, gradient=False, sample_weight=sample_weight)
        else:  # batch by batch, the loss weighted by batch size as Keras averages it
            y_pred, loss = [], 0.0
            for i in range(0, len(x), batch_size):
                y_pred.append(self.forward(x[i:i + batch_size], training=False))
                batch_weight = None if sample_weight is None else sample_weight[i:i + batch_size]
                batch_loss = self._loss_and_gradient(y[i:i + batch_size], y_pred[-1], gradient=False,
                                                     sample_weight=batch_weight)
                loss += batch_loss * len(y_pred[-1])
            y_pred, loss = np.concatenate(y_pred), loss / len(x)
        logs = {"loss": loss + self.regularization_loss()}
        if self.metrics:
            logs["accuracy"] = accuracy(self.loss, y, y_pred)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    def predict(self, x, batch_size=None, verbose=0):
        x = np.asarray(x)
        if batch_size is None or batch_size >= len(x):
            return self.forward(x, training=False)
        return np.concatenate([self.forward(x[i:i + batch_size], training=False)
                               for i in range(0, len(x), batch_size)])
