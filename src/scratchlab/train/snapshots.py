"""`CycleSnapshots`: keep the weights at the end of every learning-rate cycle (snapshot ensembles).

With a cyclical schedule of half-period n_s (scratchlab.optim.Cyclical) the rate is back at
eta_min after every 2 n_s updates: update counts t = 2 n_s, 4 n_s, ... end a cycle. Huang et
al. (2017, "Snapshot Ensembles: Train 1, get M for free") vote with the models found there;
this callback copies `model.get_weights()` (parameters and batch-norm statistics) after each
such update:

    snaps = CycleSnapshots(cycle=2 * n_s)
    fit(..., callbacks=[snaps])          # snaps.snapshots: [(step, weights), ...]

A snapshot with a non-finite weight (a run that was diverging) is not kept.

Resume: `state_dict()` holds the steps and the weights taken so far, so a checkpoint at an epoch
end carries them; a resumed fit takes the later ones again. A fresh fit (an empty history)
starts with none.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchlab.errors import ConfigError
from scratchlab.train.callbacks import Callback


class CycleSnapshots(Callback):
    def __init__(self, cycle: int) -> None:
        if int(cycle) != cycle or cycle < 1:
            raise ConfigError(f"snapshot cycle must be a whole number of updates >= 1: {cycle}")
        self.cycle = int(cycle)
        self.snapshots: list[tuple[int, dict[str, np.ndarray]]] = []
        self._model: Any = None

    def on_train_begin(self, model: Any, history: Any) -> None:
        self._model = model
        if history is None or not history.rows:
            self.snapshots = []

    def on_batch_end(self, step: int, loss: float) -> None:
        if step % self.cycle == 0 and self._model is not None:
            weights = self._model.get_weights()
            if all(np.isfinite(w).all() for w in weights.values()):
                self.snapshots.append((int(step), weights))

    def state_dict(self) -> dict[str, np.ndarray]:
        """`steps` (int64, one per snapshot) and `<i>/<weight key>` for snapshot i."""
        state: dict[str, np.ndarray] = {
            "steps": np.array([s for s, _ in self.snapshots], dtype=np.int64)
        }
        for i, (_, weights) in enumerate(self.snapshots):
            state |= {f"{i}/{key}": array for key, array in weights.items()}
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        steps = [int(s) for s in np.asarray(state["steps"]).ravel()]
        self.snapshots = []
        for i, step in enumerate(steps):
            prefix = f"{i}/"
            keys = [k for k in state if k.startswith(prefix)]
            weights = {k[len(prefix) :]: np.asarray(state[k]) for k in keys}
            self.snapshots.append((step, weights))
