"""The course's sanity checks: the untrained loss against its expected value, and a tiny
subset of the training images overfitted to 100 %.

**Initial loss.** With every score 0 a K-class model predicts 1/K for each class, so its
loss is L* = ln K (softmax cross-entropy) or K − 1 (multi-class hinge with margin 1: each of
the K − 1 wrong classes contributes max(0, 0 − 0 + 1) = 1). Random initial weights spread
the scores with some standard deviation σ, which raises the expected loss: by about
(1 − 1/K) σ²/2 for cross-entropy (second-order expansion of log-sum-exp; σ = 0.55, the
spread of N(0, 0.01²) weights on 3,072 standardised inputs, gives +0.14 on ln 10 = 2.30).
A run's untrained training loss L₀ reads

    |L₀ − L*| <= TOLERANCE · L*      as expected (scores near 0 at initialisation)
    L₀ > (1 + TOLERANCE) · L*        above: the initial scores are spread out (large
                                     init_std, He/Xavier init through several layers); the
                                     model starts confident on random classes -- not an
                                     error by itself, but training has to undo it
    L₀ < (1 − TOLERANCE) · L*        below: better than chance before any training, which
                                     points at a bug, leaked labels or a wrong loss
    L₀ not finite                    not finite: the initial weights overflow

**Tiny-subset overfit** (`run_overfit`). The first run's model with λ = 0 (no L1 either), no
dropout and no augmentation, trained with the run's optimiser, learning-rate schedule,
batch size (at most the subset) and seed on the first `n_images` training images (validated
on none), until its training accuracy is 100 % or `max_epochs` epochs. A model and a
training loop that work can memorise 100 images; one that cannot points at a bug or a
learning rate that is far off. Deterministic: one seeded Generator, as for the runs.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

from scratchlab.data import Part, Splits
from scratchlab.experiments.checkspec import OverfitSpec
from scratchlab.experiments.schema import RunSpec
from scratchlab.train.callbacks import Callback

TOLERANCE = 0.10  # relative distance of L₀ from L* still read "as expected"


def expected_initial_loss(loss: str, n_classes: int) -> float:
    """L* for all-zero scores: ln K (cross_entropy) or K − 1 (svm, margin 1)."""
    return float(n_classes - 1) if loss == "svm" else math.log(n_classes)


@dataclass(frozen=True)
class InitialLoss:
    """A run's untrained training loss read against L* (see the module docstring)."""

    loss: float  # L₀
    expected: float  # L*

    @property
    def difference(self) -> float:
        return self.loss - self.expected

    @property
    def relative(self) -> float:
        return self.difference / self.expected if self.expected > 0 else math.nan

    @property
    def verdict(self) -> str:
        """`as expected`, `above`, `below` or `not finite`."""
        if not (math.isfinite(self.loss) and math.isfinite(self.relative)):
            return "not finite"
        if abs(self.relative) <= TOLERANCE:
            return "as expected"
        return "above" if self.relative > 0 else "below"


def initial_loss(loss_name: str, n_classes: int, untrained_loss: float) -> InitialLoss:
    return InitialLoss(untrained_loss, expected_initial_loss(loss_name, n_classes))


class _StopAtFullAccuracy(Callback):
    """Ends training at the first epoch whose training accuracy is 100 %."""

    def on_epoch_end(self, epoch: int, row: dict, model) -> bool:
        return row["train_acc"] >= 1.0


def overfit_spec(spec: RunSpec, o: OverfitSpec) -> RunSpec:
    """The first run's spec as the overfit trains it (see the module docstring)."""
    model = spec.model.model_copy(update={"dropout": 0.0})
    train = spec.train.model_copy(
        update={
            "lambda_": 0.0,
            "l1": 0.0,
            "augment": [],
            "early_stopping": None,
            "keep_best": False,
            "eval_every": None,
            "n_epochs": o.max_epochs,
        }
    )
    data = spec.data.model_copy(update={"retrain_split": None})
    return spec.model_copy(
        update={
            "model": model,
            "train": train,
            "data": data,
            "ensemble": 1,
            "ensemble_snapshots": None,
            "from_search": None,
        }
    )


def subset(splits: Splits, n: int) -> Splits:
    """The splits with only the first `n` training images (same standardiser, no val)."""
    X, y = splits.train
    empty = Part(X[:0], y[:0])
    return replace(splits, train=Part(X[:n], y[:n]), val=empty)


def run_overfit(spec: RunSpec, splits: Splits, o: OverfitSpec) -> dict:
    """Train `overfit_spec(spec)` on the first `o.n_images` images; the result as JSON data:
    n_images, max_epochs, reached (100 %), epochs (trained), untrained / final
    {loss, acc} on the subset, curve [[epoch, loss, acc], ...], status, time_s."""
    from scratchlab.experiments.assemble import assemble, fit_parts

    start = time.perf_counter()
    spec = overfit_spec(spec, o)
    small = subset(splits, min(o.n_images, splits.train.n))
    parts = assemble(spec, small, spec.seed, with_val=False)
    history = fit_parts(parts, parts.state(), [_StopAtFullAccuracy()])
    rows = history.epoch_rows()
    first, last = rows[0], rows[-1]
    return {
        "n_images": small.train.n,
        "max_epochs": o.max_epochs,
        "n_batch": parts.n_batch or small.train.n,
        "reached": bool(last["train_acc"] >= 1.0),
        "epochs": int(last["epoch"]),
        "untrained": {"loss": first["train_loss"], "acc": first["train_acc"]},
        "final": {"loss": last["train_loss"], "acc": last["train_acc"]},
        "curve": [[int(r["epoch"]), r["train_loss"], r["train_acc"]] for r in rows],
        "status": history.status,
        "time_s": time.perf_counter() - start,
    }
