"""Intervals and tests behind the report: Wilson, Newcombe (unpaired and paired), McNemar."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from scratchlab.experiments.stats import (
    Interval,
    mcnemar,
    newcombe,
    paired,
    repeated_interval,
    spread,
    wilson,
    wilson_acc,
)


def test_wilson_matches_published_values():
    # Newcombe (1998), Table I: 0/10 -> 0 to 0.2775; 81/263 -> 0.2553 to 0.3662
    assert wilson(0, 10).lo == 0.0 and wilson(0, 10).hi == pytest.approx(0.2775, abs=1e-4)
    ci = wilson(81, 263)
    assert (ci.lo, ci.hi) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson(10, 10).hi == 1.0 and wilson(10, 10).lo == pytest.approx(0.7225, abs=1e-4)


def test_wilson_of_an_accuracy_and_unknowns():
    assert wilson_acc(0.381, 932) == wilson(0.381 * 932, 932)
    assert math.isnan(wilson_acc(None, 932).value)
    assert math.isnan(wilson_acc(0.5, 0).lo)
    assert math.isnan(wilson_acc(math.nan, 100).hi)


def test_interval_half_width_on_932_images_is_about_three_points():
    # the case: the star was given for 0.2 points on 932 validation images
    ci = wilson_acc(0.383, 932)
    assert 0.030 < ci.half < 0.033
    assert ci.contains(0.381) and ci.contains(0.385)


def test_newcombe_unpaired_matches_the_paper():
    # Newcombe (1998) example: 56/70 vs 48/80, method 10: 0.0524 to 0.3339
    d = newcombe(wilson(56, 70), wilson(48, 80))
    assert d.value == pytest.approx(0.2)
    assert (d.lo, d.hi) == pytest.approx((0.0524, 0.3339), abs=1e-4)


def test_paired_counts_interval_and_mcnemar():
    truth = np.zeros(44, dtype=int)
    first = np.array([0] * 21 + [1] * 23)  # right on 21
    second = np.array([0] * 12 + [1] * 9 + [0] * 2 + [1] * 21)  # right on 14
    p = paired(first, second, truth)
    assert (p.both, p.only_first, p.only_second, p.neither) == (12, 9, 2, 21)
    assert p.delta.value == pytest.approx(7 / 44)
    # a positive correlation (φ > 0) narrows the interval against the unpaired one
    unpaired = newcombe(wilson(21, 44), wilson(14, 44))
    assert p.delta.hi - p.delta.lo < unpaired.hi - unpaired.lo
    assert p.delta.lo < p.delta.value < p.delta.hi
    assert p.p_exact == pytest.approx(st.binomtest(2, 11, 0.5).pvalue)


def test_mcnemar_exact_and_mid_p():
    exact, mid = mcnemar(9, 2)
    assert exact == pytest.approx(2 * st.binom.cdf(2, 11, 0.5))
    assert mid == pytest.approx(exact - st.binom.pmf(2, 11, 0.5))
    assert mcnemar(0, 0) == (1.0, 1.0)
    assert mcnemar(5, 5)[0] == 1.0  # balanced disagreements: no evidence
    assert mcnemar(0, 100)[0] < 1e-20


def test_identical_classifiers_differ_by_exactly_nothing():
    truth = np.arange(50) % 3
    pred = (truth + (np.arange(50) % 4 == 0)) % 3
    p = paired(pred, pred, truth)
    assert p.delta.value == 0.0 and p.only_first == p.only_second == 0
    assert p.p_exact == 1.0


def test_spread_and_repeated_interval():
    s = spread([0.38, 0.39, 0.40, math.nan, None])
    assert s.n == 3 and s.mean == pytest.approx(0.39) and s.std == pytest.approx(0.01)
    one = spread([0.4])
    assert math.isnan(one.std)
    # one seed: just the Wilson interval; several: wider by the seeds' t-interval
    assert repeated_interval(one, 1000) == wilson_acc(0.4, 1000)
    wide = repeated_interval(s, 1000)
    w = wilson_acc(0.39, 1000)
    seed = st.t.ppf(0.975, 2) * 0.01 / math.sqrt(3)
    assert wide.hi - wide.value == pytest.approx(math.hypot(w.hi - w.value, seed))
    assert math.isnan(repeated_interval(spread([]), 100).value)


def test_interval_helpers():
    iv = Interval(0.1, -0.02, 0.3)
    assert iv.half == pytest.approx(0.2) and not iv.excludes_zero()
    assert Interval(0.1, 0.01, 0.2).excludes_zero() and Interval(-0.1, -0.2, -0.01).excludes_zero()
