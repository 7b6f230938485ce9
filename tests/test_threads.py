"""The BLAS thread policy (`scratchlab.threads`): precedence, parsing, restoring."""

from __future__ import annotations

import pytest

from scratchlab.errors import ConfigError
from scratchlab.threads import (
    DEFAULT_THREADS,
    ENV_VAR,
    available_cores,
    blas_threads,
    current_blas_threads,
    resolve_threads,
)


def test_default_is_one_thread(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert DEFAULT_THREADS == 1
    assert resolve_threads() == 1


def test_env_var_and_explicit_value(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "3")
    assert resolve_threads() == 3
    assert resolve_threads(2) == 2  # explicit wins
    monkeypatch.setenv(ENV_VAR, "auto")
    assert resolve_threads() == available_cores()


@pytest.mark.parametrize("bad", ["0", "-1", "two", "1.5", 0, 2.5, True])
def test_bad_values_say_what_is_allowed(monkeypatch, bad):
    monkeypatch.setenv(ENV_VAR, str(bad))
    with pytest.raises(ConfigError, match="whole number >= 1 or 'auto'"):
        resolve_threads()
    with pytest.raises(ConfigError):
        resolve_threads(bad)


def test_block_sets_and_restores_the_limit(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    before = current_blas_threads()
    if before is None:
        pytest.skip("NumPy reports no BLAS library")
    with blas_threads(1) as n:
        assert n == 1
        assert current_blas_threads() == 1
    assert current_blas_threads() == before


def test_enclosing_block_wins_over_env(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "2")
    with blas_threads(1):
        assert resolve_threads() == 1  # what fit's own blas_threads() will use
        with blas_threads() as inner:
            assert inner == 1
    assert resolve_threads() == 2


def test_fit_keeps_the_callers_thread_limit():
    """fit never sets threads itself: a library user's limit holds inside it."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from scratchlab.nn import build_mlp
    from scratchlab.train import Callback, fit

    if current_blas_threads() is None:
        pytest.skip("no BLAS library loaded")
    seen = []

    class Spy(Callback):
        def on_epoch_end(self, epoch, row, model):
            seen.append(current_blas_threads())

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 5)).astype(np.float32), rng.integers(0, 3, 40)
    with threadpool_limits(limits=2, user_api="blas"):
        fit(build_mlp(5, 3, rng=rng), (X, y), None, optimizer="sgd", schedule=0.1,
            n_epochs=2, callbacks=[Spy()])  # fmt: skip
    assert seen == [2, 2, 2]


def test_threads_per_job_shares_cores_under_auto(monkeypatch):
    from scratchlab import threads

    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    monkeypatch.setenv(ENV_VAR, "auto")
    assert [threads.threads_per_job(j) for j in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    monkeypatch.setenv(ENV_VAR, "3")
    assert threads.threads_per_job(4) == 3  # an explicit count is used as given
    monkeypatch.delenv(ENV_VAR)
    assert threads.threads_per_job(2) == DEFAULT_THREADS
