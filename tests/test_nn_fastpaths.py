"""Fast paths (product routes, class-major loss, flat Adam) give the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

from scratchlab.nn import blas, build_mlp, kernels

ROUTES = {"small": (True, False), "rows": (False, False), "kernel": (False, True)}


def use_route(monkeypatch, name: str) -> None:
    """Force one of `blas.route`'s answers for skinny float32 products."""
    if name == "kernel" and not kernels.AVAILABLE:
        pytest.skip("numba is not installed (tests/test_nn_kernels.py covers the kernels)")
    split, compiled = ROUTES[name]
    monkeypatch.setattr(blas, "SPLIT", split)
    monkeypatch.setattr(blas, "KERNELS", compiled)


@pytest.fixture(params=list(ROUTES))
def product_route(request, monkeypatch):
    use_route(monkeypatch, request.param)
    return request.param


@pytest.mark.parametrize("m", [0, 1, 31, 32, 33, 100, 257])
def test_matmul_and_tn_match_numpy(product_route, m):
    rng = np.random.default_rng(m)
    x = rng.standard_normal((m, 3072), dtype=np.float32)
    w = rng.standard_normal((3072, 10), dtype=np.float32)
    g = rng.standard_normal((m, 10), dtype=np.float32)
    ref = x.astype(np.float64) @ w.astype(np.float64)
    s = blas.matmul(x, w)
    assert s.shape == (m, 10) and s.dtype == np.float32
    np.testing.assert_allclose(s, ref, rtol=1e-4, atol=1e-3)
    out = np.full((3072, 10), np.nan, dtype=np.float32)
    blas.matmul_tn(x, g, out=out)
    ref_tn = x.T.astype(np.float64) @ g.astype(np.float64)
    np.testing.assert_allclose(out, ref_tn, rtol=1e-4, atol=1e-3)


def test_block_rows_policy(monkeypatch):
    monkeypatch.setattr(blas, "SPLIT", True)
    assert blas.block_rows(3072, 10, np.dtype(np.float32)) == 32  # 32 * 3072 * 10 <= 100^3
    assert blas.block_rows(784, 128, np.dtype(np.float32)) == 0  # wide: one call
    assert blas.block_rows(3072, 10, np.dtype(np.float64)) == 0  # gradient checks: one call
    monkeypatch.setattr(blas, "SPLIT", False)
    assert blas.block_rows(3072, 10, np.dtype(np.float32)) == 0


@pytest.mark.parametrize("route", ["small", "kernel"])
def test_model_is_the_same_either_way(monkeypatch, route):
    """Training steps on each route agree with one NumPy call per product ("rows" route:
    100-row products and x^T g are single calls) to float32 rounding."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 3072), dtype=np.float32)
    y = rng.integers(0, 10, 100)
    grads = {}
    for name in (route, "rows"):
        use_route(monkeypatch, name)
        model = build_mlp(3072, 10, (), l2=0.1, rng=np.random.default_rng(1))
        loss = model.train_step_grads(X, y)
        grads[name] = (loss, model.layers[0].grads["W"].copy(), model.forward(X))
    assert grads[route][0] == pytest.approx(grads["rows"][0], rel=1e-6)
    np.testing.assert_allclose(grads[route][1], grads["rows"][1], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(grads[route][2], grads["rows"][2], rtol=1e-4, atol=1e-6)


def test_cross_entropy_gradient_after_a_deep_copy():
    """The loss's reused (class-major) buffer stays consistent through `Sequential.copy`."""
    from scratchlab.nn import SoftmaxCrossEntropy

    rng = np.random.default_rng(0)
    s = rng.standard_normal((7, 4)).astype(np.float32)
    y = rng.integers(0, 4, 7)
    ce = SoftmaxCrossEntropy()
    ce.loss_and_grad(s, y)
    import copy

    twin = copy.deepcopy(ce)
    _, g = twin.loss_and_grad(s + 1, y)
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(7), y] -= 1
    np.testing.assert_allclose(g, p / 7, rtol=1e-5, atol=1e-7)


def test_adam_flat_step_is_identical_to_per_parameter_steps():
    """Adam's one-pass update over flat buffers gives bit-identical weights and state, and
    survives a state_dict round trip mid-run."""
    from scratchlab.optim import Adam, Optimizer

    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 20)).astype(np.float32)
    y = rng.integers(0, 5, 64)
    models = [build_mlp(20, 5, (16, 8), init="he", rng=np.random.default_rng(1)) for _ in "ab"]
    fused, plain = Adam(), Adam()
    for step in range(6):
        if step == 3:  # resume the fused one from its own checkpoint
            state = fused.state_dict()
            fused = Adam()
            fused.load_state_dict(state)
        models[0].train_step_grads(X, y)
        fused.step(models[0], 1e-2)
        models[1].train_step_grads(X, y)
        Optimizer.step(plain, models[1], 1e-2)  # the generic one-parameter-at-a-time loop
    for (_, _, a, _), (_, _, b, _) in zip(
        models[0].parameters(), models[1].parameters(), strict=True
    ):
        assert np.array_equal(a, b)
    s1, s2 = fused.state_dict(), plain.state_dict()
    assert s1.keys() == s2.keys()
    assert all(np.array_equal(s1[k], s2[k]) for k in s1)
