"""The figures of one run, written under `<run>/figures/` and listed in its metrics.json.

curves.png         loss, cost and accuracy per epoch, train vs val (ensembles: members' mean);
                   with eval_every, every evaluation at x = update step / updates per epoch
weights.png        class templates (linear model) — units.png for an MLP's first layer
augmentation.png   originals vs augmented samples (when the run augments)
confusion.png      confusion matrix on the test set, normalised, with counts (ensembles: the
                   vote's, of the members or of the cycle-end snapshots)
prf.png            per-class precision / recall / F1
misclassified.png  the first nine misclassified test images beside the nine most confident
                   mistakes (p = the model's probability of its wrong label; for a vote, the
                   share of voters that chose it)
retrain_curves.png the retrained model's curves
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from scratchlab import plots
from scratchlab.experiments.result import RunResult
from scratchlab.metrics import classification_metrics


def mean_rows(histories: list[list[dict]]) -> list[dict]:
    """The members' histories averaged row by row over the epochs every member reached."""
    n = min(len(h) for h in histories)
    out = []
    for i in range(n):
        row = {"epoch": histories[0][i]["epoch"]}
        for key in histories[0][i]:
            if key != "epoch":
                values = [float(h[i][key]) for h in histories]
                finite = [v for v in values if math.isfinite(v)]
                row[key] = float(np.mean(finite)) if finite else math.nan
        out.append(row)
    return out


def in_epochs(rows: list[dict], updates_per_epoch: int) -> list[dict]:
    """Rows with a `step` (eval_every) placed at epoch = step / updates per epoch."""
    if not rows or "step" not in rows[0]:
        return rows
    return [{**r, "epoch": r["step"] / updates_per_epoch} for r in rows]


def run_figures(result: RunResult, run_dir: Path) -> dict[str, str]:
    """Draw every figure of the run; returns {key: path relative to run_dir}."""
    run_dir = Path(run_dir)
    fig_dir = run_dir / "figures"
    out: dict[str, Path] = _curves(result, fig_dir)
    if len(result.members) == 1:
        splits = result.splits
        out |= _weights(
            result.members[0].model, splits.image_shape, splits.class_names, fig_dir,
            result.spec.name,
        )  # fmt: skip
    if result.spec.train.augment:
        out["augmentation"] = _augmentation(result, fig_dir)
    if result.splits.test.n:
        out |= _test_figures(result, fig_dir)
    if result.retrain is not None:
        out["retrain_curves"] = plots.plot_loss_cost_acc(
            result.retrain.member.history.rows,
            fig_dir / "retrain_curves.png",
            title=f"{result.spec.name} — retrained on all data",
        )
    return {k: Path(v).relative_to(run_dir).as_posix() for k, v in out.items()}


def _whose(result: RunResult) -> str:
    """Whose predictions the test figures show, for their titles."""
    kind, k = result.ensemble_kind, len(result.voters)
    if kind == "seeds":
        return f" — majority vote of {k} members"
    return f" — majority vote of {k} cycle-end snapshots" if kind == "snapshots" else ""


def _curves(result: RunResult, fig_dir: Path) -> dict[str, Path]:
    spec, first = result.spec, result.members[0]
    u = result.training.get("updates_per_epoch", 1)
    path = fig_dir / "curves.png"
    if len(result.members) > 1:
        k = len(result.members)
        rows = in_epochs(mean_rows([m.history.rows for m in result.members]), u)
        return {
            "curves": plots.plot_loss_cost_acc(
                rows, path, title=f"{spec.name} — mean of {k} members"
            )
        }
    es = spec.train.early_stopping
    restored = spec.train.keep_best or (es is not None and es.restore_best)
    best = first.history.best_epoch if restored else None
    rows = in_epochs(first.history.rows, u)
    return {"curves": plots.plot_loss_cost_acc(rows, path, title=spec.name, best_epoch=best)}


def _augmentation(result: RunResult, fig_dir: Path) -> Path:
    from scratchlab.experiments.assemble import make_augment

    spec, splits = result.spec, result.splits
    rng = np.random.default_rng(spec.seed)
    originals = splits.train.X[:8]  # uint8; augmentation gets them standardised, as in fit
    augmented = make_augment(spec, splits)(splits.standardiser(originals), rng)
    return plots.plot_augmentation_examples(
        splits.pixels(originals),
        np.clip(splits.raw(augmented), 0, 1),
        splits.image_shape,
        fig_dir / "augmentation.png",
        title="Original (top) and augmented (bottom)",
    )


def _test_figures(result: RunResult, fig_dir: Path) -> dict[str, Path]:
    splits, y_pred = result.splits, result.predictions["test"]
    names, title = splits.class_names, f"{result.spec.name}{_whose(result)}"
    report = classification_metrics(splits.test.y, y_pred, names)
    out = {
        "confusion": plots.plot_confusion(
            np.asarray(report["confusion_normalised"]), names, fig_dir / "confusion.png",
            title=f"Confusion matrix (test) — {title}", counts=report["confusion"],
        ),
        "prf": plots.plot_per_class_prf(
            report, names, fig_dir / "prf.png",
            title=f"Per-class precision, recall, F1 — {title}",
        ),
    }  # fmt: skip
    keep = _mistakes_shown(splits.test.y, y_pred, confidence := _confidence(result, y_pred))
    if len(keep):  # only the images shown are converted to pixels (not the whole test set)
        out["misclassified"] = plots.plot_mistakes(
            splits.pixels(splits.test.X[keep]), splits.image_shape, splits.test.y[keep],
            y_pred[keep], confidence[keep], names, fig_dir / "misclassified.png",
        )  # fmt: skip
    return out


def _mistakes_shown(y_true, y_pred, confidence, n: int = 9) -> np.ndarray:
    """Indices of the first `n` mistakes and the `n` most confident ones, in test-set order
    (plot_mistakes picks the same ones again from this subset)."""
    wrong = np.flatnonzero(y_true != y_pred)
    sure = wrong[np.argsort(-confidence[wrong], kind="stable")[:n]]
    return np.union1d(wrong[:n], sure)


def _confidence(result: RunResult, y_pred: np.ndarray) -> np.ndarray:
    """How sure the run was of each test prediction: the model's probability of it, or for
    a vote the share of voters that chose it."""
    rows = np.arange(len(y_pred))
    if result.voters:
        votes = np.stack([v.predictions["test"] for v in result.voters])
        return np.mean(votes == y_pred[None, :], axis=0)
    splits = result.splits
    proba = result.members[0].model.predict_proba(splits.test.X, transform=splits.standardiser)
    return proba[rows, y_pred]


def _weights(model, shape, names, fig_dir: Path, title: str) -> dict[str, Path]:
    first = next((layer.params["W"] for layer in model.layers if "W" in layer.params), None)
    if first is None or first.shape[0] != int(np.prod(shape)):
        return {}
    if len(model.layers) == 1 or first.shape[1] == len(names):
        return {
            "weights": plots.plot_weight_templates(
                first, shape, names, fig_dir / "weights.png", title=f"Class templates — {title}"
            )
        }
    return {
        "units": plots.plot_unit_templates(
            first,
            shape,
            fig_dir / "units.png",
            n=min(64, first.shape[1]),
            title=f"First-layer units — {title}",
        )
    }
