"""The report built from run folders: layout, uncertainty, findings, baseline, reference,
grids, repeats, provenance — on constructed run folders (no training)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from reportfixtures import Lab, a1_lab, bonus_lab, curve, draw_run_figures, set_figures

from scratchlab.experiments.report import build_report, summary_rows

A1_REPORT = {
    "baseline": "lambda0-eta0.001",
    "reference": {"source": "the course", "set": "test", "accuracy": {"lambda0-eta0.001": 38.0}},
}
NOTE = "cifar10 data at /home/someone/data/cifar-10-sample is unverified (extracted folder)"


@pytest.fixture(scope="module")
def a1(tmp_path_factory):
    lab = a1_lab(tmp_path_factory.mktemp("a1") / "a1")
    run = lab.dir / "lambda0-eta0.001"
    set_figures(run, draw_run_figures(run, curve()))
    lab.write(report=A1_REPORT, notes=[NOTE], source="/home/someone/scratchlab/a1.toml")
    md, html = build_report(lab.dir)
    return lab, md.read_text(), html.read_text()


def table_after(md: str, marker: str) -> list[list[str]]:
    """The rows (cells) of the first Markdown table after the line containing `marker`."""
    lines = md[md.index(marker) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip().strip("*") for c in line.strip("|").split(" | ")])
    return [rows[0], *rows[2:]]


def test_layout_contents_numbered_tables_and_figures(a1):
    _, md, html = a1
    heads = [line for line in md.splitlines() if line.startswith("## ")]
    assert heads[:3] == ["## Setup", "## Results", "## Findings"] and heads[-1] == "## Runs"
    assert md.index("**Contents**") < md.index("## Setup")
    assert "- [Results](#results)" in md and "  - [Run `lambda0-eta0.1`](#run-lambda0-eta01)" in md
    assert 'id="results"' in html and 'href="#run-lambda0-eta01"' in html
    numbers = [int(n) for n in re.findall(r"\*\*Table (\d+)\.\*\*", md)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) > 5
    figures = [int(n) for n in re.findall(r"\*\*Figure (\d+)\.\*\*", md)]
    assert figures == list(range(1, len(figures) + 1)) and len(figures) == 4  # chart + 3


def test_every_accuracy_in_the_results_table_has_an_interval(a1):
    _, md, _ = a1
    rows = table_after(md, "## Results")
    header = rows[0]
    assert header[:3] == ["run", "val acc [95 %]", "test acc [95 %]"]
    for row in rows[1:]:
        for cell in row[1:3]:
            assert re.fullmatch(r"\d+\.\d % \[\d+\.\d, \d+\.\d\]", cell), cell
    # percentages, never fractions, in the generalisation table too
    gen = table_after(md, "Loss (data term")
    cols = [gen[0].index(c) for c in ("train acc", "val acc", "test acc")]
    assert all(re.fullmatch(r"\d+\.\d\d %", row[c]) for row in gen[1:] for c in cols)


def test_star_tie_and_readings_in_the_results_table(a1):
    _, md, _ = a1
    rows = {r[0].strip("*"): r for r in table_after(md, "## Results")[1:]}
    assert set(rows) == {
        "lambda0-eta0.1",
        "≈ lambda0-eta0.001",
        "≈ lambda0.1-eta0.001",
        "★ lambda1-eta0.001",
    }
    reading = {k.split()[-1]: v[-1].strip("*") for k, v in rows.items()}
    assert reading["lambda0-eta0.1"] == "unstable"  # not "overfitting"
    assert reading["lambda0-eta0.001"] == "overfitting"
    assert reading["lambda1-eta0.001"] == "underfitting"


def test_baseline_delta_and_reference_columns(a1):
    _, md, _ = a1
    rows = table_after(md, "## Results")
    header = rows[0]
    i, j = header.index("Δ test vs lambda0-eta0.001 [95 %]"), header.index("reference (test)")
    cells = {r[0].strip("*≈★ "): r for r in rows[1:]}
    assert cells["lambda0-eta0.001"][i] == "baseline" and cells["lambda0-eta0.001"][j] == "38.0 %"
    assert re.fullmatch(r"−10\.0 \[−\d+\.\d, −\d+\.\d\]", cells["lambda0-eta0.1"][i])
    assert "## Against the baseline `lambda0-eta0.001`" in md
    assert "## Against published numbers" in md and "the reference lies inside" in md


def test_findings_cite_their_numbers(a1):
    _, md, _ = a1
    findings = md[md.index("## Findings") : md.index("## Against the baseline")]
    assert "`lambda0-eta0.1` — unstable: training loss ended at 3.200" in findings
    assert "above its untrained value 2.440" in findings
    assert "Best on validation: `lambda1-eta0.001` with 38.5 % [35.4, 41.7]" in findings
    assert "Tied with it" in findings
    assert "McNemar exact p < 0.001" in findings


def test_set_sizes_and_provenance_without_machine_paths(a1):
    lab, md, html = a1
    setup = table_after(md, "## Setup")
    assert setup[0][:7] == ["dataset", "split", "train", "val", "test", "files", "check"]
    assert setup[1][:7] == [
        "cifar10",
        "a1",
        "4,000",
        "932",
        "1,000",
        "`cifar-10-sample`",
        "unverified",
    ]
    assert "is unverified (extracted folder)" in md and "file `a1.toml`" in md
    assert "4,000 training, 932 validation, 1,000 test images" in md
    for text in (md, html, (lab.dir / "summary.csv").read_text()):
        assert "/home/" not in text and str(lab.dir) not in text


def test_curves_caption_carries_the_parameters_and_figures_are_linked(a1):
    lab, md, _ = a1
    assert "![Figure 2](lambda0-eta0.001/figures/curves.png)" in md
    assert "Run `lambda0-eta0.001` (η 0.001, λ 0). Loss and accuracy per epoch" in md
    assert (lab.dir / "figures" / "comparison.png").is_file()


def test_summary_rows_for_the_cli(a1):
    lab, _, _ = a1
    rows = summary_rows(lab.dir, lab.runs + ["not-run-yet"])
    assert [r["run"] for r in rows] == lab.runs
    keys = {
        "run",
        "loss",
        "lambda",
        "eta",
        "epochs_trained",
        "train_acc",
        "val_acc",
        "test_acc",
        "status",
    }
    assert keys <= set(rows[0])
    assert rows[0]["eta"] == 0.1 and rows[0]["val_acc"] == pytest.approx(260 / 932)


def test_grid_is_a_table_and_heat_map_with_full_sections_for_the_top_three(tmp_path):
    lab = bonus_lab(tmp_path / "bonus")
    lab.write()
    md = build_report(lab.dir)[0].read_text()
    sections = re.findall(r"^### Run `([^`]+)`", md, flags=re.M)
    assert sections[:3] == ["all-data", "ensemble-3", "shuffle"]
    assert len(sections) == 6  # + the grid's top 3 of 18
    grid = table_after(md, "## Grid `search`")
    assert len(grid) == 19 and grid[1][0].startswith("★ search-eta0.02-lambda0-n_batch100")
    assert "Grid `search`: 18 points finished" in md
    for name in ("grid-search.png", "comparison.png", "eta-curves.png", "eta-lambda.png", "lr.png"):
        assert (lab.dir / "figures" / name).is_file(), name
    # repeats are one row (mean over 3 seeds) and one section with the repeats' table
    assert "| shuffle (×3) |" in md and "`shuffle` repeated over 3 seeds" in md
    assert "`shuffle` over 3 seeds (0, 1, 2): val 39.60 ± 0.40 %" in md


def test_per_update_curves_need_runs_evaluated_between_epochs(tmp_path):
    from scratchlab.train import History

    if not hasattr(History, "epoch_rows"):
        pytest.skip("this History has no per-update rows (train.eval_every)")
    lab = Lab(tmp_path / "lab")
    lab.run("a")
    stepped = [{**r, "step": 5 * r["epoch"]} for r in curve(4)]
    mid = [{**r, "epoch": r["epoch"] + 1, "step": 5 * r["epoch"] + 2} for r in curve(4)[:-1]]
    rows = sorted(stepped + mid, key=lambda r: r["step"])
    lab.run("b", history=rows)
    spec = {"name": "u", "title": "Per update", "kind": "updates"}
    lab.write(report={"figures": [{**spec, "runs": ["a"]}, {**spec, "name": "v", "runs": ["b"]}]})
    md = build_report(lab.dir)[0].read_text()
    assert "None of its runs was evaluated between epochs" in md
    figures = lab.dir / "figures"
    assert (figures / "v.png").is_file() and not (figures / "u.png").exists()
    # the findings and the run's tables use the epoch rows only
    from scratchlab.experiments.records import load_record

    record = load_record(lab.dir, "b")
    assert [r["epoch"] for r in record.histories[0]] == [0, 1, 2, 3, 4]
    assert len(record.updates[0]) == 9


def test_unfinished_runs_are_left_out_and_counted(tmp_path):
    lab = Lab(tmp_path / "lab")
    lab.run("done")
    (lab.dir / "pending").mkdir()
    (lab.dir / "pending" / "config.json").write_text("{}")
    lab.runs.append("pending")
    lab.write()
    md = build_report(lab.dir)[0].read_text()
    assert "1 of 2 runs finished" in md and "Run `pending`" not in md


def test_repeats_are_grouped_even_without_the_report_record(tmp_path):
    lab = Lab(tmp_path / "lab")
    for k in range(3):
        lab.run(f"x-r{k}", val=(380 + 5 * k, 1000), spec={"seed": k})
    lab.run("other", val=(300, 1000))
    lab.write()  # experiment.json without "report"
    md = build_report(lab.dir)[0].read_text()
    assert "| ≈ x (×3) |" in md or "| x (×3) |" in md or "★ x (×3)" in md
    assert "`x` repeated over 3 seeds" in md and "mean ± std" in md


def test_per_class_metrics_and_confused_pairs_are_in_percent(a1):
    _, md, _ = a1
    prf = table_after(md, "per-class metrics on the test set")
    assert prf[0] == ["class", "precision", "recall", "F1", "support"]
    assert prf[1] == ["class0", "50.0 %", "50.0 %", "50.0 %", "100"]
    pairs = table_after(md, "the most confused pairs")
    assert pairs[0] == ["true class", "predicted as", "images", "share of the true class"]
    assert pairs[1][3].endswith(" %") and int(pairs[1][2]) >= int(pairs[2][2])


def test_learning_rates_follow_the_schedule_the_run_recorded():
    """metrics.json `training.schedule` is the schedule's own config(), base rate included
    (the bonus report failed on it: `eta` twice)."""
    from scratchlab.experiments.crossruns import lr_per_update

    config = {"train": {"n_batch": 10, "n_epochs": 3, "eta": 0.5,
                        "schedule": {"name": "exp_decay", "gamma": 0.9}}}  # fmt: skip
    trained = {"name": "exp_decay", "eta": 0.01, "gamma": 0.9}
    lr, steps = lr_per_update(config, 25, trained)
    assert steps == 3 and lr.shape == (9,)
    np.testing.assert_allclose(lr[[0, 3, 6]], [0.01, 0.009, 0.0081])  # the recorded base rate
    lr, _ = lr_per_update(config, 25)  # without the record: the config's rate
    assert lr[0] == pytest.approx(0.5)


def test_a_long_study_details_the_best_runs_and_the_baseline_and_keeps_the_rest_brief(tmp_path):
    from scratchlab.experiments import report

    lab = Lab(tmp_path / "long")
    n = report.FULL_SECTIONS + 2
    for i in range(n):  # validation accuracy rises with i: the best are the last ones
        lab.run(f"r{i:02d}", val=(300 + 10 * i, 932))
    lab.write(report={"baseline": "r00"})
    md = build_report(lab.dir)[0].read_text()
    sections = re.split(r"^### Run ", md, flags=re.M)[1:]
    assert len(sections) == n
    full = {s.split("`")[1] for s in sections if "| true class | predicted as |" in s}
    brief = {s.split("`")[1] for s in sections if "are in the run folder" in s}
    best = {f"r{i:02d}" for i in range(n - report.DETAILED, n)}
    assert full == best | {"r00"} and len(brief) == n - len(full) and not full & brief
    assert f"{n} runs are shown: the {report.DETAILED} best on validation and the baseline" in md


def test_a_short_study_gives_every_run_a_full_section(tmp_path):
    lab = Lab(tmp_path / "short")
    for i in range(4):
        lab.run(f"r{i}", val=(300 + 10 * i, 932))
    lab.write()
    md = build_report(lab.dir)[0].read_text()
    assert md.count("| true class | predicted as |") == 4 and "are in the run folder" not in md


def test_the_weights_a_run_keeps_are_a_setting_the_report_names():
    from scratchlab.experiments.summary import describe_selection

    assert describe_selection({}) == "last"
    assert describe_selection({"keep_best": True}) == "best val"
    es = {"early_stopping": {"monitor": "val_loss", "patience": 5, "restore_best": True}}
    assert describe_selection(es) == "early stopping on val_loss (patience 5, best weights)"


def test_augmentations_read_with_spaces_so_a_narrow_pdf_cell_can_wrap_them():
    from scratchlab.experiments.summary import describe_augment

    affine = {"kind": "affine", "max_rotate": 10.0, "max_scale": 0.1, "max_shift": 2.0}
    text = describe_augment([{"kind": "flip", "p": 0.5}, affine])
    assert text == "flip(p=0.5) + affine(max_rotate=10, max_scale=0.1, max_shift=2)"
    assert max(len(word) for word in text.split()) <= 24  # no 50-character unbreakable word
