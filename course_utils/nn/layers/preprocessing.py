"""Preprocessing layers that sit inside a model, as Keras groups them in
``keras/src/layers/preprocessing``: ``Rescaling`` (pixels 0..255 -> 0..1) and ``Normalization``
(standardise the features with statistics learnt from the data by ``adapt``). No trainable weights;
the gradient still flows through them, as through Keras's.
"""
from __future__ import annotations

import numpy as np

from ..base import InputSpec, Layer, shape_str

EPSILON = 1e-7   # keras.backend.epsilon(): Normalization's floor under sqrt(variance)


def _number_or_array(value, name):
    """A float, or a float array (a per-channel value), as Keras's config serialises it."""
    if isinstance(value, dict) and value.get("class_name") == "__numpy__":   # serialize_keras_object(np.ndarray)
        value = value["config"]["value"]
    array = np.asarray(value, dtype=np.float64) if value is not None else None
    if array is None or not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` must be a finite number or a list of numbers. Received: {name}={value!r}")
    return float(array) if array.ndim == 0 else array


def _as_keras_casts(given, value):
    """``value`` as Keras's ``backend.cast`` leaves it: a float given as a Python number or list
    (not a NumPy array) rounded to float32, the dtype ``tf.convert_to_tensor`` gives it."""
    python_floats = not isinstance(given, (np.ndarray, np.generic, dict)) and np.asarray(given).dtype.kind == "f"
    return np.asarray(value, dtype=np.float32).astype(np.float64) if python_floats else value


class Rescaling(Layer):
    """``y = x * scale + offset``, as ``keras.layers.Rescaling(scale, offset=0.0)``; ``scale`` and
    ``offset`` may be numbers or per-channel lists (the last axis). Integer inputs (uint8 images)
    are cast to the compute dtype first, as Keras does.

    Shapes: x ``(N, ...)`` -> y of the same shape.
    Forward:   y = x * scale + offset
    Backward:  dx = dy * scale

    Keras casts ``scale`` and ``offset`` with ``backend.cast``; on TensorFlow a Python float (or a list
    of them) first becomes a float32 tensor, so ``Rescaling(1 / 255)`` multiplies by float32(1/255)
    even in float64. The twin does the same (a NumPy array keeps its precision, as in Keras).
    """

    keras_class = "Rescaling"
    # Keras's config writes a 0-d array as a Python float, which Keras's cast would round: read the layer's own
    keras_attributes_missing_from_config = ("scale", "offset")
    input_spec = InputSpec(min_ndim=1, dtype="compute")

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _number_or_array(scale, "scale")
        self.offset = _number_or_array(offset, "offset")
        # the values Keras computes with: Python numbers through float32, as TensorFlow's cast makes them
        self._scale, self._offset = (_as_keras_casts(given, value) for given, value in
                                     ((scale, self.scale), (offset, self.offset)))
        self._cache = None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        scale = np.asarray(self._scale, dtype=x.dtype)
        self._cache = (x.shape, scale)
        return x * scale + np.asarray(self._offset, dtype=x.dtype)

    def backward(self, dout):
        self._require_forward()
        x_shape, scale = self._cache
        dy = self._check_dout(dout, np.broadcast_shapes(x_shape, scale.shape))
        self.set_grads()
        return dy * scale

    def get_config(self):
        as_config = (lambda v: v.tolist() if isinstance(v, np.ndarray) else v)
        return {**super().get_config(), "scale": as_config(self.scale), "offset": as_config(self.offset)}

    def keras_config(self):
        """The values the twin computes with, as arrays: Keras keeps an array's precision."""
        return {**super().keras_config(), "scale": np.asarray(self._scale), "offset": np.asarray(self._offset)}


class Normalization(Layer):
    """Standardises the features, as ``keras.layers.Normalization(axis=-1, mean=None, variance=None,
    invert=False)``: one mean and variance per position along ``axis`` (an int, a tuple, or None for
    a single pair over everything), learnt by ``adapt(data)`` or given as ``mean``/``variance``.

    Weights (without ``mean``/``variance``, Keras's order, none trainable): ``[mean, variance,
    count]``, mean and variance of shape ``(input_shape[a] for a in axis)``, count a scalar (kept,
    unused, as Keras). ``from_keras`` copies an adapted Keras layer's statistics.

    Shapes: x ``(N, ...)`` -> y of the same shape; sigma = max(sqrt(variance), 1e-7).
    Forward:   y = (x - mean) / sigma               (invert=True: y = mean + x * sigma)
    Backward:  dx = dy / sigma                      (invert=True: dx = dy * sigma)
    """

    keras_class = "Normalization"
    input_spec = InputSpec(min_ndim=1, dtype="compute")

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)):
            axis = (axis,)
        self.axis = tuple(int(a) for a in axis)
        if (mean is None) != (variance is None):
            raise ValueError(f"When setting values directly, both `mean` and `variance` must be set. "
                             f"Received: mean={mean} and variance={variance}")
        self.input_mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.input_variance = None if variance is None else np.asarray(variance, dtype=np.float64)
        if mean is not None and (self.input_mean.shape != self.input_variance.shape
                                 or self.input_mean.ndim > len(self.axis)):
            raise ValueError(f"`mean` and `variance` must have the same shape, of rank <= the number of axes "
                             f"({len(self.axis)}). Received: mean shape {self.input_mean.shape}, variance shape "
                             f"{self.input_variance.shape}, axis={self.axis}")
        self.invert = bool(invert)
        self._cache = None

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(f"All `axis` values must be in the range [-ndim, ndim). Received inputs with "
                             f"ndim={ndim}, while axis={self.axis}")
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        if any(input_shape[d] is None for d in self._keep_axis):
            raise ValueError(f"All `axis` values to be kept must have a known shape. Received axis={self.axis}, "
                             f"inputs.shape={shape_str(input_shape)}")
        self._broadcast_shape = tuple(input_shape[d] if d in self._keep_axis else 1 for d in range(ndim))
        stats_shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.add_weight("mean", stats_shape, "zeros", trainable=False)
            self.add_weight("variance", stats_shape, "ones", trainable=False)
            self.add_weight("count", (), "zeros", trainable=False, dtype="int64")
        super().build(input_shape)

    def _statistics(self, dtype):
        """mean and variance, shaped to broadcast against the input (Keras's ``_broadcast_shape``)."""
        if self.input_mean is None:
            return (self.mean.reshape(self._broadcast_shape).astype(dtype),
                    self.variance.reshape(self._broadcast_shape).astype(dtype))
        expanded = [1] * len(self._broadcast_shape)
        for i in range(1, self.input_mean.ndim + 1):      # the given values fill the last kept axes
            expanded[self._keep_axis[-i]] = self.input_mean.shape[-i]
        return tuple(np.broadcast_to(v.reshape(expanded), self._broadcast_shape).astype(dtype)
                     for v in (self.input_mean, self.input_variance))

    def adapt(self, data):
        """Learn mean and variance from ``data`` (an array, with the batch axis), as Keras's ``adapt``."""
        data = self._as_input(data, min_ndim=1, what="adapt data")
        if not self.built:
            self.build(data.shape)
        if self.input_mean is not None:
            raise ValueError(f"Layer '{self.name}' was given mean and variance; it has nothing to adapt.")
        reduce_axis = tuple(d for d in range(data.ndim) if d not in self._keep_axis)
        self.mean[...] = data.mean(axis=reduce_axis)
        self.variance[...] = data.var(axis=reduce_axis)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        mean, variance = self._statistics(x.dtype)
        sigma = np.maximum(np.sqrt(variance), x.dtype.type(EPSILON))
        self._cache = (x.shape, sigma)
        return mean + x * sigma if self.invert else (x - mean) / sigma

    def backward(self, dout):
        self._require_forward()
        x_shape, sigma = self._cache
        dy = self._check_dout(dout, x_shape)
        self.set_grads()
        return dy * sigma if self.invert else dy / sigma

    def get_config(self):
        as_list = (lambda v: None if v is None else v.tolist())
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": as_list(self.input_mean), "variance": as_list(self.input_variance)}

    def keras_config(self):
        """As ``get_config``, with ``mean`` and ``variance`` as float64 arrays: Keras would make a list
        a float32 tensor (``ops.convert_to_tensor``), an array keeps its precision."""
        return {**super().keras_config(), "mean": self.input_mean, "variance": self.input_variance}
