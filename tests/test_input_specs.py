"""Input specs and constructor arguments of every NumPy layer, against Keras's acceptance.

- A layer built for one input shape accepts what the Keras layer built for the same shape accepts: another
  batch size and, for the recurrent, convolutional, pooling and attention layers, another sequence length
  or image size (issue 20, point 8). The NumPy layer, given the Keras layer's weights, must then give
  Keras's output (float64 on TensorFlow to 1e-12, float32 rounding elsewhere: ``helpers.forward_tol``).
  Where Keras refuses a call (another rank for BatchNormalization, another feature size), the NumPy
  layer refuses it too, with a ValueError.
- A Keras constructor argument the NumPy layer does not implement is refused at construction with a
  ValueError naming the argument and what is supported (issue 20, point 7); its Keras default passes.
- The base class checks the declared ``InputSpec`` (rank, per-axis sizes) for every layer (issue 18,
  point 4), with each layer's own message.
"""
import numpy as np
import pytest

from course_utils import nn
from helpers import forward_tol, keras_is_float64, to_numpy

keras = pytest.importorskip("keras")


def _keras_dtype():
    return "float64" if keras_is_float64() else "float32"


def _arrays(rng, shapes, integer_high=None):
    if integer_high is not None:
        return [rng.integers(0, integer_high, size=s) for s in shapes]
    return [rng.normal(size=s) for s in shapes]


def _call(layer, arrays, style):
    """Call a layer as its kind is called: one array, a list (merge layers) or query/value (attention)."""
    if style == "list":
        return layer(list(arrays))
    return layer(*arrays)


# (name, constructor arguments, shapes the layer is built for, shapes it is called on next, call style)
# Every second call changes the batch size; most change a sequence length, image size or rank too.
ACCEPTED = [
    ("Dense", dict(units=3), [(2, 4)], [(7, 4)], "one"),
    ("Dense", dict(units=3), [(2, 4)], [(3, 5, 4)], "one"),
    ("Embedding", dict(input_dim=10, output_dim=3), [(2, 5)], [(7, 9)], "int"),
    ("Activation", dict(activation="tanh"), [(2, 4)], [(5, 3, 4)], "one"),
    ("LeakyReLU", dict(), [(2, 4)], [(5, 6)], "one"),
    ("Dropout", dict(rate=0.5), [(2, 4)], [(5, 6)], "one"),
    ("Flatten", dict(), [(2, 3, 4)], [(5, 3, 4)], "one"),
    ("Reshape", dict(target_shape=(-1,)), [(2, 3, 4)], [(5, 3, 4)], "one"),
    ("UpSampling2D", dict(size=2), [(2, 3, 3, 2)], [(5, 4, 6, 2)], "one"),
    ("Conv1D", dict(filters=3, kernel_size=2), [(2, 6, 4)], [(5, 9, 4)], "one"),
    ("Conv2D", dict(filters=3, kernel_size=2), [(2, 5, 5, 3)], [(4, 7, 6, 3)], "one"),
    ("Conv2DTranspose", dict(filters=3, kernel_size=2, strides=2), [(2, 3, 3, 2)], [(4, 5, 2, 2)], "one"),
    ("MaxPooling1D", dict(pool_size=2), [(2, 6, 3)], [(5, 9, 3)], "one"),
    ("MaxPooling2D", dict(pool_size=2), [(2, 4, 4, 3)], [(5, 7, 6, 3)], "one"),
    ("AveragePooling2D", dict(pool_size=2), [(2, 4, 4, 3)], [(5, 7, 6, 3)], "one"),
    ("GlobalAveragePooling2D", dict(), [(2, 4, 4, 3)], [(5, 7, 6, 3)], "one"),
    ("GlobalMaxPooling2D", dict(), [(2, 4, 4, 3)], [(5, 7, 6, 3)], "one"),
    ("BatchNormalization", dict(), [(2, 3, 4)], [(5, 6, 4)], "one"),
    ("LayerNormalization", dict(), [(2, 2, 2)], [(1000, 2, 2, 2)], "one"),     # the case
    ("LayerNormalization", dict(axis=1), [(2, 3, 4)], [(5, 3, 4, 2)], "one"),
    ("LayerNormalization", dict(axis=[1, 2]), [(2, 3, 4)], [(5, 3, 4)], "one"),
    ("LayerNormalization", dict(axis=[-2, -1]), [(2, 3, 4)], [(5, 2, 3, 4)], "one"),
    ("RMSNormalization", dict(), [(2, 2, 2)], [(1000, 2, 2, 2)], "one"),       # another rank, as Keras
    ("RMSNormalization", dict(axis=[-2, -1]), [(2, 3, 4)], [(5, 2, 3, 4)], "one"),
    ("AveragePooling1D", dict(pool_size=2), [(2, 6, 3)], [(5, 9, 3)], "one"),
    ("Masking", dict(), [(2, 3, 4)], [(5, 6, 7, 4)], "one"),
    ("Dot", dict(axes=1), [(2, 3), (2, 3)], [(5, 3), (5, 3)], "list"),
    ("SimpleRNN", dict(units=3), [(2, 5, 4)], [(6, 8, 4)], "one"),
    ("LSTM", dict(units=3, return_sequences=True), [(2, 5, 4)], [(6, 3, 4)], "one"),
    ("GRU", dict(units=3), [(2, 5, 4)], [(6, 8, 4)], "one"),
    ("GRU", dict(units=3, reset_after=False, return_sequences=True), [(2, 5, 4)], [(1, 2, 4)], "one"),
    ("MultiHeadAttention", dict(num_heads=2, key_dim=3), [(2, 5, 4), (2, 6, 4)], [(3, 7, 4), (3, 2, 4)], "one"),
    ("Add", dict(), [(2, 3), (2, 3)], [(5, 3), (5, 3)], "list"),
    ("Subtract", dict(), [(2, 3, 4), (2, 3, 4)], [(5, 6, 4), (5, 6, 4)], "list"),
    ("Multiply", dict(), [(2, 3), (2, 3)], [(5, 3), (5, 3)], "list"),
    ("Average", dict(), [(2, 3), (2, 3), (2, 3)], [(5, 3), (5, 3), (5, 3)], "list"),
    ("Maximum", dict(), [(2, 3), (2, 3)], [(5, 3), (5, 3)], "list"),
    ("Minimum", dict(), [(2, 3, 4), (2, 3, 4)], [(5, 6, 4), (5, 6, 4)], "list"),
    ("Concatenate", dict(), [(2, 3), (2, 4)], [(5, 3), (5, 4)], "list"),
    ("Concatenate", dict(axis=1), [(2, 3, 4), (2, 2, 4)], [(5, 6, 4), (5, 1, 4)], "list"),
]


def _case_id(case):
    name, kwargs, _, after, _ = case
    return f"{name}({','.join(f'{k}={v}' for k, v in kwargs.items())})->{after}"


def _build_pair(name, kwargs, build_shapes, style, rng):
    """The Keras layer and the NumPy layer, both built by a call on ``build_shapes``, same weights."""
    keras_layer = getattr(keras.layers, name)(dtype=_keras_dtype(), **kwargs)
    layer = getattr(nn, name)(**kwargs)
    arrays = _arrays(rng, build_shapes, 10 if style == "int" else None)
    _call(keras_layer, [keras.ops.convert_to_tensor(a) for a in arrays], style)
    _call(layer, arrays, style)
    layer.set_weights([to_numpy(w) for w in keras_layer.weights])
    return keras_layer, layer


def _skip_torch_layer_norm_on_leading_axes(name, kwargs, build_shapes):
    """Keras's torch backend hands LayerNormalization to torch's F.layer_norm whenever its axes are
    consecutive, but F.layer_norm normalizes the *last* axes: with axes that are not the trailing ones,
    Keras raises (LayerNormalization(axis=1) on a (2, 3, 4) batch: "Given normalized_shape=[3], expected
    input with shape [*, 3]") or, where the sizes happen to match, normalizes the wrong axis (axis=1 on
    (2, 3, 3)). Plain Keras 3.15 on torch 2.13; keras-team/keras#23510 moves the choice to the backend."""
    if name != "LayerNormalization" or keras.backend.backend() != "torch":
        return
    ndim = len(build_shapes[0])
    axes = kwargs.get("axis", -1)
    axes = sorted(a % ndim for a in (axes if isinstance(axes, (list, tuple)) else [axes]))
    if axes != list(range(ndim - len(axes), ndim)):
        pytest.skip("Keras's torch backend cannot normalize over leading axes (F.layer_norm normalizes the "
                    f"last ones): LayerNormalization(axis={kwargs.get('axis')}) on {build_shapes[0]}, a Keras/torch "
                    "bug reproduced without course_utils in this test's helper")


@pytest.mark.parametrize("case", ACCEPTED, ids=[_case_id(c) for c in ACCEPTED])
def test_layer_built_for_one_shape_accepts_what_keras_accepts(rng, case):
    name, kwargs, build_shapes, call_shapes, style = case
    _skip_torch_layer_norm_on_leading_axes(name, kwargs, build_shapes)
    keras_layer, layer = _build_pair(name, kwargs, build_shapes, style, rng)
    arrays = _arrays(rng, call_shapes, 10 if style == "int" else None)
    expected = to_numpy(_call(keras_layer, [keras.ops.convert_to_tensor(a) for a in arrays], style))
    mine = _call(layer, arrays, style)
    assert mine.shape == expected.shape, f"{name}: NumPy {mine.shape} vs Keras {expected.shape}"
    # float64 on TensorFlow to 1e-12; elsewhere Keras computes in float32: 1e-5 of the output's scale (the
    # project's rule), since a few normalized values of a (1000, 2, 2, 2) batch lose more digits to rounding
    tol = forward_tol() if keras_is_float64() else dict(rtol=1e-5, atol=1e-5 * float(np.abs(expected).max()))
    np.testing.assert_allclose(mine, expected, **tol, err_msg=f"{name} on {call_shapes}")
    dx = layer.backward(np.ones_like(mine))       # the backward pass runs on the new shape too
    for d, x in zip(dx if isinstance(dx, list) else [dx], arrays):
        assert d is None or d.shape == x.shape


# Calls that Keras refuses after building on the first shapes: the NumPy layer refuses them too.
REFUSED = [
    ("Dense", dict(units=3), [(2, 4)], [(2, 5)], "one"),
    ("Conv1D", dict(filters=3, kernel_size=2), [(2, 6, 4)], [(2, 6, 5)], "one"),
    ("Conv2D", dict(filters=3, kernel_size=2), [(2, 5, 5, 3)], [(2, 5, 5, 2)], "one"),
    ("Conv2D", dict(filters=3, kernel_size=2), [(2, 5, 5, 3)], [(2, 5, 3)], "one"),
    ("BatchNormalization", dict(), [(2, 3, 4)], [(2, 3, 4, 4)], "one"),
    ("RMSNormalization", dict(), [(2, 3, 4)], [(2, 3, 5)], "one"),
    ("BatchNormalization", dict(), [(2, 3, 4)], [(2, 3, 5)], "one"),
    ("LayerNormalization", dict(), [(2, 2, 2)], [(2, 2, 3)], "one"),
    ("LSTM", dict(units=3), [(2, 5, 4)], [(2, 5, 3)], "one"),
    ("MaxPooling2D", dict(pool_size=2), [(2, 4, 4, 3)], [(2, 4, 4)], "one"),
    ("MultiHeadAttention", dict(num_heads=2, key_dim=3), [(2, 5, 4), (2, 6, 4)], [(2, 5, 4), (2, 6, 5)], "one"),
]


@pytest.mark.parametrize("case", REFUSED, ids=[_case_id(c) for c in REFUSED])
def test_layer_refuses_what_keras_refuses(rng, case):
    name, kwargs, build_shapes, call_shapes, style = case
    keras_layer, layer = _build_pair(name, kwargs, build_shapes, style, rng)
    arrays = _arrays(rng, call_shapes)
    with pytest.raises(Exception):
        _call(keras_layer, [keras.ops.convert_to_tensor(a) for a in arrays], style)
    with pytest.raises(ValueError, match=layer.name):
        _call(layer, arrays, style)


# ----------------------------------------------------------------- constructor arguments (issue 20, point 7)
# A value for each required constructor argument of the layers (by Keras's argument name).
_REQUIRED = dict(units=2, filters=2, kernel_size=2, input_dim=3, output_dim=2, num_heads=2, key_dim=3, rate=0.1,
                 activation="relu", target_shape=(2,), pool_size=2, n=2, dims=(1,), axes=1, scale=1.0,
                 shape=(2,), size=2, padding=1, cropping=1, depth_multiplier=1)


def _keras_arguments(keras_cls):
    """The documented constructor arguments of ``keras_cls`` (its signature, and keras.layers.Layer's:
    ``activity_regularizer``, ``autocast``, ...), with their defaults."""
    import inspect
    arguments = {}
    for init in (keras_cls.__init__, keras.layers.Layer.__init__):
        for name, p in inspect.signature(init).parameters.items():
            if name not in ("self", "args", "kwargs") and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                arguments.setdefault(name, p.default)
    return arguments


def _required(name, keras_arguments):
    required = {"shape": (2,)} if name == "InputLayer" else {}
    for arg, default in keras_arguments.items():
        if default is not inspect_empty():
            continue
        if arg == "layer":
            required[arg] = nn.LSTM(2) if name == "Bidirectional" else nn.Dense(2)
        else:
            assert arg in _REQUIRED, f"add a value for {name}'s required argument `{arg}` to _REQUIRED"
            required[arg] = _REQUIRED[arg]
    return required


def inspect_empty():
    import inspect
    return inspect.Parameter.empty


def _twins():
    from course_utils.nn.base import LAYER_REGISTRY
    return sorted((name, cls) for name, cls in LAYER_REGISTRY.items() if hasattr(keras.layers, name))


@pytest.mark.parametrize("name", [name for name, _ in _twins()])
def test_every_keras_argument_is_taken_or_refused_clearly(name):
    """Each argument of the installed Keras's constructor is either an argument of the NumPy layer, or is
    refused at construction with a ValueError naming it and the value supported; Keras's default passes."""
    from course_utils.nn.base import LAYER_REGISTRY, _init_params
    cls = LAYER_REGISTRY[name]
    keras_arguments = _keras_arguments(getattr(keras.layers, name))
    required = _required(name, keras_arguments)
    ours = _init_params(cls)
    for arg, default in keras_arguments.items():
        if arg in ours or arg in required:
            continue
        odd_value = ("not", "a", "default")     # a value no Keras argument defaults to
        with pytest.raises(ValueError, match=rf"`?{arg}`?.*{arg}=\('not'"):
            cls(**required, **{arg: odd_value})
        if default is not inspect_empty():
            cls(**required, **{arg: default})    # Keras's default computes what the NumPy layer computes


@pytest.mark.parametrize("make, match", [
    (lambda: nn.BatchNormalization(renorm=True), r"`renorm`.*renorm=True.*renorm=False only"),
    (lambda: nn.MultiHeadAttention(2, 3, use_gate=True), r"`use_gate`.*use_gate=True.*use_gate=False only"),
    (lambda: nn.MultiHeadAttention(2, 3, sliding_window=4), r"`sliding_window`.*sliding_window=4.*=None only"),
    (lambda: nn.LayerNormalization(rms_scaling=True), r"rms_scaling=True"),
    (lambda: nn.LSTM(3, recurrent_regularizer="l2"), r"`recurrent_regularizer`.*recurrent kernel"),
    (lambda: nn.Dense(3, kernel_constraint="non_neg"), r"`kernel_constraint`"),
    (lambda: nn.Dense(3, no_such_argument=1), r"Unrecognized keyword arguments passed to Dense.*no_such_argument"),
], ids=["renorm", "use_gate", "sliding_window", "rms_scaling", "lstm-regularizer", "constraint", "unknown"])
def test_unsupported_constructor_argument_is_a_clear_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ----------------------------------------------------------------- input specs (issue 18, point 4)
SPEC_LAYERS = ["Dense", "Embedding", "Activation", "LeakyReLU", "Dropout", "Flatten", "Reshape", "UpSampling2D",
               "Conv1D", "Conv2D", "Conv2DTranspose", "MaxPooling1D", "MaxPooling2D", "AveragePooling2D",
               "GlobalAveragePooling2D", "GlobalMaxPooling2D",
               "BatchNormalization", "LayerNormalization", "SimpleRNN", "LSTM", "GRU", "TimeDistributed",
               "MultiHeadAttention", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"]
# The plumbing the base class now does: none of it in a forward (or the helpers it computes with).
PLUMBING = ("_as_input(", "_ensure_built(", "self.build(", "_check_features(", "_check_inputs(", "check_image_input(",
            "_check_input_channels(")


@pytest.mark.parametrize("name", SPEC_LAYERS)
def test_layer_declares_an_input_spec_and_its_forward_is_the_formula(name):
    import inspect
    from course_utils.nn.base import InputSpec
    cls = getattr(nn, name)
    spec = cls.input_spec
    assert isinstance(spec, InputSpec) or (isinstance(spec, dict) and spec and
                                           all(isinstance(s, InputSpec) for s in spec.values())), spec
    assert getattr(cls.forward, "checks_input_spec", False), f"{name}.forward is not checked by the base class"
    # an RNN's _prepare still checks the initial states (not x: no rank check, no build)
    for method, plumbing in (("forward", PLUMBING), ("_forward", PLUMBING), ("_inputs", PLUMBING),
                             ("_prepare", ("_ensure_built(", "self.build(", "ndim=3"))):
        fn = getattr(cls, method, None)
        if fn is None:
            continue
        source = inspect.getsource(inspect.unwrap(fn))
        assert not [p for p in plumbing if p in source], f"{name}.{method} still does input plumbing"


@pytest.mark.parametrize("make, build_shape, bad_shape, match", [
    (lambda: nn.Dense(3), (2, 4), (2, 5), r"expected input with last dimension 4, received shape \(2, 5\)"),
    (lambda: nn.LSTM(3), (2, 5, 4), (2, 5, 6), r"LSTM '.*' expected input with 4 features.*\(2, 5, 6\)"),
    (lambda: nn.GRU(3), (2, 5, 4), (2, 4), r"An RNN reads sequences"),
    (lambda: nn.MultiHeadAttention(2, 3), (2, 5, 4), (2, 5, 6),
     r"expected query with last dimension 4 \(its query kernel has shape \(4, 2, 3\)\)"),
    (lambda: nn.BatchNormalization(), (2, 3, 4), (2, 3, 5),
     r"was built for inputs of rank 3 with 4 channels on axis -1, received shape \(2, 3, 5\)"),
    (lambda: nn.BatchNormalization(), (2, 3, 4), (2, 3, 3, 4),
     r"was built for inputs of rank 3 with 4 channels on axis -1, received shape \(2, 3, 3, 4\)"),
], ids=["Dense", "LSTM", "GRU-rank", "MultiHeadAttention", "BatchNormalization", "BatchNormalization-rank"])
def test_the_base_class_checks_the_sizes_build_fixed(make, build_shape, bad_shape, match):
    """build sets InputSpec(axes={-1: n}) as Keras's layers do; the base class checks it before the forward,
    with the layer's own message; any batch size passes."""
    layer = make()
    args = (np.ones(build_shape),) * (2 if isinstance(layer, nn.MultiHeadAttention) else 1)
    layer(*args)
    spec = layer.input_spec["query"] if isinstance(layer.input_spec, dict) else layer.input_spec
    assert spec.axes == {-1: build_shape[-1]}
    layer(*[np.ones((7,) + build_shape[1:]) for _ in args])        # another batch size
    with pytest.raises(ValueError, match=match):
        layer(*[np.ones(bad_shape) for _ in args])


def test_merge_layers_check_each_input_of_the_list():
    layer = nn.Add()
    with pytest.raises(ValueError, match=r"non-finite input 1"):
        layer([np.ones((2, 3)), np.full((2, 3), np.nan)])
    with pytest.raises(ValueError, match=r"should be called on a list of inputs"):
        layer(np.ones((2, 3)))
    assert layer([np.ones((2, 3)), np.ones((2, 3))]).shape == (2, 3)
    assert layer.input_shape == [(None, 3), (None, 3)]


def test_keras_defaults_of_unsupported_arguments_pass():
    layer = nn.BatchNormalization(renorm=False, renorm_clipping=None, renorm_momentum=0.99, synchronized=False)
    assert layer.get_config()["axis"] == -1
    nn.MultiHeadAttention(2, 3, use_gate=False, sliding_window=None, flash_attention=None)
    nn.Dense(2, activity_regularizer=None, kernel_constraint=None, lora_rank=None)
