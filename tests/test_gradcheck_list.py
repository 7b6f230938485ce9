"""The experiment's list of gradient checks: parsing, thresholds, gradcheck.json, the report.

Checks run on scikit-learn's digits (64 inputs, 10 classes): each takes a few hundredths of
a second, and `update_gradcheck` needs no trained run.
"""

from __future__ import annotations

import json
import math

import pytest
from runhelpers import DIGITS, experiment, no_figures  # noqa: F401

from scratchlab.cli import main
from scratchlab.errors import ConfigError
from scratchlab.experiments.checkspec import DEFAULTS, GradcheckSpec
from scratchlab.experiments.gradchecks import FILE, update_gradcheck
from scratchlab.experiments.report_checks import gradcheck_blocks
from scratchlab.experiments.runner import run_experiment

LIST = """
gradcheck = [
  { lambda = 0.0, n_samples = 1 },
  { lambda = 0.1, n_samples = 5, n_dims = 8 },
]
"""


def checks_of(exp_dir) -> list[dict]:
    return json.loads((exp_dir / FILE).read_text())["checks"]


# -- parsing ---------------------------------------------------------------------------------
def test_a_single_table_true_and_a_list_are_lists_of_checks(tmp_path):
    single = experiment(tmp_path, "gradcheck = { n_samples = 5, lambda = 0.0 }\n" + DIGITS)
    assert [g.n_samples for g in single.gradcheck] == [5]
    default = experiment(tmp_path, "gradcheck = true\n" + DIGITS)
    assert default.gradcheck == [GradcheckSpec()]
    assert default.gradcheck[0].tol == DEFAULTS["tol"] and default.gradcheck[0].atol is None
    assert experiment(tmp_path, "gradcheck = false\n" + DIGITS).gradcheck is None
    listed = experiment(tmp_path, LIST + DIGITS)
    assert [g.label for g in listed.gradcheck] == ["λ 0, 1 sample", "λ 0.1, 5 samples, 8 dims"]


def test_an_array_of_tables_is_a_list_too(tmp_path):
    body = '[[gradcheck]]\nname = "strict"\natol = 0\ntol = 1e-9\n[[gradcheck]]\nloss = "svm"\n'
    exp = experiment(tmp_path, body + DIGITS)
    assert [g.label for g in exp.gradcheck] == ["strict", "λ 0.1, 20 samples, SVM"]
    assert (exp.gradcheck[0].tol, exp.gradcheck[0].atol) == (1e-9, 0.0)


@pytest.mark.parametrize(
    ("line", "needles"),
    [
        ("gradcheck = [{ tol = 0 }]", ["gradcheck.0.tol", "greater than 0"]),
        ("gradcheck = [{}, { tol = nan }]", ["gradcheck.1.tol", "finite"]),
        ("gradcheck = { atol = -1e-9 }", ["gradcheck.atol", "greater than or equal to 0"]),
        ("gradcheck = [{ atol = inf }]", ["gradcheck.0.atol", "finite"]),
        ("gradcheck = [{ h = 0 }]", ["gradcheck.0.h", "greater than 0"]),
        ("gradcheck = [{ tl = 1e-6 }]", ["gradcheck.0.tl", "did you mean 'tol'?"]),
        ("gradcheck = [{ lambda = 0 }, { lambda = 0.0 }]", ["both named 'λ 0, 20 samples'"]),
        ('gradcheck = "yes"', ["gradcheck", "a list of tables"]),
    ],
)
def test_bad_checks_are_one_config_error_and_nothing_is_written(tmp_path, capsys, line, needles):
    path = tmp_path / "lab.toml"
    path.write_text(f'name = "lab"\n{line}\n{DIGITS}', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        experiment(tmp_path, f"{line}\n{DIGITS}")
    message = str(caught.value)
    assert "\n" not in message and all(n in message for n in needles), message
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    assert not out.exists()


def test_a_later_checks_size_is_checked_against_the_data(tmp_path):
    exp = experiment(tmp_path, "gradcheck = [{}, { n_samples = 5000 }]\n" + DIGITS)
    with pytest.raises(ConfigError, match=r"gradcheck\.1\.n_samples = 5000 exceeds the 1151"):
        run_experiment(exp, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -- gradcheck.json --------------------------------------------------------------------------
def test_a_changed_check_is_recomputed_and_a_removed_one_dropped(tmp_path):
    out = tmp_path / "out"
    update_gradcheck(experiment(tmp_path, LIST + "overfit = false\n" + DIGITS), out)
    doc = json.loads((out / FILE).read_text())
    for entry in doc["checks"]:
        entry["marker"] = entry["name"]  # survives only in an entry that is kept
    (out / FILE).write_text(json.dumps(doc))

    changed = LIST.replace("lambda = 0.1", "lambda = 0.2")
    update_gradcheck(experiment(tmp_path, changed + "overfit = false\n" + DIGITS), out)
    first, second = checks_of(out)
    assert first["marker"] == "λ 0, 1 sample"  # unchanged: kept
    assert "marker" not in second and second["lambda"] == 0.2  # changed: recomputed

    renamed = changed.replace("{ lambda = 0.0,", '{ name = "no penalty", lambda = 0.0,')
    update_gradcheck(experiment(tmp_path, renamed + "overfit = false\n" + DIGITS), out)
    assert [(c["name"], c.get("marker")) for c in checks_of(out)[:1]] == [
        ("no penalty", "λ 0, 1 sample")  # a new name alone relabels
    ]

    one = "gradcheck = [{ lambda = 0.0, n_samples = 1 }]\noverfit = false\n"
    update_gradcheck(experiment(tmp_path, one + DIGITS), out)
    assert [c["name"] for c in checks_of(out)] == ["λ 0, 1 sample"]
    update_gradcheck(experiment(tmp_path, DIGITS), out)
    assert not (out / FILE).exists()  # nothing asked: no stale file


def test_a_damaged_file_is_recomputed(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / FILE).write_text("{ not json")
    update_gradcheck(experiment(tmp_path, LIST + DIGITS), out)
    doc = json.loads((out / FILE).read_text())
    assert doc["format"] == 2 and len(doc["checks"]) == 2 and doc["overfit"]["reached"]


def test_thresholds_are_applied(tmp_path):
    """Same model and images: the default thresholds pass; a tiny tol alone leaves only
    round-off-level disagreements (counted at the floor, passing); with atol = 0 they fail."""
    body = """gradcheck = [
      { name = "default", lambda = 0.0 },
      { name = "tiny tol", lambda = 0.0, tol = 1e-12 },
      { name = "strict", lambda = 0.0, tol = 1e-12, atol = 0 },
    ]
    overfit = false
    """
    out = tmp_path / "out"
    update_gradcheck(experiment(tmp_path, body + DIGITS), out)
    default, tiny, strict = checks_of(out)
    assert all(r["status"] == "ok" and r["tol"] == 1e-6 for r in default["rows"])
    assert all(r["tol"] == 1e-12 and r["atol"] > 0 for r in tiny["rows"])
    assert sum(r["n_floor"] for r in tiny["rows"]) > 0
    assert all(r["status"] == "ok" for r in tiny["rows"])
    assert all(r["atol"] == 0 for r in strict["rows"])
    assert sum(r["n_fail"] for r in strict["rows"]) > 0
    summary = gradcheck_blocks([default, tiny, strict])[2]
    assert [row[-1] for row in summary.rows][:2] == ["pass", "pass"]
    assert summary.rows[2][-1].startswith("FAIL")


# -- the report reads the rows ---------------------------------------------------------------
def row(name: str, **kw) -> dict:
    base = dict(
        name=name,
        shape=[3, 2],
        n_checked=6,
        kinks=1,
        max_grad=0.5,
        max_abs_err=1e-11,
        max_rel_err=1e-8,
        share_ok=1.0,
        n_fail=0,
        n_floor=0,
        tol=1e-6,
        atol=5e-10,
        refined=0,
        n_nonfinite=0,
        status="ok",
    )
    return base | kw


def check(name: str, rows: list[dict], atol=None) -> dict:
    model = {"hidden": [4], "loss": "cross_entropy"}
    settings = {"lambda": 0.1, "n_samples": 20, "n_dims": 20, "h": 1e-5, "tol": 1e-6}
    return {"name": name, "model": model, **settings, "atol": atol, "rows": rows}


def test_counts_and_verdicts_are_computed_from_the_rows():
    failing = check(
        "bad",
        [
            row("Linear[0].W", n_fail=3, n_floor=2, max_rel_err=0.2, status="ok"),  # status lies
            row("Linear[0].b", n_checked=4, kinks=0),
        ],
    )
    # max |g_a| 1e-9 < 100 x atol: too small to tell from round-off, a failure without n_fail
    tiny = check("tiny", [row("Linear[0].W", max_grad=1e-9, atol=1e-10)], atol=1e-10)
    good = check("good", [row("Linear[0].W"), row("Linear[0].b", max_rel_err=3e-7)])
    blocks = gradcheck_blocks([failing, tiny, good])
    assert "**2 of 3 checks fail**: bad, tiny." in blocks[1].text
    summary, tensors = blocks[2], blocks[3]
    bad, small, ok = summary.rows
    # check, model and settings, tensors, entries, failed, floor, kinks, errors, thresholds, result
    assert bad[1] == "4, CE; λ 0.1, 20 × 20"
    assert bad[2:7] == ["2", "10", "3", "2", "1"]
    assert bad[7] == "2.0e-01 / 1.0e-11" and bad[-1] == "FAIL (3 entries)"
    assert small[-1] == "FAIL (Linear[0].W: too small)" and small[8] == "1e-06 / 1e-10"
    assert ok[2:7] == ["2", "12", "0", "0", "2"] and ok[-1] == "pass"
    assert ok[8] == "1e-06 / 5.0e-10 (floor)"
    assert [r[0] for r in tensors.rows] == ["bad", "", "tiny", "good", ""]
    assert tensors.rows[0][-1] == "FAIL (3)"


@pytest.mark.usefixtures("no_figures")
def test_the_report_has_both_sections(tmp_path):
    result = run_experiment(experiment(tmp_path, LIST + DIGITS), tmp_path / "out")
    text = result.report_md.read_text(encoding="utf-8")
    assert "## Gradient checks" in text and "**All 2 checks pass.**" in text
    assert "rel = |g_a − g_n| / max(ε, |g_a| + |g_n|)" in text
    assert text.index("## Gradient checks") < text.index("## Sanity checks")
    assert "Tiny subset overfitted." in text and "reached 100 % training accuracy" in text
    assert "ln 10 = 2.303" in text
    assert not math.isnan(checks_of(tmp_path / "out" / "lab")[0]["time_s"])


def test_a_file_of_the_first_format_asks_for_a_rerun(tmp_path):
    from scratchlab.experiments.report_checks import check_blocks

    old = {"tol": 1e-6, "description": "x", "rows": [{"name": "Linear[0].W", "status": "ok"}]}
    (tmp_path / FILE).write_text(json.dumps(old))
    heading, note = check_blocks(tmp_path, [])
    assert heading.text == "Gradient checks" and "run the experiment again" in note.text
