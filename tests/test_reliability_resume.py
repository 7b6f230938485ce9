"""Crash safety: `kill -9` in the middle of `scratchlab run`, then the same command again.

The finished run is kept, the interrupted one resumes from its last checkpoint, and the end
result equals an uninterrupted run with the same seed: history.csv (every column but `time`),
metrics.json (but `time_s`) and the weights, bit for bit. The interrupted run uses every
source of randomness and state a resume must restore: shuffling, augmentation and dropout
(the RNG), Adam's moments and step count (the schedule's position), batch-norm running
statistics, and keep-best's best weights.
"""

from __future__ import annotations

import json
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
    no_figures,
    same_weights,
    subprocess_env,
    weights,
    write,
)

from scratchlab.experiments import execute, writers
from scratchlab.experiments.execute import execute_run
from scratchlab.experiments.runner import run_experiment

RESUME_LAB = (
    DIGITS
    + """
[[runs]]
name = "first"

[[runs]]
name = "second"
model = { hidden = [24], dropout = 0.2, batch_norm = true }
train = { n_epochs = 60, n_batch = 32, optimizer = "adam", eta = 0.003, shuffle = true, \
keep_best = true, schedule = { name = "exp_decay", gamma = 0.97 }, \
augment = [{ kind = "translate", max_shift = 1 }, { kind = "gaussian_noise", sigma = 0.05 }] }
"""
)


def _checkpoint_epoch(path: Path) -> int | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            return int(json.loads(data["meta"].tobytes().decode())["history"]["rows"][-1]["epoch"])
    except (OSError, ValueError, KeyError):  # not there yet (or replaced while we read)
        return None


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "scratchlab.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        cwd=ROOT,
        env=subprocess_env(),
    )


@pytest.mark.slow
@pytest.mark.usefixtures("no_figures")
def test_kill_9_mid_run_then_rerun_equals_an_uninterrupted_run(tmp_path):
    path = write(tmp_path / "lab.toml", 'name = "lab"\n' + RESUME_LAB)
    out = tmp_path / "killed"
    args = ["run", str(path), "--out", str(out)]
    second = out / "lab" / "second"

    proc = _start(args, tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 90
        while (epoch := _checkpoint_epoch(second / "checkpoint.npz")) is None or epoch < 3:
            assert proc.poll() is None, (tmp_path / "first.log").read_text()
            assert time.monotonic() < deadline, "the second run never checkpointed"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (second / "metrics.json").exists(), "the run finished before the kill"
    killed_at = _checkpoint_epoch(second / "checkpoint.npz")
    assert 3 <= killed_at < 60
    first_stamp = (out / "lab" / "first" / "metrics.json").stat().st_mtime_ns

    done = subprocess.run([sys.executable, "-m", "scratchlab.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, env=subprocess_env(), timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "first: finished earlier, skipped" in done.stderr
    assert (out / "lab" / "first" / "metrics.json").stat().st_mtime_ns == first_stamp
    assert not list(out.rglob("checkpoint.npz")) and not list(out.rglob(".*.tmp"))

    # The reference: the same experiment, uninterrupted, here (figures stubbed: numbers only).
    ref = run_experiment(experiment(tmp_path, RESUME_LAB), tmp_path / "reference").exp_dir
    for run in ("first", "second"):
        assert history_rows(out / "lab" / run) == history_rows(ref / run), run
        assert metrics(out / "lab" / run) == metrics(ref / run), run
        assert same_weights(weights(out / "lab" / run), weights(ref / run)), run
    m = metrics(ref / "second")
    assert m["epochs_trained"] == 60 and m["best_epoch"] is not None
    resumed = json.loads((out / "lab" / "second" / "metrics.json").read_text())
    assert resumed["figures"]  # the subprocess drew them


# --- crashes simulated in-process (cheaper; cover ensembles, retraining, early stopping) ---


class Crash(Exception):
    pass


def _crash_at(n_events: int):
    """A progress callback that raises on its n-th epoch event (after that epoch's checkpoint)."""
    seen = [0]

    def progress(epoch, n_epochs, row):
        seen[0] += 1
        if seen[0] == n_events:
            raise Crash

    return progress


def _compare(run_a: Path, run_b: Path, parts=("",)) -> None:
    for part in parts:
        assert history_rows(run_a / part) == history_rows(run_b / part), part
        assert same_weights(weights(run_a / part), weights(run_b / part)), part
    assert metrics(run_a) == metrics(run_b)


ENSEMBLE = (
    DIGITS
    + """
[[runs]]
name = "ens"
ensemble = 2
model = { hidden = [12], dropout = 0.1 }
data = { retrain_split = "full" }
train = { n_epochs = 4, shuffle = true, optimizer = "momentum", keep_best = true, \
augment = [{ kind = "flip", p = 0.3 }] }
"""
)


@pytest.mark.parametrize("crash_at", [3, 7, 12])  # member 1, member 2, the retraining
@pytest.mark.usefixtures("no_figures")
def test_crash_inside_an_ensemble_or_retraining_resumes_exactly(tmp_path, crash_at):
    spec = experiment(tmp_path, ENSEMBLE).runs[0]
    execute_run(spec, tmp_path / "ref")
    with pytest.raises(Crash):
        execute_run(spec, tmp_path / "crash", progress=_crash_at(crash_at))
    assert list((tmp_path / "crash").rglob("checkpoint.npz"))
    execute_run(spec, tmp_path / "crash")
    _compare(tmp_path / "ref", tmp_path / "crash", ("member-1", "member-2", "retrain"))


EARLY = (
    DIGITS
    + """
[[runs]]
name = "es"
train = { n_epochs = 60, optimizer = "adam", eta = 0.05, shuffle = true, \
early_stopping = { monitor = "val_acc", patience = 2 } }
"""
)


@pytest.mark.usefixtures("no_figures")
def test_crash_after_early_stopping_keeps_the_stop(tmp_path, monkeypatch):
    spec = experiment(tmp_path, EARLY).runs[0]
    ref = execute_run(spec, tmp_path / "ref")
    assert ref["status"] == "early_stopped" and ref["epochs_trained"] < 60

    def crash(*args, **kw):
        raise Crash  # training and its last checkpoint are done; figures are not

    monkeypatch.setattr(writers, "run_figures", crash)
    with pytest.raises(Crash):
        execute_run(spec, tmp_path / "crash")
    monkeypatch.setattr(writers, "run_figures", lambda *a, **k: {})
    again = execute_run(spec, tmp_path / "crash")
    assert again["status"] == "early_stopped"
    _compare(tmp_path / "ref", tmp_path / "crash")


@pytest.mark.usefixtures("no_figures")
def test_crash_mid_early_stopping_run_resumes_exactly(tmp_path):
    spec = experiment(tmp_path, EARLY).runs[0]
    execute_run(spec, tmp_path / "ref")
    with pytest.raises(Crash):
        execute_run(spec, tmp_path / "crash", progress=_crash_at(2))
    execute_run(spec, tmp_path / "crash")
    _compare(tmp_path / "ref", tmp_path / "crash")


@pytest.mark.usefixtures("no_figures")
def test_an_unreadable_checkpoint_means_retraining(tmp_path):
    spec = experiment(tmp_path, DIGITS + '[[runs]]\nname = "a"\nmodel = { hidden = [8] }\n').runs[0]
    execute_run(spec, tmp_path / "ref")
    with pytest.raises(Crash):
        execute_run(spec, tmp_path / "crash", progress=_crash_at(2))
    (tmp_path / "crash" / "checkpoint.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.warns(UserWarning, match="ignoring unreadable checkpoint"):
        execute_run(spec, tmp_path / "crash")
    _compare(tmp_path / "ref", tmp_path / "crash")


@pytest.mark.usefixtures("no_figures")
def test_without_checkpoints_an_interrupted_run_starts_again(tmp_path):
    spec = experiment(tmp_path, DIGITS + "checkpoint_every = 0\n").runs[0]
    execute_run(spec, tmp_path / "ref")
    with pytest.raises(Crash):
        execute_run(spec, tmp_path / "crash", progress=_crash_at(2))
    assert not (tmp_path / "crash" / "checkpoint.npz").exists()
    execute_run(spec, tmp_path / "crash")
    _compare(tmp_path / "ref", tmp_path / "crash")


@pytest.mark.usefixtures("no_figures")
def test_runner_resumes_the_interrupted_run_and_keeps_the_finished(tmp_path):
    body = DIGITS + '[[runs]]\nname = "a"\n[[runs]]\nname = "b"\ntrain = { n_epochs = 5 }\n'
    exp = experiment(tmp_path, body)
    ref = run_experiment(exp, tmp_path / "ref").exp_dir
    calls = []

    def crash_in_b(spec, run_dir, *, progress=None):
        calls.append(spec.name)
        return execute_run(spec, run_dir, progress=_crash_at(3) if spec.name == "b" else None)

    real = execute.execute_run
    execute.execute_run = crash_in_b
    try:
        with pytest.raises(Crash):
            run_experiment(exp, tmp_path / "crash")
    finally:
        execute.execute_run = real
    assert calls == ["a", "b"] and (tmp_path / "crash" / "lab" / "b" / "checkpoint.npz").exists()
    (tmp_path / "crash" / "lab" / "b" / ".history.csv.1234abcd.tmp").write_text("half")
    result = run_experiment(exp, tmp_path / "crash")
    assert result.skipped == ["a"] and result.trained == ["b"]
    assert not list((tmp_path / "crash").rglob("*.tmp"))
    for run in ("a", "b"):
        _compare(ref / run, tmp_path / "crash" / "lab" / run)
