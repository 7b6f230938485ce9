"""The runner and the report: folders, summary.csv, report.md/html, ensembles, retraining,
--only, skipping finished runs, --fresh, --jobs, `scratchlab train` and `scratchlab report`."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil

import numpy as np
import pytest
from runhelpers import DIGITS, experiment, history_rows, metrics, no_figures, write  # noqa: F401

from scratchlab.cli import main
from scratchlab.data import load_split
from scratchlab.errors import ConfigError
from scratchlab.experiments.result import majority_vote
from scratchlab.experiments.runner import run_experiment
from scratchlab.experiments.summary import COLUMNS
from scratchlab.nn import Sequential

LAB = (
    DIGITS
    + """
[[runs]]
name = "linear"
description = "The linear classifier, then retrained on the whole training part."
data = { retrain_split = "full" }

[[runs]]
name = "mlp-ensemble"
ensemble = 3
model = { hidden = [16] }
train = { shuffle = true, augment = [{ kind = "translate", max_shift = 1 }], keep_best = true }
"""
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The LAB experiment run once for real (--jobs 2: worker processes, real figures)."""
    tmp = tmp_path_factory.mktemp("lab")
    path = write(tmp / "lab.toml", 'name = "lab"\ntitle = "A <small> lab"\n' + LAB)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["run", str(path), "--out", str(tmp / "out"), "--jobs", "2"]) == 0
    (tmp / "stderr.txt").write_text(err.getvalue())
    return tmp / "out" / "lab"


def test_workers_report_each_start_and_end_with_the_counts(lab):
    err = (lab.parent.parent / "stderr.txt").read_text()
    for name in ("linear", "mlp-ensemble"):
        assert f"{name}: started (done " in err and f"{name}: done after " in err
    assert err.count(": started (") == 2
    assert "(done 2 · running 0 · pending 0)" in err


def test_folder_layout(lab):
    trained = {"history.csv", "model.npz"}
    names = {p.name for p in (lab / "linear").iterdir()}
    assert names == {"config.json", "metrics.json", "figures", "retrain", "predictions.npz",
                     *trained}  # fmt: skip
    names = {p.name for p in (lab / "mlp-ensemble").iterdir()}
    assert names == {"config.json", "metrics.json", "figures", "predictions.npz", "member-1",
                     "member-2", "member-3"}  # fmt: skip
    for member in (lab / "mlp-ensemble").glob("member-*"):
        assert {p.name for p in member.iterdir()} == trained
    assert not list(lab.rglob("checkpoint.npz")) and not list(lab.rglob(".*.tmp"))
    assert {"experiment.json", "summary.csv", "report.md", "report.html"} <= {
        p.name for p in lab.iterdir()
    }


def test_summary_csv_has_every_column_and_one_row_per_run(lab):
    with open(lab / "summary.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == COLUMNS
    assert [r["run"] for r in rows] == ["linear", "mlp-ensemble"]
    linear, mlp = rows
    assert linear["hidden"] == "linear" and mlp["hidden"] == "16" and mlp["ensemble"] == "3"
    assert mlp["augment"] == "translate(max_shift=1)" and mlp["shuffle"] == "True"
    assert all(r["status"] == "completed" and r["epochs_trained"] == "2" for r in rows)
    for r in rows:
        for key in ("train_acc", "val_acc", "test_acc"):
            assert 0 <= float(r[key]) <= 1
    assert 0 < float(linear["train_loss"]) < 10 and 0 < float(linear["test_cost"]) < 10
    assert mlp["train_loss"] == mlp["test_cost"] == ""  # a hard vote has no loss
    assert float(linear["retrain_test_acc"]) > 0 and mlp["retrain_test_acc"] == ""


def test_report_md_references_existing_figures(lab):
    text = (lab / "report.md").read_text()
    assert text.startswith("# A &lt;small> lab")  # escaped: a name cannot open an HTML tag
    assert "Run `linear`" in text and "Run `mlp-ensemble`" in text
    assert "The linear classifier, then retrained" in text
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(figures) >= 10 and "figures/comparison.png" in figures
    for rel in figures:
        assert (lab / rel).is_file() and (lab / rel).read_bytes()[:4] == b"\x89PNG", rel


def test_report_html_is_self_contained(lab):
    html = (lab / "report.html").read_text()
    md = (lab / "report.md").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<title>A &lt;small&gt; lab</title>" in html
    n_images = html.count('src="data:image/png;base64,')
    assert n_images == len(re.findall(r"!\[", md)) >= 10
    assert not re.search(r"https?://|<link|<script|src=\"(?!data:)", html)


def test_ensemble_vote_matches_its_members(lab):
    run = lab / "mlp-ensemble"
    m = metrics(run)
    splits = load_split("digits", "standard")
    preds = np.stack(
        [Sequential.load(run / f"member-{i}" / "model.npz").predict(
            splits.test.X, transform=splits.standardiser)
         for i in (1, 2, 3)]
    )  # fmt: skip
    member_acc = [float(np.mean(p == splits.test.y)) for p in preds]
    assert [mm["final"]["test"]["acc"] for mm in m["ensemble"]["members"]] == member_acc
    vote = majority_vote(preds, 10)
    assert m["final"]["test"]["acc"] == float(np.mean(vote == splits.test.y))
    text = (lab / "report.md").read_text()
    assert "mlp-ensemble" in text and "vote" in text.lower()


def test_retrain_split_writes_retrain_metrics(lab):
    m = metrics(lab / "linear")
    rt = m["retrain"]
    assert rt["split"] == "full" and rt["n_train"] == 1438
    # no keep-best / early stopping: the retraining repeats every epoch phase one trained
    assert rt["epochs"] == m["epochs_trained"]
    assert 0 < rt["test"]["acc"] <= 1 and rt["test_report"]["class_names"][0] == "0"
    hist = history_rows(lab / "linear" / "retrain")
    assert len(hist) == rt["epochs"] + 1 and hist[-1]["val_acc"] == "nan"
    assert (lab / "linear" / "retrain" / "model.npz").is_file()
    assert "Retrained on `full`" in (lab / "report.md").read_text()


@pytest.mark.usefixtures("no_figures")
def test_jobs_2_gives_the_same_numbers_as_jobs_1(lab, tmp_path):
    exp = experiment(tmp_path, LAB)
    run_experiment(exp, tmp_path / "out", jobs=1)
    for run in ("linear", "mlp-ensemble/member-1", "mlp-ensemble/member-3", "linear/retrain"):
        assert history_rows(tmp_path / "out" / "lab" / run) == history_rows(lab / run), run
    for run in ("linear", "mlp-ensemble"):
        assert metrics(tmp_path / "out" / "lab" / run) == metrics(lab / run), run


def test_report_command_rebuilds_the_report(lab, tmp_path, capsys):
    copy = tmp_path / "lab"
    shutil.copytree(lab, copy)
    summary = (copy / "summary.csv").read_text()
    for name in ("report.md", "report.html", "summary.csv"):
        (copy / name).unlink()
    assert main(["report", str(copy)]) == 0
    assert str(copy / "report.html") in capsys.readouterr().out
    assert (copy / "summary.csv").read_text() == summary
    assert len(re.findall(r"^### .*Run ", (copy / "report.md").read_text(), re.M)) == 2
    assert (copy / "report.html").stat().st_size > 10_000


def test_report_of_a_folder_with_an_unfinished_run(lab, tmp_path):
    copy = tmp_path / "lab"
    shutil.copytree(lab, copy)
    (copy / "linear" / "metrics.json").unlink()  # as if it were still training
    assert main(["report", str(copy)]) == 0
    text = (copy / "report.md").read_text()
    assert "1 of 2 runs finished" in text and "Run `linear`" not in text


SEARCH = DIGITS + "[grid]\ntrain.eta = [0.1, 0.01]\ntrain.lambda = [0.0, 0.01]\n"


@pytest.mark.usefixtures("no_figures")
def test_only_patterns_select_runs(tmp_path, capsys):
    exp = experiment(tmp_path, SEARCH)
    out = tmp_path / "out"
    result = run_experiment(exp, out, only="eta0.1-*, eta0.01-lambda0.01")
    assert result.trained == ["eta0.1-lambda0", "eta0.1-lambda0.01", "eta0.01-lambda0.01"]
    assert not (out / "lab" / "eta0.01-lambda0").exists()
    assert [r["run"] for r in result.rows] == result.trained
    result = run_experiment(exp, out)  # the rest; the finished three are kept
    assert result.trained == ["eta0.01-lambda0"] and len(result.skipped) == 3
    assert "finished earlier, skipped" in capsys.readouterr().err
    assert len(result.rows) == 4


@pytest.mark.usefixtures("no_figures")
def test_finished_runs_are_skipped_unless_fresh(tmp_path):
    exp = experiment(tmp_path, DIGITS + '[[runs]]\nname = "a"\n[[runs]]\nname = "b"\n')
    out = tmp_path / "out"
    run_experiment(exp, out)
    stamp = os.stat(out / "lab" / "a" / "metrics.json").st_mtime_ns
    before = metrics(out / "lab" / "a")
    result = run_experiment(exp, out)
    assert result.trained == [] and result.skipped == ["a", "b"]
    assert os.stat(out / "lab" / "a" / "metrics.json").st_mtime_ns == stamp
    result = run_experiment(exp, out, fresh=True, only="a")
    assert result.trained == ["a"]
    assert os.stat(out / "lab" / "a" / "metrics.json").st_mtime_ns != stamp
    assert metrics(out / "lab" / "a") == before  # same seed, same numbers


@pytest.mark.usefixtures("no_figures")
def test_a_changed_spec_is_refused_and_fresh_moves_the_old_run_aside(tmp_path):
    out = tmp_path / "out"
    run_experiment(experiment(tmp_path, DIGITS + '[[runs]]\nname = "a"\n'), out)
    before = metrics(out / "lab" / "a")
    exp = experiment(tmp_path, DIGITS + '[[runs]]\nname = "a"\n',
                     overrides={"train": {"n_epochs": 3}})  # fmt: skip
    with pytest.raises(ConfigError, match=r"finished run\(s\) a .*train.n_epochs 2 -> 3.*--fresh"):
        run_experiment(exp, out)
    assert metrics(out / "lab" / "a") == before  # untouched
    result = run_experiment(exp, out, fresh=True)
    assert result.trained == ["a"] and metrics(out / "lab" / "a")["epochs_trained"] == 3
    (moved,) = (out / "lab" / "replaced").iterdir()
    assert moved.name.startswith("a.") and metrics(moved) == before
    assert any("moved to" in note for note in result.notes)


@pytest.mark.usefixtures("no_figures")
def test_a_damaged_metrics_file_is_not_finished(tmp_path):
    exp = experiment(tmp_path, DIGITS)
    out = tmp_path / "out"
    run_experiment(exp, out)
    (out / "lab" / "default" / "metrics.json").write_text('{"run": "def')
    assert run_experiment(exp, out).trained == ["default"]


@pytest.mark.usefixtures("no_figures")
def test_train_command_is_a_one_off_run(tmp_path, capsys):
    args = ["train", "--dataset", "digits", "--hidden", "8", "--n-epochs", "2", "--n-batch",
            "50", "--eta", "0.05", "--optimizer", "momentum", "--schedule",
            "exp_decay:gamma=0.9", "--augment", "flip:p=0.2,translate:max_shift=1",
            "--shuffle", "--keep-best", "--name", "quick", "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "quick" in out and "Report:" in out
    run = tmp_path / "quick" / "quick"
    config = metrics(run, drop=()) and __import__("json").loads((run / "config.json").read_text())
    assert config["train"]["schedule"] == {"name": "exp_decay", "gamma": 0.9}
    assert config["train"]["augment"] == [{"kind": "flip", "p": 0.2},
                                          {"kind": "translate", "max_shift": 1}]  # fmt: skip
    assert metrics(run)["epochs_trained"] == 2 and (tmp_path / "quick" / "report.html").exists()
    assert main(args) == 0  # the same run again: kept, not retrained
    assert "finished earlier, skipped" in capsys.readouterr().err
    changed = [a if a != "0.05" else "0.1" for a in args]  # another eta, same --name
    assert main(changed) == 2
    assert "train.eta 0.05 -> 0.1" in capsys.readouterr().err
    assert metrics(run)["epochs_trained"] == 2
    assert main([*changed, "--fresh"]) == 0
    assert len(list((tmp_path / "quick" / "replaced").iterdir())) == 1


@pytest.mark.usefixtures("no_figures")
def test_gradcheck_section_in_the_report(tmp_path):
    body = "gradcheck = { n_samples = 5, n_dims = 10, hidden = [6], lambda = 0.1 }\n" + DIGITS
    result = run_experiment(experiment(tmp_path, body), tmp_path / "out")
    text = result.report_md.read_text()
    assert "## Gradient check" in text and "Linear[0].W" in text
    assert "FAIL" not in text


def test_majority_vote_by_hand():
    votes = np.array([
        [0, 1, 2, 3, 1],
        [0, 2, 2, 4, 2],
        [1, 1, 0, 5, 3],
    ])  # fmt: skip
    # column 3 is a three-way tie (3, 4, 5) and column 4 too (1, 2, 3): the lowest label wins
    assert majority_vote(votes, 6).tolist() == [0, 1, 2, 3, 1]
    assert majority_vote(np.array([[4, 0], [2, 0]]), 5).tolist() == [2, 0]  # 2-way tie
    assert majority_vote(np.array([[7, 7, 1]]), 8).tolist() == [7, 7, 1]  # one member
