"""Neural-network core: layers, losses, regularisers, `Sequential` and `build_mlp`."""

from __future__ import annotations

from scratchlab.nn.batchnorm import BatchNorm
from scratchlab.nn.build import build_mlp
from scratchlab.nn.init import INITS, init_std, init_weight
from scratchlab.nn.layers import Dropout, Layer, Linear, ReLU
from scratchlab.nn.losses import (
    LOSSES,
    Loss,
    MulticlassHinge,
    SoftmaxCrossEntropy,
    get_loss,
    softmax,
)
from scratchlab.nn.model import Sequential
from scratchlab.nn.regularisers import L1, L2, REGULARISERS, Regulariser, get_regulariser

__all__ = [
    "INITS",
    "LOSSES",
    "REGULARISERS",
    "BatchNorm",
    "Dropout",
    "L1",
    "L2",
    "Layer",
    "Linear",
    "Loss",
    "MulticlassHinge",
    "ReLU",
    "Regulariser",
    "Sequential",
    "SoftmaxCrossEntropy",
    "build_mlp",
    "get_loss",
    "get_regulariser",
    "init_std",
    "init_weight",
    "softmax",
]
