"""Experiment files: defaults, [[runs]] overrides, [grid] expansion, --set, validation messages."""

from __future__ import annotations

import pytest
from runhelpers import experiment

from scratchlab.commands.experiments import _parse_sets
from scratchlab.errors import ConfigError
from scratchlab.experiments.config import parse_experiment, unknown_key_message

BASE = """
seed = 7

[data]
dataset = "digits"

[model]
hidden = [16]
dropout = 0.1

[train]
eta = 0.01
lambda = 0.1
n_epochs = 3
n_batch = 50
schedule = { name = "exp_decay", gamma = 0.9 }
"""


def _error(raw: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_experiment(raw)
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_defaults_apply_to_every_run_and_header_seed_is_inherited(tmp_path):
    exp = experiment(tmp_path, BASE + '[[runs]]\nname = "a"\n[[runs]]\nname = "b"\nseed = 9\n')
    a, b = exp.runs
    assert (a.name, a.seed, b.seed) == ("a", 7, 9)
    assert a.model.hidden == [16] and a.train.lambda_ == 0.1 and a.data.split == "standard"
    assert exp.source == tmp_path / "lab.toml"


def test_no_runs_gives_one_default_run_named_after_nothing(tmp_path):
    exp = experiment(tmp_path, BASE)
    assert [r.name for r in exp.runs] == ["default"]


def test_name_defaults_to_the_file_stem(tmp_path):
    from scratchlab.experiments.config import load_experiment

    path = tmp_path / "my-lab.toml"
    path.write_text(BASE)
    assert load_experiment(path).name == "my-lab"


def test_run_overrides_deep_merge_sections(tmp_path):
    exp = experiment(
        tmp_path, BASE + '[[runs]]\nname = "a"\nmodel = { dropout = 0.3 }\ntrain = { eta = 0.5 }\n'
    )
    run = exp.runs[0]
    assert run.model.dropout == 0.3 and run.model.hidden == [16]  # sibling key kept
    assert run.train.eta == 0.5 and run.train.lambda_ == 0.1 and run.train.n_epochs == 3


def test_a_schedule_table_replaces_rather_than_merges(tmp_path):
    body = (
        BASE + '[[runs]]\nname = "a"\ntrain = { schedule = { name = "cyclical", '
        'eta_min = 1e-5, eta_max = 0.1, step_size = 10 } }\n[[runs]]\nname = "b"\n'
        'train = { schedule = "constant" }\n'
    )
    a, b = experiment(tmp_path, body).runs
    assert a.train.schedule.model_dump() == {
        "name": "cyclical",
        "eta_min": 1e-5,
        "eta_max": 0.1,
        "step_size": 10,
    }  # fmt: skip  (no stray gamma from the exp_decay default)
    assert b.train.schedule.name == "constant"


def test_top_level_grid_expands_to_the_product_named_after_values(tmp_path):
    body = BASE + "[grid]\ntrain.eta = [0.1, 0.01]\ntrain.lambda = [0, 1.0, 0.5]\n"
    names = [r.name for r in experiment(tmp_path, body).runs]
    assert len(names) == 6
    assert names[:3] == ["eta0.1-lambda0", "eta0.1-lambda1", "eta0.1-lambda0.5"]
    assert names[-1] == "eta0.01-lambda0.5"


def test_grid_inside_a_run_prefixes_its_name_and_keeps_its_overrides(tmp_path):
    body = BASE + (
        '[[runs]]\nname = "plain"\n[[runs]]\nname = "search"\ntrain = { n_epochs = 5 }'
        "\ngrid = { model = { hidden = [[8], [8, 4]] }, train = { n_batch = [25] } }\n"
    )
    runs = experiment(tmp_path, body).runs
    assert [r.name for r in runs] == [
        "plain",
        "search-hidden8-n_batch25",
        "search-hidden8+4-n_batch25",
    ]
    assert runs[2].model.hidden == [8, 4] and runs[2].train.n_epochs == 5
    assert runs[0].train.n_epochs == 3


def test_overrides_from_set_apply_to_every_run(tmp_path):
    overrides = _parse_sets(["train.n_epochs=1", "model.hidden=[4]", "data.split=full"])
    assert overrides == {
        "train": {"n_epochs": 1},
        "model": {"hidden": [4]},
        "data": {"split": "full"},
    }
    exp = experiment(tmp_path, BASE + "[grid]\ntrain.eta = [0.1, 0.01]\n", overrides=overrides)
    assert all(r.train.n_epochs == 1 and r.model.hidden == [4] for r in exp.runs)
    assert all(r.data.split == "full" for r in exp.runs)


@pytest.mark.parametrize(
    ("raw", "needles"),
    [
        ({"trian": {}}, ["top level", "unknown key 'trian'", "did you mean 'train'?"]),
        ({"zzz": 1}, ["unknown key 'zzz'", "valid keys: baseline, data, description"]),
        ({"train": {"etaa": 1}}, ["train.etaa", "did you mean 'eta'?"]),
        ({"train": {"lamda": 1}}, ["train.lamda", "did you mean 'lambda'?"]),
        ({"model": {"hiden": [3]}}, ["model.hiden", "did you mean 'hidden'?"]),
        ({"data": {"val_sise": 3}}, ["data.val_sise", "did you mean 'val_size'?"]),
        ({"runs": [{"name": "a", "dat": {}}]}, ["run 'a'", "did you mean 'data'?"]),
        (
            {"train": {"schedule": {"name": "exp_decay", "gama": 0.9}}},
            ["train.schedule.gama", "did you mean 'gamma'?"],
        ),
        ({"train": {"early_stopping": {"patiense": 2}}}, ["did you mean 'patience'?"]),
        ({"gradcheck": {"n_sample": 2}}, ["gradcheck.n_sample", "did you mean 'n_samples'?"]),
        ({"train": {"eta": "fast"}}, ["train.eta", "valid number", "'fast'"]),
        ({"train": {"eta": 0}}, ["train.eta", "greater than 0"]),
        ({"train": {"eta": -0.1}}, ["train.eta", "greater than 0"]),
        ({"train": {"n_epochs": 0}}, ["train.n_epochs", "greater than or equal to 1"]),
        ({"train": {"n_epochs": 2.5}}, ["train.n_epochs", "integer"]),
        ({"train": {"n_batch": 0}}, ["train.n_batch", "n_batch must be >= 1"]),
        ({"train": {"n_batch": "fll"}}, ["train.n_batch", "'full'"]),
        ({"train": {"lambda": -1}}, ["train.lambda", "greater than or equal to 0"]),
        ({"train": {"optimizer": "rmsprop"}}, ["train.optimizer", "'adam'", "'rmsprop'"]),
        ({"train": {"schedule": "warmup"}}, ["train.schedule", "'warmup'", "'cosine'"]),
        (
            {"train": {"schedule": {"name": "exp_decay", "gamma": 1.5}}},
            ["train.schedule.gamma", "less than or equal to 1"],
        ),
        ({"train": {"augment": [{"kind": "rotate"}]}}, ["unknown kind 'rotate'", "flip"]),
        ({"train": {"augment": [{"kind": "flip", "p": 2}]}}, ["flip", "p must be in [0, 1]"]),
        ({"model": {"loss": "hinge"}}, ["model.loss", "'svm'", "'hinge'"]),
        ({"model": {"dropout": 1.0}}, ["model.dropout", "less than 1"]),
        ({"model": {"hidden": [3, "a"]}}, ["model.hidden.1", "integer"]),
        ({"data": {"dataset": "svhn"}}, ["data.dataset", "'svhn'", "'digits'"]),
        ({"data": {"dataset": "digits", "split": "a1"}}, ["split 'a1' is not a split of digits"]),
        ({"data": {"dataset": "cifar10", "retrain_split": "full"}}, ["retrain_split 'full'"]),
        ({"seed": -1}, ["seed", "greater than or equal to 0"]),
        ({"name": "bad name!"}, ["name", "pattern"]),
        ({"train": 5}, ["[train] must be a table"]),
        ({"runs": 5}, ["runs must be an array of tables"]),
        ({"runs": [{"name": "x"}, {"name": "x"}]}, ["run names must be unique", "'x'"]),
        ({"grid": {"train": {"eta": []}}}, ["grid.train.eta must be a non-empty list"]),
        ({"grid": {"eta": [0.1]}}, ["grid key 'eta' must start with one of"]),
        ({"grid": {}}, ["grid must be a table of lists"]),
    ],
)
def test_invalid_values_name_the_field(raw, needles):
    message = _error({"name": "lab", **raw})
    for needle in needles:
        assert needle in message, (needle, message)


def test_errors_name_the_file_and_the_run(tmp_path):
    with pytest.raises(ConfigError) as exc:
        experiment(tmp_path, BASE + '[[runs]]\nname = "fast"\ntrain = { eta = -1 }\n')
    assert str(exc.value).startswith(f"{tmp_path / 'lab.toml'}: run 'fast': train.eta:")


def test_several_problems_share_one_line_and_one_prefix():
    message = _error({"name": "lab", "train": {"eta": 0, "n_epochs": 0}})
    assert message.count("experiment: ") == 1 and "train.eta" in message
    assert "train.n_epochs" in message


def test_unknown_key_message():
    assert (
        unknown_key_message("etaa", ["eta", "lambda"]) == "unknown key 'etaa'; did you mean 'eta'?"
    )
    assert "valid keys: eta, lambda" in unknown_key_message("qqq", ["lambda", "eta"])
    assert "check the spelling" in unknown_key_message("qqq", None)


def test_set_syntax_errors():
    for bad in ("train.n_epochs", "=5", " =1"):
        with pytest.raises(ConfigError, match="--set takes KEY=VALUE"):
            _parse_sets([bad])
    assert _parse_sets(["train.augment=[{kind='flip'}]", "description=two words"]) == {
        "train": {"augment": [{"kind": "flip"}]},
        "description": "two words",
    }


# -- report sections: repeats, baseline, [reference], [[figures]] ---------------------------
def test_repeats_expand_into_ordinary_runs_with_their_own_seeds(tmp_path):
    exp = experiment(tmp_path, BASE + '[[runs]]\nname = "a"\nrepeats = 3\n[[runs]]\nname = "b"\n')
    assert [(r.name, r.seed) for r in exp.runs] == [("a-r0", 7), ("a-r1", 8), ("a-r2", 9), ("b", 7)]
    assert exp.groups == {"a": ["a-r0", "a-r1", "a-r2"]}
    assert all(r.model.hidden == [16] for r in exp.runs)  # otherwise ordinary runs


def test_repeats_of_an_ensemble_never_share_a_seed(tmp_path):
    exp = experiment(
        tmp_path,
        "repeats = 2\n" + BASE + '[[runs]]\nname = "e"\nensemble = 3\n'
        '[[runs]]\nname = "one"\nrepeats = 1\n',
    )
    seeds = {r.name: r.seed for r in exp.runs}
    assert seeds == {"e-r0": 7, "e-r1": 10, "one": 7}  # members: 8..10 and 11..13


def test_a_grid_is_recorded_for_the_report_and_repeats_apply_per_point(tmp_path):
    body = "repeats = 2\n" + BASE + "[grid]\ntrain.eta = [0.1, 0.01]\nmodel.hidden = [[8], [16]]\n"
    exp = experiment(tmp_path, body)
    (grid,) = exp.grids
    assert grid["name"] == "grid" and grid["axes"] == [
        ["train.eta", [0.1, 0.01]],
        ["model.hidden", [[8], [16]]],
    ]
    assert grid["runs"][0] == "eta0.1-hidden8" and len(grid["runs"]) == 4
    assert exp.groups["eta0.1-hidden8"] == ["eta0.1-hidden8-r0", "eta0.1-hidden8-r1"]
    assert len(exp.runs) == 8


def test_report_settings_for_experiment_json(tmp_path):
    from scratchlab.experiments.config import report_settings

    body = (
        'baseline = "a"\n'
        + BASE
        + (
            '[reference]\nsource = "the course"\naccuracy = { "a" = 38.5 }\n'
            '[[figures]]\nname = "eta"\nkind = "curves"\nruns = ["a", "b-*"]\n'
            '[[runs]]\nname = "a"\n[[runs]]\nname = "b"\nrepeats = 2\n'
        )
    )
    settings = report_settings(experiment(tmp_path, body))
    assert settings["baseline"] == "a" and settings["groups"] == {"b": ["b-r0", "b-r1"]}
    assert settings["reference"] == {
        "source": "the course",
        "set": "test",
        "accuracy": {"a": 38.5},
        "precision": 0.0,
    }
    assert settings["figures"][0]["runs"] == ["a", "b-*"] and settings["grids"] == []


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        ('baseline = "nope"', ["baseline 'nope' is not a run", "'a'"]),
        ('[reference]\nsource = "x"\naccuracy = { "zz" = 30.0 }', ["unknown runs ['zz']"]),
        ('[reference]\nsource = "x"\naccuracy = { "a" = 0.38 }\nset = "train"', ["reference.set"]),
        ('[reference]\nsource = "x"\naccuracy = { "a" = 138 }', ["percentages in 0..100"]),
        ('[[figures]]\nname = "f"\nkind = "curves"\nruns = ["q*"]', ["'q*' matches no run"]),
        ('[[figures]]\nname = "f"\nkind = "pie"', ["figures.0.kind", "'heatmap'"]),
        ('[[figures]]\nname = "f"\nkind = "heatmap"\nx = "train.eta"', ["two different config"]),
        (
            '[[figures]]\nname = "f"\nkind = "heatmap"\nx = "eta"\ny = "train.lambda"',
            ["'eta' is not a config key"],
        ),
        ('[[figures]]\nname = "f"\nkind = "curves"\nx = "train.eta"', ["x and y are for heatmaps"]),
        (
            '[[figures]]\nname = "f"\nkind = "lr"\n[[figures]]\nname = "f"\nkind = "lr"',
            ["figure names must be unique"],
        ),
        ("repeats = 0", ["repeats", "greater than or equal to 1"]),
    ],
)
def test_report_sections_are_validated(tmp_path, extra, needles):
    with pytest.raises(ConfigError) as exc:
        top, tables = (extra, "") if extra.count("[") == 0 else ("", extra)
        experiment(tmp_path, top + "\n" + BASE + tables + '\n[[runs]]\nname = "a"\n')
    message = str(exc.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, (needle, message)


def test_a_bad_repeats_inside_a_run_names_the_run(tmp_path):
    with pytest.raises(ConfigError, match=r"run 'a': repeats must be a whole number in 1..100"):
        experiment(tmp_path, BASE + '[[runs]]\nname = "a"\nrepeats = "3"\n')


def test_the_lab_files_parse_and_state_no_results_in_advance():
    """Descriptions state the setup: no outcome written before the runs (issue 12)."""
    import re
    from pathlib import Path

    from scratchlab.experiments.config import load_experiment

    claims = re.compile(
        r"oscillat|overshoot|lower accuracy|higher accuracy|overfits|underfits|"
        r"improv|better|worse|smoother|fits the training set|outperform",
        re.I,
    )
    files = sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.toml"))
    assert files
    for path in files:
        exp = load_experiment(path)
        texts = [exp.header.description] + [r.description for r in exp.runs]
        for text in texts:
            assert not claims.search(text), (path.name, text)
