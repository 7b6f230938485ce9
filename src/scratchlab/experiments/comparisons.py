"""Entries compared with a baseline, with published references, and across losses.

Effect of a change (`effects`): Δ = accuracy of the entry − accuracy of the baseline, on the
validation and on the test set, each with its 95 % interval (`entries.difference`: paired,
with McNemar's test, when both runs scored the same images). The effect is judged on the
test set when both have one (held-out images, and the paired test is the most sensitive),
otherwise on validation:

    same images (paired): McNemar's exact p < 0.05 → better or worse (the sign of Δ);
                          p ≥ 0.05 while Δ's approximate interval excludes 0 → borderline
    otherwise:            interval above 0 → better · below 0 → worse
    else                  no detectable difference

Reference (`reference_rows`): the measured accuracy beside the published one; the reference
is *consistent* when it lies inside the measured 95 % interval — or, for a published number
rounded to ± `precision` points, when that range meets the interval — otherwise the
difference is reported in points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scratchlab.experiments.entries import Difference, Entry, difference
from scratchlab.experiments.stats import Interval
from scratchlab.experiments.textfmt import pct_ci, pts_ci, pvalue, signed


@dataclass(frozen=True)
class Effect:
    entry: Entry
    val: Difference
    test: Difference
    part: str  # the set the effect is judged on
    label: str  # better | worse | borderline | no detectable difference | not measured


def _judge(diff: Difference) -> str:
    """Paired (same images): McNemar's exact p < 0.05, in the direction of Δ; otherwise the
    95 % interval of Δ excluding 0."""
    iv = diff.delta
    if not math.isfinite(iv.value):
        return "not measured"
    if diff.test is not None:
        if diff.test.p_exact >= ALPHA or iv.value == 0:
            return "borderline" if iv.lo > 0 or iv.hi < 0 else "no detectable difference"
        return "better" if iv.value > 0 else "worse"
    if iv.lo > 0:
        return "better"
    if iv.hi < 0:
        return "worse"
    return "no detectable difference"


ALPHA = 0.05


def effects(entries: list[Entry], baseline: str) -> list[Effect]:
    """Every entry but the baseline against it (empty if the baseline has not finished)."""
    base = next((e for e in entries if e.name == baseline), None)
    if base is None:
        return []
    out = []
    for e in entries:
        if e is base:
            continue
        val, test = difference(e, base, "val"), difference(e, base, "test")
        part = "test" if math.isfinite(test.delta.value) else "val"
        out.append(Effect(e, val, test, part, _judge(test if part == "test" else val)))
    return out


def mcnemar_cell(diff: Difference) -> str:
    """`p = 0.021 (b 31, c 12)` for a paired comparison, `–` otherwise."""
    t = diff.test
    if t is None:
        return "–"
    return f"{pvalue(t.p_exact)} ({t.only_first} vs {t.only_second})"


def effect_text(effect: Effect, baseline: str) -> str:
    """One sentence: the change's effect, its interval and (when paired) McNemar's p."""
    diff = effect.test if effect.part == "test" else effect.val
    text = (
        f"`{effect.entry.name}` vs `{baseline}`: {effect.part} accuracy {pts_ci(diff.delta)} points"
    )
    if diff.test is not None:
        t = diff.test
        text += (
            f", McNemar exact p {_eq(t.p_exact)} (mid-p {_eq(t.p_mid)}; "
            f"{t.only_first} images right only here, {t.only_second} only in the baseline)"
        )
    return f"{text}: **{effect.label}**."


def _eq(p: float) -> str:
    """`= 0.021` or `< 0.001`, to follow a `p`."""
    text = pvalue(p)
    return text if text.startswith("<") else f"= {text}"


# How each `[reference] set` reads in a sentence or a column header.
PART_LABELS = {"test": "test", "val": "validation", "retrain": "test (retrained)"}


@dataclass(frozen=True)
class ReferenceRow:
    entry: Entry
    reference: float  # fraction
    measured: Interval
    consistent: bool
    precision: float = 0.0  # fraction: the published number's rounding, ±

    @property
    def reference_text(self) -> str:
        """`96.0 %`, or `96.0 % ± 0.5` for a rounded published number."""
        plus = f" ± {100 * self.precision:g}" if self.precision else ""
        return f"{100 * self.reference:.1f} %{plus}"


def reference_rows(entries: list[Entry], reference: dict | None) -> list[ReferenceRow]:
    """Measured vs published accuracy for each entry named in `reference["accuracy"]`."""
    if not reference:
        return []
    part = reference.get("set", "test")
    slack = float(reference.get("precision") or 0.0) / 100.0
    by_name = {e.name: e for e in entries}
    out = []
    for name, value in reference.get("accuracy", {}).items():
        if name in by_name:
            measured = by_name[name].acc(part)
            ref = float(value) / 100.0
            ok = math.isfinite(measured.value) and (
                measured.lo <= ref + slack and ref - slack <= measured.hi
            )
            out.append(ReferenceRow(by_name[name], ref, measured, ok, slack))
    return out


def reference_text(row: ReferenceRow, part: str) -> str:
    diff = 100 * (row.measured.value - row.reference)
    where = "inside" if row.consistent else "outside"
    return (
        f"`{row.entry.name}`: measured {PART_LABELS.get(part, part)} accuracy "
        f"{pct_ci(row.measured)} vs reference {row.reference_text} — {signed(diff)} points, "
        f"the reference lies {where} the measured interval."
    )


def loss_pairs(entries: list[Entry]) -> list[tuple[dict, dict[str, Entry]]]:
    """Entries that differ only in their loss: [(shared settings, {loss: entry})]."""
    keyed: dict[tuple, dict[str, Entry]] = {}
    for e in entries:
        c = e.config
        t, m = c["train"], c["model"]
        key = (
            t["lambda"],
            t["eta"],
            t["n_epochs"],
            str(t["n_batch"]),
            tuple(m["hidden"]),
            str(t["schedule"]),
            c["data"]["dataset"],
            c["data"]["split"],
        )
        keyed.setdefault(key, {})[m["loss"]] = e
    return [
        ({"lambda": k[0], "eta": k[1], "epochs": k[2], "batch": k[3]}, by_loss)
        for k, by_loss in keyed.items()
        if len(by_loss) > 1
    ]
