"""Checkpoints: a run's `TrainState` saved every epoch, so an interrupted run resumes exactly.

    Checkpoint(path, state, every)   a fit callback: save the state (atomically) every `every`
                                     epochs (0 = never), after the trackers saw the epoch
    resume(path, state) -> bool      load a saved state into `state`; False if there is none

A checkpoint that cannot be used (damaged, from another version, for another model, any
missing or wrong field) gives a warning and is deleted: the run starts again from scratch.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np

from scratchlab.errors import ScratchlabError
from scratchlab.io import write_npz
from scratchlab.train import Callback, TrainState


class Checkpoint(Callback):
    def __init__(self, path: Path, state: TrainState, every: int = 1) -> None:
        self.path, self.state, self.every = Path(path), state, every

    def on_epoch_end(self, epoch: int, row: dict, model) -> None:
        if self.every and epoch % self.every == 0:
            write_npz(self.path, self.state.state_dict())


def resume(path: Path, state: TrainState) -> bool:
    """Load the checkpoint at `path` into `state`; False (and a fresh `state`) if unusable."""
    path = Path(path)
    if not path.exists():
        return False
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        state.load_state_dict(arrays)
        return True
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, ScratchlabError) as exc:
        warnings.warn(f"ignoring unreadable checkpoint {path} ({exc}); retraining", stacklevel=2)
        path.unlink(missing_ok=True)
        return False
