"""Tools the experiment-file readers share (config.py, searchfile.py, search.py): one-line
pydantic error messages that name the field and suggest the closest valid key, and the two
dict operations the file's tables are merged with."""

from __future__ import annotations

import copy
import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError


def describe_validation_error(
    exc: ValidationError, where: str, model: type[BaseModel] | None = None
) -> str:
    """One line: `where: field.path: message (got value); other.field: ...`.

    With the validated `model`, union tags are left out of the field path and an unknown
    key names the closest valid key (or lists the valid ones).
    """
    lines = []
    errors = exc.errors()
    for err in errors:
        got = err.get("input")
        if len(errors) > 1 and isinstance(got, dict) and err["type"].endswith(_SCALAR_ERRORS):
            continue  # a table given where a union also allows a scalar: the scalar is noise
        path = [p for p in err["loc"] if not str(p).startswith("function-")]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and path:
            nodes, shown = _walk(model, path[:-1]) if model else ([], path[:-1])
            path = [*shown, path[-1]]
            msg = unknown_key_message(str(path[-1]), _keys(nodes) or None)
        elif model:
            path = _walk(model, path)[1]
        loc = ".".join(str(p) for p in path).replace("lambda_", "lambda")
        quiet = err["type"] in ("extra_forbidden", "missing") or isinstance(got, dict | list)
        shown_value = "" if quiet else f" (got {got!r})"
        lines.append(f"{loc or 'value'}: {msg}{shown_value}")
    return f"{where}: " + "; ".join(dict.fromkeys(lines))


_SCALAR_ERRORS = ("bool_type", "bool_parsing", "int_type", "float_type", "string_type")


def unknown_key_message(key: str, valid: list[str] | None) -> str:
    """`unknown key 'etaa'; did you mean 'eta'?` (difflib), else the list of valid keys."""
    if not valid:
        return f"unknown key {key!r} (check the spelling)"
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r}; did you mean {close[0]!r}?"
    return f"unknown key {key!r}; valid keys: {', '.join(sorted(valid))}"


def _walk(model: type[BaseModel], loc: list) -> tuple[list, list]:
    """Follow a pydantic error location from `model`: the schema nodes it ends at, and the
    location without union tags (a schedule's name, a member's type: `int`, `bool` ...)."""
    nodes: list = [model]
    shown: list = []
    for part in loc:
        if isinstance(part, int):
            nodes = [c for n in nodes if isinstance(n, tuple) for c in _candidates(n[1])]
            shown.append(part)
            continue
        models = [n for n in nodes if isinstance(n, type)]
        fields = [f for m in models for name, f in m.model_fields.items()
                  if part in (name, f.alias)]  # fmt: skip
        if fields:
            nodes = [c for f in fields for c in _candidates(f.annotation)]
            shown.append(part)
            continue
        # Not a field: the tag of a union member (pydantic names the member it tried).
        nodes = [m for m in models if m.__name__ == part or ("name" in m.model_fields and
                 part in typing.get_args(m.model_fields["name"].annotation))]  # fmt: skip
    return nodes, shown


def _keys(nodes: list) -> list[str]:
    keys = [f.alias or name for n in nodes if isinstance(n, type)
            for name, f in n.model_fields.items()]  # fmt: skip
    return list(dict.fromkeys(keys))


def _candidates(tp: Any) -> list:
    """Models (and `("list", item type)`) an annotation can hold, Optional/Annotated unwrapped."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _candidates(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [c for arg in typing.get_args(tp) for c in _candidates(arg)]
    if origin is list:
        return [("list", typing.get_args(tp)[0])]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return []


def set_dotted(target: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = target
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def deep_merge(base: dict, override: dict) -> dict:
    """Merge tables recursively; a table with a `name` (a schedule) replaces, not merges."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and "name" not in value:
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def format_value(value: Any) -> str:
    """A grid value as run names and grid labels show it: 0.01, 50+50, cyclical."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "+".join(format_value(v) for v in value) or "none"
    if isinstance(value, dict):
        return str(value.get("name") or value.get("kind") or "x")
    return str(value)
