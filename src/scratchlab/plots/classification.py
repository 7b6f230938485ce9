"""Charts of classification results: confusion heatmap, per-class P/R/F1, run comparison."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.ticker import PercentFormatter

from scratchlab.plots._base import (
    SMALL,
    TITLE_SIZE,
    fit_title,
    new_figure,
    save,
    set_category_ticks,
)


def plot_confusion(cm_normalised, class_names: Sequence[str], path, title=None, counts=None):
    """Annotated heatmap of a row-normalised confusion matrix (K, K).

    Rows = true class, columns = predicted class; the colour is the share of the true class.
    Each cell shows its share in percent or, given `counts` (the (K, K) image counts), the
    count with the share below it (only the count for K > 12; blank for K > 25).
    """
    cm = np.asarray(cm_normalised, dtype=float)
    K = len(class_names)
    if cm.shape != (K, K):
        raise ValueError(f"confusion matrix has shape {cm.shape}, expected ({K}, {K})")
    counts = None if counts is None else np.asarray(counts, dtype=np.int64)
    if counts is not None and counts.shape != (K, K):
        raise ValueError(f"counts have shape {counts.shape}, expected ({K}, {K})")
    side = min(10.0, max(4.8, 0.5 * K + 2.6))
    fig = new_figure(side + 1.0, side)
    ax = fig.subplots()
    im = ax.imshow(cm, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    cbar = fig.colorbar(im, ax=ax, shrink=0.85, format=PercentFormatter(1.0, decimals=0))
    cbar.set_label("share of the true class", fontsize=SMALL + 1)
    if K <= 25:
        size = 9 if K <= 12 else 7
        for (i, j), v in np.ndenumerate(cm):
            colour = "white" if v > 0.55 else "black"
            share = f"{100 * v:.0f} %"
            text = share if counts is None else f"{counts[i, j]}\n{share}"
            if counts is not None and K > 12:
                text = str(counts[i, j])
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=size - 1)
    set_category_ticks(ax, class_names, "x")
    set_category_ticks(ax, class_names, "y")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or "Confusion matrix (rows sum to 100 %)", fontsize=TITLE_SIZE)
    return save(fig, path)


def _prf_arrays(metrics_or_arrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = metrics_or_arrays
    if isinstance(m, Mapping):
        return tuple(np.asarray(m[k], dtype=float) for k in ("precision", "recall", "f1"))
    if len(m) != 3:
        raise ValueError("expected a metrics dict or (precision, recall, f1) arrays")
    return tuple(np.asarray(a, dtype=float) for a in m)


def plot_per_class_prf(metrics_or_arrays, class_names: Sequence[str], path, title=None):
    """Grouped bars of precision, recall and F1 per class.

    ``metrics_or_arrays``: the dict from ``scratchlab.metrics.classification_metrics`` (or
    any mapping with ``precision``, ``recall``, ``f1`` lists), or a (P, R, F1) triple of (K,).
    """
    p, r, f1 = _prf_arrays(metrics_or_arrays)
    K = len(class_names)
    if not (p.shape == r.shape == f1.shape == (K,)):
        raise ValueError(f"precision/recall/F1 must each have {K} values (one per class)")
    x = np.arange(K)
    width = 0.27
    fig = new_figure(max(6.0, 0.75 * K + 2.0) + 1.8, 4.2)  # + room for the legend
    ax = fig.subplots()
    for shift, values, name, colour in (
        (-width, p, "precision", "#4c72b0"),
        (0.0, r, "recall", "#dd8452"),
        (width, f1, "F1", "#55a868"),
    ):
        ax.bar(
            x + shift, values, width, label=f"{name} (macro {np.mean(values):.2f})", color=colour
        )
    set_category_ticks(ax, class_names, "x")
    ax.set_xlim(-0.6, K - 0.4)
    ax.set_ylim(0.0, 1.05)
    ax.set_ylabel("score")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=SMALL)
    title = title or "Per-class precision, recall and F1 (test set)"
    ax.set_title(fit_title(title, fig.get_figwidth()), fontsize=TITLE_SIZE)
    return save(fig, path)


def plot_comparison_bars(
    labels: Sequence[str],
    values,
    path,
    ylabel: str = "test accuracy",
    title: str | None = None,
    best: str | None = "max",
    fmt: str = "{:.3f}",
):
    """One bar per run with its value written on it; the best run (``best`` = "max" or
    "min", None for no highlight) is drawn in a contrasting colour. NaN values show "n/a".

    Horizontal bars are used when there are many runs or long names, so names stay legible.
    """
    labels = [str(s) for s in labels]
    v = np.array([np.nan if x is None else float(x) for x in values])
    if len(labels) != len(v):
        raise ValueError(f"{len(labels)} labels for {len(v)} values")
    if best not in ("max", "min", None):
        raise ValueError(f"best must be 'max', 'min' or None, got {best!r}")
    finite = np.isfinite(v)
    best_i = None
    if best and finite.any():
        best_i = int(np.nanargmax(v) if best == "max" else np.nanargmin(v))
    colours = ["#e07b39" if i == best_i else "#7f9fbf" for i in range(len(v))]
    horizontal = len(v) > 8 or max((len(s) for s in labels), default=0) > 14
    n = len(v)
    if horizontal:
        fig = new_figure(7.5, max(2.5, 0.42 * n + 1.2))
    else:
        fig = new_figure(max(5.0, 0.9 * n + 2.0), 4.2)
    ax = fig.subplots()
    pos = np.arange(n)
    heights = np.where(finite, v, 0.0)
    bars = (ax.barh if horizontal else ax.bar)(pos, heights, 0.65, color=colours)
    texts = [fmt.format(x) if np.isfinite(x) else "n/a" for x in v]
    ax.bar_label(bars, texts, padding=3, fontsize=SMALL)
    top = np.nanmax(np.abs(v)) if finite.any() else 1.0
    if horizontal:
        ax.set_yticks(pos, labels)
        ax.invert_yaxis()  # first run at the top
        ax.set_xlabel(ylabel)
        ax.set_xlim(min(0.0, np.nanmin(v) * 1.15 if finite.any() else 0.0), top * 1.15)
        ax.grid(axis="x", alpha=0.3)
    else:
        set_category_ticks(ax, labels, "x")
        ax.set_ylabel(ylabel)
        ax.set_ylim(min(0.0, np.nanmin(v) * 1.15 if finite.any() else 0.0), top * 1.15)
        ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    if title is None:
        title = f"{ylabel[:1].upper()}{ylabel[1:]} per run"
    if best_i is not None:
        short = len(labels[best_i]) <= 24
        title += f" (best: {labels[best_i]})" if short else " (best highlighted)"
    ax.set_title(fit_title(title, fig.get_figwidth()), fontsize=TITLE_SIZE)
    return save(fig, path)
