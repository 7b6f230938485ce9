"""The bias/variance reading in the report follows the numbers it is given."""

from __future__ import annotations

import math

from scratchlab.experiments.document import Para, Table
from scratchlab.experiments.generalisation import generalisation_blocks, reading


def _row(run: str, train: float, val: float, status: str = "completed") -> dict:
    return {
        "run": run,
        "status": status,
        "train_acc": train,
        "val_acc": val,
        "test_acc": val,
        "train_loss": 1 - train,
        "val_loss": 1 - val,
        "test_loss": 1 - val,
    }


def test_reading_names_variance_bias_and_balance() -> None:
    best_train = 0.99
    assert reading(_row("a", 0.99, 0.95), best_train).startswith("overfits: train − val = 4.0")
    assert reading(_row("b", 0.90, 0.895), best_train).startswith("underfits: 9.0 points")
    assert reading(_row("c", 0.985, 0.975), best_train).startswith("balanced")
    assert reading(_row("d", 0.5, 0.1, status="diverged"), best_train) == "diverged"
    assert reading(_row("e", 0.9, math.nan), best_train) == "no validation set"


def test_blocks_summarise_which_runs_over_and_underfit() -> None:
    rows = [_row("wide", 0.999, 0.97), _row("l2-extreme", 0.92, 0.915), _row("ok", 0.99, 0.98)]
    blocks = generalisation_blocks(rows)
    table = next(b for b in blocks if isinstance(b, Table))
    assert [r[0] for r in table.rows] == ["wide", "l2-extreme", "ok"]
    assert table.rows[0][4] == "99.90 %" and table.rows[0][5] == "97.00 %"
    text = next(b for b in blocks if isinstance(b, Para)).text
    assert "overfitting" in text and "`wide`" in text
    assert "underfitting" in text and "`l2-extreme`" in text
    assert "`ok`" not in text


def test_no_table_for_a_single_run_or_without_validation() -> None:
    assert generalisation_blocks([_row("only", 0.9, 0.8)]) == []
    assert generalisation_blocks([_row("a", 0.9, math.nan), _row("b", 0.8, math.nan)]) == []


def test_best_run_is_chosen_on_validation_never_on_test() -> None:
    from scratchlab.experiments.summary import best_index

    rows = [_row("a", 0.99, 0.97), _row("b", 0.99, 0.98), _row("no-val", 0.999, math.nan)]
    rows[2]["test_acc"] = 0.999  # best on test, but it has no validation accuracy
    rows[0]["test_acc"] = 0.99  # better on test than b: must not matter
    assert best_index(rows) == 1
    rows[1]["status"] = "diverged"
    assert best_index(rows) == 0
    assert (
        best_index(
            [
                {**_row("x", 0.9, math.nan), "test_acc": 0.9},
                {**_row("y", 0.9, math.nan), "test_acc": 0.95},
            ]
        )
        == 1
    )
    assert best_index([_row("d", 0.1, 0.1, status="diverged")]) is None
