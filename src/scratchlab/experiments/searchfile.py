"""The `[search]` tables of an experiment file, validated once at load (see search.py).

    parse_searches(raw["search"], defaults, where, overrides, runs) -> list[Search]

`[search]` is one search, `[[search]]` several (names must differ). Its keys: name, description,
seed, n, top_k, stages (a count or a list of { n, top_k } tables), params (dotted model.* /
train.* keys, each { uniform = [a, b] } | { log_uniform = [a, b] } | { choice = [...] }), and
data / model / train tables that set the trials' settings over the file's defaults.

Every error is one line: unknown keys named, bad ranges, a searched key that is not a
model.* / train.* setting, a top_k larger than the stage before, a trial name taken by a run,
an unknown `from_search`. Each range's bounds (and each choice) are checked as whole runs, so
a later stage, drawn inside them, cannot fail on a field rule.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scratchlab.errors import ConfigError
from scratchlab.experiments.schema import RunSpec
from scratchlab.experiments.search import Param, Search

DISTRIBUTIONS = ("uniform", "log_uniform", "choice")


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParamTable(_Table):
    uniform: list[float] | None = Field(None, min_length=2, max_length=2)
    log_uniform: list[float] | None = Field(None, min_length=2, max_length=2)
    choice: list[Any] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_range(self) -> ParamTable:
        given = [k for k in DISTRIBUTIONS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of {', '.join(DISTRIBUTIONS)}, e.g. log_uniform = [1e-5, 1e-1]"
            )
        bounds = self.uniform or self.log_uniform
        if bounds is not None:
            low, high = bounds
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(f"{given[0]} = [{low:g}, {high:g}]: need finite low < high")
            if self.log_uniform is not None and low <= 0:
                raise ValueError(f"log_uniform = [{low:g}, {high:g}]: bounds must be > 0")
        return self


class StageTable(_Table):
    n: int | None = Field(None, ge=1, le=200)
    top_k: int | None = Field(None, ge=1)


class SearchTable(_Table):
    name: str = Field("search", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.=,+-]*$", max_length=60)
    description: str = ""
    seed: int | None = Field(None, ge=0)
    n: int = Field(8, ge=1, le=200)
    top_k: int = Field(3, ge=1)
    stages: int | list[StageTable] = Field(1)
    params: dict[str, dict] = Field(min_length=1)  # dotted key -> ParamTable, checked apart
    data: dict = {}
    model: dict = {}
    train: dict = {}

    def stage_list(self) -> list[tuple[int, int]]:
        """(n, top_k) per stage."""
        stages = [StageTable()] * self.stages if isinstance(self.stages, int) else self.stages
        return [(s.n or self.n, s.top_k or self.top_k) for s in stages]


def parse_searches(
    raw: Any, defaults: dict, where: str, overrides: dict | None, runs: list[RunSpec]
) -> list[Search]:
    """`[search]` (one table) or `[[search]]` (several) → validated `Search`es.

    Every error is one line: unknown keys named, bad ranges, a searched key that is not a
    model.*/train.* setting, a trial name taken by a run, an unknown `from_search`.
    """
    from scratchlab.experiments.configtools import deep_merge, describe_validation_error

    tables = [] if raw is None else raw if isinstance(raw, list) else [raw]
    if not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{where}: search must be a table ([search]) or tables ([[search]])")
    searches = []
    for table in tables:
        table = {**table, "params": _flatten(table.get("params", {}), where)}
        try:
            spec = SearchTable.model_validate(table)
        except ValidationError as exc:
            raise ConfigError(
                describe_validation_error(exc, f"{where}: search", SearchTable)
            ) from None
        label = f"{where}: search {spec.name!r}"
        template = deep_merge(defaults, {k: getattr(spec, k) for k in ("data", "model", "train")})
        template = deep_merge(template, overrides) if overrides else template
        params = [_param(key, p, label) for key, p in spec.params.items()]
        seed = spec.seed if spec.seed is not None else int(defaults.get("seed", 0))
        search = Search(
            spec.name, spec.description, seed, spec.stage_list(), params, template, where
        )
        _check_stages(search, label)
        for probe in _probes(params):  # every bound (and choice) makes a valid run
            search.spec(search.trial_name(1, 1), probe)
        searches.append(search)
    _check_names(searches, runs, where)
    return searches


def _flatten(params: Any, where: str, prefix: str = "") -> dict:
    """Nested TOML tables (`params.train.lambda = {...}`) → {"train.lambda": {...}}."""
    if not isinstance(params, dict):
        raise ConfigError(
            f"{where}: search.params must be a table of ranges, e.g. "
            '"train.lambda" = { log_uniform = [1e-5, 1e-1] }'
        )
    out = {}
    for key, value in params.items():
        if isinstance(value, dict) and value and not set(value) & set(DISTRIBUTIONS):
            out |= _flatten(value, where, f"{prefix}{key}.")
        elif isinstance(value, dict):
            out[f"{prefix}{key}"] = value
        else:
            raise ConfigError(
                f"{where}: search params.{prefix}{key} = {value!r}: give a range table, "
                "{ uniform = [a, b] }, { log_uniform = [a, b] } or { choice = [...] }"
            )
    return out


def _param(key: str, raw: dict, label: str) -> Param:
    from scratchlab.experiments.configtools import describe_validation_error

    try:
        table = ParamTable.model_validate(raw)
    except ValidationError as exc:
        where = f"{label}: params.{key}"
        message = describe_validation_error(exc, where, ParamTable)
        raise ConfigError(message.replace(f"{where}: value: ", f"{where}: ")) from None
    if key.split(".")[0] not in ("model", "train") or "." not in key:
        raise ConfigError(
            f"{label}: params key {key!r} must be a model.* or train.* setting "
            "(searching data.* would change the validation images)"
        )
    if table.choice is not None:
        return Param(key, "choice", values=tuple(table.choice))
    kind = "uniform" if table.uniform is not None else "log_uniform"
    low, high = table.uniform or table.log_uniform
    return Param(key, kind, float(low), float(high))


def _check_stages(search: Search, label: str) -> None:
    for stage in range(1, len(search.stages)):
        n_before, top_k = search.stages[stage - 1][0], search.stages[stage][1]
        if top_k > n_before:
            raise ConfigError(
                f"{label}: stage {stage + 1} keeps the best top_k = {top_k} "
                f"trials, but stage {stage} has only n = {n_before}"
            )


def _probes(params: list[Param]) -> list[dict]:
    base = {p.key: p.probes()[0] for p in params}
    return [{**base, p.key: v} for p in params for v in p.probes()]


def _check_names(searches: list[Search], runs: list[RunSpec], where: str) -> None:
    names = [s.name for s in searches]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: search names must be unique, got {names}")
    for s in searches:
        pattern = re.compile(rf"{re.escape(s.name)}-s\d+-\d+")
        taken = [r.name for r in runs if pattern.fullmatch(r.name)]
        if taken:
            raise ConfigError(
                f"{where}: run {taken[0]!r} has the name of a trial of search "
                f"{s.name!r}; rename the run or the search"
            )
    for r in runs:
        if r.from_search is not None and r.from_search not in names:
            known = ", ".join(names) or "none"
            raise ConfigError(
                f"{where}: run {r.name!r}: from_search {r.from_search!r} is not a "
                f"search of this file (searches: {known})"
            )
