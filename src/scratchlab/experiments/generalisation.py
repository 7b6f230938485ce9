"""Bias and variance, read from the numbers: train/val/test loss and accuracy per run.

The reading per run compares two gaps (in accuracy points):

    bias gap     = best training accuracy of any run − this run's training accuracy
    variance gap = this run's training accuracy − its validation accuracy

    variance gap >  2 points                → overfits (high variance)
    bias gap     >  2 points, variance ≤ 2  → underfits (high bias)
    otherwise                               → balanced

The thresholds are a reading aid, not a test: the table beside them has the numbers.
"""

from __future__ import annotations

import math

from scratchlab.experiments.document import Block, Heading, Para, Table

GAP_POINTS = 2.0


def _finite(x: object) -> bool:
    return isinstance(x, int | float) and not math.isnan(x)


def reading(row: dict, best_train: float) -> str:
    train, val = row["train_acc"], row["val_acc"]
    if row["status"] == "diverged":
        return "diverged"
    if not _finite(val):
        return "no validation set"
    variance = 100 * (train - val)
    bias = 100 * (best_train - train)
    if variance > GAP_POINTS:
        return f"overfits: train − val = {variance:.1f} points (variance)"
    if bias > GAP_POINTS:
        return f"underfits: {bias:.1f} points below the best training accuracy (bias)"
    return f"balanced: train − val = {variance:.1f} points"


def generalisation_blocks(rows: list[dict]) -> list[Block]:
    """A table of loss and accuracy on every set, and a reading per run."""
    with_val = [r for r in rows if _finite(r["val_acc"])]
    if len(rows) < 2 or not with_val:
        return []
    best_train = max(r["train_acc"] for r in with_val if _finite(r["train_acc"]))

    def pct(x: float) -> str:
        return f"{100 * x:.2f} %" if _finite(x) else "–"

    def num(x: float) -> str:
        return f"{x:.4f}" if _finite(x) else "–"

    table = [[r["run"], num(r["train_loss"]), num(r["val_loss"]), num(r["test_loss"]),
              pct(r["train_acc"]), pct(r["val_acc"]), pct(r["test_acc"]),
              reading(r, best_train)] for r in rows]  # fmt: skip
    header = ["run", "train loss", "val loss", "test loss", "train acc", "val acc", "test acc",
              "reading"]  # fmt: skip
    overfit = [r["run"] for r in with_val if reading(r, best_train).startswith("overfits")]
    underfit = [r["run"] for r in with_val if reading(r, best_train).startswith("underfits")]
    summary = []
    if overfit:
        summary.append(f"overfitting (train accuracy more than {GAP_POINTS:g} points above "
                       f"validation): {', '.join(f'`{n}`' for n in overfit)}")  # fmt: skip
    if underfit:
        summary.append(f"underfitting (training accuracy more than {GAP_POINTS:g} points below "
                       f"the best run's): {', '.join(f'`{n}`' for n in underfit)}")  # fmt: skip
    text = (
        ("**Reading:** " + "; ".join(summary) + ".")
        if summary
        else (
            f"**Reading:** every run is within {GAP_POINTS:g} points of the best training "
            "accuracy and of its own validation accuracy."
        )
    )
    return [
        Heading("Generalisation: bias and variance", 3),
        Table(header, table, "Loss (data term, without regularisation) and accuracy on each set."),
        Para(text),
    ]
