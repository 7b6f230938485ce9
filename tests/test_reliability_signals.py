"""SIGTERM / SIGINT with `--jobs 2`: the workers stop before the command returns (no run goes
on writing afterwards), and the next command resumes the interrupted runs exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from runhelpers import (  # noqa: F401
    DIGITS,
    ROOT,
    experiment,
    history_rows,
    metrics,
    subprocess_env,
    write,
)

from scratchlab.experiments.runner import run_experiment

LAB = DIGITS + "".join(
    f'[[runs]]\nname = "r{i}"\nseed = {i}\nmodel = {{ hidden = [64] }}\n'
    'train = { n_epochs = 25, n_batch = 16, shuffle = true, optimizer = "momentum" }\n'
    for i in (1, 2)
)


def _epoch(path: Path) -> int:
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes().decode())
        return int(meta["history"]["rows"][-1]["epoch"])
    except (OSError, ValueError, KeyError):
        return -1


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "?"


def _default_sigint() -> None:
    """The child's Ctrl-C as at a terminal: a suite started in the background of a
    non-interactive shell (`.ci/run &`) ignores SIGINT, and children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _snapshot(folder: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same experiment, uninterrupted (numbers only: figures are not compared)."""
    tmp = tmp_path_factory.mktemp("ref")
    return run_experiment(experiment(tmp, LAB), tmp / "ref").exp_dir


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_worker_and_the_runs_resume(tmp_path, sig, reference):
    path = write(tmp_path / "lab.toml", 'name = "lab"\n' + LAB)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "scratchlab.cli", "run", str(path), "--out", str(out),
            "--jobs", "2"]  # fmt: skip
    proc = subprocess.Popen(args, cwd=ROOT, env=subprocess_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)  # fmt: skip
    ckpts = [out / "lab" / r / "checkpoint.npz" for r in ("r1", "r2")]
    deadline = time.monotonic() + 120
    while min(_epoch(c) for c in ckpts) < 2:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the runs never checkpointed"
        time.sleep(0.02)
    family = _children(proc.pid)
    family += [g for c in family for g in _children(c)]
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    grace = time.monotonic() + 3.0  # a process may still be in the kernel's exit path
    while (alive := [_cmdline(p) for p in family if _alive(p)]) and time.monotonic() < grace:
        time.sleep(0.05)
    assert not alive, f"outlived the command: {alive}"
    before = _snapshot(out)
    time.sleep(1.0)
    assert _snapshot(out) == before, "something went on writing after the command returned"
    unfinished = [r for r in ("r1", "r2") if not (out / "lab" / r / "metrics.json").exists()]
    assert unfinished, "both runs finished before the signal: make them longer"
    if sig == signal.SIGINT:
        return  # the same stop path as SIGTERM (KeyboardInterrupt); its resume is checked there

    done = subprocess.run(args, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for run in ("r1", "r2"):
        assert history_rows(out / "lab" / run) == history_rows(reference / run), run
        assert metrics(out / "lab" / run) == metrics(reference / run), run
