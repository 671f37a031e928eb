"""The NumPy layers, grouped as Keras groups them (``keras/src/layers/<group>``): one module per
group, each layer's forward and backward formulas side by side in its class."""
from .activations import Activation, LeakyReLU, ReLU, Softmax
from .attention import MultiHeadAttention, positional_encoding
from .convolutional import (Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, DepthwiseConv2D,
                            SeparableConv2D)
from .core import Dense, Embedding, Input, InputLayer, Masking
from .merging import Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract
from .normalization import BatchNormalization, LayerNormalization, RMSNormalization, UnitNormalization
from .pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                      GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)
from .preprocessing import Normalization, Rescaling
from .regularization import Dropout
from .reshaping import Cropping2D, Flatten, Permute, RepeatVector, Reshape, UpSampling2D, ZeroPadding2D
from .rnn import GRU, LSTM, Bidirectional, SimpleRNN, TimeDistributed
