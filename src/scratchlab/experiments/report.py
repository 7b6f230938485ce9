"""Assemble `report.md` and `report.html` for an experiment folder from what its runs wrote.

Reads only the run-folder files (docs: run-folder format 2, `records.py`); draws the figures
across runs into `<exp>/figures/`; writes summary.csv, report.md and report.html.

    title · contents · setup (data, sizes, provenance) · results (table, chart) · findings
    · baseline · references · grids (table + heat map) · searches (table + scatter, from
    search.json) · figures across runs · loss comparison · retraining · gradient checks ·
    sanity checks (initial loss, tiny-subset overfit) · runs
    (full sections; of a grid or a search only the top `TOP_GRID`)

`experiment.json["report"]` (from the experiment file, `config.report_settings`) carries
`baseline`, `reference`, `figures`, `groups` (repeats) and `grids`; without it the report
has none of those sections.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path

from scratchlab import __version__
from scratchlab.errors import ConfigError
from scratchlab.experiments import crossruns, findings, report_checks, report_formats
from scratchlab.experiments import report_compare as rc
from scratchlab.experiments import report_results as rr
from scratchlab.experiments import report_search as rs
from scratchlab.experiments.document import (
    Block,
    Contents,
    Figure,
    Heading,
    Para,
    number,
)
from scratchlab.experiments.entries import Entry, build_entries, infer_groups
from scratchlab.experiments.records import RunRecord, confined, load_records
from scratchlab.experiments.report_runs import run_sections
from scratchlab.experiments.summary import run_row, write_summary_csv
from scratchlab.io import read_json

_KIND_TITLES = {
    "curves": "Learning curves",
    "weights": "Weight templates",
    "heatmap": "Heat map",
    "lr": "Learning rate per update",
    "updates": "Per-update curves",
}
TOP_GRID = 3  # full run sections for this many of a grid's points (best validation first)
FULL_SECTIONS = 12  # a report showing more runs than this details only the DETAILED best
DETAILED = 5  # (on validation) and the baseline; the others get brief sections (curves only)


def build_report(
    exp_dir: str | Path, formats: Sequence[str] = report_formats.DEFAULT
) -> tuple[Path, ...]:
    """Write summary.csv and the report in each of `formats` (`report_formats.FILES`; default
    report.md and report.html) in `exp_dir`; return the reports' paths in `formats` order."""
    exp_dir = Path(exp_dir)
    report_formats.check(formats)  # e.g. no PDF library: one line, before anything is written
    meta_path = exp_dir / "experiment.json"
    if not meta_path.is_file():
        raise ConfigError(
            f"{exp_dir} is not an experiment results folder (no experiment.json); "
            "pass the folder `scratchlab run` wrote, e.g. results/assignment1"
        )
    try:
        meta = read_json(meta_path)
        records = load_records(exp_dir, list(meta["runs"]))
        blocks = number(_blocks(exp_dir, meta, records))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise ConfigError(  # a results file edited by hand, or from another version
            f"{exp_dir} holds a damaged or foreign results file ({type(exc).__name__}: {exc}); "
            "rerun the experiment (delete a damaged run's folder to retrain it)"
        ) from None
    write_summary_csv(exp_dir / "summary.csv", [run_row(r) for r in records])
    return report_formats.write(blocks, _title(meta), exp_dir, formats)


def summary_rows(exp_dir: str | Path, run_names: list[str]) -> list[dict]:
    """The CLI's summary rows (see summary.run_row), one per finished run."""
    return [run_row(r) for r in load_records(Path(exp_dir), run_names)]


def _title(meta: dict) -> str:
    return str(meta.get("title") or meta["name"])


def _blocks(exp_dir: Path, meta: dict, records: list[RunRecord]) -> list[Block]:
    settings = dict(meta.get("report") or {})
    if "groups" not in settings:  # written before experiment.json carried the report's record
        settings["groups"] = infer_groups(records)
    entries = build_entries(records, settings["groups"])
    blocks = _header(meta, records) + [Contents()]
    if not entries:
        return blocks + [Para("No run has finished yet.")]
    sel = findings.selection(entries)
    verdicts = findings.verdicts(entries)
    grids = [g for g in settings.get("grids") or [] if len(g.get("runs", [])) > 1]
    searches = rs.load_searches(exp_dir)
    collapsed = grids + [{"runs": rs.trial_names(s)} for s in searches]  # top TOP_GRID shown
    in_grid = {n for g in collapsed for n in g["runs"]}
    top = {n for g in collapsed for n in _top(g, entries)}
    shown = [i for i, e in enumerate(entries) if e.name not in in_grid or e.name in top]
    varying, shared = rr.varying_params([entries[i] for i in shown], settings.get("baseline"))
    fig_dir = _figure_dir(exp_dir)
    blocks += rr.setup_blocks(records, meta)
    if shared and len(entries) > 1:
        blocks.append(
            Para(
                "**Settings shared by every run shown:** "
                + ", ".join(f"{k} {v}" for k, v in shared.items())
                + "."
            )
        )
    blocks += _results(entries, shown, sel, verdicts, settings, varying, fig_dir)
    blocks += rr.findings_blocks(entries, shown, sel, verdicts, settings, grids)
    if settings.get("baseline"):
        blocks += rc.baseline_blocks(entries, settings["baseline"])
    blocks += rc.reference_blocks(entries, settings.get("reference"))
    for g in grids:
        drawn = crossruns.grid_heatmap(g, entries, fig_dir)
        blocks += rc.grid_blocks(g, entries, sel, verdicts, _top(g, entries), drawn)
    for s in searches:
        trials = {"runs": rs.trial_names(s)}
        blocks += rs.search_blocks(s, entries, sel, verdicts, _top(trials, entries), fig_dir)
    blocks += _named_figures(settings, records, entries, fig_dir)
    blocks += rc.loss_blocks([entries[i] for i in shown])
    blocks += rc.retrained_blocks(entries)
    blocks += report_checks.check_blocks(exp_dir, records)  # gradient and sanity checks
    blocks.append(Heading("Runs", 2))
    detailed = _detailed(entries, shown, settings.get("baseline"))
    if len(detailed) < len(shown):
        blocks.append(Para(_brief_note(entries, shown, detailed, settings.get("baseline"))))
    for i in shown:
        e = entries[i]
        blocks += run_sections(e, verdicts[e.name], varying, exp_dir, e.name in detailed)
    return blocks


def _detailed(entries: list[Entry], shown: list[int], baseline: str | None) -> set[str]:
    """Every shown entry up to FULL_SECTIONS of them; beyond, the DETAILED best on
    validation and the baseline (a 35-run study stays a readable, < 3 MB page)."""
    names = [entries[i].name for i in shown]
    if len(names) <= FULL_SECTIONS:
        return set(names)
    ranked = sorted(shown, key=lambda i: -rc.selection_value(entries[i]))
    return {entries[i].name for i in ranked[:DETAILED]} | ({baseline} & set(names))


def _brief_note(
    entries: list[Entry], shown: list[int], detailed: set[str], baseline: str | None
) -> str:
    full = ", ".join(f"`{entries[i].name}`" for i in shown if entries[i].name in detailed)
    who = f"the {DETAILED} best on validation" + (" and the baseline" if baseline else "")
    return (
        f"{len(shown)} runs are shown: {who} have full sections ({full}); the others show "
        "their learning curves, with their other figures in their run folders."
    )


def _header(meta: dict, records: list[RunRecord]) -> list[Block]:
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    blocks: list[Block] = [Heading(_title(meta), 1)]
    if meta.get("description"):
        blocks.append(Para(str(meta["description"])))
    source = meta.get("source")
    line = f"Experiment `{meta['name']}`"
    if source:
        line += f" (file `{Path(str(source)).name}`)"
    line += (
        f" · {len(records)} of {len(meta['runs'])} runs finished · scratchlab "
        f"{__version__} · {stamp}"
    )
    return blocks + [Para(line)]


def _figure_dir(exp_dir: Path) -> Path:
    """`<exp>/figures`, refusing a link that leads out of the experiment folder."""
    path = confined(exp_dir, "figures", "the report's figures")
    path.mkdir(exist_ok=True)
    return path


def _top(grid: dict, entries: list[Entry]) -> list[str]:
    """The grid's best `TOP_GRID` points on validation (diverged points last)."""
    points = [e for e in entries if e.name in set(grid["runs"])]
    points.sort(key=lambda e: -rc.selection_value(e))
    return [e.name for e in points[:TOP_GRID]]


def _results(entries, shown, sel, verdicts, settings, varying, fig_dir) -> list[Block]:
    blocks: list[Block] = [
        Heading("Results", 2),
        rr.results_table(entries, shown, sel, verdicts, settings, varying),
    ]
    if len(shown) < len(entries):
        blocks.append(
            Para(
                f"Grid points and search trials are summarised in their own sections; this "
                f"table shows the top {TOP_GRID} of each (★ and ≈ are over all runs)."
            )
        )
    drawn = crossruns.comparison([entries[i] for i in shown], _sub(sel, shown), fig_dir)
    blocks.append(Figure(*drawn) if isinstance(drawn, tuple) else Para(drawn))
    blocks.append(rr.generalisation_table(entries, shown, verdicts))
    return blocks


def _sub(sel: findings.Selection, shown: list[int]) -> findings.Selection:
    """The selection re-indexed to the shown entries."""
    best = shown.index(sel.best) if sel.best in shown else None
    return findings.Selection(best, [shown.index(i) for i in sel.tied if i in shown])


def _named_figures(settings, records, entries, fig_dir) -> list[Block]:
    specs = settings.get("figures") or []
    if not specs:
        return []
    blocks: list[Block] = [Heading("Figures across runs", 2)]
    groups = settings.get("groups") or {}
    for spec in specs:
        blocks.append(Heading(spec.get("title") or _KIND_TITLES[spec["kind"]], 3))
        drawn = crossruns.named_figure(spec, records, groups, entries, fig_dir)
        blocks.append(Figure(*drawn) if isinstance(drawn, tuple) else Para(drawn))
    return blocks
