"""The compiled skinny-product kernels equal NumPy (float32 tolerance) on every route.

The kernels' Python source runs without numba too (`py_func` / the plain function), so the
index arithmetic (odd rows, class counts that are not multiples of 5, column chunks) is
checked in every environment; the compiled versions are checked where numba imports.
"""

from __future__ import annotations

import numpy as np
import pytest

from scratchlab.nn import blas, build_mlp, kernels


def python_version(fn):
    return getattr(fn, "py_func", fn)


def compiled_versions():
    fns = [("python", python_version(kernels.scores_t), python_version(kernels.grad_t))]
    if kernels.AVAILABLE:
        fns.append(("numba", kernels.scores_t, kernels.grad_t))
    return fns


def operands(m: int, d: int, k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, d), dtype=np.float32)
    w = rng.standard_normal((d, k), dtype=np.float32)
    g = rng.standard_normal((m, k), dtype=np.float32)
    return x, w, g


@pytest.mark.parametrize("which", compiled_versions(), ids=lambda v: v[0])
@pytest.mark.parametrize(
    "m,d,k", [(0, 7, 10), (1, 1, 1), (2, 5, 5), (3, 300, 10), (7, 257, 13), (8, 40, 16), (5, 9, 4)]
)
def test_kernels_equal_the_float64_product(which, m, d, k):
    _, scores_t, grad_t = which
    x, w, g = operands(m, d, k, seed=m * 100 + k)
    out = np.full((m, k), np.nan, dtype=np.float32)
    scores_t(x, np.ascontiguousarray(w.T), out)
    np.testing.assert_allclose(out, x.astype(np.float64) @ w, rtol=1e-5, atol=1e-4)
    dwt = np.full((k, d), np.nan, dtype=np.float32)
    grad_t(x, g, dwt)  # must overwrite every entry (m = 0: all zeros)
    np.testing.assert_allclose(dwt.T, x.T.astype(np.float64) @ g, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("which", compiled_versions(), ids=lambda v: v[0])
def test_kernels_take_any_memory_layout_of_g_and_propagate_nan(which):
    _, scores_t, grad_t = which
    x, w, g = operands(6, 20, 10)
    gF = np.asfortranarray(g)  # the loss hands its gradient over as a transposed view
    dwt = np.empty((10, 20), dtype=np.float32)
    grad_t(x, gF, dwt)
    np.testing.assert_allclose(dwt.T, x.T.astype(np.float64) @ g, rtol=1e-5, atol=1e-4)
    x[3, 4] = np.nan
    out = np.zeros((6, 10), dtype=np.float32)
    scores_t(x, np.ascontiguousarray(w.T), out)
    assert np.isnan(out[3]).all() and np.isfinite(np.delete(out, 3, axis=0)).all()


@pytest.fixture
def small_kernel_k():
    """Without numba the kernels run as Python: products just long enough for the route."""
    return 3072 if kernels.AVAILABLE else blas.MIN_KERNEL_K + 4


@pytest.mark.parametrize("m", [0, 1, 2, 31, 100, 257])
def test_kernel_route_equals_numpy_route(monkeypatch, small_kernel_k, m):
    d = small_kernel_k
    if m > 31 and not kernels.AVAILABLE:
        pytest.skip("as plain Python (numba not installed) this product is too slow")
    x, w, g = operands(m, d, 10, seed=m)
    results = {}
    for forced in (True, False):
        monkeypatch.setattr(blas, "KERNELS", forced)
        assert (blas.route(d, 10, x, w) == "kernel") == forced
        s = blas.matmul(x, w)
        dW = np.full((d, 10), np.nan, dtype=np.float32)
        blas.matmul_tn(x, g, out=dW)
        results[forced] = (s, dW)
    np.testing.assert_allclose(results[True][0], results[False][0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(results[True][1], results[False][1], rtol=1e-4, atol=1e-4)


def test_route_policy(monkeypatch):
    x32 = np.zeros((4, 3072), dtype=np.float32)
    w32 = np.zeros((3072, 10), dtype=np.float32)
    monkeypatch.setattr(blas, "KERNELS", True)
    assert blas.route(3072, 10, x32, w32) == "kernel"
    assert blas.route(3072, 17, x32) == "numpy"  # wide: one NumPy call
    assert blas.route(3072, 10, x32.astype(np.float64)) == "numpy"  # gradient checks
    assert blas.route(3072, 10, x32, w32.astype(np.float64)) == "numpy"  # mixed dtypes
    assert blas.route(32, 10, x32[:, :32].copy()) != "kernel"  # short sums: NumPy
    assert blas.route(3072, 10, np.asfortranarray(x32)) != "kernel"  # strided rows
    monkeypatch.setattr(blas, "KERNELS", False)
    monkeypatch.setattr(blas, "SPLIT", True)
    assert blas.route(3072, 10, x32) == "small"
    monkeypatch.setattr(blas, "SPLIT", False)
    assert blas.route(3072, 10, x32) == "rows"
    monkeypatch.setattr(blas, "KERNELS", None)
    monkeypatch.setattr(blas, "SPLIT", True)  # an AVX-512 OpenBLAS keeps its small kernels
    assert blas.route(3072, 10, x32) == "small"
    monkeypatch.setattr(blas, "SPLIT", False)
    assert blas.route(3072, 10, x32) == ("kernel" if kernels.AVAILABLE else "rows")


def test_training_is_the_same_on_the_kernel_route(monkeypatch, small_kernel_k):
    """Ten SGD steps of the A1 classifier: weights, loss and evaluation agree across routes."""
    d, n = small_kernel_k, (100 if kernels.AVAILABLE else 8)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3 * n, d), dtype=np.float32)
    y = rng.integers(0, 10, 3 * n)
    outcome = {}
    for forced in (True, False):
        monkeypatch.setattr(blas, "KERNELS", forced)
        model = build_mlp(d, 10, (), l2=0.1, rng=np.random.default_rng(1))
        losses = []
        for step in range(10):
            rows = slice(n * (step % 3), n * (step % 3) + n)
            losses.append(model.train_step_grads(X[rows], y[rows]))
            for _, _, theta, grad in model.parameters():
                theta -= 0.01 * grad
        outcome[forced] = (losses, model.layers[0].params["W"].copy(), model.evaluate(X, y))
    np.testing.assert_allclose(outcome[True][0], outcome[False][0], rtol=1e-5)
    np.testing.assert_allclose(outcome[True][1], outcome[False][1], rtol=1e-4, atol=1e-6)
    assert outcome[True][2]["acc"] == outcome[False][2]["acc"]
    assert outcome[True][2]["cost"] == pytest.approx(outcome[False][2]["cost"], rel=1e-5)


def test_threads_do_not_share_work_arrays(monkeypatch, small_kernel_k):
    """Products in concurrent threads (the kernels release the GIL) stay correct."""
    import threading

    monkeypatch.setattr(blas, "KERNELS", True)
    d, errors = small_kernel_k, []

    def work(seed: int) -> None:
        x, w, g = operands(4, d, 10, seed=seed)
        dW = np.empty((d, 10), dtype=np.float32)
        for _ in range(20):
            s = blas.matmul(x, w)
            blas.matmul_tn(x, g, out=dW)
            if not np.allclose(s, x.astype(np.float64) @ w, rtol=1e-4, atol=1e-3):
                errors.append(seed)
            if not np.allclose(dW, x.T.astype(np.float64) @ g, rtol=1e-4, atol=1e-3):
                errors.append(seed)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
