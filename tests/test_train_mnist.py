"""Linear softmax on real MNIST reaches the textbook accuracy (needs $SCRATCHLAB_DATA)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def _mnist_available() -> bool:
    root = os.environ.get("SCRATCHLAB_DATA")
    return bool(root) and all((Path(root) / "mnist" / f).exists() for f in MNIST_FILES)


@pytest.mark.slow
@pytest.mark.skipif(not _mnist_available(), reason="set SCRATCHLAB_DATA to a folder with mnist/")
def test_linear_softmax_mnist_reaches_91_percent():
    data = pytest.importorskip("scratchlab.data")
    from scratchlab.nn import build_mlp
    from scratchlab.train import fit

    s = data.load_split("mnist", "standard")
    model = build_mlp(s.dim, s.n_classes, init_std=0.01, rng=np.random.default_rng(0))
    start = time.perf_counter()
    hist = fit(
        model,
        (s.train.X, s.train.y),
        (s.val.X, s.val.y),
        transform=s.standardiser,
        optimizer="sgd",
        schedule=0.01,
        n_epochs=10,
        n_batch=100,
    )
    seconds = time.perf_counter() - start
    test_acc = model.evaluate(s.test.X, s.test.y, transform=s.standardiser)["acc"]
    print(f"MNIST linear softmax: test acc {test_acc:.4f} in {seconds:.1f} s")
    assert hist.status == "completed" and len(hist) == 11
    assert test_acc >= 0.91
