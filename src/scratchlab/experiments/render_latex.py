"""The report as one LaTeX file (`report.tex`) that compiles unchanged in its folder.

The same blocks as report.md / report.html (`document.py`), rendered for pdfLaTeX:

    Heading 1      \\title + \\maketitle (later ones: \\section*)
    Heading 2/3/4  \\section / \\subsection / \\subsubsection (bookmarks via \\texorpdfstring)
    Contents       \\tableofcontents (filled on the second pdflatex pass, as usual)
    Para, Bullets  text, itemize
    Table          longtable with booktabs rules, its header repeated on every page, sized
                   to fit the text width (`latex_tables`)
    Figure         figure[H] with \\includegraphics of the PNG by its path relative to the
                   .tex, so the folder compiles as it is; scaled as in report.html (a
                   1200-pixel-wide image spans the text width, none taller than 45 % of it)
    Code           alltt (spaces kept, specials escaped)

Figures and tables keep the numbers `document.number` gave them (the counters are set before
each caption), so "Table 3" means the same table in every format. Every piece of text goes
through `latex_text` (no character of a run, class or caption is LaTeX markup). Figures must
lie inside `root`; a path LaTeX cannot name literally is refused with one line.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from scratchlab.errors import ScratchlabError
from scratchlab.experiments import latex_tables
from scratchlab.experiments.document import (
    Block,
    Bullets,
    Code,
    Contents,
    Figure,
    Heading,
    Para,
    Table,
    png_path,
)
from scratchlab.experiments.latex_text import alltt, bookmark, escape, inline
from scratchlab.experiments.records import png_bytes

PREAMBLE = r"""\documentclass[a4paper,10pt]{article}
% Written by scratchlab; compile with: pdflatex report.tex (twice, for the contents) or
% latexmk -pdf report.tex. Needs: geometry, lmodern, amssymb, graphicx, booktabs,
% longtable, array, float, alltt, caption, hyperref (all in TeX Live's latex-recommended).
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage{lmodern}
\usepackage[a4paper,margin=2cm]{geometry}
\usepackage{amssymb}
\usepackage{graphicx}
\usepackage{booktabs}
\usepackage{longtable}
\usepackage{array}
\usepackage{float}
\usepackage{alltt}
\usepackage[font=small,labelfont=bf,skip=4pt]{caption}
\usepackage[hidelinks]{hyperref}
\setcounter{tocdepth}{2}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.6\baselineskip}
\setlength{\emergencystretch}{3em}
\setlength{\LTpre}{0.5\baselineskip}
\setlength{\LTpost}{0.5\baselineskip}
% \needlines{h}: a new page unless h is left (keeps a heading with what follows it)
\newcommand{\needlines}[1]{\par\penalty-100\begingroup\dimen0=\pagegoal
  \advance\dimen0 by -\pagetotal\ifdim\dimen0<#1\relax\ifdim\dimen0>0pt\vfil\fi
  \break\fi\endgroup}
"""

FULL_WIDTH_PX = 1200  # report.html's page width: an image this wide spans the text width
MIN_WIDTH = 0.25  # of the text width, for the smallest images
_SECTIONS = {2: "section", 3: "subsection", 4: "subsubsection"}
_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./=,+-]+$")


def to_latex(blocks: list[Block], base: Path, root: Path | None = None) -> str:
    """The whole .tex document; figures linked relative to `base` (where it is written) and
    confined to `root` (default `base`)."""
    base = Path(base).resolve()
    root = Path(root).resolve() if root else base
    body: list[str] = []
    titled = False
    for b in blocks:
        if isinstance(b, Heading):
            body.append(_heading(b, titled))
            titled = titled or b.level == 1
        elif isinstance(b, Para):
            body.append(inline(b.text))
        elif isinstance(b, Bullets):
            items = "\n".join(r"  \item " + inline(t) for t in b.items)
            body.append(
                "\\begin{itemize}\\setlength{\\itemsep}{0pt}\n" + items + "\n\\end{itemize}"
            )
        elif isinstance(b, Table):
            body.append(latex_tables.table(b))
        elif isinstance(b, Figure):
            body.append(_figure(b, base, root))
        elif isinstance(b, Code):
            body.append(_code(b.text))
        elif isinstance(b, Contents):
            body.append(r"\renewcommand{\contentsname}{" + escape(b.title) + "}\n\\tableofcontents")
    return PREAMBLE + "\n\\begin{document}\n\n" + "\n\n".join(body) + "\n\n\\end{document}\n"


def _heading(b: Heading, titled: bool) -> str:
    text = inline(b.text)
    if b.level == 1 and not titled:
        return "\\title{" + text + "}\n\\author{}\n\\date{}\n\\maketitle"
    if b.level == 1:
        return "\\section*{" + text + "}"
    command = _SECTIONS.get(b.level, "paragraph")
    if text != bookmark(b.text):
        text = f"\\texorpdfstring{{{text}}}{{{bookmark(b.text)}}}"
    keep = "\\needlines{0.2\\textheight}\n" if b.level <= 4 else ""
    return f"{keep}\\{command}{{{text}}}"


def _code(text: str) -> str:
    return "{\\footnotesize\n\\begin{alltt}\n" + alltt(text.rstrip()) + "\n\\end{alltt}\n}"


# -- figures ------------------------------------------------------------------------------
def _figure(b: Figure, base: Path, root: Path) -> str:
    path = Path(b.path)
    rel_root = path.relative_to(root) if path.is_absolute() and path.is_relative_to(root) else path
    resolved = png_path(root, rel_root, b.caption)
    if not resolved.is_relative_to(base):
        raise ScratchlabError(
            f"cannot link figure {str(rel_root)!r} from report.tex: it lies outside {base.name}/"
        )
    rel = resolved.relative_to(base).as_posix()
    if not _SAFE_PATH.match(rel):
        raise ScratchlabError(
            f"cannot name figure {rel!r} in LaTeX (use letters, digits and _ . = , + - only); "
            "rename the file or run, or use --format md,html"
        )
    frac = min(1.0, max(MIN_WIDTH, _png_width(root, rel_root, b.caption) / FULL_WIDTH_PX))
    lines = [
        "\\begin{figure}[H]",
        "\\centering",
        f"\\includegraphics[width={frac:.2f}\\linewidth,height=0.45\\textheight,"
        f"keepaspectratio]{{{rel}}}",
    ]
    if b.number:
        lines.append(f"\\setcounter{{figure}}{{{b.number - 1}}}")
    lines += [f"\\caption{{{inline(b.caption)}}}", "\\end{figure}"]
    return "\n".join(lines)


def _png_width(root: Path, rel: Path, caption: str) -> int:
    """The image's width in pixels (the PNG's IHDR chunk: bytes 16–19, big-endian)."""
    data = png_bytes(root, rel, f"figure {caption[:40]!r}")
    return struct.unpack(">I", data[16:20])[0]
