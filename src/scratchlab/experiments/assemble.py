"""`assemble(spec, splits, seed) -> Parts`: the only code that reads a run spec's training setup.

    RunSpec ─► Parts(model, optimizer, schedule, augment, callbacks, rng, n_batch, n_epochs,
                     train, val, transform, eval_every)  ─► fit_parts(parts, extra callbacks)
                                                          ─► History

`train` and `val` are the uint8 images as loaded (arrays or memory maps) and `transform` the
splits' `Standardiser`: `fit` standardises each batch and each evaluation block into a
reused float32 buffer. Augmentation works on pixels, between the standardised batch and the
model: standardised → pixels (`Splits.raw`) → augment → standardised (`Splits.standardise`),
the composition of float32-resident data, kept so augmented runs reproduce their earlier
numbers bit for bit (`raw` returns x / 255 to float32 rounding).

One Generator, seeded with `seed`, initialises the model and drives shuffling, augmentation
and dropout; it is part of the training state (scratchlab.train.TrainState).

Lengths given in epochs become updates here, with u = updates per epoch = ceil(n_train / n_batch)
(the last batch of an epoch may be smaller; full batch: u = 1):

    cyclical step_size_epochs = k  ─► n_s = max(1, round(k * u))   (one cycle = 2 n_s updates)
    eval_every = { epochs = f }    ─► eval_every = max(1, round(f * u))

so `step_size_epochs = 2` with n_batch 100 is the course's n_s = 2 floor(n/100) whenever 100
divides n (45,000 or 49,000 images), and cycles then end on epoch ends. A snapshot ensemble
(`ensemble_snapshots = "cycle_ends"`) adds a `CycleSnapshots(2 n_s)` to the trackers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scratchlab.data import Splits
from scratchlab.errors import ConfigError
from scratchlab.experiments.schema import RunSpec
from scratchlab.nn import Sequential, build_mlp
from scratchlab.optim import get_optimizer, get_schedule
from scratchlab.train import EarlyStopping, KeepBest, TrainState, fit
from scratchlab.train.snapshots import CycleSnapshots


@dataclass
class Parts:
    model: Sequential
    optimizer: Any
    schedule: Any
    augment: Any
    rng: np.random.Generator
    n_batch: int | None
    n_epochs: int
    shuffle: bool
    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray] | None
    callbacks: list = field(default_factory=list)  # early stopping / keep-best / snapshots
    transform: Any = None  # stored rows -> model inputs, per batch (the splits' standardiser)
    eval_every: int | None = None  # updates between evaluations (None: once per epoch)
    updates_per_epoch: int = 1

    @property
    def snapshots(self) -> CycleSnapshots | None:
        return next((c for c in self.callbacks if isinstance(c, CycleSnapshots)), None)

    def state(self) -> TrainState:
        """The training state these parts make up (a checkpoint saves it, a resume loads it)."""
        return TrainState(self.model, self.optimizer, self.rng, callbacks=self.callbacks)


def build_model(spec: RunSpec, splits: Splits, rng: np.random.Generator) -> Sequential:
    m, t = spec.model, spec.train
    return build_mlp(
        splits.dim,
        splits.n_classes,
        tuple(m.hidden),
        activation=m.activation,
        dropout=m.dropout,
        dropout_where=m.dropout_where,
        batch_norm=m.batch_norm,
        loss=m.loss,
        init=m.init,
        init_std=m.init_std,
        l2=t.lambda_,
        l1=t.l1,
        rng=rng,
    )


def make_optimizer(spec: RunSpec):
    """The optimiser with its hyper-parameters from `train.optimizer_params`."""
    t = spec.train
    return get_optimizer(t.optimizer, **t.optimizer_params.for_optimizer(t.optimizer))


def make_schedule(spec: RunSpec, steps_per_epoch: int, n_epochs: int):
    params = spec.train.schedule.model_dump()
    name = params.pop("name")
    if name == "cosine":
        params["total_steps"] = n_epochs * steps_per_epoch
    if name == "cyclical":
        epochs = params.pop("step_size_epochs", None)
        if epochs is not None:
            params["step_size"] = in_updates(epochs, steps_per_epoch)
    return get_schedule(name, spec.train.eta, **params)


def in_updates(epochs: float, steps_per_epoch: int) -> int:
    """A length in epochs as a whole number of updates (at least 1)."""
    return max(1, round(epochs * steps_per_epoch))


def updates_per_epoch(spec: RunSpec, n_train: int) -> int:
    """ceil(n_train / n_batch); 1 for full-batch training."""
    n_batch = spec.train.n_batch
    return 1 if n_batch == "full" else math.ceil(n_train / min(n_batch, n_train))


def eval_every(spec: RunSpec, steps_per_epoch: int) -> int | None:
    """`train.eval_every` in updates (None: evaluate at epoch ends only)."""
    every = spec.train.eval_every
    if every is None or isinstance(every, int):
        return every
    return in_updates(every.epochs, steps_per_epoch)


def check_cycles(where: str, spec: RunSpec, n_train: int) -> None:
    """A snapshot ensemble must complete at least one cycle (2 n_s updates) in its epochs."""
    if spec.ensemble_snapshots is None:
        return
    u = updates_per_epoch(spec, n_train)
    cycle = 2 * make_schedule(spec, u, spec.train.n_epochs).step_size
    total = spec.train.n_epochs * u
    if total < cycle:
        raise ConfigError(
            f"{where}: ensemble_snapshots needs at least one whole cycle, but train.n_epochs = "
            f"{spec.train.n_epochs} gives {total} updates and a cycle is {cycle} (2 n_s); "
            f"train for at least {math.ceil(cycle / u)} epochs"
        )


def make_augment(spec: RunSpec, splits: Splits):
    """Standardised batch → pixels → augment → standardised (None: no augmentation)."""
    if not spec.train.augment:
        return None
    from scratchlab.data.augment import build_augmenter

    augmenter = build_augmenter([a.as_dict() for a in spec.train.augment], splits.image_shape)
    return lambda Xb, rng: splits.standardise(augmenter(splits.raw(Xb), rng))


def make_trackers(spec: RunSpec) -> list:
    """Early stopping and keep-best (they need a validation part)."""
    t, trackers = spec.train, []
    if t.early_stopping is not None:
        es = t.early_stopping
        trackers.append(EarlyStopping(es.monitor, es.patience, es.min_delta, es.restore_best))
    if t.keep_best:
        trackers.append(KeepBest())
    return trackers


def assemble(
    spec: RunSpec, splits: Splits, seed: int, *, with_val: bool = True, n_epochs: int | None = None
) -> Parts:
    """Everything `fit` needs for one model of `spec` (a member has its own `seed`)."""
    rng = np.random.default_rng(seed)
    model = build_model(spec, splits, rng)
    n_train = splits.train.n
    n_batch = None if spec.train.n_batch == "full" else min(spec.train.n_batch, n_train)
    steps = updates_per_epoch(spec, n_train)
    epochs = n_epochs or spec.train.n_epochs
    schedule = make_schedule(spec, steps, epochs)
    callbacks = make_trackers(spec) if with_val else []
    if spec.ensemble_snapshots == "cycle_ends":
        callbacks.append(CycleSnapshots(2 * schedule.step_size))
    return Parts(
        model=model,
        optimizer=make_optimizer(spec),
        schedule=schedule,
        augment=make_augment(spec, splits),
        rng=rng,
        n_batch=n_batch,
        n_epochs=epochs,
        shuffle=spec.train.shuffle,
        train=(splits.train.X, splits.train.y),
        val=(splits.val.X, splits.val.y) if with_val else None,
        callbacks=callbacks,
        transform=splits.standardiser,
        eval_every=eval_every(spec, steps),
        updates_per_epoch=steps,
    )


def fit_parts(parts: Parts, state: TrainState, callbacks: list):
    """Train (or resume) `state` to `parts.n_epochs`; `callbacks` run after the trackers."""
    return fit(
        state.model,
        parts.train,
        parts.val,
        optimizer=state.optimizer,
        schedule=parts.schedule,
        n_epochs=parts.n_epochs,
        n_batch=parts.n_batch,
        shuffle=parts.shuffle,
        rng=state.rng,
        augment=parts.augment,
        callbacks=[*state.callbacks, *callbacks],
        history=state.history,
        eval_every=parts.eval_every,
        transform=parts.transform,
    )
