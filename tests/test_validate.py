"""Every rule is checked for every run before the first file is written; the message names
the file, the run and the field."""

from __future__ import annotations

import pytest
from runhelpers import DIGITS, cli, experiment, write

from scratchlab.errors import ConfigError
from scratchlab.experiments.runner import run_experiment
from scratchlab.experiments.validate import MAX_RUNS

CASES = {
    "early stopping on a split without validation": (
        'data = { split = "full" }\ntrain = { early_stopping = { patience = 2 } }',
        r"run 'bad': train.early_stopping needs validation images",
    ),
    "keep-best on a split without validation": (
        'data = { split = "full" }\ntrain = { keep_best = true }',
        r"run 'bad': train.keep_best needs validation images",
    ),
    "a translation larger than the 8x8 digits": (
        'train = { augment = [{ kind = "translate", max_shift = 12 }] }',
        r"run 'bad': train.augment",
    ),
    "a model too large for memory": (
        "model = { hidden = [2000000, 2000000] }",
        r"run 'bad': model.hidden .* GiB",
    ),
    "a batch larger than the training set": (
        "train = { n_batch = 100000 }",
        r"run 'bad': train.n_batch = 100000 is larger than the training set",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_later_run_fails_before_anything_is_written(tmp_path, case):
    body, message = CASES[case]
    text = DIGITS + '[[runs]]\nname = "good"\n[[runs]]\nname = "bad"\n' + body + "\n"
    exp = experiment(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as caught:
        run_experiment(exp, tmp_path / "out")
    assert str(tmp_path / "lab.toml") in str(caught.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "line, field",
    [
        ('train = { eta = inf }', "train.eta"),
        ('train = { lambda = nan }', "train.lambda"),
        ('train = { schedule = { name = "cyclical", eta_min = 0.1, eta_max = 0.01, '
         'step_size = 5 } }', "eta_min"),
    ],
)  # fmt: skip
def test_schema_rules_name_the_run_and_field(tmp_path, line, field):
    path = write(tmp_path / "lab.toml", f'name = "lab"\n{DIGITS}[[runs]]\nname = "r"\n{line}\n')
    proc = cli(["run", str(path), "--out", str(tmp_path / "out")])
    assert proc.returncode == 2 and field in proc.stderr and "'r'" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


def test_gradcheck_sizes_are_checked_against_the_data(tmp_path):
    exp = experiment(tmp_path, "gradcheck = { n_dims = 100 }\n" + DIGITS)
    with pytest.raises(ConfigError, match=r"gradcheck.n_dims = 100 exceeds the input dimension 64"):
        run_experiment(exp, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_huge_grid_needs_an_explicit_flag(tmp_path):
    values = ", ".join(str(0.001 * (i + 1)) for i in range(MAX_RUNS + 1))
    path = write(tmp_path / "lab.toml", f'name = "lab"\n{DIGITS}[grid]\ntrain.eta = [{values}]\n')
    proc = cli(["run", str(path), "--out", str(tmp_path / "out")])
    assert proc.returncode == 2 and "--many" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("tracker", ["keep_best = true", "early_stopping = { patience = 2 }"])
def test_keep_best_and_early_stopping_may_retrain_on_a_split_without_validation(tmp_path, tracker):
    """The retraining phase trains for the epochs validation chose: it needs no validation
    images, so `retrain_split = "full"` passes the checks (the MNIST lab's final model)."""
    from scratchlab.experiments.runner import validate

    body = f'data = {{ retrain_split = "full" }}\ntrain = {{ {tracker} }}\n'
    exp = experiment(tmp_path, DIGITS + '[[runs]]\nname = "final"\n' + body)
    data = validate(exp, exp.runs, tmp_path / "out", 1, False)
    assert set(data) == {"final"} and not (tmp_path / "out").exists()
