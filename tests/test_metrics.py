from __future__ import annotations

import json

import numpy as np
import pytest

from scratchlab.metrics import classification_metrics, misclassified, per_class_table_markdown

NAMES = ["cat", "dog", "bird"]
# true: 0 0 0 0 1 1 1 2 2 2
# pred: 0 0 1 2 1 1 0 2 2 1
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 2, 1, 1, 0, 2, 2, 1])


def test_hand_computed_three_classes():
    m = classification_metrics(Y_TRUE, Y_PRED, NAMES)
    assert m["n"] == 10
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["confusion"] == [[2, 1, 1], [1, 2, 0], [0, 1, 2]]
    np.testing.assert_allclose(
        m["confusion_normalised"], [[0.5, 0.25, 0.25], [1 / 3, 2 / 3, 0], [0, 1 / 3, 2 / 3]]
    )
    # precision = diagonal / column sums; recall = diagonal / row sums
    np.testing.assert_allclose(m["precision"], [2 / 3, 2 / 4, 2 / 3])
    np.testing.assert_allclose(m["recall"], [2 / 4, 2 / 3, 2 / 3])
    p, r = np.array(m["precision"]), np.array(m["recall"])
    np.testing.assert_allclose(m["f1"], 2 * p * r / (p + r))
    assert m["support"] == [4, 3, 3]
    assert m["macro"]["precision"] == pytest.approx(np.mean(p))
    assert m["macro"]["recall"] == pytest.approx(np.mean(r))
    assert m["class_names"] == NAMES


def test_json_serialisable_round_trip():
    m = classification_metrics(Y_TRUE, Y_PRED, NAMES)
    assert json.loads(json.dumps(m)) == m


def test_absent_and_never_predicted_classes_give_zeros_not_nan():
    # class 2 never occurs and is never predicted; class 1 is never predicted
    m = classification_metrics([0, 0, 1], [0, 0, 0], NAMES)
    assert m["confusion"] == [[2, 0, 0], [1, 0, 0], [0, 0, 0]]
    assert m["confusion_normalised"][2] == [0.0, 0.0, 0.0]
    assert m["precision"] == pytest.approx([2 / 3, 0.0, 0.0])
    assert m["recall"] == [1.0, 0.0, 0.0]
    assert m["support"] == [2, 1, 0]
    assert not np.isnan(m["macro"]["f1"])


def test_perfect_predictions():
    m = classification_metrics([1, 0, 1], [1, 0, 1], ["a", "b"])
    assert m["accuracy"] == 1.0 and m["confusion"] == [[1, 0], [0, 2]]
    assert m["f1"] == [1.0, 1.0]


def test_bad_inputs():
    with pytest.raises(ValueError, match="labels"):
        classification_metrics([0, 1], [0], NAMES)
    with pytest.raises(ValueError, match="outside 0..2"):
        classification_metrics([0, 3], [0, 1], NAMES)
    with pytest.raises(ValueError, match="at least one"):
        classification_metrics([], [], NAMES)


def test_misclassified_first_n_in_order():
    np.testing.assert_array_equal(misclassified(Y_TRUE, Y_PRED), [2, 3, 6, 9])
    np.testing.assert_array_equal(misclassified(Y_TRUE, Y_PRED, n=2), [2, 3])
    assert misclassified(Y_TRUE, Y_TRUE).size == 0
    assert misclassified(Y_TRUE, Y_PRED).dtype == np.int64


def test_markdown_table():
    m = classification_metrics(Y_TRUE, Y_PRED, ["cat", "dog|wolf", "bird"])
    md = per_class_table_markdown(m)
    lines = md.strip().splitlines()
    assert lines[0] == "| class | precision | recall | F1 | support |"
    assert len(lines) == 2 + 3 + 1
    assert lines[2] == "| cat | 0.667 | 0.500 | 0.571 | 4 |"
    assert "dog\\|wolf" in lines[3]
    assert lines[-1].startswith("| **macro avg** |") and lines[-1].endswith("| 10 |")
