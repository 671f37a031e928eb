"""Functional graphs shaped like the keras.io examples, converted with ``nn.from_keras`` and compared
with Keras through ``compare_with_keras`` (issue 20): a seq2seq encoder-decoder whose decoder LSTM
takes the encoder's states as ``initial_state``, siamese networks (one layer, or one model, called
on two inputs: shared weights), ``keras.ops`` arithmetic between layers, masks from
``Embedding(mask_zero=True)`` and ``Masking``, a dict of inputs, a nested model with several inputs.

Tolerance: ``report.assert_close()`` with no argument, the backend's rule (course_utils.compare.report):
1e-7 relative to each quantity's scale in float64 on TensorFlow, 1e-5 in float32 on JAX and torch.
Every test compares output, dx and every weight gradient with Keras's own numbers.
"""
import numpy as np
import pytest

import course_utils.nn as nn
from course_utils.compare import compare_with_keras

keras = pytest.importorskip("keras")


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(20)


def _compare(model, x, **kwargs):
    report = compare_with_keras(model, x, **kwargs)
    report.assert_close()   # the backend's tolerance: 1e-7 float64 on TensorFlow, 1e-5 float32 elsewhere
    return report


# -------------------------------------------------------------- 1. initial_state tensors
@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN"])
def test_seq2seq_decoder_gets_the_encoder_states_as_initial_state(cell, rng):
    """keras.io's seq2seq: the decoder starts from the encoder's final states. The batch size equals
    the number of tensors of the decoder's call (x and its states), where a single dx split along the
    batch axis used to pass as the list of per-tensor gradients (relative error 1)."""
    n_states = 2 if cell == "LSTM" else 1
    layer = getattr(keras.layers, cell)
    encoder_in, decoder_in = keras.Input((5, 3)), keras.Input((4, 2))
    _, *states = layer(6, return_state=True)(encoder_in)
    decoded = layer(6, return_sequences=True)(decoder_in, initial_state=states)
    model = keras.Model([encoder_in, decoder_in], keras.layers.Dense(2)(decoded))
    batch = 1 + n_states
    report = _compare(model, [rng.normal(size=(batch, 5, 3)), rng.normal(size=(batch, 4, 2))])
    assert {"dx[0]", "dx[1]"} <= {row.quantity for row in report.rows}
    assert np.abs(report["dx[0]"].numpy).max() > 0   # the encoder's input gets its gradient through the states


# -------------------------------------------------------------- 2. keras.ops arithmetic
OPS_GRAPHS = {
    "residual x + f(x), x * c, relu": lambda x, h: keras.ops.relu(h + x) * 2.0 - x / 3.0,
    "sigmoid, tanh, exp, negative": lambda x, h: keras.ops.sigmoid(h) * keras.ops.tanh(x) + keras.ops.exp(-h),
    "gelu, square, sqrt, divide by a tensor": lambda x, h: keras.ops.gelu(h) + keras.ops.sqrt(
        keras.ops.square(x) + 1.0) / (keras.ops.square(h) + 2.0),
    "softmax over an axis, matmul, transpose": lambda x, h: keras.ops.matmul(
        keras.ops.softmax(keras.ops.reshape(h, (-1, 2, 2)), axis=1),
        keras.ops.transpose(keras.ops.reshape(x, (-1, 2, 2)), (0, 2, 1))),
    "broadcast bias, expand_dims, squeeze, mean": lambda x, h: keras.ops.mean(
        keras.ops.squeeze(keras.ops.expand_dims(h * x + keras.ops.ones((4,)), 1), 1), axis=-1, keepdims=True),
    "concatenate of a list, ones_like, zeros_like": lambda x, h: keras.ops.concatenate(
        [keras.ops.tanh(h), x * 2.0, h], axis=-1) * (keras.ops.ones_like(keras.ops.concatenate([x, h, x], 1)) + 1.0)
        + keras.ops.zeros_like(keras.ops.concatenate([h, h, x], axis=1)),
}


@pytest.mark.parametrize("name", list(OPS_GRAPHS))
def test_keras_ops_arithmetic_between_layers(name, rng):
    x = keras.Input((4,))
    h = keras.layers.Dense(4, bias_initializer="random_normal")(x)
    model = keras.Model(x, OPS_GRAPHS[name](x, h))
    twin = nn.from_keras(model)
    assert any(type(layer).__name__ == "OpNode" for layer in twin.layers)
    report = _compare(model, rng.normal(size=(3, 4)))
    if report.dtype == "float64":   # rounding only (a float32 constant once rounded the sum: 4e-8);
        # nn.activations.gelu differs from TensorFlow's by ~1e-9 (its own constants)
        assert report.max_rel_err <= (1e-8 if "gelu" in name else 1e-13), report


def test_an_operation_without_a_twin_is_refused_by_name():
    x = keras.Input((4,))
    model = keras.Model(x, keras.ops.sin(keras.layers.Dense(4)(x)))
    with pytest.raises(ValueError, match=r"operation keras\.src\.ops\.numpy\.Sin .*keras\.ops\.sin.*"
                                         r"Write it with a Keras layer instead: keras\.layers\.Activation"):
        nn.from_keras(model)


# -------------------------------------------------------------- 3. masks
TOKENS = np.array([[3, 1, 4, 0, 0], [0, 2, 7, 1, 8], [5, 0, 0, 0, 0]])   # padding at the end, start, middle


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_embedding_mask_zero_reaches_the_recurrent_layer(cell, return_sequences, go_backwards):
    tokens = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    out = getattr(keras.layers, cell)(3, return_sequences=return_sequences, go_backwards=go_backwards)(embedded)
    model = keras.Model(tokens, out)
    _compare(model, TOKENS)
    unmasked = keras.Model(tokens, getattr(keras.layers, cell).from_config(
        model.layers[-1].get_config())(keras.layers.Embedding(10, 4)(tokens)))
    unmasked.set_weights(model.get_weights())
    # the mask matters: without it Keras computes something else on these tokens
    assert not np.allclose(keras.ops.convert_to_numpy(model(TOKENS)), keras.ops.convert_to_numpy(unmasked(TOKENS)))


def test_masking_layer_before_an_lstm_and_a_dense(rng):
    x = rng.normal(size=(3, 5, 2))
    x[0, 3:], x[1, :2], x[2, 2] = 0.0, 0.0, 0.0
    inputs = keras.Input((5, 2))
    hidden = keras.layers.LSTM(3, return_sequences=True)(keras.layers.Masking()(inputs))
    _compare(keras.Model(inputs, keras.layers.Dense(2)(hidden)), x)


def test_nn_masking_is_exported_and_masks_a_sequential_as_keras_does(rng):
    """``nn.Masking`` (built here, not converted) in a Sequential before an LSTM: the same numbers as
    keras.layers.Masking, forward and backward (the backend's tolerance)."""
    x = rng.normal(size=(3, 5, 2))
    x[0, 3:], x[1, :2], x[2, 2] = 0.0, 0.0, 0.0
    twin = nn.Sequential([nn.Masking(), nn.LSTM(3, return_sequences=True), nn.Dense(2)])
    assert nn.layers.Masking is nn.Masking
    twin.forward(x)
    model = nn.to_keras(twin)
    assert isinstance(model.layers[0], keras.layers.Masking)
    _compare(model, x)
    np.testing.assert_allclose(twin.forward(x), keras.ops.convert_to_numpy(model(x)), rtol=1e-5, atol=1e-6)


def test_a_mask_given_to_a_layer_that_takes_none_names_the_layers_that_do():
    """base.refuse_mask's message lists exactly the NumPy layers whose forward takes a mask."""
    from course_utils.nn.base import layers_that_take_masks
    taking = layers_that_take_masks()
    assert {"SimpleRNN", "LSTM", "GRU", "GlobalAveragePooling1D", "BatchNormalization",
            "MultiHeadAttention"} <= set(taking)
    with pytest.raises(ValueError, match=r"Layer 'flat' \(Flatten\) received a mask, .*The NumPy layers that take "
                                         r"a mask: " + ", ".join(taking) + r" \(MultiHeadAttention as query_mask"):
        nn.Flatten(name="flat")(np.ones((2, 3, 4)), mask=np.ones((2, 3), bool))


def test_masked_embedding_into_multi_head_attention():
    """Keras takes query_mask/value_mask from its inputs at run time (they are not in the graph)."""
    if keras.backend.backend() == "torch":
        import torch
        if not torch.cuda.is_available():
            pytest.skip(
                "torch's CPU flash-attention kernel (the one torch.nn.functional.scaled_dot_product_attention "
                "picks on the CPU) returns wrong gradients for rows of the attention mask that are masked "
                "everywhere - here the padded query positions - while its forward is right (torch 2.13; "
                "pytorch/pytorch#133671 is a related report). Plain torch: q, k, v of shape (2, 2, 5, 3), "
                "an additive mask that is -1e9 on a whole query row: the gradients under "
                "sdpa_kernel([SDPBackend.FLASH_ATTENTION]) differ from SDPBackend.MATH by up to 3.6; finite "
                "differences through the Keras model agree with the MATH kernel and with the NumPy twin.")
    tokens = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    query = keras.layers.Dense(4)(embedded)
    out = keras.layers.MultiHeadAttention(2, 3)(query, embedded)
    _compare(keras.Model(tokens, out), TOKENS[:2])


TOKENS_B = np.array([[0, 0, 2, 5, 1], [4, 0, 3, 0, 6], [1, 2, 0, 0, 9]])   # padding elsewhere than TOKENS'


@pytest.mark.parametrize("merge", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Dot"])
@pytest.mark.parametrize("masked", ["both", "first", "second"])
def test_masks_into_the_merge_layers(merge, masked):
    """Two token inputs with their padding at different steps, embedded (mask_zero where ``masked``
    says), merged, then a Dense on every step (the merged values at masked steps are compared too) and
    an LSTM (it reads the merged mask). Keras's Multiply counts a masked step of an input as 1 (and
    zeroes the steps no input keeps when all have masks): the NumPy Multiply once multiplied the raw
    values (relative error 0.6). Maximum and Minimum: a masked step does not compete (it takes the value
    of the other inputs). Dot's output has no mask, as Keras's compute_mask says."""
    a, b = keras.Input((5,), dtype="int32"), keras.Input((5,), dtype="int32")
    ea = keras.layers.Embedding(10, 4, mask_zero=masked in ("both", "first"))(a)
    eb = keras.layers.Embedding(10, 4, mask_zero=masked in ("both", "second"))(b)
    if merge == "Dot":
        merged = keras.layers.Dot(axes=(2, 2))([ea, eb])   # (N, 5, 5)
    else:
        merged = getattr(keras.layers, merge)()([ea, keras.layers.Dense(4)(eb)])
    outputs = [keras.layers.Dense(2)(merged), keras.layers.LSTM(3)(merged)]
    _compare(keras.Model([a, b], outputs), [TOKENS, TOKENS_B])


def test_masks_into_multiply_in_a_graph_built_from_nn_input():
    """The same rules in a NumPy graph (nn.masks.propagate_masks), compared with Keras after to_keras."""
    a, b = nn.Input((5,), dtype="int32"), nn.Input((5,), dtype="int32")
    ea, eb = nn.Embedding(10, 4, mask_zero=True)(a), nn.Embedding(10, 4)(b)
    merged = nn.Multiply()([nn.Dense(4)(eb), ea])
    twin = nn.Model([a, b], [nn.Dense(2)(merged), nn.GRU(3)(merged)])
    _compare(twin, [TOKENS, TOKENS_B])


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_masks_into_bidirectional(merge_mode, return_sequences, cell):
    """Keras hands the mask to both directions, zeroes the masked steps of the sequences it returns
    (zero_output_for_mask = return_sequences) and passes the mask on when it returns sequences (twice
    with merge_mode=None): a Dense on every step and an LSTM after it see both."""
    tokens = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    out = keras.layers.Bidirectional(getattr(keras.layers, cell)(3, return_sequences=return_sequences),
                                     merge_mode=merge_mode)(embedded)
    outs = out if merge_mode is None else [out]
    if return_sequences:
        outs = [keras.layers.Dense(2)(o) for o in outs] + [keras.layers.LSTM(2)(o) for o in outs]
    _compare(keras.Model(tokens, outs), TOKENS)


def test_masks_into_bidirectional_with_return_state_and_in_a_sequential():
    tokens = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    out, *states = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True, return_state=True))(embedded)
    _compare(keras.Model(tokens, [keras.layers.SimpleRNN(2)(out)] + states), TOKENS)
    twin = nn.Sequential([nn.Embedding(10, 4, mask_zero=True), nn.Bidirectional(nn.GRU(3, return_sequences=True)),
                          nn.Bidirectional(nn.SimpleRNN(2), merge_mode="sum")])
    twin.build((None, 5))
    _compare(twin, TOKENS)


def test_masks_through_time_distributed():
    """TimeDistributed(Dense) keeps the mask (the Dense takes none), so the LSTM after it skips the steps."""
    tokens = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    hidden = keras.layers.TimeDistributed(keras.layers.Dense(3, activation="tanh"))(embedded)
    _compare(keras.Model(tokens, [keras.layers.GRU(2)(hidden), keras.layers.Dense(2)(hidden)]), TOKENS)
    a = nn.Input((5,), dtype="int32")
    hidden = nn.TimeDistributed(nn.Dense(3))(nn.Embedding(10, 4, mask_zero=True)(a))
    _compare(nn.Model(a, nn.LSTM(2)(hidden)), TOKENS)


def test_a_mask_into_time_distributed_of_a_layer_that_takes_one_is_refused():
    layer = nn.TimeDistributed(nn.BatchNormalization(), name="td")
    with pytest.raises(ValueError, match=r"TimeDistributed 'td' receives a mask.*BatchNormalization.*Drop the mask"):
        layer(np.ones((2, 5, 3, 4)), mask=np.ones((2, 5), bool))


def _gradient_errors(model, xs, float_inputs=()):
    """The NumPy backward against centred differences, max |analytic - numeric| relative to the gradient's
    scale (max |numeric|; an element-wise rel_error is ~1e-11 noise over gradients of ~1e-6 in the
    recurrent weights): every trainable weight and the float inputs ``float_inputs`` (indices into
    ``xs``); the masks come from the integer inputs."""
    from course_utils.gradcheck import numerical_gradient

    def rel_error(analytic, numeric):
        return float(np.abs(analytic - numeric).max() / max(np.abs(numeric).max(), 1e-12))
    outs = model.forward(xs)
    outs = outs if isinstance(outs, list) else [outs]
    douts = [np.random.default_rng(1).normal(size=o.shape) for o in outs]

    def loss():
        ys = model.forward(xs)
        return sum(float(np.sum(y * d)) for y, d in zip(ys if isinstance(ys, list) else [ys], douts))
    dxs = model.backward(douts if len(douts) > 1 else douts[0])
    errors = {f"dx[{i}]": rel_error(dxs[i], numerical_gradient(loss, xs[i])) for i in float_inputs}
    errors.update({f"weight {k}": rel_error(g, numerical_gradient(loss, w))
                   for k, (w, g) in enumerate(zip(model.trainable_weights, model.grads))})
    return errors


MASK_PATTERNS = [(True, True, True), (False, True, True), (True, False, True), (True, True, False),
                 (False, False, True), (False, False, False)]


@pytest.mark.parametrize("merge", ["Maximum", "Minimum"])
@pytest.mark.parametrize("masked", MASK_PATTERNS, ids=lambda p: "".join("m" if m else "-" for m in p))
def test_maximum_and_minimum_of_three_inputs_with_masks(merge, masked, rng):
    """Keras's Maximum/Minimum fold the inputs in order (``_apply_merge_op_and_or_mask``): a masked step of
    an input takes the value so far, a step masked so far takes the input's; once an input has no mask
    the fold has none. Three token inputs with padding at different steps, masks on all, some or none;
    a Dense on every step and an LSTM (the OR of the masks when every input has one) after it. Keras
    through from_keras, then the NumPy backward against centred differences on a NumPy graph (float
    inputs beside the masked embeddings: the gradient reaches each input only where it wins)."""
    tokens = [TOKENS, TOKENS_B, np.array([[2, 0, 5, 0, 1], [0, 0, 0, 3, 3], [4, 6, 1, 0, 0]])]
    inputs = [keras.Input((5,), dtype="int32") for _ in range(3)]
    embedded = [keras.layers.Dense(4)(keras.layers.Embedding(10, 4, mask_zero=m)(t)) for t, m in zip(inputs, masked)]
    merged = getattr(keras.layers, merge)()(embedded)
    _compare(keras.Model(inputs, [keras.layers.Dense(2)(merged), keras.layers.LSTM(3)(merged)]), tokens)

    token_inputs = [nn.Input((5,), dtype="int32") for _ in range(3)]
    embedded = [nn.Dense(4)(nn.Embedding(10, 4, mask_zero=m)(t)) for t, m in zip(token_inputs, masked)]
    merged = getattr(nn, merge)()(embedded)
    errors = _gradient_errors(nn.Model(token_inputs, [nn.Dense(2)(merged), nn.GRU(2)(merged)]), tokens)
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("merge", ["Maximum", "Minimum"])
def test_maximum_and_minimum_with_an_unmasked_float_input_between_masked_ones(merge, rng):
    """The gradient reaches each input only where it wins the fold (centred differences, dx included)."""
    a, b, values = nn.Input((5,), dtype="int32"), nn.Input((5,), dtype="int32"), nn.Input((5, 4))
    ea, eb = nn.Embedding(10, 4, mask_zero=True)(a), nn.Embedding(10, 4, mask_zero=True)(b)
    merged = getattr(nn, merge)()([ea, values, eb])
    twin = nn.Model([a, b, values], nn.LSTM(3, return_sequences=True)(nn.Dense(4)(merged)))
    xs = [TOKENS, TOKENS_B, rng.normal(size=(3, 5, 4))]
    _compare(twin, xs)
    errors = _gradient_errors(twin, xs, float_inputs=[2])
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("masked", ["both", "first", "second"])
def test_masks_through_concatenate(axis, masked):
    """Keras's Concatenate.compute_mask: the mask of an unmasked input is ones_like the input, a masked
    input's mask is repeated along the last axis (logical_or with zeros_like), they are concatenated along
    the axis, then ``any`` over the last axis. Along the features an unmasked input leaves every step
    kept; along the time axis the masks follow each other. from_keras converts the recorded mask
    operations (OnesLike, ZerosLike, ExpandDims, LogicalOr, the Concatenate of a list, Any); an LSTM
    and a GlobalAveragePooling1D read the mask (once refused: the NumPy Concatenate had no mask)."""
    a, b = keras.Input((5,), dtype="int32"), keras.Input((5,), dtype="int32")
    ea = keras.layers.Embedding(10, 4, mask_zero=masked in ("both", "first"))(a)
    eb = keras.layers.Embedding(10, 4, mask_zero=masked in ("both", "second"))(b)
    merged = keras.layers.Concatenate(axis=axis)([ea, keras.layers.Dense(4)(eb)])
    model = keras.Model([a, b], [keras.layers.LSTM(3)(merged), keras.layers.GlobalAveragePooling1D()(merged)])
    twin = nn.from_keras(model)
    assert {"ZerosLike", "Concatenate", "Any"} <= {getattr(layer, "operation", None) for layer in twin.layers}
    _compare(model, [TOKENS, TOKENS_B])


@pytest.mark.parametrize("axis", [-1, 1])
def test_masks_through_concatenate_in_a_graph_built_from_nn_input(axis, rng):
    """nn.masks.propagate_masks gives the NumPy graph the same mask operations as Keras's compute_mask
    (compared with Keras after to_keras: a mask operation named like the Concatenate layer gets a free
    name), the mask equals Keras's Concatenate.compute_mask, and the backward matches centred differences."""
    a, b, values = nn.Input((5,), dtype="int32"), nn.Input((5,), dtype="int32"), nn.Input((5, 4))
    ea, eb = nn.Embedding(10, 4, mask_zero=True)(a), nn.Embedding(10, 4, mask_zero=True)(b)
    merged = nn.Concatenate(axis=axis)([nn.Dense(4)(ea), values, eb])
    twin = nn.Model([a, b, values], [nn.GlobalAveragePooling1D()(merged), nn.LSTM(3)(merged)])
    xs = [TOKENS, TOKENS_B, rng.normal(size=(3, 5, 4))]
    _compare(twin, xs)
    errors = _gradient_errors(twin, xs, float_inputs=[2])
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("axis", [-1, 1, 2])
@pytest.mark.parametrize("masked", [(True, True), (True, False), (False, True)])
def test_the_concatenated_mask_is_keras_compute_mask(axis, masked, rng):
    """nn.masks.output_mask of Concatenate (NumPy arrays) equals Keras's Concatenate.compute_mask, for
    masks of one axis less than the inputs, of the inputs' rank, and None (no mask at all: none)."""
    from course_utils.nn.masks import output_mask
    xs = [rng.normal(size=(3, 5, 4)), rng.normal(size=(3, 5, 4))]
    assert output_mask(nn.Concatenate(axis=axis), xs, [None, None]) is None
    for full in (False, True):
        shape = (3, 5, 4) if full else (3, 5)
        masks = [rng.random(shape) > 0.4 if m else None for m in masked]
        expected = keras.layers.Concatenate(axis=axis).compute_mask(
            [keras.ops.convert_to_tensor(x) for x in xs],
            [None if m is None else keras.ops.convert_to_tensor(m) for m in masks])
        mine = output_mask(nn.Concatenate(axis=axis), xs, masks)
        np.testing.assert_array_equal(mine, keras.ops.convert_to_numpy(expected))


# -------------------------------------------------------------- 4-6. inputs
def test_nested_model_with_three_inputs(rng):
    """Keras records mask=[None, None, None] for the nested call; the twin takes no such keyword."""
    a, b, c = (keras.Input((3,)) for _ in range(3))
    inner = keras.Model([a, b, c], keras.layers.Dense(2)(keras.layers.Add()([a, b, c])))
    a2, b2, c2 = (keras.Input((3,)) for _ in range(3))
    outer = keras.Model([a2, b2, c2], keras.layers.Dense(1)(inner([a2, b2, c2])))
    _compare(outer, [rng.normal(size=(2, 3)) for _ in range(3)])


def test_dict_of_inputs(rng):
    inputs = {"title": keras.Input((3,), name="title"), "body": keras.Input((2,), name="body")}
    merged = keras.layers.Concatenate()([inputs["title"], inputs["body"]])
    model = keras.Model(inputs, keras.layers.Dense(2)(merged))
    x = {"title": rng.normal(size=(2, 3)), "body": rng.normal(size=(2, 2))}
    _compare(model, x)
    twin = nn.from_keras(model)
    np.testing.assert_allclose(twin.forward(x), keras.ops.convert_to_numpy(model(x)), rtol=1e-5, atol=1e-6)


def test_model_built_on_another_models_input_list(rng):
    """keras.Model(model.inputs, ...) has a one-element input list; x may be one array."""
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model = keras.Model(base.inputs, keras.layers.Dense(2)(base.outputs[0]))
    report = _compare(model, rng.normal(size=(2, 4)))
    assert report["dx"].numpy.shape == (2, 4)


# -------------------------------------------------------------- 10. shared layers, refusals
def test_siamese_shared_dense(rng):
    left, right = keras.Input((4,)), keras.Input((4,))
    shared = keras.layers.Dense(3, activation="tanh", bias_initializer="random_normal")
    model = keras.Model([left, right], keras.layers.Subtract()([shared(left), shared(right)]))
    twin = nn.from_keras(model)
    assert sum(isinstance(layer, nn.Dense) for layer in twin.layers) == 1   # one layer, two calls
    _compare(model, [rng.normal(size=(2, 4)), rng.normal(size=(2, 4))])


def test_siamese_shared_conv_and_shared_model(rng):
    """keras.io's siamese network: one embedding model (Conv2D, pooling, Dense) applied to both
    images; the distance with keras.ops. Its weight gradients are the sums over the two calls."""
    image = keras.Input((6, 6, 1))
    features = keras.layers.Conv2D(2, 3, activation="relu")(image)
    features = keras.layers.Dense(3)(keras.layers.Flatten()(keras.layers.MaxPooling2D()(features)))
    embedding = keras.Model(image, features)
    left, right = keras.Input((6, 6, 1)), keras.Input((6, 6, 1))
    distance = keras.ops.sqrt(keras.ops.sum(keras.ops.square(embedding(left) - embedding(right)),
                                            axis=1, keepdims=True) + 1.0)
    _compare(keras.Model([left, right], distance), [rng.normal(size=(2, 6, 6, 1)) for _ in range(2)])


def test_shared_layer_in_a_numpy_graph_sums_its_gradients(rng):
    x = nn.Input(shape=(3,))
    shared = nn.Dense(3, activation="tanh")
    model = nn.Model(x, shared(shared(x)))     # the same layer twice in a row
    _compare(model, rng.normal(size=(4, 3)))


class Scale(keras.layers.Layer):
    def call(self, x):
        return 2.0 * x


def test_user_layer_and_lambda_are_refused_by_their_real_names():
    inputs = keras.Input((3,))
    with pytest.raises(ValueError, match=r"user-defined class test_keras_io_graphs\.Scale: .*Write it as "
                                         r"standard Keras layers"):
        nn.from_keras(keras.Model(inputs, Scale()(inputs)))
    with pytest.raises(ValueError, match=r"keras\.layers\.Lambda: its Python function cannot be converted"):
        nn.from_keras(keras.Model(inputs, keras.layers.Lambda(lambda t: 2.0 * t)(inputs)))


@pytest.mark.parametrize("training", [False, True])
def test_masks_through_attention_add_batchnorm_and_average_pooling(training):
    """keras.io's text classification with a transformer block: Keras passes the padding mask into
    MultiHeadAttention, on through Add (OR of the masks) and LayerNormalization, into
    BatchNormalization's moments (training) and the masked mean of GlobalAveragePooling1D."""
    tokens = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    attended = keras.layers.MultiHeadAttention(2, 3)(embedded, embedded)
    hidden = keras.layers.LayerNormalization()(keras.layers.Add()([attended, embedded]))
    hidden = keras.layers.BatchNormalization(beta_initializer="random_normal", gamma_initializer="random_normal")(hidden)
    model = keras.Model(tokens, keras.layers.GlobalAveragePooling1D()(hidden))
    _compare(model, TOKENS, training=training)


def test_sequential_passes_the_mask_on():
    model = keras.Sequential([keras.Input((5,), dtype="int32"), keras.layers.Embedding(10, 4, mask_zero=True),
                              keras.layers.Dense(4), keras.layers.GRU(3, return_sequences=True),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2)])
    _compare(model, TOKENS)


def test_a_numpy_graph_passes_masks_as_keras_does():
    """nn.Model built from nn.Input: the mask of Embedding(mask_zero=True) reaches the layers after it
    without being named, as in Keras (the graph gets the mask operations as nodes)."""
    tokens = nn.Input(shape=(5,))
    embedded = nn.Embedding(10, 4, mask_zero=True)(tokens)
    hidden = nn.Add()([nn.MultiHeadAttention(2, 3)(embedded, embedded), embedded])
    hidden = nn.BatchNormalization()(nn.LSTM(3, return_sequences=True)(hidden))
    model = nn.Model(tokens, nn.GlobalAveragePooling1D()(hidden))
    assert sum(type(layer).__name__ == "OpNode" for layer in model.layers) == 2   # not_equal, logical_or
    _compare(model, TOKENS, training=True)


def test_a_mask_reaching_concatenate_in_a_numpy_graph_passes_on():
    """Concatenate of masked inputs was refused; its mask now goes on as Keras's compute_mask makes it."""
    tokens = nn.Input(shape=(5,))
    embedded = nn.Embedding(10, 4, mask_zero=True)(tokens)
    model = nn.Model(tokens, nn.GlobalAveragePooling1D()(nn.Concatenate(axis=1)([embedded, embedded])))
    _compare(model, TOKENS)


# -------------------------------------------------------------- 9. optimizers and repeated embedding rows
EMBEDDING_OPTIMIZERS = {
    "adam": lambda lib: lib.Adam(0.05),
    "adamw_amsgrad": lambda lib: lib.AdamW(0.05, weight_decay=0.1, amsgrad=True),
    "rmsprop_centered_momentum": lambda lib: lib.RMSprop(0.01, momentum=0.5, centered=True),
    "adam_clipnorm": lambda lib: lib.Adam(0.05, clipnorm=0.05),
    "sgd_global_clipnorm": lambda lib: lib.SGD(0.5, global_clipnorm=0.1),
    "adam_clipvalue": lambda lib: lib.Adam(0.05, clipvalue=0.01),
}


@pytest.mark.parametrize("optimizer", list(EMBEDDING_OPTIMIZERS))
def test_optimizers_follow_keras_when_embedding_rows_repeat(optimizer, rng, floatx_float64):
    """Tokens repeat within a batch. On TensorFlow, Keras's optimizer gets the Embedding's gradient
    as IndexedSlices and squares/clips each looked-up row on its own (Adam's v of a row seen twice
    gets g1^2 + g2^2); on JAX and torch it is dense. Both libraries train 5 steps from the same
    weights: float64 to 1e-7 relative on TensorFlow, float32 to 1e-4 elsewhere (5 steps of float32
    rounding); the dense rule (squaring the summed rows) is 1e-2 off on TensorFlow."""
    model = nn.Sequential([nn.Embedding(6, 3), nn.Flatten(), nn.Dense(2)])
    model.build((None, 4))
    keras_model = nn.to_keras(model, dtype="float64")
    model.compile(optimizer=EMBEDDING_OPTIMIZERS[optimizer](nn), loss="mse")
    keras_model.compile(optimizer=EMBEDDING_OPTIMIZERS[optimizer](keras.optimizers), loss="mse", jit_compile=False)
    tokens = rng.integers(0, 3, size=(5, 8, 4))          # 3 of 6 tokens used: every row repeats
    targets = rng.normal(size=(5, 8, 2))
    for step in range(5):
        model.train_on_batch(tokens[step], targets[step])
        keras_model.train_on_batch(tokens[step], targets[step])
    float64 = keras.backend.backend() == "tensorflow"
    for mine, theirs in zip(model.get_weights(), keras_model.get_weights()):
        scale = max(np.abs(theirs).max(), 1.0)
        assert np.abs(mine - theirs).max() / scale <= (1e-7 if float64 else 1e-4), (mine, theirs)


def test_indexed_rows_square_each_row_on_tensorflow_only(monkeypatch):
    from course_utils.nn.optimizers import IndexedRows, squared
    rows = np.array([[1.0, 2.0], [3.0, -1.0]])
    gradient = IndexedRows(np.array([[4.0, 1.0], [0.0, 0.0]]), np.array([0, 0]), rows)
    sparse, dense = squared(gradient), np.array([[16.0, 1.0], [0.0, 0.0]])
    expected = np.array([[10.0, 5.0], [0.0, 0.0]]) if keras.backend.backend() == "tensorflow" else dense
    np.testing.assert_array_equal(sparse, expected)
    assert type(gradient + np.zeros((2, 2))) is IndexedRows          # adding no penalty keeps the rows
    assert (gradient * 2.0).rows is None                               # arithmetic: a plain dense gradient
