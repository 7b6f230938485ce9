"""A checkpoint that cannot be used — any missing or wrong field — gives a warning and the run
restarts from scratch; it never blocks the run and never half-loads into it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from runhelpers import DIGITS, experiment, history_rows, metrics, no_figures  # noqa: F401

from scratchlab.experiments.execute import execute_run
from scratchlab.io import write_npz

BODY = (
    DIGITS
    + '[[runs]]\nname = "a"\nmodel = { hidden = [8] }\n'
    + ('train = { optimizer = "adam", keep_best = true, n_epochs = 3 }\n')
)


class Stop(Exception):
    pass


def _stop_after(epoch_to_stop: int):
    def progress(epoch, n_epochs, row):
        if epoch == epoch_to_stop:
            raise Stop

    return progress


def _meta(arrays):
    return json.loads(arrays["meta"].tobytes().decode())


def _without(arrays, prefix):
    return {k: v for k, v in arrays.items() if not k.startswith(prefix)}


def _meta_without(arrays, key):
    return _with_meta(arrays, {k: v for k, v in _meta(arrays).items() if k != key})


def _with_meta(arrays, meta):
    return {**arrays, "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}


DAMAGE = {
    "no meta": lambda a: _without(a, "meta"),
    "meta not JSON": lambda a: {**a, "meta": np.frombuffer(b"{not json", dtype=np.uint8)},
    "history missing": lambda a: _meta_without(a, "history"),
    "history rows wrong": lambda a: _with_meta(a, {**_meta(a), "history": {"rows": [{}]}}),
    "rng state wrong": lambda a: _with_meta(a, {**_meta(a), "rng": {"bit_generator": "MT19937"}}),
    "a weight of another shape": lambda a: {**a, "model/0.W": np.zeros((3, 3), np.float32)},
    "a weight missing": lambda a: _without(a, "model/0.b"),
    "optimiser of another kind": lambda a: {
        **_without(a, "optimizer/"),
        "optimizer/step": np.int64(4), "optimizer/velocity/0/W": np.zeros(3, np.float32)},
    "tracker state missing": lambda a: _without(a, "callback0/"),
    "tracker best not a number": lambda a: {**a, "callback0/best": np.array(["x"])},
}  # fmt: skip


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.usefixtures("no_figures")
def test_a_damaged_checkpoint_restarts_the_run(tmp_path, damage):
    spec = experiment(tmp_path, BODY).runs[0]
    execute_run(spec, tmp_path / "ref")
    with pytest.raises(Stop):
        execute_run(spec, tmp_path / "run", progress=_stop_after(2))
    path = tmp_path / "run" / "checkpoint.npz"
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    write_npz(path, DAMAGE[damage](arrays))
    with pytest.warns(UserWarning, match="ignoring unreadable checkpoint"):
        execute_run(spec, tmp_path / "run")
    assert history_rows(tmp_path / "run") == history_rows(tmp_path / "ref")
    assert metrics(tmp_path / "run") == metrics(tmp_path / "ref")
