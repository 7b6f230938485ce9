"""Sanity checks: the untrained loss against ln K / K − 1, and the tiny-subset overfit."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from scratchlab.data import Part, Splits
from scratchlab.data.standardise import Standardiser
from scratchlab.experiments.checkspec import OverfitSpec, resolve_overfit
from scratchlab.experiments.records import RunRecord
from scratchlab.experiments.report_sanity import initial_loss_rows, overfit_blocks
from scratchlab.experiments.sanity import (
    TOLERANCE,
    expected_initial_loss,
    initial_loss,
    overfit_spec,
    run_overfit,
)
from scratchlab.experiments.schema import RunSpec

LN10 = math.log(10)


# -- initial loss ----------------------------------------------------------------------------
def test_the_expected_values_are_ln_k_and_k_minus_1():
    assert expected_initial_loss("cross_entropy", 10) == pytest.approx(2.302585)
    assert expected_initial_loss("svm", 10) == 9.0
    assert expected_initial_loss("cross_entropy", 2) == pytest.approx(math.log(2))


@pytest.mark.parametrize(
    ("loss", "value", "verdict"),
    [
        ("cross_entropy", LN10, "as expected"),
        ("cross_entropy", 2.44, "as expected"),  # N(0, 0.01²) on 3,072 inputs: +6 %
        ("cross_entropy", LN10 * (1 + TOLERANCE) * 1.001, "above"),
        ("cross_entropy", 5.0, "above"),
        ("cross_entropy", 1.0, "below"),
        ("cross_entropy", math.nan, "not finite"),
        ("svm", 9.3, "as expected"),
        ("svm", 14.5, "above"),
        ("svm", 2.0, "below"),
    ],
)
def test_the_initial_loss_rule(loss, value, verdict):
    assert initial_loss(loss, 10, value).verdict == verdict


def record(name: str, untrained: float | None, **model) -> RunRecord:
    config = {"model": {"hidden": [], "loss": "cross_entropy", "init": "normal"} | model}
    metrics = {
        "data": {"class_names": [str(k) for k in range(10)]},
        "untrained": {"train": {"loss": untrained, "acc": 0.1}},
    }
    return RunRecord(name, Path("."), config, metrics)


def test_runs_at_ln_k_pass_and_one_far_above_is_flagged_with_its_cause():
    records = [
        record("a", 2.3101, init_std=0.01),
        record("b", 2.3101, init_std=0.01),  # the same model and loss: one row
        record("deep", 4.87, hidden=[50, 50, 50], init="he"),
        record("svm", 9.41, loss="svm", init_std=0.01),
        record("broken", None, init_std=10.0),  # written as null: not finite
    ]
    rows = initial_loss_rows(records)
    assert [r[-1] for r in rows] == ["`a`, `b`", "`deep`", "`svm`", "`broken`"]
    a, deep, svm, broken = rows
    assert a[:5] == [
        "linear, CE, N(0, 0.01²)",
        "2.310",
        "ln 10 = 2.303",
        "+0.008 (+0.3 %)",
        "as expected",
    ]
    assert deep[4].startswith("above") and "He init through 4 layers" in deep[4]
    assert "not an error by itself" in deep[4] and deep[3] == "+2.567 (+111.5 %)"
    assert svm[2] == "K − 1 = 9" and svm[4] == "as expected"
    assert broken[4].startswith("not finite")


def test_runs_without_an_untrained_loss_are_left_out():
    bare = RunRecord("x", Path("."), {"model": {"loss": "svm"}}, {"data": {}})
    assert initial_loss_rows([bare]) == []


# -- tiny-subset overfit ---------------------------------------------------------------------
def tiny_splits(n: int, d: int, k: int, *, conflicting: bool = False) -> Splits:
    """n random uint8 images of d pixels, k classes; `conflicting`: the images come in equal
    pairs with different labels, so no model can fit all of them."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(n, d), dtype=np.uint8)
    y = np.arange(n, dtype=np.int64) % k
    if conflicting:
        X[1::2] = X[::2]
    part = Part(X, y)
    empty = Part(X[:0], y[:0])
    names = [f"c{i}" for i in range(k)]
    return Splits(part, empty, empty, names, (1, 1, d), Standardiser.fit(X), "digits", "train")


def spec(**train) -> RunSpec:
    return RunSpec.model_validate(
        {
            "name": "first",
            "data": {"dataset": "digits"},
            "model": {"hidden": [], "dropout": 0.5},
            "train": {"eta": 0.1, "n_batch": 8, "lambda": 1.0, "shuffle": True} | train,
        }
    )


def test_a_tiny_subset_is_overfitted_to_100_percent_and_deterministically():
    splits = tiny_splits(24, 64, 3)  # more inputs than images: separable
    o = OverfitSpec(n_images=16, max_epochs=300)
    result = run_overfit(spec(), splits, o)
    assert result["reached"] and result["final"]["acc"] == 1.0
    assert result["n_images"] == 16 and result["n_batch"] == 8
    assert 1 <= result["epochs"] < 300 and len(result["curve"]) == result["epochs"] + 1
    assert result["curve"][-1][2] == 1.0 and result["curve"][0][0] == 0
    assert all(row[2] < 1.0 for row in result["curve"][:-1])  # stopped at the first 100 %
    again = run_overfit(spec(), splits, o)
    assert again["curve"] == result["curve"]


def test_the_overfit_trains_without_penalty_dropout_or_augmentation():
    trained = overfit_spec(spec(augment=[{"kind": "flip"}]), OverfitSpec(max_epochs=7))
    assert trained.train.lambda_ == 0.0 and trained.model.dropout == 0.0
    assert trained.train.augment == [] and trained.train.n_epochs == 7


def test_a_subset_that_cannot_be_fitted_is_reported_as_not_reached():
    splits = tiny_splits(20, 16, 2, conflicting=True)  # equal images, different labels
    result = run_overfit(spec(), splits, OverfitSpec(n_images=20, max_epochs=15))
    assert not result["reached"] and result["epochs"] == 15
    assert result["final"]["acc"] <= 0.5
    (para,) = overfit_blocks(
        {
            **result,
            "run": "first",
            "model": {},
            "optimizer": "sgd",
            "eta": 0.1,
            "schedule": {"name": "constant"},
        }
    )
    assert "did **not** reach 100 %" in para.text and "after 15 epochs" in para.text


def test_the_overfit_goes_with_the_gradient_checks_unless_set():
    assert resolve_overfit(None, 0) is None
    assert resolve_overfit(None, 2) == OverfitSpec()
    assert resolve_overfit(False, 2) is None
    assert resolve_overfit(True, 0) == OverfitSpec()
    assert resolve_overfit(OverfitSpec(n_images=5), 0).n_images == 5
