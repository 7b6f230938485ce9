"""Learning curves from History rows (``scratchlab.train.History.rows``).

The y-axis is scaled to the trained epochs (1, 2, ...): the untrained model (epoch 0) is
usually far worse than any trained epoch (loss ln K, accuracy 1/K), and including it squashes
the curves that matter: on MNIST the train/validation gap disappears. Epoch 0 is drawn as a
hollow marker; when it lies outside the axis it is pinned to the edge (a triangle pointing
towards it) and its value is written at the right end of that edge, where the curves rarely
are (a loss falls from the top edge, an accuracy rises from the bottom one). Accuracy axes
read in percent. ``full_range=True`` gives the old view.

The cost panel is dropped when it equals the loss (no regularisation: λ = 0 and L1 = 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator, PercentFormatter

from scratchlab.plots._base import SMALL, TITLE_SIZE, new_figure, save

METRICS = {
    "loss": "loss",
    "cost": "cost (loss + regularisation)",
    "acc": "accuracy (%)",
}
_PANEL_TITLES = {"loss": "Loss", "cost": "Cost", "acc": "Accuracy"}
_SET_LABEL = {"train": "training", "val": "validation"}


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


def _epochs(rows: Sequence[Mapping]) -> np.ndarray:
    epochs = _column(rows, "epoch")
    return np.arange(len(rows), dtype=float) if np.isnan(epochs).any() else epochs


def cost_equals_loss(rows: Sequence[Mapping]) -> bool:
    """True when every finite cost equals its loss (to 1e-9 relative): no regulariser."""
    for part in ("train", "val"):
        loss, cost = _column(rows, f"{part}_loss"), _column(rows, f"{part}_cost")
        if not np.allclose(loss, cost, rtol=1e-9, atol=0.0, equal_nan=True):
            return False
    return True


def _limits(values: list[np.ndarray], log: bool) -> tuple[float, float] | None:
    """y-limits padded by 6 % (multiplicatively on a log axis) around the finite values."""
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([])
    if finite.size == 0:
        return None
    lo, hi = float(finite.min()), float(finite.max())
    if log:
        return lo / 1.15, hi * 1.15
    pad = 0.06 * (hi - lo) if hi > lo else max(abs(hi) * 0.05, 1e-3)
    return lo - pad, hi + pad


def _value_text(y: float, metric: str) -> str:
    return f"{100 * y:.1f} %" if metric == "acc" else f"{y:.3g}"


def _mark_untrained(
    ax: Axes, x: float, y: float, colour: str, limits, labelled: set, metric: str
) -> None:
    """Epoch 0 as a hollow marker, pinned to the axis edge (with its value) if outside;
    a value already labelled at that edge (train and validation alike) is labelled once."""
    if not np.isfinite(y):
        return
    lo, hi = limits
    if lo <= y <= hi:
        ax.plot([x], [y], ls="none", marker="o", mfc="white", mec=colour, ms=6, zorder=3)
        return
    edge, marker, va = (hi, "^", "top") if y > hi else (lo, "v", "bottom")
    ax.plot([x], [edge], ls="none", marker=marker, color=colour, ms=7, clip_on=False, zorder=3)
    text = f"epoch 0: {_value_text(y, metric)}"
    if (text, va) in labelled:
        return
    offset = 4 + 11 * sum(1 for _, v in labelled if v == va)
    labelled.add((text, va))
    ax.annotate(
        text,
        (1.0, edge),
        xycoords=ax.get_yaxis_transform(),  # x in axes fraction (the right end), y in data
        xytext=(-6, -offset if va == "top" else offset),
        textcoords="offset points",
        fontsize=SMALL - 1,
        color=colour,
        ha="right",
        va=va,
    )


def draw_series(
    ax: Axes, series, metric: str, *, full_range: bool = False, xlabel: str = "epoch"
) -> None:
    """Draw `series` = [(label, epochs, values, colour, linestyle)] of one metric on `ax`.

    Epochs 1.. are lines; epoch 0 (if present) is marked apart and left out of the y-scale
    unless `full_range`. A loss spanning more than 100x is drawn on a log axis.
    """
    trained = [y[x > 0] if not full_range else y for _, x, y, _, _ in series]
    finite = [v[np.isfinite(v)] for v in trained]
    allv = np.concatenate(finite) if finite else np.array([])
    log = metric != "acc" and allv.size > 0 and allv.min() > 0 and allv.max() > 100 * allv.min()
    if log:  # a diverging run would flatten everything else on a linear axis
        ax.set_yscale("log")
    limits = _limits(trained, bool(log))
    n_points = max((len(x) for _, x, _, _, _ in series), default=0)
    marker = "o" if n_points <= 25 else None
    labelled: set = set()
    for label, x, y, colour, ls in series:
        keep = x >= 0 if full_range else x > 0
        ax.plot(x[keep], y[keep], color=colour, ls=ls, marker=marker, ms=3, lw=1.7, label=label)
        if not full_range and limits is not None and (x == 0).any():
            _mark_untrained(ax, 0.0, float(y[x == 0][0]), colour, limits, labelled, metric)
    if limits is not None:
        ax.set_ylim(*limits)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(METRICS[metric] + (" (log scale)" if log else ""))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if metric == "acc":
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None, symbol=""))
    ax.grid(alpha=0.3)


def _draw(ax: Axes, rows, metric: str, best_epoch: int | None, full_range: bool = False) -> None:
    """Train and validation `metric` of one history on `ax`; an all-NaN set is omitted."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if not rows:
        raise ValueError("no history rows to plot")
    epochs = _epochs(rows)
    series = []
    for part, colour in (("train", "C0"), ("val", "C1")):
        y = _column(rows, f"{part}_{metric}")
        if not np.isnan(y).all():
            series.append((_SET_LABEL[part], epochs, y, colour, "-"))
    draw_series(ax, series, metric, full_range=full_range)
    if best_epoch is not None:
        ax.axvline(best_epoch, color="0.35", ls="--", lw=1.2, label=f"best epoch ({best_epoch})")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=SMALL)


def plot_curves(
    rows: Sequence[Mapping],
    path,
    metric: str = "loss",
    title: str | None = None,
    best_epoch: int | None = None,
    full_range: bool = False,
):
    """One learning curve: training vs validation ``metric`` per epoch (epoch 0 = untrained).

    rows: History rows with keys ``epoch, train_<m>, val_<m>`` for m in loss, cost, acc;
    a validation column that is all NaN (no validation set) is left out.
    """
    fig = new_figure(6.0, 4.0)
    ax = fig.subplots()
    _draw(ax, rows, metric, best_epoch, full_range)
    ax.set_title(title or f"{_PANEL_TITLES[metric]} per epoch", fontsize=TITLE_SIZE)
    return save(fig, path)


def plot_loss_cost_acc(
    rows: Sequence[Mapping],
    path,
    title: str | None = None,
    best_epoch: int | None = None,
    full_range: bool = False,
):
    """Loss, cost and accuracy side by side, as DD2424 reports show them.

    The cost panel is left out when the cost equals the loss (`cost_equals_loss`); the loss
    panel's title then says so.
    """
    same = cost_equals_loss(rows)
    metrics = ("loss", "acc") if same else ("loss", "cost", "acc")
    fig = new_figure(4.7 * len(metrics), 4.0)
    for ax, metric in zip(fig.subplots(1, len(metrics)), metrics, strict=True):
        _draw(ax, rows, metric, best_epoch, full_range)
        name = "Loss (= cost: no regularisation)" if same and metric == "loss" else None
        ax.set_title(name or _PANEL_TITLES[metric], fontsize=TITLE_SIZE - 1)
    if title:
        fig.suptitle(title, fontsize=TITLE_SIZE + 1)
    return save(fig, path)


def plot_overlay(
    runs: Sequence[tuple[str, Sequence[Mapping]]],
    path,
    metrics: Sequence[str] = ("loss", "acc"),
    sets: Sequence[str] = ("train", "val"),
    title: str | None = None,
    xlabel: str = "epoch",
):
    """Curves of several runs on shared axes: one colour per run, solid = training,
    dashed = validation; one panel per metric. runs: [(label, history rows)]; the x value
    is each row's `epoch` (pass rows with `epoch` = step for per-update curves)."""
    if not runs:
        raise ValueError("no runs to overlay")
    fig = new_figure(max(6.0, 5.2 * len(metrics)), 4.3)
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    for ax, metric in zip(axes, metrics, strict=True):
        series = []
        for i, (label, rows) in enumerate(runs):
            for part in sets:
                y = _column(rows, f"{part}_{metric}")
                if not np.isnan(y).all():
                    ls = "-" if part == "train" else "--"
                    series.append((f"{label} ({part})", _epochs(rows), y, f"C{i % 10}", ls))
        draw_series(ax, series, metric, xlabel=xlabel)
        ax.set_title(_PANEL_TITLES[metric], fontsize=TITLE_SIZE - 1)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=min(4, len(labels)),
        frameon=False,
        fontsize=SMALL,
    )
    if title:
        fig.suptitle(title, fontsize=TITLE_SIZE + 1)
    return save(fig, path)
