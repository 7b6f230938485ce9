"""The check's results for people: a plain-text or Markdown table and a one-line verdict."""

from __future__ import annotations

import math

from scratchlab.gradcheck.check import GradRow, max_rel_error, passed


def _cells(rows: list[GradRow]) -> tuple[list[str], list[list[str]]]:
    tol = rows[0].tol if rows else 1e-6
    header = ["Parameter", "Shape", "Checked", "Kinks", "Max |grad|", "Max abs err",
              "Max rel err", f"% rel err < {tol:g}", "Status"]  # fmt: skip
    body = [
        [r.name, "x".join(map(str, r.shape)), str(r.n_checked), str(r.kinks),
         f"{r.max_grad:.2e}", f"{r.max_abs_err:.2e}", f"{r.max_rel_err:.2e}",
         f"{100 * r.share_ok:.2f}", r.status]
        for r in rows
    ]  # fmt: skip
    return header, body


def format_table(rows: list[GradRow]) -> str:
    """Aligned plain-text table, one line per parameter tensor."""
    header, body = _cells(rows)
    widths = [max(len(line[c]) for line in [header, *body]) for c in range(len(header))]

    def line(cells: list[str]) -> str:
        first, last = cells[0].ljust(widths[0]), cells[-1].ljust(widths[-1])
        mid = (cell.rjust(w) for cell, w in zip(cells[1:-1], widths[1:-1], strict=True))
        return "  ".join([first, *mid, last]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(b) for b in body)])


def to_markdown(rows: list[GradRow]) -> str:
    """The same table as a GitHub-flavoured Markdown table."""
    header, body = _cells(rows)
    align = ["---"] + ["---:"] * (len(header) - 2) + ["---"]
    lines = [[c.replace("|", "\\|") for c in cells] for cells in [header, align, *body]]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def _n(count: int) -> str:
    return f"{count} entry" if count == 1 else f"{count} entries"


def verdict(rows: list[GradRow]) -> str:
    """One line: PASS/FAIL, the largest errors and the criterion used."""
    if not rows:
        return "FAIL: the model has no parameters to check"
    tol, atol = rows[0].tol, rows[0].atol
    compared = sum(r.n_checked - r.kinks for r in rows)
    kinks = sum(r.kinks for r in rows)
    word = "PASS" if passed(rows) else "FAIL"
    text = (
        f"{word}: {compared} entries in {len(rows)} tensors; max rel err "
        f"{max_rel_error(rows):.2e}, max abs err {max(r.max_abs_err for r in rows):.2e}; "
        f"an entry fails if rel err >= {tol:g} and abs err > {atol:.1e} (round-off floor)"
    )
    refined, floor = sum(r.refined for r in rows), sum(r.n_floor for r in rows)
    nonfinite = sum(r.n_nonfinite for r in rows)
    none = [r.name for r in rows if r.compared == 0]
    small = [r.name for r in rows if not r.resolved and r.compared > r.n_nonfinite]
    notes = [
        (refined, f"{_n(refined)} re-estimated with the 5-point stencil"),
        (floor, f"{_n(floor)} with rel err >= {tol:g} but abs err within the round-off floor"),
        (kinks, f"{_n(kinks)} straddling a kink left out"),
        (nonfinite, f"{_n(nonfinite)} with a NaN or infinite gradient or error"),
        (not math.isfinite(atol), "the cost itself is not finite"),
        (none, f"no entry compared in {', '.join(none)}"),
        (small, f"gradient below the round-off floor in {', '.join(small)} (try --init he)"),
    ]
    text += "".join(f"; {note}" for present, note in notes if present)
    return text
