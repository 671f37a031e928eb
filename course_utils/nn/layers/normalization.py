"""BatchNormalization and LayerNormalization, with Keras's arguments, defaults and weight layout.

Both normalise x to zero mean and unit variance over some axes and then scale and shift it:

    xhat = (x - mu) / sqrt(var + epsilon),      y = gamma * xhat + beta

BatchNormalization takes mu, var over the batch (every axis but ``axis``) while training, and its
moving averages at inference; LayerNormalization takes them over ``axis`` within each example.
Their backward pass through the statistics is the same formula (M = the number of values each
mu, var is taken over, the sums run over those values):

    dxhat = gamma * dy
    dx    = 1 / (M sigma) * (M dxhat - sum dxhat - xhat * sum(dxhat * xhat)),   sigma = sqrt(var + epsilon)
"""
from __future__ import annotations

import numpy as np

from .. import initializers, regularizers
from ..base import InputSpec, Layer, shape_str


def _check_axis(axis, ndim, layer):
    if not -ndim <= axis < ndim:
        raise ValueError(f"Axis {axis} is out of bounds for an input of rank {ndim} in layer '{layer}'. "
                         f"Received: axis={axis}. Use an axis in [{-ndim}, {ndim - 1}] (-1: the last axis, "
                         f"the features/channels).")
    return axis % ndim


class BatchNormalization(Layer):
    """Batch normalization (Ioffe and Szegedy, 2015), as ``keras.layers.BatchNormalization``.

    Weights (Keras's order): ``[gamma, beta, moving_mean, moving_variance]``, each ``(C,)`` with
    C = ``input_shape[axis]``; gamma (absent if ``scale=False``) and beta (absent if
    ``center=False``) are trainable, the moving statistics are not.

    Shapes: x ``(N, ..., C, ...)`` (any rank >= 2, C on ``axis``) -> y of the same shape.

    Training (``forward(x, training=True)`` on a layer that is not frozen), over every axis but
    ``axis`` (M values per channel):
        mu = mean(x),  var = mean((x - mu)^2)       (biased, as tf.nn.moments)
        y  = gamma * (x - mu) / sqrt(var + epsilon) + beta
        moving_mean     <- moving_mean * momentum + mu * (1 - momentum)
        moving_variance <- moving_variance * momentum + var * (1 - momentum)   (the biased var too)
    Backward (through mu and var), with sigma = sqrt(var + epsilon), xhat = (x - mu) / sigma:
        dbeta  = sum dy,    dgamma = sum dy * xhat
        dx     = gamma / (M sigma) * (M dy - sum dy - xhat * sum(dy * xhat))

    Inference (``training=False``, or any call of a frozen layer, ``trainable = False``, as Keras 3):
        y  = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta
        dx = gamma / sqrt(moving_variance + epsilon) * dy     (an affine map; dgamma, dbeta as above)

    A batch of one in training mode gives var = 0 and y = beta (dx = 0), as Keras does (no error).
    """

    keras_class = "BatchNormalization"
    keras_arguments_not_supported = {
        "renorm": ((False,), "batch renormalization; the NumPy layer does plain batch normalization"),
        "renorm_clipping": ((None,), "batch renormalization's clipping"),
        "renorm_momentum": ((0.99,), "batch renormalization's momentum, unused without renorm"),
        "synchronized": ((False, True), "statistics synchronized across devices: one device here"),
        "beta_constraint": ((None,), "a constraint Keras's optimizer applies to beta after each step"),
        "gamma_constraint": ((None,), "a constraint Keras's optimizer applies to gamma after each step"),
    }
    input_spec = InputSpec(min_ndim=2, dtype="compute")

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            raise TypeError(f"BatchNormalization normalizes along one axis (an integer, -1 for the "
                            f"features/channels). Received: axis={axis!r}")
        self.axis = int(axis)  # as Keras: int(axis), float(momentum), float(epsilon)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma = self.beta = None
        self._cache = None

    def build(self, input_shape):
        input_shape = self._shape_of_min_rank(input_shape, 2, "expected input of rank >= 2 (a batch dimension first)")
        axis = _check_axis(self.axis, len(input_shape), self.name)
        if input_shape[axis] is None:
            raise ValueError(f"Layer '{self.name}' needs a known size on axis {self.axis} (the axis it "
                             f"normalizes), received input shape {shape_str(input_shape)}.")
        shape = (input_shape[axis],)
        if self.scale:
            self.add_weight("gamma", shape, self.gamma_initializer, self.gamma_regularizer)
        if self.center:
            self.add_weight("beta", shape, self.beta_initializer, self.beta_regularizer)
        self.add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", shape, self.moving_variance_initializer, trainable=False)
        self._ndim = len(input_shape)
        self._reduction_axes = tuple(i for i in range(self._ndim) if i != axis)
        self._stat_shape = tuple(input_shape[axis] if i == axis else 1 for i in range(self._ndim))
        # as Keras: the rank and the size of ``axis`` are fixed, the batch and other axes are not
        self.input_spec = InputSpec(ndim=self._ndim, axes={self.axis: input_shape[axis]}, dtype="compute")
        super().build(input_shape)

    def _axis_size_error(self, x, axis=None, size=None, what="input"):
        return (f"Layer '{self.name}' was built for inputs of rank {self._ndim} with {self.moving_mean.shape[0]} "
                f"channels on axis {self.axis}, received shape {shape_str(x.shape)}.")

    def _rank_error(self, x, ndim, what="input"):
        return self._axis_size_error(x) if self.built else super()._rank_error(x, ndim, what)

    def compute_output_shape(self, input_shape):
        _check_axis(self.axis, len(input_shape), self.name)
        return tuple(input_shape)

    def _as_stat(self, v):
        """A (C,) vector shaped to broadcast against x (C on ``axis``)."""
        return v.reshape(self._stat_shape)

    def forward(self, x, training=False, mask=None):
        """``mask`` (x's shape without the last axis; Embedding's mask_zero, Masking): in training,
        the moments are over the unmasked positions only, as Keras's ``_moments``:
        mu = sum(m x) / (sum m + 1e-7),  var = sum(m (x - mu)^2) / (sum m + 1e-7)."""
        training = bool(training) and self.trainable  # a frozen BatchNormalization runs in inference mode
        self._mask_weights = None
        if training and mask is not None:
            mean, centred, var = self._masked_moments(x, mask)
        elif training:
            mean = x.mean(axis=self._reduction_axes, keepdims=True)
            centred = x - mean
            var = np.square(centred).mean(axis=self._reduction_axes, keepdims=True)
        if training:
            momentum = x.dtype.type(self.momentum)  # Keras computes the update in the variables' dtype
            keep = x.dtype.type(1.0 - self.momentum)
            self.moving_mean[...] = self.moving_mean * momentum + mean.ravel() * keep
            self.moving_variance[...] = self.moving_variance * momentum + var.ravel() * keep
        else:
            mean = self._as_stat(self.moving_mean)
            var = self._as_stat(self.moving_variance)
            centred = None
        inv_std = 1.0 / np.sqrt(var + x.dtype.type(self.epsilon))
        # tf.nn.batch_normalization's form: y = x * inv + (beta - mean * inv), inv = gamma / sigma
        inv = inv_std * self._as_stat(self.gamma) if self.scale else inv_std
        shift = -mean * inv
        if self.center:
            shift = shift + self._as_stat(self.beta)
        y = x * inv + shift
        self._cache = (x, mean, centred, inv_std, training)
        return y

    def backward(self, dout):
        self._require_forward()
        x, mean, centred, inv_std, training = self._cache
        dy = self._check_dout(dout, x.shape)
        axes = self._reduction_axes
        dbeta = dy.sum(axis=axes, keepdims=True)
        if centred is None:
            centred = x - mean
        dy_centred = np.sum(dy * centred, axis=axes, keepdims=True)   # sum dy * (x - mu)
        dgamma = dy_centred * inv_std                                 # sum dy * xhat
        gain = inv_std * self._as_stat(self.gamma) if self.scale else inv_std  # gamma / sigma
        if training and self._mask_weights is not None:
            dx = self._masked_moments_backward(dy, centred, dy_centred, inv_std, gain)
        elif training:
            m = x.size // x.shape[self.axis]
            # gamma/(M sigma) (M dy - sum dy - xhat sum(dy xhat)), with xhat = (x - mu)/sigma
            dx = (dy - centred * (dy_centred * inv_std ** 2 / m)) * gain - dbeta * (gain / m)
        else:
            dx = dy * gain
        grads = {}
        if self.scale:
            grads["gamma"] = dgamma.ravel()
        if self.center:
            grads["beta"] = dbeta.ravel()
        self.set_grads(**grads)
        return dx

    def _masked_moments(self, x, mask):
        """Keras's masked moments: weights w = the mask on every channel, S = sum w + 1e-7."""
        mask = np.asarray(mask)
        if mask.ndim != x.ndim - 1:
            raise ValueError(f"The mask provided should be one dimension less than the inputs. Received: "
                             f"mask.shape={mask.shape}, inputs.shape={x.shape}")
        w = np.broadcast_to(np.expand_dims(mask.astype(bool), -1), x.shape).astype(x.dtype)
        total = w.sum(axis=self._reduction_axes, keepdims=True) + x.dtype.type(1e-7)   # Keras's epsilon()
        mean = (w * x).sum(axis=self._reduction_axes, keepdims=True) / total
        centred = x - mean
        var = (w * np.square(centred)).sum(axis=self._reduction_axes, keepdims=True) / total
        self._mask_weights = (w, total)
        return mean, centred, var

    def _masked_moments_backward(self, dy, centred, dy_centred, inv_std, gain):
        """dx through the masked moments: dvar/dx = 2 w (x - mu) / S, dmu/dx = w / S."""
        w, total = self._mask_weights
        axes = self._reduction_axes
        gamma = self._as_stat(self.gamma) if self.scale else 1.0
        dvar = -0.5 * dy_centred * gamma * inv_std ** 3
        dmean = -dy.sum(axis=axes, keepdims=True) * gain - dvar * 2 * (w * centred).sum(axis=axes, keepdims=True) / total
        return dy * gain + dvar * 2 * w * centred / total + dmean * w / total

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                "beta_regularizer": self.beta_regularizer, "gamma_regularizer": self.gamma_regularizer}

    @classmethod
    def from_keras_config(cls, config):
        """Keras 3.15 adds batch renormalization (``renorm``, absent from Keras 3.13); the twin does plain
        batch normalization only, so the renorm keys are dropped when renorm is off and refused when on."""
        config = dict(config)
        if config.get("renorm"):
            raise ValueError("The NumPy BatchNormalization does plain batch normalization only. Received: "
                             "renorm=True. Use a Keras layer with renorm=False (the default).")
        for key in ("renorm", "renorm_clipping", "renorm_momentum"):
            config.pop(key, None)
        return super().from_keras_config(config)


class _NormalizesEachExample:
    """What LayerNormalization and RMSNormalization share: the axes of ``axis`` for an input's rank,
    and the geometry of one call. Their weights fix only the sizes of ``axis`` (``_norm_shape``, set
    in ``build``), so - as in Keras - any batch size and any rank that has those sizes is accepted."""

    def _axes(self, ndim):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        return [_check_axis(a, ndim, self.name) for a in axes]

    def _geometry(self, x, has_weights=True):
        """(axes normalized over, the other axes, the shape the weights broadcast to) for ``x``."""
        axes = tuple(self._axes(x.ndim))
        if 0 in axes or (has_weights and tuple(x.shape[a] for a in axes) != self._norm_shape):
            raise ValueError(f"Layer '{self.name}' was built for inputs of shape {shape_str(self.input_shape)} "
                             f"(normalizing over axis {self.axis}), received shape {shape_str(x.shape)}.")
        others = tuple(i for i in range(x.ndim) if i not in axes)
        return axes, others, tuple(x.shape[i] if i in axes else 1 for i in range(x.ndim))


class LayerNormalization(_NormalizesEachExample, Layer):
    """Layer normalization (Ba et al., 2016), as ``keras.layers.LayerNormalization``.

    Every example is normalised on its own, over ``axis`` (an int or a list of ints; -1: the
    features). Weights (Keras's order): ``[gamma, beta]``, each of shape
    ``tuple(input_shape[a] for a in axis)``; gamma absent if ``scale=False``, beta if ``center=False``.
    There are no moving statistics: training and inference compute the same thing.

    Shapes: x ``(N, ...)`` (any rank >= 2) -> y of the same shape.

    Forward, over the M values of ``axis`` of each example:
        mu = mean(x), var = mean((x - mu)^2), xhat = (x - mu) / sqrt(var + epsilon)
        y  = gamma * xhat + beta
    Backward, with sigma = sqrt(var + epsilon), dxhat = gamma * dy:
        dbeta  = sum over the other axes of dy,    dgamma = sum over the other axes of dy * xhat
        dx     = 1 / (M sigma) * (M dxhat - sum dxhat - xhat * sum(dxhat * xhat))   (sums over ``axis``)

    The deprecated ``rms_scaling=True`` of Keras (it divides by the standard deviation, not the root mean
    square) is refused; use a Keras layer without it.
    """

    keras_class = "LayerNormalization"
    keras_arguments_not_supported = {
        "beta_constraint": ((None,), "a constraint Keras's optimizer applies to beta after each step"),
        "gamma_constraint": ((None,), "a constraint Keras's optimizer applies to gamma after each step"),
    }
    input_spec = InputSpec(min_ndim=2, dtype="compute")

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, **kwargs):
        if kwargs.pop("rms_scaling", False):
            raise ValueError("The NumPy LayerNormalization does not take Keras's deprecated rms_scaling=True "
                             "(it scales by the variance, not the root mean square). Received: rms_scaling=True.")
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            axis = [int(a) for a in axis]
            if not axis:
                raise ValueError("LayerNormalization needs at least one axis to normalize over. Received: axis=[]")
            # Keras 3.13 keeps a list as given, 3.15 sorts it (the gamma layout then differs); and Keras
            # reshapes gamma wrongly for a list mixing negative and non-negative axes. Ask for the form on
            # which every version agrees.
            if axis != sorted(set(axis)) or (min(axis) < 0 <= max(axis)):
                raise ValueError(f"The NumPy LayerNormalization takes a list of axes in increasing order, all "
                                 f"non-negative or all negative (Keras versions differ on other lists). "
                                 f"Received: axis={axis!r}")
            self.axis = axis
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError("Expected an int or a list/tuple of ints for the argument 'axis', "
                            f"but received: {axis!r}")
        self.epsilon = epsilon
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma = self.beta = None
        self._cache = None

    def build(self, input_shape):
        input_shape = self._shape_of_min_rank(input_shape, 2, "expected input of rank >= 2 (a batch dimension first)")
        axes = self._axes(len(input_shape))
        if 0 in axes:
            raise ValueError(f"The NumPy LayerNormalization normalizes within each example; axis 0 (the batch) "
                             f"cannot be one of its axes. Received: axis={self.axis!r}")
        if any(input_shape[a] is None for a in axes):
            raise ValueError(f"Layer '{self.name}' needs known sizes on axis {self.axis}, received input shape "
                             f"{shape_str(input_shape)}.")
        shape = tuple(input_shape[a] for a in axes)
        if self.scale:
            self.add_weight("gamma", shape, self.gamma_initializer, self.gamma_regularizer)
        if self.center:
            self.add_weight("beta", shape, self.beta_initializer, self.beta_regularizer)
        self._norm_shape = shape
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        self._axes(len(input_shape))
        return tuple(input_shape)

    def forward(self, x, training=False):
        axes, others, weight_shape = self._geometry(x, has_weights=self.scale or self.center)
        mean = x.mean(axis=axes, keepdims=True)
        centred = x - mean
        var = np.square(centred).mean(axis=axes, keepdims=True)
        inv_std = 1.0 / np.sqrt(var + x.dtype.type(self.epsilon))
        # Keras's form: y = x * inv + (beta - mean * inv), inv = gamma / sigma
        inv = inv_std * self.gamma.reshape(weight_shape) if self.scale else inv_std
        shift = -mean * inv
        if self.center:
            shift = shift + self.beta.reshape(weight_shape)
        y = x * inv + shift
        self._cache = (centred, inv_std, axes, others, weight_shape)
        return y

    def backward(self, dout):
        self._require_forward()
        centred, inv_std, axes, others, weight_shape = self._cache
        dy = self._check_dout(dout, centred.shape)
        xhat = centred * inv_std
        grads = {}
        if self.scale:
            grads["gamma"] = np.sum(dy * xhat, axis=others).reshape(self.gamma.shape)
            dxhat = dy * self.gamma.reshape(weight_shape)
        else:
            dxhat = dy
        if self.center:
            grads["beta"] = dy.sum(axis=others).reshape(self.beta.shape)
        m = int(np.prod([centred.shape[a] for a in axes]))
        dx = inv_std / m * (m * dxhat - dxhat.sum(axis=axes, keepdims=True)
                            - xhat * np.sum(dxhat * xhat, axis=axes, keepdims=True))
        self.set_grads(**grads)
        return dx

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": self.beta_regularizer, "gamma_regularizer": self.gamma_regularizer}


class UnitNormalization(Layer):
    """Scales every example to unit L2 norm along ``axis`` (an int or a list), as
    ``keras.layers.UnitNormalization(axis=-1)``. No weights.

    Shapes: x ``(N, ...)`` -> y of the same shape.
    Forward (Keras's ``ops.normalize``; the sums over ``axis``):
        s = sum x^2,   r = min(1 / sqrt(s), 1e12),   y = x r
    Backward (where 1 / sqrt(s) < 1e12; elsewhere r is a constant and dx = r dy):
        dx = r dy - x r^3 sum(x dy)
    """

    keras_class = "UnitNormalization"
    input_spec = InputSpec(min_ndim=1, dtype="compute")

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and all(isinstance(a, (int, np.integer)) for a in axis):
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError(f"Invalid value for `axis` argument: expected an int or a list/tuple of ints. "
                            f"Received: axis={axis}")
        self._cache = None

    def _axes(self, ndim):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        return tuple(_check_axis(a, ndim, self.name) for a in axes)

    def compute_output_shape(self, input_shape):
        self._axes(len(input_shape))
        return tuple(input_shape)

    def forward(self, x, training=False):
        axes = self._axes(x.ndim)
        with np.errstate(divide="ignore"):
            inv_norm = 1.0 / np.sqrt((x * x).sum(axis=axes, keepdims=True))
        clipped = inv_norm >= 1e12
        r = np.minimum(inv_norm, 1e12).astype(x.dtype)
        self._cache = (x, r, clipped, axes)
        return x * r

    def backward(self, dout):
        self._require_forward()
        x, r, clipped, axes = self._cache
        dy = self._check_dout(dout, x.shape)
        self.set_grads()
        through_norm = np.where(clipped, 0, x * r ** 3 * (x * dy).sum(axis=axes, keepdims=True))
        return r * dy - through_norm

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class RMSNormalization(_NormalizesEachExample, Layer):
    """Root-mean-square normalization (Zhang & Sennrich, 2019), as ``keras.layers.RMSNormalization``.

    Like LayerNormalization without the centring and without a shift: each example is divided by the
    root mean square of its values over ``axis`` and multiplied by a learned ``scale`` (Keras's only
    weight, ones at first, of shape ``tuple(input_shape[a] for a in axis)``). The pre-norm blocks of
    LLaMA-style transformers use it.

    Shapes: x ``(N, ...)`` -> y of the same shape.

    Forward, over the M values of ``axis`` of each example (Keras's default epsilon: 1e-6):
        r = 1 / sqrt(mean(x^2) + epsilon),      y = x * r * scale
    Backward, with g = dy * scale:
        dscale = sum over the other axes of dy * x * r
        dx     = r * g - r^3 * x * mean(g * x)          (the mean over ``axis``)
    """

    keras_class = "RMSNormalization"
    input_spec = InputSpec(min_ndim=2, dtype="compute")

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            if not axis or any(not isinstance(a, (int, np.integer)) or isinstance(a, bool) for a in axis):
                raise TypeError(f"RMSNormalization expected an int or a non-empty list of ints for `axis`. "
                                f"Received: axis={axis!r}")
            axis = sorted(int(a) for a in axis)        # Keras sorts a list of axes
            if min(axis) < 0 <= max(axis):
                raise ValueError(f"The NumPy RMSNormalization takes a list of axes that are all negative or all "
                                 f"non-negative (Keras orders a mixed list differently). Received: axis={axis!r}")
        elif not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(f"RMSNormalization expected an int or a list of ints for `axis`. Received: axis={axis!r}")
        else:
            axis = int(axis)
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.number)) or not epsilon >= 0:
            raise ValueError(f"RMSNormalization expected a number >= 0 for `epsilon`. Received: epsilon={epsilon!r}")
        self.axis = axis
        self.epsilon = float(epsilon)
        self.scale = None
        self._cache = None

    def build(self, input_shape):
        input_shape = self._shape_of_min_rank(input_shape, 2, "expected input of rank >= 2 (a batch dimension first)")
        axes = self._axes(len(input_shape))
        if 0 in axes:
            raise ValueError(f"The NumPy RMSNormalization normalizes within each example; axis 0 (the batch) cannot "
                             f"be one of its axes. Received: axis={self.axis!r}")
        if any(input_shape[a] is None for a in axes):
            raise ValueError(f"Layer '{self.name}' needs known sizes on axis {self.axis}, received input shape "
                             f"{shape_str(input_shape)}.")
        self._norm_shape = tuple(input_shape[a] for a in axes)
        self.add_weight("scale", self._norm_shape, "ones")
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        axes, others, weight_shape = self._geometry(x)
        r = 1.0 / np.sqrt(np.mean(np.square(x), axis=axes, keepdims=True) + x.dtype.type(self.epsilon))
        self._cache = (x, r, axes, others, weight_shape)
        return x * r * self.scale.reshape(weight_shape)

    def backward(self, dout):
        self._require_forward()
        x, r, axes, others, weight_shape = self._cache
        dy = self._check_dout(dout, x.shape)
        g = dy * self.scale.reshape(weight_shape)
        self.set_grads(scale=np.sum(dy * x * r, axis=others).reshape(self.scale.shape))
        return r * g - r ** 3 * x * np.mean(g * x, axis=axes, keepdims=True)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}
