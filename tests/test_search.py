"""`[search]`: seeded random and coarse-to-fine search whose trials are ordinary runs.

- drawing: uniform, log-uniform and choice, in range, rounded, the same for the same file;
- narrowing: a later stage's range is the best top_k trials' span widened by w = (b-a)/(2n),
  clipped to the range before (log10 space for log-uniform); choice keeps the best's values;
- the run: trials are runs in experiment.json, search.json holds every stage's ranges, drawn
  values and validation accuracy; stage 2 is drawn from stage 1's results; a rerun draws
  the same trials and skips them; a `from_search` run takes the best values;
- bad tables fail at load in one line.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from runhelpers import DIGITS, experiment, no_figures  # noqa: F401

from scratchlab.errors import ConfigError
from scratchlab.experiments.runner import run_experiment
from scratchlab.experiments.search import Param, ranked

SEARCH = (
    DIGITS
    + """
[search]
name = "lam"
n = 4
stages = [{ n = 4 }, { n = 3, top_k = 2 }]
train = { n_epochs = 1, eta = 0.1 }
[search.params]
"train.lambda" = { log_uniform = [1e-4, 1.0] }
"train.eta" = { uniform = [0.01, 0.5] }
"""
)


def _draw(exp, stage=1):
    return exp.searches[0].draw(stage, exp.searches[0].params)


def test_the_same_file_draws_the_same_trials_in_range(tmp_path):
    a, b = _draw(experiment(tmp_path, SEARCH)), _draw(experiment(tmp_path, SEARCH))
    assert [t.values for t in a] == [t.values for t in b]
    assert [t.name for t in a] == ["lam-s1-01", "lam-s1-02", "lam-s1-03", "lam-s1-04"]
    for t in a:
        lam, eta = t.values["train.lambda"], t.values["train.eta"]
        assert 1e-4 <= lam <= 1.0 and 0.01 <= eta <= 0.5
        assert float(f"{lam:.4g}") == lam and float(f"{eta:.4g}") == eta  # 4 significant digits
        assert t.spec.train.lambda_ == lam and t.spec.train.eta == eta
        assert t.spec.train.n_epochs == 1 and t.spec.data.dataset == "digits"
    other = _draw(experiment(tmp_path, SEARCH.replace('name = "lam"', 'name = "lam"\nseed = 5')))
    assert [t.values for t in other] != [t.values for t in a]


def test_draws_follow_their_distributions():
    rng = np.random.default_rng(0)
    log = Param("train.lambda", "log_uniform", 1e-5, 1e-1)
    exponents = np.log10([log.draw(rng) for _ in range(4000)])
    counts, _ = np.histogram(exponents, bins=4, range=(-5, -1))
    assert counts.min() > 900  # about 1000 per decade: uniform in the exponent
    lin = np.array([Param("train.eta", "uniform", 2.0, 4.0).draw(rng) for _ in range(4000)])
    assert 2.0 <= lin.min() and lin.max() <= 4.0 and abs(lin.mean() - 3.0) < 0.05
    choice = Param("model.hidden", "choice", values=([50], [100]))
    picks = [choice.draw(rng) for _ in range(400)]
    assert {tuple(p) for p in picks} == {(50,), (100,)}
    assert 150 < sum(p == [50] for p in picks) < 250


def test_narrowing_around_the_best_trials():
    log = Param("train.lambda", "log_uniform", 1e-5, 1e-1)  # exponents [-5, -1], n = 8
    new = log.narrow([1e-3, 1e-2], n_prev=8)  # w = 4 / 16 = 0.25 decades
    assert math.log10(new.low) == pytest.approx(-3.25) and math.log10(new.high) == pytest.approx(
        -1.75
    )
    edge = log.narrow([1e-5], n_prev=4)  # w = 0.5, clipped to the old range
    assert edge.low == pytest.approx(1e-5) and math.log10(edge.high) == pytest.approx(-4.5)
    lin = Param("train.eta", "uniform", 0.0, 1.0).narrow([0.4, 0.5], n_prev=5)  # w = 0.1
    assert (lin.low, lin.high) == pytest.approx((0.3, 0.6))
    choice = Param("model.hidden", "choice", values=([10], [20], [30])).narrow([[30], [10]], 3)
    assert choice.values == ([10], [30])  # file order


def test_ranking_is_by_validation_accuracy_then_trial_order():
    rows = [
        {"run": "a", "val_acc": 0.5},
        {"run": "b", "val_acc": None},
        {"run": "c", "val_acc": 0.7},
        {"run": "d", "val_acc": 0.5},
    ]
    assert [r["run"] for r in ranked(rows)] == ["c", "a", "d", "b"]


LAB = (
    SEARCH
    + """
[[runs]]
name = "final"
from_search = "lam"
train = { n_epochs = 2 }
"""
)


@pytest.mark.usefixtures("no_figures")
def test_a_two_stage_search_runs_its_trials_as_runs_and_reruns_to_the_same(tmp_path):
    exp = experiment(tmp_path, LAB)
    result = run_experiment(exp, tmp_path / "out")
    exp_dir = result.exp_dir
    trials = [f"lam-s1-0{i}" for i in range(1, 5)] + [f"lam-s2-0{i}" for i in range(1, 4)]
    listed = json.loads((exp_dir / "experiment.json").read_text())
    assert listed["runs"] == ["final", *trials] and listed["search"] == "search.json"
    assert sorted(result.trained) == sorted(["final", *trials])
    search = json.loads((exp_dir / "search.json").read_text())["searches"][0]
    assert search["complete"] and [len(s["trials"]) for s in search["stages"]] == [4, 3]

    # stage 1's values and accuracies are its runs' own
    s1, s2 = search["stages"]
    for t in s1["trials"]:
        config = json.loads((exp_dir / t["run"] / "config.json").read_text())
        m = json.loads((exp_dir / t["run"] / "metrics.json").read_text())
        assert config["train"]["lambda"] == t["values"]["train.lambda"]
        assert config["train"]["eta"] == t["values"]["train.eta"]
        assert t["val_acc"] == m["final"]["val"]["acc"]
    # stage 2's ranges: the best two of stage 1 widened by (b - a) / (2 * 4), clipped
    best = ranked(s1["trials"])[:2]
    assert sorted(t["rank"] for t in best) == [1, 2]
    lams = [math.log10(t["values"]["train.lambda"]) for t in best]
    w = (0 - -4) / 8
    expected = (10 ** max(-4, min(lams) - w), 10 ** min(0, max(lams) + w))
    got = s2["ranges"]["train.lambda"]
    assert (got["low"], got["high"]) == pytest.approx(expected)
    etas = [t["values"]["train.eta"] for t in best]
    got = s2["ranges"]["train.eta"]
    assert got["low"] == pytest.approx(max(0.01, min(etas) - 0.49 / 8))
    for t in s2["trials"]:
        assert got["low"] <= t["values"]["train.eta"] <= got["high"]
    # the best over both stages gave its values to `final`
    every = s1["trials"] + s2["trials"]
    assert search["best"]["run"] == ranked(every)[0]["run"]
    final = json.loads((exp_dir / "final" / "config.json").read_text())
    assert final["train"]["lambda"] == search["best"]["values"]["train.lambda"]
    assert final["train"]["eta"] == search["best"]["values"]["train.eta"]
    assert final["train"]["n_epochs"] == 2  # the run's own settings stay

    before = (exp_dir / "search.json").read_text()
    again = run_experiment(experiment(tmp_path, LAB), tmp_path / "out")
    assert again.trained == [] and sorted(again.skipped) == sorted(["final", *trials])
    assert (exp_dir / "search.json").read_text() == before
    assert {r["run"] for r in again.rows} == {"final", *trials}


@pytest.mark.usefixtures("no_figures")
def test_only_selects_a_search_and_an_unfinished_trial_is_retrained(tmp_path):
    body = SEARCH + '\n[[runs]]\nname = "other"\n'
    result = run_experiment(experiment(tmp_path, body), tmp_path / "out", only="lam")
    assert "other" not in result.trained and len(result.trained) == 7
    gone = result.exp_dir / "lam-s2-02" / "metrics.json"
    gone.unlink()  # as if killed before it finished
    again = run_experiment(experiment(tmp_path, body), tmp_path / "out", only="lam-*")
    assert again.trained == ["lam-s2-02"]


BAD = [
    ("n = 4\n", "nn = 4\n", "unknown key 'nn'; did you mean 'n'"),
    ("log_uniform = [1e-4, 1.0]", "log_uniform = [1.0, 1e-4]", "need finite low < high"),
    ("log_uniform = [1e-4, 1.0]", "log_uniform = [0.0, 1.0]", "bounds must be > 0"),
    ("log_uniform = [1e-4, 1.0]", "uniform = [-1.0, 1.0]", "lambda"),  # λ < 0 at the bound
    (
        '"train.eta" = { uniform = [0.01, 0.5] }',
        '"data.val_size" = { choice = [10, 20] }',
        "data.*",
    ),
    ("log_uniform = [1e-4, 1.0] }", "log_uniform = [1e-4, 1.0], choice = [1] }", "exactly one"),
    ("{ n = 3, top_k = 2 }", "{ n = 3, top_k = 5 }", "top_k = 5"),
    ('"train.eta"', '"train.etaa"', "did you mean 'eta'"),
]


@pytest.mark.parametrize(("old", "new", "needle"), BAD)
def test_a_bad_search_table_fails_at_load_in_one_line(tmp_path, old, new, needle):
    assert old in SEARCH
    with pytest.raises(ConfigError, match="search") as err:
        experiment(tmp_path, SEARCH.replace(old, new, 1))
    message = str(err.value)
    assert needle in message and "\n" not in message


def test_names_and_references_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="has the name of a trial"):
        experiment(tmp_path, SEARCH + '[[runs]]\nname = "lam-s1-02"\n')
    with pytest.raises(ConfigError, match="from_search 'lamb' is not a search"):
        experiment(tmp_path, SEARCH + '[[runs]]\nname = "f"\nfrom_search = "lamb"\n')
    nested = SEARCH.replace('"train.lambda" = ', "train.lambda = ")  # a dotted TOML key
    assert [p.key for p in experiment(tmp_path, nested).searches[0].params] == [
        "train.lambda",
        "train.eta",
    ]
    only = experiment(tmp_path, SEARCH)
    assert only.runs == []  # a file of only a search has no default run


def test_trials_without_validation_images_are_refused_before_writing(tmp_path):
    body = SEARCH.replace(
        "train = { n_epochs = 1", 'data = { split = "full" }\ntrain = { n_epochs = 1'
    )
    with pytest.raises(ConfigError, match="no validation images to rank the trials by"):
        run_experiment(experiment(tmp_path, body), tmp_path / "out")
    assert not (tmp_path / "out").exists()
