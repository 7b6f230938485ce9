"""Every findings rule on constructed histories (run folders written by reportfixtures)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from reportfixtures import Lab, curve, mask, oscillating_curve, unstable_curve

from scratchlab.experiments import comparisons as cmp
from scratchlab.experiments import findings
from scratchlab.experiments.entries import build_entries, difference
from scratchlab.experiments.records import load_records


def entries_of(lab: Lab, groups=None):
    return build_entries(load_records(lab.dir, lab.runs), groups or {})


def one(tmp_path, **kw):
    lab = Lab(tmp_path / "lab")
    lab.run("r", **kw)
    return entries_of(lab)[0]


# -- rule 2: unstable ---------------------------------------------------------------------
def test_loss_above_its_untrained_value_is_unstable_not_overfitting(tmp_path):
    # the η = 0.1 run: final training loss 3.20 above the untrained 2.44, and a big
    # train–val gap that must not be read as variance
    e = one(tmp_path, history=unstable_curve(), val=(150, 932))
    v = findings.verdict(e, None)
    assert v.label == "unstable"
    assert "3.200" in v.text and "2.440" in v.text and "epoch 10" in v.text


def test_oscillating_loss_is_unstable_and_the_count_is_cited(tmp_path):
    rows = oscillating_curve(10)
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]  # not rule 2a
    v = findings.verdict(one(tmp_path, history=rows), None)
    assert v.label == "unstable" and "oscillates" in v.text
    assert "in 4 of 9 epochs" in v.text  # rises at epochs 3, 5, 7, 9


def test_a_smooth_or_noisy_but_falling_loss_is_stable():
    assert findings.instability(curve(40)) is None
    rows = curve(10)
    rows[5]["train_loss"] = rows[4]["train_loss"] * 1.03  # one rise: below max(2, 20 %)
    assert findings.instability(rows) is None
    rows[7]["train_loss"] = rows[6]["train_loss"] * 1.01  # a rise under 2 % does not count
    assert findings.instability(rows) is None


def test_an_unstable_ensemble_member_is_named(tmp_path):
    lab = Lab(tmp_path / "lab")
    lab.run("ens", members=[curve(), unstable_curve()], spec={"ensemble": 2})
    v = findings.verdict(entries_of(lab)[0], None)
    assert v.label == "unstable" and "member 2 of `ens`" in v.text


# -- rule 1, 3 ------------------------------------------------------------------------------
def test_diverged_comes_first_and_cites_its_message(tmp_path):
    e = one(tmp_path, history=unstable_curve(), status="diverged", message="loss is NaN at epoch 4")
    v = findings.verdict(e, None)
    assert v.label == "diverged" and "loss is NaN at epoch 4" in v.text


def test_without_validation_fit_is_not_judged(tmp_path):
    e = one(tmp_path, history=curve(train_acc=0.99), val=None)
    assert findings.verdict(e, None).label == "no validation"


# -- rules 4–6: against the validation set's binomial uncertainty --------------------------
def test_overfitting_needs_a_gap_beyond_the_validation_interval(tmp_path):
    lab = Lab(tmp_path / "lab")
    lab.run("big-set", history=curve(train_acc=0.95), val=(900, 1000))  # 5 points > ~1.9
    lab.run("small-set", history=curve(train_acc=0.95), val=(27, 30))  # the same 5 points
    big, small = entries_of(lab)
    v = findings.verdict(big, None)
    assert v.label == "overfitting"
    assert "95.00 %" in v.text and "90.0 % [88.0, 91.7]" in v.text and "n = 1,000" in v.text
    assert "5.0 points" in v.text
    # with 30 validation images (90 % [74.4, 96.5]) the same gap is within the noise
    assert findings.verdict(small, None).label == "fits"


def test_a_significant_gap_under_two_points_is_slight_overfitting(tmp_path):
    # MNIST's 10,000 validation images: 97.6 % [97.3, 97.9]; training 98.4 %: 0.8 points
    lab = Lab(tmp_path / "lab")
    lab.run("small-gap", history=curve(train_acc=0.984), val=(9760, 10000))
    lab.run("two-points", history=curve(train_acc=0.98), val=(9600, 10000))
    small, two = entries_of(lab)
    v = findings.verdict(small, None)
    assert v.label == "slight overfitting"
    assert "a gap of 0.8 points" in v.text and "but under 2 points" in v.text
    assert findings.verdict(two, None).label == "overfitting"  # 2.0 points: material


def test_overfitting_cites_a_rising_validation_loss(tmp_path):
    rows = curve(10, train_acc=0.99)
    for r in rows[6:]:
        r["val_loss"] = 1.9 + 0.05 * r["epoch"]
    v = findings.verdict(one(tmp_path, history=rows, val=(900, 1000)), None)
    assert "validation loss was lowest at epoch" in v.text and "ended at 2.400" in v.text


def test_underfitting_is_judged_against_the_best_training_accuracy(tmp_path):
    lab = Lab(tmp_path / "lab")
    lab.run("strong", history=curve(train_acc=0.41), val=(400, 1000))
    lab.run("weak", history=curve(train_acc=0.35), val=(345, 1000))
    lab.run("close", history=curve(train_acc=0.405), val=(400, 1000))
    lab.run("unstable", history=unstable_curve(), val=(300, 1000))
    entries = entries_of(lab)
    # the unstable run's 30 % train accuracy (or a diverged one's) never sets the bar
    top = findings.best_training(entries)
    assert top.name == "strong"
    got = findings.verdicts(entries)
    assert got["weak"].label == "underfitting" and "`strong`" in got["weak"].text
    assert got["close"].label == "fits"  # 0.5 points below: inside the intervals
    assert (
        got["strong"].label == "fits"
        and "within validation accuracy's interval" in got["strong"].text
    )


# -- selection: best on validation, ties inside its interval -------------------------------
def test_best_is_on_validation_and_close_runs_are_tied(tmp_path):
    lab = Lab(tmp_path / "lab")
    lab.run("a", val=(355, 932), test=(390, 1000))  # best on test: must not matter
    lab.run("b", val=(357, 932), test=(372, 1000))
    lab.run("c", val=(359, 932), test=(368, 1000))
    lab.run("far", val=(250, 932))
    entries = entries_of(lab)
    sel = findings.selection(entries)
    assert entries[sel.best].name == "c" and sorted(entries[i].name for i in sel.tied) == [
        "a",
        "b",
    ]
    text = findings.selection_text(entries, sel)
    assert "`c` with 38.5 % [35.4, 41.7]" in text and "n = 932" in text
    assert "`a` (38.1 %)" in text and "cannot tell them apart" in text


def test_no_tie_when_the_runner_up_is_outside_the_interval(tmp_path):
    lab = Lab(tmp_path / "lab")
    lab.run("a", val=(9000, 10000))
    lab.run("b", val=(8800, 10000))
    sel = findings.selection(entries_of(lab))
    assert sel.best == 0 and sel.tied == []
    assert "No other run lies inside" in findings.selection_text(entries_of(lab), sel)


def test_diverged_and_unvalidated_runs_are_never_selected(tmp_path):
    lab = Lab(tmp_path / "lab")
    lab.run("div", val=(900, 932), status="diverged")
    lab.run("noval", val=None, test=(999, 1000))
    lab.run("ok", val=(300, 932))
    entries = entries_of(lab)
    assert entries[findings.selection(entries).best].name == "ok"
    lab2 = Lab(tmp_path / "lab2")
    lab2.run("noval", val=None)
    sel = findings.selection(entries_of(lab2))
    assert sel.best is None
    assert "never used for selection" in findings.selection_text(entries_of(lab2), sel)


# -- baseline effects, McNemar, references -------------------------------------------------
def test_effects_against_the_baseline_are_paired_on_the_same_images(tmp_path):
    n = 1000
    lab = Lab(tmp_path / "lab")
    lab.run("base", test=(400, n), right_test=mask(n, range(400)))
    lab.run("better", test=(460, n), right_test=mask(n, range(460)))  # +60, none lost
    lab.run("same", test=(402, n), right_test=mask(n, [*range(5, 400), *range(600, 607)]))
    lab.run("worse", test=(340, n), right_test=mask(n, range(340)))
    effects = {e.entry.name: e for e in cmp.effects(entries_of(lab), "base")}
    assert effects["better"].label == "better" and effects["worse"].label == "worse"
    assert effects["same"].label == "no detectable difference"
    t = effects["same"].test.test
    assert (t.only_first, t.only_second) == (7, 5)  # right only in `same` / only in base
    assert effects["better"].test.delta.value == pytest.approx(0.06)
    text = cmp.effect_text(effects["better"], "base")
    assert "+6.0 [" in text and "McNemar exact p < 0.001" in text and "**better**" in text
    assert "60 images right only here, 0 only in the baseline" in text


def test_different_test_images_give_an_unpaired_interval_and_no_mcnemar(tmp_path):
    lab = Lab(tmp_path / "lab")
    lab.run("a", test=(400, 1000))
    lab.run("b", test=(200, 500))
    a, b = entries_of(lab)
    d = difference(a, b, "test")
    assert d.test is None and d.delta.value == pytest.approx(0.0)
    assert d.delta.lo < 0 < d.delta.hi


def test_reference_inside_or_outside_the_measured_interval(tmp_path):
    lab = Lab(tmp_path / "lab")
    lab.run("a", test=(370, 1000))
    lab.run("b", test=(250, 1000))
    ref = {"source": "course", "set": "test", "accuracy": {"a": 38.0, "b": 39.0}}
    rows = {r.entry.name: r for r in cmp.reference_rows(entries_of(lab), ref)}
    assert rows["a"].consistent and not rows["b"].consistent
    assert "−14.0 points" in cmp.reference_text(rows["b"], "test")
    assert "outside" in cmp.reference_text(rows["b"], "test")


# -- repeats -------------------------------------------------------------------------------
def test_repeats_are_one_entry_with_mean_std_and_a_wider_interval(tmp_path):
    lab = Lab(tmp_path / "lab")
    for k, val in enumerate((380, 390, 400)):
        lab.run(f"x-r{k}", val=(val, 1000), spec={"seed": k})
    lab.run("single", val=(390, 1000))
    entries = entries_of(lab, {"x": ["x-r0", "x-r1", "x-r2"]})
    assert [e.name for e in entries] == ["x", "single"]
    x, single = entries
    assert x.repeated and x.acc("val").value == pytest.approx(0.39)
    assert x.spread("val").std == pytest.approx(0.01)
    assert x.acc("val").hi - x.acc("val").lo > single.acc("val").hi - single.acc("val").lo
    text = findings.repeat_text(x)
    assert "over 3 seeds (0, 1, 2)" in text and "val 39.00 ± 1.00 %" in text
    assert "range 38.00–40.00" in text
    # a repeat group is never compared with McNemar (several runs)
    assert difference(x, single, "val").test is None


def test_a_group_with_unfinished_repeats_uses_those_that_finished(tmp_path):
    lab = Lab(tmp_path / "lab")
    lab.run("x-r0", val=(380, 1000))
    entries = entries_of(lab, {"x": ["x-r0", "x-r1"]})
    assert [e.name for e in entries] == ["x"] and not entries[0].repeated
    assert not math.isnan(entries[0].acc("val").value)
    assert np.isclose(entries[0].acc("val").value, 0.38)


def test_on_the_same_images_the_verdict_follows_mcnemar(tmp_path):
    """5 images gained, none lost: the paired interval excludes 0, but McNemar's exact
    p = 2 · 0.5⁵ = 0.0625 ≥ 0.05 — borderline, not better (and the reason is cited);
    3 gained and 2 lost: p = 1, the interval holds 0 — no detectable difference."""
    n = 1000
    lab = Lab(tmp_path / "lab")
    lab.run("base", test=(400, n), right_test=mask(n, range(400)))
    lab.run("plus5", test=(405, n), right_test=mask(n, range(405)))
    lab.run("mixed", test=(401, n), right_test=mask(n, [*range(2, 400), 400, 401, 402]))
    plus5, mixed = cmp.effects(entries_of(lab), "base")
    assert plus5.test.test.p_exact == pytest.approx(0.0625)
    assert plus5.test.delta.lo > 0 and plus5.label == "borderline"
    assert "McNemar exact p = 0.062" in cmp.effect_text(plus5, "base")
    assert mixed.test.test.p_exact == pytest.approx(1.0)
    assert mixed.test.delta.lo < 0 < mixed.test.delta.hi
    assert mixed.label == "no detectable difference"


def test_repeats_are_recognised_without_the_experiment_files_record(tmp_path):
    from scratchlab.experiments.entries import infer_groups

    lab = Lab(tmp_path / "lab")
    for k in range(3):
        lab.run(f"x-r{k}", val=(380 + k, 1000), spec={"seed": k})
    lab.run("y-r0", spec={"seed": 0})
    lab.run("y-r1", spec={"seed": 1, "train": {"eta": 0.1}})  # another setting: not repeats
    assert infer_groups(load_records(lab.dir, lab.runs)) == {"x": ["x-r0", "x-r1", "x-r2"]}


def test_a_reference_for_the_retrained_model_reads_its_test_accuracy(tmp_path):
    lab = Lab(tmp_path / "lab")
    retrain = {"split": "full", "epochs": 20, "n_train": 60000, "test": {"acc": 0.9642}}
    lab.run("provided", test=(9600, 10000), retrain=retrain)
    lab.run("plain", test=(9600, 10000))  # not retrained: no retrained accuracy to compare
    ref = {"source": "the lab", "set": "retrain", "accuracy": {"provided": 96.4, "plain": 96.0}}
    rows = {r.entry.name: r for r in cmp.reference_rows(entries_of(lab), ref)}
    got = rows["provided"]
    assert got.measured.value == pytest.approx(0.9642) and got.consistent  # not the 96.00 %
    assert "measured test (retrained) accuracy 96.4 %" in cmp.reference_text(got, "retrain")
    assert not rows["plain"].consistent  # NaN: no retrained model, never "inside"


def test_a_rounded_reference_agrees_with_an_interval_that_meets_its_range(tmp_path):
    """"About 96 %" (precision 0.5): 96.4 % [96.0, 96.8] minus a hair agrees; 97.5 does not."""
    lab = Lab(tmp_path / "lab")
    lab.run("near", test=(9640, 10000))  # 96.4 % [96.0, 96.8]
    lab.run("far", test=(9750, 10000))  # 97.5 % [97.2, 97.8]
    exact = {"source": "lab", "accuracy": {"near": 95.9, "far": 96.0}}
    rounded = {**exact, "precision": 0.5}
    strict = {r.entry.name: r for r in cmp.reference_rows(entries_of(lab), exact)}
    loose = {r.entry.name: r for r in cmp.reference_rows(entries_of(lab), rounded)}
    assert not strict["near"].consistent and loose["near"].consistent
    assert not loose["far"].consistent  # 96.5 at most: below 97.2
    assert "vs reference 95.9 % ± 0.5" in cmp.reference_text(loose["near"], "test")
