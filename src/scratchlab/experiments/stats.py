"""Uncertainty of accuracies measured on a finite set of images.

An accuracy is k correct out of n images: a binomial proportion. The report gives each one a
95 % interval, compares runs on the same images with a paired test, and summarises repeated
runs (seeds) as mean ± std.

    Wilson score interval (Wilson 1927), z = Φ⁻¹(0.975) ≈ 1.96, p̂ = k/n:
        centre = (p̂ + z²/2n) / (1 + z²/n)
        half   = z / (1 + z²/n) · √(p̂(1−p̂)/n + z²/4n²)

    Difference of two accuracies, Newcombe's hybrid score interval (Newcombe 1998, method 10
    unpaired; method 10 of Newcombe 1998b paired), with (l₁,u₁), (l₂,u₂) their Wilson intervals:
        Δ = p₁ − p₂
        lower = Δ − √((p₁−l₁)² − 2φ(p₁−l₁)(u₂−p₂) + (u₂−p₂)²)
        upper = Δ + √((u₁−p₁)² − 2φ(u₁−p₁)(p₂−l₂) + (p₂−l₂)²)
    where φ = 0 for different image sets and, on the same images, the phi coefficient of the
    2×2 table of right/wrong (a both right, b only 1 right, c only 2 right, d both wrong):
        φ = (ad − bc) / √((a+b)(c+d)(a+c)(b+d))            (0 when a margin is empty)

    McNemar's test on the same images uses only the discordant images b and c; under "no
    difference" b ~ Binomial(b + c, 1/2):
        exact p = min(1, 2 · P[X ≤ min(b, c)]),   mid-p = exact p − P[X = min(b, c)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

Z95 = float(_st.norm.ppf(0.975))


@dataclass(frozen=True)
class Interval:
    """A point estimate with a 95 % interval (fractions, e.g. 0.381 [0.350, 0.413])."""

    value: float
    lo: float
    hi: float

    @property
    def half(self) -> float:
        """The larger of the two distances from the estimate to an end of the interval."""
        return max(self.value - self.lo, self.hi - self.value)

    def contains(self, x: float) -> bool:
        return self.lo <= x <= self.hi

    def excludes_zero(self) -> bool:
        return self.lo > 0 or self.hi < 0


NAN_INTERVAL = Interval(math.nan, math.nan, math.nan)


def wilson(k: float, n: int, z: float = Z95) -> Interval:
    """The Wilson score interval of k correct out of n (k may be p̂·n, a float)."""
    if n <= 0 or not math.isfinite(k):
        return NAN_INTERVAL
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n))
    lo = 0.0 if p <= 0 else max(0.0, centre - half)  # exact ends where round-off would
    hi = 1.0 if p >= 1 else min(1.0, centre + half)  # leave 0.9999999999999999
    return Interval(p, lo, hi)


def wilson_acc(acc: float | None, n: int) -> Interval:
    """The Wilson interval of an accuracy `acc` measured on `n` images (NaN when unknown)."""
    if acc is None or not math.isfinite(acc) or n <= 0:
        return NAN_INTERVAL
    return wilson(acc * n, n)


def phi_coefficient(a: int, b: int, c: int, d: int) -> float:
    """φ of a 2×2 table; 0 when a margin is empty (no correlation can be measured)."""
    denom = math.sqrt(float(a + b) * (c + d) * (a + c) * (b + d))
    return 0.0 if denom == 0 else (a * d - b * c) / denom


def newcombe(first: Interval, second: Interval, phi: float = 0.0) -> Interval:
    """Interval of first − second from their Wilson intervals (φ = 0: independent sets)."""
    p1, l1, u1 = first.value, first.lo, first.hi
    p2, l2, u2 = second.value, second.lo, second.hi
    if not all(math.isfinite(x) for x in (p1, l1, u1, p2, l2, u2)):
        return NAN_INTERVAL
    delta = p1 - p2
    low = (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2
    high = (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2
    return Interval(delta, delta - math.sqrt(max(low, 0.0)), delta + math.sqrt(max(high, 0.0)))


@dataclass(frozen=True)
class Paired:
    """Two classifiers on the same n images: the 2×2 table, Δ accuracy and McNemar's test."""

    n: int
    both: int  # a: both right
    only_first: int  # b: first right, second wrong
    only_second: int  # c: first wrong, second right
    neither: int  # d: both wrong
    delta: Interval  # accuracy of first − accuracy of second, with its paired interval
    p_exact: float
    p_mid: float


def mcnemar(b: int, c: int) -> tuple[float, float]:
    """Two-sided exact and mid-p McNemar p-values from the discordant counts b and c."""
    m = b + c
    if m == 0:
        return 1.0, 1.0
    k = min(b, c)
    exact = min(1.0, 2.0 * float(_st.binom.cdf(k, m, 0.5)))
    mid = min(1.0, exact - float(_st.binom.pmf(k, m, 0.5)))
    return exact, mid


def paired(pred1, pred2, truth) -> Paired:
    """Compare predictions `pred1`, `pred2` of the same images with labels `truth` (all (n,))."""
    right1 = np.asarray(pred1) == np.asarray(truth)
    right2 = np.asarray(pred2) == np.asarray(truth)
    n = int(right1.size)
    a = int(np.sum(right1 & right2))
    b = int(np.sum(right1 & ~right2))
    c = int(np.sum(~right1 & right2))
    d = n - a - b - c
    delta = newcombe(wilson(a + b, n), wilson(a + c, n), phi_coefficient(a, b, c, d))
    exact, mid = mcnemar(b, c)
    return Paired(n, a, b, c, d, delta, exact, mid)


@dataclass(frozen=True)
class Spread:
    """Repeated runs (seeds) of one configuration: mean, sample std (ddof=1) and count."""

    mean: float
    std: float
    n: int


def spread(values) -> Spread:
    """Mean and sample standard deviation of the finite values (std NaN for one value)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return Spread(math.nan, math.nan, 0)
    std = float(np.std(v, ddof=1)) if v.size > 1 else math.nan
    return Spread(float(np.mean(v)), std, int(v.size))


def repeated_interval(s: Spread, n_images: int) -> Interval:
    """95 % interval of a mean accuracy over s.n seeds, all measured on the same n_images.

    Two sources of error add in quadrature: the image sample (the Wilson half-width at the
    mean; it does not shrink with more seeds, which all see the same images) and the seeds
    (t interval of the mean, t_{0.975, s.n−1} · std / √s.n; absent for one seed).
    """
    base = wilson_acc(s.mean, n_images)
    if not math.isfinite(base.value):
        return NAN_INTERVAL
    seed = 0.0
    if s.n > 1 and math.isfinite(s.std):
        seed = float(_st.t.ppf(0.975, s.n - 1)) * s.std / math.sqrt(s.n)
    lo = math.sqrt((base.value - base.lo) ** 2 + seed**2)
    hi = math.sqrt((base.hi - base.value) ** 2 + seed**2)
    return Interval(s.mean, max(0.0, s.mean - lo), min(1.0, s.mean + hi))
