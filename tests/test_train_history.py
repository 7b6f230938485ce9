"""History: CSV round trip (bit-exact, atomic), arrays, final row, best epoch."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scratchlab.errors import ScratchlabError
from scratchlab.train import COLUMNS, History


def make(n=3, val=True):
    h = History()
    for e in range(n):
        v, acc = (1 / 3 + e, 0.7 - (e - 1) ** 2 / 10) if val else (math.nan, math.nan)
        h.append(
            {
                "epoch": e,
                "train_loss": 2.0 / (e + 1),
                "train_cost": 2.1 / (e + 1),
                "train_acc": 0.1 * e,
                "val_loss": v,
                "val_cost": v,
                "val_acc": acc,
                "lr": 1e-3 * 0.9**e,
                "time": 0.1 * e,
            }
        )
    return h


def test_csv_round_trip_is_exact(tmp_path):
    h = make()
    h.rows[0]["val_loss"] = math.nan
    path = h.to_csv(tmp_path / "sub" / "history.csv")
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    back = History.from_csv(path)
    assert len(back) == 3 and back.status == "completed" and back.best_epoch == 1
    for a, b in zip(h.rows, back.rows, strict=True):
        assert a.keys() == b.keys()
        assert all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)
    assert isinstance(back.rows[0]["epoch"], int)


def test_to_csv_is_atomic_and_overwrites(tmp_path):
    path = tmp_path / "history.csv"
    make(2).to_csv(path)
    make(4).to_csv(path)
    assert len(History.from_csv(path)) == 4
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]  # no temp file left


def test_from_csv_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("epoch,loss\n0,1.0\n")
    with pytest.raises(ScratchlabError, match="header lacks"):
        History.from_csv(bad)
    with pytest.raises(ScratchlabError, match="cannot read"):
        History.from_csv(tmp_path / "missing.csv")
    bad.write_text(",".join(COLUMNS) + "\n0," + ",".join(["x"] * 8) + "\n")
    with pytest.raises(ScratchlabError, match="line 2"):
        History.from_csv(bad)


def test_arrays_final_best():
    h = make(4)
    arrays = h.as_arrays()
    assert set(arrays) == set(COLUMNS) and arrays["epoch"].dtype == np.int64
    np.testing.assert_allclose(arrays["train_loss"], [2.0, 1.0, 2 / 3, 0.5])
    final = h.final()
    final["epoch"] = 99
    assert h.rows[-1]["epoch"] == 3 and h.last_epoch == 3
    assert h.best("val_acc") == 1 and h.best("val_loss") == 0 and h.best("train_loss") == 3
    assert make(2, val=False).best("val_acc") is None
    with pytest.raises(ScratchlabError, match="empty"):
        History().final()
    with pytest.raises(ScratchlabError, match="lacks"):
        History().append({"epoch": 0})


def test_train_state_round_trip_resumes_bit_identically(tmp_path):
    """Save the TrainState mid-training, load it into fresh objects, finish: same weights."""
    import numpy as np

    from scratchlab.nn import build_mlp
    from scratchlab.optim import get_optimizer
    from scratchlab.train import EarlyStopping, TrainState, fit

    rng0 = np.random.default_rng(5)
    X = rng0.standard_normal((120, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 1)
    val = (X[:30], y[:30])

    def setup(seed):
        rng = np.random.default_rng(seed)
        model = build_mlp(6, 3, (8,), dropout=0.2, rng=rng)
        es = EarlyStopping("val_loss", patience=50)
        return TrainState(model, get_optimizer("adam"), rng, callbacks=[es])

    def train(state, n_epochs):
        return fit(state.model, (X, y), val, optimizer=state.optimizer, schedule=0.01,
                   n_epochs=n_epochs, n_batch=16, shuffle=True, rng=state.rng,
                   history=state.history, early_stopping=state.callbacks[0])  # fmt: skip

    full = setup(1)
    train(full, 5)
    half = setup(1)
    train(half, 2)
    np.savez(tmp_path / "s.npz", **half.state_dict())
    fresh = setup(99)  # other seed: everything must come from the saved state
    with np.load(tmp_path / "s.npz") as saved:
        fresh.load_state_dict(dict(saved))
    assert fresh.history.last_epoch == 2
    train(fresh, 5)
    assert [r["val_loss"] for r in fresh.history.rows] == [r["val_loss"] for r in full.history.rows]
    for key, w in full.model.get_weights().items():
        assert np.array_equal(fresh.model.get_weights()[key], w), key
