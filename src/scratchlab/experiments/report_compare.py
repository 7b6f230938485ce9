"""Sections that compare runs with each other or with outside numbers: the baseline, the
published references, grids (table + heat map), losses side by side and retraining (the
gradient and sanity checks are in report_checks.py)."""

from __future__ import annotations

import math

from scratchlab.experiments import comparisons as cmp
from scratchlab.experiments import findings
from scratchlab.experiments.document import Block, Figure, Heading, Para, Table
from scratchlab.experiments.entries import Entry, difference
from scratchlab.experiments.report_runs import fmt_param
from scratchlab.experiments.textfmt import count, pct, pct_ci, pts_ci


def baseline_blocks(entries: list[Entry], baseline: str) -> list[Block]:
    effects = cmp.effects(entries, baseline)
    if not effects:
        return []
    rows = [
        [e.entry.name, pts_ci(e.val.delta), pts_ci(e.test.delta), cmp.mcnemar_cell(e.test), e.label]
        for e in effects
    ]
    header = [
        "run",
        "Δ val [95 %]",
        "Δ test [95 %]",
        "McNemar p (right only here vs only in baseline)",
        "effect on test",
    ]
    return [
        Heading(f"Against the baseline `{baseline}`", 2),
        Table(
            header,
            rows,
            (
                f"Accuracy minus `{baseline}`'s, in points, with 95 % intervals (Newcombe; "
                "paired with the φ correlation when both runs scored the same images). "
                "McNemar's exact test on the test images the two runs disagree on; the "
                "effect is its verdict (p < 0.05), **borderline** when p ≥ 0.05 but the "
                "approximate interval excludes 0."
            ),
        ),
    ]


def reference_blocks(entries: list[Entry], reference: dict | None) -> list[Block]:
    rows = cmp.reference_rows(entries, reference)
    if not rows:
        return []
    part = cmp.PART_LABELS[reference.get("set", "test")]
    table = [
        [
            r.entry.name,
            pct_ci(r.measured),
            r.reference_text,
            "inside" if r.consistent else "outside",
        ]
        for r in rows
    ]
    return [
        Heading("Against published numbers", 2),
        Table(
            ["run", f"measured {part} acc [95 %]", "reference", "reference in the interval"],
            table,
            f"Reference: {reference.get('source')}.",
        ),
    ]


def grid_blocks(
    grid: dict,
    entries: list[Entry],
    sel: findings.Selection,
    verdicts: dict,
    top: list[str],
    drawn,
) -> list[Block]:
    """A grid's points as one table (sorted by validation accuracy) and its heat map."""
    from scratchlab.experiments.crossruns import dotted

    points = [i for i, e in enumerate(entries) if e.name in set(grid["runs"])]
    points.sort(key=lambda i: -selection_value(entries[i]))
    keys = [k for k, _ in grid["axes"]]
    rows = []
    for i in points:
        e = entries[i]
        mark = "★ " if i == sel.best else "≈ " if i in sel.tied else ""
        values = [fmt_param(dotted(e.config, k)) for k in keys]
        accs = [pct_ci(e.acc("val")), pct_ci(e.acc("test")), pct(e.acc("train").value, 1)]
        rows.append([mark + e.name, *values, *accs, verdicts[e.name].label])
    header = ["point", *keys, "val acc [95 %]", "test acc [95 %]", "train acc", "reading"]
    caption = (
        f"The {len(points)} points of grid `{grid['name']}`, best validation accuracy first "
        "(★ and ≈ as in the results table)."
    )
    highlight = {0} if points and points[0] == sel.best else set()
    blocks: list[Block] = [
        Heading(f"Grid `{grid['name']}`", 2),
        Table(header, rows, caption, highlight),
        Figure(*drawn) if isinstance(drawn, tuple) else Para(drawn),
    ]
    if top:
        names = ", ".join(f"`{n}`" for n in top)
        blocks.append(Para(f"Full sections follow for the top points only: {names}."))
    return blocks


def selection_value(e: Entry) -> float:
    v = e.acc("val").value
    return v if math.isfinite(v) and e.status != "diverged" else -1.0


def loss_blocks(entries: list[Entry]) -> list[Block]:
    """Configurations run under several losses, side by side, with McNemar on test."""
    pairs = cmp.loss_pairs(entries)
    if not pairs:
        return []
    losses = sorted({loss for _, by_loss in pairs for loss in by_loss})
    header = ["λ", "η", "epochs", "batch", *(f"{loss} test acc" for loss in losses)]
    two = len(losses) == 2
    if two:
        header += [f"Δ {losses[0]} − {losses[1]}", "McNemar p"]
    rows = []
    for shared, by_loss in pairs:
        row = [fmt_param(shared[k]) for k in ("lambda", "eta", "epochs", "batch")]
        row += [pct_ci(by_loss[x].acc("test")) if x in by_loss else "–" for x in losses]
        if two and all(x in by_loss for x in losses):
            d = difference(by_loss[losses[0]], by_loss[losses[1]], "test")
            row += [pts_ci(d.delta), cmp.mcnemar_cell(d)]
        elif two:
            row += ["–", "–"]
        rows.append(row)
    return [
        Heading("Loss comparison", 2),
        Table(header, rows, "The same configuration under each loss (test set)."),
    ]


def retrained_blocks(entries: list[Entry]) -> list[Block]:
    rows = []
    for e in entries:
        rt = e.first.metrics.get("retrain")
        if rt:
            acc = (rt.get("test") or {}).get("acc")
            rows.append(
                [
                    e.first.name,
                    pct_ci(e.first.acc("test")),
                    pct(acc),
                    str(rt.get("epochs")),
                    count(rt.get("n_train") or 0),
                ]
            )
    if not rows:
        return []
    return [
        Heading("Retrained on all training data", 2),
        Table(
            [
                "run",
                "test acc (trained on split) [95 %]",
                "test acc (retrained)",
                "epochs",
                "images",
            ],
            rows,
            "Each run retrained from scratch on the full training set for the "
            "epochs its validation run selected, then tested.",
        ),
    ]
