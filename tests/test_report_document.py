"""The document model: numbering, anchors, alignment, escaping, image embedding."""

from __future__ import annotations

import pytest
from reportfixtures import tiny_png

from scratchlab.experiments.document import (
    Bullets,
    Contents,
    Figure,
    Heading,
    Para,
    Table,
    alignments,
    md_text,
    number,
    slugs,
    to_html,
    to_markdown,
)


def test_figures_and_captioned_tables_are_numbered_in_order(tmp_path):
    blocks = number(
        [
            Table(["a"], [["1"]], "first"),
            Table(["a"], [["1"]]),  # no caption: no number
            Figure(tmp_path / "x.png", "f"),
            Table(["a"], [["1"]], "second"),
        ]
    )
    assert [getattr(b, "number", None) for b in blocks] == [1, None, 1, 2]


def test_heading_anchors_are_unique_github_slugs():
    blocks = [Heading("Run `a.b`", 3), Heading("Run `a.b`", 3), Heading("Findings", 2)]
    assert slugs(blocks) == {0: "run-ab", 1: "run-ab-1", 2: "findings"}


def test_numbers_right_aligned_text_left():
    t = Table(
        ["run", "acc", "Δ", "status", "η"],
        [
            ["a", "38.1 % [35.0, 41.3]", "+1.2 [−0.5, +2.9]", "completed", "0.001"],
            ["★ b", "–", "baseline", "diverged", "0.1"],
        ],
    )
    assert alignments(t) == ["left", "right", "right", "left", "right"]


def test_markdown_text_escapes_tags_and_links_but_keeps_readable_text():
    assert md_text("p < 0.001 and a & b") == "p < 0.001 and a & b"
    assert md_text("<script>x</script>") == "&lt;script>x&lt;/script>"
    assert md_text("<!-- x -->") == "&lt;!-- x -->"
    assert md_text("[a](javascript:x)") == "\\[a\\](javascript:x)"
    assert md_text("[95 %]") == "[95 %]"  # cannot form a link: left alone


def test_markdown_contents_links_every_section(tmp_path):
    md = to_markdown(
        [
            Heading("T", 1),
            Contents(),
            Heading("Setup", 2),
            Heading("Run `x`", 3),
            Bullets(["one", "<b>two</b>"]),
        ],
        tmp_path,
    )
    assert "- [Setup](#setup)\n  - [Run `x`](#run-x)" in md
    assert "- &lt;b>two&lt;/b>" in md


def test_html_escapes_everything_and_renders_bold_and_code(tmp_path):
    html = to_html(
        [Para("**bold** `code` <i>no</i>"), Table(["<h>"], [["<c>"]], "<cap>")],
        "<title>",
        root=tmp_path,
    )
    assert "<strong>bold</strong> <code>code</code> &lt;i&gt;no&lt;/i&gt;" in html
    assert '<th class="l">&lt;h&gt;</th>' in html and "&lt;cap&gt;" in html
    assert "<title>&lt;title&gt;</title>" in html


def test_a_repeated_image_is_embedded_once(tmp_path):
    a = tiny_png(tmp_path / "a.png")
    b = tiny_png(tmp_path / "b.png")  # same pixels, another file
    c = tiny_png(tmp_path / "c.png", colour=(0, 0, 255))
    html = to_html(number([Figure(a, "A"), Figure(b, "B"), Figure(c, "C")]), "t", root=tmp_path)
    assert html.count("data:image/png;base64,") == 2
    assert "The same image as Figure 1 above." in html


def test_html_with_figures_needs_a_root(tmp_path):
    with pytest.raises(ValueError, match="root"):
        to_html([Figure(tiny_png(tmp_path / "a.png"), "A")], "t")


def test_differences_print_with_real_signs_and_no_negative_zero():
    from scratchlab.experiments.stats import Interval
    from scratchlab.experiments.textfmt import pts_ci, signed

    assert signed(1.25) == "+1.2" and signed(-0.5) == "−0.5" and signed(-0.04) == "0.0"
    assert pts_ci(Interval(0.0, -0.0004, 0.0004)) == "0.0 [0.0, 0.0]"
    assert pts_ci(Interval(-0.012, -0.03, 0.001)) == "−1.2 [−3.0, +0.1]"
