"""A run's test set class by class: the most-confused pairs and per-class precision, recall,
F1 (from metrics.json `test_report`, computed by sklearn.metrics when the run finished)."""

from __future__ import annotations

from scratchlab.experiments.document import Block, Table
from scratchlab.experiments.records import RunRecord
from scratchlab.experiments.textfmt import count, pct


def test_set_blocks(run: RunRecord) -> list[Block]:
    """The most-confused pairs and the per-class table of a run's test-set report."""
    report = run.metrics.get("test_report")
    if not report:
        return []
    names = [str(n) for n in report["class_names"]]
    blocks: list[Block] = []
    pairs = confused_pairs(report.get("confusion") or [], names)
    if pairs:
        blocks.append(
            Table(
                ["true class", "predicted as", "images", "share of the true class"],
                pairs,
                f"Run `{run.name}`: the most confused pairs on the test set.",
            )
        )
    prf = [
        [name, pct(p, 1), pct(r, 1), pct(f, 1), count(s)]
        for name, p, r, f, s in zip(
            names,
            report["precision"],
            report["recall"],
            report["f1"],
            report["support"],
            strict=True,
        )
    ]
    blocks.append(
        Table(
            ["class", "precision", "recall", "F1", "support"],
            prf,
            f"Run `{run.name}`: per-class metrics on the test set.",
        )
    )
    return blocks


def confused_pairs(confusion: list[list[int]], names: list[str], k: int = 5) -> list[list[str]]:
    """The k largest off-diagonal counts: [true, predicted, count, % of the true class]."""
    cells = [
        (c, i, j) for i, row in enumerate(confusion) for j, c in enumerate(row) if i != j and c > 0
    ]
    cells.sort(key=lambda t: (-t[0], t[1], t[2]))
    out = []
    for c, i, j in cells[:k]:
        total = sum(confusion[i])
        out.append([names[i], names[j], str(c), pct(c / total if total else None, 1)])
    return out
