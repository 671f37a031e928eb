"""``Sequential``: a stack of NumPy layers with Keras's interface.

- ``forward(x)`` runs the layers in order; ``backward(dout)`` runs their backward passes in reverse
  (the chain rule, one layer at a time) and returns dL/dx; ``grads`` then lists every trainable
  weight's gradient in the order of Keras's ``model.trainable_weights``.
- ``compile(optimizer, loss, metrics)`` / ``fit`` / ``evaluate`` / ``predict`` /
  ``train_on_batch`` feel like Keras; ``fit`` returns a ``History`` with ``.history["loss"]``.
"""
from __future__ import annotations

import sys
import time
import warnings

import numpy as np

from . import losses as losses_module
from . import optimizers as optimizers_module
from .base import Layer, _unique_name, shape_str


class History:
    """What ``fit`` returns: ``history.history["loss"]`` is the loss per epoch (and likewise for
    every metric and, with validation data, ``val_loss`` ...)."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return f"<History epochs={len(self.epoch)} keys={list(self.history)}>"


class EarlyStopping:
    """Stop ``fit`` when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs;
    with ``restore_best_weights`` the model ends with the weights of its best epoch (as Keras)."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto", restore_best_weights=False):
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = int(patience)
        if mode == "auto":
            mode = "max" if ("acc" in monitor) else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping mode must be 'auto', 'min' or 'max', received {mode!r}.")
        self.mode = mode
        self.restore_best_weights = restore_best_weights
        self.stopped_epoch = 0
        self.best_epoch = 0

    def on_train_begin(self, model):
        self.model = model
        self.wait = 0
        self.best = np.inf if self.mode == "min" else -np.inf
        self.best_weights = None
        self.stopped_epoch = 0

    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs):
        if self.monitor not in logs:
            raise ValueError(f"EarlyStopping monitors '{self.monitor}', which is not among the logged "
                             f"values {sorted(logs)}. Pass validation_data to fit() to get 'val_' values.")
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)
            return True
        return False


def _accuracy(loss, y_true, y_pred):
    y_true = np.asarray(y_true)
    if isinstance(loss, losses_module.SparseCategoricalCrossentropy):
        labels = y_true.reshape(y_pred.shape[:-1])
        return float(np.mean(np.argmax(y_pred, axis=-1) == labels))
    if isinstance(loss, losses_module.CategoricalCrossentropy):
        return float(np.mean(np.argmax(y_pred, axis=-1) == np.argmax(y_true, axis=-1)))
    threshold = 0.0 if getattr(loss, "from_logits", False) else 0.5
    return float(np.mean((y_pred > threshold) == (y_true > 0.5)))


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
    weights = np.array([optimizers_module.as_keras_learning_rate(class_weight.get(int(c), 1.0))
                        for c in range(int(classes.max(initial=0)) + 1)])
    return weights[classes]


class _Progress:
    """A one-line progress bar per epoch, as Keras prints it."""

    def __init__(self, epoch, epochs, steps, verbose):
        self.epoch, self.epochs, self.steps, self.verbose = epoch, epochs, steps, verbose
        self.start = time.perf_counter()
        self.last_drawn = -1

    def update(self, step, logs, final=False):
        if self.verbose != 1 and not (final and self.verbose == 2):
            return
        every = max(self.steps // 20, 1)
        if not final and step % every and step != self.steps:
            return
        width = 20
        done = int(width * step / self.steps)
        bar = "━" * done + ("╸" if done < width else "") + " " * max(width - done - 1, 0)
        elapsed = time.perf_counter() - self.start
        text = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
        line = f"Epoch {self.epoch + 1}/{self.epochs}  {step}/{self.steps} {bar} {elapsed:.1f}s - {text}"
        end = "\n" if final else ""
        sys.stdout.write("\r" + line + end)
        sys.stdout.flush()


class Sequential(Layer):
    """A linear stack of layers, as ``keras.Sequential``; itself a Layer (forward/backward/grads)."""

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name or _unique_name("sequential"), trainable=trainable)
        self.layers: list[Layer] = []
        for layer in layers or []:
            self.add(layer)
        self.optimizer = None
        self.loss = None
        self.metrics = []
        self.stop_training = False

    def add(self, layer):
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential expects course_utils.nn layers, received {type(layer).__name__}. "
                            f"(A Keras layer can be converted with course_utils.nn.from_keras.)")
        if self.built:
            raise ValueError("Cannot add a layer to a model that is already built.")
        self.layers.append(layer)

    # ---------------------------------------------------------------- structure
    @property
    def dtype(self):
        for layer in self.layers:
            if layer.dtype is not None:
                return layer.dtype
        return None

    @dtype.setter
    def dtype(self, value):
        pass  # the layers carry the dtype

    @property
    def weight_names(self):
        """'layer_name/weight_name' for every weight, in order."""
        return [f"{layer.name}/{n}" for layer in self.layers for n in layer.weight_names]

    @weight_names.setter
    def weight_names(self, value):
        pass

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
            raise ValueError(f"Sequential '{self.name}' is not built yet, so its weights do not exist. "
                             f"Call it on a batch (or model.build(input_shape)) first.")
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != expected:
            per_layer = ", ".join(f"{layer.name}: {len(layer.weights)}" for layer in self.layers)
            raise ValueError(f"Sequential '{self.name}' expects {expected} weight arrays ({per_layer}), "
                             f"received {len(weights)}.")
        i = 0
        for layer in self.layers:
            n = len(layer.weights)
            if n:
                layer.set_weights(weights[i:i + n])
            i += n

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    # ----------------------------------------------------------- forward/backward
    def forward(self, x, training=False):
        if not self.built:
            x = np.asarray(x)
            self.build((None,) + x.shape[1:])
        for layer in self.layers:
            x = layer.forward(x, training=training)
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

    # ------------------------------------------------------------------ training
    def compile(self, optimizer="sgd", loss=None, metrics=None):
        if loss is None:
            raise ValueError("compile() needs a loss, e.g. loss='binary_crossentropy' or losses.MeanSquaredError().")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
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
        if activation == "sigmoid" and isinstance(self.loss, losses_module.BinaryCrossentropy):
            return losses_module.BinaryCrossentropy(from_logits=True, label_smoothing=self.loss.label_smoothing)
        if activation == "softmax" and isinstance(self.loss, (losses_module.CategoricalCrossentropy,
                                                              losses_module.SparseCategoricalCrossentropy)):
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
            logs["accuracy"] = _accuracy(self.loss, y, y_pred)
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
            progress = _Progress(epoch, epochs, steps, verbose)
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
            logs["accuracy"] = _accuracy(self.loss, y, y_pred)
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

    def __getitem__(self, index):
        return self.layers[index]

    def __len__(self):
        return len(self.layers)
