"""Learning curves from History rows (``scratchlab.train.History.rows``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from scratchlab.plots._base import TITLE_SIZE, new_figure, save

METRICS = {
    "loss": "loss",
    "cost": "cost (loss + regularisation)",
    "acc": "accuracy",
}
_PANEL_TITLES = {"loss": "Loss", "cost": "Cost", "acc": "Accuracy"}


def _column(rows: Sequence[Mapping], key: str) -> np.ndarray:
    """rows[i][key] as floats; a missing, empty or non-finite value becomes NaN."""
    out = np.full(len(rows), np.nan)
    for i, row in enumerate(rows):
        value = row.get(key)
        try:
            out[i] = float(value) if value not in (None, "") else np.nan
        except (TypeError, ValueError):
            out[i] = np.nan
    out[~np.isfinite(out)] = np.nan
    return out


def _draw(ax: Axes, rows: Sequence[Mapping], metric: str, best_epoch: int | None) -> None:
    """Train and validation ``metric`` against epoch on ``ax``; NaN val columns are omitted."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if not rows:
        raise ValueError("no history rows to plot")
    epochs = _column(rows, "epoch")
    if np.isnan(epochs).any():
        epochs = np.arange(len(rows), dtype=float)
    marker = "o" if len(rows) <= 25 else None
    shown = []
    for part, colour in (("train", "C0"), ("val", "C1")):
        y = _column(rows, f"{part}_{metric}")
        if np.isnan(y).all():
            continue
        label = "training" if part == "train" else "validation"
        ax.plot(epochs, y, color=colour, marker=marker, ms=3.5, lw=1.8, label=label)
        shown.append(y[~np.isnan(y)])
    values = np.concatenate(shown) if shown else np.array([])
    log = metric != "acc" and values.size and values.min() > 0 and values.max() > 100 * values.min()
    if best_epoch is not None:
        ax.axvline(best_epoch, color="0.35", ls="--", lw=1.2, label=f"best epoch ({best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(METRICS[metric] + (" (log scale)" if log else ""))
    if log:  # a diverging run would flatten everything else on a linear axis
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False)


def plot_curves(
    rows: Sequence[Mapping],
    path,
    metric: str = "loss",
    title: str | None = None,
    best_epoch: int | None = None,
):
    """One learning curve: training vs validation ``metric`` per epoch (epoch 0 = untrained).

    rows: History rows with keys ``epoch, train_<m>, val_<m>`` for m in loss, cost, acc;
    a validation column that is all NaN (no validation set) is left out.
    """
    fig = new_figure(6.0, 4.0)
    ax = fig.subplots()
    _draw(ax, rows, metric, best_epoch)
    ax.set_title(title or f"{_PANEL_TITLES[metric]} per epoch", fontsize=TITLE_SIZE)
    return save(fig, path)


def plot_loss_cost_acc(
    rows: Sequence[Mapping], path, title: str | None = None, best_epoch: int | None = None
):
    """Three panels side by side — loss, cost, accuracy — as DD2424 reports show them."""
    fig = new_figure(14.0, 4.0)
    for ax, metric in zip(fig.subplots(1, 3), METRICS, strict=True):
        _draw(ax, rows, metric, best_epoch)
        ax.set_title(_PANEL_TITLES[metric], fontsize=TITLE_SIZE - 1)
    if title:
        fig.suptitle(title, fontsize=TITLE_SIZE + 1)
    return save(fig, path)
