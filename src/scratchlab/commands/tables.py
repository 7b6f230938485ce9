"""One way to print a table on the terminal: rich, plain text when output is not a terminal."""

from __future__ import annotations

import math

from rich import box
from rich.console import Console
from rich.table import Table


def print_table(header: list[str], rows: list[list[str]], *, right: tuple[int, ...] = ()) -> None:
    """Print `rows` under `header`; columns whose index is in `right` are right-aligned."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for i, name in enumerate(header):
        table.add_column(name, justify="right" if i in right else "left", no_wrap=True)
    for row in rows:
        table.add_row(*(str(c) for c in row))
    Console(width=max(80, _width(header, rows)), highlight=False).print(table)


def pct(x: float | None) -> str:
    """A fraction as a percentage with two decimals; '-' for a missing value."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}%"


def _width(header: list[str], rows: list[list[str]]) -> int:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return sum(widths) + 2 * len(widths) + 2
