"""course_utils.nn: deep learning from scratch in NumPy, mirroring Keras.

Every layer has ``forward(x, training=False)``, ``backward(dout) -> dx`` and, after backward,
``grads`` in the order and shapes of the Keras layer's ``trainable_weights``; ``get_weights`` /
``set_weights`` use Keras's layout, so ``from_keras`` / ``to_keras`` are plain copies.

The house (see the README's maintainer section): the maths (activations, losses, optimizers,
schedules, initializers, regularizers), the framework (base: Layer; symbolic: the graph of layer
calls; models: BaseModel, Sequential, Model; trainer, callbacks, metrics, progbar; convert) and the
layers, grouped as Keras groups them (layers/core.py, convolutional.py, pooling.py, ...).
"""
from . import activations, initializers, losses, optimizers, regularizers, schedules
from .base import LAYER_REGISTRY, Layer
from .callbacks import EarlyStopping, History
from .convert import from_keras, to_keras
from .layers import (GRU, LSTM, Activation, Add, Average, AveragePooling2D, BatchNormalization, Concatenate,
                     Conv1D, Conv2D, Conv2DTranspose, Dense, Dropout, Embedding, Flatten, GlobalAveragePooling2D,
                     GlobalMaxPooling2D, Input, InputLayer, LayerNormalization, LeakyReLU, MaxPooling1D,
                     MaxPooling2D, MultiHeadAttention, Multiply, Reshape, RMSNormalization, SimpleRNN, Subtract,
                     TimeDistributed, UpSampling2D, positional_encoding)
from .layers import (AveragePooling1D, Cropping2D, Dot, GlobalAveragePooling1D, GlobalMaxPooling1D, Normalization,
                     Permute, ReLU, RepeatVector, Rescaling, Softmax, UnitNormalization, ZeroPadding2D)
from .layers import Bidirectional, Conv1DTranspose, DepthwiseConv2D, Masking, Maximum, Minimum, SeparableConv2D
from .losses import (BinaryCrossentropy, CategoricalCrossentropy, Huber, KLDivergence, MeanAbsoluteError,
                     MeanSquaredError, SparseCategoricalCrossentropy)
from .models import Model, Sequential
from .optimizers import SGD, Adam, AdamW, RMSprop
from .regularizers import L1, L2, L1L2
from .schedules import CosineDecay, ExponentialDecay, PiecewiseConstantDecay
