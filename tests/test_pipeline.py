"""The run pipeline: assemble → state → fit → RunResult → writers.

- a run through the pipeline equals the same training written by hand with `fit`, bit for bit;
- its numbers are those of the pre-pipeline code (pinned, to float32-kernel tolerance);
- an ensemble's row is the vote's, members apart; its figures are the vote's or labelled
  as the members' mean;
- metrics.json is strict JSON (no NaN token) and written last.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from runhelpers import DIGITS, experiment, history_rows, no_figures, weights  # noqa: F401

from scratchlab.experiments import figures, writers
from scratchlab.experiments.execute import execute_run
from scratchlab.experiments.result import majority_vote
from scratchlab.experiments.rundata import load_run_data
from scratchlab.nn import Sequential, build_mlp
from scratchlab.train import KeepBest, fit

PINNED = """
seed = 7
[data]
dataset = "digits"

[[runs]]
name = "a"
model = { hidden = [16], dropout = 0.2 }
train = { n_epochs = 4, eta = 0.05, shuffle = true, optimizer = "momentum" }

[[runs]]
name = "b"
train = { n_epochs = 4, eta = 0.01, keep_best = true, optimizer = "adam", lambda = 0.01, \
augment = [{ kind = "flip", p = 0.5 }] }

[[runs]]
name = "c"
data = { retrain_split = "full" }
model = { hidden = [10], batch_norm = true }
train = { n_epochs = 3, eta = 0.05, early_stopping = { monitor = "val_acc", patience = 1 } }
"""


def _metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.usefixtures("no_figures")
def test_numbers_are_those_of_the_code_before_the_pipeline(tmp_path):
    """Measured with the pre-pipeline runner (commit 1d12200) on the same specs: the new path
    gave bit-identical histories and metrics there; here a tolerance covers other BLAS kernels."""
    exp = experiment(tmp_path, PINNED)
    got = {spec.name: execute_run(spec, tmp_path / spec.name) for spec in exp.runs}
    close = dict(rel=2e-4)
    assert got["a"]["final"]["val"]["loss"] == pytest.approx(1.0958162546157837, **close)
    assert got["a"]["final"]["val"]["acc"] == pytest.approx(0.6411149825783972, abs=2e-3)
    row2 = history_rows(tmp_path / "a")[1]
    assert float(row2["train_loss"]) == pytest.approx(2.296879768371582, **close)
    assert got["b"]["best_epoch"] == 4
    assert got["b"]["final"]["test"]["cost"] == pytest.approx(0.6687132096290589, **close)
    assert got["c"]["status"] == "early_stopped" and got["c"]["best_epoch"] == 1
    assert got["c"]["retrain"]["test"]["loss"] == pytest.approx(2.2552883625030518, **close)


@pytest.mark.usefixtures("no_figures")
def test_a_run_equals_the_same_training_written_by_hand(tmp_path):
    spec = experiment(tmp_path, PINNED).runs[1]  # adam, λ, keep-best, augmentation
    got = execute_run(spec, tmp_path / "run")

    splits = load_run_data(spec).splits
    rng = np.random.default_rng(spec.seed)
    model = build_mlp(splits.dim, splits.n_classes, (), l2=0.01, rng=rng)
    from scratchlab.data.augment import build_augmenter
    from scratchlab.optim import Adam

    flip = build_augmenter([{"kind": "flip", "p": 0.5}], splits.image_shape)
    hist = fit(
        model,
        (splits.train.X, splits.train.y),
        (splits.val.X, splits.val.y),
        transform=splits.standardiser,
        optimizer=Adam(),
        schedule=0.01,
        n_epochs=4,
        n_batch=100,
        rng=rng,
        augment=lambda X, r: splits.standardise(flip(splits.raw(X), r)),
        keep_best=KeepBest(),
    )
    rows = history_rows(tmp_path / "run")
    assert [float(r["val_loss"]) for r in rows] == [r["val_loss"] for r in hist.rows]
    st = splits.standardiser
    assert got["final"]["test"] == model.evaluate(splits.test.X, splits.test.y, transform=st)
    saved = Sequential.load(tmp_path / "run" / "model.npz")
    for key, w in model.get_weights().items():
        assert np.array_equal(saved.get_weights()[key], w), key


ENSEMBLE = (
    DIGITS
    + """
[[runs]]
name = "ens"
ensemble = 3
model = { hidden = [12] }
train = { n_epochs = 3, shuffle = true }
"""
)


def test_an_ensemble_row_is_the_vote_and_its_figures_say_whose(tmp_path, monkeypatch):
    titles: dict[str, str] = {}
    for name in ("plot_loss_cost_acc", "plot_confusion", "plot_per_class_prf"):
        real = getattr(figures.plots, name)

        def spy(*args, _real=real, _name=name, **kw):
            titles[_name] = kw.get("title", "")
            return _real(*args, **kw)

        monkeypatch.setattr(figures.plots, name, spy)
    spec = experiment(tmp_path, ENSEMBLE).runs[0]
    run = tmp_path / "ens"
    m = execute_run(spec, run)
    splits = load_run_data(spec).splits

    members = [Sequential.load(run / f"member-{i}" / "model.npz") for i in (1, 2, 3)]
    for part in ("train", "val", "test"):
        X, y = getattr(splits, part)
        st = splits.standardiser
        predicted = np.stack([mm.predict(X, transform=st) for mm in members])
        vote = majority_vote(predicted, splits.n_classes)
        assert m["final"][part]["acc"] == pytest.approx(float(np.mean(vote == y)), abs=0)
        assert m["final"][part]["loss"] is None and m["final"][part]["cost"] is None
        accs = [mm.evaluate(X, y, transform=st)["acc"] for mm in members]
        assert m["ensemble"]["member_mean"][part]["acc"] == pytest.approx(np.mean(accs))
        assert m["ensemble"]["member_std"][part]["acc"] == pytest.approx(np.std(accs))
    assert [mem["seed"] for mem in m["ensemble"]["members"]] == [spec.seed + i for i in range(3)]
    # test_report and predictions are the vote's too
    with np.load(run / "predictions.npz") as p:
        assert np.mean(p["test_pred"] == p["test_true"]) == m["final"]["test"]["acc"]
    assert m["test_report"]["accuracy"] == m["final"]["test"]["acc"]
    # every figure of the row is the vote's or labelled as the members' mean; no member's weights
    assert set(m["figures"]) <= {"curves", "confusion", "prf", "misclassified"}
    assert "mean of 3 members" in titles["plot_loss_cost_acc"]
    assert "majority vote of 3 members" in titles["plot_confusion"]
    assert "majority vote of 3 members" in titles["plot_per_class_prf"]
    assert not (run / "history.csv").exists() and not (run / "model.npz").exists()


@pytest.mark.usefixtures("no_figures")
def test_metrics_json_is_strict_and_written_last(tmp_path, monkeypatch):
    spec = experiment(tmp_path, ENSEMBLE).runs[0]
    order = []
    real = writers.write_json

    def spy(path, obj):
        order.append(path.name)
        return real(path, obj)

    monkeypatch.setattr(writers, "write_json", spy)
    execute_run(spec, tmp_path / "ens")
    assert order[-1] == "metrics.json"
    text = (tmp_path / "ens" / "metrics.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict token {c}"))
    assert not list((tmp_path / "ens").rglob("checkpoint.npz"))


def test_mean_rows_uses_the_epochs_every_member_reached():
    a = [{"epoch": e, **dict.fromkeys(_COLS, float(e))} for e in range(4)]
    b = [{"epoch": e, **dict.fromkeys(_COLS, 3.0 * e)} for e in range(3)]
    mean = figures.mean_rows([a, b])
    assert [r["epoch"] for r in mean] == [0, 1, 2]
    assert [r["val_acc"] for r in mean] == [0.0, 2.0, 4.0]
    assert not any(math.isnan(r["lr"]) for r in mean)


_COLS = ("train_loss", "train_cost", "train_acc", "val_loss", "val_cost", "val_acc", "lr", "time")
