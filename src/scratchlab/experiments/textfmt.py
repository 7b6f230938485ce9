"""Numbers as the report prints them: percentages with intervals, differences in points."""

from __future__ import annotations

import math

from scratchlab.experiments.stats import Interval, Spread


def finite(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def pct(x: float | None, digits: int = 2) -> str:
    """0.38123 -> `38.12 %`; missing -> `–`."""
    return f"{100 * x:.{digits}f} %" if finite(x) else "–"


def pct_ci(iv: Interval, digits: int = 1) -> str:
    """`38.1 % [35.0, 41.3]` (the 95 % interval in brackets)."""
    if not finite(iv.value):
        return "–"
    return f"{100 * iv.value:.{digits}f} % [{100 * iv.lo:.{digits}f}, {100 * iv.hi:.{digits}f}]"


def signed(x: float, digits: int = 1) -> str:
    """+1.2 / −0.5 (a real minus sign) for a difference already in points; 0.0 unsigned
    when it rounds to zero (no "−0.0")."""
    if round(x, digits) == 0:
        return f"{0:.{digits}f}"
    return f"{'+' if x > 0 else '−'}{abs(x):.{digits}f}"


def pts_ci(iv: Interval, digits: int = 1) -> str:
    """A difference of accuracies in points: `+1.2 [−0.5, +2.9]`."""
    if not finite(iv.value):
        return "–"
    v, lo, hi = (100 * x for x in (iv.value, iv.lo, iv.hi))
    return f"{signed(v, digits)} [{signed(lo, digits)}, {signed(hi, digits)}]"


def mean_std(s: Spread, digits: int = 1) -> str:
    """`38.1 ± 0.6 %` over s.n values (std with ddof = 1)."""
    if not finite(s.mean):
        return "–"
    if s.n < 2 or not finite(s.std):
        return f"{100 * s.mean:.{digits}f} %"
    return f"{100 * s.mean:.{digits}f} ± {100 * s.std:.{digits}f} %"


def num(x: float | None, digits: int = 4) -> str:
    return f"{x:.{digits}f}" if finite(x) else "–"


def pvalue(p: float) -> str:
    if not finite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def count(n: int) -> str:
    """4000 -> `4,000`."""
    return f"{n:,}"
