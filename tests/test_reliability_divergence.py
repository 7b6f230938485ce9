"""Divergence: a run whose loss becomes NaN or inf stops, is marked `diverged` in
metrics.json, summary.csv and the report, and the other runs of the experiment go on."""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest
from runhelpers import DIGITS, experiment, history_rows, metrics

from scratchlab.errors import DataError
from scratchlab.experiments.runner import run_experiment
from scratchlab.nn import build_mlp
from scratchlab.train import fit

LAB = (
    DIGITS
    + """
[model]
hidden = [32]

[[runs]]
name = "blowup"
description = "A learning rate of a million."
train = { eta = 1e6, n_epochs = 4 }

[[runs]]
name = "steady"
train = { eta = 0.05, n_epochs = 3 }
"""
)


def test_a_diverging_run_is_marked_and_the_experiment_goes_on(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # overflow is handled, not leaked
        result = run_experiment(experiment(tmp_path, LAB), tmp_path / "out")
    lab = result.exp_dir
    assert result.trained == ["blowup", "steady"]

    blowup, steady = metrics(lab / "blowup"), metrics(lab / "steady")
    assert blowup["status"] == "diverged" and steady["status"] == "completed"
    assert steady["epochs_trained"] == 3 and blowup["epochs_trained"] < 4
    # metrics are those of the last finite epoch, not of a NaN model
    last = history_rows(lab / "blowup")[blowup["epochs_trained"]]
    assert blowup["final"]["train"]["loss"] == pytest.approx(float(last["train_loss"]))
    for part in ("train", "val", "test"):
        assert np.isfinite(blowup["final"][part]["loss"]), part

    with open(lab / "summary.csv", newline="") as handle:
        status = {row["run"]: row["status"] for row in csv.DictReader(handle)}
    assert status == {"blowup": "diverged", "steady": "completed"}

    report = (lab / "report.md").read_text()
    blowup_part, steady_part = report.split("### Run `blowup`")[1].split("### Run `steady`")
    assert "**This run diverged**" in blowup_part and "diverged" not in steady_part
    assert "★ steady" in report  # a diverged run is never the selected one
    assert (lab / "blowup" / "figures" / "curves.png").is_file()
    assert "This run diverged" in (lab / "report.html").read_text()


def _blobs(n, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return (rng.normal(size=(n, 10)) + 2 * y[:, None]).astype(np.float32), y


@pytest.mark.parametrize("loss", ["cross_entropy", "svm"])
def test_fit_gives_back_the_last_finite_weights(loss):
    def model():
        return build_mlp(10, 3, (32,), loss=loss, rng=np.random.default_rng(0))

    diverged = model()
    hist = fit(diverged, _blobs(200), _blobs(50, 1), optimizer="sgd", schedule=1e8,
               n_epochs=10, n_batch=20)  # fmt: skip
    assert hist.status == "diverged" and "non-finite" in hist.message
    finite = [r["epoch"] for r in hist.rows if np.isfinite(r["train_loss"])]
    reference = model()
    fit(reference, _blobs(200), _blobs(50, 1), optimizer="sgd", schedule=1e8,
        n_epochs=finite[-1], n_batch=20)  # fmt: skip
    got, want = diverged.get_weights(), reference.get_weights()
    assert all(np.array_equal(got[k], want[k]) for k in want)


def test_fit_refuses_nan_or_inf_in_the_data():
    X, y = _blobs(40)
    X[7, 2] = np.nan
    with pytest.raises(DataError, match=r"train: X holds NaN or infinite values in 1 of 40 rows"):
        fit(build_mlp(10, 3), (X, y), optimizer="sgd", schedule=0.1, n_epochs=1)
    X, y = _blobs(40)
    Xv, yv = _blobs(20, 1)
    Xv[[1, 4]] = np.inf
    with pytest.raises(DataError, match=r"val: X holds NaN or infinite values in 2 of 20 rows"):
        fit(build_mlp(10, 3), (X, y), (Xv, yv), optimizer="sgd", schedule=0.1, n_epochs=1)


def test_fit_accepts_huge_but_finite_data():
    X, y = _blobs(40)
    X = X.astype(np.float64) * 1e300  # its float64 sum overflows; the values are finite
    hist = fit(build_mlp(10, 3, dtype=np.float64), (X, y), optimizer="sgd", schedule=1e-310,
               n_epochs=1)  # fmt: skip
    assert len(hist.rows) >= 1
