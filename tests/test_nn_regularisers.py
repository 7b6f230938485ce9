"""Regularisers: hand-computed penalties and gradients; they touch weights only."""

from __future__ import annotations

import numpy as np
import pytest

from scratchlab.errors import ConfigError
from scratchlab.nn import L1, L2, BatchNorm, Linear, ReLU, Sequential, get_regulariser

W = np.array([[1.0, -2.0], [3.0, 0.5]])


def test_l2_by_hand():
    # lam * sum W^2 = 0.1 * (1 + 4 + 9 + 0.25) = 1.425; grad 2 lam W = 0.2 W
    reg = L2(0.1)
    assert reg.penalty(W) == pytest.approx(1.425)
    np.testing.assert_allclose(reg.grad(W), [[0.2, -0.4], [0.6, 0.1]])
    G = np.ones_like(W)
    reg.add_grad(W, G)
    np.testing.assert_allclose(G, 1 + 0.2 * W)


def test_l1_by_hand():
    # lam * sum |W| = 0.1 * 6.5 = 0.65; grad lam sign W
    reg = L1(0.1)
    assert reg.penalty(W) == pytest.approx(0.65)
    np.testing.assert_allclose(reg.grad(W), [[0.1, -0.1], [0.1, 0.1]])


def test_penalty_gradients_match_numerical():
    rng = np.random.default_rng(0)
    V = rng.standard_normal((4, 3))
    V[np.abs(V) < 1e-3] = 0.5  # keep L1 away from its kink at 0
    for reg in (L2(0.3), L1(0.3)):
        num = np.zeros_like(V)
        for i in np.ndindex(V.shape):
            E = np.zeros_like(V)
            E[i] = 1e-6
            num[i] = (reg.penalty(V + E) - reg.penalty(V - E)) / 2e-6
        np.testing.assert_allclose(reg.grad(V), num, rtol=1e-7, atol=1e-9)


def test_regularisation_acts_on_weights_only():
    rng = np.random.default_rng(0)
    lin1, lin2 = Linear(3, 4, rng=rng, dtype=np.float64), Linear(4, 2, rng=rng, dtype=np.float64)
    bn = BatchNorm(4, dtype=np.float64)
    for p in (lin1.params["b"], lin2.params["b"], bn.params["gamma"], bn.params["beta"]):
        p[:] = 5.0  # would dominate the penalty if it were counted
    model = Sequential([lin1, bn, ReLU(), lin2], "cross_entropy", [L2(0.5)])
    expected = 0.5 * ((lin1.params["W"] ** 2).sum() + (lin2.params["W"] ** 2).sum())
    assert model.penalty() == pytest.approx(expected)
    X, y = rng.standard_normal((6, 3)), rng.integers(0, 2, 6)
    model.train_step_grads(X, y)
    with_reg = {k: v.copy() for k, v in lin1.grads.items()}
    model.regularisers = ()
    model.train_step_grads(X, y)
    np.testing.assert_allclose(with_reg["W"] - lin1.grads["W"], 2 * 0.5 * lin1.params["W"])
    np.testing.assert_allclose(with_reg["b"], lin1.grads["b"])


def test_get_regulariser_and_validation():
    assert isinstance(get_regulariser("l1", 0.1), L1)
    with pytest.raises(ConfigError, match="unknown regulariser"):
        get_regulariser("l3", 0.1)
    with pytest.raises(ConfigError, match=">= 0"):
        L2(-1.0)
