"""Weight initialisers. Biases always start at zero; weights come from the passed Generator.

| kind     | W ~ N(0, std^2) with std  | use                                  |
|----------|---------------------------|--------------------------------------|
| `normal` | `std` (default 0.01)      | DD2424 Assignment 1 linear classifier |
| `xavier` | `1 / sqrt(d_in)`          | tanh / linear layers (Glorot)         |
| `he`     | `sqrt(2 / d_in)`          | layers followed by ReLU (He et al.)   |
"""

from __future__ import annotations

import math

import numpy as np

from scratchlab.errors import ConfigError

INITS = ("normal", "xavier", "he")


def init_std(kind: str, d_in: int, std: float = 0.01) -> float:
    """The standard deviation `kind` gives a weight matrix with `d_in` inputs."""
    if kind == "normal":
        if not std > 0:
            raise ConfigError(f"init std must be > 0, got {std}")
        return float(std)
    if kind == "xavier":
        return 1.0 / math.sqrt(d_in)
    if kind == "he":
        return math.sqrt(2.0 / d_in)
    raise ConfigError(f"unknown init {kind!r}; choose one of {', '.join(INITS)}")


def init_weight(
    kind: str,
    d_in: int,
    d_out: int,
    *,
    std: float = 0.01,
    rng: np.random.Generator,
    dtype: np.dtype | type = np.float32,
) -> np.ndarray:
    """W: (d_in, d_out) with entries N(0, init_std(kind, d_in, std)^2).

    Drawn in float64 and then cast, so float32 and float64 models built from the same
    seed hold the same weights (up to rounding).
    """
    sigma = init_std(kind, d_in, std)
    return (rng.standard_normal((d_in, d_out)) * sigma).astype(dtype)
