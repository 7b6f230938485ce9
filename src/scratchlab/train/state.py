"""`TrainState`: everything the next epoch of a `fit` depends on, saved and loaded as one.

    state = TrainState(model, optimizer, rng, history, callbacks)
    arrays = state.state_dict()        # flat {name: ndarray}: np.savez-able
    state.load_state_dict(arrays)      # the inverse: a resume is "load the state", then fit

Keys: `model/<layer>.<name>` (parameters and buffers), `optimizer/<key>` (its buffers and step
count, which is also the schedule's position), `callback<i>/<key>` (the i-th callback's own
state: early stopping's best value, patience count and best weights), and `meta`, the UTF-8
JSON of the RNG's bit-generator state and the history (rows, status, best epoch).

The RNG is the one Generator that initialised the model and drives shuffling, augmentation
and dropout, so restoring it makes resumed epochs identical to uninterrupted ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scratchlab.errors import ScratchlabError
from scratchlab.train.history import History


@dataclass
class TrainState:
    model: Any
    optimizer: Any
    rng: np.random.Generator
    history: History = field(default_factory=History)
    callbacks: list = field(default_factory=list)

    def state_dict(self) -> dict[str, np.ndarray]:
        arrays = {f"model/{k}": v for k, v in self.model.get_weights().items()}
        arrays |= {f"optimizer/{k}": v for k, v in self.optimizer.state_dict().items()}
        for i, callback in enumerate(self.callbacks):
            for key, value in _state_of(callback).items():
                arrays[f"callback{i}/{key}"] = np.asarray(value)
        meta = {"rng": self.rng.bit_generator.state, "history": self.history.state_dict()}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        return arrays

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore every part; ScratchlabError if `arrays` is not a state of this setup."""
        if "meta" not in arrays:
            raise ScratchlabError("not a training state: it has no 'meta' entry")
        meta = json.loads(np.asarray(arrays["meta"]).tobytes().decode())
        self.model.set_weights(_section(arrays, "model/"))
        self.optimizer.load_state_dict(_section(arrays, "optimizer/"))
        for i, callback in enumerate(self.callbacks):
            state = _section(arrays, f"callback{i}/")
            if state and hasattr(callback, "load_state_dict"):
                callback.load_state_dict(state)
            elif _state_of(callback):
                raise ScratchlabError(f"the saved state has none for callback {i}")
        self.rng.bit_generator.state = meta["rng"]
        self.history.load_state_dict(meta["history"])


def _state_of(callback: Any) -> dict:
    return callback.state_dict() if hasattr(callback, "state_dict") else {}


def _section(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: arrays[k] for k in arrays if k.startswith(prefix)}
