"""Determinism: the same experiment and seed give the same history.csv and metrics.json.

OpenBLAS sums float32 products in a different order with one thread than with several
(measured: 139 of 432 product shapes of our layers differ in the last bits between 1 and 2
threads, none between 2, 3, 4 and 8), so runs pin BLAS to one thread (docs/ARCHITECTURE.md,
"Determinism"); the remaining sources of variation are seeded Generators.
"""

from __future__ import annotations

import numpy as np
import pytest
from runhelpers import DIGITS, experiment, history_rows, metrics, no_figures  # noqa: F401
from threadpoolctl import threadpool_info, threadpool_limits

from scratchlab.experiments.execute import execute_run
from scratchlab.experiments.runner import run_experiment

NOISY = (
    DIGITS
    + """
[[runs]]
name = "noisy"
model = { hidden = [16], dropout = 0.3, batch_norm = true }
train = { n_epochs = 3, shuffle = true, optimizer = "nesterov", keep_best = true, \
augment = [{ kind = "translate", max_shift = 1 }, { kind = "salt_pepper", fraction = 0.05 }] }
"""
)


@pytest.mark.usefixtures("no_figures")
def test_same_seed_same_history_and_metrics(tmp_path):
    exp = experiment(tmp_path, NOISY)
    a = run_experiment(exp, tmp_path / "a").exp_dir / "noisy"
    b = run_experiment(exp, tmp_path / "b").exp_dir / "noisy"
    assert history_rows(a) == history_rows(b)
    assert metrics(a) == metrics(b)


@pytest.mark.usefixtures("no_figures")
def test_another_seed_gives_other_numbers(tmp_path):
    a = run_experiment(experiment(tmp_path, NOISY), tmp_path / "a").exp_dir / "noisy"
    other = experiment(tmp_path, "seed = 1\n" + NOISY)
    b = run_experiment(other, tmp_path / "b").exp_dir / "noisy"
    assert history_rows(a) != history_rows(b)


@pytest.mark.usefixtures("no_figures")
def test_the_runner_applies_the_thread_policy_and_execute_run_keeps_the_callers(
    tmp_path, monkeypatch
):
    """The policy is applied once at the edge (the runner); a library caller of execute_run
    (or fit) keeps the limit it set."""
    import scratchlab.experiments.execute as execute

    monkeypatch.delenv("SCRATCHLAB_THREADS", raising=False)
    seen = []

    def blas_now():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    real = execute.execute_run

    def spy(spec, run_dir, *, progress=None):
        seen.append(("runner", blas_now()))
        return real(spec, run_dir, progress=progress)

    monkeypatch.setattr(execute, "execute_run", spy)
    with threadpool_limits(limits=2, user_api="blas"):
        run_experiment(experiment(tmp_path, NOISY), tmp_path / "out")
        monkeypatch.setattr(execute, "execute_run", real)
        spec = experiment(tmp_path, NOISY).runs[0]
        execute_run(spec, tmp_path / "lib", progress=lambda *e: seen.append(("lib", blas_now())))
    assert seen[0] == ("runner", {1})
    assert seen[1:] and all(entry == ("lib", {2}) for entry in seen[1:])


@pytest.mark.usefixtures("no_figures")
def test_history_is_independent_of_the_callers_thread_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("SCRATCHLAB_THREADS", raising=False)
    spec = experiment(tmp_path, NOISY).runs[0]
    with threadpool_limits(limits=1, user_api="blas"):
        execute_run(spec, tmp_path / "one")
    with threadpool_limits(limits=2, user_api="blas"):
        execute_run(spec, tmp_path / "two")
    assert history_rows(tmp_path / "one") == history_rows(tmp_path / "two")


@pytest.mark.usefixtures("no_figures")
def test_checkpointed_and_uncheckpointed_runs_agree(tmp_path):
    """Writing checkpoints (and reading nothing back) does not touch the numbers."""
    on = experiment(tmp_path, NOISY).runs[0]
    off = on.model_copy(update={"train": on.train.model_copy(update={"checkpoint_every": 0})})
    execute_run(on, tmp_path / "on")
    execute_run(off, tmp_path / "off")
    assert history_rows(tmp_path / "on") == history_rows(tmp_path / "off")
    with np.load(tmp_path / "on" / "model.npz") as a, np.load(tmp_path / "off" / "model.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files)
