"""The report's "Gradient checks" section, then "Sanity checks" (`report_sanity`).

    Gradient checks   from gradcheck.json["checks"] (experiments.gradchecks): a summary table,
                      one row per check; one table of every checked tensor; the formulas and
                      the pass rule with the thresholds each check used, under the tables

Every count and verdict is computed here from the stored per-tensor rows, rebuilt as
`scratchlab.gradcheck.GradRow`s (the library's own pass rule), never read from a summary.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from scratchlab.experiments.checkspec import DEFAULTS
from scratchlab.experiments.document import Block, Code, Heading, Para, Table
from scratchlab.experiments.gradchecks import FILE, FORMAT
from scratchlab.experiments.records import RunRecord, confined
from scratchlab.experiments.report_sanity import model_text, sanity_blocks
from scratchlab.experiments.textfmt import count, finite, pct
from scratchlab.gradcheck import GradRow, passed
from scratchlab.io import read_json

_ROW_FIELDS = [f.name for f in dataclasses.fields(GradRow)]


def check_blocks(exp_dir: Path, records: list[RunRecord]) -> list[Block]:
    """Both sections (each only when it has something to show)."""
    doc = {}
    if (Path(exp_dir) / FILE).is_file():
        doc = read_json(confined(exp_dir, FILE, "report"))
    if doc and doc.get("format") != FORMAT:
        return [
            Heading("Gradient checks", 2),
            Para(
                f"`{FILE}` was written by an older scratchlab; run the experiment again "
                "to recompute the checks."
            ),
        ] + sanity_blocks(records, None)
    return gradcheck_blocks(doc.get("checks") or []) + sanity_blocks(records, doc.get("overfit"))


def grad_rows(check: dict) -> list[GradRow]:
    """The stored rows as GradRows (JSON null -> NaN); a missing field is a damaged file."""

    def value(row: dict, key: str):
        v = row[key]
        if key == "shape":
            return tuple(v)
        return math.nan if v is None else v

    return [GradRow(**{k: value(r, k) for k in _ROW_FIELDS}) for r in check["rows"]]


def _sci(x: float) -> str:
    return f"{x:.1e}" if finite(x) else "–"


def _max(values) -> float:
    """The largest finite value (NaN when none: a non-finite entry is counted as failed)."""
    return max((v for v in values if finite(v)), default=math.nan)


def _atol(rows: list[GradRow], asked: object) -> str:
    """The absolute threshold used: the value asked for, or the round-off floor's range."""
    if asked is not None:
        return f"{asked:g}" + (" (strict)" if asked == 0 else "")
    if not rows:
        return "–"
    lo, hi = _sci(min(r.atol for r in rows)), _sci(max(r.atol for r in rows))
    return (lo if lo == hi else f"{lo}–{hi}") + " (floor)"


def _settings(check: dict) -> str:
    """`λ 0.1, 20 × 20` (images × input dimensions), and h when it is not the default."""
    h = f", h {check['h']:g}" if check["h"] != DEFAULTS["h"] else ""
    return f"λ {check['lambda']:g}, {check['n_samples']} × {check['n_dims']}{h}"


def _result(rows: list[GradRow]) -> str:
    """`pass`, `FAIL (3 entries)`, or `FAIL (Linear[0].b: too small)`."""
    if passed(rows):
        return "pass"
    if not rows:
        return "FAIL (no parameters)"
    failed = sum(r.n_fail for r in rows)
    if failed:
        return f"FAIL ({count(failed)} entr{'y' if failed == 1 else 'ies'})"
    bad = next(r for r in rows if not r.ok)
    return f"FAIL ({bad.name}: {bad.status})"


def summary_row(check: dict) -> list[str]:
    """One check: its settings, the counts summed over its tensors, its maxima and result."""
    rows = grad_rows(check)
    sums = {k: sum(getattr(r, k) for r in rows) for k in ("n_checked", "n_fail", "n_floor")}
    kinks = sum(r.kinks for r in rows)
    return [
        str(check.get("name", "")),
        f"{model_text(check.get('model') or {})}; {_settings(check)}",
        str(len(rows)),
        count(sums["n_checked"]),
        count(sums["n_fail"]),
        count(sums["n_floor"]),
        count(kinks),
        f"{_sci(_max(r.max_rel_err for r in rows))} / {_sci(_max(r.max_abs_err for r in rows))}",
        f"{rows[0].tol:g} / " + _atol(rows, check.get("atol")) if rows else "–",
        _result(rows),
    ]


def tensor_rows(check: dict) -> list[list[str]]:
    """The check's tensors, its name on the first row only."""
    out = []
    for i, r in enumerate(grad_rows(check)):
        out.append(
            [
                str(check.get("name", "")) if i == 0 else "",
                r.name,
                "×".join(map(str, r.shape)),
                count(r.n_checked),
                count(r.kinks),
                count(r.n_fail),
                count(r.n_floor),
                _sci(r.max_grad),
                f"{_sci(r.max_rel_err)} / {_sci(r.max_abs_err)}",
                pct(r.share_ok, 1),
                r.status,
            ]
        )
    return out


SUMMARY_HEADER = [
    "check",
    "model; λ, images × dims",
    "tensors",
    "entries checked",
    "failed",
    "at round-off floor",
    "kinks",
    "max rel / abs error",
    "tol / atol",
    "result",
]
TENSOR_HEADER = [
    "check",
    "parameter",
    "shape",
    "checked",
    "kinks",
    "failed",
    "at floor",
    "max |g_a|",
    "max rel / abs error",
    "rel < tol",
    "result",
]

FORMULAS = """\
centred difference     g_n = (J(θ + h·e_i) − J(θ − h·e_i)) / 2h
re-estimate where      g_n = (8(J(θ + h·e_i) − J(θ − h·e_i))
  they disagree               − (J(θ + 2h·e_i) − J(θ − 2h·e_i))) / 12h
relative error         rel = |g_a − g_n| / max(ε, |g_a| + |g_n|),  ε = 1e-12
an entry fails   if    rel ≥ tol  and  |g_a − g_n| > atol"""


def gradcheck_blocks(checks: list[dict]) -> list[Block]:
    if not checks:
        return []
    failing = [c.get("name", "") for c in checks if not passed(grad_rows(c))]
    verdict = (
        f"**{len(failing)} of {len(checks)} checks fail**: " + ", ".join(failing) + "."
        if failing
        else f"**All {len(checks)} checks pass.**"
    )
    return [
        Heading("Gradient checks", 2),
        Para(
            "Analytic gradients g_a (backpropagation) of the cost J = loss + λ ΣW² against "
            "centred differences g_n, on the first run's model with each check's settings, "
            f"the first training images and input dimensions, in float64. {verdict}"
        ),
        Table(
            SUMMARY_HEADER,
            [summary_row(c) for c in checks],
            "Gradient checks: counts summed over the tensors of each check.",
        ),
        Table(
            TENSOR_HEADER,
            [row for c in checks for row in tensor_rows(c)],
            "Every checked tensor (a random subset of 4,096 entries of larger ones).",
        ),
        Code(FORMULAS),
        Para(_rule_text(checks)),
    ]


def _rule_text(checks: list[dict]) -> str:
    floors = [r.atol for c in checks if c.get("atol") is None for r in grad_rows(c)]
    floor = f" (here {_sci(min(floors))} to {_sci(max(floors))})" if floors else ""
    return (
        "J is the loss plus the penalty on the check's images, θ the parameter tensor, e_i "
        "its i-th unit vector and h the step. **tol** (relative) and **atol** (absolute) "
        "are each check's thresholds (its tol / atol column above); atol not set is the "
        f"centred difference's round-off floor 10 ε₆₄ |J| / h{floor}. "
        "**At round-off floor**: entries with rel ≥ tol but an absolute error within atol — "
        "a gradient that is exactly 0 (an SVM bias whose margins cancel) has rel = 1 from "
        "round-off alone; they pass. **Kinks**: entries whose ±h step switches a ReLU input "
        "or an SVM margin on or off (or moves an L1-penalised weight across 0) have no "
        "derivative there; they are counted and left out of the errors. A tensor with no "
        "entry compared, or whose largest gradient is under 100 × atol (too small to "
        "tell from round-off), fails."
    )
