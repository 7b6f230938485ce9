"""Figures across runs: accuracies with intervals, grid heat maps, learning-rate schedules and
several runs' figures stacked for comparison."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np

from scratchlab.plots._base import DPI, SMALL, TITLE_SIZE, fit_title, new_figure, save

BEST, TIED, OTHER = "#d9641e", "#e8a25c", "#5f7fa8"


def plot_intervals(
    labels: Sequence[str],
    values,
    lo,
    hi,
    path,
    *,
    best: int | None = None,
    tied: Sequence[int] = (),
    xlabel: str = "validation accuracy (%)",
    title: str | None = None,
):
    """One row per run: its accuracy (a dot, in %) and 95 % interval (a bar).

    The best run (index `best`) is drawn in orange with ★ and its interval shaded across the
    chart, so runs whose dot falls in the shade (`tied`, lighter orange) read as ties.
    Runs with no value (NaN) show "n/a". A run whose interval ends more than `OFF_SCALE`
    points below the best value is left out of the x-scale (a failed run at 42 % would
    squash 96-98 % into a line): a triangle at the left edge with its value marks it.
    """
    v, lo, hi = (100 * np.asarray(a, dtype=float) for a in (values, lo, hi))
    n = len(labels)
    if not (len(v) == len(lo) == len(hi) == n):
        raise ValueError(f"{n} labels for {len(v)} values")
    fig = new_figure(7.8, max(2.2, 0.34 * n + 1.3))
    ax = fig.subplots()
    pos = np.arange(n)
    if best is not None and np.isfinite(lo[best]):
        ax.axvspan(lo[best], hi[best], color=BEST, alpha=0.12, lw=0)
    finite = np.isfinite(lo) & np.isfinite(hi)
    top = v[best] if best is not None and np.isfinite(v[best]) else np.nanmax(v, initial=-1)
    off = finite & (hi < top - OFF_SCALE)
    shown = finite & ~off
    left = _x_limits(ax, lo[shown], hi[shown]) if shown.any() else 0.0
    tied_set = set(tied)
    for i in range(n):
        colour = BEST if i == best else TIED if i in tied_set else OTHER
        if off[i]:
            _off_scale_row(ax, i, v[i], colour, left)
        else:
            _interval_row(ax, i, v[i], lo[i], hi[i], colour, left)
    names = [("★ " if i == best else "") + str(s) for i, s in enumerate(labels)]
    ax.set_yticks(pos, names, fontsize=SMALL)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_title(
        fit_title(title or "Accuracy per run with 95 % intervals", 7.8), fontsize=TITLE_SIZE
    )
    return save(fig, path)


OFF_SCALE = 15.0  # points below the best value beyond which a run is drawn off the x-scale


def _x_limits(ax, lo: np.ndarray, hi: np.ndarray) -> float:
    """Fit the x-axis to the intervals (with room for the value labels, ≤ 100 %); the left end."""
    span = hi.max() - lo.min()
    right = min(hi.max() + 0.12 * span + 1, 100.0 + 0.08 * span)
    left = max(lo.min() - 0.05 * span - 0.5, 0.0)
    ax.set_xlim(left, right)
    return left


def _off_scale_row(ax, i: int, v: float, colour: str, left: float) -> None:
    """Row i of `plot_intervals` for a run far below the others: ◂ at the left edge, its value."""
    ax.plot([left], [i], "<", color=colour, ms=7, clip_on=False)
    _value_label(ax, f"{v:.1f} (off scale)", left, i, 7)


def _interval_row(ax, i: int, v: float, lo: float, hi: float, colour: str, left: float) -> None:
    """Row i of `plot_intervals`: a bar from lo to hi, a dot at v and its value; "n/a" if NaN."""
    if not np.isfinite(v):
        ax.text(left, i, " n/a", va="center", fontsize=SMALL)
        return
    ax.plot([lo, hi], [i, i], color=colour, lw=2.2, solid_capstyle="butt")
    ax.plot([v], [i], "o", color=colour, ms=6)
    _value_label(ax, f"{v:.1f}", hi, i, 4)


def _value_label(ax, text: str, x: float, i: int, dx: float) -> None:
    """`text` beside the point (x, row i), `dx` points to its right."""
    ax.annotate(
        text, (x, i), xytext=(dx, 0), textcoords="offset points", va="center", fontsize=SMALL - 1
    )


def plot_heatmaps(
    panels: Sequence[tuple[str, np.ndarray]],
    xticks: Sequence[str],
    yticks: Sequence[str],
    path,
    *,
    xlabel: str,
    ylabel: str,
    best: tuple[int, int, int] | None = None,
    title: str | None = None,
    value_label: str = "validation accuracy (%)",
):
    """One heat map per panel (e.g. per value of a third grid axis), shared colour scale.

    panels: [(subtitle, values (len(yticks), len(xticks)) as fractions, NaN = missing)];
    each cell is written in %, `best` = (panel, row, column) is outlined and starred.
    """
    if not panels:
        raise ValueError("no heat map panels")
    stack = np.stack([100 * np.asarray(p[1], dtype=float) for p in panels])
    if stack.shape[1:] != (len(yticks), len(xticks)):
        raise ValueError(
            f"values have shape {stack.shape[1:]}, ticks say ({len(yticks)}, {len(xticks)})"
        )
    finite = stack[np.isfinite(stack)]
    vmin, vmax = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    k = len(panels)
    fig = new_figure(0.9 * len(xticks) * k + 1.6 * k + 1.2, 0.55 * len(yticks) + 1.9)
    axes = np.atleast_1d(fig.subplots(1, k, sharey=True))
    for p, (ax, (subtitle, _)) in enumerate(zip(axes, panels, strict=True)):
        im = ax.imshow(stack[p], cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
        for (i, j), val in np.ndenumerate(stack[p]):
            star = "★" if best == (p, i, j) else ""
            text = "–" if not np.isfinite(val) else f"{star}{val:.1f}"
            bright = np.isfinite(val) and val > vmin + 0.6 * (vmax - vmin)
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=SMALL,
                color="black" if bright else "white",
            )
        if best is not None and best[0] == p:
            ax.add_patch(_outline(best[2], best[1]))
        ax.set_xticks(range(len(xticks)), list(xticks), fontsize=SMALL)
        ax.set_yticks(range(len(yticks)), list(yticks), fontsize=SMALL)
        ax.set_xlabel(xlabel)
        ax.set_title(subtitle, fontsize=SMALL + 1)
    axes[0].set_ylabel(ylabel)
    fig.colorbar(im, ax=list(axes), shrink=0.9).set_label(value_label, fontsize=SMALL)
    if title:
        fig.suptitle(fit_title(title, fig.get_figwidth()), fontsize=TITLE_SIZE)
    return save(fig, path)


def _outline(x: float, y: float):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, ec="#d9641e", lw=2.5)


def plot_lr(
    schedules: Sequence[tuple[str, np.ndarray]],
    steps_per_epoch: Sequence[int],
    path,
    title: str | None = None,
):
    """The learning rate of every update, one line per run; x = update step.

    schedules: [(label, rates (n_updates,))]; dotted lines mark the first run's epochs when
    there are at most 60 of them; a log y-axis when the rates span more than 10x.
    """
    if not schedules:
        raise ValueError("no schedules to plot")
    fig = new_figure(8.0, 3.8)
    ax = fig.subplots()
    for i, (label, lr) in enumerate(schedules):
        ax.plot(np.arange(1, len(lr) + 1), lr, color=f"C{i % 10}", lw=1.5, label=label)
    rates = np.concatenate([np.asarray(lr, dtype=float) for _, lr in schedules])
    rates = rates[np.isfinite(rates) & (rates > 0)]
    if rates.size and rates.max() > 10 * rates.min():
        ax.set_yscale("log")
    n_epochs = len(schedules[0][1]) // max(1, steps_per_epoch[0])
    if 1 < n_epochs <= 60:
        for e in range(1, n_epochs):
            ax.axvline(e * steps_per_epoch[0] + 0.5, color="0.85", lw=0.6, zorder=0)
    ax.set_xlabel("update step")
    ax.set_ylabel("learning rate η")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False, fontsize=SMALL)
    ax.set_title(title or "Learning rate per update", fontsize=TITLE_SIZE)
    return save(fig, path)


def plot_stacked(images: Sequence[tuple[str, Path]], path, title: str | None = None):
    """Existing PNG figures (e.g. each run's weight templates) stacked, one labelled row each.

    images: [(row label, PNG path)] — the caller checks where the files come from. The
    figure is sized so each image keeps its own pixels (nearest-neighbour, no resampling),
    which keeps it sharp and its palette small.
    """
    if not images:
        raise ValueError("no images to stack")
    arrays = [mpimg.imread(p) for _, p in images]
    width_px = max(a.shape[1] for a in arrays)
    width = width_px / DPI
    heights = [a.shape[0] / DPI for a in arrays]
    fig = new_figure(width, sum(heights) + 0.3 * len(arrays) + (0.4 if title else 0.0))
    axes = np.atleast_1d(fig.subplots(len(arrays), 1, height_ratios=heights))
    for ax, (label, _), arr in zip(axes, images, arrays, strict=True):
        ax.imshow(arr, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(label, fontsize=TITLE_SIZE - 1, loc="left")
    if title:
        fig.suptitle(fit_title(title, width), fontsize=TITLE_SIZE)
    return save(fig, path)
