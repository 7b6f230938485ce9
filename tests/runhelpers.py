"""Helpers for the experiment-layer and reliability tests (import from any test module).

    exp = experiment(tmp_path, DIGITS + '[[runs]]\\nname = "a"\\n')   # write + load a TOML
    rows = history_rows(run_dir)        # history.csv without the `time` column
    m = metrics(run_dir)                # metrics.json without time_s / figures
    proc = cli(["run", str(path), "--out", str(out)])   # a real `python -m scratchlab.cli`

`no_figures` (a fixture: `from runhelpers import no_figures`) stubs the per-run figures and
the comparison chart in this process: they take ~0.3 s each and most tests only read
numbers. Subprocesses and `--jobs 2` workers still draw them.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scratchlab.experiments.config import Experiment, load_experiment

ROOT = Path(__file__).resolve().parents[1]

# A small, fast default section set on scikit-learn's bundled digits (1,151 train images).
DIGITS = """
[data]
dataset = "digits"

[train]
n_epochs = 2
n_batch = 64
eta = 0.05
"""


def write(path: Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def experiment(tmp_path: Path, body: str, name: str = "lab", **kw) -> Experiment:
    """Write `name = ...` + body to tmp_path/<name>.toml and load it."""
    return load_experiment(write(tmp_path / f"{name}.toml", f'name = "{name}"\n{body}'), **kw)


def history_rows(run_dir: Path) -> list[dict]:
    """history.csv as dicts of strings, without the wall-clock `time` column."""
    with open(Path(run_dir) / "history.csv", newline="", encoding="utf-8") as handle:
        return [{k: v for k, v in row.items() if k != "time"} for row in csv.DictReader(handle)]


def metrics(run_dir: Path, *, drop=("time_s", "figures")) -> dict:
    """metrics.json without the wall-clock time (and the figure list, absent when stubbed)."""
    data = json.loads((Path(run_dir) / "metrics.json").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if k not in drop}


def weights(run_dir: Path, name: str = "model.npz") -> dict[str, np.ndarray]:
    with np.load(Path(run_dir) / name, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **extra}
    env.pop("COLUMNS", None)
    return env


def cli(args: list[str], *, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """Run `python -m scratchlab.cli ARGS` to completion (text output captured)."""
    return subprocess.run(
        [sys.executable, "-m", "scratchlab.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=subprocess_env(**env),
    )


def assert_one_error_line(err: str, *needles: str) -> str:
    """stderr holds exactly one line `scratchlab: error: ...` (warnings and the progress
    lines of runs that started before the error aside), no traceback."""
    assert "Traceback" not in err, err
    progress = re.compile(r"^\S+: started \(done \d+ · running \d+ · pending \d+\)$")
    lines = [line for line in err.splitlines() if not line.startswith("scratchlab: warning:")]
    lines = [line for line in lines if not progress.match(line)]
    lines = [line for line in lines if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("scratchlab: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture
def no_figures(monkeypatch):
    """Skip drawing PNGs in this process (the numbers are unchanged)."""
    import scratchlab.experiments.writers as writers

    monkeypatch.setattr(writers, "run_figures", lambda *a, **k: {})
