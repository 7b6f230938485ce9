"""A tiny document model rendered twice: Markdown (beside its figures) and one HTML file.

The report is assembled once as a list of blocks; `to_markdown` links figures by relative
path, `to_html` embeds them as base64 so the single file opens anywhere.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Para:
    text: str  # plain text; **bold** is rendered in both formats


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""
    highlight: set[int] = field(default_factory=set)  # row indices to emphasise


@dataclass
class Figure:
    path: Path  # absolute path to a PNG
    caption: str


@dataclass
class Code:
    text: str


Block = Heading | Para | Table | Figure | Code


def to_markdown(blocks: list[Block], base: Path) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {b.text}")
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Table):
            rows = [
                [f"**{c}**" if i in b.highlight and c else c for c in row]
                for i, row in enumerate(b.rows)
            ]
            lines = [_md_row(b.header), _md_row(["---"] * len(b.header))]
            lines += [_md_row(r) for r in rows]
            if b.caption:
                lines.insert(0, f"*{b.caption}*\n")
            out.append("\n".join(lines))
        elif isinstance(b, Figure):
            rel = Path(b.path).relative_to(base).as_posix()
            out.append(f"![{b.caption}]({rel})\n\n*{b.caption}*")
        elif isinstance(b, Code):
            out.append(f"```\n{b.text.rstrip()}\n```")
    return "\n\n".join(out) + "\n"


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #345;padding-bottom:.3em}
h2{margin-top:2em;border-bottom:1px solid #ccc}
h3{margin-top:1.6em;color:#234}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:.8em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right;white-space:nowrap}
th{background:#eef2f6}
td:first-child,th:first-child{text-align:left}
tr.best td{background:#fff4c2;font-weight:600}
caption{caption-side:top;text-align:left;font-style:italic;padding:.2em 0;white-space:normal}
figure{margin:1em 0}
figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.9em;color:#555}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.85em}
"""


def to_html(blocks: list[Block], title: str) -> str:
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            anchor = "".join(ch if ch.isalnum() else "-" for ch in b.text.lower())
            body.append(f'<h{b.level} id="{anchor}">{_inline(b.text)}</h{b.level}>')
        elif isinstance(b, Para):
            body.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.header)
            rows = []
            for i, row in enumerate(b.rows):
                cls = ' class="best"' if i in b.highlight else ""
                cells = "".join(f"<td>{_inline(str(c))}</td>" for c in row)
                rows.append(f"<tr{cls}>{cells}</tr>")
            cap = f"<caption>{html.escape(b.caption)}</caption>" if b.caption else ""
            body.append(
                f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead>'
                f"{''.join(rows)}</table></div>"
            )
        elif isinstance(b, Figure):
            data = base64.b64encode(Path(b.path).read_bytes()).decode("ascii")
            body.append(
                f'<figure><img alt="{html.escape(b.caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(b.caption)}</figcaption></figure>"
            )
        elif isinstance(b, Code):
            body.append(f"<pre>{html.escape(b.text)}</pre>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _inline(text: str) -> str:
    """Escape, then render **bold** and `code` spans."""
    escaped = html.escape(text)
    parts = escaped.split("**")
    escaped = "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))
    parts = escaped.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
