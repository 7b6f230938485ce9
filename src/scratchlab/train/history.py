"""`History`: one row per epoch of a `fit` (epoch 0 = the untrained model), and with
`fit(eval_every=N)` also one row every N updates between epochs.

Columns (`COLUMNS`): epoch (int), train_loss, train_cost, train_acc, val_loss, val_cost, val_acc
(on the whole training / validation set; val_* are NaN without validation data), lr (the rate
of the last update; for the starting row, the rate the first update will use) and time
(seconds since training started, counted across resumes).

Per-update evaluation (`STEP_COLUMNS` = COLUMNS with `step` after `epoch`): a history made
with `eval_every` has a `step` column (int, updates done when the row was evaluated) in every
row, and extra rows between epochs. A row between epochs carries the epoch *in progress*
(1-based), so the rows of epoch e are those with `epoch == e` and the last of them ends it
(`epoch_rows()`). Histories without `eval_every` (and every history.csv written before it
existed) have no `step` column and one row per epoch, as before; the first row appended
decides which kind a History is.
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
STEP_COLUMNS = ("epoch", "step", *COLUMNS[1:])
_INTS = ("epoch", "step")
STATUSES = ("running", "completed", "early_stopped", "diverged")


@dataclass
class History:
    """What `fit` returns.

    rows: one dict per epoch with the keys `COLUMNS` (or per evaluation, with the keys
        `STEP_COLUMNS`, when made with `eval_every`: see the module docstring).
    status: `completed`, `early_stopped` (early stopping or a callback asked to stop) or
        `diverged` (a non-finite loss ended the run); `running` while `fit` is in progress.
    best_epoch: the epoch whose weights the model holds after `fit` restored best weights
        (keep_best: best val_acc; early stopping with restore_best: best monitored value);
        otherwise the epoch of the best val_acc (over epoch ends); None without validation.
    message: why the run ended early, in words ("" when it completed).
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    status: str = "completed"
    best_epoch: int | None = None
    message: str = ""

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def has_steps(self) -> bool:
        """True for a history made with `eval_every` (its rows have a `step`)."""
        return bool(self.rows) and "step" in self.rows[0]

    @property
    def columns(self) -> tuple[str, ...]:
        return STEP_COLUMNS if self.has_steps else COLUMNS

    def append(self, row: dict[str, Any]) -> None:
        """Add a row; the first row decides whether the history has a `step` column."""
        steps = self.has_steps if self.rows else "step" in row
        columns = STEP_COLUMNS if steps else COLUMNS
        missing = [c for c in columns if c not in row]
        if missing:
            raise ScratchlabError(f"history row lacks {missing}")
        self.rows.append({c: (int(row[c]) if c in _INTS else float(row[c])) for c in columns})

    @property
    def last_epoch(self) -> int | None:
        return self.rows[-1]["epoch"] if self.rows else None

    def epoch_rows(self) -> list[dict[str, Any]]:
        """The rows that end an epoch (all rows of a history without `step`): for each epoch
        value, its last row. A run that diverged between epochs ends with that row."""
        if not self.has_steps:
            return list(self.rows)
        rows = self.rows
        return [
            r
            for r, nxt in zip(rows, [*rows[1:], None], strict=True)
            if nxt is None or nxt["epoch"] != r["epoch"]
        ]

    def final(self) -> dict[str, Any]:
        """A copy of the last row."""
        if not self.rows:
            raise ScratchlabError("the history is empty: fit has not recorded any epoch")
        return dict(self.rows[-1])

    def as_arrays(self) -> dict[str, np.ndarray]:
        """Column name -> array over rows (epoch, step: int64, the rest float64)."""
        return {
            c: np.array([r[c] for r in self.rows], dtype=np.int64 if c in _INTS else np.float64)
            for c in self.columns
        }

    def best(self, monitor: str = "val_acc") -> int | None:
        """Epoch of the best `monitor` value at an epoch end (max for *_acc, min otherwise;
        first on ties). Rows between epochs do not count: no weights are kept for them."""
        sign = -1.0 if monitor.endswith("acc") else 1.0
        rows = self.epoch_rows()
        scored = [(sign * r[monitor], r["epoch"]) for r in rows if not math.isnan(r[monitor])]
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
        columns = self.columns
        with atomic_open(path, "w") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            for r in self.rows:
                writer.writerow([r[c] if c in _INTS else repr(float(r[c])) for c in columns])
        return Path(path)

    @classmethod
    def from_csv(cls, path: str | Path) -> History:
        """Read what `to_csv` wrote (with or without a `step` column). status is `completed`;
        best_epoch = best val_acc epoch."""
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
                keep = STEP_COLUMNS if "step" in header else COLUMNS
                for n, row in enumerate(reader, start=2):
                    try:
                        hist.append({c: row[c] for c in keep})
                    except (ValueError, TypeError):  # TypeError: a short line (None)
                        raise ScratchlabError(f"{path} line {n}: not a number in {row}") from None
        except OSError as exc:
            raise ScratchlabError(f"cannot read history {path}: {exc.strerror or exc}") from None
        hist.best_epoch = hist.best("val_acc")
        return hist
