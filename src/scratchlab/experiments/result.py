"""`RunResult`: what one run produced, handed once to the writers.

    Member      one trained model: seed, model, history, untrained and final scores per set,
                predictions per set, and its cycle-end snapshots (snapshot ensembles)
    Snapshot    the model at the end of a learning-rate cycle: cycle, step, scores, predictions
    RunResult   the spec, its splits, the members, the ensemble vote (ensembles only), the
                retrained model (runs with `data.retrain_split`), time and data fingerprint

The run's *headline* numbers (what its row in the report shows and what selection uses) are
the single model's, or for an ensemble the majority vote's, evaluated on train, validation
and test. A hard vote has no loss: its loss and cost are NaN. The voters' own numbers stay
apart and are summarised as mean ± std beside the vote, never mixed into it.

Two kinds of ensemble vote (`RunResult.voters`): `seeds` — M members trained with seeds
seed..seed+M-1; `snapshots` — one model's weights at the end of each learning-rate cycle
(`ensemble_snapshots = "cycle_ends"`, Huang et al. 2017). The snapshot run's own final model
stays its member (history, model.npz); the snapshots only vote. Ties go to the lowest label
between seeds and to the later snapshot's label between snapshots (two snapshots that disagree
would otherwise always fall back to the lower class index).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from scratchlab.data import Splits
from scratchlab.experiments.schema import RunSpec
from scratchlab.train import History

SETS = ("train", "val", "test")
NO_SCORE = {"loss": math.nan, "cost": math.nan, "acc": math.nan}


@dataclass
class Snapshot:
    cycle: int  # 1, 2, ...: the cycle that ended at update `step`
    step: int
    epoch: float  # step / updates per epoch
    model: object
    final: dict[str, dict]
    predictions: dict[str, np.ndarray]


@dataclass
class Member:
    seed: int
    model: object
    history: History
    untrained: dict[str, dict]  # set -> {"loss", "cost", "acc"}
    final: dict[str, dict]
    predictions: dict[str, np.ndarray]  # set -> (n,) predicted labels
    snapshots: list[Snapshot] = field(default_factory=list)


@dataclass
class Retrain:
    split: str
    epochs: int
    splits: Splits
    member: Member


@dataclass
class RunResult:
    spec: RunSpec
    splits: Splits
    members: list[Member]
    vote: dict[str, np.ndarray] | None = None  # set -> majority-vote labels (ensembles)
    retrain: Retrain | None = None
    time_s: float = 0.0
    fingerprint: str = ""
    notes: list[str] = field(default_factory=list)
    training: dict = field(default_factory=dict)  # updates_per_epoch, the resolved schedule

    @property
    def is_ensemble(self) -> bool:
        return self.vote is not None

    @property
    def ensemble_kind(self) -> str | None:
        """`seeds`, `snapshots` or None (a single model)."""
        if len(self.members) > 1:
            return "seeds"
        return "snapshots" if self.members[0].snapshots else None

    @property
    def voters(self) -> list:
        """What votes: the members (seeds), the first member's snapshots, or nothing."""
        kind = self.ensemble_kind
        return (
            [] if kind is None else self.members if kind == "seeds" else self.members[0].snapshots
        )

    @property
    def status(self) -> str:
        """`diverged` if any member diverged, else the first member's status."""
        statuses = [m.history.status for m in self.members]
        return "diverged" if "diverged" in statuses else statuses[0]

    @property
    def predictions(self) -> dict[str, np.ndarray]:
        """The headline predictions per set (the vote's for an ensemble)."""
        return self.vote if self.vote is not None else self.members[0].predictions

    def final(self) -> dict[str, dict]:
        """The headline scores per set (the vote's accuracies, loss/cost NaN, for an ensemble)."""
        if self.vote is None:
            return self.members[0].final
        return {s: {**NO_SCORE, "acc": accuracy(self.splits, s, self.vote[s])} for s in SETS}


def evaluate_sets(model, splits: Splits) -> tuple[dict[str, dict], dict[str, np.ndarray]]:
    """Loss, cost and accuracy of `model` on each set, and its predictions there (the uint8
    images standardised block by block: `Sequential.evaluate(transform=)`)."""
    scores, predictions = {}, {}
    st = splits.standardiser
    for name in SETS:
        part = getattr(splits, name)
        if part.n == 0:
            scores[name], predictions[name] = dict(NO_SCORE), np.empty(0, np.int64)
            continue
        result = model.evaluate(part.X, part.y, transform=st)
        scores[name] = {k: float(v) for k, v in result.items()}
        predictions[name] = model.predict(part.X, transform=st)
    return scores, predictions


def accuracy(splits: Splits, name: str, predicted: np.ndarray) -> float:
    y = getattr(splits, name).y
    return float(np.mean(predicted == y)) if len(y) else math.nan


def majority_vote(
    predictions: np.ndarray, n_classes: int, *, later_wins_ties: bool = False
) -> np.ndarray:
    """predictions: (M, N) labels → (N,) most frequent label; ties go to the lowest label.

    `later_wins_ties` (snapshot ensembles, voter i = the model after cycle i+1): of the labels
    with the most votes, the one a later voter chose wins: score = count·(M+1) + (index of
    the last voter that chose it, 1-based; 0 for none), exact in int64.
    """
    m, n = predictions.shape
    cols = np.arange(n)
    counts = np.zeros((n, n_classes), dtype=np.int64)
    np.add.at(counts, (cols[None, :], predictions), 1)
    if not later_wins_ties:
        return counts.argmax(axis=1)
    last = np.zeros_like(counts)
    for i in range(m):  # later voters overwrite earlier ones
        last[cols, predictions[i]] = i + 1
    return (counts * (m + 1) + last).argmax(axis=1)


def snapshot_members(model, taken: list, cycle: int, splits: Splits, u: int) -> list[Snapshot]:
    """Evaluate each `(step, weights)` taken at a cycle end (`cycle` updates per cycle, `u`
    updates per epoch) on every set, each in its own copy of `model`."""
    out = []
    for step, weights in taken:
        copy = model.copy()
        copy.set_weights(weights)
        final, predictions = evaluate_sets(copy, splits)
        out.append(Snapshot(step // cycle, step, step / u, copy, final, predictions))
    return out


def vote_of(members: list, n_classes: int) -> dict[str, np.ndarray]:
    """The voters' (members' or snapshots') majority vote on every set; between snapshots a
    tie goes to the latest one's label."""
    later = bool(members) and isinstance(members[0], Snapshot)
    return {
        s: majority_vote(
            np.stack([m.predictions[s] for m in members]), n_classes, later_wins_ties=later
        )
        if len(members[0].predictions[s])
        else np.empty(0, np.int64)
        for s in SETS
    }


def member_spread(members: list) -> tuple[dict, dict]:
    """Mean and (population) standard deviation of the voters' final scores per set."""
    mean, std = {}, {}
    for s in SETS:
        values = {k: np.array([m.final[s][k] for m in members]) for k in ("loss", "cost", "acc")}
        mean[s] = {k: float(np.mean(v)) for k, v in values.items()}
        std[s] = {k: float(np.std(v)) for k, v in values.items()}
    return mean, std
