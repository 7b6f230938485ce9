"""`assemble(spec, splits, seed) -> Parts`: the only code that reads a run spec's training setup.

    RunSpec ─► Parts(model, optimizer, schedule, augment, callbacks, rng, n_batch, n_epochs,
                     train, val)  ─► fit_parts(parts, extra callbacks) ─► History

One Generator, seeded with `seed`, initialises the model and drives shuffling, augmentation
and dropout; it is part of the training state (scratchlab.train.TrainState).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scratchlab.data import Splits
from scratchlab.experiments.schema import RunSpec
from scratchlab.nn import Sequential, build_mlp
from scratchlab.optim import get_optimizer, get_schedule
from scratchlab.train import EarlyStopping, KeepBest, TrainState, fit


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
    callbacks: list = field(default_factory=list)  # early stopping / keep-best trackers

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
    return get_schedule(name, spec.train.eta, **params)


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
    steps = 1 if n_batch is None else math.ceil(n_train / n_batch)
    epochs = n_epochs or spec.train.n_epochs
    return Parts(
        model=model,
        optimizer=make_optimizer(spec),
        schedule=make_schedule(spec, steps, epochs),
        augment=make_augment(spec, splits),
        rng=rng,
        n_batch=n_batch,
        n_epochs=epochs,
        shuffle=spec.train.shuffle,
        train=(splits.train.X, splits.train.y),
        val=(splits.val.X, splits.val.y) if with_val else None,
        callbacks=make_trackers(spec) if with_val else [],
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
    )
