"""The report's section for each `[search]`: its trials as a table and a scatter.

Read from `<exp>/search.json` (docs/RESULTS.md) and the trials' own run folders (through the
report's entries): per search, how each stage drew its values, every trial sorted by
validation accuracy (rank, stage, drawn values, validation / test / training accuracy with
95 % intervals, the reading), and validation accuracy against each searched parameter (a log
axis for log-uniform ranges), coloured by stage, the best trial starred. Like a grid's
points, only the best `top` trials get full run sections (report.py).
"""

from __future__ import annotations

import math
from pathlib import Path

from scratchlab.experiments import findings
from scratchlab.experiments.document import Block, Figure, Heading, Para, Table
from scratchlab.experiments.entries import Entry
from scratchlab.experiments.records import confined
from scratchlab.experiments.report_compare import selection_value
from scratchlab.experiments.report_runs import fmt_param
from scratchlab.experiments.textfmt import pct, pct_ci
from scratchlab.io import read_json

FILE = "search.json"


def load_searches(exp_dir: Path) -> list[dict]:
    """The searches recorded in `<exp>/search.json` ([] when the experiment has none)."""
    path = confined(exp_dir, FILE, "the report")
    if not path.is_file():
        return []
    return list(read_json(path)["searches"])


def trial_names(search: dict) -> list[str]:
    return [t["run"] for stage in search["stages"] for t in stage["trials"]]


def _ranges(ranges: dict) -> str:
    def one(key: str, r: dict) -> str:
        if r["kind"] == "choice":
            return f"{key} one of {', '.join(fmt_param(v) for v in r['values'])}"
        kind = "log-uniformly" if r["kind"] == "log_uniform" else "uniformly"
        return f"{key} {kind} in [{r['low']:.4g}, {r['high']:.4g}]"

    return "; ".join(one(k, r) for k, r in ranges.items())


def _how(search: dict) -> str:
    """One sentence per stage: how many trials, drawn from which ranges."""
    parts = []
    for st in search["stages"]:
        around = (
            f", around the best {st['top_k']} of stage {st['stage'] - 1}" if st["top_k"] else ""
        )
        parts.append(f"stage {st['stage']}: {st['n']} trials{around}, {_ranges(st['ranges'])}")
    return f"Drawn with seed {search['seed']}; " + "; ".join(parts) + "."


def search_blocks(
    search: dict,
    entries: list[Entry],
    sel: findings.Selection,
    verdicts: dict,
    top: list[str],
    fig_dir: Path,
) -> list[Block]:
    """Heading, how the trials were drawn, the table (best first) and the scatter."""
    index = {e.name: i for i, e in enumerate(entries)}
    trials = [t for st in search["stages"] for t in st["trials"] if t["run"] in index]
    trials.sort(key=lambda t: -selection_value(entries[index[t["run"]]]))
    keys = list(search["params"])
    rows = []
    for t in trials:
        i = index[t["run"]]
        e = entries[i]
        mark = "★ " if i == sel.best else "≈ " if i in sel.tied else ""
        accs = [pct_ci(e.acc("val")), pct_ci(e.acc("test")), pct(e.acc("train").value, 1)]
        values = [fmt_param(t["values"].get(k)) for k in keys]
        rows.append([mark + e.name, str(t["stage"]), *values, *accs, verdicts[e.name].label])
    name = search["name"]
    blocks: list[Block] = [Heading(f"Search `{name}`", 2)]
    if search.get("description"):
        blocks.append(Para(str(search["description"])))
    blocks.append(Para(_how(search)))
    if not trials:
        return blocks + [Para("No trial has finished yet.")]
    header = ["trial", "stage", *keys, "val acc [95 %]", "test acc [95 %]", "train acc", "reading"]
    caption = (
        f"The {len(trials)} finished trials of search `{name}`, best validation accuracy "
        "first (★ and ≈ as in the results table)."
    )
    blocks.append(
        Table(header, rows, caption, {0} if index[trials[0]["run"]] == sel.best else set())
    )
    blocks.append(_scatter(search, trials, entries, index, fig_dir))
    if top:
        names = ", ".join(f"`{n}`" for n in top)
        blocks.append(Para(f"Full sections follow for the top trials only: {names}."))
    return blocks


def _scatter(search, trials, entries, index, fig_dir: Path) -> Block:
    from scratchlab.plots.search import plot_search

    params = [(k, r["kind"]) for k, r in search["params"].items()]
    points = [(t["values"], entries[index[t["run"]]].acc("val").value, t["stage"]) for t in trials]
    path = plot_search(
        params,
        points,
        fig_dir / f"search-{search['name']}.png",
        best=0 if math.isfinite(points[0][1]) else None,
        title=f"Search {search['name']}: validation accuracy per trial",
    )
    log = " (log axis for log-uniform ranges)" if any(k == "log_uniform" for _, k in params) else ""
    values = "values" if len(params) > 1 else "value"
    return Figure(
        path,
        f"Validation accuracy of every trial of search `{search['name']}` against the searched "
        f"{values}{log}, coloured by stage; ★ the best trial.",
    )
