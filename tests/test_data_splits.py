"""load_split: sizes, disjointness, seeding, uint8 parts, statistics from the training part."""

from __future__ import annotations

import numpy as np
import pytest
from fakedata import cifar_parts, mnist_parts, row_ids, write_cifar_folder, write_mnist_folder

from scratchlab.data import DATASETS, Splits, load_split, to_hwc
from scratchlab.data.splits import standardise_u8, train_stats
from scratchlab.errors import ConfigError

pytestmark = pytest.mark.filterwarnings("ignore:.*(unverified|md5 does not match):UserWarning")


@pytest.fixture
def cifar_dir(tmp_path):
    return write_cifar_folder(tmp_path / "c", "binary", cifar_parts(seed=4))


@pytest.fixture
def mnist_dir(tmp_path):
    return write_mnist_folder(tmp_path / "m", mnist_parts(n_train=60, n_test=12, seed=5))


def ids(s: Splits, part: str) -> np.ndarray:
    """Image ids of a part (its uint8 rows, as in the files)."""
    return row_ids(np.asarray(getattr(s, part).X))


def test_a1_uses_batches_1_2_and_test(cifar_dir):
    s = load_split("cifar10", "a1", path=cifar_dir)
    parts = cifar_parts(seed=4)
    for name, part in (("train", "data_batch_1"), ("val", "data_batch_2"), ("test", "test_batch")):
        np.testing.assert_array_equal(ids(s, name), row_ids(parts[part][0]))
        np.testing.assert_array_equal(getattr(s, name).y, parts[part][1])
    assert s.train.X.dtype == np.uint8 and s.train.y.dtype == np.int64
    assert s.mean.shape == s.std.shape == (3072,) and s.mean.dtype == np.float32
    assert s.image_shape == (3, 32, 32) and s.class_names[0] == "airplane"
    assert (s.dataset, s.split, s.verified) == ("cifar10", "a1", False)


def test_all_holds_out_a_seeded_disjoint_val_set(cifar_dir):
    s = load_split("cifar10", "all", val_size=13, seed=7, path=cifar_dir)
    assert (s.train.n, s.val.n, s.test.n) == (100 - 13, 13, 16)
    tr, va = ids(s, "train"), ids(s, "val")
    assert not set(tr) & set(va)
    assert sorted([*tr, *va]) == list(range(100))  # train batches hold ids 0..99
    again = load_split("cifar10", "all", val_size=13, seed=7, path=cifar_dir)
    np.testing.assert_array_equal(ids(again, "val"), va)
    other = load_split("cifar10", "all", val_size=13, seed=8, path=cifar_dir)
    assert set(ids(other, "val")) != set(va)


@pytest.mark.parametrize("val_size", [100, 101, -1])
def test_val_size_too_large_or_negative(cifar_dir, val_size):
    with pytest.raises(ConfigError, match="val_size=.* must be an integer from 0 to 99"):
        load_split("cifar10", "all", val_size=val_size, path=cifar_dir)


def test_bad_split_name(cifar_dir):
    with pytest.raises(ConfigError, match="'standard' is not a split of cifar10.*a1, all"):
        load_split("cifar10", "standard", path=cifar_dir)


def test_standard_and_full_mnist(mnist_dir):
    s = load_split("mnist", "standard", path=mnist_dir)
    assert (s.train.n, s.val.n, s.test.n) == (50, 10, 12)  # n <= 10,000: last n // 6 is val
    np.testing.assert_array_equal(ids(s, "val"), np.arange(50, 60))
    f = load_split("mnist", "full", path=mnist_dir)
    assert (f.train.n, f.val.n, f.test.n) == (60, 0, 12)
    assert f.val.X.shape == (0, 784) and f.val.X.dtype == np.uint8
    assert load_split("mnist", path=mnist_dir).split == "standard"


def test_standardisation_uses_training_statistics_only(mnist_dir):
    s = load_split("mnist", "standard", path=mnist_dir)
    varying = s.std != 1  # constant features are 0 with std 1
    Z, Zval = s.standardiser(s.train.X), s.standardiser(s.val.X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=0)[varying], 1, atol=1e-4)
    assert abs(Zval.mean(axis=0)[varying]).max() > 0.05  # val is not re-centred
    X01 = mnist_parts(n_train=60, n_test=12, seed=5)["train"][0][:50] / 255
    np.testing.assert_allclose(s.mean, X01.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(s.std[varying], X01.std(axis=0)[varying], rtol=1e-5)


def test_changing_val_data_does_not_change_the_statistics(tmp_path):
    parts = cifar_parts(seed=4)
    a = load_split("cifar10", "a1", path=write_cifar_folder(tmp_path / "a", "binary", parts))
    X, y = parts["data_batch_2"]
    parts["data_batch_2"] = (255 - X, y)
    b = load_split("cifar10", "a1", path=write_cifar_folder(tmp_path / "b", "binary", parts))
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.std, b.std)
    assert not np.array_equal(a.standardiser(a.val.X), b.standardiser(b.val.X))


def test_zero_std_features_are_finite(mnist_dir):
    s = load_split("mnist", "standard", path=mnist_dir)
    assert (s.std[-28:] == 1).all()
    for part in (s.train, s.val, s.test):
        Z = s.standardiser(part.X)
        assert np.isfinite(Z).all()
        assert (Z[:, -28:] == 0).all()


def test_pixels_raw_and_standardise_agree(cifar_dir):
    s = load_split("cifar10", "a1", path=cifar_dir)
    X01 = cifar_parts(seed=4)["data_batch_1"][0].astype(np.float32) / 255
    np.testing.assert_array_equal(s.pixels(s.train.X), X01)
    Z = s.standardiser(s.train.X)
    np.testing.assert_array_equal(s.standardise(X01), Z)
    np.testing.assert_allclose(s.raw(Z), X01, atol=1e-6)
    assert s.raw(Z).dtype == np.float32


def test_stats_are_exact_and_chunking_invariant():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(9000, 5), dtype=np.uint8)
    X[:, 2] = 17
    mean, std = train_stats(X)
    np.testing.assert_allclose(mean, (X / 255).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(std[[0, 1, 3, 4]], (X / 255).std(axis=0)[[0, 1, 3, 4]], rtol=1e-6)
    assert std[2] == 1
    out = standardise_u8(X, mean, std)
    np.testing.assert_array_equal(out, ((X.astype(np.float32) / 255) - mean) / std)


def test_digits_splits():
    s = load_split("digits", "standard")
    assert (s.train.n, s.val.n, s.test.n) == (1438 - 287, 287, 359)
    assert s.image_shape == (1, 8, 8) and s.verified
    assert s.train.X.min() == 0 and s.train.X.max() == 255
    f = load_split("digits", "full")
    assert (f.train.n, f.val.n) == (1438, 0)
    np.testing.assert_array_equal(load_split("digits", "full").train.y, f.train.y)
    assert np.bincount(f.train.y, minlength=10).min() > 100


def test_to_hwc():
    X = np.arange(2 * 3 * 4 * 5).reshape(2, 60)
    img = to_hwc(X, (3, 4, 5))
    assert img.shape == (2, 4, 5, 3)
    assert img[1, 2, 3, 0] == X[1, 0 * 20 + 2 * 5 + 3]
    assert img[0, 0, 1, 2] == X[0, 2 * 20 + 0 * 5 + 1]
    assert to_hwc(X[0], (3, 4, 5)).shape == (4, 5, 3)


def test_every_registered_split_is_accepted(mnist_dir, cifar_dir):
    paths = {"cifar10": cifar_dir, "mnist": mnist_dir, "digits": None}
    for name, path in paths.items():
        for split in DATASETS[name].splits:
            kw = {"val_size": 5} if split == "all" else {}
            assert load_split(name, split, path=path, **kw).split == split
