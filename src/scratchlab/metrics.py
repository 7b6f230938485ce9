"""Classification metrics for a report, thin over :mod:`sklearn.metrics`.

Everything returned is JSON-serialisable (plain lists, ints and floats) so it can go
straight into ``metrics.json``. Labels are ints ``0..K-1`` indexing ``class_names``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

__all__ = ["classification_metrics", "misclassified", "per_class_table_markdown"]


def _labels(y_true, y_pred, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    if n_classes is not None:
        for name, y in (("y_true", y_true), ("y_pred", y_pred)):
            if y.size and (y.min() < 0 or y.max() >= n_classes):
                raise ValueError(f"{name} has labels outside 0..{n_classes - 1}")
    return y_true, y_pred


def classification_metrics(y_true, y_pred, class_names: Sequence[str]) -> dict:
    """Accuracy, confusion matrices and per-class precision/recall/F1 for K classes.

    y_true, y_pred: (N,) ints in 0..K-1 with K = len(class_names); N >= 1.
    Returns a dict::

        n                      int, number of samples
        accuracy               float in [0, 1]
        class_names            [K] str
        confusion              [K][K] int counts; rows = true class, columns = predicted
        confusion_normalised   [K][K] float; each row divided by its sum (all zeros for a
                               class absent from y_true), so the diagonal is per-class recall
        precision, recall, f1  [K] float (zero_division=0: a class never predicted gets 0)
        support                [K] int, true samples per class
        macro                  {"precision", "recall", "f1"}: unweighted means over classes
    """
    names = [str(c) for c in class_names]
    K = len(names)
    y_true, y_pred = _labels(y_true, y_pred, K)
    if y_true.size == 0:
        raise ValueError("classification_metrics needs at least one sample")
    labels = np.arange(K)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    row_sums = cm.sum(axis=1, keepdims=True)
    cm_norm = np.divide(cm, row_sums, out=np.zeros(cm.shape, dtype=float), where=row_sums > 0)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return {
        "n": int(y_true.size),
        "accuracy": float(np.mean(y_true == y_pred)),
        "class_names": names,
        "confusion": cm.astype(int).tolist(),
        "confusion_normalised": cm_norm.tolist(),
        "precision": [float(v) for v in precision],
        "recall": [float(v) for v in recall],
        "f1": [float(v) for v in f1],
        "support": [int(v) for v in support],
        "macro": {
            "precision": float(np.mean(precision)),
            "recall": float(np.mean(recall)),
            "f1": float(np.mean(f1)),
        },
    }


def misclassified(y_true, y_pred, n: int = 9) -> np.ndarray:
    """Indices of the first ``n`` samples with ``y_pred != y_true``, in test-set order.

    y_true, y_pred: (N,) -> (m,) int64 with m = min(n, number misclassified).
    """
    y_true, y_pred = _labels(y_true, y_pred)
    return np.flatnonzero(y_true != y_pred)[: max(int(n), 0)].astype(np.int64)


def _cell(name: str) -> str:
    return name.replace("|", "\\|")


def per_class_table_markdown(metrics: dict, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table: one row per class, then the macro average.

    ``metrics`` is the dict from :func:`classification_metrics` (or one read back from JSON).
    """
    f = f"{{:.{digits}f}}"
    lines = [
        "| class | precision | recall | F1 | support |",
        "|:--|--:|--:|--:|--:|",
    ]
    rows = zip(
        metrics["class_names"],
        metrics["precision"],
        metrics["recall"],
        metrics["f1"],
        metrics["support"],
        strict=True,
    )
    for name, p, r, f1, s in rows:
        lines.append(f"| {_cell(name)} | {f.format(p)} | {f.format(r)} | {f.format(f1)} | {s} |")
    m = metrics["macro"]
    total = sum(metrics["support"])
    lines.append(
        f"| **macro avg** | {f.format(m['precision'])} | {f.format(m['recall'])} "
        f"| {f.format(m['f1'])} | {total} |"
    )
    return "\n".join(lines) + "\n"
