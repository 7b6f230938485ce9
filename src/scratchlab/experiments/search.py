"""Random and coarse-to-fine search: a `[search]` table whose trials are ordinary runs.

    [search]
    name = "lam"        # trial runs: lam-s1-01, lam-s1-02, ..., lam-s2-01, ...
    n = 8               # trials per stage (a stage may set its own)
    stages = 2          # or a list of tables: [{ n = 8 }, { n = 6, top_k = 2 }]
    top_k = 3           # a later stage narrows around the best top_k trials of the one before
    seed = 0            # the drawing seed (default: the experiment's seed)
    data = { split = "all", val_size = 5000 }   # the trials' settings over [data] [model]
    train = { n_epochs = 8 }                     # [train] (like a [[runs]] entry)
    [search.params]
    "train.lambda" = { log_uniform = [1e-5, 1e-1] }   # λ = 10^l, l ~ U[-5, -1]
    "train.eta" = { uniform = [0.01, 0.1] }
    "model.hidden" = { choice = [[50], [100]] }

Drawing (seeded: the same file draws the same trials). Stage s uses
`numpy.random.default_rng([seed, s])`; trial after trial, each parameter in sorted key order:
uniform x ~ U[a, b]; log-uniform x = 10^l, l ~ U[log10 a, log10 b]; choice: one of the values,
each equally likely. Drawn numbers are rounded to 4 significant digits (readable in tables,
names and config.json) and kept inside [a, b].

Narrowing (stage s >= 2), from the best `top_k` trials of stage s-1 by validation accuracy
(`final.val.acc` in their metrics.json; ties: the earlier trial; NaN ranks last):

    range [a, b] (log10 a, log10 b for log-uniform), n trials in stage s-1, best values v:
        new range = [max(a, min v - w), min(b, max v + w)],  w = (b - a) / (2 n)
    choice: the values the best trials took, in file order

so each kept value keeps the neighbourhood one of n evenly spread trials would own.

A run with `from_search = "lam"` takes the drawn values of the search's best trial (over all
stages) on top of its own settings and trains after the search (scratchlab.experiments.runner).
Only model.* and train.* keys can be searched: data.* would change the validation images.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from scratchlab.errors import ConfigError, ScratchlabError
from scratchlab.experiments.schema import RunSpec
from scratchlab.io import read_json, write_json

SEARCH_JSON = "search.json"
SIGNIFICANT = 4  # digits kept of a drawn number


@dataclass(frozen=True)
class Param:
    """One searched key and its range: kind uniform | log_uniform (low, high) or choice."""

    key: str
    kind: str
    low: float = math.nan
    high: float = math.nan
    values: tuple = ()

    def draw(self, rng: np.random.Generator) -> Any:
        if self.kind == "choice":
            return copy.deepcopy(self.values[int(rng.integers(len(self.values)))])
        if self.kind == "uniform":
            x = rng.uniform(self.low, self.high)
        else:
            x = 10.0 ** rng.uniform(math.log10(self.low), math.log10(self.high))
        return min(max(float(f"{x:.{SIGNIFICANT}g}"), self.low), self.high)

    def narrow(self, best: list, n_prev: int) -> Param:
        """The range for the next stage around the best trials' values (module docstring)."""
        if self.kind == "choice":
            return replace(self, values=tuple(v for v in self.values if v in best))
        log = self.kind == "log_uniform"
        f = math.log10 if log else float
        a, b = f(self.low), f(self.high)
        w = (b - a) / (2 * n_prev)
        xs = [f(v) for v in best]
        lo, hi = max(a, min(xs) - w), min(b, max(xs) + w)
        return replace(self, low=10.0**lo if log else lo, high=10.0**hi if log else hi)

    def probes(self) -> list:
        """Values that span the range (its bounds, or every choice): checked at load."""
        return list(self.values) if self.kind == "choice" else [self.low, self.high]

    def as_json(self) -> dict:
        if self.kind == "choice":
            return {"kind": "choice", "values": list(self.values)}
        return {"kind": self.kind, "low": self.low, "high": self.high}


@dataclass
class Trial:
    name: str
    stage: int
    values: dict[str, Any]
    spec: RunSpec


@dataclass
class Search:
    """A validated `[search]`: its stages, parameters and the trials' merged run table."""

    name: str
    description: str
    seed: int
    stages: list[tuple[int, int]]  # (n, top_k)
    params: list[Param]
    template: dict  # the merged run table (defaults, the search's own tables, --set)
    where: str
    drawn: list[tuple[list[Param], list[Trial]]] = field(default_factory=list)

    def trial_name(self, stage: int, index: int) -> str:
        return f"{self.name}-s{stage}-{index:02d}"

    def spec(self, name: str, values: dict[str, Any]) -> RunSpec:
        """The RunSpec of a trial: the template with `values` at their dotted keys."""
        from scratchlab.experiments.configtools import describe_validation_error, set_dotted

        merged = copy.deepcopy(self.template)
        merged["name"] = name
        for key, value in values.items():
            set_dotted(merged, key, value)
        try:
            return RunSpec.model_validate(merged)
        except ValidationError as exc:
            label = f"{self.where}: search {self.name!r} ({name})"
            raise ConfigError(describe_validation_error(exc, label, RunSpec)) from None

    def draw(self, stage: int, ranges: list[Param]) -> list[Trial]:
        """Stage `stage`'s trials (1-based) from `ranges`; the same for the same file."""
        rng = np.random.default_rng([self.seed, stage])
        ordered = sorted(ranges, key=lambda p: p.key)
        trials = []
        for i in range(1, self.stages[stage - 1][0] + 1):
            values = {p.key: p.draw(rng) for p in ordered}
            name = self.trial_name(stage, i)
            trials.append(Trial(name, stage, values, self.spec(name, values)))
        return trials

    def next_stage(self, exp_dir: Path) -> list[Trial] | None:
        """Draw the next stage (narrowed around the last one's results); None when done."""
        stage = len(self.drawn) + 1
        if stage > len(self.stages):
            return None
        ranges = self.params
        if self.drawn:
            ranges_before, before = self.drawn[-1]
            top_k = self.stages[stage - 1][1]
            best = ranked(results(exp_dir, before))[:top_k]
            ranges = [
                p.narrow([r["values"][p.key] for r in best], len(before)) for p in ranges_before
            ]
        trials = self.draw(stage, ranges)
        self.drawn.append((ranges, trials))
        return trials

    def trials(self) -> list[Trial]:
        return [t for _, trials in self.drawn for t in trials]

    def record(self, exp_dir: Path) -> dict:
        """This search's entry in search.json (docs/RESULTS.md)."""
        stages = []
        for stage, (ranges, trials) in enumerate(self.drawn, start=1):
            rows = results(exp_dir, trials, missing_ok=True)
            rank = {r["run"]: i for i, r in enumerate(ranked(rows), start=1)}
            n, top_k = self.stages[stage - 1]
            stages.append(
                {
                    "stage": stage,
                    "n": n,
                    "top_k": top_k if stage > 1 else None,
                    "ranges": {p.key: p.as_json() for p in ranges},
                    "trials": [{**r, "rank": rank[r["run"]]} for r in rows],
                }
            )
        finished = [r for s in stages for r in s["trials"] if r["status"] is not None]
        best = ranked(finished)[0] if finished else None
        return {
            "name": self.name,
            "description": self.description,
            "metric": "val_acc",
            "seed": self.seed,
            "params": {p.key: p.as_json() for p in self.params},
            "stages": stages,
            "complete": len(stages) == len(self.stages) and len(finished) == len(self.trials()),
            "best": best,
        }


def results(exp_dir: Path, trials: list[Trial], *, missing_ok: bool = False) -> list[dict]:
    """{"run", "stage", "values", "val_acc", "status"} per trial, from its metrics.json."""
    rows = []
    for t in trials:
        try:
            metrics = read_json(Path(exp_dir) / t.name / "metrics.json")
        except (ScratchlabError, OSError, ValueError):
            if not missing_ok:
                raise ScratchlabError(
                    f"search trial {t.name!r} has no readable metrics.json; rerun the experiment"
                ) from None
            metrics = {}
        acc = ((metrics.get("final") or {}).get("val") or {}).get("acc")
        rows.append(
            {
                "run": t.name,
                "stage": t.stage,
                "values": t.values,
                "val_acc": acc,
                "status": metrics.get("status"),
            }
        )
    return rows


def ranked(rows: list[dict]) -> list[dict]:
    """Best validation accuracy first; ties keep trial order; no accuracy ranks last."""

    def key(item: tuple[int, dict]) -> tuple[float, int]:
        acc = item[1]["val_acc"]
        return (-acc if isinstance(acc, int | float) and math.isfinite(acc) else math.inf, item[0])

    return [row for _, row in sorted(enumerate(rows), key=key)]


def best_values(search: Search, exp_dir: Path) -> dict[str, Any]:
    """The drawn values of the search's best trial over every stage drawn."""
    best = ranked(results(exp_dir, search.trials()))
    if not best or best[0]["val_acc"] is None:
        raise ScratchlabError(f"search {search.name!r} has no trial with a validation accuracy")
    return best[0]["values"]


def with_values(spec: RunSpec, values: dict[str, Any], where: str) -> RunSpec:
    """`spec` with the dotted `values` set (a `from_search` run after its search)."""
    from scratchlab.experiments.configtools import describe_validation_error, set_dotted

    merged = spec.model_dump(mode="json", by_alias=True)
    for key, value in values.items():
        set_dotted(merged, key, value)
    try:
        return RunSpec.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, where, RunSpec)) from None


def later_stages(searches: list[Search], chosen: set[str], exp_dir: Path):
    """Yield stage 2, 3, ... of the `chosen` searches, each drawn after the stage before was
    trained (the caller trains each batch before asking for the next). The other searches
    are drawn only as far as their finished trials go, so their trials can be listed."""
    for s in searches:
        while s.name not in chosen and s.drawn and _finished(exp_dir, s.drawn[-1][1]):
            if s.next_stage(exp_dir) is None:
                break
    while batch := [t for s in searches if s.name in chosen for t in s.next_stage(exp_dir) or []]:
        yield [t.spec for t in batch]


def _finished(exp_dir: Path, trials: list[Trial]) -> bool:
    return all((Path(exp_dir) / t.name / "metrics.json").is_file() for t in trials)


def with_best(spec: RunSpec, searches: list[Search], exp_dir: Path, where: str) -> RunSpec:
    """A `from_search` run with its search's best values (after that search was trained)."""
    search = next(s for s in searches if s.name == spec.from_search)
    label = f"{where}: run {spec.name!r} (from_search {search.name!r})"
    return with_values(spec, best_values(search, exp_dir), label)


def check_trial_data(where: str, specs: list[RunSpec], data: dict) -> None:
    """Trials are ranked by validation accuracy: their split needs validation images."""
    for spec in specs:
        splits = data[spec.name].splits
        if splits.val.n == 0:
            raise ConfigError(
                f"{where}: search trial {spec.name!r}: split {splits.split!r} of "
                f"{splits.dataset} has no validation images to rank the trials by; set the "
                "search's data.split to one with a validation part"
            )


def write_search_json(exp_dir: Path, searches: list[Search]) -> None:
    write_json(
        Path(exp_dir) / SEARCH_JSON,
        {"format": 1, "searches": [s.record(exp_dir) for s in searches]},
    )
