"""A tiny document model rendered twice: Markdown (beside its figures) and one HTML file.

The report is assembled once as a list of blocks; `number` gives figures and tables their
numbers, `to_markdown` links figures by relative path, `to_html` embeds them as base64 (as
palette PNGs, an image repeated later is embedded once and referenced) so the single file
opens anywhere. Other renderers (PDF, LaTeX) take the same blocks and helpers: `slugs`,
`alignments`, `figure_bytes`.

Inline text knows two marks, the same in every format: **bold** and `code`. Everything else
is text: both renderers escape HTML (`<`, `>`, `&`), and Markdown also escapes `[`, `]` and
backslashes, so a run, title or class name cannot inject markup or links.

Every figure must lie inside the `root` folder given to the renderer (the experiment folder),
checked after resolving links; anything else is refused with one line (`records.confined`).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from scratchlab.experiments.records import png_bytes


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Para:
    text: str  # inline text: **bold** and `code`


@dataclass
class Bullets:
    items: list[str]  # one inline text per item


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""
    highlight: set[int] = field(default_factory=set)  # row indices to emphasise
    number: int | None = None  # set by `number`


@dataclass
class Figure:
    path: Path  # a PNG inside the renderer's root folder
    caption: str
    number: int | None = None  # set by `number`


@dataclass
class Code:
    text: str


@dataclass
class Contents:
    """The list of sections (headings of level 2 and 3 that follow), with links."""

    title: str = "Contents"


Block = Heading | Para | Bullets | Table | Figure | Code | Contents


def number(blocks: list[Block]) -> list[Block]:
    """Number figures and captioned tables in order of appearance (1, 2, ...); returns blocks."""
    n_fig = n_tab = 0
    for b in blocks:
        if isinstance(b, Figure):
            n_fig += 1
            b.number = n_fig
        elif isinstance(b, Table) and b.caption:
            n_tab += 1
            b.number = n_tab
    return blocks


def label(b: Table | Figure) -> str:
    """`Figure 3` / `Table 2` (empty when unnumbered)."""
    if b.number is None:
        return ""
    return f"{'Figure' if isinstance(b, Figure) else 'Table'} {b.number}"


def slug(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def slugs(blocks: list[Block]) -> dict[int, str]:
    """Block index -> unique anchor for every heading (`x`, `x-1`, `x-2` as on GitHub)."""
    seen: dict[str, int] = {}
    out = {}
    for i, b in enumerate(blocks):
        if isinstance(b, Heading):
            base = slug(b.text) or "section"
            count = seen.get(base, 0)
            seen[base] = count + 1
            out[i] = base if count == 0 else f"{base}-{count}"
    return out


_NUMERIC = re.compile(r"^[★≈+−\-–]?\s*[+−\-]?[\d.,]+\s*(%|s|points?)?(\s*[±\[(].*)?$")


def alignments(table: Table) -> list[str]:
    """ "right" for columns whose filled cells are all numbers (12.3 %, −0.5 [..]), else "left"."""
    out = []
    for j in range(len(table.header)):
        cells = [str(r[j]).strip() for r in table.rows if j < len(r)]
        filled = [c for c in cells if c and c not in ("–", "-", "n/a", "baseline")]
        numeric = bool(filled) and all(_NUMERIC.match(c) for c in filled)
        out.append("right" if numeric else "left")
    return out


def figure_bytes(b: Figure, root: Path) -> bytes:
    """The figure's PNG bytes (confined to `root`), as a compact palette PNG."""
    from scratchlab.plots import compact_png

    path = Path(b.path)
    rel = path.relative_to(root) if path.is_absolute() and path.is_relative_to(root) else path
    return compact_png(png_bytes(root, rel, f"figure {b.caption[:40]!r}"))


# -- Markdown -----------------------------------------------------------------------------
def md_text(text: str) -> str:
    """Inline text for Markdown, safe to render: **bold** and `code` are kept; a `<` that
    could open an HTML tag, comment or autolink (`<x`, `</`, `<!`, `<?`) becomes `&lt;`; and
    when the text could form a link (`](`, `][`, `]:`), brackets and backslashes are escaped.
    A `<` followed by a space or digit (p < 0.001) cannot start markup and stays as it is."""
    text = _TAG_START.sub("&lt;", str(text).replace("\r", " "))
    if _LINK.search(text):
        text = text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return text


_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_LINK = re.compile(r"\][(\[:]")


def _md_cell(text: str) -> str:
    return md_text(str(text).replace("\n", " ")).replace("|", "\\|")


def to_markdown(blocks: list[Block], base: Path, root: Path | None = None) -> str:
    """Markdown with figures linked relative to `base` (the folder report.md is written in)."""
    base = Path(base).resolve()
    root = Path(root).resolve() if root else base
    anchors = slugs(blocks)
    out: list[str] = []
    for i, b in enumerate(blocks):
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {md_text(b.text.replace(chr(10), ' '))}")
        elif isinstance(b, Para):
            out.append(md_text(b.text))
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {md_text(item)}" for item in b.items))
        elif isinstance(b, Table):
            out.append(_md_table(b))
        elif isinstance(b, Figure):
            out.append(_md_figure(b, base, root))
        elif isinstance(b, Code):
            out.append("```\n" + b.text.rstrip().replace("```", "'''") + "\n```")
        elif isinstance(b, Contents):
            out.append(f"**{md_text(b.title)}**\n\n" + _md_contents(blocks, anchors, i))
    return "\n\n".join(out) + "\n"


def _md_table(b: Table) -> str:
    rule = {"left": ":---", "right": "---:"}
    lines = [
        "| " + " | ".join(_md_cell(h) for h in b.header) + " |",
        "| " + " | ".join(rule[a] for a in alignments(b)) + " |",
    ]
    for i, row in enumerate(b.rows):
        cells = [_md_cell(c) for c in row]
        if i in b.highlight:
            cells = [f"**{c}**" if c else c for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    if b.caption:
        head = f"**{label(b)}.** " if b.number else ""
        lines.insert(0, f"{head}*{md_text(b.caption)}*\n")
    return "\n".join(lines)


def _md_figure(b: Figure, base: Path, root: Path) -> str:
    path = Path(b.path)
    rel_root = path.relative_to(root) if path.is_absolute() and path.is_relative_to(root) else path
    resolved = png_path(root, rel_root, b.caption)
    rel = Path(resolved).relative_to(base) if resolved.is_relative_to(base) else resolved.name
    link = urllib.parse.quote(Path(rel).as_posix())
    name = label(b) or "figure"
    head = f"**{name}.** " if b.number else ""
    return f"![{name}]({link})\n\n{head}*{md_text(b.caption)}*"


def png_path(root: Path, rel: Path, caption: str) -> Path:
    """The resolved path of a figure inside `root` (checked like the HTML embedding)."""
    from scratchlab.experiments.records import confined

    png_bytes(root, rel, f"figure {caption[:40]!r}")
    return confined(root, rel, f"figure {caption[:40]!r}")


def _md_contents(blocks: list[Block], anchors: dict[int, str], start: int) -> str:
    lines = []
    for i, b in enumerate(blocks[start + 1 :], start + 1):
        if isinstance(b, Heading) and b.level in (2, 3):
            indent = "  " * (b.level - 2)
            lines.append(f"{indent}- [{md_text(b.text)}](#{anchors[i]})")
    return "\n".join(lines)


# -- HTML ---------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #345;padding-bottom:.3em}
h2{margin-top:2em;border-bottom:1px solid #ccc}
h3{margin-top:1.6em;color:#234}
nav.toc{background:#f6f8fa;border:1px solid #dde;padding:.4em 1.2em;margin:1em 0}
nav.toc ol{margin:.2em 0;padding-left:1.4em}nav.toc>ol>li{margin:.15em 0}
nav.toc ol ol{columns:3;font-size:.9em}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:.8em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right;white-space:nowrap}
th{background:#eef2f6;white-space:normal;vertical-align:bottom}
th.l,td.l{text-align:left}
td.l:not(:first-child){white-space:normal;min-width:8em}
tr.best td{background:#fff4c2;font-weight:600}
.tbl{margin:1em 0}.tbl table{margin-top:.2em}
p.cap{margin:.2em 0;max-width:60em}
figure{margin:1em 0}
figure img{max-width:100%;border:1px solid #ddd}
figcaption,p.cap{font-size:.9em;color:#444}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.85em}
li{margin:.2em 0}
"""


def to_html(blocks: list[Block], title: str, root: Path | None = None) -> str:
    """One self-contained HTML page; figures must lie inside `root` (required with figures)."""
    anchors = slugs(blocks)
    seen: dict[str, str] = {}  # sha256 of an embedded image -> the label it was shown under
    body: list[str] = []
    for i, b in enumerate(blocks):
        if isinstance(b, Heading):
            body.append(f'<h{b.level} id="{anchors[i]}">{_inline(b.text)}</h{b.level}>')
        elif isinstance(b, Para):
            body.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            body.append("<ul>" + "".join(f"<li>{_inline(t)}</li>" for t in b.items) + "</ul>")
        elif isinstance(b, Table):
            body.append(_html_table(b))
        elif isinstance(b, Figure):
            if root is None:
                raise ValueError("to_html needs root= (the folder figures must lie in)")
            body.append(_html_figure(b, Path(root).resolve(), seen))
        elif isinstance(b, Code):
            body.append(f"<pre>{html.escape(b.text)}</pre>")
        elif isinstance(b, Contents):
            body.append(_html_contents(blocks, anchors, i, b.title))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _html_table(b: Table) -> str:
    align = [' class="l"' if a == "left" else "" for a in alignments(b)]
    head = "".join(f"<th{a}>{_inline(h)}</th>" for h, a in zip(b.header, align, strict=False))
    rows = []
    for i, row in enumerate(b.rows):
        cls = ' class="best"' if i in b.highlight else ""
        cells = "".join(f"<td{a}>{_inline(str(c))}</td>" for c, a in zip(row, align, strict=False))
        rows.append(f"<tr{cls}>{cells}</tr>")
    cap = ""
    if b.caption:
        head_label = f"<b>{label(b)}.</b> " if b.number else ""
        cap = f'<p class="cap">{head_label}{_inline(b.caption)}</p>'
    anchor = f' id="tab-{b.number}"' if b.number else ""
    return (
        f'<div class="tbl"{anchor}>{cap}<div class="scroll"><table><thead><tr>{head}</tr>'
        f"</thead>{''.join(rows)}</table></div></div>"
    )


def _html_figure(b: Figure, root: Path, seen: dict[str, str]) -> str:
    data = figure_bytes(b, root)
    name = label(b) or "Figure"
    caption = _inline(b.caption)
    if b.number:
        caption = f"<b>{html.escape(name)}.</b> {caption}"
    anchor = f' id="fig-{b.number}"' if b.number else ""
    key = hashlib.sha256(data).hexdigest()
    if key in seen:
        return (
            f"<figure{anchor}><p>(The same image as {html.escape(seen[key])} above.)</p>"
            f"<figcaption>{caption}</figcaption></figure>"
        )
    seen[key] = name
    src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return (
        f'<figure{anchor}><img alt="{html.escape(name)}" src="{src}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _html_contents(blocks: list[Block], anchors: dict[int, str], start: int, title: str) -> str:
    parts, open_sub = [], False
    for i, b in enumerate(blocks[start + 1 :], start + 1):
        if not isinstance(b, Heading) or b.level not in (2, 3):
            continue
        link = f'<a href="#{anchors[i]}">{_inline(b.text)}</a>'
        if b.level == 2:
            parts.append(("</ol></li>" if open_sub else "</li>" if parts else "") + f"<li>{link}")
            open_sub = False
        else:
            parts.append(("" if open_sub else "<ol>") + f"<li>{link}</li>")
            open_sub = True
    if parts:
        parts.append("</ol></li>" if open_sub else "</li>")
    return f'<nav class="toc"><b>{html.escape(title)}</b><ol>{"".join(parts)}</ol></nav>'


def _inline(text: str) -> str:
    """Escape, then render **bold** and `code` spans."""
    escaped = html.escape(text)
    parts = escaped.split("**")
    escaped = "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))
    parts = escaped.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
