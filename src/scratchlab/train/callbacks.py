"""Callbacks for `fit`: the `Callback` base class, early stopping / best-weight keeping, and a
progress bar.

The protocol (`Callback` has a no-op default for each; any object with some of them works)::

    on_train_begin(model, history)          # history may already hold rows (a resumed run)
    on_epoch_end(epoch, row, model) -> bool | None   # True asks fit to stop after this epoch
    on_batch_end(step, loss)                # after each update (step counts from 1)
    on_train_end(model, history)            # also after a diverged run; EarlyStopping /
                                            # KeepBest restore first, so others see final weights
    stopped -> bool                         # True: this callback already ended training (a
                                            # restored state): fit trains no further epoch
    state_dict() -> dict[str, ndarray]      # everything a resume needs ...
    load_state_dict(state)                  # ... and its inverse (see scratchlab.train.state)

`on_epoch_end` is called for the starting row too (epoch 0, the untrained model), unless that
row came from a resumed history.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from scratchlab.errors import ConfigError

MONITORS = ("val_loss", "val_cost", "val_acc", "train_loss", "train_cost", "train_acc")


class Callback:
    """Base class: no-op hooks and an empty state (a stateless callback needs no resume)."""

    def on_train_begin(self, model: Any, history: Any) -> None:
        pass

    def on_epoch_end(self, epoch: int, row: dict, model: Any) -> bool | None:
        return None

    def on_batch_end(self, step: int, loss: float) -> None:
        pass

    def on_train_end(self, model: Any, history: Any) -> None:
        pass

    @property
    def stopped(self) -> bool:
        return False

    def state_dict(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    Improvement: value < best - min_delta for losses/costs, value > best + min_delta for
    accuracies (monitor ending in `_acc`). NaN never improves. With `restore_best` the weights
    of the best epoch are copied (`model.get_weights()`) each time it improves and put back
    (`model.set_weights`) at the end of training, and `history.best_epoch` is set to that epoch.
    `patience=None` never stops: that is `fit(keep_best=True)` (monitor val_acc).

    Resume: `state_dict()` holds best, best_epoch, wait, stopped_epoch and the best weights;
    `load_state_dict` puts them back. A fresh `fit` (a history with no rows) starts a fresh
    watch; a resumed one keeps the loaded state. `stopped` is True once this callback ended
    training, so a resume after the stop trains no further.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int | None = 5,
        min_delta: float = 0.0,
        restore_best: bool = True,
    ) -> None:
        if monitor not in MONITORS:
            raise ConfigError(f"early stopping monitor {monitor!r}; use one of {MONITORS}")
        if patience is not None and (int(patience) != patience or patience < 1):
            raise ConfigError(f"early stopping patience must be a whole number >= 1: {patience}")
        if not min_delta >= 0:
            raise ConfigError(f"early stopping min_delta must be >= 0, got {min_delta}")
        self.monitor, self.patience = monitor, patience
        self.min_delta, self.restore_best = float(min_delta), bool(restore_best)
        self.maximise = monitor.endswith("_acc")
        self._reset()

    def _reset(self) -> None:
        self.best = -math.inf if self.maximise else math.inf
        self.best_epoch: int | None = None
        self.best_weights: dict | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def _improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.maximise:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def _observe(self, epoch: int, row: dict, model: Any | None) -> bool:
        value = float(row[self.monitor])
        if self._improved(value) or (self.best_epoch is None and not math.isnan(value)):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self.best_weights = (
                model.get_weights() if (self.restore_best and model is not None) else None
            )
            return False
        self.wait += 1
        return self.patience is not None and self.wait >= self.patience

    def on_train_begin(self, model: Any, history: Any) -> None:
        if history is None or not history.rows:
            self._reset()

    @property
    def stopped(self) -> bool:
        return self.stopped_epoch is not None

    def state_dict(self) -> dict[str, np.ndarray]:
        """Scalars as 0-d arrays (-1 = None), best weights under `weights/<key>`."""
        state = {
            "best": np.float64(self.best),
            "best_epoch": np.int64(-1 if self.best_epoch is None else self.best_epoch),
            "wait": np.int64(self.wait),
            "stopped_epoch": np.int64(-1 if self.stopped_epoch is None else self.stopped_epoch),
        }
        for key, array in (self.best_weights or {}).items():
            state[f"weights/{key}"] = array
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        def epoch_or_none(key: str) -> int | None:
            value = int(state[key])
            return None if value < 0 else value

        self.best, self.wait = float(state["best"]), int(state["wait"])
        self.best_epoch = epoch_or_none("best_epoch")
        self.stopped_epoch = epoch_or_none("stopped_epoch")
        weights = {k[8:]: np.asarray(v) for k, v in state.items() if k.startswith("weights/")}
        self.best_weights = weights or None

    def on_epoch_end(self, epoch: int, row: dict, model: Any) -> bool:
        stop = self._observe(epoch, row, model)
        if stop:
            self.stopped_epoch = epoch
        return stop

    def on_train_end(self, model: Any, history: Any) -> None:
        if self.restore_best and self.best_weights is not None:
            model.set_weights(self.best_weights)
            if history is not None:
                history.best_epoch = self.best_epoch
        self.best_weights = None  # free the copy


class KeepBest(EarlyStopping):
    """`fit(keep_best=True)`: never stops; restores the best val_acc epoch's weights at the end.

    Pass an instance as `keep_best=` to seed `best_epoch`/`best_weights` on resume.
    """

    def __init__(self, monitor: str = "val_acc", min_delta: float = 0.0) -> None:
        super().__init__(monitor, patience=None, min_delta=min_delta, restore_best=True)


class RichProgress(Callback):
    """A rich progress bar on stderr: epoch, training loss, validation accuracy.

    Quiet unless stderr is a terminal (`enabled=None`), so logs and pipes stay clean.
    """

    def __init__(
        self,
        n_epochs: int | None = None,
        *,
        enabled: bool | None = None,
        console: Any = None,
        description: str = "training",
    ) -> None:
        self.n_epochs, self.enabled = n_epochs, enabled
        self.console, self.description = console, description
        self._progress: Any = None
        self._task: Any = None

    def on_train_begin(self, model: Any, history: Any) -> None:
        enabled = sys.stderr.isatty() if self.enabled is None else self.enabled
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=self.console or Console(stderr=True),
            transient=False,
        )
        done = history.last_epoch if history is not None and len(history) else 0
        self._task = self._progress.add_task(
            self.description, total=self.n_epochs, completed=done or 0, status=""
        )
        self._progress.start()

    def on_epoch_end(self, epoch: int, row: dict, model: Any) -> None:
        if self._progress is None:
            return
        status = f"epoch {epoch}  loss {row['train_loss']:.4f}"
        if not math.isnan(row["val_acc"]):
            status += f"  val acc {100 * row['val_acc']:.2f}%"
        self._progress.update(self._task, completed=epoch, status=status)

    def on_train_end(self, model: Any, history: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
