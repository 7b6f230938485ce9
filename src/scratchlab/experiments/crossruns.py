"""Figures across runs, drawn by the report into `<exp>/figures/` from what the runs wrote.

    comparison.png        validation accuracy of every entry with its 95 % interval
    grid-<name>.png       a grid's validation accuracy as heat maps (x, y = its first two axes,
                          one panel per value of the others)
    <figure name>.png     the experiment file's [[figures]] (curves, weights, heatmap, lr, updates)

Each builder returns `(path, caption)` or a sentence saying why there is nothing to draw.
Run figures are read through `records.png_bytes` (confined to their run folder).
"""

from __future__ import annotations

import fnmatch
import itertools
import math
from pathlib import Path

import numpy as np

from scratchlab import plots
from scratchlab.experiments.configtools import format_value
from scratchlab.experiments.entries import Entry
from scratchlab.experiments.findings import Selection
from scratchlab.experiments.records import RunRecord, confined, png_bytes

Drawn = tuple[Path, str] | str


def comparison(entries: list[Entry], sel: Selection, fig_dir: Path) -> Drawn:
    part = "val" if sel.best is not None else "test"
    ivs = [e.acc(part) for e in entries]
    if len(entries) < 2 or not any(math.isfinite(iv.value) for iv in ivs):
        return "Fewer than two runs have an accuracy to compare."
    label = "validation" if part == "val" else "test"
    path = plots.plot_intervals(
        [e.name for e in entries],
        [iv.value for iv in ivs],
        [iv.lo for iv in ivs],
        [iv.hi for iv in ivs],
        fig_dir / "comparison.png",
        best=sel.best,
        tied=sel.tied,
        xlabel=f"{label} accuracy (%)",
        title=f"{label.capitalize()} accuracy per run",
    )
    caption = (
        f"{label.capitalize()} accuracy of each run with its 95 % interval (Wilson; repeated "
        "runs: interval of the mean). ★ best on validation; the shaded band is its interval, "
        "lighter orange runs lie inside it (tied). A run more than "
        f"{plots.OFF_SCALE:g} points below the best is marked at the left edge (off scale)."
    )
    if part == "test":
        caption = "Test accuracy of each run with its 95 % interval (no run has a validation set)."
    return path, caption


def dotted(config: dict, key: str) -> object:
    """config["train"]["eta"] for "train.eta" (None if absent)."""
    node: object = config
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def grid_heatmap(grid: dict, entries: list[Entry], fig_dir: Path, value: str = "val") -> Drawn:
    """Heat maps of `value` accuracy over a grid's first two axes, a panel per other point."""
    axes = grid["axes"]
    if len(axes) < 2:
        return "A one-axis grid is shown by its table."
    (xk, xs), (yk, ys), rest = axes[0], axes[1], axes[2:]
    combos = list(itertools.product(*(vals for _, vals in rest))) or [()]
    if len(combos) > 6:
        return f"The grid has {len(combos)} panels beyond its first two axes: see the table."
    points = [e for e in entries if e.name in set(grid["runs"])]
    panels = []
    for combo in combos:
        cells = np.full((len(ys), len(xs)), np.nan)
        for e in points:
            if [dotted(e.config, k) for k, _ in rest] == list(combo) and e.status != "diverged":
                cells[ys.index(dotted(e.config, yk)), xs.index(dotted(e.config, xk))] = e.acc(
                    value
                ).value
        names = [k.split(".")[-1] for k, _ in rest]
        panels.append(
            (", ".join(f"{n} {format_value(v)}" for n, v in zip(names, combo, strict=True)), cells)
        )
    stack = np.stack([c for _, c in panels])
    best = None
    if np.isfinite(stack).any():
        best = tuple(int(i) for i in np.unravel_index(np.nanargmax(stack), stack.shape))
    what = "validation" if value == "val" else value
    path = plots.plot_heatmaps(
        panels,
        [format_value(v) for v in xs],
        [format_value(v) for v in ys],
        fig_dir / f"grid-{grid['name']}.png",
        xlabel=xk,
        ylabel=yk,
        best=best,
        title=f"Grid {grid['name']}: {what} accuracy",
        value_label=f"{what} accuracy (%)",
    )
    per = f", one panel per {', '.join(k for k, _ in rest)}" if rest else ""
    return path, (
        f"Grid `{grid['name']}`: {what} accuracy (%) of every point over {xk} × {yk}{per}; "
        "★ the best point (diverged points are blank)."
    )


def select(records: list[RunRecord], groups: dict[str, list[str]], patterns: list[str]):
    """Runs whose name (or repeat group's name) matches any pattern; all runs if none."""
    if not patterns:
        return list(records)
    member_of = {run: g for g, runs in groups.items() for run in runs}
    return [
        r
        for r in records
        if any(
            fnmatch.fnmatchcase(r.name, p) or fnmatch.fnmatchcase(member_of.get(r.name, ""), p)
            for p in patterns
        )
    ]


def lr_per_update(
    config: dict, n_train: int, trained: dict | None = None
) -> tuple[np.ndarray, int]:
    """The rate of every update, as the fit loop asks the schedule: lr(step, epoch) with
    step = updates so far, epoch = step // steps per epoch; steps per epoch = ⌈n / batch⌉.
    `trained`: the schedule as the run trained it (metrics.json `training.schedule`: a
    cyclical n_s in updates even when the file gave it in epochs); else the config's."""
    from scratchlab.optim import get_schedule

    t = config["train"]
    batch = n_train if t["n_batch"] == "full" else min(int(t["n_batch"]), n_train)
    steps = max(1, math.ceil(n_train / max(1, batch)))
    total = int(t["n_epochs"]) * steps
    kw = {k: v for k, v in (trained or t["schedule"]).items() if k != "name"}
    eta = kw.pop("eta", t["eta"])  # a schedule's own config() records its base rate
    if "step_size_epochs" in kw:  # a run written before `training` was recorded
        kw["step_size"] = max(1, round(kw.pop("step_size_epochs") * steps))
    if t["schedule"]["name"] == "cosine":
        kw["total_steps"] = total
    schedule = get_schedule(t["schedule"]["name"], eta, **kw)
    return np.array([schedule.lr(s, s // steps) for s in range(total)]), steps


def named_figure(
    spec: dict, records: list[RunRecord], groups: dict, entries: list[Entry], fig_dir: Path
) -> Drawn:
    """One [[figures]] section of the experiment file."""
    chosen = select(records, groups, spec.get("runs") or [])
    if not chosen:
        return "None of its runs has finished."
    kind, out = spec["kind"], fig_dir / f"{spec['name']}.png"
    title = spec.get("title") or None
    if kind == "curves":
        return _curves(spec, chosen, out, title)
    if kind == "weights":
        return _weights(chosen, out, title)
    if kind == "heatmap":
        return _heatmap(spec, chosen, entries, out, title)
    if kind == "lr":
        rates = [
            (r.name, *lr_per_update(r.config, r.n("train"), _trained_schedule(r)))
            for r in chosen
            if r.n("train")
        ]
        if not rates:
            return "The runs do not record their training-set size."
        path = plots.plot_lr([(n, lr) for n, lr, _ in rates], [s for _, _, s in rates], out, title)
        return path, "Learning rate of every update, from each run's schedule: " + _names(chosen)
    return _updates(chosen, out, title)


_METRIC_NAMES = {"loss": "loss", "cost": "cost", "acc": "accuracy"}


def _trained_schedule(r: RunRecord) -> dict | None:
    schedule = (r.metrics.get("training") or {}).get("schedule")
    return schedule if isinstance(schedule, dict) and "name" in schedule else None


def _names(records: list[RunRecord]) -> str:
    return ", ".join(f"`{r.name}`" for r in records) + "."


def _curves(spec: dict, chosen: list[RunRecord], out: Path, title: str | None) -> Drawn:
    runs = [(r.name, r.histories[0]) for r in chosen if r.histories]
    if not runs:
        return "None of its runs wrote a history."
    metrics = [spec["metric"]] if spec.get("metric") else ["loss", "acc"]
    path = plots.plot_overlay(
        runs, out, metrics=metrics, sets=spec.get("sets") or ("train", "val"), title=title
    )
    members = " (ensembles: member 1)" if any(len(r.histories) > 1 for r in chosen) else ""
    return path, (
        f"{' and '.join(_METRIC_NAMES[m] for m in metrics).capitalize()} per epoch; solid: "
        f"training, dashed: validation{members}; "
        f"epoch 0 (untrained) is marked apart and left out of the y-scale. Runs: " + _names(chosen)
    )


def _weights(chosen: list[RunRecord], out: Path, title: str | None) -> Drawn:
    images = []
    for r in chosen:
        rel = r.figure("weights") or r.figure("units")
        if rel:
            png_bytes(r.dir, rel, f"run {r.name!r}")  # refuses files outside the run folder
            images.append((r.name, confined(r.dir, rel, f"run {r.name!r}")))
    if not images:
        return "None of its runs drew weight templates."
    path = plots.plot_stacked(images, out, title)
    return path, "Learnt templates of each run, one row per run: " + _names(chosen)


def _heatmap(spec, chosen, entries, out: Path, title) -> Drawn:
    names = {r.name for r in chosen}
    pick = [e for e in entries if any(r.name in names for r in e.runs)]
    xs = sorted({_key(dotted(e.config, spec["x"])) for e in pick}, key=_order)
    ys = sorted({_key(dotted(e.config, spec["y"])) for e in pick}, key=_order)
    part = spec.get("value", "val_acc").split("_")[0]
    grid = np.full((len(ys), len(xs)), np.nan)
    for e in pick:
        i, j = (
            ys.index(_key(dotted(e.config, spec["y"]))),
            xs.index(_key(dotted(e.config, spec["x"]))),
        )
        v = e.acc(part).value
        if e.status != "diverged" and np.isfinite(v):
            grid[i, j] = v if np.isnan(grid[i, j]) else max(grid[i, j], v)
    if np.isnan(grid).all():
        return "No run has that accuracy."
    best = np.unravel_index(np.nanargmax(grid), grid.shape)
    path = plots.plot_heatmaps(
        [("", grid)],
        [format_value(x) for x in xs],
        [format_value(y) for y in ys],
        out,
        xlabel=spec["x"],
        ylabel=spec["y"],
        best=(0, *map(int, best)),
        title=title,
    )
    return path, (
        f"{part} accuracy (%) over {spec['x']} × {spec['y']} (a cell with several runs shows "
        "the best of them); ★ the best cell."
    )


def _key(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


def _order(value: object) -> tuple:
    return (0, value, "") if isinstance(value, int | float) else (1, 0, str(value))


def _updates(chosen: list[RunRecord], out: Path, title: str | None) -> Drawn:
    """Curves per update step, from histories evaluated every `train.eval_every` updates."""
    runs = [
        (r.name, [{**row, "epoch": row["step"]} for row in r.updates[0]])
        for r in chosen
        if r.updates and r.updates[0]
    ]
    if not runs:
        return (
            "None of its runs was evaluated between epochs: set `train.eval_every` "
            "(N updates, or { epochs = f }) for them."
        )
    path = plots.plot_overlay(runs, out, title=title, xlabel="update step")
    return path, (
        "Loss and accuracy every few updates (x: updates done); step 0 (untrained) "
        "is marked apart and left out of the y-scale. Runs: " + _names(chosen)
    )
