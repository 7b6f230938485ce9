"""The random affine warp: identity, exact shifts, rotation by 90°, scaling, seeding."""

from __future__ import annotations

import numpy as np

from scratchlab.data.affine import affine_warp
from scratchlab.data.augment import build_augmenter


def _images(B: int = 3, C: int = 2, H: int = 7, W: int = 7) -> np.ndarray:
    return np.random.default_rng(0).random((B, C, H, W)).astype(np.float32)


def test_identity_parameters_return_the_input() -> None:
    X = _images()
    out = affine_warp(X, np.zeros(3), np.ones(3), np.zeros((3, 2)))
    np.testing.assert_allclose(out, X, atol=1e-6)


def test_integer_shift_moves_pixels_and_fills_zero() -> None:
    X = _images(B=1)
    out = affine_warp(X, np.zeros(1), np.ones(1), np.array([[1.0, 2.0]]))  # down 1, right 2
    np.testing.assert_allclose(out[0, :, 1:, 2:], X[0, :, :-1, :-2], atol=1e-6)
    assert np.all(out[0, :, 0, :] == 0) and np.all(out[0, :, :, :2] == 0)


def test_quarter_turn_equals_rot90() -> None:
    X = _images(B=1, C=1)
    out = affine_warp(X, np.array([np.pi / 2]), np.ones(1), np.zeros((1, 2)))
    # +90° in (row, col) coordinates with rows pointing down is a clockwise quarter turn
    # on screen or its mirror; compare against both and require an exact match to one.
    candidates = [np.rot90(X[0, 0], k) for k in (1, -1)]
    assert min(np.abs(out[0, 0] - c).max() for c in candidates) < 1e-5


def test_scale_two_magnifies_about_the_centre() -> None:
    X = np.zeros((1, 1, 9, 9), np.float32)
    X[0, 0, 4, 5] = 1.0  # one pixel right of the centre
    out = affine_warp(X, np.zeros(1), np.array([2.0]), np.zeros((1, 2)))
    assert out[0, 0, 4, 6] > 0.99  # now two pixels right of the centre
    assert out[0, 0, 4, 4] < 1e-6


def test_augmenter_is_seeded_in_range_and_changes_images() -> None:
    aug = build_augmenter([{"kind": "affine", "max_rotate": 15.0}], (1, 28, 28))
    X = np.random.default_rng(1).random((16, 784)).astype(np.float32)
    a = aug(X, np.random.default_rng(5))
    b = aug(X, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == X.shape
    assert a.min() >= 0 and a.max() <= 1 and not np.allclose(a, X)
