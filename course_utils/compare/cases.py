"""One comparison per layer kind of the library, and a few training steps, for
``python -m course_utils.compare`` (and the backend tests).

Each case takes a seeded ``np.random.Generator`` and returns a list of (quantity, NumPy, Keras)
rows - a ComparisonReport's, or for training the weights after a few optimizer steps. The inputs
and weights are drawn at scale ~1 (biases and normalization parameters random, not the zeros of
a fresh layer) so that every gradient is exercised.
"""
from __future__ import annotations

import numpy as np

from ..keras_import import import_keras_quietly
from .harness import compare_with_keras
from .report import Row

RANDOM = "random_normal"


def _report(model, x, **kwargs):
    return compare_with_keras(model, x, **kwargs)


def _keras_mha_model(keras, use_causal_mask):
    inputs = keras.Input(shape=(5, 4))
    mha = keras.layers.MultiHeadAttention(2, 3, bias_initializer=RANDOM)
    h = keras.layers.Add()([inputs, mha(inputs, inputs, use_causal_mask=use_causal_mask)])
    return keras.Model(inputs, keras.layers.LayerNormalization(beta_initializer=RANDOM,
                                                               gamma_initializer=RANDOM)(h))


def _merging_model(nn):
    a, b = nn.Input(shape=(5,)), nn.Input(shape=(5,))
    ha, hb = nn.Dense(4, activation="tanh", bias_initializer=RANDOM)(a), nn.Dense(4, bias_initializer=RANDOM)(b)
    merged = nn.Concatenate()([nn.Add()([ha, hb]), nn.Multiply()([ha, hb]), nn.Subtract()([ha, hb]),
                               nn.Average()([ha, hb]), nn.Maximum()([ha, hb]), nn.Minimum()([ha, hb])])
    return nn.Model([a, b], nn.Dense(3, bias_initializer=RANDOM)(merged))


def _dot_model(nn):
    a, b = nn.Input(shape=(5,)), nn.Input(shape=(5,))
    ha, hb = nn.Dense(4, bias_initializer=RANDOM)(a), nn.Dense(4, bias_initializer=RANDOM)(b)
    return nn.Model([a, b], [nn.Dot(axes=1, normalize=True)([ha, hb]), nn.UnitNormalization()(ha)])


def _img(rng):
    return rng.normal(size=(2, 6, 6, 3))


def _seq(rng):
    return rng.normal(size=(3, 7, 4))


def _dense(units):
    from .. import nn
    return nn.Dense(units, bias_initializer=RANDOM)


def _cases():
    """{name: rng -> ComparisonReport}: every layer kind of course_utils.nn, then a few training steps."""
    return {**_lesson_layer_cases(), **_example_layer_cases(), "training: 5 Adam steps": _adam_steps}


def _lesson_layer_cases():
    """The layers the lessons build."""
    from .. import nn
    keras = import_keras_quietly()
    img, seq, dense = _img, _seq, _dense
    return {
        "Dense (tanh)": lambda rng: _report(nn.Dense(5, activation="tanh", bias_initializer=RANDOM),
                                            rng.normal(size=(8, 6))),
        "Activation softmax, LeakyReLU": lambda rng: _report(
            nn.Sequential([dense(6), nn.LeakyReLU(0.2), dense(4), nn.Activation("softmax")]),
            rng.normal(size=(8, 5))),
        "Dropout (inference)": lambda rng: _report(nn.Sequential([dense(4), nn.Dropout(0.5)]), rng.normal(size=(4, 3))),
        "Conv2D (same, strides 2)": lambda rng: _report(
            nn.Conv2D(4, 3, strides=2, padding="same", activation="relu", bias_initializer=RANDOM), img(rng)),
        "Conv2DTranspose": lambda rng: _report(nn.Conv2DTranspose(3, 3, strides=2, padding="same",
                                                                  bias_initializer=RANDOM), img(rng)),
        "MaxPooling2D, Flatten": lambda rng: _report(nn.Sequential([nn.MaxPooling2D(), nn.Flatten(), dense(3)]),
                                                     img(rng)),
        "AveragePooling2D, UpSampling2D": lambda rng: _report(
            nn.Sequential([nn.AveragePooling2D(2), nn.UpSampling2D(), nn.Reshape((36, 3))]), img(rng)),
        "GlobalAverage/MaxPooling2D": lambda rng: _report(
            nn.Sequential([nn.Conv2D(4, 3, bias_initializer=RANDOM), nn.GlobalMaxPooling2D()]), img(rng)),
        "GlobalAveragePooling2D": lambda rng: _report(nn.GlobalAveragePooling2D(), img(rng)),
        "Conv1D, MaxPooling1D": lambda rng: _report(
            nn.Sequential([nn.Conv1D(5, 3, padding="causal", bias_initializer=RANDOM), nn.MaxPooling1D()]), seq(rng)),
        "SimpleRNN": lambda rng: _report(nn.SimpleRNN(5, return_sequences=True, bias_initializer=RANDOM), seq(rng)),
        "LSTM (initial state)": lambda rng: _report(
            nn.LSTM(5, bias_initializer=RANDOM), seq(rng), initial_state=list(rng.normal(size=(2, 3, 5)))),
        "GRU (reset_after)": lambda rng: _report(nn.GRU(5, return_sequences=True, bias_initializer=RANDOM), seq(rng)),
        "Embedding, TimeDistributed": lambda rng: _report(
            nn.Sequential([nn.Embedding(10, 4), nn.TimeDistributed(dense(3))]), rng.integers(0, 10, size=(3, 6))),
        "BatchNormalization (inference)": lambda rng: _report(
            nn.BatchNormalization(beta_initializer=RANDOM, gamma_initializer=RANDOM,
                                  moving_mean_initializer=RANDOM, moving_variance_initializer="ones"),
            rng.normal(size=(8, 5))),
        "BatchNormalization (training)": lambda rng: _report(
            nn.Sequential([dense(6), nn.BatchNormalization(beta_initializer=RANDOM, gamma_initializer=RANDOM)]),
            rng.normal(size=(16, 5)), training=True),
        "LayerNormalization": lambda rng: _report(
            nn.LayerNormalization(beta_initializer=RANDOM, gamma_initializer=RANDOM), seq(rng)),
        "merging (Add, Multiply, ...)": lambda rng: _report(_merging_model(nn),
                                                             [rng.normal(size=(4, 5)), rng.normal(size=(4, 5))]),
        "MultiHeadAttention (causal)": lambda rng: _report(_keras_mha_model(keras, True), rng.normal(size=(3, 5, 4))),
    }


def _example_layer_cases():
    """The layers the keras-io examples and Keras's own tests use most."""
    from .. import nn
    img, seq, dense = _img, _seq, _dense
    return {
        "ReLU (max_value, slope, threshold), Softmax": lambda rng: _report(
            nn.Sequential([dense(6), nn.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2), dense(4),
                           nn.Softmax()]), rng.normal(size=(8, 5))),
        "Conv2D dilated, Depthwise, Separable": lambda rng: _report(
            nn.Sequential([nn.Conv2D(4, 3, dilation_rate=2, padding="same", bias_initializer=RANDOM),
                           nn.DepthwiseConv2D(3, depth_multiplier=2, padding="same", bias_initializer=RANDOM),
                           nn.SeparableConv2D(3, 3, bias_initializer=RANDOM)]), img(rng)),
        "ZeroPadding2D, Cropping2D": lambda rng: _report(
            nn.Sequential([nn.ZeroPadding2D(((1, 2), (0, 1))), nn.Conv2D(2, 3, bias_initializer=RANDOM),
                           nn.Cropping2D(((1, 0), (0, 1)))]), img(rng)),
        "Conv1D dilated causal, AveragePooling1D, GlobalMaxPooling1D": lambda rng: _report(
            nn.Sequential([nn.Conv1D(4, 2, dilation_rate=2, padding="causal", bias_initializer=RANDOM),
                           nn.AveragePooling1D(2, strides=1), nn.GlobalMaxPooling1D()]), seq(rng)),
        "Conv1DTranspose": lambda rng: _report(nn.Conv1DTranspose(3, 3, strides=2, padding="same",
                                                                  bias_initializer=RANDOM), seq(rng)),
        "Bidirectional (LSTM)": lambda rng: _report(
            nn.Bidirectional(nn.LSTM(4, return_sequences=True, bias_initializer=RANDOM)), seq(rng)),
        "Embedding (mask_zero), GRU, GlobalAveragePooling1D": lambda rng: _report(
            nn.Sequential([nn.Embedding(10, 4, mask_zero=True), nn.GRU(5, return_sequences=True,
                                                                         bias_initializer=RANDOM),
                           nn.GlobalAveragePooling1D()]),
            np.where(np.arange(6) < rng.integers(2, 7, size=(3, 1)), rng.integers(1, 10, size=(3, 6)), 0)),
        "RepeatVector, Permute, Reshape": lambda rng: _report(
            nn.Sequential([dense(4), nn.RepeatVector(3), nn.Permute((2, 1)), nn.Reshape((12,)), dense(2)]),
            rng.normal(size=(5, 6))),
        "Dot (normalize), UnitNormalization": lambda rng: _report(
            _dot_model(nn), [rng.normal(size=(4, 5)), rng.normal(size=(4, 5))]),
        "RMSNormalization, Rescaling, Normalization": lambda rng: _report(
            nn.Sequential([nn.Normalization(mean=rng.normal(size=5), variance=rng.uniform(0.5, 2, size=5)),
                           dense(6), nn.RMSNormalization(), nn.Rescaling(0.5, offset=0.1)]),
            rng.normal(size=(8, 5))),
    }


def _adam_steps(rng, steps=5):
    """The weights of an MLP after ``steps`` Adam steps on the same batches, NumPy vs Keras's train_on_batch."""
    from .. import nn
    from .devices import keras_compute_dtype
    keras = import_keras_quietly()
    dtype = keras_compute_dtype("float64")
    model = nn.Sequential([nn.Dense(8, activation="tanh", bias_initializer=RANDOM), nn.Dense(3, activation="softmax")])
    model.build((None, 4))
    model.set_weights([w.astype(dtype).astype(np.float64) for w in model.get_weights()])
    keras_model = nn.to_keras(model, dtype=dtype)
    model.compile(optimizer=nn.Adam(0.01), loss="categorical_crossentropy")
    keras_model.compile(optimizer=keras.optimizers.Adam(0.01),
                        loss=keras.losses.CategoricalCrossentropy(dtype=dtype), jit_compile=False)
    x = rng.normal(size=(steps, 16, 4)).astype(dtype)
    y = np.eye(3, dtype=dtype)[rng.integers(0, 3, size=(steps, 16))]
    for step in range(steps):
        model.train_on_batch(x[step].astype(np.float64), y[step].astype(np.float64))
        keras_model.train_on_batch(x[step], y[step])
    names = [f"{layer.name}/{n}" for layer in model.layers for n in layer.weight_names]
    return [Row(f"{name} after {steps} steps", mine, np.asarray(theirs))
            for name, mine, theirs in zip(names, model.get_weights(), keras_model.get_weights())]


def run_case(name, seed=0):
    """(rows, dtype of Keras's numbers) for the case ``name``."""
    from .devices import keras_compute_dtype
    import_keras_quietly().utils.set_random_seed(seed)  # the initializers of both libraries: a table repeats
    result = _cases()[name](np.random.default_rng(seed))
    if isinstance(result, list):
        return result, keras_compute_dtype("float64")
    return result.rows, result.dtype


def case_names():
    return list(_cases())
