"""The report embeds only files inside the run folder it renders, and escapes what it shows
(issue 11, item 4): hostile metrics.json, experiment.json and links are refused in one line."""

from __future__ import annotations

import json
import os

import pytest
from reportfixtures import Lab, set_figures, tiny_png

from scratchlab.errors import ScratchlabError
from scratchlab.experiments.report import build_report


@pytest.fixture
def lab(tmp_path):
    lab = Lab(tmp_path / "results" / "lab")
    lab.run("a")
    lab.write()
    return lab


def refused(lab: Lab, *needles: str) -> str:
    with pytest.raises(ScratchlabError) as exc:
        build_report(lab.dir)
    message = str(exc.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    assert not (lab.dir / "report.html").exists()
    return message


@pytest.mark.parametrize(
    "rel", ["../../secret.png", "../b/figures/curves.png", "figures/../../../secret.png"]
)
def test_a_figure_path_leading_out_of_the_run_folder_is_refused(lab, rel):
    tiny_png(lab.dir.parent / "secret.png")
    tiny_png(lab.dir / "b" / "figures" / "curves.png")
    set_figures(lab.dir / "a", {"curves": rel})
    refused(lab, "refusing", "outside a/", repr(rel))


def test_an_absolute_figure_path_is_refused(lab, tmp_path):
    target = tiny_png(tmp_path / "elsewhere.png")
    set_figures(lab.dir / "a", {"curves": str(target)})
    refused(lab, "outside a/")


def test_a_link_inside_the_run_folder_pointing_out_is_refused(lab, tmp_path):
    target = tiny_png(tmp_path / "elsewhere.png")
    (lab.dir / "a" / "figures").mkdir()
    os.symlink(target, lab.dir / "a" / "figures" / "curves.png")
    set_figures(lab.dir / "a", {"curves": "figures/curves.png"})
    refused(lab, "outside a/")


def test_a_file_that_is_not_a_png_is_refused(lab):
    (lab.dir / "a" / "notes.txt").write_text("private")
    set_figures(lab.dir / "a", {"curves": "notes.txt"})
    refused(lab, "not a PNG")


def test_a_png_inside_the_run_folder_is_embedded(lab):
    tiny_png(lab.dir / "a" / "figures" / "curves.png")
    set_figures(lab.dir / "a", {"curves": "figures/curves.png"})
    md, html = build_report(lab.dir)
    assert "data:image/png;base64," in html.read_text()
    assert "](a/figures/curves.png)" in md.read_text()


@pytest.mark.parametrize("name", ["../outside", "/etc", "a/../../x", ".hidden", ""])
def test_run_names_in_experiment_json_must_be_plain_folder_names(lab, name):
    meta = json.loads((lab.dir / "experiment.json").read_text())
    meta["runs"] = [name]
    (lab.dir / "experiment.json").write_text(json.dumps(meta))
    refused(lab, "not a run folder name")


def test_a_run_folder_linked_from_elsewhere_is_refused(tmp_path):
    lab = Lab(tmp_path / "lab")
    lab.run("a")
    other = Lab(tmp_path / "other")
    other.run("b")
    os.symlink(other.dir / "b", lab.dir / "b")
    lab.runs.append("b")
    lab.write()
    refused(lab, "outside lab/")


def test_a_figures_folder_linked_out_of_the_experiment_is_refused(lab, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", lab.dir / "figures")
    lab.run("b")  # two runs: the report draws its comparison chart
    lab.write()
    refused(lab, "outside lab/")
    assert not list((tmp_path / "elsewhere").iterdir())


def test_html_in_titles_descriptions_and_class_names_is_escaped_in_both_formats(tmp_path):
    lab = Lab(tmp_path / "lab")
    evil = ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "[x](javascript:alert(3))"]
    lab.run("a", class_names=evil + [f"c{k}" for k in range(7)])
    lab.run("b")
    lab.write(
        title="<b>Title</b> <script>alert(4)</script>",
        description="Setup <iframe src=//evil></iframe>",
        notes=["<svg onload=alert(5)>"],
    )
    md_path, html_path = build_report(lab.dir)
    md, html = md_path.read_text(), html_path.read_text()
    for text in (md, html):
        for tag in ("<script", "<img src=x", "<iframe", "<svg", "<b>Title"):
            assert tag not in text, tag
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script>alert(1)&lt;/script>" in md  # shows as text in any Markdown viewer
    assert "\\[x\\](javascript:alert(3))" in md  # no link
    assert "](javascript:" not in md.replace("\\](javascript:", "")
