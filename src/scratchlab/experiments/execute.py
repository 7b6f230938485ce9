"""Train one run: `train_run(spec, work_dir) -> RunResult`; `execute_run` also writes it.

    load_run_data(spec) ─► for each member: assemble ─► (resume) ─► fit ─► evaluate ─► Member
                        ─► vote (ensembles) ─► retrain (runs with data.retrain_split)
                        ─► RunResult ─► writers.write_run (execute_run only)

An ensemble trains M members with seeds seed, seed+1, …, seed+M-1 and reports their majority vote;
a snapshot ensemble (`ensemble_snapshots = "cycle_ends"`) trains one model and votes with its
weights at the end of each learning-rate cycle (saved in its checkpoint as they are taken);
a run with `data.retrain_split` retrains a fresh model on that split for the epochs its
validation run selected (see `retrain_epochs`) and reports its test metrics too.
Checkpoints live in `work_dir` (`checkpoint.npz`, `member-<i>/…`, `retrain/…`): a run that
was interrupted resumes from them bit-identically.

BLAS threads are not set here: the caller (CLI, runner, worker) applies the policy once.
"""

from __future__ import annotations

import time
from pathlib import Path

from scratchlab.data import Splits
from scratchlab.experiments.assemble import assemble, fit_parts, make_schedule, updates_per_epoch
from scratchlab.experiments.checkpoint import Checkpoint, resume
from scratchlab.experiments.result import (
    Member,
    Retrain,
    RunResult,
    evaluate_sets,
    snapshot_members,
    vote_of,
)
from scratchlab.experiments.rundata import load_run_data
from scratchlab.experiments.schema import RunSpec
from scratchlab.train import Callback, History


def execute_run(spec: RunSpec, run_dir: Path, *, progress=None) -> dict:
    """Train (or resume) `spec` in `run_dir` and write its files; returns its metrics."""
    from scratchlab.experiments.writers import write_config, write_run

    write_config(spec, run_dir)
    return write_run(train_run(spec, run_dir, progress=progress), run_dir)


def train_run(spec: RunSpec, work_dir: Path, *, progress=None) -> RunResult:
    started = time.perf_counter()
    data = load_run_data(spec)
    splits = data.splits
    members = [
        train_member(spec, splits, spec.seed + i, member_dir(work_dir, spec, i), progress)
        for i in range(spec.ensemble)
    ]
    retrain = None
    if spec.data.retrain_split:
        retrain = retrain_member(spec, members[0].history, work_dir / "retrain", progress)
    result = RunResult(
        spec,
        splits,
        members,
        None,
        retrain,
        time.perf_counter() - started,
        data.fingerprint,
        data.notes,
        training_info(spec, splits.train.n),
    )
    if result.voters:
        result.vote = vote_of(result.voters, splits.n_classes)
    return result


def training_info(spec: RunSpec, n_train: int) -> dict:
    """Updates per epoch and the schedule as trained (n_s in updates), for metrics.json."""
    u = updates_per_epoch(spec, n_train)
    return {
        "updates_per_epoch": u,
        "schedule": make_schedule(spec, u, spec.train.n_epochs).config(),
    }


def member_dir(work_dir: Path, spec: RunSpec, index: int) -> Path:
    return Path(work_dir) if spec.ensemble == 1 else Path(work_dir) / f"member-{index + 1}"


def train_member(
    spec: RunSpec,
    splits: Splits,
    seed: int,
    ckpt_dir: Path,
    progress=None,
    *,
    with_val: bool = True,
    n_epochs: int | None = None,
) -> Member:
    """Assemble, resume from `ckpt_dir/checkpoint.npz` if present, fit and evaluate a model."""
    parts = assemble(spec, splits, seed, with_val=with_val, n_epochs=n_epochs)
    untrained_test = evaluate_sets(parts.model, splits)[0]["test"] if splits.test.n else None
    state = parts.state()
    path = Path(ckpt_dir) / "checkpoint.npz"
    if path.exists() and not resume(path, state):  # unusable: it was deleted; start afresh
        parts = assemble(spec, splits, seed, with_val=with_val, n_epochs=n_epochs)
        state = parts.state()
    path.parent.mkdir(parents=True, exist_ok=True)
    callbacks: list = [Checkpoint(path, state, spec.train.checkpoint_every)]
    if progress is not None:
        callbacks.append(ProgressCallback(progress, parts.n_epochs))
    history = fit_parts(parts, state, callbacks)
    final, predictions = evaluate_sets(state.model, splits)
    first = history.rows[0]
    untrained = {
        s: {k: first[f"{s}_{k}"] for k in ("loss", "cost", "acc")} for s in ("train", "val")
    }
    untrained["test"] = untrained_test or final["test"]
    member = Member(seed, state.model, history, untrained, final, predictions)
    snaps = parts.snapshots
    if snaps is not None:
        u = parts.updates_per_epoch
        member.snapshots = snapshot_members(state.model, snaps.snapshots, snaps.cycle, splits, u)
    return member


def retrain_epochs(spec: RunSpec, history: History) -> int:
    """Phase one's best validation epoch if its weights were restored, else its last epoch."""
    es = spec.train.early_stopping
    restored = spec.train.keep_best or (es is not None and es.restore_best)
    if restored and history.best_epoch:
        return history.best_epoch
    return max(1, history.rows[-1]["epoch"])


def retrain_member(spec: RunSpec, history: History, out: Path, progress) -> Retrain:
    """Retrain from scratch on `data.retrain_split` for `retrain_epochs` epochs."""
    splits = load_run_data(spec, split=spec.data.retrain_split).splits
    epochs = retrain_epochs(spec, history)
    if progress is not None:  # tagged, so the display can tell the phases apart
        report = progress
        progress = lambda epoch, n, row: report(epoch, n, {**row, "phase": "retrain"})  # noqa: E731
    member = train_member(spec, splits, spec.seed, out, progress, with_val=False, n_epochs=epochs)
    return Retrain(spec.data.retrain_split, epochs, splits, member)


class ProgressCallback(Callback):
    """Reports `(epoch, n_epochs, row)` after each epoch to the runner's display."""

    def __init__(self, report, n_epochs: int) -> None:
        self.report, self.n_epochs = report, n_epochs

    def on_epoch_end(self, epoch: int, row: dict, model) -> None:
        self.report(epoch, self.n_epochs, row)
