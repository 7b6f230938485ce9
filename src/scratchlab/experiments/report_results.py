"""The experiment-level sections of the report: setup, results, findings, comparisons, grids.

Every accuracy is printed with its 95 % interval; ★ marks the best entry on validation and ≈
the entries tied with it (findings.selection). Text columns are left-aligned by the renderer.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

from scratchlab.experiments import comparisons as cmp
from scratchlab.experiments import findings
from scratchlab.experiments.document import Block, Bullets, Heading, Para, Table
from scratchlab.experiments.entries import Entry
from scratchlab.experiments.records import RunRecord
from scratchlab.experiments.report_runs import PARAMS, Varying, fmt_param
from scratchlab.experiments.summary import run_row
from scratchlab.experiments.textfmt import count, num, pct, pct_ci, pts_ci

_PATH = re.compile(r"(?:[A-Za-z]:)?[\\/](?:[^\s\\/:;,'\"()]+[\\/])+([^\s\\/:;,'\"()]*)")


def scrub_paths(text: str) -> str:
    """Replace absolute paths (`/home/u/data/cifar-10-sample`) by their last part."""
    return _PATH.sub(lambda m: m.group(1) or "…", str(text))


def varying_params(
    entries: list[Entry], baseline: str | None = None
) -> tuple[Varying, dict[str, str]]:
    """The parameters that differ between entries, each with its reference value (the
    baseline's when it is among the entries, else the most common), and the shared ones."""
    rows = {e.name: run_row(e.first) for e in entries}
    values = {k: [fmt_param(r[v]) for r in rows.values()] for k, v in PARAMS.items()}
    if len(rows) < 2:
        return Varying([], {}), {k: v[0] for k, v in values.items()} if rows else {}
    keys = [k for k, v in values.items() if len(set(v)) > 1]
    if baseline in rows:
        common = {k: fmt_param(rows[baseline][PARAMS[k]]) for k in keys}
    else:
        common = {k: Counter(values[k]).most_common(1)[0][0] for k in keys}
    shared = {k: v[0] for k, v in values.items() if len(set(v)) == 1}
    return Varying(keys, common, baseline if baseline in rows else None), shared


def setup_blocks(records: list[RunRecord], meta: dict) -> list[Block]:
    """Data provenance (dataset, split, set sizes, source folder's name, md5) and notes."""
    seen: dict[tuple, list[str]] = {}
    for r in records:
        d = r.data
        path = (r.config.get("data") or {}).get("path")
        source = f"`{Path(path).name}`" if path else "the default data location"
        verified = d.get("verified")
        check = "md5 verified" if verified else "unverified" if verified is False else "–"
        key = (
            d.get("dataset", "?"),
            d.get("split", "?"),
            count(r.n("train")),
            count(r.n("val")),
            count(r.n("test")),
            source,
            check,
        )
        seen.setdefault(key, []).append(r.name)
    rows = [[*key, _run_list(names, len(records))] for key, names in seen.items()]
    header = ["dataset", "split", "train", "val", "test", "files", "check", "runs"]
    blocks: list[Block] = [
        Heading("Setup", 2),
        Table(
            header,
            rows,
            "Data of the runs: images per set and where they came from (folder name only).",
        ),
    ]
    notes = [scrub_paths(n) for n in meta.get("notes") or []]
    if notes:
        blocks.append(Bullets([f"**Note:** {n}" for n in notes]))
    return blocks


def _run_list(names: list[str], total: int) -> str:
    if len(names) == total:
        return "all"
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def results_table(
    entries: list[Entry],
    shown: list[int],
    sel: findings.Selection,
    verdicts: dict,
    settings: dict,
    varying: Varying,
) -> Table:
    """One row per shown entry: accuracies with intervals, Δ vs baseline, reference, params."""
    baseline = settings.get("baseline")
    effects = {e.entry.name: e for e in cmp.effects(entries, baseline)} if baseline else {}
    ref = settings.get("reference") or {}
    refs = {r.entry.name: r for r in cmp.reference_rows(entries, ref)}
    header = ["run", "val acc [95 %]", "test acc [95 %]", "train acc"]
    if baseline:
        header.append(f"Δ test vs {baseline} [95 %]")
    if refs:
        header.append(f"reference ({ref.get('set', 'test')})")
    columns = varying.keys if len(varying.keys) <= 4 else []
    changes = "changes from the baseline" if varying.baseline else "setting"
    header += [*columns, *([] if columns or not varying.keys else [changes])]
    header += ["epochs", "status", "reading"]
    rows = []
    for i in shown:
        e = entries[i]
        mark = "★ " if i == sel.best else "≈ " if i in sel.tied else ""
        name = mark + e.name + (f" (×{len(e.runs)})" if e.repeated else "")
        row = [name, pct_ci(e.acc("val")), pct_ci(e.acc("test")), pct(e.acc("train").value, 1)]
        if baseline:
            row.append("baseline" if e.name == baseline else _delta(effects.get(e.name)))
        if refs:
            row.append(refs[e.name].reference_text if e.name in refs else "")
        r = run_row(e.first)
        row += [fmt_param(r[PARAMS[k]]) for k in columns]
        if varying.keys and not columns:
            row.append(varying.short(r) or varying.same)
        row += [str(r["epochs_trained"]), e.status, verdicts[e.name].label]
        rows.append(row)
    highlight = {shown.index(sel.best)} if sel.best in shown else set()
    return Table(header, rows, _results_caption(entries, sel, settings), highlight)


def _delta(effect: cmp.Effect | None) -> str:
    return "–" if effect is None else pts_ci(effect.test.delta)


def _results_caption(entries: list[Entry], sel: findings.Selection, settings: dict) -> str:
    n_val = {e.n("val") for e in entries if e.n("val")}
    caption = (
        "Final accuracy per run with its 95 % interval (Wilson; ×N: mean over N seeds, "
        "interval of the mean). ★ best on validation"
    )
    caption += f" ({'/'.join(count(n) for n in sorted(n_val))} images)" if n_val else ""
    caption += "; ≈ tied with it (validation accuracy inside its interval)."
    if settings.get("baseline"):
        caption += (
            " Δ: test accuracy minus the baseline's, in points (paired when on the same images)."
        )
    return caption + " Reading: the findings rule that applies (see Findings)."


def findings_blocks(
    entries: list[Entry],
    shown: list[int],
    sel: findings.Selection,
    verdicts: dict,
    settings: dict,
    grids: list[dict],
) -> list[Block]:
    """Bullets: selection, the shown entries' readings and effects, one summary line per grid
    (its points in detail are in the grid's table), repeats, references."""
    visible = [entries[i] for i in shown]
    items = [findings.selection_text(entries, sel)]
    items += [
        f"`{e.name}` — {verdicts[e.name].text}."
        for e in visible
        if verdicts[e.name].label != "fits"
    ]
    fits = [e.name for e in visible if verdicts[e.name].label == "fits"]
    if fits:
        names = ", ".join(f"`{n}`" for n in fits)
        items.append(
            f"Fit within the validation interval (no over- or underfitting detectable): {names}."
        )
    baseline = settings.get("baseline")
    effects = cmp.effects(entries, baseline) if baseline else []
    for g in grids:
        items.append(_grid_summary(g, entries, verdicts, effects))
    items += [findings.repeat_text(e) for e in visible if e.repeated]
    names = {e.name for e in visible}
    items += [cmp.effect_text(eff, baseline) for eff in effects if eff.entry.name in names]
    ref = settings.get("reference") or {}
    items += [
        cmp.reference_text(r, ref.get("set", "test")) for r in cmp.reference_rows(entries, ref)
    ]
    return [Heading("Findings", 2), Para(_RULES), Bullets(items)]


def _grid_summary(grid: dict, entries: list[Entry], verdicts: dict, effects: list) -> str:
    """`Grid `g`: 18 points; readings: fits 6, underfitting 12; against the baseline: ...`."""
    points = set(grid["runs"])
    labels = [verdicts[e.name].label for e in entries if e.name in points]
    text = f"Grid `{grid['name']}`: {len(labels)} points finished; readings: " + _tally(labels)
    against = [eff.label for eff in effects if eff.entry.name in points]
    if against:
        text += "; against the baseline: " + _tally(against)
    return text + " (every point in the grid's table)."


def _tally(labels: list[str]) -> str:
    return ", ".join(f"{label} {labels.count(label)}" for label in sorted(set(labels)))


_RULES = (
    "Computed from the numbers by fixed rules (scratchlab.experiments.findings): **unstable** "
    "= final training loss above the untrained one, or rising by more than "
    f"{100 * findings.RISE:g} % in at least {100 * findings.RISE_SHARE:g} % of the epochs; "
    "**overfitting** = training accuracy above the upper end of the validation accuracy's "
    f"95 % interval by a gap of at least {findings.MATERIAL_GAP:g} points (**slight "
    "overfitting** when the gap is smaller); **underfitting** = training accuracy's interval "
    "wholly below the best run's; otherwise the run **fits** within the noise of its "
    "validation set."
)


def generalisation_table(entries: list[Entry], shown: list[int], verdicts: dict) -> Table:
    rows = []
    for i in shown:
        e = entries[i]
        losses = [num(e.value(p, "loss"), 3) for p in ("train", "val", "test")]
        accs = [pct(e.acc(p).value) for p in ("train", "val", "test")]
        gap = 100 * (e.acc("train").value - e.acc("val").value)
        rows.append(
            [
                e.name,
                *losses,
                *accs,
                f"{gap:.1f}" if math.isfinite(gap) else "–",
                verdicts[e.name].label,
            ]
        )
    header = [
        "run",
        "train loss",
        "val loss",
        "test loss",
        "train acc",
        "val acc",
        "test acc",
        "train − val (points)",
        "reading",
    ]
    return Table(
        header,
        rows,
        "Loss (data term, without regularisation) and accuracy on each "
        "set; an ensemble's vote has no loss.",
    )
