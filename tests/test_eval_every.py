"""Per-update evaluation (`train.eval_every`): rows between epochs with a `step` column.

- the epoch rows and the weights are those of the same run without eval_every, bit for bit
  (evaluation draws no random numbers and changes no state);
- rows fall after every N-th update that does not end an epoch; best epochs ignore them;
- history.csv round-trips with the column, and files written before it existed still read;
- a run killed after a checkpoint resumes to the same history, rows between epochs included.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from runhelpers import DIGITS, experiment, history_rows, metrics, no_figures  # noqa: F401

from scratchlab.errors import ConfigError
from scratchlab.experiments.execute import execute_run
from scratchlab.nn import build_mlp
from scratchlab.optim import get_optimizer, get_schedule
from scratchlab.train import COLUMNS, History, TrainState, fit
from scratchlab.train.history import STEP_COLUMNS


def _data(n=130, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)
    return (X, y), (X[:40], y[:40])


def _state(seed=1):
    rng = np.random.default_rng(seed)
    model = build_mlp(6, 3, (8,), dropout=0.2, batch_norm=True, rng=rng)
    return TrainState(model, get_optimizer("momentum"), rng)


def _train(state, n_epochs, eval_every=None):
    train, val = _data()
    schedule = get_schedule("cyclical", 0.1, eta_min=1e-3, eta_max=0.2, step_size=5)
    kw = {"n_epochs": n_epochs, "n_batch": 16, "shuffle": True, "eval_every": eval_every}
    return fit(
        state.model,
        train,
        val,
        optimizer=state.optimizer,
        schedule=schedule,
        rng=state.rng,
        history=state.history,
        **kw,
    )


def _no_time(rows):
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


def test_rows_between_epochs_leave_the_training_unchanged():
    plain, stepped = _state(), _state()
    h0 = _train(plain, 3)
    h1 = _train(stepped, 3, eval_every=3)
    # 130 rows / 16 = 9 updates per epoch (the last batch has 2 rows): steps 3, 6 | 9 | ...
    assert [r["step"] for r in h1.rows] == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]
    assert [r["epoch"] for r in h1.rows] == [0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    ends = h1.epoch_rows()
    assert [r["step"] for r in ends] == [0, 9, 18, 27]
    assert _no_time([{k: v for k, v in r.items() if k != "step"} for r in ends]) == _no_time(
        h0.rows
    )
    for key, w in plain.model.get_weights().items():
        assert np.array_equal(stepped.model.get_weights()[key], w), key
    assert tuple(h1.rows[0]) == STEP_COLUMNS and tuple(h0.rows[0]) == COLUMNS
    assert h1.best_epoch == h0.best_epoch


def test_a_row_between_epochs_is_never_the_best_epoch():
    h = History()
    for epoch, step, acc in [(0, 0, 0.1), (1, 5, 0.9), (1, 10, 0.5), (2, 20, 0.6)]:
        h.append({c: 0.0 for c in COLUMNS} | {"epoch": epoch, "step": step, "val_acc": acc})
    assert h.has_steps and [r["step"] for r in h.epoch_rows()] == [0, 10, 20]
    assert h.best("val_acc") == 2  # 0.9 was measured mid-epoch 1: no weights kept for it


def test_history_csv_with_steps_round_trips_and_old_files_still_read(tmp_path):
    state = _state()
    h = _train(state, 2, eval_every=4)
    back = History.from_csv(h.to_csv(tmp_path / "h.csv"))
    assert back.rows == h.rows and back.has_steps
    assert (tmp_path / "h.csv").read_text().splitlines()[0] == ",".join(STEP_COLUMNS)
    old = tmp_path / "old.csv"  # a history.csv written before the step column existed
    old_rows = ["0,2.3,2.3,0.1,2.3,2.3,0.1,0.01,0.0", "1,1.1,1.2,0.6,1.3,1.4,0.55,0.01,1.5"]
    old.write_text("\n".join([",".join(COLUMNS), *old_rows]) + "\n")
    read = History.from_csv(old)
    assert not read.has_steps and read.last_epoch == 1 and read.best_epoch == 1
    assert tuple(read.rows[1]) == COLUMNS and read.rows[1]["val_acc"] == 0.55


def test_resuming_a_saved_state_reproduces_the_rows_between_epochs(tmp_path):
    full = _state()
    _train(full, 4, eval_every=4)
    half = _state()
    _train(half, 2, eval_every=4)
    np.savez(tmp_path / "s.npz", **half.state_dict())
    fresh = _state(seed=99)
    with np.load(tmp_path / "s.npz") as saved:
        fresh.load_state_dict(dict(saved))
    assert fresh.history.has_steps and fresh.history.last_epoch == 2
    _train(fresh, 4, eval_every=4)
    assert _no_time(fresh.history.rows) == _no_time(full.history.rows)
    with pytest.raises(ConfigError, match="made with eval_every"):
        _train(fresh, 5)  # the same history without eval_every: refused, not mixed


def test_a_loss_that_blows_up_between_epochs_ends_the_run_there():
    train, val = _data()
    model = build_mlp(6, 3, (8,), rng=np.random.default_rng(0))
    before = model.get_weights()
    kw = {"optimizer": "sgd", "schedule": 1e30, "n_epochs": 3, "n_batch": 16}
    hist = fit(model, train, val, eval_every=1, **kw)
    assert hist.status == "diverged" and "at update 1 (epoch 1)" in hist.message
    assert all(np.array_equal(model.get_weights()[k], w) for k, w in before.items())
    assert [(r["epoch"], r["step"]) for r in hist.rows] == [(0, 0), (1, 1)]


LAB = (
    DIGITS
    + """
[[runs]]
name = "steps"
model = { hidden = [12], dropout = 0.1 }
train = { n_epochs = 4, n_batch = 100, shuffle = true, eval_every = { epochs = 0.25 }, \
schedule = { name = "cyclical", eta_min = 0.001, eta_max = 0.1, step_size_epochs = 1 } }
"""
)


class Crash(Exception):
    pass


@pytest.mark.usefixtures("no_figures")
def test_a_run_killed_after_a_checkpoint_resumes_to_the_same_history(tmp_path, monkeypatch):
    spec = experiment(tmp_path, LAB).runs[0]
    ref = tmp_path / "ref"
    m = execute_run(spec, ref)
    # digits: 1,151 training images, batches of 100 -> 12 updates per epoch, a row every 3
    rows = history_rows(ref)
    assert [int(r["step"]) for r in rows][:6] == [0, 3, 6, 9, 12, 15]
    assert len(rows) == 1 + 4 * 4 and m["training"]["updates_per_epoch"] == 12
    assert m["training"]["schedule"]["step_size"] == 12

    seen = []

    def crash_on_third(epoch, n_epochs, row):
        seen.append(epoch)
        if len(seen) == 3:  # after epoch 2's checkpoint
            raise Crash

    run = tmp_path / "run"
    with pytest.raises(Crash):
        execute_run(spec, run, progress=crash_on_third)
    assert (run / "checkpoint.npz").exists() and not (run / "metrics.json").exists()
    execute_run(spec, run)
    assert history_rows(run) == rows
    assert metrics(run) == metrics(ref)


def test_eval_every_is_updates_or_a_share_of_an_epoch_and_a_run_can_switch(tmp_path):
    body = DIGITS + 'eval_every = 5\n[[runs]]\nname = "a"\n[[runs]]\nname = "b"\n'
    body += "train = { eval_every = { epochs = 0.5 } }\n"
    a, b = experiment(tmp_path, body).runs
    assert a.train.eval_every == 5 and b.train.eval_every.epochs == 0.5  # replaced, not mixed
    for bad in ("0", "0.5", "{ epochs = 0 }", "{ epoch = 1 }"):
        with pytest.raises(ConfigError, match="train.eval_every") as err:
            experiment(tmp_path, DIGITS + f"eval_every = {bad}\n")
        assert "\n" not in str(err.value)


def test_step_column_is_absent_without_eval_every():
    h = _train(_state(), 1)
    assert not h.has_steps and all("step" not in r for r in h.rows)
    assert not math.isnan(h.rows[-1]["val_acc"])


KILL_LAB = (
    DIGITS
    + """
[[runs]]
name = "long"
model = { hidden = [16], dropout = 0.1 }
train = { n_epochs = 40, n_batch = 32, shuffle = true, eval_every = 10, optimizer = "adam", \
eta = 0.003 }
"""
)


def _checkpoint_epoch(path):
    import json

    try:
        with np.load(path, allow_pickle=False) as data:
            return int(json.loads(data["meta"].tobytes().decode())["history"]["rows"][-1]["epoch"])
    except (OSError, ValueError, KeyError):  # not there yet (or replaced while we read)
        return None


@pytest.mark.slow
@pytest.mark.usefixtures("no_figures")
def test_kill_9_mid_run_with_eval_every_then_rerun_equals_an_uninterrupted_run(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from runhelpers import ROOT, subprocess_env, write

    from scratchlab.experiments.runner import run_experiment

    path = write(tmp_path / "lab.toml", 'name = "lab"\n' + KILL_LAB)
    args = [sys.executable, "-m", "scratchlab.cli", "run", str(path), "--out", str(tmp_path / "k")]
    run = tmp_path / "k" / "lab" / "long"
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=subprocess_env()
    )
    try:
        deadline = time.monotonic() + 120
        while (epoch := _checkpoint_epoch(run / "checkpoint.npz")) is None or epoch < 3:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert not (run / "metrics.json").exists(), "the run finished before the kill"
    done = subprocess.run(
        args, capture_output=True, text=True, cwd=ROOT, env=subprocess_env(), timeout=300
    )
    assert done.returncode == 0, done.stderr
    ref = run_experiment(experiment(tmp_path, KILL_LAB), tmp_path / "ref").exp_dir / "long"
    rows = history_rows(run)
    assert rows == history_rows(ref) and int(rows[-1]["step"]) == 40 * 36
    assert len(rows) > 41 and metrics(run) == metrics(ref)
