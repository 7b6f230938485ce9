"""`build_mlp`: the multi-layer perceptrons of the labs, from a handful of options."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scratchlab.errors import ConfigError
from scratchlab.nn.batchnorm import BatchNorm
from scratchlab.nn.init import INITS
from scratchlab.nn.layers import Dropout, Layer, Linear, ReLU
from scratchlab.nn.losses import get_loss
from scratchlab.nn.model import Sequential
from scratchlab.nn.regularisers import L1, L2, Regulariser

ACTIVATIONS = {"relu": ReLU}
DROPOUT_WHERE = ("hidden", "every_dense")


def build_mlp(
    input_dim: int,
    n_classes: int,
    hidden: Sequence[int] = (),
    *,
    activation: str = "relu",
    dropout: float = 0.0,
    dropout_where: str = "hidden",
    batch_norm: bool = False,
    loss: str = "cross_entropy",
    init: str = "normal",
    init_std: float = 0.01,
    l2: float = 0.0,
    l1: float = 0.0,
    rng: np.random.Generator | None = None,
    dtype: np.dtype | type = np.float32,
) -> Sequential:
    """An MLP `input_dim -> hidden... -> n_classes`; `hidden=()` is the linear classifier.

    Per hidden layer: Linear -> [BatchNorm] -> ReLU -> [Dropout(dropout)], then a final
    Linear to the class scores. `dropout_where="every_dense"` instead puts Dropout before
    every Linear, the first included ("dropout 0.1 before every dense layer").
    A Linear followed by BatchNorm has no bias: BN's beta takes its place (a bias there
    would be subtracted out again by the batch mean and always get a zero gradient).
    `l2`/`l1` > 0 add `L2(l2)` / `L1(l1)` on the Linear weights.
    """
    dims = [int(input_dim), *(int(h) for h in hidden), int(n_classes)]
    if any(d < 1 for d in dims):
        raise ConfigError(f"layer sizes must be >= 1, got {dims}")
    if activation not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {activation!r}; choose one of {list(ACTIVATIONS)}")
    if dropout_where not in DROPOUT_WHERE:
        raise ConfigError(f"dropout_where must be one of {DROPOUT_WHERE}, got {dropout_where!r}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
    if init not in INITS:
        raise ConfigError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    get_loss(loss)  # validates the name
    rng = np.random.default_rng(0) if rng is None else rng
    layers: list[Layer] = []
    n_linear = len(dims) - 1
    for k in range(n_linear):
        is_hidden = k < n_linear - 1
        if dropout > 0 and dropout_where == "every_dense":
            layers.append(Dropout(dropout, rng=rng, dtype=dtype))
        bn = batch_norm and is_hidden
        layers.append(
            Linear(dims[k], dims[k + 1], init, init_std, rng=rng, dtype=dtype, bias=not bn)
        )
        if not is_hidden:
            break
        if bn:
            layers.append(BatchNorm(dims[k + 1], dtype=dtype))
        layers.append(ACTIVATIONS[activation](dtype=dtype))
        if dropout > 0 and dropout_where == "hidden":
            layers.append(Dropout(dropout, rng=rng, dtype=dtype))
    regs: list[Regulariser] = []
    if l2 > 0:
        regs.append(L2(l2))
    if l1 > 0:
        regs.append(L1(l1))
    if l2 < 0 or l1 < 0:
        raise ConfigError(f"regularisation strengths must be >= 0, got l2={l2}, l1={l1}")
    return Sequential(layers, get_loss(loss), regs)
