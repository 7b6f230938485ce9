"""The fit loop: `fit(...) -> History`, with early stopping, best-weight keeping, progress, and
the `TrainState` a checkpoint saves and a resume loads."""

from __future__ import annotations

from scratchlab.train.callbacks import MONITORS, Callback, EarlyStopping, KeepBest, RichProgress
from scratchlab.train.fit import fit
from scratchlab.train.history import COLUMNS, STATUSES, History
from scratchlab.train.state import TrainState

__all__ = [
    "COLUMNS",
    "MONITORS",
    "STATUSES",
    "Callback",
    "EarlyStopping",
    "History",
    "KeepBest",
    "RichProgress",
    "TrainState",
    "fit",
]
