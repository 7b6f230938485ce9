"""Train and evaluate one run into its folder.

    <run>/config.json    the resolved RunSpec (written first: marks the folder as this spec's)
    <run>/checkpoint.npz weights, optimiser state, RNG state and history (every epoch)
    <run>/history.csv    loss, cost, accuracy on train and val per epoch (epoch 0 = untrained)
    <run>/model.npz      the trained model (Sequential.save)
    <run>/metrics.json   untrained and final metrics, per-class report, figures (written last)
    <run>/figures/*.png

An ensemble trains `member-<i>` sub-runs with seeds seed+i and reports their majority vote; a
run with `data.retrain_split` retrains a fresh model on that split (same epochs) into
`<run>/retrain/` and reports its test metrics too.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scratchlab.data import Splits, load_split
from scratchlab.errors import ConfigError
from scratchlab.experiments.artifacts import run_figures
from scratchlab.experiments.checkpoint import Checkpointer
from scratchlab.experiments.schema import RunSpec
from scratchlab.io import write_json
from scratchlab.metrics import classification_metrics
from scratchlab.nn import Sequential, build_mlp
from scratchlab.optim import get_optimizer, get_schedule
from scratchlab.train import EarlyStopping, History, KeepBest, fit


@dataclass
class RunData:
    splits: Splits
    notes: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=4)
def _cached_split(dataset: str, split: str, val_size: int, seed: int, path: str | None) -> RunData:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        splits = load_split(dataset, split, val_size=val_size, seed=seed, path=path)
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=2)
    return RunData(splits, [str(w.message) for w in caught])


def load_run_data(spec: RunSpec, *, check: bool = False, split: str | None = None) -> RunData:
    """The run's standardised splits (cached per process); `check` validates sizes."""
    d = spec.data
    data = _cached_split(d.dataset, split or d.split, d.val_size, spec.seed, d.path)
    if check:
        n_train = len(data.splits.train.y)
        if isinstance(spec.train.n_batch, int) and spec.train.n_batch > n_train:
            raise ConfigError(
                f"run {spec.name!r}: train.n_batch = {spec.train.n_batch} is larger than the "
                f'training set ({n_train} images); use a smaller n_batch or "full"'
            )
    return data


def build_model(spec: RunSpec, splits: Splits, rng: np.random.Generator) -> Sequential:
    m, t = spec.model, spec.train
    return build_mlp(
        splits.train.X.shape[1], len(splits.class_names), tuple(m.hidden),
        activation=m.activation, dropout=m.dropout, dropout_where=m.dropout_where,
        batch_norm=m.batch_norm, loss=m.loss, init=m.init, init_std=m.init_std,
        l2=t.lambda_, l1=t.l1, rng=rng,
    )  # fmt: skip


def make_schedule(spec: RunSpec, steps_per_epoch: int):
    s = spec.train.schedule.model_dump()
    name = s.pop("name")
    if name == "cosine":
        s["total_steps"] = spec.train.n_epochs * steps_per_epoch
    return get_schedule(name, spec.train.eta, **s)


def make_augment(spec: RunSpec, splits: Splits):
    """Compose raw → augment → standardise for standardised batches (None: no augmentation)."""
    if not spec.train.augment:
        return None
    from scratchlab.data.augment import build_augmenter

    augmenter = build_augmenter([a.as_dict() for a in spec.train.augment], splits.image_shape)
    return lambda Xb, rng: splits.standardise(augmenter(splits.raw(Xb), rng))


def train_model(
    spec: RunSpec,
    splits: Splits,
    seed: int,
    run_dir: Path,
    progress=None,
    *,
    with_val: bool = True,
    n_epochs: int | None = None,
) -> tuple[Sequential, History, dict]:
    """Build, (resume,) fit and save one model; returns it, its history and untrained metrics."""
    run_dir.mkdir(parents=True, exist_ok=True)
    t = spec.train
    rng = np.random.default_rng(seed)
    model = build_model(spec, splits, rng)
    untrained = _evaluate_all(model, splits)
    n_train = len(splits.train.y)
    n_batch = None if t.n_batch == "full" else min(t.n_batch, n_train)
    steps = 1 if n_batch is None else math.ceil(n_train / n_batch)
    optimizer = get_optimizer(t.optimizer)
    trackers: list = []  # best-weight trackers run before the checkpoint sees the epoch
    if with_val and t.early_stopping is not None:
        es = t.early_stopping
        trackers.append(
            EarlyStopping(
                monitor=es.monitor,
                patience=es.patience,
                min_delta=es.min_delta,
                restore_best=es.restore_best,
            )
        )
    if with_val and t.keep_best:
        trackers.append(KeepBest())
    ckpt = Checkpointer(run_dir / "checkpoint.npz", every=t.checkpoint_every)
    resumed = ckpt.restore(model, optimizer, rng, trackers[-1] if trackers else None, trackers)
    epochs = resumed.epoch if resumed and resumed.stopped else n_epochs or t.n_epochs
    callbacks = [*trackers, ckpt]
    if progress is not None:
        callbacks.append(_ProgressCallback(progress, epochs))
    history = fit(
        model, (splits.train.X, splits.train.y),
        (splits.val.X, splits.val.y) if with_val else None,
        optimizer=optimizer, schedule=make_schedule(spec, steps), n_epochs=epochs,
        n_batch=n_batch, shuffle=t.shuffle, rng=rng, augment=make_augment(spec, splits),
        callbacks=callbacks, history=resumed.history if resumed else None,
    )  # fmt: skip
    history.to_csv(run_dir / "history.csv")
    model.save(run_dir / "model.npz")
    return model, history, untrained


class _ProgressCallback:
    def __init__(self, report, n_epochs: int) -> None:
        self.report, self.n_epochs = report, n_epochs

    def on_epoch_end(self, epoch: int, row: dict, model) -> None:
        self.report(epoch, self.n_epochs, row)


def _xy(splits: Splits, part: str) -> tuple[np.ndarray, np.ndarray]:
    p = getattr(splits, part)
    return p.X, p.y


def _evaluate_all(model: Sequential, splits: Splits) -> dict:
    return {p: model.evaluate(*_xy(splits, p)) if len(_xy(splits, p)[1]) else
            {"loss": math.nan, "cost": math.nan, "acc": math.nan}
            for p in ("train", "val", "test")}  # fmt: skip


def execute_run(spec: RunSpec, run_dir: Path, *, progress=None) -> dict:
    # BLAS threads per scratchlab.threads: one per run unless SCRATCHLAB_THREADS says
    # otherwise (multithreaded BLAS collapses on small products when the machine is
    # busy; see benchmarks/results.md); parallelism across runs is --jobs.
    from scratchlab.threads import blas_threads

    with blas_threads():
        return _execute_run(spec, run_dir, progress=progress)


def _execute_run(spec: RunSpec, run_dir: Path, *, progress=None) -> dict:
    started = time.perf_counter()
    splits = load_run_data(spec, check=True).splits
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", spec.model_dump(mode="json", by_alias=True))

    members = []
    for i in range(spec.ensemble):
        member_dir = run_dir if spec.ensemble == 1 else run_dir / f"member-{i + 1}"
        members.append(train_model(spec, splits, spec.seed + i, member_dir, progress))
    model, history, untrained = members[0]
    final = _evaluate_all(model, splits)
    X_test, y_test = _xy(splits, "test")
    y_pred = model.predict(X_test)
    metrics: dict = {
        "run": spec.name,
        "status": history.status,
        "epochs_trained": history.rows[-1]["epoch"],
        "best_epoch": history.best_epoch,
        "untrained": untrained,
        "final": final,
        "data": {"dataset": spec.data.dataset, "split": spec.data.split,
                 "n_train": len(splits.train.y), "n_val": len(splits.val.y),
                 "n_test": len(y_test)},
        "model_summary": model.summary(splits.train.X.shape[1]),
    }  # fmt: skip
    if spec.ensemble > 1:
        votes = np.stack([m.predict(X_test) for m, _, _ in members])
        y_pred = majority_vote(votes, len(splits.class_names))
        metrics["ensemble"] = {
            "member_test_acc": [float(np.mean(v == y_test)) for v in votes],
            "vote_test_acc": float(np.mean(y_pred == y_test)),
        }
        final["test"] = {**final["test"], "acc": metrics["ensemble"]["vote_test_acc"]}
    metrics["test_report"] = classification_metrics(y_test, y_pred, splits.class_names)

    if spec.data.retrain_split:
        metrics["retrain"] = _retrain(spec, history, run_dir / "retrain", progress)
    metrics["figures"] = run_figures(spec, model, history, splits, y_pred, run_dir,
                                     retrain_dir=run_dir / "retrain")  # fmt: skip
    metrics["time_s"] = time.perf_counter() - started
    write_json(run_dir / "metrics.json", metrics)
    for ckpt in run_dir.rglob("checkpoint.npz"):  # the run's, its members' and its retrain's
        ckpt.unlink(missing_ok=True)
    return metrics


def majority_vote(predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """predictions: (M, N) labels → (N,) most frequent label; ties go to the lowest label."""
    counts = np.zeros((predictions.shape[1], n_classes), dtype=np.int64)
    np.add.at(counts, (np.arange(predictions.shape[1])[None, :], predictions), 1)
    return counts.argmax(axis=1)


def retrain_epochs(spec: RunSpec, history: History) -> int:
    """Phase one's best validation epoch if its weights were restored, else its last epoch."""
    es = spec.train.early_stopping
    restored = spec.train.keep_best or (es is not None and es.restore_best)
    if restored and history.best_epoch:
        return history.best_epoch
    return max(1, history.rows[-1]["epoch"])


def _retrain(spec: RunSpec, history: History, out: Path, progress) -> dict:
    """Retrain from scratch on `data.retrain_split` for `retrain_epochs` epochs."""
    splits = load_run_data(spec, split=spec.data.retrain_split).splits
    epochs = retrain_epochs(spec, history)
    if progress is not None:  # tagged, so the display can tell the phases apart
        report = progress
        progress = lambda epoch, n, row: report(epoch, n, {**row, "phase": "retrain"})  # noqa: E731
    model, rt_history, _ = train_model(spec, splits, spec.seed, out, progress,
                                       with_val=False, n_epochs=max(1, epochs))  # fmt: skip
    test = model.evaluate(*_xy(splits, "test"))
    y_pred = model.predict(splits.test.X)
    return {
        "split": spec.data.retrain_split,
        "epochs": max(1, epochs),
        "n_train": len(splits.train.y),
        "status": rt_history.status,
        "test": test,
        "test_report": classification_metrics(splits.test.y, y_pred, splits.class_names),
    }


def run_gradcheck(exp, out: Path) -> None:
    """Check the analytic gradient of the experiment's first run's model on its data."""
    from scratchlab.gradcheck import gradcheck

    spec, g = exp.runs[0], exp.gradcheck
    splits = load_run_data(spec).splits
    overrides = {"model": {"hidden": g.hidden if g.hidden is not None else spec.model.hidden,
                           "loss": g.loss or spec.model.loss},
                 "train": {"lambda": g.lambda_}}  # fmt: skip
    check_spec = RunSpec.model_validate(
        {
            **spec.model_dump(by_alias=True),
            **{k: {**spec.model_dump(by_alias=True)[k], **v} for k, v in overrides.items()},
        }
    )
    model = build_model(check_spec, splits, np.random.default_rng(spec.seed))
    rows = gradcheck(model, splits.train.X[: g.n_samples], splits.train.y[: g.n_samples],
                     h=g.h, n_samples=g.n_samples, n_dims=g.n_dims)  # fmt: skip
    hidden = "-".join(map(str, check_spec.model.hidden)) or "linear"
    write_json(out, {
        "tol": 1e-6,
        "description": (f"Model {hidden}, loss {check_spec.model.loss}, λ = {g.lambda_:g}; "
                        f"first {g.n_samples} training images, first {g.n_dims} input "
                        f"dimensions, centred differences with h = {g.h:g}, in float64."),
        "rows": [{"name": r.name, "shape": "×".join(map(str, r.shape)), "max_abs": r.max_abs_err,
                  "max_rel": r.max_rel_err, "share_ok": r.share_ok, "status": r.status}
                 for r in rows],
    })  # fmt: skip
