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
    exp = experiment(tmp_path, BASE + '[[runs]]\nname = "a"\nmodel = { dropout = 0.3 }\n'
                     'train = { eta = 0.5 }\n')  # fmt: skip
    run = exp.runs[0]
    assert run.model.dropout == 0.3 and run.model.hidden == [16]  # sibling key kept
    assert run.train.eta == 0.5 and run.train.lambda_ == 0.1 and run.train.n_epochs == 3


def test_a_schedule_table_replaces_rather_than_merges(tmp_path):
    body = BASE + '[[runs]]\nname = "a"\ntrain = { schedule = { name = "cyclical", ' \
        'eta_min = 1e-5, eta_max = 0.1, step_size = 10 } }\n[[runs]]\nname = "b"\n' \
        'train = { schedule = "constant" }\n'  # fmt: skip
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
    assert [r.name for r in runs] == ["plain", "search-hidden8-n_batch25",
                                      "search-hidden8+4-n_batch25"]  # fmt: skip
    assert runs[2].model.hidden == [8, 4] and runs[2].train.n_epochs == 5
    assert runs[0].train.n_epochs == 3


def test_overrides_from_set_apply_to_every_run(tmp_path):
    overrides = _parse_sets(["train.n_epochs=1", "model.hidden=[4]", "data.split=full"])
    assert overrides == {"train": {"n_epochs": 1}, "model": {"hidden": [4]},
                         "data": {"split": "full"}}  # fmt: skip
    exp = experiment(tmp_path, BASE + "[grid]\ntrain.eta = [0.1, 0.01]\n", overrides=overrides)
    assert all(r.train.n_epochs == 1 and r.model.hidden == [4] for r in exp.runs)
    assert all(r.data.split == "full" for r in exp.runs)


@pytest.mark.parametrize(
    ("raw", "needles"),
    [
        ({"trian": {}}, ["top level", "unknown key 'trian'", "did you mean 'train'?"]),
        ({"zzz": 1}, ["unknown key 'zzz'", "valid keys: data, description"]),
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
        "train": {"augment": [{"kind": "flip"}]}, "description": "two words",
    }  # fmt: skip
