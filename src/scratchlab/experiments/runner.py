"""Run every run of an experiment, skip the finished ones, then write the summary and report.

    validate (runs, data, output folder)  ─► nothing is written if this fails
    for each pending run (in processes when jobs > 1): execute_run ─► <run>/…
    gradcheck (if asked) ─► comparison figure ─► summary.csv, report.md, report.html

A run is finished when its `metrics.json` exists and its `config.json` equals the current
spec; an unfinished run with a checkpoint resumes from it (see `execute.py`).
"""

from __future__ import annotations

import fnmatch
import multiprocessing as mp
import os
import shutil
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchlab.errors import ConfigError, DataError, ScratchlabError
from scratchlab.experiments.config import Experiment
from scratchlab.experiments.execute import execute_run, load_run_data, run_gradcheck
from scratchlab.experiments.progress import RunProgress
from scratchlab.experiments.report import build_report
from scratchlab.experiments.schema import RunSpec
from scratchlab.experiments.summary import summary_rows
from scratchlab.io import read_json, write_json
from scratchlab.threads import resolve_threads


@dataclass
class ExperimentResult:
    exp_dir: Path
    rows: list[dict]
    report_md: Path
    report_html: Path
    skipped: list[str]
    trained: list[str]


def select_runs(exp: Experiment, only: str | None) -> list[RunSpec]:
    """`only` is a comma-separated list of run names or shell patterns (`grid-*`)."""
    if not only:
        return list(exp.runs)
    patterns = [p.strip() for p in only.split(",") if p.strip()]
    chosen = [r for r in exp.runs if any(fnmatch.fnmatchcase(r.name, p) for p in patterns)]
    if not chosen:
        names = ", ".join(r.name for r in exp.runs)
        raise ConfigError(f"--only {only!r} matches no run; the runs are: {names}")
    return chosen


def _check_writable(out: Path) -> None:
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write results under {out}: {probe} is not a writable folder; "
                          "pass --out with a folder you can write")  # fmt: skip


def _saved(path: Path) -> dict | None:
    """A JSON object the runner wrote, or None if it is missing or damaged."""
    try:
        value = read_json(path)
    except (ScratchlabError, OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _is_finished(run_dir: Path, spec: RunSpec) -> bool:
    """metrics.json (written last) is readable and config.json is this very spec."""
    metrics = _saved(run_dir / "metrics.json")
    return (
        metrics is not None
        and "status" in metrics
        and _saved(run_dir / "config.json") == spec.model_dump(mode="json", by_alias=True)
    )


def _check_finite(spec: RunSpec, splits) -> None:
    """Loaders give uint8 pixels, so NaN/inf cannot occur; this guards future formats."""
    for part in ("train", "val", "test"):
        X = getattr(splits, part).X
        with np.errstate(over="ignore", invalid="ignore"):
            finite = X.size == 0 or np.isfinite(np.sum(X, dtype=np.float64))
        if not finite and not np.isfinite(X).all():
            raise DataError(
                f"run {spec.name!r}: the {part} images of {spec.data.dataset} hold NaN or "
                "infinite values after loading; check the data files"
            )


def run_experiment(
    exp: Experiment,
    out: str | Path,
    *,
    only: str | None = None,
    jobs: int = 1,
    fresh: bool = False,
) -> ExperimentResult:
    out = Path(out)
    runs = select_runs(exp, only)
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    _check_writable(out)
    resolve_threads()  # a bad SCRATCHLAB_THREADS fails here, not inside the first run
    checked: set[int] = set()
    for spec in runs:  # load (and cache) every dataset first: bad data fails before any write
        data = load_run_data(spec, check=True)
        if id(data) not in checked:
            checked.add(id(data))
            _check_finite(spec, data.splits)

    exp_dir = out / exp.name
    try:
        exp_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the results folder {exp_dir}: {exc.strerror or exc}; "
            "pass --out with a folder you can write"
        ) from None
    notes = sorted({n for spec in runs for n in load_run_data(spec).notes})
    write_json(exp_dir / "experiment.json", {
        "name": exp.name, "title": exp.header.title, "description": exp.header.description,
        "runs": [r.name for r in exp.runs], "notes": notes,
        "source": str(exp.source) if exp.source else None,
    })  # fmt: skip

    pending, skipped = [], []
    for spec in runs:
        run_dir = exp_dir / spec.name
        if fresh and run_dir.exists():
            shutil.rmtree(run_dir)
        if _is_finished(run_dir, spec):
            skipped.append(spec.name)
        else:
            if run_dir.is_dir() and _saved(run_dir / "config.json") != (
                spec.model_dump(mode="json", by_alias=True)
            ):
                shutil.rmtree(run_dir)  # the spec changed: its old checkpoint is not a resume
            for tmp in run_dir.rglob(".*.tmp") if run_dir.is_dir() else ():
                tmp.unlink(missing_ok=True)  # left by a process killed while writing
            pending.append(spec)

    with RunProgress([s for s in pending], skipped) as progress:
        if jobs == 1 or len(pending) <= 1:
            for spec in pending:
                execute_run(spec, exp_dir / spec.name, progress=progress.callback(spec.name))
                progress.done(spec.name)
        else:
            _run_parallel(pending, exp_dir, jobs, progress)

    if exp.gradcheck and (fresh or not (exp_dir / "gradcheck.json").exists()):
        run_gradcheck(exp, exp_dir / "gradcheck.json")
    rows = summary_rows(exp_dir, [r.name for r in exp.runs])
    _comparison_figure(exp_dir, rows)
    md, html = build_report(exp_dir)
    return ExperimentResult(exp_dir, rows, md, html, skipped, [s.name for s in pending])


def _run_parallel(pending: list[RunSpec], exp_dir: Path, jobs: int, progress: RunProgress) -> None:
    ctx = mp.get_context("spawn")
    manager = ctx.Manager()
    queue = manager.Queue()
    listener = threading.Thread(target=progress.listen, args=(queue,), daemon=True)
    listener.start()
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = {
                pool.submit(_worker, spec, exp_dir / spec.name, queue): spec.name
                for spec in pending
            }
            for future in as_completed(futures):
                future.result()  # re-raise a worker's error here
    finally:
        queue.put(None)
        listener.join(timeout=5)
        manager.shutdown()


def _worker(spec: RunSpec, run_dir: Path, queue) -> str:
    """One run in a spawned process; BLAS threads follow scratchlab.threads (inside execute_run)."""
    from scratchlab.allocator import keep_freed_memory

    keep_freed_memory()  # a spawned worker starts with glibc's defaults
    execute_run(spec, run_dir, progress=lambda *event: queue.put((spec.name, *event)))
    queue.put((spec.name, "done"))
    return spec.name


def _comparison_figure(exp_dir: Path, rows: list[dict]) -> None:
    if len(rows) < 2:
        return
    from scratchlab.plots import plot_comparison_bars

    plot_comparison_bars([r["run"] for r in rows], [r["test_acc"] for r in rows],
                         exp_dir / "figures" / "comparison.png", ylabel="test accuracy",
                         title="Test accuracy per run", best=None)  # fmt: skip
