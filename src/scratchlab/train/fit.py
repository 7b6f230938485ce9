"""`fit`: mini-batch training with per-epoch evaluation, callbacks and a divergence guard.

    for epoch in history.last_epoch+1 .. n_epochs:
        batches (in order, or a fresh permutation per epoch) ─► augment ─►
        loss = model.train_step_grads(Xb, yb) ─► optimizer.step(model, schedule.lr(step, epoch-1))
            (every `eval_every` updates, between epochs: row with `step` ─► history)
        row = evaluate(whole train set, whole val set) + lr + time ─► history ─► callbacks

Batches (scratchlab.train.batches): in order as views, or a fresh permutation each epoch
gathered into one buffer; full batch (`n_batch=None` or >= N) is one update per epoch.

Stored rows: with `transform` (e.g. `scratchlab.data.Standardiser`), X holds the images as
stored -- uint8, possibly a memory map larger than memory -- and `transform(rows, out)` maps
each batch, and each block of the evaluations, into a reused float32 buffer (bounded memory).

Resume: a resume is "load the state" (`scratchlab.train.TrainState`: model, optimiser, rng,
history, callbacks, each with `state_dict` / `load_state_dict`), then
`fit(..., n_epochs=total, history=state.history, callbacks=state.callbacks)` continues with
epoch `history.last_epoch + 1` and, given the same seeds, reproduces the uninterrupted run.
A callback whose restored state says it already ended training (`stopped`) ends it again
before any epoch.

Per-update evaluation: with `eval_every=N` the model is also evaluated after every N-th update
(optimiser step count t with t % N == 0) that does not end an epoch, and every row, those and
the epoch rows, gets a `step` column (see scratchlab.train.history). Those rows only record:
no callback sees them, early stopping and keep-best still watch epoch ends, and a checkpoint
(taken at an epoch end) holds them, so a resumed run recomputes the same rows after it.
Without `eval_every` nothing changes: the same rows, bit for bit.

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
from scratchlab.train.batches import Batches, Transform
from scratchlab.train.callbacks import EarlyStopping, KeepBest
from scratchlab.train.history import History

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


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


def _evaluate(model: Any, data: tuple | None, chunk: int, transform) -> tuple[float, float, float]:
    if data is None or len(data[0]) == 0:
        return math.nan, math.nan, math.nan
    kw = {} if transform is None else {"transform": transform}
    r = model.evaluate(data[0], data[1], chunk=chunk, **kw)
    return float(r["loss"]), float(r["cost"]), float(r["acc"])


def _epoch_row(model, train, val, chunk, epoch, lr, clock, transform=None) -> dict[str, float]:
    tl, tc, ta = _evaluate(model, train, chunk, transform)
    vl, vc, va = _evaluate(model, val, chunk, transform)
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
    eval_every: int | None = None,
    transform: Transform | None = None,
) -> History:
    """Train `model` in place and return its `History` (epoch 0 row = before training).

    model: the `scratchlab.nn.Sequential` protocol (train_step_grads, parameters, evaluate,
        get_weights / set_weights).
    train, val: `(X (N, d), y (N,))`; X is cast once to the parameters' dtype (float32) if it
        differs. `val` may be None or empty: its columns are then NaN.
    transform: `transform(rows, out) -> out` maps stored rows (X as stored: e.g. uint8, a
        memory map; never cast or copied) into the model's inputs, batch by batch and block
        by block in evaluation (scratchlab.data.Standardiser). None: X is the inputs.
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
    eval_every: also evaluate every N updates between epochs (rows with a `step` column; a
        resumed history must have been made with eval_every too). None: once per epoch.
    A non-finite loss (a batch's or an evaluation's) ends the run with status `diverged`, and
    the model gets back the weights of its last finite epoch (then early stopping / keep_best
    may restore their best). NaN or inf in `train` / `val` X raises DataError up front.
    """
    params = list(model.parameters())
    dtype = params[0][2].dtype if params else None
    cast = dtype if transform is None else None  # stored rows stay as they are
    train_xy, val_xy = _as_xy(train, "train", cast), _as_xy(val, "val", cast)
    _check_args(train_xy, n_batch, shuffle or augment is not None, rng)
    hist = history if history is not None else History()
    _check_eval_every(eval_every, hist)
    start = hist.last_epoch or 0
    if n_epochs < start:
        raise ConfigError(f"n_epochs ({n_epochs}) is before the starting epoch ({start})")
    cbs = _callbacks(callbacks, early_stopping, keep_best, val_xy)
    opt = get_optimizer(optimizer) if isinstance(optimizer, str) else optimizer
    loop = _Loop(model, train_xy, val_xy, hist, cbs, eval_chunk, opt, eval_every, transform)
    sched = get_schedule("constant", schedule) if isinstance(schedule, int | float) else schedule
    batches = Batches(*train_xy, n_batch, shuffle, augment is not None, transform, dtype or "f4")

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # guarded below
        stop = loop.begin(start, sched.lr(opt.t, start))
        for epoch in range(start + 1, n_epochs + 1):
            if stop:
                break
            lr = math.nan
            for last, (xb, yb) in _flag_last(batches.epoch(rng), len(batches)):
                xb = augment(xb, rng) if augment is not None else xb
                lr = sched.lr(opt.t, epoch - 1)
                loss = model.train_step_grads(xb, yb)
                if not math.isfinite(loss):
                    loop.diverge(f"non-finite training loss ({loss}) at epoch {epoch}, "
                                 f"update {opt.t + 1}; lower the learning rate")  # fmt: skip
                    break
                opt.step(model, lr)
                loop.batch_end(opt.t, float(loss))
                if not last and loop.due() and loop.record_between(epoch, lr):
                    break  # diverged
            stop = hist.status == "diverged" or loop.record(epoch, lr)
    return loop.end()


def _flag_last(batches: Iterator, n: int) -> Iterator[tuple[bool, Any]]:
    """(is this the epoch's last batch, batch) for the n batches of an epoch."""
    for i, batch in enumerate(batches, start=1):
        yield i == n, batch


def _check_eval_every(eval_every: int | None, hist: History) -> None:
    if eval_every is not None and (int(eval_every) != eval_every or eval_every < 1):
        raise ConfigError(f"eval_every must be a whole number of updates >= 1: {eval_every}")
    if hist.rows and hist.has_steps != (eval_every is not None):
        made = "with" if hist.has_steps else "without"
        raise ConfigError(
            f"the history to resume was made {made} eval_every; resume with the same setting"
        )


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

    def __init__(self, model, train_xy, val_xy, hist, cbs, chunk, opt, eval_every, transform):
        self.model, self.train_xy, self.val_xy, self.hist = model, train_xy, val_xy, hist
        self.cbs, self.chunk, self.opt, self.eval_every = cbs, chunk, opt, eval_every
        self.transform = transform
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

    def _evaluate(self, epoch: int, lr: float) -> dict | None:
        """Evaluate and append a row; None if it holds a non-finite loss (then diverged)."""
        clock = lambda: self.offset + time.perf_counter() - self.t0  # noqa: E731
        row = _epoch_row(
            self.model, self.train_xy, self.val_xy, self.chunk, epoch, lr, clock, self.transform
        )
        if self.eval_every is not None:
            row["step"] = self.opt.t
        self.hist.append(row)
        row = self.hist.rows[-1]
        bad = _non_finite(row, self.has_val)
        if bad:
            where = f"update {self.opt.t} (epoch {epoch})" if "step" in row else f"epoch {epoch}"
            self.diverge(f"non-finite {bad} at {where}")
            return None
        return row

    def due(self) -> bool:
        """True after an update whose count is a multiple of eval_every."""
        return self.eval_every is not None and self.opt.t % self.eval_every == 0

    def record_between(self, epoch: int, lr: float) -> bool:
        """A row between epochs (no callbacks); True = diverged."""
        return self._evaluate(epoch, lr) is None

    def record(self, epoch: int, lr: float) -> bool:
        """Evaluate, append the row, run the epoch callbacks; True = stop."""
        row = self._evaluate(epoch, lr)
        if row is None:
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
