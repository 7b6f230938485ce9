"""The figures of one run, written under `<run>/figures/` and listed in its metrics.json.

NOTE (report helper, 2026-11-30): this file was overwritten by mistake by the report
session (a name clash: the report's figures-across-runs module now lives in crossruns.py)
and rebuilt from artifacts.py and tests/test_pipeline.py; check it against your version.

curves.png         loss, cost and accuracy per epoch, train vs val (ensembles: members' mean);
                   with eval_every, every evaluation at x = update step / updates per epoch
weights.png        class templates (linear model) — units.png for an MLP's first layer
augmentation.png   originals vs augmented samples (when the run augments)
confusion.png      normalised confusion matrix on the test set (ensembles: the vote's, of the
                   members or of the cycle-end snapshots)
prf.png            per-class precision / recall / F1
misclassified.png  the first nine misclassified test images
retrain_curves.png the retrained model's curves
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from scratchlab import plots
from scratchlab.experiments.result import RunResult
from scratchlab.metrics import classification_metrics, misclassified


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
    spec, splits = result.spec, result.splits
    names, shape = splits.class_names, splits.image_shape
    title = spec.name
    out: dict[str, Path] = {}
    first = result.members[0]
    restored = spec.train.keep_best or (
        spec.train.early_stopping is not None and spec.train.early_stopping.restore_best
    )
    u = result.training.get("updates_per_epoch", 1)
    if len(result.members) > 1:
        k = len(result.members)
        rows = in_epochs(mean_rows([m.history.rows for m in result.members]), u)
        out["curves"] = plots.plot_loss_cost_acc(
            rows, fig_dir / "curves.png", title=f"{title} — mean of {k} members"
        )
        whose = f" — majority vote of {k} members"
    else:
        out["curves"] = plots.plot_loss_cost_acc(
            in_epochs(first.history.rows, u),
            fig_dir / "curves.png",
            title=title,
            best_epoch=first.history.best_epoch if restored else None,
        )
        k = len(first.snapshots)
        whose = f" — majority vote of {k} cycle-end snapshots" if result.is_ensemble else ""
        out.update(_weights(first.model, shape, names, fig_dir, title))
    if spec.train.augment:
        from scratchlab.experiments.assemble import make_augment

        rng = np.random.default_rng(spec.seed)
        originals = splits.train.X[:8]  # uint8; augmentation gets them standardised, as in fit
        augmented = make_augment(spec, splits)(splits.standardiser(originals), rng)
        out["augmentation"] = plots.plot_augmentation_examples(
            splits.pixels(originals),
            np.clip(splits.raw(augmented), 0, 1),
            shape,
            fig_dir / "augmentation.png",
            title="Original (top) and augmented (bottom)",
        )
    y_pred = result.predictions["test"]
    if splits.test.n:
        report = classification_metrics(splits.test.y, y_pred, names)
        out["confusion"] = plots.plot_confusion(
            np.asarray(report["confusion_normalised"]),
            names,
            fig_dir / "confusion.png",
            title=f"Normalised confusion matrix (test) — {title}{whose}",
        )
        out["prf"] = plots.plot_per_class_prf(
            report,
            names,
            fig_dir / "prf.png",
            title=f"Per-class precision, recall, F1 — {title}{whose}",
        )
        idx = misclassified(splits.test.y, y_pred, n=9)
        if len(idx):
            out["misclassified"] = plots.plot_misclassified(
                splits.pixels(splits.test.X[idx]),
                shape,
                splits.test.y[idx],
                y_pred[idx],
                names,
                fig_dir / "misclassified.png",
            )
    if result.retrain is not None:
        out["retrain_curves"] = plots.plot_loss_cost_acc(
            result.retrain.member.history.rows,
            fig_dir / "retrain_curves.png",
            title=f"{title} — retrained on all data",
        )
    return {k: Path(v).relative_to(run_dir).as_posix() for k, v in out.items()}


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
