"""The book's two-layer net in numpy only: numerical gradient and backprop.

Reference: Deep Learning from Scratch (Saito), ch. 4 and 5. This package never
imports torch.
"""

from impl_numpy.central_difference import numerical_gradient
from impl_numpy.functions import cross_entropy, cross_entropy_error, relu, sigmoid, softmax
from impl_numpy.layers import Affine, Relu, Sigmoid, SoftmaxWithLoss
from impl_numpy.two_layer_net import TwoLayerNet, init_params
from impl_numpy.validation import (
    ConfigError,
    DtypeError,
    LabelError,
    NetInputError,
    NonFiniteError,
    ShapeError,
)

__all__ = [
    "Affine",
    "ConfigError",
    "DtypeError",
    "LabelError",
    "NetInputError",
    "NonFiniteError",
    "Relu",
    "ShapeError",
    "Sigmoid",
    "SoftmaxWithLoss",
    "TwoLayerNet",
    "cross_entropy",
    "cross_entropy_error",
    "init_params",
    "numerical_gradient",
    "relu",
    "sigmoid",
    "softmax",
]
