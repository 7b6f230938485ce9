"""A document-model `Table` as a booktabs longtable that fits the text width of report.tex.

    {\\small                                  font: the largest of small / footnotesize /
    \\setlength{\\tabcolsep}{4pt}              scriptsize whose estimated width fits
    \\setcounter{table}{N-1}                   (the number document.number gave it)
    \\begin{longtable}{@{}lrr@{}}              numeric columns right-aligned (document.alignments)
    \\caption{…} \\\\
    \\toprule header \\\\ \\midrule \\endfirsthead  the header again on every later page
    …  rows (highlighted ones bold) …
    \\end{longtable}}

Width estimate: each character's width in em (Latin Modern: narrow `.,;:'()[]|` and `iljft`
0.3, wide capitals, `% = + & # _` and symbols 0.78, others 0.5; bold ×1.14), scaled up for
the small optical sizes (LM 7 pt is drawn wider than LM 10 pt shrunk), plus 2 × \\tabcolsep
per column; calibrated against pdflatex's \\settowidth on report cells (numbers, run
names, words: within 5 %; all-capital text is over-estimated, the safe side).
When even scriptsize does not fit: headers stack onto lines, then text columns wrap (p{}
columns never narrower than their longest unbreakable piece — a word, a run name split
after `-`), those that gain the most first; then the gaps between columns narrow.
"""

from __future__ import annotations

import re

from scratchlab.experiments.document import Table, alignments
from scratchlab.experiments.latex_text import inline

TEXT_WIDTH_PT = 483.7  # A4 (597.5 pt) less 2 cm margins on each side
FIT_PT = 0.98 * TEXT_WIDTH_PT
SIZES = (("small", 9.0, 1.07), ("footnotesize", 8.0, 1.10), ("scriptsize", 7.0, 1.145))
COLSEP_PT = 4.0
TIGHT_COLSEP_PT = 2.0
_MIN_HEADER_EM = 4.5  # a stacked header's lines are at least this wide
_NARROW = set(" .,;:'()[]|!iljft")
_WIDE = set("%=+&#<>~^@_mwMW") | set("ABCDEFGHIJKLMNOPQRSTUVXYZ")
_BREAKS = re.compile(r"\s+|(?<=-)")


def em(text: object, bold: bool = False) -> float:
    """Estimated width of `text` (marks removed) in em of its font."""
    text = str(text).replace("**", "").replace("`", "")
    width = sum(0.3 if c in _NARROW else 0.78 if c in _WIDE or c > "\x7f" else 0.5 for c in text)
    return width * (1.14 if bold else 1.0)


def table(b: Table) -> str:
    """The LaTeX of one table (see the module docstring)."""
    align = alignments(b)
    widths, pieces = _widths(b, stack=False), _pieces(b)
    size, spec, wrapped, colsep = _layout(widths, pieces, align)
    if size != SIZES[0][0]:  # does not fit at the first size with one-line headers: stack
        widths = _widths(b, stack=True)
        size, spec, wrapped, colsep = _layout(widths, pieces, align)
    header = " & ".join(
        _header_cell(h, widths[j], align[j], j in wrapped) for j, h in enumerate(b.header)
    )
    head = f"\\toprule\n{header} \\\\\n\\midrule\n"
    lines = [f"{{\\{size}\n\\setlength{{\\tabcolsep}}{{{colsep:g}pt}}"]
    if b.caption and b.number:  # before the table: inside it only \caption may open a row
        lines.append(f"\\setcounter{{table}}{{{b.number - 1}}}")
    lines.append(f"\\begin{{longtable}}{{@{{}}{spec}@{{}}}}")
    if b.caption:
        lines.append(f"\\caption{{{inline(b.caption)}}} \\\\")
    lines += [head + "\\endfirsthead", head + "\\endhead"]
    lines.append("\\midrule\n\\endfoot\n\\bottomrule\n\\endlastfoot")
    n = len(b.header)
    for i, row in enumerate(b.rows):
        cells = [inline(c) for c in [str(c) for c in row][:n] + [""] * (n - len(row))]
        if i in b.highlight:
            cells = ["\\textbf{" + c + "}" if c else c for c in cells]
        lines.append(" & ".join(cells) + " \\\\")
    lines.append("\\end{longtable}\n}")
    return "\n".join(lines)


def _widths(b: Table, stack: bool) -> list[float]:
    """Em each column needs: its widest cell, or its header (`stack`: the header's widest
    word, at least `_MIN_HEADER_EM`, as the header then breaks onto lines)."""
    out = []
    for j, h in enumerate(b.header):
        cells = [em(r[j], i in b.highlight) for i, r in enumerate(b.rows) if j < len(r)]
        head = em(h)
        if stack:
            head = max([em(w) for w in str(h).split()] + [min(head, _MIN_HEADER_EM)])
        out.append(max([0.5, head, *cells]))
    return out


def _pieces(b: Table) -> list[float]:
    """Each column's widest piece that cannot break (a word; a run name splits after `-`)."""
    out = []
    for j, h in enumerate(b.header):
        cells = [(str(h), False)] + [
            (str(r[j]), i in b.highlight) for i, r in enumerate(b.rows) if j < len(r)
        ]
        out.append(max([0.5] + [em(p, bold) for c, bold in cells for p in _BREAKS.split(c)]))
    return out


def _layout(
    widths: list[float], pieces: list[float], align: list[str]
) -> tuple[str, str, set[int], float]:
    """(font size, column spec, wrapped columns, \\tabcolsep), as in the module docstring."""
    colsep = COLSEP_PT
    sep = 2 * colsep * len(widths)
    for size, pt, scale in SIZES:
        if sum(widths) * pt * scale + sep <= FIT_PT:
            return size, "".join("l" if a == "left" else "r" for a in align), set(), colsep
    size, pt, scale = SIZES[-1]
    unit = pt * scale  # points per em
    gain = [w - p for w, p in zip(widths, pieces, strict=True)]
    order = sorted(
        (j for j, a in enumerate(align) if a == "left" and gain[j] > 0.5), key=gain.__getitem__
    )
    wrapped: set[int] = set()

    def needed_pt() -> float:
        return unit * sum(pieces[j] if j in wrapped else w for j, w in enumerate(widths)) + sep

    while order and needed_pt() > FIT_PT:
        wrapped.add(order.pop())
    if needed_pt() > FIT_PT:  # the last resort: narrower gaps between the columns
        colsep = TIGHT_COLSEP_PT
        sep = 2 * colsep * len(widths)
    spare = max(FIT_PT - needed_pt(), 0.0)  # shared by the wrapped columns, by their gain
    total = sum(gain[j] for j in wrapped) or 1.0
    spec = []
    for j, a in enumerate(align):
        if j in wrapped:
            width = min(unit * pieces[j] + spare * gain[j] / total, unit * widths[j])
            frac = (width + 1.0) / TEXT_WIDTH_PT
            spec.append(f">{{\\raggedright\\arraybackslash}}p{{{frac:.3f}\\linewidth}}")
        else:
            spec.append("l" if a == "left" else "r")
    return size, "".join(spec), wrapped, colsep


def _header_cell(text: str, width: float, align: str, wrapped: bool) -> str:
    """A header wider than its column breaks into stacked lines (a nested tabular)."""
    words = str(text).split()
    if wrapped or em(text) <= width or len(words) < 2:
        return inline(text)
    lines: list[str] = []
    for w in words:
        if lines and em(lines[-1] + " " + w) <= width:
            lines[-1] += " " + w
        else:
            lines.append(w)
    col = "l" if align == "left" else "r"
    rows = " \\\\ ".join(inline(line) for line in lines)
    return f"\\begin{{tabular}}[b]{{@{{}}{col}@{{}}}}{rows}\\end{{tabular}}"
