"""Snapshot ensembles (`ensemble_snapshots = "cycle_ends"`) and `step_size_epochs`.

- a snapshot is the model after update 2 n_s, 4 n_s, ...: the same weights as a model trained
  for exactly that many cycles;
- the run's headline is the snapshots' majority vote; each snapshot's numbers sit apart in
  metrics.json["ensemble"] (kind "snapshots") with the cycle and update it was taken at;
- a run stopped after a checkpoint resumes to the same snapshots and numbers;
- the rules (a cyclical rate, one model, at least one whole cycle) fail at load or before
  anything is written, in one line.
"""

from __future__ import annotations

import numpy as np
import pytest
from runhelpers import (  # noqa: F401
    DIGITS,
    assert_one_error_line,
    cli,
    experiment,
    metrics,
    no_figures,
    same_weights,
    weights,
    write,
)

from scratchlab.errors import ConfigError
from scratchlab.experiments.assemble import assemble
from scratchlab.experiments.execute import execute_run
from scratchlab.experiments.result import majority_vote
from scratchlab.experiments.rundata import load_run_data
from scratchlab.nn import Sequential
from scratchlab.optim import get_schedule
from scratchlab.train import fit
from scratchlab.train.snapshots import CycleSnapshots

CYCLICAL = 'schedule = { name = "cyclical", eta_min = 0.001, eta_max = 0.1, step_size_epochs = 1 }'
LAB = (
    DIGITS
    + f"""
[[runs]]
name = "snap"
ensemble_snapshots = "cycle_ends"
model = {{ hidden = [12] }}
train = {{ n_epochs = 6, n_batch = 100, shuffle = true, {CYCLICAL} }}
"""
)


def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64)


def test_snapshots_are_the_weights_after_whole_cycles():
    from scratchlab.nn import build_mlp

    X, y = _blobs()
    schedule = get_schedule("cyclical", 0.1, eta_min=0.01, eta_max=0.3, step_size=3)

    def train(n_epochs, callbacks=()):
        model = build_mlp(5, 2, (6,), rng=np.random.default_rng(4))
        fit(
            model,
            (X, y),
            None,
            optimizer="momentum",
            schedule=schedule,
            n_epochs=n_epochs,
            n_batch=40,
            shuffle=True,
            rng=np.random.default_rng(5),
            callbacks=callbacks,
        )
        return model

    snaps = CycleSnapshots(cycle=6)
    train(6, [snaps])  # 3 updates per epoch: 18 updates, cycles end at 6, 12, 18
    assert [step for step, _ in snaps.snapshots] == [6, 12, 18]
    for k, (_, taken) in enumerate(snaps.snapshots, start=1):
        assert same_weights(taken, train(2 * k).get_weights()), k
    back = CycleSnapshots(cycle=6)
    back.load_state_dict(snaps.state_dict())
    assert [s for s, _ in back.snapshots] == [6, 12, 18]
    assert all(
        same_weights(a, b) for (_, a), (_, b) in zip(back.snapshots, snaps.snapshots, strict=True)
    )


def test_between_snapshots_a_tie_goes_to_the_later_snapshot():
    votes = np.array([[0, 3, 5, 1], [1, 3, 4, 2], [1, 2, 4, 3], [0, 2, 5, 4]])  # 4 snapshots
    assert majority_vote(votes, 6).tolist() == [0, 2, 4, 1]  # 2-2 ties: the lowest label
    assert majority_vote(votes, 6, later_wins_ties=True).tolist() == [0, 2, 5, 4]
    assert majority_vote(votes[:3], 6, later_wins_ties=True).tolist() == [1, 3, 4, 3]  # 2 of 3


@pytest.mark.usefixtures("no_figures")
def test_the_run_votes_with_its_cycle_end_snapshots(tmp_path):
    spec = experiment(tmp_path, LAB).runs[0]
    run = tmp_path / "snap"
    m = execute_run(spec, run)
    splits = load_run_data(spec).splits
    # digits: 1,151 training images, batches of 100: 12 updates per epoch = n_s; cycle = 24
    assert m["training"] == {
        "updates_per_epoch": 12,
        "schedule": {"name": "cyclical", "eta_min": 0.001, "eta_max": 0.1, "step_size": 12},
    }
    ens = m["ensemble"]
    assert ens["kind"] == "snapshots" and ens["n_members"] == 3 and ens["vote"] == "majority"
    assert [(s["cycle"], s["step"], s["epoch"]) for s in ens["members"]] == [
        (1, 24, 2.0),
        (2, 48, 4.0),
        (3, 72, 6.0),
    ]
    predictions = {}
    for s in ens["members"]:
        model = Sequential.load(run / s["model"])
        for part in ("val", "test"):
            p = getattr(splits, part)
            predicted = model.predict(p.X, transform=splits.standardiser)
            predictions.setdefault(part, []).append(predicted)
            assert s["final"][part]["acc"] == pytest.approx(float(np.mean(predicted == p.y)))
    for part in ("val", "test"):
        vote = majority_vote(np.stack(predictions[part]), splits.n_classes, later_wins_ties=True)
        assert m["final"][part]["acc"] == float(np.mean(vote == getattr(splits, part).y))
        assert m["final"][part]["loss"] is None  # a hard vote has no loss
    # the last cycle ends with training: the last snapshot is the run's own final model
    assert same_weights(weights(run, "snapshots/cycle-3.npz"), weights(run))
    assert (run / "history.csv").exists() and not (run / "member-1").exists()
    accs = [s["final"]["test"]["acc"] for s in ens["members"]]
    assert ens["member_mean"]["test"]["acc"] == pytest.approx(np.mean(accs))


class Crash(Exception):
    pass


@pytest.mark.usefixtures("no_figures")
def test_a_stopped_snapshot_run_resumes_to_the_same_snapshots(tmp_path):
    spec = experiment(tmp_path, LAB).runs[0]
    ref = tmp_path / "ref"
    execute_run(spec, ref)
    seen = []

    def crash(epoch, n_epochs, row):
        seen.append(epoch)
        if epoch == 3:  # after epoch 3's checkpoint: cycle 1's snapshot is in it, cycle 2's not
            raise Crash

    run = tmp_path / "run"
    with pytest.raises(Crash):
        execute_run(spec, run, progress=crash)
    execute_run(spec, run)
    assert metrics(run) == metrics(ref)
    for cycle in (1, 2, 3):
        name = f"snapshots/cycle-{cycle}.npz"
        assert same_weights(weights(run, name), weights(ref, name)), cycle


def test_step_size_epochs_is_n_s_in_updates_per_epoch(tmp_path):
    spec = experiment(tmp_path, LAB.replace("step_size_epochs = 1", "step_size_epochs = 2.5")).runs[
        0
    ]
    parts = assemble(spec, load_run_data(spec).splits, spec.seed)
    assert parts.updates_per_epoch == 12 and parts.schedule.step_size == 30  # round(2.5 * 12)
    assert parts.snapshots.cycle == 60


SNAP = 'ensemble_snapshots = "cycle_ends"'


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        (CYCLICAL, 'schedule = "constant"', "train.schedule must be cyclical"),
        (SNAP, f"{SNAP}\nensemble = 3", "ensemble must be 1"),
        (CYCLICAL, f"{CYCLICAL}, keep_best = true", "pick an epoch"),
    ],
)
def test_snapshot_rules_fail_at_load_in_one_line(tmp_path, old, new, needle):
    with pytest.raises(ConfigError, match=needle) as err:
        experiment(tmp_path, LAB.replace(old, new))
    assert "\n" not in str(err.value) and "'snap'" in str(err.value)


def test_both_or_neither_cyclical_length_is_refused(tmp_path):
    both = LAB.replace("step_size_epochs = 1", "step_size_epochs = 1, step_size = 10")
    with pytest.raises(ConfigError, match="exactly one"):
        experiment(tmp_path, both)
    with pytest.raises(ConfigError, match="exactly one"):
        experiment(tmp_path, LAB.replace(", step_size_epochs = 1", ""))


def test_too_few_epochs_for_one_cycle_is_refused_before_writing(tmp_path):
    path = write(
        tmp_path / "lab.toml", 'name = "lab"\n' + LAB.replace("n_epochs = 6", "n_epochs = 1")
    )
    done = cli(["run", str(path), "--out", str(tmp_path / "out")])
    assert done.returncode == 2
    assert_one_error_line(
        done.stderr,
        "ensemble_snapshots needs at least one whole cycle",
        "train for at least 2 epochs",
    )
    assert not (tmp_path / "out").exists()
