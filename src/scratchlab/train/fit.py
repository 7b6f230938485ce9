"""`fit`: mini-batch training with per-epoch evaluation, callbacks and a divergence guard.

    for epoch in history.last_epoch+1 .. n_epochs:
        batches (in order, or a fresh permutation per epoch) ─► augment ─►
        loss = model.train_step_grads(Xb, yb) ─► optimizer.step(model, schedule.lr(step, epoch-1))
        row = evaluate(whole train set, whole val set) + lr + time ─► history ─► callbacks

Batches: with `shuffle=False` batch j is rows j*n_batch:(j+1)*n_batch (DD2424 Assignment 1),
handed over as views (no copy); the last batch may be smaller. With `shuffle=True` the row
order is `rng.permutation(N)` each epoch and each batch is gathered with `np.take(..., out=)`
into one preallocated buffer, so no shuffled copy of the training set is ever made. Full
batch (`n_batch=None` or >= N) is one update per epoch on the whole set (never shuffled: the
order of a full batch does not change its gradient).

Resume: a resume is "load the state" (`scratchlab.train.TrainState`: model, optimiser, rng,
history, callbacks, each with `state_dict` / `load_state_dict`), then
`fit(..., n_epochs=total, history=state.history, callbacks=state.callbacks)` continues with
epoch `history.last_epoch + 1` and, given the same seeds, reproduces the uninterrupted run.
A callback whose restored state says it already ended training (`stopped`) ends it again
before any epoch.

Threads: `fit` runs under whatever BLAS thread limit its caller set (see scratchlab.threads).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from scratchlab.errors import ConfigError, DataError
from scratchlab.optim import Optimizer, Schedule, get_optimizer, get_schedule
from scratchlab.train.callbacks import EarlyStopping, KeepBest
from scratchlab.train.history import History

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class _Batches:
    """Yields `(Xb, yb)` for one epoch; reuses one batch buffer when gathering or copying."""

    def __init__(
        self, X: np.ndarray, y: np.ndarray, n_batch: int | None, shuffle: bool, copy: bool
    ) -> None:
        self.X, self.y, self.n = X, y, len(X)
        self.size = self.n if n_batch is None else min(int(n_batch), self.n)
        self.shuffle = shuffle and self.size < self.n
        gather = self.shuffle or copy  # augment may write into its input: never a view of X
        self.xbuf = np.empty((self.size, *X.shape[1:]), X.dtype) if gather else None
        self.ybuf = np.empty(self.size, y.dtype) if self.shuffle else None

    def __len__(self) -> int:
        return -(-self.n // self.size)

    def epoch(self, rng: np.random.Generator | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        perm = rng.permutation(self.n) if self.shuffle else None
        for start in range(0, self.n, self.size):
            stop = min(start + self.size, self.n)
            if perm is not None:
                idx = perm[start:stop]
                xb = np.take(self.X, idx, axis=0, out=self.xbuf[: stop - start], mode="clip")
                yb = np.take(self.y, idx, out=self.ybuf[: stop - start], mode="clip")
            else:
                xb, yb = self.X[start:stop], self.y[start:stop]
                if self.xbuf is not None:
                    buf = self.xbuf[: stop - start]
                    np.copyto(buf, xb)
                    xb = buf
            yield xb, yb


def _as_xy(data: Any, what: str, dtype: np.dtype | None) -> tuple[np.ndarray, np.ndarray] | None:
    if data is None:
        return None
    try:
        X, y = data
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a pair (X, y)") from None
    X = np.asarray(X) if dtype is None else np.asarray(X, dtype=dtype)  # one cast, at the edge
    y = np.asarray(y, dtype=np.int64)
    if X.ndim < 2 or y.ndim != 1 or len(X) != len(y):
        raise ConfigError(f"{what}: X must be (N, d) and y (N,), got {X.shape} and {y.shape}")
    if not all_finite(X):
        bad = int(np.count_nonzero(~np.isfinite(X).all(axis=tuple(range(1, X.ndim)))))
        raise DataError(f"{what}: X holds NaN or infinite values in {bad} of {len(X)} rows; "
                        "clean or drop those rows before training")  # fmt: skip
    return X, y


def all_finite(X: np.ndarray) -> bool:
    """True if X holds no NaN/inf: a float64 sum is NaN/inf iff an entry is (no temporary
    the size of X); only a sum that overflows from finite float64 values is re-checked."""
    if not np.issubdtype(X.dtype, np.floating) or X.size == 0:
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(np.sum(X, dtype=np.float64))
    return math.isfinite(total) or bool(np.isfinite(X).all())


def _evaluate(model: Any, data: tuple | None, chunk: int) -> tuple[float, float, float]:
    if data is None or len(data[0]) == 0:
        return math.nan, math.nan, math.nan
    r = model.evaluate(data[0], data[1], chunk=chunk)
    return float(r["loss"]), float(r["cost"]), float(r["acc"])


def _epoch_row(model, train, val, chunk, epoch, lr, clock) -> dict[str, float]:
    tl, tc, ta = _evaluate(model, train, chunk)
    vl, vc, va = _evaluate(model, val, chunk)
    return {
        "epoch": epoch,
        "train_loss": tl,
        "train_cost": tc,
        "train_acc": ta,
        "val_loss": vl,
        "val_cost": vc,
        "val_acc": va,
        "lr": float(lr),
        "time": clock(),  # after the evaluation: wall-clock seconds so far
    }


def _non_finite(row: dict, has_val: bool) -> str | None:
    keys = ("train_loss", "train_cost") + (("val_loss", "val_cost") if has_val else ())
    bad = [k for k in keys if not math.isfinite(row[k])]
    return f"{bad[0]} = {row[bad[0]]}" if bad else None


def fit(
    model: Any,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    optimizer: Optimizer | str,
    schedule: Schedule | float,
    n_epochs: int,
    n_batch: int | None = 100,
    shuffle: bool = False,
    rng: np.random.Generator | None = None,
    augment: Augment | None = None,
    callbacks: Sequence[Any] = (),
    early_stopping: EarlyStopping | None = None,
    keep_best: bool | KeepBest = False,
    eval_chunk: int = 10_000,
    history: History | None = None,
) -> History:
    """Train `model` in place and return its `History` (epoch 0 row = before training).

    model: the `scratchlab.nn.Sequential` protocol (train_step_grads, parameters, evaluate,
        get_weights / set_weights).
    train, val: `(X (N, d), y (N,))`; X is cast once to the parameters' dtype (float32) if it
        differs. `val` may be None or empty: its columns are then NaN.
    optimizer: an `Optimizer` or a name for `get_optimizer`; schedule: a `Schedule` or a
        constant rate. The schedule sees `(step = optimizer.t, epoch = 0-based epoch)`.
    n_epochs: the epoch to train up to (like Keras: with a resumed history, the total).
    n_batch: rows per update; None (or >= N) = full batch. shuffle: new order every epoch.
    rng: the Generator for shuffling and `augment(Xb, rng) -> Xb` (needed by either).
        `augment` gets a scratch batch (never a view of X) and may change it in place.
    callbacks: see scratchlab.train.callbacks. early_stopping: an `EarlyStopping`; keep_best:
        restore the best val_acc epoch's weights at the end (True, or a `KeepBest`). Both need
        val data and run before `callbacks`.
    history: the history so far, to resume (see module docstring); training starts after its
        last epoch. Without it, training starts at epoch 0 with a fresh evaluation.
    A non-finite loss (a batch's or an evaluation's) ends the run with status `diverged`, and
    the model gets back the weights of its last finite epoch (then early stopping / keep_best
    may restore their best). NaN or inf in `train` / `val` X raises DataError up front.
    """
    params = list(model.parameters())
    dtype = params[0][2].dtype if params else None
    train_xy, val_xy = _as_xy(train, "train", dtype), _as_xy(val, "val", dtype)
    _check_args(train_xy, n_batch, shuffle or augment is not None, rng)
    hist = history if history is not None else History()
    start = hist.last_epoch or 0
    if n_epochs < start:
        raise ConfigError(f"n_epochs ({n_epochs}) is before the starting epoch ({start})")
    cbs = _callbacks(callbacks, early_stopping, keep_best, val_xy)
    loop = _Loop(model, train_xy, val_xy, hist, cbs, eval_chunk)
    opt = get_optimizer(optimizer) if isinstance(optimizer, str) else optimizer
    sched = get_schedule("constant", schedule) if isinstance(schedule, int | float) else schedule
    batches = _Batches(*train_xy, n_batch, shuffle, copy=augment is not None)

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # guarded below
        stop = loop.begin(start, sched.lr(opt.t, start))
        for epoch in range(start + 1, n_epochs + 1):
            if stop:
                break
            lr = math.nan
            for xb, yb in batches.epoch(rng):
                xb = augment(xb, rng) if augment is not None else xb
                lr = sched.lr(opt.t, epoch - 1)
                loss = model.train_step_grads(xb, yb)
                if not math.isfinite(loss):
                    loop.diverge(f"non-finite training loss ({loss}) at epoch {epoch}, "
                                 f"update {opt.t + 1}; lower the learning rate")  # fmt: skip
                    break
                opt.step(model, lr)
                loop.batch_end(opt.t, float(loss))
            stop = hist.status == "diverged" or loop.record(epoch, lr)
    return loop.end()


def _check_args(train_xy, n_batch, needs_rng: bool, rng) -> None:
    if len(train_xy[0]) == 0:
        raise ConfigError("the training set is empty")
    if n_batch is not None and (int(n_batch) != n_batch or n_batch < 1):
        raise ConfigError(f"n_batch must be a whole number >= 1 (or None: full batch): {n_batch}")
    if needs_rng and rng is None:
        raise ConfigError("shuffle and augment need rng=np.random.default_rng(seed)")


def _callbacks(callbacks, early_stopping, keep_best, val_xy) -> list:
    """early_stopping and keep_best first (a checkpoint after them sees their epoch)."""
    has_val = val_xy is not None and len(val_xy[0]) > 0
    cbs = [early_stopping] if early_stopping is not None else []
    if keep_best:
        cbs.append(keep_best if isinstance(keep_best, EarlyStopping) else KeepBest())
    cbs += list(callbacks)
    for cb in cbs:
        if isinstance(cb, EarlyStopping) and cb.monitor.startswith("val") and not has_val:
            raise ConfigError(f"{cb.monitor} (early stopping / keep_best) needs validation data")
    return cbs


class _Loop:
    """The bookkeeping around the updates: evaluation rows, callbacks, status, divergence."""

    def __init__(self, model, train_xy, val_xy, hist: History, cbs: list, chunk: int) -> None:
        self.model, self.train_xy, self.val_xy, self.hist = model, train_xy, val_xy, hist
        self.cbs, self.chunk = cbs, chunk
        self.has_val = val_xy is not None and len(val_xy[0]) > 0
        self.t0 = time.perf_counter()
        self.offset = hist.rows[-1]["time"] if hist.rows else 0.0
        self.last_finite = model.get_weights()  # weights of the last epoch with finite losses

    def _hooks(self, name: str) -> list:
        return [getattr(cb, name) for cb in self.cbs if hasattr(cb, name)]

    def begin(self, start: int, lr: float) -> bool:
        """Start (or resume) training; True = nothing to train (a callback already stopped)."""
        resumed = bool(self.hist.rows)
        self.hist.status, self.hist.message = "running", ""
        for hook in self._hooks("on_train_begin"):
            hook(self.model, self.hist)
        if any(getattr(cb, "stopped", False) for cb in self.cbs):
            return self._stopped(start)
        return False if resumed else self.record(start, lr)

    def record(self, epoch: int, lr: float) -> bool:
        """Evaluate, append the row, run the epoch callbacks; True = stop."""
        clock = lambda: self.offset + time.perf_counter() - self.t0  # noqa: E731
        row = _epoch_row(self.model, self.train_xy, self.val_xy, self.chunk, epoch, lr, clock)
        self.hist.append(row)
        row = self.hist.rows[-1]
        bad = _non_finite(row, self.has_val)
        if bad:
            self.diverge(f"non-finite {bad} at epoch {epoch}")
            return True
        self.last_finite = self.model.get_weights()
        stop = False
        for hook in self._hooks("on_epoch_end"):
            stop = bool(hook(epoch, row, self.model)) or stop
        return self._stopped(epoch) if stop else False

    def _stopped(self, epoch: int) -> bool:
        self.hist.status, self.hist.message = "early_stopped", f"stopped after epoch {epoch}"
        return True

    def batch_end(self, step: int, loss: float) -> None:
        for hook in self._hooks("on_batch_end"):
            hook(step, loss)

    def diverge(self, message: str) -> None:
        self.hist.status, self.hist.message = "diverged", message

    def end(self) -> History:
        """Final status, best epoch; restorers (early stopping, keep_best) end first."""
        if self.hist.status == "running":
            self.hist.status = "completed"
        elif self.hist.status == "diverged":
            self.model.set_weights(self.last_finite)
        self.hist.best_epoch = self.hist.best("val_acc") if self.has_val else None
        restorers = [cb for cb in self.cbs if isinstance(cb, EarlyStopping)]
        for cb in restorers + [cb for cb in self.cbs if cb not in restorers]:
            if hasattr(cb, "on_train_end"):
                cb.on_train_end(self.model, self.hist)
        return self.hist
