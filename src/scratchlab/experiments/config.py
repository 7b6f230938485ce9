"""Read an experiment TOML file into validated runs.

    experiment.toml ─► header (name, title, seed, gradcheck)
                    └► defaults [data] [model] [train]  ─┐
                       [[runs]] overrides, [grid] lists ─┴► list[RunSpec]

A `[grid]` (top level or inside a run) maps dotted keys to lists of values and expands into
the Cartesian product of runs, named after the values (`eta0.01-lambda0.1`).
`repeats = N` (top level or inside a run) turns each configuration into N ordinary runs
`<name>-r<k>`, k = 0..N-1, with seeds seed + k·ensemble (an ensemble's members use
seed+1..seed+ensemble, so repeats never share a seed); the report groups them again.
"""

from __future__ import annotations

import copy
import fnmatch
import itertools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from scratchlab.errors import ConfigError
from scratchlab.experiments.configtools import (
    deep_merge,
    describe_validation_error,
    format_value,
    set_dotted,
    unknown_key_message,
)
from scratchlab.experiments.schema import ExperimentHeader, GradcheckSpec, RunSpec

_SECTIONS = ("data", "model", "train")
_HEADER_KEYS = set(ExperimentHeader.model_fields)
_TOP_KEYS = _HEADER_KEYS | set(_SECTIONS) | {"runs", "grid", "search"}


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: its header and the fully resolved runs, in file order."""

    header: ExperimentHeader
    runs: list[RunSpec]
    source: Path | None = None
    raw: dict = field(default_factory=dict, repr=False)
    groups: dict[str, list[str]] = field(default_factory=dict)  # repeat group -> its runs
    grids: list[dict] = field(default_factory=list)  # {"name", "axes": [[key, values]], "runs"}
    searches: list = field(default_factory=list)  # [search] tables (experiments.searchfile)

    @property
    def name(self) -> str:
        return self.header.name

    @property
    def gradcheck(self) -> list[GradcheckSpec] | None:
        """The gradient checks asked for (`true`, a table or [[gradcheck]]), None if none."""
        return self.header.gradcheck or None


def load_experiment(path: str | Path, *, overrides: dict | None = None) -> Experiment:
    """Read and validate an experiment file; `overrides` (nested dict) applies to every run."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"experiment file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read experiment file {path}: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return parse_experiment(raw, source=path, overrides=overrides)


def parse_experiment(
    raw: dict, *, source: Path | None = None, overrides: dict | None = None
) -> Experiment:
    where = str(source) if source else "experiment"
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        problems = "; ".join(unknown_key_message(k, sorted(_TOP_KEYS)) for k in unknown)
        raise ConfigError(f"{where}: top level: {problems}")
    if "name" not in raw and source is not None:
        raw = {**raw, "name": source.stem}
    try:
        header = ExperimentHeader.model_validate({k: raw[k] for k in _HEADER_KEYS if k in raw})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, where, ExperimentHeader)) from None

    defaults = {s: raw.get(s, {}) for s in _SECTIONS}
    for section, value in defaults.items():
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{section}] must be a table, got {value!r}")
    defaults |= {"seed": header.seed, "ensemble": header.ensemble}

    entries = raw.get("runs", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{where}: runs must be an array of tables ([[runs]])")
    if "grid" in raw:
        entries = [*entries, {"name": "grid", "grid": raw["grid"]}]
    if not entries and "search" not in raw:  # a file of only a [search] trains its trials
        entries = [{"name": "default"}]

    runs: list[RunSpec] = []
    groups: dict[str, list[str]] = {}
    grids: list[dict] = []
    for index, entry in enumerate(entries):
        for merged in _expand_entry(entry, defaults, where, index, header.repeats, groups, grids):
            if overrides:
                merged = deep_merge(merged, overrides)
            label = f"{where}: run {merged.get('name', index + 1)!r}"
            try:
                runs.append(RunSpec.model_validate(merged))
            except ValidationError as exc:
                raise ConfigError(describe_validation_error(exc, label, RunSpec)) from None
    names = [r.name for r in runs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"{where}: run names must be unique; repeated: {duplicated}")
    from scratchlab.experiments.searchfile import parse_searches

    searches = parse_searches(raw.get("search"), defaults, where, overrides, runs)
    exp = Experiment(header, runs, source, raw, groups=groups, grids=grids, searches=searches)
    check_report_sections(exp, where)
    return exp


def _expand_entry(
    entry: dict, defaults: dict, where: str, index: int, repeats: int, groups: dict, grids: list
) -> list[dict]:
    """One [[runs]] entry → its merged runs (grid points × repeats); records its repeat
    groups in `groups` and its grid in `grids`."""
    expanded, grid = _expand(entry, defaults, where, index)
    if grid is not None:
        grids.append(grid)
    out = []
    for merged in expanded:
        point, reps = _repeat(merged, entry.get("repeats", repeats), where)
        if len(reps) > 1:
            groups[point] = [r["name"] for r in reps]
        out += reps
    return out


def _repeat(merged: dict, repeats: object, where: str) -> tuple[str, list[dict]]:
    """One merged run -> `repeats` copies named `<name>-r<k>` with seeds seed + k·ensemble."""
    name = merged.get("name")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= 100:
        raise ConfigError(
            f"{where}: run {name!r}: repeats must be a whole number in 1..100, got {repeats!r}"
        )
    merged = {k: v for k, v in merged.items() if k != "repeats"}
    if repeats == 1:
        return name, [merged]
    seed, step = merged.get("seed", 0), merged.get("ensemble", 1)
    if not isinstance(seed, int) or not isinstance(step, int):
        return name, [merged]  # RunSpec validation reports the bad seed or ensemble
    return name, [
        {**merged, "name": f"{name}-r{k}", "seed": seed + k * step} for k in range(repeats)
    ]


def check_report_sections(exp: Experiment, where: str) -> None:
    """`baseline`, `[reference]` and `[[figures]]` name runs (or repeat groups) that exist."""
    h = exp.header
    names = [r.name for r in exp.runs]
    known = set(names) | set(exp.groups)
    if h.baseline is not None and h.baseline not in known:
        raise ConfigError(
            f"{where}: baseline {h.baseline!r} is not a run of this experiment; "
            f"use one of {sorted(known)}"
        )
    if h.reference is not None:
        missing = sorted(set(h.reference.accuracy) - known)
        if missing:
            raise ConfigError(
                f"{where}: reference.accuracy names unknown runs {missing}; "
                f"the runs are {sorted(known)}"
            )
    for fig in h.figures:
        for pattern in fig.runs:
            if not any(fnmatch.fnmatchcase(n, pattern) for n in [*names, *exp.groups]):
                raise ConfigError(f"{where}: figure {fig.name!r}: {pattern!r} matches no run")
    taken = [f.name for f in h.figures]
    if len(set(taken)) != len(taken):
        raise ConfigError(f"{where}: figure names must be unique, got {taken}")


def report_settings(exp: Experiment) -> dict:
    """What the report needs from the experiment file, for `experiment.json["report"]`."""
    h = exp.header
    return {
        "baseline": h.baseline,
        "reference": h.reference.model_dump(mode="json") if h.reference else None,
        "figures": [f.model_dump(mode="json") for f in h.figures],
        "groups": exp.groups,
        "grids": exp.grids,
    }


def _expand(entry: dict, defaults: dict, where: str, index: int) -> tuple[list[dict], dict | None]:
    """One [[runs]] entry → one merged dict, or one per grid point if it has a grid; and the
    grid's description `{"name", "axes": [[dotted key, values]], "runs": [point names]}`."""
    entry = {k: v for k, v in entry.items() if k != "repeats"}
    grid = entry.pop("grid", None)
    base = deep_merge(defaults, entry)
    base.setdefault("name", f"run{index + 1}")
    if grid is None:
        return [base], None
    axes = _grid_axes(grid, where)
    prefix = "" if base["name"] == "grid" else f"{base['name']}-"
    out = []
    for values in itertools.product(*(vals for _, vals in axes)):
        point = copy.deepcopy(base)
        parts = []
        for (dotted, _), value in zip(axes, values, strict=True):
            set_dotted(point, dotted, value)
            parts.append(f"{dotted.rsplit('.', 1)[-1]}{format_value(value)}")
        point["name"] = prefix + "-".join(parts)
        out.append(point)
    axes_json = [[dotted, list(values)] for dotted, values in axes]
    return out, {"name": base["name"], "axes": axes_json, "runs": [p["name"] for p in out]}


def _grid_axes(grid: Any, where: str) -> list[tuple[str, list]]:
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"{where}: grid must be a table of lists, e.g. train.eta = [0.1, 0.01]")
    axes: list[tuple[str, list]] = []

    def walk(node: dict, prefix: str) -> None:
        for key, value in node.items():
            dotted = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(value, dotted + ".")
            elif isinstance(value, list) and value:
                axes.append((dotted, value))
            else:
                raise ConfigError(f"{where}: grid.{dotted} must be a non-empty list of values")

    walk(grid, "")
    for dotted, _ in axes:
        if dotted.split(".")[0] not in _SECTIONS:
            raise ConfigError(
                f"{where}: grid key {dotted!r} must start with one of {list(_SECTIONS)}"
            )
    return axes
