"""The metric ``compile(metrics=["accuracy"])`` reports, chosen by the loss as Keras chooses it:
class labels (sparse), one-hot classes (categorical) or a 0/1 target (binary, threshold 0.5 on a
probability, 0 on a logit)."""
from __future__ import annotations

import numpy as np

from . import losses


def accuracy(loss, y_true, y_pred):
    y_true = np.asarray(y_true)
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        labels = y_true.reshape(y_pred.shape[:-1])
        return float(np.mean(np.argmax(y_pred, axis=-1) == labels))
    if isinstance(loss, losses.CategoricalCrossentropy):
        return float(np.mean(np.argmax(y_pred, axis=-1) == np.argmax(y_true, axis=-1)))
    threshold = 0.0 if getattr(loss, "from_logits", False) else 0.5
    return float(np.mean((y_pred > threshold) == (y_true > 0.5)))
