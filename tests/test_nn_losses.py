"""Losses: hand-computed values, gradients against centred differences, stability."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numgrad import numerical_grad, rel_error

from scratchlab.errors import ConfigError
from scratchlab.nn import MulticlassHinge, SoftmaxCrossEntropy, get_loss, softmax


def test_softmax_of_equal_scores_is_uniform_and_loss_is_log_k():
    K = 7
    scores = np.full((4, K), 3.3)
    y = np.array([0, 3, 6, 2])
    np.testing.assert_allclose(softmax(scores), 1 / K)
    ce = SoftmaxCrossEntropy()
    loss, grad = ce.loss_and_grad(scores, y)
    assert loss == pytest.approx(math.log(K))
    assert ce.loss(scores, y) == pytest.approx(math.log(K))
    expected = np.full((4, K), 1 / K)
    expected[np.arange(4), y] -= 1
    np.testing.assert_allclose(grad, expected / 4)  # dL/ds = (P - Y) / N


def test_cross_entropy_gradient_matches_numerical():
    rng = np.random.default_rng(0)
    scores, y = rng.standard_normal((6, 5)) * 3, rng.integers(0, 5, 6)
    ce = SoftmaxCrossEntropy()
    loss, grad = ce.loss_and_grad(scores, y)
    grad = grad.copy()
    assert loss == pytest.approx(ce.loss(scores, y))
    assert rel_error(grad, numerical_grad(lambda: ce.loss(scores, y), scores, h=1e-5)) < 1e-6


def test_cross_entropy_is_stable_for_huge_scores():
    scores = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 0.0]], dtype=np.float32)
    y = np.array([1, 0])
    loss, grad = SoftmaxCrossEntropy().loss_and_grad(scores, y)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    # -log P = 1e4 for the first row, log 2 for the second
    assert loss == pytest.approx((1e4 + math.log(2)) / 2, rel=1e-6)
    assert SoftmaxCrossEntropy().loss(scores, y) == pytest.approx(loss, rel=1e-6)
    assert np.all(np.isfinite(softmax(scores)))


def test_cross_entropy_reuses_its_gradient_buffer():
    ce = SoftmaxCrossEntropy()
    s, y = np.zeros((3, 4), np.float32), np.array([0, 1, 2])
    _, g1 = ce.loss_and_grad(s, y)
    _, g2 = ce.loss_and_grad(s + 1, y)
    assert g1 is g2 and g2.dtype == np.float32
    _, g3 = ce.loss_and_grad(np.zeros((5, 4), np.float32), np.zeros(5, int))
    assert g3.shape == (5, 4)


def test_svm_worked_example():
    # The cs231n example (cat, car, frog), correct classes 0, 1, 2, margin 1:
    #   row 0: s = [3.2, 5.1, -1.7], y=0: max(0, 5.1-3.2+1) + max(0, -1.7-3.2+1) = 2.9 + 0
    #   row 1: s = [1.3, 4.9, 2.0], y=1: max(0, 1.3-4.9+1) + max(0, 2.0-4.9+1) = 0 + 0
    #   row 2: s = [2.2, 2.5, -3.1], y=2: max(0, 2.2+3.1+1) + max(0, 2.5+3.1+1) = 6.3 + 6.6
    #   mean = (2.9 + 0 + 12.9) / 3 = 15.8 / 3 = 5.2666...
    # Subgradient (times N = 3): row 0 has one active margin (j=1): [-1, 1, 0];
    #   row 1 none: [0, 0, 0]; row 2 two (j=0, 1): [1, 1, -2].
    scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    y = np.array([0, 1, 2])
    svm = MulticlassHinge()
    loss, grad = svm.loss_and_grad(scores, y)
    assert loss == pytest.approx(15.8 / 3)
    assert svm.loss(scores, y) == pytest.approx(15.8 / 3)
    np.testing.assert_allclose(grad, np.array([[-1, 1, 0], [0, 0, 0], [1, 1, -2]]) / 3)


def test_svm_gradient_matches_numerical_away_from_kinks():
    rng = np.random.default_rng(3)
    scores, y = rng.standard_normal((8, 6)) * 2, rng.integers(0, 6, 8)
    svm = MulticlassHinge()
    m = scores - scores[np.arange(8), y][:, None] + 1
    assert np.min(np.abs(m)) > 1e-3  # no margin within h of its kink for this seed
    _, grad = svm.loss_and_grad(scores, y)
    grad = grad.copy()
    assert rel_error(grad, numerical_grad(lambda: svm.loss(scores, y), scores, h=1e-5)) < 1e-6


def test_svm_predict_proba_is_softmax_with_same_argmax():
    scores = np.array([[1.0, 3.0, 2.0]])
    p = MulticlassHinge().predict_proba(scores)
    np.testing.assert_allclose(p.sum(), 1.0)
    assert p.argmax() == 1


def test_get_loss():
    assert isinstance(get_loss("cross_entropy"), SoftmaxCrossEntropy)
    assert get_loss("svm", margin=2.0).margin == 2.0
    with pytest.raises(ConfigError, match="unknown loss 'hinge'"):
        get_loss("hinge")
