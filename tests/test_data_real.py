"""The real datasets in $SCRATCHLAB_DATA (skipped when it is not set)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from scratchlab.data import load_raw, load_split
from scratchlab.data.locate import find

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.fixture(scope="module", autouse=True)
def _need_real_data():
    if not os.environ.get("SCRATCHLAB_DATA"):
        pytest.skip("SCRATCHLAB_DATA is not set (e.g. SCRATCHLAB_DATA=../shared/data)")


def _need(name: str):
    loc = find(name)
    if loc is None or loc.origin != "SCRATCHLAB_DATA":
        pytest.skip(f"{name} is not in $SCRATCHLAB_DATA")


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_real_mnist_style(name):
    _need(name)
    ds = load_raw(name)
    assert ds.verified and ds.check == "verified (md5)"
    X, y = ds.parts["train"]
    assert X.shape == (60000, 784) and X.dtype == np.uint8 and y.shape == (60000,)
    assert ds.parts["test"][0].shape == (10000, 784)
    counts = np.bincount(y, minlength=10).tolist()
    assert counts == (MNIST_TRAIN_COUNTS if name == "mnist" else [6000] * 10)
    assert np.bincount(ds.parts["test"][1], minlength=10).sum() == 10000


def test_real_mnist_standard_split():
    _need("mnist")
    s = load_split("mnist", "standard")
    assert (s.train.n, s.val.n, s.test.n) == (50000, 10000, 10000)
    assert np.isfinite(s.train.X).all() and (s.std == 1).sum() > 0  # blank borders


def test_real_cifar_sample():
    loc = find("cifar10")
    if loc is None or "sample" not in str(loc.path):
        pytest.skip("the cifar-10-sample folder is not in $SCRATCHLAB_DATA")
    with pytest.warns(UserWarning, match="unverified"):
        ds = load_raw("cifar10")
    sizes = {part: len(y) for part, (_, y) in ds.parts.items()}
    assert sizes == {
        "data_batch_1": 4000,
        **{f"data_batch_{i}": 932 for i in range(2, 6)},
        "test_batch": 1000,
    }
    assert all(X.shape[1] == 3072 for X, _ in ds.parts.values())
    assert ds.class_names[:2] == ["airplane", "automobile"] and len(ds.class_names) == 10
    assert ds.verified is False
    with pytest.warns(UserWarning, match="unverified"):
        s = load_split("cifar10", "a1", path=loc.path)
    assert (s.train.n, s.val.n, s.test.n) == (4000, 932, 1000)
