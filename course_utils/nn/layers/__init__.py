"""The NumPy layers, grouped as Keras groups them (``keras/src/layers/<group>``): one module per
group, each layer's forward and backward formulas side by side in its class."""
from .activations import Activation, LeakyReLU
from .attention import MultiHeadAttention, positional_encoding
from .convolutional import Conv1D, Conv2D, Conv2DTranspose
from .core import Dense, Embedding, Input, InputLayer
from .merging import Add, Average, Concatenate, Multiply, Subtract
from .normalization import BatchNormalization, LayerNormalization
from .pooling import AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D
from .regularization import Dropout
from .reshaping import Flatten, Reshape, UpSampling2D
from .rnn import GRU, LSTM, SimpleRNN, TimeDistributed
