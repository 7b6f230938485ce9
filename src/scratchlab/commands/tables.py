"""The command line's shared pieces: one way to print a table (rich; plain text when output is
not a terminal), one percent format, one parser for comma-separated sizes."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from scratchlab.errors import ConfigError
from scratchlab.experiments.textfmt import pct  # noqa: F401 - one percent format


def print_table(header: list[str], rows: list[list[str]], *, right: tuple[int, ...] = ()) -> None:
    """Print `rows` under `header`; columns whose index is in `right` are right-aligned."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for i, name in enumerate(header):
        table.add_column(name, justify="right" if i in right else "left", no_wrap=True)
    for row in rows:
        table.add_row(*(str(c) for c in row))
    Console(width=max(80, _width(header, rows)), highlight=False).print(table)


def parse_ints(text: str, flag: str) -> list[int]:
    """ "50,50" -> [50, 50]; "" -> []; ConfigError (exit 2) naming `flag` otherwise."""
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise ConfigError(
            f"{flag} takes comma-separated integers, e.g. 50,50; got {text!r}"
        ) from None
    if any(v < 1 for v in values):
        raise ConfigError(f"{flag} takes whole numbers >= 1, got {text!r}")
    return values


def _width(header: list[str], rows: list[list[str]]) -> int:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return sum(widths) + 4 * len(widths) + 4  # padding and separators
