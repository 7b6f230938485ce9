"""A random search's trials: validation accuracy against each searched parameter."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scratchlab.plots._base import SMALL, TITLE_SIZE, fit_title, new_figure, save


def plot_search(
    params: Sequence[tuple[str, str]],
    trials: Sequence[tuple[dict, float, int]],
    path,
    *,
    best: int | None = None,
    title: str | None = None,
):
    """One panel per searched parameter: a dot per trial at (value, accuracy in %).

    params: [(dotted key, kind)] with kind uniform | log_uniform (a log x-axis) | choice
    (the values as categories); trials: [(values by key, accuracy as a fraction (NaN: not
    measured, left out), stage)], coloured by stage; `best` (an index into trials) starred.
    """
    if not params:
        raise ValueError("no searched parameters to plot")
    fig = new_figure(4.2 * len(params) + 0.6, 3.6)
    axes = np.atleast_1d(fig.subplots(1, len(params), sharey=True))
    stages = sorted({stage for _, _, stage in trials})
    for ax, (key, kind) in zip(axes, params, strict=True):
        cats = _categories(trials, key) if kind == "choice" else None
        for stage in stages:
            pts = [(v[key], a) for v, a, s in trials if s == stage and np.isfinite(a)]
            xs = [cats.index(repr(x)) if cats else x for x, _ in pts]
            ax.scatter(xs, [100 * a for _, a in pts], s=28, color=f"C{(stage - 1) % 10}",
                       label=f"stage {stage}", zorder=3)  # fmt: skip
        if best is not None and np.isfinite(trials[best][1]):
            v, a, _ = trials[best]
            x = cats.index(repr(v[key])) if cats else v[key]
            ax.scatter([x], [100 * a], marker="*", s=220, color="#d9641e", zorder=4,
                       edgecolors="black", linewidths=0.6, label="best")  # fmt: skip
        if kind == "log_uniform":
            ax.set_xscale("log")
        if cats:
            ax.set_xticks(range(len(cats)), cats, fontsize=SMALL)
        ax.set_xlabel(key + (" (log scale)" if kind == "log_uniform" else ""))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("validation accuracy (%)")
    axes[-1].legend(frameon=False, fontsize=SMALL)
    if title:
        fig.suptitle(fit_title(title, fig.get_figwidth()), fontsize=TITLE_SIZE)
    return save(fig, path)


def _categories(trials, key: str) -> list[str]:
    return list(dict.fromkeys(repr(v[key]) for v, _, _ in trials))
