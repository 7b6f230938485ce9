"""`RunResult`: what one run produced, handed once to the writers.

    Member      one trained model: seed, model, history, untrained and final scores per set,
                predictions per set
    RunResult   the spec, its splits, the members, the ensemble vote (ensembles only), the
                retrained model (runs with `data.retrain_split`), time and data fingerprint

The run's *headline* numbers (what its row in the report shows and what selection uses) are
the single model's, or for an ensemble the majority vote's, evaluated on train, validation
and test. A hard vote has no loss: its loss and cost are NaN. Members' own numbers stay in
`members` and are summarised as mean ± std beside the vote, never mixed into it.
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
class Member:
    seed: int
    model: object
    history: History
    untrained: dict[str, dict]  # set -> {"loss", "cost", "acc"}
    final: dict[str, dict]
    predictions: dict[str, np.ndarray]  # set -> (n,) predicted labels


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

    @property
    def is_ensemble(self) -> bool:
        return self.vote is not None

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
    """Loss, cost and accuracy of `model` on each set, and its predictions there."""
    scores, predictions = {}, {}
    for name in SETS:
        part = getattr(splits, name)
        if part.n == 0:
            scores[name], predictions[name] = dict(NO_SCORE), np.empty(0, np.int64)
            continue
        scores[name] = {k: float(v) for k, v in model.evaluate(part.X, part.y).items()}
        predictions[name] = model.predict(part.X)
    return scores, predictions


def accuracy(splits: Splits, name: str, predicted: np.ndarray) -> float:
    y = getattr(splits, name).y
    return float(np.mean(predicted == y)) if len(y) else math.nan


def majority_vote(predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """predictions: (M, N) labels → (N,) most frequent label; ties go to the lowest label."""
    counts = np.zeros((predictions.shape[1], n_classes), dtype=np.int64)
    np.add.at(counts, (np.arange(predictions.shape[1])[None, :], predictions), 1)
    return counts.argmax(axis=1)


def vote_of(members: list[Member], n_classes: int) -> dict[str, np.ndarray]:
    """The members' majority vote on every set."""
    return {
        s: majority_vote(np.stack([m.predictions[s] for m in members]), n_classes)
        if len(members[0].predictions[s])
        else np.empty(0, np.int64)
        for s in SETS
    }


def member_spread(members: list[Member]) -> tuple[dict, dict]:
    """Mean and (population) standard deviation of the members' final scores per set."""
    mean, std = {}, {}
    for s in SETS:
        values = {k: np.array([m.final[s][k] for m in members]) for k in ("loss", "cost", "acc")}
        mean[s] = {k: float(np.mean(v)) for k, v in values.items()}
        std[s] = {k: float(np.std(v)) for k, v in values.items()}
    return mean, std
