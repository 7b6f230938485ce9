"""The figures of one run, written under `<run>/figures/` and listed in its metrics.json.

curves.png         loss, cost and accuracy per epoch, train vs val
weights.png        class templates (linear model) — units.png for an MLP's first layer
augmentation.png   originals vs augmented samples (when the run augments)
confusion.png      normalised confusion matrix on the test set
prf.png            per-class precision / recall / F1
misclassified.png  the first nine misclassified test images
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scratchlab import plots
from scratchlab.data import Splits
from scratchlab.experiments.schema import RunSpec
from scratchlab.metrics import classification_metrics, misclassified
from scratchlab.train import History


def run_figures(
    spec: RunSpec,
    model,
    history: History,
    splits: Splits,
    y_pred: np.ndarray,
    run_dir: Path,
    *,
    retrain_dir: Path | None = None,
) -> dict[str, str]:
    """Draw every figure of the run; returns {key: path relative to run_dir}."""
    fig_dir = run_dir / "figures"
    names, shape = splits.class_names, splits.image_shape
    out: dict[str, Path] = {}
    title = f"{spec.name}"
    restored = spec.train.keep_best or (
        spec.train.early_stopping is not None and spec.train.early_stopping.restore_best
    )
    out["curves"] = plots.plot_loss_cost_acc(
        history.rows, fig_dir / "curves.png", title=title,
        best_epoch=history.best_epoch if restored else None,
    )  # fmt: skip
    first = _first_weight(model)
    if first is not None and first.shape[0] == int(np.prod(shape)):
        if len(model.layers) == 1 or first.shape[1] == len(names):
            out["weights"] = plots.plot_weight_templates(
                first, shape, names, fig_dir / "weights.png", title=f"Class templates — {title}"
            )
        else:
            out["units"] = plots.plot_unit_templates(
                first, shape, fig_dir / "units.png", n=min(64, first.shape[1]),
                title=f"First-layer units — {title}",
            )  # fmt: skip
    if spec.train.augment:
        from scratchlab.experiments.execute import make_augment

        rng = np.random.default_rng(spec.seed)
        originals = splits.train.X[:8]
        augmented = make_augment(spec, splits)(originals.copy(), rng)
        out["augmentation"] = plots.plot_augmentation_examples(
            splits.raw(originals), np.clip(splits.raw(augmented), 0, 1), shape,
            fig_dir / "augmentation.png", title="Original (top) and augmented (bottom)",
        )  # fmt: skip
    report = classification_metrics(splits.test.y, y_pred, names)
    out["confusion"] = plots.plot_confusion(
        np.asarray(report["confusion_normalised"]), names, fig_dir / "confusion.png",
        title=f"Normalised confusion matrix (test) — {title}",
    )  # fmt: skip
    out["prf"] = plots.plot_per_class_prf(
        report, names, fig_dir / "prf.png", title=f"Per-class precision, recall, F1 — {title}"
    )
    idx = misclassified(splits.test.y, y_pred, n=9)
    if len(idx):
        out["misclassified"] = plots.plot_misclassified(
            np.clip(splits.raw(splits.test.X[idx]), 0, 1), shape, splits.test.y[idx],
            y_pred[idx], names, fig_dir / "misclassified.png",
        )  # fmt: skip
    if retrain_dir is not None and (retrain_dir / "history.csv").exists():
        rt = History.from_csv(retrain_dir / "history.csv")
        out["retrain_curves"] = plots.plot_loss_cost_acc(
            rt.rows, fig_dir / "retrain_curves.png", title=f"{title} — retrained on all data"
        )
    return {k: Path(v).relative_to(run_dir).as_posix() for k, v in out.items()}


def _first_weight(model) -> np.ndarray | None:
    for layer in model.layers:
        if "W" in layer.params:
            return layer.params["W"]
    return None
