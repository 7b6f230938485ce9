"""`History`: one row per epoch of a `fit` (epoch 0 = the untrained model).

Columns (`COLUMNS`): epoch (int), train_loss, train_cost, train_acc, val_loss, val_cost, val_acc
(on the whole training / validation set; val_* are NaN without validation data), lr (the rate
of the epoch's last update; for the starting row, the rate the first update will use) and time
(seconds since training started, counted across resumes).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scratchlab.errors import ScratchlabError
from scratchlab.io import atomic_open

COLUMNS = (
    "epoch",
    "train_loss",
    "train_cost",
    "train_acc",
    "val_loss",
    "val_cost",
    "val_acc",
    "lr",
    "time",
)
STATUSES = ("running", "completed", "early_stopped", "diverged")


@dataclass
class History:
    """What `fit` returns.

    rows: one dict per epoch with the keys `COLUMNS`.
    status: `completed`, `early_stopped` (early stopping or a callback asked to stop) or
        `diverged` (a non-finite loss ended the run); `running` while `fit` is in progress.
    best_epoch: the epoch whose weights the model holds after `fit` restored best weights
        (keep_best: best val_acc; early stopping with restore_best: best monitored value);
        otherwise the epoch of the best val_acc; None without validation data.
    message: why the run ended early, in words ("" when it completed).
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    status: str = "completed"
    best_epoch: int | None = None
    message: str = ""

    def __len__(self) -> int:
        return len(self.rows)

    def append(self, row: dict[str, Any]) -> None:
        missing = [c for c in COLUMNS if c not in row]
        if missing:
            raise ScratchlabError(f"history row lacks {missing}")
        self.rows.append({c: (int(row[c]) if c == "epoch" else float(row[c])) for c in COLUMNS})

    @property
    def last_epoch(self) -> int | None:
        return self.rows[-1]["epoch"] if self.rows else None

    def final(self) -> dict[str, Any]:
        """A copy of the last row."""
        if not self.rows:
            raise ScratchlabError("the history is empty: fit has not recorded any epoch")
        return dict(self.rows[-1])

    def as_arrays(self) -> dict[str, np.ndarray]:
        """Column name -> array over epochs (epoch: int64, the rest float64)."""
        return {
            c: np.array([r[c] for r in self.rows], dtype=np.int64 if c == "epoch" else np.float64)
            for c in COLUMNS
        }

    def best(self, monitor: str = "val_acc") -> int | None:
        """Epoch of the best `monitor` value (max for *_acc, min otherwise; first on ties)."""
        sign = -1.0 if monitor.endswith("acc") else 1.0
        scored = [(sign * r[monitor], r["epoch"]) for r in self.rows if not math.isnan(r[monitor])]
        return min(scored, key=lambda s: s[0])[1] if scored else None

    # -- resume ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-able: rows, status, best_epoch, message (the checkpoint's `meta`)."""
        return {"rows": [dict(r) for r in self.rows], "status": self.status,
                "best_epoch": self.best_epoch, "message": self.message}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = []
        for row in state["rows"]:
            self.append(row)
        self.status, self.message = str(state["status"]), str(state["message"])
        best = state["best_epoch"]
        self.best_epoch = None if best is None else int(best)

    # -- files -----------------------------------------------------------------------------
    def to_csv(self, path: str | Path) -> Path:
        """Write the rows as CSV with a header (atomically: temp file + os.replace).

        Floats are written with `repr`, so `from_csv` gives back the same numbers bit for bit.
        """
        with atomic_open(path, "w") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(COLUMNS)
            for r in self.rows:
                writer.writerow([r["epoch"], *(repr(float(r[c])) for c in COLUMNS[1:])])
        return Path(path)

    @classmethod
    def from_csv(cls, path: str | Path) -> History:
        """Read what `to_csv` wrote. status is `completed`; best_epoch = best val_acc epoch."""
        path = Path(path)
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                header = reader.fieldnames or []
                missing = [c for c in COLUMNS if c not in header]
                if missing:
                    raise ScratchlabError(
                        f"{path} is not a training history: its header lacks {missing}"
                    )
                hist = cls()
                for n, row in enumerate(reader, start=2):
                    try:
                        hist.append(row)
                    except ValueError:
                        raise ScratchlabError(f"{path} line {n}: not a number in {row}") from None
        except OSError as exc:
            raise ScratchlabError(f"cannot read history {path}: {exc.strerror or exc}") from None
        hist.best_epoch = hist.best("val_acc")
        return hist
