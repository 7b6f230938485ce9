"""Per-epoch checkpoints so an interrupted run resumes where it stopped.

`<run>/checkpoint.npz` (written atomically) holds everything the next epoch depends on:

    w/<layer>.<name>   model parameters and buffers (BatchNorm running statistics)
    o/<key>            optimiser buffers and its step count (the schedule's position)
    b/<layer>.<name>   weights of the best validation epoch so far (keep-best / early stopping)
    meta               JSON: epoch, history rows, RNG state, best epoch, and whether early
                       stopping ended training at this epoch (a resume then trains no further)

The RNG is the one Generator that initialised the model and drives shuffling, augmentation
and dropout, so restoring its state makes the resumed epochs identical to uninterrupted ones.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchlab.errors import ScratchlabError
from scratchlab.io import write_npz
from scratchlab.train import Callback, EarlyStopping, History


@dataclass
class Resumed:
    epoch: int
    history: History
    stopped: bool = False  # early stopping ended training at `epoch`: fit no further epochs


class Checkpointer(Callback):
    """A fit callback that saves a checkpoint every `every` epochs (0 = never)."""

    def __init__(self, path: Path, every: int = 1) -> None:
        self.path, self.every = Path(path), every
        self.optimizer = self.rng = self.tracker = self.history = None
        self.stoppers: tuple = ()
        self.resumed_stopped = False

    def attach(
        self, optimizer, rng: np.random.Generator, tracker: EarlyStopping | None, stoppers=()
    ) -> None:
        """`tracker`: whose best weights are saved; `stoppers`: callbacks that may stop fit
        (their `stopped_epoch` is recorded, so a resume does not train past it)."""
        self.optimizer, self.rng, self.tracker = optimizer, rng, tracker
        self.stoppers = tuple(stoppers)

    def on_train_begin(self, model, history: History) -> None:
        self.history = history

    def on_epoch_end(self, epoch: int, row: dict, model) -> None:
        if not self.every or epoch % self.every or self.history is None:
            return
        # fit appends the row after the callbacks run: include it so the file is consistent.
        rows = list(self.history.rows)
        if not rows or rows[-1]["epoch"] != epoch:
            rows.append(row)
        arrays = {f"w/{k}": v for k, v in model.get_weights().items()}
        arrays |= {f"o/{k}": v for k, v in self.optimizer.state_dict().items()}
        best_epoch = None
        if self.tracker is not None and self.tracker.best_weights is not None:
            best_epoch = self.tracker.best_epoch
            arrays |= {f"b/{k}": v for k, v in self.tracker.best_weights.items()}
        stopped = any(getattr(s, "stopped_epoch", None) == epoch for s in self.stoppers)
        meta = {"epoch": epoch, "rows": rows, "rng": self.rng.bit_generator.state,
                "best_epoch": best_epoch, "stopped": stopped}  # fmt: skip
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        write_npz(self.path, arrays)

    def on_train_end(self, model, history: History) -> None:
        if self.resumed_stopped and history is not None:  # fit resumed with nothing to do
            history.status = "early_stopped"
            history.message = f"stopped after epoch {history.last_epoch}"

    def restore(
        self, model, optimizer, rng, tracker: EarlyStopping | None, stoppers=()
    ) -> Resumed | None:
        """Load the checkpoint into the given objects; None if there is none (or it is unusable).

        When the checkpoint says early stopping ended training, pass `Resumed.epoch` as fit's
        `n_epochs`; the history then keeps its `early_stopped` status.
        """
        self.attach(optimizer, rng, tracker, stoppers)
        if not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            meta = json.loads(arrays.pop("meta").tobytes().decode())
            model.set_weights({k[2:]: v for k, v in arrays.items() if k.startswith("w/")})
            optimizer.load_state_dict({k[2:]: v for k, v in arrays.items() if k.startswith("o/")})
            rng.bit_generator.state = meta["rng"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, ScratchlabError) as exc:
            # A checkpoint is written atomically, so this means it is from another version or
            # was damaged by hand: start the run afresh rather than fail.
            import warnings

            warnings.warn(f"ignoring unreadable checkpoint {self.path} ({exc}); retraining",
                          stacklevel=2)  # fmt: skip
            self.path.unlink(missing_ok=True)
            return None
        if tracker is not None and meta.get("best_epoch") is not None:
            tracker.best_epoch = meta["best_epoch"]
            tracker.best_weights = {k[2:]: v for k, v in arrays.items() if k.startswith("b/")}
        history = History()
        for row in meta["rows"]:
            history.append(row)
        self.resumed_stopped = bool(meta.get("stopped", False))
        return Resumed(epoch=meta["epoch"], history=history, stopped=self.resumed_stopped)
