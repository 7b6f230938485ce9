"""uint8-resident data: the standardiser, training and evaluation on uint8 rows, the cache.

- the one-pass kernel and NumPy's three passes standardise bit for bit alike, and as the
  formula ``(x / 255 - mean) / std`` in float32 says;
- `fit` and `evaluate` on uint8 rows with the standardiser as `transform` give the numbers
  of float32-resident (pre-standardised) rows bit for bit, and hold one batch, never the set;
- parts loaded from the decoded-array cache are read-only memory maps;
- the data fingerprint is still the digest of the standardised float32 rows.
"""

from __future__ import annotations

import hashlib
import tracemalloc

import numpy as np
import pytest
from fakedata import cifar_parts, write_cifar_folder

import scratchlab.data.standardise as standardise
from scratchlab.data import Standardiser, load_split
from scratchlab.data.augment import build_augmenter
from scratchlab.data.splits import standardise_u8
from scratchlab.errors import DataError
from scratchlab.experiments.rundata import fingerprint
from scratchlab.nn import blas, build_mlp
from scratchlab.train import fit

pytestmark = pytest.mark.filterwarnings("ignore:.*unverified:UserWarning")


def pixels(n: int, d: int, seed: int = 0) -> np.ndarray:
    """(n, d) uint8 rows; the first 256 rows of each column hold every value 0..255."""
    X = np.random.default_rng(seed).integers(0, 256, (n, d), dtype=np.uint8)
    X[: min(n, 256)] = np.arange(min(n, 256), dtype=np.uint8)[:, None]
    return X


def reference(X: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return (X.astype(np.float32) / np.float32(255) - mean) / std


@pytest.fixture(params=[False, True], ids=["numpy", "kernel"])
def kernel(request, monkeypatch):
    if request.param and standardise._kernel() is None:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(standardise, "KERNEL", request.param)
    return request.param


@pytest.mark.parametrize("n", [1, 255, 257, 600])
def test_standardising_is_the_formula_bit_for_bit(kernel, n):
    X = pixels(n, 77, seed=n)
    st = Standardiser.fit(pixels(900, 77, seed=1))
    rng = np.random.default_rng(n)
    odd = Standardiser(rng.uniform(0, 1, 77), rng.uniform(1e-3, 2, 77))  # float64 given
    for s in (st, odd, Standardiser(np.zeros(77), np.ones(77))):
        np.testing.assert_array_equal(s(X), reference(X, s.mean, s.std))
        out = np.full((n, 77), np.nan, dtype=np.float32)
        assert s(X, out) is out
        np.testing.assert_array_equal(out, reference(X, s.mean, s.std))
    strided = pixels(2 * n, 77)[::2]  # not contiguous
    np.testing.assert_array_equal(st(strided), reference(strided, st.mean, st.std))


def test_a_memory_map_gives_the_statistics_and_rows_of_the_array(tmp_path, kernel):
    X = pixels(1300, 40)  # more rows than a statistics chunk and a standardised block
    np.save(tmp_path / "x.npy", X)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    st, want = Standardiser.fit(mapped), Standardiser.fit(X)
    np.testing.assert_array_equal(st.mean, want.mean)
    np.testing.assert_array_equal(st.std, want.std)
    assert st.mean.dtype == np.float32 and st.std.dtype == np.float32
    np.testing.assert_array_equal(st(mapped), reference(X, want.mean, want.std))


def test_the_standardiser_refuses_what_is_not_uint8_rows():
    st = Standardiser.fit(pixels(10, 5))
    with pytest.raises(DataError, match="expects uint8 pixel rows"):
        st(st(pixels(3, 5)))  # standardised twice
    with pytest.raises(DataError, match=r"\(m, 5\)"):
        st(pixels(3, 6))
    out64 = np.empty((3, 5), np.float64)
    np.testing.assert_array_equal(st(pixels(3, 5), out64), st(pixels(3, 5)))  # cast after


def _train(X, y, Xv, yv, *, transform, hidden, augment, **kw):
    model = build_mlp(X.shape[1], 10, hidden, rng=np.random.default_rng(3), **kw)
    rng = np.random.default_rng(4)
    hist = fit(model, (X, y), (Xv, yv), optimizer="adam", schedule=0.01, n_epochs=3,
               n_batch=64, shuffle=True, rng=rng, augment=augment, transform=transform,
               eval_every=5, eval_chunk=150)  # fmt: skip
    return [{k: v for k, v in r.items() if k != "time"} for r in hist.rows], model


@pytest.mark.parametrize(
    "d, hidden, kw",
    [(3072, (), {"l2": 0.1}), (64, (16,), {"dropout": 0.2, "batch_norm": True})],
    ids=["linear-cifar", "mlp-bn-dropout"],
)
def test_training_on_uint8_rows_equals_float32_rows_bit_for_bit(d, hidden, kw):
    X, Xv = pixels(400, d, 5), pixels(170, d, 6)
    y, yv = np.arange(400) % 10, np.arange(170) % 10
    st = Standardiser.fit(X)
    flip = build_augmenter([{"kind": "flip", "p": 0.5}], (1, 8, 8) if d == 64 else (3, 32, 32))
    aug = lambda Z, rng: st.from_pixels(flip(st.to_pixels(Z), rng))  # noqa: E731
    rows_f, model_f = _train(st(X), y, st(Xv), yv, transform=None, hidden=hidden, augment=aug, **kw)
    rows_u, model_u = _train(X, y, Xv, yv, transform=st, hidden=hidden, augment=aug, **kw)
    assert rows_u == rows_f and len(rows_u) > 4
    for key, w in model_f.get_weights().items():
        np.testing.assert_array_equal(model_u.get_weights()[key], w, err_msg=key)


@pytest.mark.parametrize("kernels", [None, False], ids=["routes", "no-numba"])
def test_evaluating_in_blocks_equals_the_whole_set(monkeypatch, kernels):
    """Linear models: the skinny-product routes sum each row alike in any block of a
    multiple of 256 rows, so the block-wise scores are the whole set's, bit for bit."""
    monkeypatch.setattr(blas, "KERNELS", kernels)
    X, y = pixels(700, 3072, 8), np.arange(700) % 10
    st = Standardiser.fit(X)
    model = build_mlp(3072, 10, (), rng=np.random.default_rng(0))
    for chunk in (10_000, 300):
        assert model.evaluate(X, y, chunk, transform=st) == model.evaluate(st(X), y, chunk)
    np.testing.assert_array_equal(model.predict_scores(X, transform=st), model.forward(st(X)))
    np.testing.assert_array_equal(model.predict(X, 300, transform=st), model.predict(st(X)))


def test_an_mlp_evaluates_in_blocks_to_float32_rounding():
    """Wide products (OpenBLAS GEMM) may sum a row in another order for another number of
    rows: block-wise scores agree with the whole set's to float32 rounding."""
    X, y = pixels(600, 784, 9), np.arange(600) % 10
    st = Standardiser.fit(X)
    model = build_mlp(784, 10, (64, 32), init="he", rng=np.random.default_rng(0))
    whole = model.forward(st(X))
    np.testing.assert_allclose(model.predict_scores(X, transform=st), whole, rtol=1e-5, atol=1e-5)
    got, want = model.evaluate(X, y, transform=st), model.evaluate(st(X), y)
    assert got["loss"] == pytest.approx(want["loss"], rel=1e-6) and got["acc"] == want["acc"]


def test_training_and_evaluation_hold_one_batch_not_the_set():
    X, y = pixels(3000, 3072, 10), np.arange(3000) % 10  # 9 MB; 37 MB as float32
    st = Standardiser.fit(X)
    model = build_mlp(3072, 10, (), rng=np.random.default_rng(0))
    fit(model, (X, y), (X[:500], y[:500]), transform=st, optimizer="sgd", schedule=0.01,
        n_epochs=1, n_batch=100, shuffle=True, rng=np.random.default_rng(0))  # warm-up  # fmt: skip
    tracemalloc.start()
    try:
        fit(model, (X, y), (X[:500], y[:500]), transform=st, optimizer="sgd", schedule=0.01,
            n_epochs=2, n_batch=100, shuffle=True, rng=np.random.default_rng(0))  # fmt: skip
        model.predict(X, transform=st)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes  # buffers: a 3 MB evaluation block, a 1.5 MB batch; no copy


def test_cached_parts_are_read_only_memory_maps(tmp_path):
    folder = write_cifar_folder(tmp_path / "c", "binary", cifar_parts(seed=2))
    first = load_split("cifar10", "a1", path=folder)  # decodes, writes the cache
    again = load_split("cifar10", "a1", path=folder)  # from the cache
    for part in ("train", "val", "test"):
        X = getattr(again, part).X
        assert isinstance(X, np.memmap) and not X.flags.writeable and X.dtype == np.uint8
        np.testing.assert_array_equal(X, getattr(first, part).X)
    np.testing.assert_array_equal(again.mean, first.mean)
    held = load_split("cifar10", "all", val_size=7, path=folder)  # rows from five maps
    assert not isinstance(held.train.X, np.memmap) and held.train.n == 100 - 7


def test_the_fingerprint_is_the_digest_of_the_standardised_float32_rows(tmp_path):
    """As when parts were float32: runs finished before still match their data."""
    folder = write_cifar_folder(tmp_path / "c", "binary", cifar_parts(seed=3))
    s = load_split("cifar10", "a1", path=folder)
    digest = hashlib.blake2b(digest_size=8)
    digest.update(repr((s.dataset, s.split, list(s.class_names))).encode())
    for part in (s.train, s.val, s.test):
        digest.update(np.ascontiguousarray(part.y).tobytes())
        digest.update(standardise_u8(np.asarray(part.X), s.mean, s.std).tobytes())
    assert fingerprint(s) == digest.hexdigest()
