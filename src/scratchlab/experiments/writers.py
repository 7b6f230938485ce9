"""Write a `RunResult` into its run folder; each file is written once, atomically.

    config.json      the resolved RunSpec (written before training: marks the folder as its)
    history.csv      per epoch (ensembles: member-<i>/history.csv), model.npz likewise
    retrain/         history.csv and model.npz of the retrained model
    snapshots/cycle-<l>.npz   snapshot ensembles: the model at the end of cycle l
    predictions.npz  headline predictions and true labels on val and test
    figures/*.png
    metrics.json     written LAST: its presence means "finished" (format: docs/RESULTS.md)

Then the run's checkpoints are deleted. All JSON is strict (NaN and infinities are null).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from scratchlab.experiments.figures import run_figures
from scratchlab.experiments.result import Member, RunResult, Snapshot, member_spread
from scratchlab.experiments.schema import RunSpec
from scratchlab.io import strict_json, write_json, write_npz
from scratchlab.metrics import classification_metrics

FORMAT = 2


def spec_json(spec: RunSpec) -> dict:
    return spec.model_dump(mode="json", by_alias=True)


def write_config(spec: RunSpec, run_dir: Path) -> None:
    write_json(Path(run_dir) / "config.json", spec_json(spec))


def write_run(result: RunResult, run_dir: Path) -> dict:
    """Every file of the run, metrics.json last; returns the metrics as written (NaN: None)."""
    run_dir = Path(run_dir)
    for i, member in enumerate(result.members):
        _write_model(member, run_dir if len(result.members) == 1 else run_dir / f"member-{i + 1}")
        for snap in member.snapshots:
            snap.model.save(run_dir / "snapshots" / f"cycle-{snap.cycle}.npz")
    if result.retrain is not None:
        _write_model(result.retrain.member, run_dir / "retrain")
    _write_predictions(result, run_dir / "predictions.npz")
    metrics = strict_json(metrics_of(result, run_figures(result, run_dir)))
    write_json(run_dir / "metrics.json", metrics)
    for ckpt in run_dir.rglob("checkpoint.npz"):  # the run's, its members' and its retrain's
        ckpt.unlink(missing_ok=True)
    return metrics


def _write_model(member: Member, folder: Path) -> None:
    member.history.to_csv(folder / "history.csv")
    member.model.save(folder / "model.npz")


def _write_predictions(result: RunResult, path: Path) -> None:
    arrays = {}
    for s in ("val", "test"):
        arrays[f"{s}_pred"] = np.asarray(result.predictions[s], dtype=np.int64)
        arrays[f"{s}_true"] = np.asarray(getattr(result.splits, s).y, dtype=np.int64)
    write_npz(path, arrays)


def metrics_of(result: RunResult, figures: dict[str, str]) -> dict:
    """The metrics.json of a run (see the module docstring of report.py for its readers)."""
    splits, first = result.splits, result.members[0]
    history = first.history
    return {
        "format": FORMAT,
        "run": result.spec.name,
        "status": result.status,
        "message": history.message,
        "seed": result.spec.seed,
        "epochs_trained": history.rows[-1]["epoch"],
        "best_epoch": history.best_epoch,
        "time_s": result.time_s,
        "data": _data_info(result),
        "untrained": first.untrained,
        "final": result.final(),
        "ensemble": _ensemble(result) if result.is_ensemble else None,
        "test_report": _report(splits, result.predictions["test"]),
        "retrain": _retrain(result),
        "training": result.training,
        "figures": figures,
        "model_summary": first.model.summary(splits.dim),
    }


def _data_info(result: RunResult) -> dict:
    s = result.splits
    return {
        "dataset": s.dataset,
        "split": s.split,
        "n_train": s.train.n,
        "n_val": s.val.n,
        "n_test": s.test.n,
        "class_names": list(s.class_names),
        "image_shape": list(s.image_shape),
        "fingerprint": result.fingerprint,
        "verified": bool(s.verified),
    }


def _ensemble(result: RunResult) -> dict:
    """The vote's members: seeds (each its own model) or one model's cycle-end snapshots."""
    voters = result.voters
    mean, std = member_spread(voters)
    if result.ensemble_kind == "seeds":
        members = [_seed_member(m) for m in voters]
    else:
        members = [_snapshot_member(s, result.members[0]) for s in voters]
    return {
        "vote": "majority",
        "kind": result.ensemble_kind,
        "n_members": len(voters),
        "members": members,
        "member_mean": mean,
        "member_std": std,
    }


def _seed_member(m: Member) -> dict:
    return {
        "seed": m.seed,
        "status": m.history.status,
        "epochs_trained": m.history.rows[-1]["epoch"],
        "best_epoch": m.history.best_epoch,
        "final": m.final,
    }


def _snapshot_member(snap: Snapshot, model: Member) -> dict:
    """A snapshot in the members' format, plus when it was taken (cycle, update, epoch)."""
    return {
        "seed": model.seed,
        "status": "completed",
        "epochs_trained": math.ceil(snap.epoch),
        "best_epoch": None,
        "final": snap.final,
        "cycle": snap.cycle,
        "step": snap.step,
        "epoch": snap.epoch,
        "model": f"snapshots/cycle-{snap.cycle}.npz",
    }


def _report(splits, y_pred: np.ndarray) -> dict | None:
    if splits.test.n == 0:
        return None
    return classification_metrics(splits.test.y, y_pred, splits.class_names)


def _retrain(result: RunResult) -> dict | None:
    rt = result.retrain
    if rt is None:
        return None
    m = rt.member
    return {
        "split": rt.split,
        "epochs": rt.epochs,
        "n_train": rt.splits.train.n,
        "status": m.history.status,
        "test": m.final["test"],
        "test_report": _report(rt.splits, m.predictions["test"]),
    }
