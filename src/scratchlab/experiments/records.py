"""Read back what the run pipeline wrote (run-folder format 2), confined to the results folder.

    <exp>/experiment.json        name, title, description, runs, notes, source, report
    <exp>/<run>/config.json      the resolved RunSpec
    <exp>/<run>/metrics.json     written last: its presence means the run finished
    <exp>/<run>/history.csv      one row per epoch (ensembles: member-<i>/history.csv); with
                                 train.eval_every also rows between epochs (a `step` column)
    <exp>/<run>/predictions.npz  val/test predictions and labels (int64)

The report reads only these files and never recomputes what they hold. Every file it opens
or embeds is resolved and checked to lie inside the folder it belongs to (`confined`): a
metrics.json naming `../../secret.png`, an absolute path or a link out of the run folder is
refused with one line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scratchlab.errors import ScratchlabError
from scratchlab.experiments.stats import Interval, wilson_acc
from scratchlab.io import read_json

PARTS = ("train", "val", "test")
_RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.=,+-]*")
_PNG = b"\x89PNG\r\n\x1a\n"


def confined(root: Path, rel: str | Path, what: str) -> Path:
    """`root / rel` resolved (links followed); a ScratchlabError unless it lies inside `root`."""
    base = Path(root).resolve()
    path = (base / rel).resolve()
    if not path.is_relative_to(base):
        raise ScratchlabError(
            f"refusing to read {str(rel)!r} for {what}: it lies outside {base.name}/ (a results "
            "file was edited, or holds a link); rerun that run with --fresh to rewrite it"
        )
    return path


def png_bytes(root: Path, rel: str | Path, what: str) -> bytes:
    """The bytes of a PNG inside `root` (see `confined`); refuses anything that is not a PNG."""
    path = confined(root, rel, what)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScratchlabError(f"cannot read {what} ({rel}): {exc.strerror or exc}") from None
    if not data.startswith(_PNG):
        raise ScratchlabError(f"refusing to embed {str(rel)!r} for {what}: it is not a PNG image")
    return data


def _num(value: object) -> float:
    """A JSON number or null as a float (null, strings and bools -> NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


@dataclass
class RunRecord:
    """One finished run as written in its folder."""

    name: str
    dir: Path
    config: dict
    metrics: dict
    histories: list[list[dict]] = field(default_factory=list)  # one, or one per member
    updates: list[list[dict]] = field(default_factory=list)  # rows with `step`, if evaluated
    _predictions: dict | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        return str(self.metrics.get("status", "?"))

    @property
    def data(self) -> dict:
        return self.metrics.get("data") or {}

    def n(self, part: str) -> int:
        """Images in `part`; "retrain" (the retrained model's test) counts the test images."""
        value = self.data.get("n_test" if part == "retrain" else f"n_{part}")
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0

    def final(self, part: str, key: str = "acc") -> float:
        """The final `key` on `part`; "retrain" is the test value of the retrained model."""
        if part == "retrain":
            return _num(((self.metrics.get("retrain") or {}).get("test") or {}).get(key))
        return _num(((self.metrics.get("final") or {}).get(part) or {}).get(key))

    def untrained(self, part: str, key: str = "acc") -> float:
        return _num(((self.metrics.get("untrained") or {}).get(part) or {}).get(key))

    def acc(self, part: str) -> Interval:
        """The final accuracy on `part` with its 95 % Wilson interval."""
        return wilson_acc(self.final(part), self.n(part))

    @property
    def ensemble(self) -> dict | None:
        return self.metrics.get("ensemble") or None

    def predictions(self) -> dict[str, np.ndarray] | None:
        """val/test predictions and labels, or None when the run wrote none."""
        if self._predictions is None:
            self._predictions = _read_predictions(self.dir, self.name) or {}
        return self._predictions or None

    def figure(self, key: str) -> str | None:
        """The run's figure `key` relative to the run folder, if it was written."""
        rel = (self.metrics.get("figures") or {}).get(key)
        return rel if isinstance(rel, str) and rel else None


def _read_predictions(run_dir: Path, name: str) -> dict[str, np.ndarray] | None:
    path = confined(run_dir, "predictions.npz", f"run {name!r}")
    if not path.exists():
        return None
    keys = ("val_pred", "val_true", "test_pred", "test_true")
    try:
        with np.load(path, allow_pickle=False) as npz:
            out = {k: np.asarray(npz[k]).ravel() for k in keys}
    except (OSError, ValueError, KeyError) as exc:
        raise ScratchlabError(
            f"run {name!r}: predictions.npz is damaged ({type(exc).__name__}); "
            "rerun the run with --fresh"
        ) from None
    for part in ("val", "test"):
        if out[f"{part}_pred"].shape != out[f"{part}_true"].shape:
            raise ScratchlabError(
                f"run {name!r}: predictions.npz has {part}_pred and "
                f"{part}_true of different lengths; rerun the run"
            )
    return out


def _read_histories(run_dir: Path, name: str, metrics: dict) -> tuple[list, list]:
    """Per model (the run's, or each ensemble member's): its epoch rows, and all its rows
    when it was evaluated every few updates (`eval_every`: rows with a `step`), else []."""
    from scratchlab.train import History

    ens = metrics.get("ensemble") or {}
    seeds = isinstance(ens, dict) and ens.get("kind", "seeds") == "seeds"  # snapshots: one model
    count = ens.get("n_members") if seeds else None
    files = [f"member-{i}/history.csv" for i in range(1, count + 1)] if count else ["history.csv"]
    epochs, steps = [], []
    for rel in files:
        path = confined(run_dir, rel, f"run {name!r}")
        if path.exists():
            h = History.from_csv(path)
            stepped = bool(getattr(h, "has_steps", False))
            epochs.append(h.epoch_rows() if stepped else h.rows)
            steps.append(h.rows if stepped else [])
    return epochs, steps


def check_run_name(name: object) -> str:
    """A run name from experiment.json must be a plain folder name (no `/`, `..`, links)."""
    if not isinstance(name, str) or not _RUN_NAME.fullmatch(name):
        raise ScratchlabError(
            f"experiment.json lists the run {name!r}, which is not a run folder name; "
            "it was edited by hand: rerun the experiment"
        )
    return name


def load_record(exp_dir: Path, name: str) -> RunRecord | None:
    """The run `name` of `exp_dir`, or None if it has not finished (no metrics.json)."""
    run_dir = confined(exp_dir, check_run_name(name), f"run {name!r}")
    if not (run_dir / "metrics.json").is_file() or not (run_dir / "config.json").is_file():
        return None
    config = read_json(confined(run_dir, "config.json", f"run {name!r}"))
    metrics = read_json(confined(run_dir, "metrics.json", f"run {name!r}"))
    if not isinstance(config, dict) or not isinstance(metrics, dict):
        raise ScratchlabError(
            f"run {name!r}: config.json or metrics.json is not a JSON object; "
            "rerun the run with --fresh"
        )
    epochs, steps = _read_histories(run_dir, name, metrics)
    return RunRecord(name, run_dir, config, metrics, epochs, steps)


def load_records(exp_dir: Path, names: list[str]) -> list[RunRecord]:
    """The finished runs among `names`, in that order."""
    records = (load_record(Path(exp_dir), n) for n in names)
    return [r for r in records if r is not None]
