from __future__ import annotations

import numpy as np
import pytest

from scratchlab.data.augment import (
    AUGMENTATIONS,
    build_augmenter,
    flip,
    gaussian_noise,
    photometric,
    salt_pepper,
    translate,
    translate_by,
)
from scratchlab.errors import ConfigError

SHAPE = (3, 4, 5)  # C, H, W: small, non-square, so axis mix-ups show
D = 3 * 4 * 5


def ramp_image() -> np.ndarray:
    """One asymmetric image (1, 60): value encodes (c, i, j) uniquely, all in (0, 1)."""
    c, i, j = np.meshgrid(np.arange(3), np.arange(4), np.arange(5), indexing="ij")
    return ((100 * c + 10 * i + j + 1) / 300.0).reshape(1, -1).astype(np.float32)


def batch(n=16, seed=0, shape=SHAPE) -> np.ndarray:
    return np.random.default_rng(seed).random((n, int(np.prod(shape))), dtype=np.float32)


ALL_SPECS = [
    {"kind": "flip", "p": 0.5},
    {"kind": "translate", "max_shift": 2},
    {"kind": "photometric", "brightness": 0.2, "contrast": 0.3},
    {"kind": "gaussian_noise", "sigma": 0.05},
    {"kind": "salt_pepper", "fraction": 0.1},
    {"kind": "affine", "max_rotate": 12.0, "max_scale": 0.1, "max_shift": 2.0},
]


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s["kind"])
def test_shape_dtype_range_and_input_untouched(spec):
    X = batch()
    before = X.copy()
    out = build_augmenter([spec], SHAPE)(X, np.random.default_rng(1))
    assert out.shape == X.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(X, before)


def test_pipeline_deterministic_by_seed():
    aug = build_augmenter(ALL_SPECS, SHAPE)
    X = batch(32)
    a = aug(X, np.random.default_rng(7))
    b = aug(X, np.random.default_rng(7))
    c = aug(X, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_flip_p1_mirrors_width_axis_channel_major():
    x = ramp_image()
    out = flip(x, np.random.default_rng(0), SHAPE, p=1.0)
    expected = x.reshape(SHAPE)[:, :, ::-1].reshape(1, -1)
    np.testing.assert_array_equal(out, expected)
    # pixel (c=2, i=1, j=0) now holds what was at (c=2, i=1, j=4)
    assert out.reshape(SHAPE)[2, 1, 0] == x.reshape(SHAPE)[2, 1, 4]
    twice = flip(out, np.random.default_rng(1), SHAPE, p=1.0)
    np.testing.assert_array_equal(twice, x)


def test_flip_p0_identity_and_p_half_flips_some():
    X = batch(200)
    np.testing.assert_array_equal(flip(X, np.random.default_rng(0), SHAPE, p=0.0), X)
    out = flip(X, np.random.default_rng(0), SHAPE, p=0.5)
    flipped = np.all(out.reshape(-1, *SHAPE) == X.reshape(-1, *SHAPE)[..., ::-1], axis=(1, 2, 3))
    same = np.all(out == X, axis=1)
    assert np.all(flipped | same)
    assert 60 < flipped.sum() < 140


def test_translate_by_known_shift_moves_and_zero_fills():
    x = ramp_image()
    out = translate_by(x, dx=2, dy=1, image_shape=SHAPE).reshape(SHAPE)
    src = x.reshape(SHAPE)
    np.testing.assert_array_equal(out[:, 1:, 2:], src[:, :-1, :-2])
    assert np.all(out[:, 0, :] == 0) and np.all(out[:, :, :2] == 0)
    out = translate_by(x, dx=-1, dy=-3, image_shape=SHAPE).reshape(SHAPE)
    np.testing.assert_array_equal(out[:, :1, :4], src[:, 3:, 1:])
    assert np.all(out[:, 1:, :] == 0) and np.all(out[:, :, 4] == 0)
    np.testing.assert_array_equal(translate_by(x, 0, 0, SHAPE), x)
    assert np.all(translate_by(x, 9, 0, SHAPE) == 0)


def test_translate_by_per_sample_shifts():
    X = np.repeat(ramp_image(), 3, axis=0)
    dx, dy = np.array([0, 1, -2]), np.array([1, 0, -1])
    out = translate_by(X, dx, dy, SHAPE)
    for k in range(3):
        np.testing.assert_array_equal(out[k], translate_by(X[k : k + 1], dx[k], dy[k], SHAPE)[0])


def test_translate_random_shifts_within_range():
    # one bright pixel in the centre of a 1x9x9 image; it must land within +-2 px
    shape = (1, 9, 9)
    X = np.zeros((500, 81), np.float32)
    X[:, 4 * 9 + 4] = 1.0
    out = translate(X, np.random.default_rng(0), shape, max_shift=2).reshape(500, 9, 9)
    assert np.all(out.sum(axis=(1, 2)) == 1.0)  # the pixel never falls off the image
    _, i, j = np.nonzero(out)
    # every shift in -2..2 occurs, none beyond
    assert set(i - 4) == set(range(-2, 3)) and set(j - 4) == set(range(-2, 3))


def test_photometric_zero_is_identity_and_mean_preserved_by_contrast():
    X = batch(8)
    out = photometric(X, np.random.default_rng(0), SHAPE, brightness=0.0, contrast=0.0)
    np.testing.assert_allclose(out, X, atol=1e-6)
    Xmid = 0.4 + 0.2 * batch(8)  # away from the clip edges
    out = photometric(Xmid, np.random.default_rng(0), SHAPE, brightness=0.0, contrast=0.5)
    np.testing.assert_allclose(out.mean(axis=1), Xmid.mean(axis=1), atol=1e-5)
    assert not np.allclose(out, Xmid)


def test_gaussian_noise_std_close_to_sigma():
    X = np.full((200, D), 0.5, np.float32)
    out = gaussian_noise(X, np.random.default_rng(0), SHAPE, sigma=0.05)
    assert abs((out - X).std() - 0.05) < 0.003
    assert abs((out - X).mean()) < 0.003


def test_salt_pepper_fraction_and_values():
    X = np.full((400, D), 0.5, np.float32)
    out = salt_pepper(X, np.random.default_rng(0), SHAPE, fraction=0.2).reshape(-1, *SHAPE)
    changed = out[:, 0] != 0.5  # per pixel position
    assert abs(changed.mean() - 0.2) < 0.02
    # all channels at a hit position share the value, which is 0 or 1, about half each
    assert np.all(out[:, 1][changed] == out[:, 0][changed])
    assert set(np.unique(out[:, 0][changed])) == {0.0, 1.0}
    assert abs((out[:, 0][changed] == 1.0).mean() - 0.5) < 0.06


def test_describe_specs_and_empty():
    aug = build_augmenter([{"kind": "flip", "p": 0.5}, {"kind": "translate"}], (3, 32, 32))
    assert aug.describe() == "flip(p=0.5) + translate(max_shift=2)"
    assert aug.specs == [{"kind": "flip", "p": 0.5}, {"kind": "translate", "max_shift": 2}]
    assert build_augmenter([], SHAPE) is None
    assert build_augmenter(None, SHAPE) is None
    assert set(AUGMENTATIONS) == {s["kind"] for s in ALL_SPECS}
    assert AUGMENTATIONS["photometric"].params == {"brightness": 0.1, "contrast": 0.1}


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ({"kind": "rotate"}, "valid kinds: flip, translate"),
        ({"p": 0.5}, "missing 'kind'"),
        ({"kind": "flip", "p": 1.5}, "p must be in [0, 1]"),
        ({"kind": "flip", "prob": 0.5}, "valid keys: p"),
        ({"kind": "gaussian_noise", "sigma": -0.1}, "sigma must be >= 0"),
        ({"kind": "translate", "max_shift": 1.5}, "max_shift must be an integer"),
        ({"kind": "translate", "max_shift": -1}, "max_shift must be >= 0"),
        ({"kind": "salt_pepper", "fraction": "lots"}, "fraction must be a number"),
        ({"kind": "photometric", "contrast": float("nan")}, "must be finite"),
        ("flip", "expected a table"),
    ],
)
def test_bad_specs_raise_config_error(spec, fragment):
    with pytest.raises(ConfigError) as err:
        build_augmenter([spec], SHAPE)
    assert fragment in str(err.value)


def test_wrong_width_is_rejected():
    aug = build_augmenter([{"kind": "flip"}], SHAPE)
    with pytest.raises(ValueError, match="expected X01 of shape"):
        aug(np.zeros((2, D + 1), np.float32), np.random.default_rng(0))
