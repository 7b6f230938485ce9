"""Run an experiment: validate everything, then train what is pending, then report.

validate (runs, data, every cross-field rule)  ─► nothing is written if this fails
lock the results folder (one writer)           ─► plan: finished runs are kept, a finished
                                                  run whose spec differs is refused
executors: inline or --jobs N processes        ─► <run>/… (metrics.json last)
gradient check (if asked) ─► report (summary.csv, report.md, report.html)

With `[search]` tables (scratchlab.experiments.search) the training goes in batches, each
planned, executed and resumable like the runs above:

    runs (but `from_search` ones) + every search's stage-1 trials (drawn before validation)
    stage 2, 3, ...: drawn around the best trials of the stage before, read from its runs
    `from_search` runs: the search's best values set, validated, trained

After each batch experiment.json lists the runs and the trials drawn so far, and search.json
each stage's trials, drawn values and validation accuracy. A rerun draws the same trials and
skips the finished ones. `--only` selects searches by name (or `<name>-*`); a selected
`from_search` run selects its search.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from scratchlab.errors import ConfigError
from scratchlab.experiments import executors
from scratchlab.experiments.assemble import check_cycles
from scratchlab.experiments.config import Experiment, report_settings
from scratchlab.experiments.gradchecks import update_gradcheck
from scratchlab.experiments.progress import RunProgress
from scratchlab.experiments.report import build_report
from scratchlab.experiments.rundata import RunData, load_run_data
from scratchlab.experiments.schema import RunSpec
from scratchlab.experiments.search import (
    SEARCH_JSON,
    Search,
    check_trial_data,
    later_stages,
    with_best,
    write_search_json,
)
from scratchlab.experiments.store import ResultsFolder, describe, saved_config
from scratchlab.experiments.summary import summary_rows
from scratchlab.experiments.validate import check_experiment, check_gradcheck, check_run
from scratchlab.experiments.writers import spec_json
from scratchlab.io import write_json
from scratchlab.threads import available_cores, resolve_threads, threads_per_job

JOBS_PER_CORE = 2  # --jobs is capped at this many processes per available core


@dataclass
class ExperimentResult:
    exp_dir: Path
    rows: list[dict]
    report_md: Path
    report_html: Path
    skipped: list[str]
    trained: list[str]
    notes: list[str]


def select_runs(exp: Experiment, only: str | None) -> list[RunSpec]:
    """`only` is a comma-separated list of run names or shell patterns (`grid-*`)."""
    if not only:
        return list(exp.runs)
    patterns = [p.strip() for p in only.split(",") if p.strip()]
    chosen = [r for r in exp.runs if any(fnmatch.fnmatchcase(r.name, p) for p in patterns)]
    if not chosen and not _chosen_searches(exp, patterns, []):
        names = ", ".join(
            [r.name for r in exp.runs] + [f"{s.name}-* (search)" for s in exp.searches]
        )
        raise ConfigError(f"--only {only!r} matches no run; the runs are: {names}")
    return chosen


def select_searches(exp: Experiment, only: str | None, runs: list[RunSpec]) -> set[str]:
    """The searches to train: all, or those `only` names, or a chosen run takes values from."""
    if not only:
        return {s.name for s in exp.searches}
    return _chosen_searches(exp, [p.strip() for p in only.split(",") if p.strip()], runs)


def _chosen_searches(exp: Experiment, patterns: list[str], runs: list[RunSpec]) -> set[str]:
    def matches(name: str) -> bool:
        return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in (name, f"{name}-"))

    needed = {r.from_search for r in runs if r.from_search}
    return {s.name for s in exp.searches if matches(s.name) or s.name in needed}


def run_experiment(
    exp: Experiment,
    out: str | Path,
    *,
    only: str | None = None,
    jobs: int = 1,
    fresh: bool = False,
    many: bool = False,
    cluster: str | None = None,
) -> ExperimentResult:
    runs = select_runs(exp, only)
    chosen = select_searches(exp, only, runs)
    searches = [replace(s, drawn=[]) for s in exp.searches]  # drawn afresh by every command
    exp_dir = Path(out) / exp.name
    first = [t.spec for s in searches for t in s.next_stage(exp_dir) if s.name in chosen]
    later = [r for r in runs if r.from_search]
    data = validate(exp, [r for r in runs if not r.from_search] + first, Path(out), jobs, many)
    for spec in later:  # checked as written now; again with the search's values before training
        data[spec.name] = load_run_data(spec)
        _check(exp, spec, data[spec.name].splits)
    check_trial_data(str(exp.source or exp.name), first, data)
    with _cluster_session(cluster, runs + first, jobs) as remote, ResultsFolder(exp_dir) as folder:
        session = _Session(folder, exp, searches, data, fresh, jobs, remote)
        session.unshown += remote.notes if remote else []
        session.train([r for r in runs if not r.from_search] + first)
        for stage in later_stages(searches, chosen, exp_dir):
            session.train(stage)
        session.train(
            [with_best(spec, searches, exp_dir, str(exp.source or exp.name)) for spec in later]
        )
        update_gradcheck(exp, exp_dir, fresh=fresh)
        md, html = build_report(exp_dir)
        rows = summary_rows(exp_dir, session.names())
    return ExperimentResult(
        exp_dir, rows, md, html, session.skipped, session.trained, session.notes
    )


@dataclass
class _Session:
    """Plans and trains one batch of runs after another in the locked results folder."""

    folder: ResultsFolder
    exp: Experiment
    searches: list[Search]
    data: dict
    fresh: bool
    jobs: int
    remote: object = None
    skipped: list[str] = field(default_factory=list)
    trained: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unshown: list[str] = field(default_factory=list)  # notes to print with the next batch

    def names(self) -> list[str]:
        """The experiment's runs, then every trial drawn so far."""
        return [r.name for r in self.exp.runs] + [t.name for s in self.searches for t in s.trials()]

    def train(self, specs: list[RunSpec]) -> None:
        exp_dir = self.folder.exp_dir
        for spec in specs:  # trials of later stages, from_search runs: checked with their data
            if spec.name not in self.data or spec.from_search:
                self.data[spec.name] = load_run_data(spec)
                _check(self.exp, spec, self.data[spec.name].splits)
        pending, skipped, notes = plan(self.folder, specs, self.data, self.fresh)
        _write_experiment_json(self.exp, exp_dir, self.data, self.names(), bool(self.searches))
        jobs, capped = cap_jobs(self.jobs, len(pending))
        notes, self.unshown = self.unshown + notes + capped, []
        shown = tuple(sorted({n for d in self.data.values() for n in d.notes}))
        with RunProgress(pending, skipped, notes) as progress:
            _execute(pending, exp_dir, jobs, progress, self.remote, shown)
        if self.searches:
            write_search_json(exp_dir, self.searches)
        self.skipped += skipped
        self.trained += [s.name for s in pending]
        self.notes += notes


def _execute(
    pending: list[RunSpec], exp_dir: Path, jobs: int, progress, remote, shown: tuple = ()
) -> None:
    if remote is not None:
        remote.run(pending, exp_dir, progress)
    elif jobs == 1:
        executors.run_inline(pending, exp_dir, progress, threads_per_job(1))
    else:
        executors.run_in_processes(pending, exp_dir, jobs, progress, threads_per_job(jobs), shown)


# -- issue 13: runs as tasks on a Dask cluster (experiments/cluster.py, docs/CLUSTER.md) ----
def _cluster_session(address: str | None, runs: list[RunSpec], jobs: int):
    """No address: nothing (Dask is not imported). Else a session that connects and checks
    the workers on entry, before the results folder is created: bad input writes nothing."""
    if not address:
        return contextlib.nullcontext()
    from scratchlab.experiments.cluster import ClusterSession

    return ClusterSession(address, runs, jobs=jobs)


# -- end of issue 13 ---------------------------------------------------------------------------


def validate(exp: Experiment, runs: list[RunSpec], out: Path, jobs: int, many: bool) -> dict:
    """Every check that can fail, before anything is written; returns each run's data."""
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    _check_writable(out)
    _check_results_folder(out / exp.name)
    resolve_threads()  # a bad SCRATCHLAB_THREADS fails here, not inside the first run
    check_experiment(exp, runs, many=many)
    if exp.gradcheck is not None and not exp.runs:
        raise ConfigError(f"{exp.source or exp.name}: gradcheck needs a [[runs]] entry to check")
    data: dict[str, RunData] = {}
    for spec in runs:  # load (and cache) every dataset first: bad data fails before any write
        data[spec.name] = load_run_data(spec)  # uint8 parts: NaN/inf cannot occur
        _check(exp, spec, data[spec.name].splits)
        if spec.data.retrain_split:
            retrain_splits = load_run_data(spec, split=spec.data.retrain_split).splits
            check_run(exp, spec, retrain_splits, retrain=True)
    if exp.runs:
        check_gradcheck(exp, load_run_data(exp.runs[0]).splits)
    return data


def plan(folder: ResultsFolder, runs: list[RunSpec], data: dict, fresh: bool):
    """Sort the runs into pending and skipped; refuse before touching any finished run."""
    states = {s.name: folder.state_of(s, spec_json(s), data[s.name].fingerprint) for s in runs}
    conflicts = [s for s in runs if states[s.name][0] == "conflict"]
    if conflicts and not fresh:
        first = conflicts[0]
        what = describe(
            saved_config(folder.exp_dir, first.name) or {}, spec_json(first), states[first.name][1]
        )
        names = ", ".join(s.name for s in conflicts)
        raise ConfigError(
            f"{folder.exp_dir}: finished run(s) {names} were made with other settings "
            f"({first.name}: {what}); nothing was changed. Pass --fresh to move the old "
            "results aside (to replaced/) and retrain, or write to another folder with --out"
        )
    pending, skipped, notes = [], [], []
    for spec in runs:
        state = states[spec.name][0]
        if state == "finished" and not fresh:
            skipped.append(spec.name)
            continue
        if state in ("finished", "conflict"):
            moved = folder.move_aside(spec.name)
            notes.append(f"{spec.name}: the earlier results were moved to {moved}")
        elif state == "stale":
            folder.clear_unfinished(spec.name)
        folder.remove_temp_files(spec.name)
        pending.append(spec)
    return pending, skipped, notes


def cap_jobs(jobs: int, n_pending: int) -> tuple[int, list[str]]:
    """At most one process per pending run and JOBS_PER_CORE per available core."""
    limit = max(1, min(max(n_pending, 1), JOBS_PER_CORE * available_cores()))
    if jobs <= limit or n_pending == 0:  # nothing to run: nothing to say
        return jobs, []
    return limit, [
        f"--jobs {jobs} capped at {limit} ({n_pending} pending runs, "
        f"{available_cores()} cores, at most {JOBS_PER_CORE} jobs per core)"
    ]


def _check(exp: Experiment, spec: RunSpec, splits) -> None:
    check_run(exp, spec, splits)
    check_cycles(f"{exp.source or exp.name}: run {spec.name!r}", spec, splits.train.n)


def _write_experiment_json(
    exp: Experiment, exp_dir: Path, data: dict, names: list[str], search: bool
) -> None:
    notes = sorted({n for d in data.values() for n in d.notes})
    write_json(
        exp_dir / "experiment.json",
        {
            "name": exp.name,
            "title": exp.header.title,
            "description": exp.header.description,
            "runs": names,  # with every search trial drawn so far
            "search": SEARCH_JSON if search else None,
            "notes": notes,
            "source": exp.source.name if exp.source else None,
            "report": report_settings(exp),  # baseline, reference, figures, repeats, grids
        },
    )


def _check_writable(out: Path) -> None:
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(
            f"cannot write results under {out}: {probe} is not a writable folder; "
            "pass --out with a folder you can write"
        )


def _check_results_folder(exp_dir: Path) -> None:
    if exp_dir.exists() and not exp_dir.is_dir():
        raise ConfigError(
            f"cannot create the results folder {exp_dir}: a file of that name is in the way; "
            "move it, or pass --out with another folder"
        )
