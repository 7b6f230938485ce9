"""The report's formats: which files `build_report` writes from one list of blocks.

    md      report.md     Markdown beside its figures (relative links)   document.to_markdown
    html    report.html   one self-contained page (figures embedded)      document.to_html
    pdf     report.pdf    the HTML page typeset for A4 (WeasyPrint)       render_pdf.to_pdf
    latex   report.tex    a pdfLaTeX document linking the PNGs            render_latex.to_latex

`scratchlab run` writes md + html; `scratchlab report DIR --format pdf,latex` any of them.
`parse` turns the CLI's values into a tuple; `check` fails before anything is written when
a format cannot be made here (no PDF library); `write` writes each file atomically
(`scratchlab.io`) and returns the paths in the order asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from scratchlab.errors import ConfigError
from scratchlab.experiments import render_latex, render_pdf
from scratchlab.experiments.document import Block, to_html, to_markdown
from scratchlab.io import atomic_open, write_text

FILES = {"md": "report.md", "html": "report.html", "pdf": "report.pdf", "latex": "report.tex"}
FORMATS = tuple(FILES)
DEFAULT = ("md", "html")
_ALIASES = {"markdown": "md", "tex": "latex", "htm": "html"}


def parse(values: Iterable[str] | None) -> tuple[str, ...]:
    """`["pdf,latex", "md"]` → ("pdf", "latex", "md"): repeated or comma-separated, each
    once, in the order given; None or nothing → `DEFAULT`."""
    out: list[str] = []
    for value in values or ():
        for item in str(value).split(","):
            name = _ALIASES.get(item.strip().lower(), item.strip().lower())
            if name not in FILES:
                raise ConfigError(
                    f"unknown report format {item.strip()!r}; choose from "
                    f"{', '.join(FORMATS)} (repeat --format or separate with commas)"
                )
            if name not in out:
                out.append(name)
    return tuple(out) or DEFAULT


def check(formats: Sequence[str]) -> None:
    """One ConfigError/ScratchlabError line if a format is unknown or cannot be made here."""
    unknown = [f for f in formats if f not in FILES]
    if unknown:
        raise ConfigError(f"unknown report format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    if "pdf" in formats:
        render_pdf.available()


def write(blocks: list[Block], title: str, exp_dir: Path, formats: Sequence[str]) -> tuple:
    """Write the report in each format into `exp_dir`; return the paths in `formats` order."""
    exp_dir = Path(exp_dir)
    page: str | None = None
    paths = []
    for fmt in formats:
        path = exp_dir / FILES[fmt]
        if fmt == "md":
            write_text(path, to_markdown(blocks, exp_dir, root=exp_dir))
        elif fmt == "latex":
            write_text(path, render_latex.to_latex(blocks, exp_dir, root=exp_dir))
        else:
            page = page or to_html(blocks, title, root=exp_dir)
            if fmt == "html":
                write_text(path, page)
            else:
                data = render_pdf.to_pdf(page)
                with atomic_open(path, "wb") as handle:
                    handle.write(data)
        paths.append(path)
    return tuple(paths)
