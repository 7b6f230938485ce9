"""fit: batching, history rows, divergence, determinism, resume (real `scratchlab.nn` models)."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

from scratchlab.errors import ConfigError
from scratchlab.nn import build_mlp
from scratchlab.optim import get_optimizer, get_schedule
from scratchlab.train import COLUMNS, History, RichProgress, fit


def blobs(n=300, d=10, k=3, seed=0, sep=3.0):
    """Separable Gaussian blobs: float32 X (n, d), int64 y (n,)."""
    rng = np.random.default_rng(seed)
    centres = sep * rng.standard_normal((k, d))
    y = rng.integers(0, k, n)
    X = centres[y] + rng.standard_normal((n, d))
    return X.astype(np.float32), y.astype(np.int64)


def indexed(n=10, d=3):
    """X whose last column is the row index, so a batch tells which rows it holds."""
    X = np.zeros((n, d), np.float32)
    X[:, -1] = np.arange(n)
    return X, np.arange(n, dtype=np.int64) % 2


class Recorder:
    """Wraps a model and records each training batch (rows by index column, and labels)."""

    def __init__(self, model) -> None:
        self.model, self.batches = model, []

    def train_step_grads(self, X, y):
        self.batches.append((X[:, -1].astype(int).tolist(), y.tolist()))
        return self.model.train_step_grads(X, y)

    def __getattr__(self, name):
        return getattr(self.model, name)


def without_time(history):
    return [{k: v for k, v in r.items() if k != "time"} for r in history.rows]


def test_batches_in_order_cover_rows_in_order():
    X, y = indexed(10)
    seen = []

    def augment(Xb, rng):
        seen.append(Xb[:, -1].astype(int).tolist())
        Xb[:] = 0  # augment may write into its input: it gets a buffer, not a view of X
        return Xb

    model = build_mlp(3, 2, rng=np.random.default_rng(0))
    fit(
        model,
        (X, y),
        None,
        optimizer="sgd",
        schedule=1e-3,
        n_epochs=2,
        n_batch=4,
        rng=np.random.default_rng(0),
        augment=augment,
    )
    assert seen == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] * 2
    assert X[:, -1].tolist() == list(range(10))


def test_shuffle_new_order_each_epoch_every_row_once():
    X, y = indexed(20)
    model = Recorder(build_mlp(3, 2, rng=np.random.default_rng(0)))
    fit(
        model,
        (X, y),
        None,
        optimizer="sgd",
        schedule=1e-3,
        n_epochs=3,
        n_batch=6,
        shuffle=True,
        rng=np.random.default_rng(1),
    )
    assert [len(rows) for rows, _ in model.batches] == [6, 6, 6, 2] * 3
    orders = []
    for e in range(3):
        rows = [r for b, _ in model.batches[4 * e : 4 * e + 4] for r in b]
        labels = [lab for _, b in model.batches[4 * e : 4 * e + 4] for lab in b]
        assert sorted(rows) == list(range(20))
        assert labels == [r % 2 for r in rows]  # labels gathered with their rows
        orders.append(rows)
    assert orders[0] != orders[1] != orders[2] and orders[0] != list(range(20))


@pytest.mark.parametrize("n_batch", [None, 50, 1000])
def test_full_batch_one_update_per_epoch(n_batch):
    X, y = blobs(50)
    opt = get_optimizer("sgd")
    model = Recorder(build_mlp(10, 3, rng=np.random.default_rng(0)))
    fit(
        model,
        (X, y),
        None,
        optimizer=opt,
        schedule=0.1,
        n_epochs=3,
        n_batch=n_batch,
        shuffle=True,
        rng=np.random.default_rng(0),
    )
    assert opt.t == 3 and [len(b) for b, _ in model.batches] == [50] * 3


def test_epoch0_row_is_the_untrained_model_and_columns():
    (X, y), (Xv, yv) = blobs(200), blobs(100, seed=1)
    model = build_mlp(10, 3, l2=0.1, rng=np.random.default_rng(0))
    before_t, before_v = model.evaluate(X, y), model.evaluate(Xv, yv)
    schedule = get_schedule("step_decay", 0.1, every=1, factor=2)
    hist = fit(
        model, (X, y), (Xv, yv), optimizer="momentum", schedule=schedule, n_epochs=3, n_batch=20
    )
    assert [r["epoch"] for r in hist.rows] == [0, 1, 2, 3]
    assert all(tuple(r) == COLUMNS for r in hist.rows)
    row0 = hist.rows[0]
    assert (row0["train_loss"], row0["train_cost"], row0["train_acc"]) == pytest.approx(
        (before_t["loss"], before_t["cost"], before_t["acc"])
    )
    assert row0["val_acc"] == pytest.approx(before_v["acc"])
    assert row0["train_cost"] > row0["train_loss"]  # cost = loss + penalty
    assert [r["lr"] for r in hist.rows] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    assert all(b["time"] >= a["time"] for a, b in zip(hist.rows, hist.rows[1:], strict=False))
    assert hist.status == "completed" and hist.final() == hist.rows[-1]
    assert hist.best_epoch == hist.best("val_acc")


def test_schedule_sees_global_step_and_zero_based_epoch():
    calls = []

    class Spy:
        name = "spy"

        def lr(self, step, epoch):
            calls.append((step, epoch))
            return 0.01

    X, y = blobs(30)
    fit(build_mlp(10, 3), (X, y), None, optimizer="sgd", schedule=Spy(), n_epochs=2, n_batch=10)
    assert calls == [(0, 0), (0, 0), (1, 0), (2, 0), (3, 1), (4, 1), (5, 1)]  # first: epoch-0 row


@pytest.mark.parametrize("val", [None, "empty"])
def test_no_validation_gives_nan_columns(val):
    X, y = blobs(60)
    val = (X[:0], y[:0]) if val == "empty" else None
    hist = fit(build_mlp(10, 3), (X, y), val, optimizer="sgd", schedule=0.1, n_epochs=2)
    assert all(np.isnan(hist.as_arrays()[c]).all() for c in ("val_loss", "val_cost", "val_acc"))
    assert hist.best_epoch is None and hist.status == "completed"
    with pytest.raises(ConfigError, match="validation"):
        fit(
            build_mlp(10, 3), (X, y), val, optimizer="sgd", schedule=0.1, n_epochs=2, keep_best=True
        )


def test_loss_decreases_on_separable_problem():
    X, y = blobs(300)
    hist = fit(
        build_mlp(10, 3, rng=np.random.default_rng(0)),
        (X, y),
        blobs(100, seed=5),
        optimizer="sgd",
        schedule=0.05,
        n_epochs=10,
        n_batch=30,
    )
    loss = hist.as_arrays()["train_loss"]
    assert (np.diff(loss) < 0).all() and loss[-1] < 0.5 * loss[0]
    assert hist.final()["train_acc"] > 0.95


def test_diverging_run_ends_with_status_diverged():
    X, y = blobs(200)
    model = build_mlp(10, 3, (32,), rng=np.random.default_rng(0))
    with warnings.catch_warnings():  # the guard handles overflow: no RuntimeWarning escapes
        warnings.simplefilter("error")
        hist = fit(
            model,
            (X, y),
            blobs(50, seed=1),
            optimizer="sgd",
            schedule=1e6,
            n_epochs=10,
            n_batch=20,
            keep_best=True,
        )
    assert hist.status == "diverged" and "non-finite" in hist.message
    assert hist.rows[0]["epoch"] == 0 and len(hist.rows) < 11
    assert hist.best_epoch is not None  # keep_best restored the weights of a finite epoch
    assert all(np.isfinite(w).all() for w in model.get_weights().values())


def _run(seed, n_epochs=3, **kw):
    rng = np.random.default_rng(seed)
    (X, y), val = blobs(120), blobs(40, seed=1)
    model = build_mlp(10, 3, (16,), dropout=0.2, rng=rng)

    def noise(Xb, rng):
        Xb += rng.normal(0, 0.1, Xb.shape).astype(Xb.dtype)
        return Xb

    hist = fit(
        model,
        (X, y),
        val,
        optimizer="adam",
        schedule=1e-2,
        n_epochs=n_epochs,
        n_batch=16,
        shuffle=True,
        rng=rng,
        augment=noise,
        **kw,
    )
    return hist, model.get_weights()


def test_seeded_run_is_bit_identical():
    (h1, w1), (h2, w2) = _run(7), _run(7)
    assert without_time(h1) == without_time(h2)
    assert all(np.array_equal(w1[k], w2[k]) for k in w1) and w1.keys() == w2.keys()
    h3, _ = _run(8)
    assert without_time(h3) != without_time(h1)


def test_resume_matches_uninterrupted_run(tmp_path):
    def setup(seed):
        rng = np.random.default_rng(seed)
        model = build_mlp(10, 3, (16,), dropout=0.2, rng=rng)  # dropout draws from rng too
        return model, rng

    (X, y), val = blobs(120), blobs(40, seed=1)
    kw = dict(n_batch=16, shuffle=True)
    sched = get_schedule("cyclical", 0.05, eta_min=1e-4, step_size=6)

    model, rng = setup(3)
    opt = get_optimizer("nesterov")
    full = fit(model, (X, y), val, optimizer=opt, schedule=sched, n_epochs=4, rng=rng, **kw)
    full_weights = model.get_weights()

    model, rng = setup(3)
    opt, saved = get_optimizer("nesterov"), {}

    class Checkpoint:
        def on_epoch_end(self, epoch, row, model):
            saved.update(
                epoch=epoch,
                rng=rng.bit_generator.state,
                weights=model.get_weights(),
                opt=opt.state_dict(),
            )

    first = fit(
        model,
        (X, y),
        val,
        optimizer=opt,
        schedule=sched,
        n_epochs=2,
        rng=rng,
        callbacks=[Checkpoint()],
        **kw,
    )
    first.to_csv(tmp_path / "history.csv")
    np.savez(tmp_path / "opt.npz", **saved["opt"])

    model, rng = setup(99)  # fresh objects, different seed: everything comes from the save
    model.set_weights(saved["weights"])
    rng.bit_generator.state = saved["rng"]
    opt = get_optimizer("nesterov")
    with np.load(tmp_path / "opt.npz") as state:
        opt.load_state_dict(state)
    resumed = fit(
        model,
        (X, y),
        val,
        optimizer=opt,
        schedule=sched,
        n_epochs=4,
        rng=rng,
        history=History.from_csv(tmp_path / "history.csv"),
        **kw,
    )
    final = model.get_weights()
    assert all(np.array_equal(final[k], w) for k, w in full_weights.items())
    assert without_time(resumed) == without_time(full)
    assert resumed.rows[-1]["time"] >= first.rows[-1]["time"]


def test_callbacks_hooks_and_stop():
    events = []

    class Cb:
        def on_train_begin(self, model, history):
            events.append(("begin", len(history)))

        def on_epoch_end(self, epoch, row, model):
            events.append(("epoch", epoch))
            return epoch == 2

        def on_batch_end(self, step, loss):
            events.append(("batch", step))

        def on_train_end(self, model, history):
            events.append(("end", history.status))

    X, y = blobs(20)
    hist = fit(
        build_mlp(10, 3),
        (X, y),
        None,
        optimizer="sgd",
        schedule=0.1,
        n_epochs=5,
        n_batch=10,
        callbacks=[Cb()],
    )
    assert hist.status == "early_stopped" and hist.last_epoch == 2
    assert events == [
        ("begin", 0),
        ("epoch", 0),
        ("batch", 1),
        ("batch", 2),
        ("epoch", 1),
        ("batch", 3),
        ("batch", 4),
        ("epoch", 2),
        ("end", "early_stopped"),
    ]


def test_float64_input_is_cast_once_to_the_model_dtype():
    X, y = blobs(40)
    model = build_mlp(10, 3)
    fit(model, (X.astype(np.float64), y), None, optimizer="sgd", schedule=0.1, n_epochs=1)
    assert all(p.dtype == np.float32 for _, _, p, _ in model.parameters())


def test_bad_arguments():
    X, y = blobs(40)
    model = build_mlp(10, 3)
    common = dict(optimizer="sgd", schedule=0.1, n_epochs=2)
    with pytest.raises(ConfigError, match="rng"):
        fit(model, (X, y), None, shuffle=True, **common)
    with pytest.raises(ConfigError, match="n_batch"):
        fit(model, (X, y), None, n_batch=0, **common)
    with pytest.raises(ConfigError, match="X must be"):
        fit(model, (X, y[:-1]), None, **common)
    hist = fit(model, (X, y), None, **common)
    with pytest.raises(ConfigError, match="before"):
        fit(model, (X, y), None, history=hist, **{**common, "n_epochs": 1})


def test_progress_is_quiet_without_a_terminal(capsys):
    X, y = blobs(20)
    fit(
        build_mlp(10, 3),
        (X, y),
        None,
        optimizer="sgd",
        schedule=0.1,
        n_epochs=2,
        callbacks=[RichProgress(2)],
    )
    assert capsys.readouterr().err == ""

    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    fit(
        build_mlp(10, 3),
        (X, y),
        blobs(10, seed=2),
        optimizer="sgd",
        schedule=0.1,
        n_epochs=2,
        callbacks=[RichProgress(2, enabled=True, console=console)],
    )
    assert "val acc" in out.getvalue() and "2/2" in out.getvalue()
