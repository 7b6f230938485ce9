"""Optimisers (SGD, momentum, Nesterov, Adam) and learning-rate schedules."""

from __future__ import annotations

from scratchlab.optim.optimizers import OPTIMIZERS, SGD, Adam, Momentum, Optimizer, get_optimizer
from scratchlab.optim.schedules import (
    SCHEDULES,
    Constant,
    Cosine,
    Cyclical,
    ExpDecay,
    Schedule,
    StepDecay,
    get_schedule,
)

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "SGD",
    "Adam",
    "Constant",
    "Cosine",
    "Cyclical",
    "ExpDecay",
    "Momentum",
    "Optimizer",
    "Schedule",
    "StepDecay",
    "get_optimizer",
    "get_schedule",
]
