"""The contract every NumPy layer keeps, mirroring ``keras.layers.Layer``.

A layer

- is built lazily on its first ``forward`` (or by ``build(input_shape)``), like Keras;
- ``forward(x, training=False) -> y`` remembers what its backward pass needs;
- ``backward(dout) -> dx`` takes dL/dy and returns dL/dx, and fills ``grads``:
  dL/dw for every trainable weight, in the same order and shapes as the Keras layer's
  ``trainable_weights``;
- ``get_weights()`` / ``set_weights(weights)`` use Keras's order and layout, so moving weights
  between the two is a plain copy (see ``course_utils.nn.convert``);
- ``get_config()`` uses Keras's argument names, so ``from_keras`` / ``to_keras`` rebuild one from
  the other's config.

Every subclass names the Keras class it mirrors in ``keras_class``; that is how ``from_keras``
finds the twin of a Keras layer.
"""
from __future__ import annotations

import functools
import inspect
import itertools
from dataclasses import dataclass

import numpy as np

from . import activations, initializers, regularizers
from .shapes import shape_str
from .symbolic import call_symbolic, has_symbolic

# Keras class name -> NumPy layer class; filled by Layer.__init_subclass__.
LAYER_REGISTRY: dict[str, type] = {}

# Keys of a Keras layer config that never change what a layer computes.
_HARMLESS_KEYS = {"name", "dtype", "trainable", "build_config", "batch_input_shape", "input_shape",
                  "sparse", "ragged", "batch_shape", "synchronized", "autocast", "input_dtype"}

_name_counters: dict[str, itertools.count] = {}


def _snake_case(name):
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (name[i - 1].islower() or  # "Conv2D" -> "conv2d", as Keras names it
                                   (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _init_params(cls):
    """Every argument the constructors along ``cls``'s MRO accept."""
    params = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        sig = inspect.signature(klass.__init__)
        params |= {p for p in sig.parameters if p not in ("self", "args", "kwargs")}
    return params


def _same_value(value, default):
    """``value`` is ``default`` (None, a bool, a number, a string; True is not 1 here)."""
    if value is default:
        return True
    if isinstance(value, bool) or isinstance(default, bool) or default is None:
        return False
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False


def _unique_name(prefix):
    counter = _name_counters.setdefault(prefix, itertools.count())
    n = next(counter)
    return prefix if n == 0 else f"{prefix}_{n}"


@dataclass
class WeightSlot:
    """One weight of a layer, declared once by ``Layer.add_weight`` (as a Keras variable)."""
    name: str
    value: np.ndarray
    trainable: bool = True
    regularizer: object = None


@dataclass(frozen=True)
class InputSpec:
    """What a layer's ``forward`` accepts, as ``keras.layers.InputSpec``: checked by the base class.

    A layer declares ``input_spec = InputSpec(ndim=3)`` (or ``min_ndim=...``); before its
    ``forward`` runs, the base class converts the input (numeric, real, finite; integers cast to the
    compute dtype), checks its rank, builds the layer on the first call, checks the sizes of ``axes``
    and casts the input to ``dtype``: ``"layer"`` (the layer's dtype when it has one, as Keras casts
    inputs), ``"compute"`` (always the compute dtype) or ``None``. The ``forward`` is then the layer's
    formula alone.

    ``axes`` ({axis: size}, as Keras's) are the sizes the weights fix, known once the layer is built:
    ``build`` sets ``self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})``, as a Keras layer
    does; every other axis (the batch, a sequence length, an image size) may change from call to call.
    A layer with several tensor arguments declares a dict {argument of forward: InputSpec}
    (MultiHeadAttention's query, value, key); an argument given as a list (a merge layer's inputs) has
    every array in it checked against the argument's spec.
    """
    ndim: int | None = None
    min_ndim: int = 2
    dtype: str | None = None
    axes: dict | None = None


def _checks_input_spec(forward):
    """``forward`` preceded by the checks of the layer's ``input_spec`` (see ``InputSpec``)."""
    signature = inspect.signature(forward)

    @functools.wraps(forward)
    def checked(self, *args, **kwargs):
        if isinstance(self.input_spec, InputSpec):   # one tensor: the first argument
            x, *rest = args
            return forward(self, self._check_input_spec(x), *rest, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        bound.arguments.update(self._check_input_specs({name: bound.arguments.get(name)
                                                        for name in self.input_spec}))
        return forward(*bound.args, **bound.kwargs)
    checked.checks_input_spec = True
    return checked


def _shape_of(value):
    """The shape of an array, the list of shapes of a list of arrays, or None."""
    if value is None:
        return None
    return [x.shape for x in value] if isinstance(value, list) else value.shape


def is_positive_int(value):
    """True for an int > 0 (a bool is not a number of units)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0


def positive_int(value, name, argument=False, allow_none=False):
    """``value`` as an int, after checking it is a positive integer, with Keras's message (``units``;
    ``argument=True``: "argument `num_heads`", as MultiHeadAttention says it; ``allow_none``: None
    passes, as ``value_dim=None``)."""
    if allow_none and value is None:
        return None
    if not is_positive_int(value):
        what = f"argument `{name}`" if argument else f"`{name}`"
        expected = "a positive integer or `None`" if allow_none else "a positive integer"
        raise ValueError(f"Received an invalid value for {what}, expected {expected}. "
                         f"Received: {name}={value!r}")
    return int(value)


def layers_that_take_masks():
    """The Keras class names of the NumPy layers whose ``forward`` takes a mask (``mask=``, or
    MultiHeadAttention's ``query_mask``/``value_mask``/``key_mask``), read from their signatures."""
    def takes(cls):
        names = inspect.signature(cls.forward).parameters
        return "mask" in names or "query_mask" in names
    return sorted(name for name, cls in LAYER_REGISTRY.items() if takes(cls))


def refuse_mask(layer, mask):
    """A mask (None is no mask) given to a layer whose NumPy twin takes none: refused with a clear error
    naming the layers that do take one."""
    if mask is not None:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) received a mask, but the NumPy "
                         f"{type(layer).__name__} takes none (inside a model, nn.masks passes masks on as Keras does). "
                         f"The NumPy layers that take a mask: {', '.join(layers_that_take_masks())} "
                         f"(MultiHeadAttention as query_mask/value_mask/key_mask). Pass the mask to one of "
                         f"those, or drop it (no mask=, mask_zero=False, no Masking layer).")


class ActivationAttribute:
    """A layer attribute holding an activation (``layer.activation``, ``layer.recurrent_activation``).

    Whatever is assigned - a name, ``None`` (linear), an ``Activation`` - goes through
    ``activations.get``, in the constructor and afterwards: ``twin.activation = None`` or
    ``= "relu"`` after construction works, as assigning the attribute does in Keras.
    """

    def __set_name__(self, owner, name):
        self.attribute = "_" + name

    def __get__(self, layer, owner=None):
        if layer is None:
            return self
        try:
            return layer.__dict__[self.attribute]
        except KeyError:
            raise AttributeError(f"Layer '{layer.name}' has no {self.attribute[1:]} yet.") from None

    def __set__(self, layer, value):
        layer.__dict__[self.attribute] = activations.get(value)


class Layer:
    """Base class of the NumPy layers.

    Subclasses set ``keras_class`` (the Keras class name they mirror) and implement
    ``build(input_shape)`` (declaring each weight once with ``self.add_weight(...)``, in Keras's
    order), ``forward`` and ``backward`` (which hands its gradients to ``self.set_grads(name=...)``).
    ``weights``, ``trainable_weights``, ``grads``, ``get/set_weights``, regularization and freezing
    (``layer.trainable = False``) then follow from the base class, the same for every layer.

    Freezing follows Keras: a frozen layer has no ``trainable_weights``, no ``grads`` and no
    regularization penalty (Keras sums the regularizers of trainable weights only), and
    setting ``trainable`` sets it on every layer this one holds (a model's layers, a wrapper's layer).
    """

    keras_class: str | None = None
    input_spec: InputSpec | None = None   # None: the layer's forward checks its inputs itself
    # Keras constructor arguments the NumPy layer does not implement: name -> (the values it accepts, all
    # computing what it computes - Keras's default first -, what the argument does). Merged along the MRO;
    # any other value is refused at construction by ``_refuse_keras_arguments``.
    keras_arguments_not_supported = {
        "activity_regularizer": ((None,), "a penalty on the layer's output"),
        "autocast": ((True, False), "mixed-precision casting"),
        "input_shape": ((None,), "an input shape given to a layer; start the model with nn.Input(shape=...)"),
        "input_dim": ((None,), "an input size given to a layer; start the model with nn.Input(shape=...)"),
        "weights": ((None,), "initial weights; call set_weights(...) after building instead"),
    }

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("keras_class"):
            LAYER_REGISTRY[cls.keras_class] = cls
        forward = cls.__dict__.get("forward")
        if cls.input_spec is not None and forward is not None and not hasattr(forward, "checks_input_spec"):
            cls.forward = _checks_input_spec(forward)

    def __init__(self, name=None, trainable=True, dtype=None, **kwargs):
        self._refuse_keras_arguments(kwargs)   # Keras's arguments this layer does not implement
        self.name = name or _unique_name(_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self._dtype = np.dtype(dtype) if dtype is not None else None
        self.built = False
        self.input_shape = None
        self._slots: list[WeightSlot] = []
        self._grads: list[np.ndarray] = []   # set by backward through set_grads

    @classmethod
    def _refuse_keras_arguments(cls, arguments):
        """A clear ValueError for a constructor argument the NumPy layer does not implement (named, with the
        value it supports), or that Keras does not have either (Keras's "Unrecognized keyword arguments");
        a Keras argument at a value that computes the same thing (its default) passes."""
        known = {}
        for klass in reversed(cls.__mro__):
            known.update(klass.__dict__.get("keras_arguments_not_supported", {}))
        for key, value in arguments.items():
            if key.endswith("_constraint"):   # no NumPy layer implements weight constraints
                known.setdefault(key, ((None,), "a constraint Keras's optimizer applies to a weight after each step"))
            if key not in known:
                raise ValueError(f"Unrecognized keyword arguments passed to {cls.__name__}: {{{key!r}: {value!r}}}. "
                                 f"The NumPy {cls.__name__} takes: {', '.join(sorted(_init_params(cls)))}.")
            accepted, what = known[key]
            if not any(_same_value(value, a) for a in accepted):
                allowed = " or ".join(f"{key}={a!r}" for a in accepted)
                raise ValueError(f"The NumPy {cls.__name__} does not support `{key}` ({what}); received "
                                 f"{key}={value!r}. It supports {allowed} only. Leave `{key}` out, or use "
                                 f"keras.layers.{cls.keras_class or cls.__name__} itself for it.")

    # ----------------------------------------------------------------- building
    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch dimension included; ``None`` for a
        layer whose weights do not depend on it, as Keras's ``Embedding.build()``)."""
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.built = True

    def _ensure_built(self, x):
        if not self.built:
            self.build(x.shape)

    def _check_input_spec(self, x):
        """x converted and checked against ``input_spec``, the layer built on it (Keras's
        ``Layer.__call__``: ``assert_input_compatibility``, then ``build`` on the first call)."""
        spec = self.input_spec
        x = self._as_input(x, min_ndim=spec.min_ndim, ndim=spec.ndim)
        self._ensure_built(x)
        return self._checked_sizes_and_dtype(x, self.input_spec)

    def _check_input_specs(self, arguments):
        """{argument: array, list of arrays or None} converted and checked against the dict
        ``input_spec``, the layer built on their shapes (``build(*shapes)``, in the dict's order)."""
        checked = {}
        for name, value in arguments.items():
            spec = self.input_spec[name]
            if value is None:
                checked[name] = None
            elif isinstance(value, (list, tuple)):
                checked[name] = [self._as_input(x, min_ndim=spec.min_ndim, ndim=spec.ndim, what=f"{name[:-1]} {i}")
                                 for i, x in enumerate(value)]
            else:
                checked[name] = self._as_input(value, min_ndim=spec.min_ndim, ndim=spec.ndim, what=name)
        if not self.built:
            self.build(*[_shape_of(value) for value in checked.values()])
        for name, value in checked.items():
            if isinstance(value, list):
                checked[name] = [self._checked_sizes_and_dtype(x, self.input_spec[name], f"{name[:-1]} {i}")
                                 for i, x in enumerate(value)]
            elif value is not None:
                checked[name] = self._checked_sizes_and_dtype(value, self.input_spec[name], name)
        return checked

    def _checked_sizes_and_dtype(self, x, spec, what="input"):
        """x after checking the sizes of ``spec.axes`` (the error is the layer's ``_axis_size_error``),
        cast to ``spec.dtype``."""
        for axis, size in (spec.axes or {}).items():
            if size is not None and (not -x.ndim <= axis < x.ndim or x.shape[axis] != size):
                raise ValueError(self._axis_size_error(x, axis, size, what))
        if spec.dtype == "compute":
            x = x.astype(self.compute_dtype, copy=False)
        elif spec.dtype == "layer":
            x = self._cast_input(x)
        return x

    def _axis_size_error(self, x, axis, size, what="input"):
        """The message for an input whose ``axis`` does not have the ``size`` the layer was built for."""
        return (f"Layer '{self.name}' expected {what} with size {size} on axis {axis} (it was built for it), "
                f"received shape {shape_str(x.shape)}.")

    def compute_output_shape(self, input_shape):
        raise NotImplementedError(f"{type(self).__name__} does not implement compute_output_shape")

    # ---------------------------------------------------------------- computing
    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        """On arrays: ``forward(*args, **kwargs)``. On symbolic tensors from ``nn.Input``: builds
        the layer from their shapes and returns a new symbolic tensor that records the call (a
        node of a functional ``nn.Model``), as Keras does."""
        if has_symbolic(args, kwargs):
            return call_symbolic(self, args, kwargs)
        if "mask" in kwargs and "mask" not in inspect.signature(self.forward).parameters:
            refuse_mask(self, kwargs.pop("mask"))  # None passes; a real mask gets the clear refusal
        return self.forward(*args, **kwargs)

    # -------------------------------------------------------------------- dtype
    @property
    def dtype(self):
        """The dtype the layer computes in (None: float64, the NumPy default); settable, as a
        wrapper sets it on the layer it wraps."""
        return self._dtype

    @dtype.setter
    def dtype(self, value):
        self._dtype = np.dtype(value) if value is not None else None

    # ----------------------------------------------------------------- freezing
    @property
    def trainable(self):
        """Whether the optimizer updates this layer's weights (settable, as in Keras)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        # As Keras's setter: the layers this one holds are set too, so model.trainable = False
        # freezes every layer and model.trainable = True unfreezes them all again.
        self._set_trainable(bool(value), set())

    def _set_trainable(self, value, seen):
        seen.add(id(self))
        self._trainable = value
        for layer in self._sublayers():
            if id(layer) not in seen:
                layer._set_trainable(value, seen)

    def _sublayers(self):
        """The layers this one holds - Layer attributes, or lists/tuples of them - found as Keras
        tracks them (a Sequential's ``layers``, a wrapper's ``layer``)."""
        found = {}
        for value in vars(self).values():
            for item in (value if isinstance(value, (list, tuple)) else (value,)):
                if isinstance(item, Layer) and item is not self:
                    found.setdefault(id(item), item)
        return list(found.values())

    # ------------------------------------------------------------------ weights
    def add_weight(self, name, shape, initializer="glorot_uniform", regularizer=None, trainable=True,
                   dtype=None):
        """Declare a weight, as Keras's ``Layer.add_weight``: create it with ``initializer``, keep it
        in the layer's store (``weights``, ``get/set_weights``, regularization and freezing follow)
        and set it as ``self.<name>``. Returns the array (updated in place from then on)."""
        if any(slot.name == name for slot in self._slots):
            raise ValueError(f"Layer '{self.name}' already has a weight named '{name}'.")
        dtype = np.dtype(dtype) if dtype is not None else self.compute_dtype
        shape = tuple(int(d) for d in shape)
        value = np.array(initializers.get(initializer)(shape, dtype=dtype), dtype=dtype)
        if value.shape != shape:
            raise ValueError(f"The initializer of weight '{name}' of layer '{self.name}' returned shape "
                             f"{shape_str(value.shape)}, expected {shape_str(shape)}.")
        self._slots.append(WeightSlot(name, value, bool(trainable), regularizers.get(regularizer)))
        setattr(self, name, value)
        return value

    def _ordered_slots(self):
        """Keras's order: the trainable variables (as declared), then the non-trainable ones."""
        return [s for s in self._slots if s.trainable] + [s for s in self._slots if not s.trainable]

    @property
    def weights(self):
        return [s.value for s in self._ordered_slots()]

    @property
    def weight_names(self):
        return [s.name for s in self._ordered_slots()]

    @property
    def trainable_weights(self):
        return [s.value for s in self._slots if s.trainable] if self.trainable else []

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [s.value for s in self._slots if not s.trainable]

    def set_grads(self, **grads):
        """Called by ``backward``: dL/dw for each trainable weight, by name."""
        names = [s.name for s in self._slots if s.trainable]
        if grads and set(grads) != set(names):
            raise ValueError(f"Layer '{self.name}' backward gave gradients for {sorted(grads)}, "
                             f"but its trainable weights are {names}.")
        self._grads = [np.asarray(grads[name]) for name in names if name in grads]

    @property
    def grads(self):
        """dL/dw of the last backward pass for every trainable weight, in ``trainable_weights``'
        order (empty for a frozen layer, or before the first backward)."""
        return self._grads if self.trainable else []

    def set_weights(self, weights):
        """Set the weights from a list in Keras's order and layout (copied, cast to the layer's dtype)."""
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' has no weights yet: it is built on its first call. "
                f"Call it on an input (or call build(input_shape)) before set_weights().")
        weights = list(weights)
        current = self.weights
        if len(weights) != len(current):
            raise ValueError(
                f"Layer '{self.name}' expects {len(current)} weight arrays "
                f"({', '.join(self.weight_names) or 'none'}), received {len(weights)}.")
        new = []
        for name, old, w in zip(self.weight_names, current, weights):
            w = np.asarray(w)
            if w.shape != old.shape:
                raise ValueError(
                    f"Layer '{self.name}' weight '{name}' expects shape {shape_str(old.shape)}, "
                    f"received shape {shape_str(w.shape)}.")
            if not np.issubdtype(w.dtype, np.number):
                raise TypeError(f"Layer '{self.name}' weight '{name}' must be numeric, received dtype {w.dtype}.")
            new.append(np.array(w, dtype=old.dtype))
        for old, w in zip(current, new):
            old[...] = w  # in place, so that references held elsewhere (optimizers) stay valid

    def get_weights(self):
        """Copies of the weights, in Keras's order and layout."""
        return [w.copy() for w in self.weights]

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    # -------------------------------------------------------------- regularizers
    # A weight's penalty is the one given to add_weight; a layer attribute named after the weight
    # (``kernel_regularizer`` for "kernel", Keras's naming) wins, so that setting it after the
    # layer is built still takes effect (and matches what to_keras writes into the config).
    def _regularizer(self, slot):
        return getattr(self, f"{slot.name}_regularizer", slot.regularizer)

    def regularization_loss(self):
        """The penalty this layer adds to the training loss (Keras's ``layer.losses``): the
        regularizers of its trainable weights only, as Keras, so a frozen layer adds none."""
        if not self.trainable:
            return 0.0
        return sum((reg(s.value) for s in self._slots
                    if s.trainable and (reg := self._regularizer(s)) is not None), 0.0)

    def regularization_grads(self):
        """d(penalty)/dw for each trainable weight (zeros where there is no penalty)."""
        if not self.trainable:
            return []
        return [reg.gradient(s.value) if (reg := self._regularizer(s)) is not None else np.zeros_like(s.value)
                for s in self._slots if s.trainable]

    # ------------------------------------------------------------------- config
    def get_config(self):
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ----------------------------------------------- the Keras protocol (nn.convert)
    # What from_keras / to_keras ask of a layer; the defaults serve every layer whose constructor
    # takes Keras's arguments, and a layer overrides one where the two differ.
    keras_attributes_missing_from_config = ()   # read from the Keras layer (not in every version's config, or lossy)

    @classmethod
    def from_keras_config(cls, config):
        """Keras config -> this class's constructor arguments: keep the keys it accepts; refuse the
        options it cannot honour."""
        accepted = _init_params(cls)
        kwargs, unsupported = {}, []
        for key, value in config.items():
            if key in accepted:
                kwargs[key] = value
            elif key in _HARMLESS_KEYS or value in (None, False) or (isinstance(value, dict) and not value):
                continue
            else:
                unsupported.append(f"{key}={value!r}")
        if unsupported:
            raise ValueError(f"The NumPy {cls.__name__} cannot reproduce a Keras layer with "
                             f"{', '.join(unsupported)}. Remove these options from the Keras layer, "
                             f"or compare a layer without them.")
        kwargs.pop("dtype", None)
        return kwargs

    def keras_config(self):
        """The Keras constructor arguments for this layer (a Layer value is converted by to_keras)."""
        config = dict(self.get_config())
        if "activation" in config:
            act = activations.get(config["activation"])
            if act.keras_name is None:
                raise ValueError(f"Layer '{self.name}' uses the activation '{act.name}', which Keras does not "
                                 f"have; it cannot be converted to Keras.")
            config["activation"] = act.keras_name
        for key, value in list(config.items()):
            if isinstance(value, regularizers.Regularizer):
                config[key] = regularizers.to_keras(value)
            elif callable(value) and key.endswith("initializer"):
                raise ValueError(f"Layer '{self.name}' uses a custom {key}; name a Keras initializer instead.")
        return config

    def keras_build_shapes(self):
        """The arguments of the Keras layer's ``build`` for this built layer."""
        return (self.input_shape,)

    # ------------------------------------------------------------------ helpers
    def _as_input(self, x, min_ndim=2, ndim=None, what="input"):
        """Validate and convert an input array: numeric, finite, of the right rank."""
        if isinstance(x, (list, tuple)) or np.isscalar(x):
            x = np.asarray(x)
        if not isinstance(x, np.ndarray):
            try:
                x = np.asarray(x)  # e.g. a TensorFlow tensor
            except Exception as exc:  # pragma: no cover - defensive
                raise TypeError(f"Layer '{self.name}' expected a NumPy array as {what}, "
                                f"received {type(x).__name__}.") from exc
        if x.dtype == bool or not np.issubdtype(x.dtype, np.number):
            raise TypeError(f"Layer '{self.name}' expected a numeric array as {what}, received dtype {x.dtype}.")
        if np.issubdtype(x.dtype, np.complexfloating):
            raise TypeError(f"Layer '{self.name}' expected a real-valued array as {what}, received dtype {x.dtype}.")
        if ndim is not None and x.ndim != ndim:
            raise ValueError(self._rank_error(x, ndim, what))
        if x.ndim < min_ndim:
            raise ValueError(f"Layer '{self.name}' expected {what} of rank >= {min_ndim} "
                             f"(a batch dimension first), received shape {shape_str(x.shape)}. "
                             f"For a single example use x[None] to add a batch dimension.")
        if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
            raise ValueError(f"Layer '{self.name}' received a non-finite {what}: "
                             f"{x[bad]} at index {bad}. Check the data (or the previous layer) for NaN/inf.")
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(self.compute_dtype)
        return x

    def _rank_error(self, x, ndim, what="input"):
        """The message for an input of another rank than ``ndim`` (a layer may say it its own way)."""
        return f"Layer '{self.name}' expected {what} of rank {ndim} {self._rank_hint(ndim)}, received shape {shape_str(x.shape)}."

    def _rank_hint(self, ndim):
        return {2: "(batch, features)", 3: "(batch, timesteps, features)",
                4: "(batch, height, width, channels)"}.get(ndim, "")

    def _check_rank(self, input_shape, ndim):
        """``input_shape`` as a tuple, after checking that it has rank ``ndim`` (in ``build``)."""
        input_shape = tuple(input_shape)
        if len(input_shape) != ndim:
            raise ValueError(f"Layer '{self.name}' expected input of rank {ndim} {self._rank_hint(ndim)}, "
                             f"received shape {shape_str(input_shape)}.")
        return input_shape

    def _shape_of_min_rank(self, input_shape, min_ndim, expected, who="Layer"):
        """``input_shape`` as a tuple, after checking it has rank >= ``min_ndim`` (in ``build`` and
        ``compute_output_shape``); ``expected`` says what, as "expected input of rank >= 2 (...)"."""
        input_shape = tuple(input_shape)
        if len(input_shape) < min_ndim:
            raise ValueError(f"{who} '{self.name}' {expected}, received shape {shape_str(input_shape)}.")
        return input_shape

    def _cast_input(self, x):
        """x cast to the layer's dtype when it has one, as Keras casts inputs to the layer's dtype."""
        if self.dtype is not None and x.dtype != self.dtype:
            x = x.astype(self.dtype)
        return x

    def _check_dout(self, dout, expected_shape):
        dout = np.asarray(dout)
        if dout.shape != tuple(expected_shape):
            raise ValueError(f"Layer '{self.name}' backward expected dout of shape "
                             f"{shape_str(expected_shape)} (the shape of its output), "
                             f"received shape {shape_str(dout.shape)}.")
        return dout

    def _require_forward(self, attr="_cache"):
        if getattr(self, attr, None) is None:
            raise RuntimeError(f"Layer '{self.name}': call forward() before backward(); "
                               f"backward uses what the forward pass remembered.")

    @property
    def compute_dtype(self):
        return self.dtype if self.dtype is not None else np.dtype("float64")

    def __repr__(self):
        return f"<{type(self).__name__} name='{self.name}' built={self.built}>"


class KernelAndBias:
    """What the layers with a ``kernel`` and a ``bias`` share (Dense, Conv1D, Conv2D, Conv2DTranspose):
    Keras's ``activation``, ``use_bias``, ``kernel/bias_initializer`` and ``kernel/bias_regularizer``.

    A mixin before ``Layer``: ``class Dense(KernelAndBias, Layer)``. In ``__init__`` the layer calls
    ``self._kernel_and_bias_options(...)``, in ``build`` ``self._add_kernel_and_bias(kernel_shape,
    bias_size)``, in ``backward`` ``self._set_kernel_and_bias_grads()`` after computing
    ``self.dkernel`` / ``self.dbias``, and ``get_config`` ends with ``**self._kernel_and_bias_config()``.
    """

    activation = ActivationAttribute()   # assignable after construction: a name, None or an Activation
    keras_arguments_not_supported = {
        "kernel_constraint": ((None,), "a constraint Keras's optimizer applies to the kernel after each step"),
        "bias_constraint": ((None,), "a constraint Keras's optimizer applies to the bias after each step"),
    }

    def _kernel_and_bias_options(self, activation, use_bias, kernel_initializer, bias_initializer,
                                 kernel_regularizer, bias_regularizer):
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self._cache = None

    def _input_channels(self, input_shape):
        """The number of input channels (the last axis) of ``input_shape``, which must be known."""
        channels = tuple(input_shape)[-1]
        if channels is None:
            raise ValueError(f"Layer '{self.name}' needs a known number of input channels (last axis), "
                             f"received shape {shape_str(input_shape)}.")
        return int(channels)

    def _add_kernel_and_bias(self, kernel_shape, bias_size):
        """Declare ``kernel`` (``kernel_shape``) and, with ``use_bias``, ``bias`` (``(bias_size,)``)."""
        self.add_weight("kernel", kernel_shape, self.kernel_initializer, self.kernel_regularizer)
        self.bias = None
        if self.use_bias:
            self.add_weight("bias", (bias_size,), self.bias_initializer, self.bias_regularizer)

    def _axis_size_error(self, x, axis, size, what="input"):
        """The message for an input whose last axis is not the ``size`` input channels the kernel was built for."""
        return (f"Layer '{self.name}' expected input with {size} channels (last axis), "
                f"received shape {shape_str(x.shape)}. Its kernel was built for {size} "
                f"input channels: kernel shape {shape_str(self.kernel.shape)}.")

    def _check_input_channels(self, x, channels):
        """x, cast to the layer's dtype, after checking it has the ``channels`` the kernel was built for."""
        if x.shape[-1] != channels:
            raise ValueError(f"Layer '{self.name}' expected input with {channels} channels (last axis), "
                             f"received shape {shape_str(x.shape)}. Its kernel was built for {channels} "
                             f"input channels: kernel shape {shape_str(self.kernel.shape)}.")
        return self._cast_input(x)

    def _set_kernel_and_bias_grads(self):
        """Hand ``self.dkernel`` (and ``self.dbias`` with ``use_bias``) to ``set_grads``."""
        self.set_grads(kernel=self.dkernel, **({"bias": self.dbias} if self.use_bias else {}))

    def _kernel_and_bias_config(self):
        return {"activation": self.activation.name, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": self.kernel_regularizer, "bias_regularizer": self.bias_regularizer}
