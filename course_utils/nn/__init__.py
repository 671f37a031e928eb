"""course_utils.nn: deep learning from scratch in NumPy, mirroring Keras.

Every layer has ``forward(x, training=False)``, ``backward(dout) -> dx`` and, after backward,
``grads`` in the order and shapes of the Keras layer's ``trainable_weights``; ``get_weights`` /
``set_weights`` use Keras's layout, so ``from_keras`` / ``to_keras`` are plain copies.
"""
from . import activations, initializers, losses, optimizers, regularizers
from .base import LAYER_REGISTRY, Layer
from .convert import from_keras, to_keras
from .core import Activation, Dense, Dropout
from .losses import (BinaryCrossentropy, CategoricalCrossentropy, MeanSquaredError,
                     SparseCategoricalCrossentropy)
from .models import EarlyStopping, History, Sequential
from .optimizers import SGD, Adam
from .regularizers import L1, L2, L1L2

# -- layers added by later lessons: one import line each, below this marker --
from .conv import Conv2D
from .pooling import AveragePooling2D, MaxPooling2D
from .reshaping import Flatten
from .embedding import Embedding, TimeDistributed
from .rnn import GRU, LSTM, SimpleRNN
from .optimizers import AdamW, RMSprop
from . import schedules
from .schedules import CosineDecay, ExponentialDecay, PiecewiseConstantDecay
from .conv1d import Conv1D, MaxPooling1D; from .conv_transpose import Conv2DTranspose; from .upsampling import UpSampling2D
from .merging import Add, Average, Concatenate, Multiply, Subtract
from .functional import Input, InputLayer, Model
from .normalization import BatchNormalization, LayerNormalization; from .global_pooling import GlobalAveragePooling2D, GlobalMaxPooling2D; from .reshaping import Reshape; from .advanced_activations import LeakyReLU
from .attention import MultiHeadAttention, positional_encoding
from .losses import Huber, KLDivergence, MeanAbsoluteError
