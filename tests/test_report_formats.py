"""Hand-in formats (issue 12, item 7): `scratchlab report DIR --format pdf,latex`.

report.tex: every character of a name, caption or class is text, never markup; tables are
booktabs longtables, figures link the PNGs by relative path, numbers match report.md; with
pdflatex installed it compiles unchanged (and pdftotext reads the hostile names back).
report.pdf: WeasyPrint's A4 typesetting of report.html; it fetches nothing but data: URIs.
The CLI: formats repeated or comma-separated; errors are one line, exit 2, nothing written.
"""

from __future__ import annotations

import ctypes.util
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reportfixtures import (
    CLASSES,
    Lab,
    a1_lab,
    bonus_lab,
    curve,
    draw_run_figures,
    set_figures,
    tiny_png,
)
from runhelpers import DIGITS, assert_one_error_line, experiment, no_figures  # noqa: F401

from scratchlab.cli import main
from scratchlab.errors import ConfigError, ScratchlabError
from scratchlab.experiments import render_pdf, report_formats
from scratchlab.experiments.document import Figure, Heading, Table, number, to_html
from scratchlab.experiments.latex_text import escape, inline
from scratchlab.experiments.render_latex import to_latex
from scratchlab.experiments.report import build_report

# WeasyPrint loads Pango when imported: where the library is missing, the PDF tests skip
# (the one-line errors for that case are tested below with a stand-in module).
needs_pango = pytest.mark.skipif(
    ctypes.util.find_library("pangoft2-1.0") is None, reason="needs Pango (make syslibs)"
)
HOSTILE = r"a_b%c&d#e$f{g}h~i^j\k <l> |m| [n] *o* p--q ''r'' \end{document} ★≈±λ 中"
HOSTILE_CLASS = r"cat_&_dog 100% #1 $5 {x} ~y ^z \textbf{w}"
HOSTILE_RUN = "run_1=a,b+c--d"  # every character a run name may hold
PDFLATEX = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape"]


# -- escaping -----------------------------------------------------------------------------
_TOKEN = re.compile(
    r"\\text(backslash|asciitilde|asciicircum|less|greater|bar|quotedbl)\{\}"
    r"|\\([{}_%&#$])|\{([\[\]*])\}|\{\}|([^\\{}_%&#$~^<>|\"\[\]*])"
)
_DECODE = {
    "backslash": "\\",
    "asciitilde": "~",
    "asciicircum": "^",
    "less": "<",
    "greater": ">",
    "bar": "|",
    "quotedbl": '"',
}


def decode(tex: str) -> str:
    """Read escaped LaTeX back as the text it typesets; fails on any other markup."""
    out, pos = [], 0
    while pos < len(tex):
        m = _TOKEN.match(tex, pos)
        assert m, f"raw markup at {tex[pos : pos + 20]!r} in {tex!r}"
        command, special, braced, plain = m.groups()
        out.append(_DECODE.get(command) or special or braced or plain or "")
        pos = m.end()
    return "".join(out)


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126)))
def test_escape_typesets_any_ascii_text_as_written(text):
    assert decode(escape(text)) == text


def test_escape_every_special_and_ligature():
    assert escape(r"_%&#${}~^\ ") == (
        r"\_\%\&\#\$\{\}\textasciitilde{}\textasciicircum{}\textbackslash{} "
    )
    assert escape("[x]*") == "{[}x{]}{*}"  # never an optional argument or a starred \\
    assert escape("a--b ''c'' ,,d") == "a-{}-b '{}'c'{}' ,{},d"
    assert escape("line\nbreak\r\ttab\x00") == "line break tab "


def test_symbols_become_commands_and_the_rest_stays_compilable():
    out = escape("★ ≈ ± − λ η Δ · × x² W₁ … é ß ŷ 中")
    assert r"\ensuremath{\bigstar}" in out and r"\ensuremath{\lambda}" in out
    assert r"\ensuremath{\Delta}" in out and r"\textsuperscript{2}" in out
    assert "é" in out and "ß" in out and "ŷ" in out  # Latin letters: T1 + utf8 set them
    assert "{[}U+4E2D{]}" in out  # no glyph in pdfLaTeX's fonts: the code point, no error
    assert all(ord(c) < 128 or "\u00c0" <= c <= "\u017f" for c in out)
    # the lab files' own math (assignment3's batch norm: γ ⊙ x̂ + β)
    assert escape("γ ⊙ x") == r"\ensuremath{\gamma} \ensuremath{\odot} x"


def test_inline_marks_become_commands_and_braces_balance():
    assert inline("**Table 1.** run `a_b`") == r"\textbf{Table 1.} run \texttt{a\_\allowbreak{}b}"
    assert inline("open **bold `code") == r"open \textbf{bold \texttt{code}}"
    for text in (HOSTILE, HOSTILE_CLASS, "**`**`"):
        out = inline(text).replace(r"\{", "").replace(r"\}", "")
        depth = 0
        for ch in out:
            depth += {"{": 1, "}": -1}.get(ch, 0)
            assert depth >= 0
        assert depth == 0


# -- report.tex ---------------------------------------------------------------------------
def hostile_lab(path: Path) -> Lab:
    """Two runs (one with figures), hostile title, description, note, experiment and class
    names."""
    lab = Lab(path, name="exp_1%")
    names = [HOSTILE_CLASS, *CLASSES[1:]]
    rows = curve()
    figures = draw_run_figures(lab.dir / HOSTILE_RUN, rows)
    lab.run(HOSTILE_RUN, history=rows, val=(380, 932), class_names=names, figures=figures)
    lab.run("plain", history=rows, val=(330, 932), class_names=names)
    lab.write(title=f"Title {HOSTILE}", description=f"Setup {HOSTILE}", notes=[HOSTILE])
    return lab


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    lab = hostile_lab(tmp_path_factory.mktemp("hostile") / "lab")
    md, tex = build_report(lab.dir, ("md", "latex"))
    return lab, md.read_text(encoding="utf-8"), tex.read_text(encoding="utf-8")


def test_latex_writes_report_tex_only_and_atomically(hostile):
    lab, _, tex = hostile
    assert tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    assert tex.count(r"\begin{document}") == 1 and tex.count(r"\end{document}") == 1
    assert not list(lab.dir.glob(".*.tmp")) and not (lab.dir / "report.pdf").exists()


def test_hostile_names_appear_escaped_never_raw(hostile):
    _, _, tex = hostile
    assert escape(HOSTILE_CLASS) in tex  # in the per-class and confused-pairs tables
    assert escape(HOSTILE_RUN) in tex and escape(f"Title {HOSTILE}") in tex
    body = tex[tex.index(r"\begin{document}") :]
    for raw in (HOSTILE, HOSTILE_CLASS, r"\textbf{w}", "100%"):
        assert raw not in body
    assert not re.search(r"(?<!\\)(\$5|#1|\{x\})", body)


def test_tables_are_booktabs_and_numbers_match_the_markdown(hostile):
    _, md, tex = hostile
    tables = tex.count(r"\begin{longtable}")
    assert tables == tex.count(r"\toprule") // 2 == tex.count(r"\bottomrule") > 3
    specs = re.findall(r"\\begin\{longtable\}\{(.*)\}\n", tex)
    assert len(specs) == tables and not any("|" in s for s in specs)  # no vertical rules
    assert r"\hline" not in tex
    md_tables = [int(n) for n in re.findall(r"\*\*Table (\d+)\.\*\*", md)]
    tex_tables = [int(n) + 1 for n in re.findall(r"\\setcounter\{table\}\{(\d+)\}", tex)]
    assert tex_tables == md_tables and len(md_tables) > 3
    md_figures = [int(n) for n in re.findall(r"\*\*Figure (\d+)\.\*\*", md)]
    tex_figures = [int(n) + 1 for n in re.findall(r"\\setcounter\{figure\}\{(\d+)\}", tex)]
    assert tex_figures == md_figures and len(md_figures) >= 4


def test_figures_link_existing_pngs_by_relative_path(hostile):
    lab, _, tex = hostile
    paths = re.findall(r"\\includegraphics\[[^\]]*\]\{([^}]*)\}", tex)
    assert len(paths) == tex.count(r"\begin{figure}[H]") >= 4
    assert f"{HOSTILE_RUN}/figures/curves.png" in paths
    for rel in paths:
        assert not Path(rel).is_absolute() and ".." not in rel
        assert (lab.dir / rel).is_file()


def test_a_figure_outside_the_results_folder_is_refused(tmp_path):
    lab = Lab(tmp_path / "results" / "lab")
    lab.run("a")
    lab.write()
    tiny_png(tmp_path / "results" / "secret.png")
    set_figures(lab.dir / "a", {"curves": "../../secret.png"})
    with pytest.raises(ScratchlabError, match="outside a/"):
        build_report(lab.dir, ("latex",))
    assert not (lab.dir / "report.tex").exists()


def test_wide_tables_shrink_then_wrap_their_text_columns(tmp_path):
    tiny_png(tmp_path / "f.png")
    narrow = Table(["run", "acc"], [["a", "36.1 %"]], caption="narrow")
    wide = Table(
        ["run", "reading", *[f"acc {i}" for i in range(8)]],
        [["a", "overfitting: " + "the training accuracy is far above " * 3, *["36.1 %"] * 8]],
        caption="wide",
    )
    tex = to_latex(
        number([Heading("T", 1), narrow, wide, Figure(tmp_path / "f.png", "f")]), tmp_path
    )
    pattern = r"\{\\(small|footnotesize|scriptsize)\n.*?longtable\}\{@\{\}(.*?)@\{\}\}\n"
    (size1, spec1), (size2, spec2) = re.findall(pattern, tex, re.S)
    assert (size1, spec1) == ("small", "lr")
    assert (
        size2 == "scriptsize"
        and spec2.startswith(r"l>{\raggedright\arraybackslash}p{")
        and spec2.endswith("r" * 8)
    )
    assert r"\includegraphics[width=0.25\linewidth" in tex  # a 4-pixel PNG: the smallest width


needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex")


def compile_tex(folder: Path) -> str:
    """pdflatex report.tex twice (the second pass fills the contents); returns the log."""
    for _ in range(2):
        proc = subprocess.run(
            [*PDFLATEX, "report.tex"], cwd=folder, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stdout[-3000:]
    log = (folder / "report.log").read_text(errors="replace")
    assert "LaTeX Error" not in log and "Missing character" not in log
    return log


@needs_pdflatex
def test_report_tex_compiles_unchanged_and_reads_back(hostile, tmp_path):
    lab, _, _ = hostile
    folder = tmp_path / "copy"
    shutil.copytree(lab.dir, folder)
    compile_tex(folder)
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", "report.pdf", "-"], cwd=folder, capture_output=True
        ).stdout.decode("utf-8")
        flat = re.sub(r"\s+", " ", text)
        assert HOSTILE_CLASS in flat and HOSTILE_RUN in flat
        assert r"a_b%c&d#e$f{g}h~i^j\k" in flat and "[U+4E2D]" in flat


@needs_pdflatex
def test_wide_report_tables_fit_the_page(tmp_path):
    """The bonus shape (a baseline Δ column, an 18-point grid with long run names): every
    table fits the text width (the width estimate errs on the safe side)."""
    lab = bonus_lab(tmp_path / "bonus")
    lab.write()
    build_report(lab.dir, ("latex",))
    log = compile_tex(lab.dir)
    assert r"\scriptsize" in (lab.dir / "report.tex").read_text()  # some tables had to shrink
    assert not re.findall(r"Overfull \\hbox \([\d.]+pt too wide\) in alignment", log)


# -- report.pdf ---------------------------------------------------------------------------
def pdf_text(data: bytes) -> bytes:
    """The PDF's bytes with every zlib stream inflated (object streams hold the dicts)."""
    parts = [data]
    for m in re.finditer(rb"stream\r?\n", data):
        try:
            parts.append(zlib.decompressobj().decompress(data[m.end() :]))
        except zlib.error:
            pass
    return b"".join(parts)


def pdf_utf16(text: str) -> bytes:
    return b"<feff" + text.encode("utf-16-be").hex().encode() + b">"


@pytest.fixture(scope="module")
def a1_pdf(tmp_path_factory):
    lab = a1_lab(tmp_path_factory.mktemp("a1") / "a1")
    run = lab.dir / "lambda0-eta0.001"
    set_figures(run, draw_run_figures(run, curve()))
    lab.write(title="Assignment_1 & co")
    (pdf,) = build_report(lab.dir, ("pdf",))
    return lab, pdf


@needs_pango
def test_pdf_is_a4_pages_with_figures_bookmarks_and_title(a1_pdf):
    lab, pdf = a1_pdf
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and not (lab.dir / "report.html").exists()
    inner = pdf_text(data)
    pages = re.findall(rb"/Type\s*/Page\b", inner)
    assert len(pages) >= 3
    assert re.search(rb"/MediaBox\s*\[\s*0\s+0\s+595\.\d*\s+841\.\d*", inner)  # A4 in points
    assert len(re.findall(rb"/Subtype\s*/Image", inner)) >= 4
    for heading in (b"(Setup)", b"(Results)", b"(Findings)", b"(Runs)"):
        assert heading in inner  # bookmarks from the headings
    assert pdf_utf16("Assignment_1 & co") in inner or b"(Assignment_1 & co)" in inner


@needs_pango
def test_pdf_fetches_only_data_uris(tmp_path):
    png = tiny_png(tmp_path / "outside.png")
    page = to_html([Heading("x", 1)], "x", root=tmp_path)
    file_page = page.replace("</body>", f'<img src="{png.as_uri()}"></body>')
    assert file_page != page
    assert not re.search(rb"/Subtype\s*/Image", pdf_text(render_pdf.to_pdf(file_page)))
    figure = [Heading("x", 1), Figure(png, "a figure inside the folder")]
    inside = to_html(number(figure), "x", root=tmp_path)
    assert re.search(rb"/Subtype\s*/Image", pdf_text(render_pdf.to_pdf(inside)))


def test_without_weasyprint_pdf_is_one_line_and_nothing_is_written(tmp_path, monkeypatch, capsys):
    lab = Lab(tmp_path / "lab")
    lab.run("a")
    lab.write()
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import fails as if not installed
    assert main(["report", str(lab.dir), "--format", "md,pdf"]) == 2
    assert_one_error_line(capsys.readouterr().err, "WeasyPrint", "pip install weasyprint")
    assert not list(lab.dir.glob("report.*")) and not (lab.dir / "summary.csv").exists()


def test_without_pango_pdf_is_one_line(tmp_path, monkeypatch):
    fake = tmp_path / "site" / "weasyprint"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise OSError(\"cannot load library 'libpango-1.0-0': No such file\\nmore\")\n"
    )
    monkeypatch.delitem(sys.modules, "weasyprint", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(ScratchlabError) as exc:
        render_pdf.available()
    assert "\n" not in str(exc.value) and "libpango-1.0-0" in str(exc.value)
    assert "apt-get install libpango-1.0-0 libpangoft2-1.0-0" in str(exc.value)


# -- the CLI and the default ----------------------------------------------------------------
def test_formats_parse_repeated_and_comma_separated():
    assert report_formats.parse(None) == ("md", "html")
    assert report_formats.parse(["pdf, latex", "md", "PDF", "tex"]) == ("pdf", "latex", "md")
    with pytest.raises(ConfigError, match="unknown report format 'docx'; choose from"):
        report_formats.parse(["pdf,docx"])


def test_report_command_writes_the_formats_asked(hostile, tmp_path, capsys):
    lab, _, _ = hostile
    folder = tmp_path / "copy"
    shutil.copytree(lab.dir, folder, ignore=shutil.ignore_patterns("report.*"))
    assert main(["report", str(folder), "--format", "latex", "--format", "html"]) == 0
    out = capsys.readouterr().out
    assert out == f"Report: {folder / 'report.html'}\n        {folder / 'report.tex'}\n"
    assert sorted(p.name for p in folder.glob("report.*")) == ["report.html", "report.tex"]
    assert main(["report", str(folder)]) == 0  # the default: md and html, as before
    assert (folder / "report.md").is_file()


def test_an_unknown_format_is_one_line_and_writes_nothing(tmp_path, capsys):
    lab = Lab(tmp_path / "lab")
    lab.run("a")
    lab.write()
    assert main(["report", str(lab.dir), "--format", "html,docx"]) == 2
    assert_one_error_line(capsys.readouterr().err, "'docx'", "md, html, pdf, latex")
    assert not list(lab.dir.glob("report.*"))


@pytest.mark.usefixtures("no_figures")
def test_scratchlab_run_still_writes_md_and_html_only(tmp_path):
    from scratchlab.experiments.runner import run_experiment

    exp = experiment(tmp_path, DIGITS + '[[runs]]\nname = "a"\n')
    result = run_experiment(exp, tmp_path / "out")
    folder = result.report_html.parent
    assert sorted(p.name for p in folder.glob("report.*")) == ["report.html", "report.md"]
