"""What the report compares: entries, each one run or the repeats of one configuration.

    Entry("lr-0.1", [run])                      accuracy = the run's, Wilson interval
    Entry("lr-0.1", [r0, r1, r2])  (repeats)    accuracy = mean over seeds, interval of the mean
                                                (stats.repeated_interval), spread = mean ± std

Repeat groups come from experiment.json's `report.groups` (written from the experiment file);
without that record, runs named `<name>-r<k>` whose configs differ only in name and seed are
grouped (`infer_groups`). A group whose runs have not all finished is reported over the runs
that have.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from scratchlab.experiments.records import RunRecord
from scratchlab.experiments.stats import (
    Interval,
    Paired,
    Spread,
    newcombe,
    paired,
    repeated_interval,
    spread,
)


@dataclass
class Entry:
    """One configuration as the report compares it."""

    name: str
    runs: list[RunRecord]

    @property
    def repeated(self) -> bool:
        return len(self.runs) > 1

    @property
    def first(self) -> RunRecord:
        return self.runs[0]

    @property
    def status(self) -> str:
        """`diverged` if any repeat diverged, else the first run's status."""
        statuses = [r.status for r in self.runs]
        return "diverged" if "diverged" in statuses else statuses[0]

    def n(self, part: str) -> int:
        return self.first.n(part)

    def spread(self, part: str, key: str = "acc") -> Spread:
        return spread(r.final(part, key) for r in self.runs)

    def value(self, part: str, key: str = "acc") -> float:
        """The final value (the mean over repeats)."""
        return self.spread(part, key).mean

    def acc(self, part: str) -> Interval:
        """Accuracy on `part` with its 95 % interval (Wilson; repeats: interval of the mean)."""
        if not self.repeated:
            return self.first.acc(part)
        return repeated_interval(self.spread(part), self.n(part))

    @property
    def config(self) -> dict:
        return self.first.config


def build_entries(records: list[RunRecord], groups: dict[str, list[str]]) -> list[Entry]:
    """Entries in run order: a repeat group sits where its first finished run sits."""
    by_name = {r.name: r for r in records}
    member_of = {run: group for group, runs in groups.items() for run in runs}
    entries: list[Entry] = []
    placed: set[str] = set()
    for record in records:
        group = member_of.get(record.name)
        if group is None:
            entries.append(Entry(record.name, [record]))
        elif group not in placed:
            placed.add(group)
            runs = [by_name[n] for n in groups[group] if n in by_name]
            entries.append(Entry(group, runs))
    return entries


_REPEAT = re.compile(r"^(?P<base>.+)-r\d+$")


def infer_groups(records: list[RunRecord]) -> dict[str, list[str]]:
    """Repeat groups read from the runs themselves: two or more runs `<base>-r<k>` whose
    config.json are equal but for `name`, `seed` and the description."""
    by_base: dict[str, list[RunRecord]] = {}
    for r in records:
        match = _REPEAT.match(r.name)
        if match:
            by_base.setdefault(match["base"], []).append(r)

    def setting(r: RunRecord) -> dict:
        return {k: v for k, v in r.config.items() if k not in ("name", "seed", "description")}

    return {
        base: [r.name for r in runs]
        for base, runs in by_base.items()
        if len(runs) > 1 and all(setting(r) == setting(runs[0]) for r in runs)
    }


def same_images(a: Entry, b: Entry, part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(pred a, pred b, labels) when both are single runs with predictions of the same
    `part` images (equal label arrays: the format's rule for "same images"), else None."""
    if a.repeated or b.repeated:
        return None
    pa, pb = a.first.predictions(), b.first.predictions()
    if pa is None or pb is None:
        return None
    ta, tb = pa[f"{part}_true"], pb[f"{part}_true"]
    if ta.size == 0 or ta.shape != tb.shape or not np.array_equal(ta, tb):
        return None
    return pa[f"{part}_pred"], pb[f"{part}_pred"], ta


@dataclass(frozen=True)
class Difference:
    """Accuracy of `a` minus accuracy of `b` on one set."""

    delta: Interval
    test: Paired | None  # McNemar's test when both were scored on the same images


def difference(a: Entry, b: Entry, part: str) -> Difference:
    """Paired (Newcombe with φ, McNemar) on the same images, else the unpaired interval."""
    same = same_images(a, b, part)
    if same is not None:
        result = paired(*same)
        return Difference(result.delta, result)
    ia, ib = a.acc(part), b.acc(part)
    if not (math.isfinite(ia.value) and math.isfinite(ib.value)):
        return Difference(Interval(math.nan, math.nan, math.nan), None)
    return Difference(newcombe(ia, ib), None)
