"""scikit-learn's bundled 8x8 digits (1,797 images, offline) in scratchlab's raw layout.

Pixels 0..16 are scaled to 0..255 uint8 (``round(v * 255 / 16)``), rows are (64,) for
``image_shape = (1, 8, 8)``. A fixed seeded permutation splits them 80/20 into the
parts ``train`` (1,438) and ``test`` (359), the same on every machine.
"""

from __future__ import annotations

import numpy as np

SEED = 2424  # fixes the train/test split; never change it
TEST_FRACTION_DEN = 5  # test = n // 5


def digits_parts() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (X uint8 (1438, 64), y int64), "test": (X uint8 (359, 64), y)}``."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = np.rint(X * (255.0 / 16.0)).astype(np.uint8)
    y = y.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(y))
    n_test = len(y) // TEST_FRACTION_DEN
    train, test = order[:-n_test], order[-n_test:]
    return {"train": (X[train], y[train]), "test": (X[test], y[test])}
