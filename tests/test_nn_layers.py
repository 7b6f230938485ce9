"""Layers: forward values, backward against numerical derivatives, train/eval behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from numgrad import numerical_grad, rel_error

from scratchlab.errors import ConfigError
from scratchlab.nn import BatchNorm, Dropout, Linear, ReLU, init_std, init_weight


def check_layer(layer, x: np.ndarray, seed: int = 0) -> None:
    """Backward of L = sum(forward(x) * R) for a random R matches centred differences."""
    R = np.random.default_rng(seed).standard_normal(layer.forward(x, True).shape)

    def f() -> float:
        return float(np.sum(layer.forward(x, True) * R))

    layer.forward(x, True)
    dx = layer.backward(R.copy())
    grads = {k: v.copy() for k, v in layer.grads.items()}
    assert rel_error(dx, numerical_grad(f, x)) < 1e-6
    for name, p in layer.params.items():
        assert rel_error(grads[name], numerical_grad(f, p)) < 1e-6, name


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)


def test_linear_forward_is_xW_plus_b(rng):
    layer = Linear(4, 3, init="xavier", rng=rng, dtype=np.float64)
    layer.params["b"][:] = [1.0, 2.0, 3.0]
    x = rng.standard_normal((5, 4))
    np.testing.assert_allclose(layer.forward(x), x @ layer.params["W"] + [1.0, 2.0, 3.0])
    assert layer.params["W"].shape == (4, 3) and layer.regularised == ("W",)


def test_linear_backward_formulas_and_numerics(rng):
    layer = Linear(6, 4, init="he", rng=rng, dtype=np.float64)
    layer.params["b"][:] = rng.standard_normal(4)
    x, dout = rng.standard_normal((7, 6)), rng.standard_normal((7, 4))
    layer.forward(x, training=True)
    dx = layer.backward(dout)
    np.testing.assert_allclose(layer.grads["W"], x.T @ dout)
    np.testing.assert_allclose(layer.grads["b"], dout.sum(axis=0))
    np.testing.assert_allclose(dx, dout @ layer.params["W"].T)
    check_layer(layer, x)


def test_linear_backward_keeps_grad_arrays_and_skips_dx(rng):
    layer = Linear(3, 2, rng=rng)
    gW = layer.grads["W"]
    layer.forward(rng.standard_normal((4, 3)).astype(np.float32), training=True)
    assert layer.backward(np.ones((4, 2), np.float32), need_dx=False) is None
    assert layer.grads["W"] is gW and gW.dtype == np.float32


def test_backward_without_training_forward_raises(rng):
    layer = Linear(3, 2, rng=rng)
    layer.forward(np.ones((2, 3)), training=False)
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(np.ones((2, 2)))


def test_relu(rng):
    x = np.array([[-1.0, 0.5], [2.0, -3.0]])
    relu = ReLU(dtype=np.float64)
    np.testing.assert_array_equal(relu.forward(x, True), [[0, 0.5], [2, 0]])
    np.testing.assert_array_equal(relu.backward(np.ones((2, 2))), [[0, 1], [1, 0]])
    check_layer(ReLU(dtype=np.float64), rng.standard_normal((5, 4)) + 0.05)


def test_dropout_eval_is_identity_and_training_preserves_mean(rng):
    drop = Dropout(0.3, rng=rng)
    x = np.ones((2000, 50), np.float32)
    assert drop.forward(x, training=False) is x
    out = drop.forward(x, training=True)
    assert abs(out.mean() - 1.0) < 0.01  # inverted dropout: E[out] = x
    assert abs(np.mean(out == 0) - 0.3) < 0.01
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.7], rtol=1e-6)
    np.testing.assert_array_equal(drop.backward(np.ones_like(x)), out)  # dx = dout * m


def test_dropout_frozen_mask_and_gradient(rng):
    drop = Dropout(0.5, rng=rng, dtype=np.float64)
    x = rng.standard_normal((6, 5))
    drop.freeze_mask = True
    a, b = drop.forward(x, True), drop.forward(x, True)
    np.testing.assert_array_equal(a, b)
    drop.freeze_mask = False
    assert not np.array_equal(drop.forward(x, True), a)
    drop.freeze_mask = True
    check_layer(drop, x)
    user_mask = np.full((6, 5), 2.0)  # an explicit mask is used as given ...
    drop.mask = user_mask
    np.testing.assert_array_equal(drop.forward(x, True), 2 * x)
    drop.freeze_mask = False  # ... and never overwritten by later draws
    drop.forward(x, True)
    assert np.all(user_mask == 2.0) and drop.mask is not user_mask


@pytest.mark.parametrize("p", [-0.1, 1.0])
def test_dropout_rejects_bad_p(p):
    with pytest.raises(ConfigError, match="dropout"):
        Dropout(p)


def test_batchnorm_training_normalises_and_updates_running_stats(rng):
    bn = BatchNorm(3, dtype=np.float64)
    x = rng.standard_normal((50, 3)) * [1.0, 5.0, 0.1] + [3.0, -2.0, 0.0]
    out = bn.forward(x, training=True)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), x.var(axis=0) / (x.var(axis=0) + 1e-5))
    np.testing.assert_allclose(bn.buffers["running_mean"], 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(bn.buffers["running_var"], 0.9 + 0.1 * x.var(axis=0))
    assert set(bn.params) == {"gamma", "beta"} and bn.regularised == ()


def test_batchnorm_eval_uses_running_stats(rng):
    bn = BatchNorm(2, eps=1e-5, dtype=np.float64)
    bn.params["gamma"][:] = [2.0, 0.5]
    bn.params["beta"][:] = [1.0, -1.0]
    bn.buffers["running_mean"][:] = [10.0, -4.0]
    bn.buffers["running_var"][:] = [4.0, 0.25]
    x = rng.standard_normal((3, 2))
    expected = [2.0, 0.5] * (x - [10.0, -4.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(bn.forward(x, training=False), expected + [1.0, -1.0])
    np.testing.assert_array_equal(bn.buffers["running_mean"], [10.0, -4.0])  # untouched


def test_batchnorm_backward_matches_numerical(rng):
    bn = BatchNorm(4, dtype=np.float64)
    bn.params["gamma"][:] = rng.uniform(0.5, 2.0, 4)
    bn.params["beta"][:] = rng.standard_normal(4)
    check_layer(bn, rng.standard_normal((8, 4)) * 3 + 1)


def test_init_scales(rng):
    assert init_std("normal", 3072) == 0.01
    assert init_std("xavier", 100) == pytest.approx(0.1)
    assert init_std("he", 200) == pytest.approx(0.1)
    W = init_weight("he", 400, 300, rng=rng, dtype=np.float64)
    assert W.shape == (400, 300) and W.std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert init_weight("normal", 10, 10, std=0.5, rng=rng).dtype == np.float32
    assert not Linear(5, 3, init="xavier", rng=rng).params["b"].any()
    with pytest.raises(ConfigError, match="unknown init"):
        Linear(5, 3, init="uniform")


def test_same_seed_same_weights_in_both_dtypes():
    a = Linear(5, 3, init="he", rng=np.random.default_rng(7), dtype=np.float32)
    b = Linear(5, 3, init="he", rng=np.random.default_rng(7), dtype=np.float64)
    np.testing.assert_allclose(a.params["W"], b.params["W"], rtol=1e-6)
