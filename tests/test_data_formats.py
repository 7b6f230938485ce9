"""CIFAR-10 (python / matlab / binary, archive or folder) and IDX readers on tiny fakes."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from fakedata import (
    CLASS_NAMES,
    cifar_parts,
    idx_bytes,
    mnist_parts,
    write_cifar_archive,
    write_cifar_folder,
    write_idx,
    write_mnist_folder,
    write_tar,
)

from scratchlab.data import cifar, idx, load_raw
from scratchlab.errors import DataError

FORMATS = ("python", "matlab", "binary")
pytestmark = pytest.mark.filterwarnings("ignore:.*unverified:UserWarning")


@pytest.fixture(scope="module")
def parts():
    sizes = {"data_batch_1": 7, "data_batch_2": 5, "data_batch_3": 3}
    sizes |= {"data_batch_4": 3, "data_batch_5": 4, "test_batch": 6}
    return cifar_parts(sizes, seed=1)


def _same(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for part, (X, y) in want.items():
        gX, gy = got[part]
        assert gX.dtype == np.uint8 and gX.shape == X.shape
        assert gy.dtype == np.int64
        np.testing.assert_array_equal(gX, X)
        np.testing.assert_array_equal(gy, y)


@pytest.mark.parametrize("fmt", FORMATS)
def test_folder_and_archive_give_the_official_arrays(tmp_path, parts, fmt):
    folder = write_cifar_folder(tmp_path / "f", fmt, parts)
    archive = write_cifar_archive(tmp_path / "a", fmt, parts)
    got_folder, names = cifar.read_folder(folder, fmt)
    got_archive, names_a, fmt_a = cifar.read_archive(archive)
    _same(got_folder, parts)
    _same(got_archive, parts)
    assert names == names_a == CLASS_NAMES and fmt_a == fmt


def test_three_formats_identical_through_load_raw(tmp_path, parts):
    loaded = {}
    for fmt in FORMATS:
        write_cifar_archive(tmp_path / fmt, fmt, parts)
        loaded[fmt] = load_raw("cifar10", path=tmp_path / fmt, use_cache=False)
    for fmt in FORMATS:
        _same(loaded[fmt].parts, parts)
        assert loaded[fmt].class_names == CLASS_NAMES
        assert loaded[fmt].image_shape == (3, 32, 32)


def test_partial_binary_batches_load(tmp_path):
    parts = cifar_parts({p: n for p, n in zip(cifar.CIFAR_PARTS, (4, 1, 2, 1, 3, 2), strict=True)})
    folder = write_cifar_folder(tmp_path, "binary", parts)
    got, _ = cifar.read_folder(folder, "binary")
    assert [len(y) for _, y in got.values()] == [4, 1, 2, 1, 3, 2]


def test_binary_size_not_multiple_of_record_is_clean_error(tmp_path, parts):
    folder = write_cifar_folder(tmp_path, "binary", parts)
    path = folder / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"data_batch_3\.bin.*not a multiple of the 3073"):
        cifar.read_folder(folder, "binary")


def test_truncated_python_and_matlab_batches(tmp_path, parts):
    for fmt, name in (("python", "data_batch_2"), ("matlab", "data_batch_2.mat")):
        folder = write_cifar_folder(tmp_path / fmt, fmt, parts)
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: len(data) // 2])
        with pytest.raises(DataError, match=f"cannot read .*{name}"):
            cifar.read_folder(folder, fmt)


def test_truncated_archive(tmp_path, parts):
    archive = write_cifar_archive(tmp_path, "binary", parts)
    archive.write_bytes(archive.read_bytes()[:-200])
    with pytest.raises(DataError, match="cifar-10-binary.tar.gz"):
        load_raw("cifar10", path=archive, use_cache=False)


def test_missing_files_named(tmp_path, parts):
    folder = write_cifar_folder(tmp_path, "binary", parts)
    (folder / "test_batch.bin").unlink()
    with pytest.raises(DataError, match="test_batch.bin"):
        cifar.read_folder(folder, "binary")
    archive = write_tar(tmp_path / "x.tar.gz", {"cifar-10-batches-bin/data_batch_1.bin": b""})
    with pytest.raises(DataError, match=r"missing cifar-10-batches-bin/\{data_batch_2.bin"):
        cifar.read_archive(archive)


def test_archive_ignores_members_outside_the_batches_folder(tmp_path, parts):
    files = {f"cifar-10-batches-bin/{n}": b"x" for n in ("data_batch_1.bin", "test_batch.bin")}
    files["../../cifar-10-batches-bin/data_batch_1.bin"] = b"evil"
    files["/etc/cifar-10-batches-bin/data_batch_2.bin"] = b"evil"
    archive = write_tar(tmp_path / "odd.tar.gz", files)
    with pytest.raises(DataError, match="missing"):
        cifar.read_archive(archive)
    assert not (tmp_path.parent / "cifar-10-batches-bin").exists()


def test_bad_labels_and_class_count(tmp_path, parts):
    bad = dict(parts)
    X, y = bad["data_batch_1"]
    bad["data_batch_1"] = (X, np.where(y == y, 11, y))
    folder = write_cifar_folder(tmp_path / "a", "python", bad)
    with pytest.raises(DataError, match="labels must lie in 0..9"):
        cifar.read_folder(folder, "python")
    folder = write_cifar_folder(tmp_path / "b", "binary", parts, names=CLASS_NAMES[:9])
    with pytest.raises(DataError, match="9 class names"):
        cifar.read_folder(folder, "binary")


@pytest.mark.parametrize("gz", [True, False])
def test_idx_roundtrip(tmp_path, gz):
    parts = mnist_parts(n_train=12, n_test=5)
    folder = write_mnist_folder(tmp_path / "mnist", parts, gz=gz)
    raw = load_raw("mnist", path=folder, use_cache=False)
    _same(raw.parts, parts)
    assert raw.image_shape == (1, 28, 28) and raw.class_names[0] == "0"


def test_idx_magic_and_size_checks(tmp_path):
    images = np.zeros((3, 28, 28), np.uint8)
    path = write_idx(tmp_path / "x-idx3-ubyte", images)
    assert idx.read_idx(path, 3).shape == (3, 28, 28)
    with pytest.raises(DataError, match="magic number 00000803 is not 00000801"):
        idx.read_idx(path, 1)
    path.write_bytes(idx_bytes(images)[:-5])
    with pytest.raises(DataError, match=r"holds 2363 bytes but .* needs 2368"):
        idx.read_idx(path, 3)
    gz = tmp_path / "x.gz"
    gz.write_bytes(gzip.compress(idx_bytes(images))[:-20])
    with pytest.raises(DataError, match="cannot read .*x.gz"):
        idx.read_idx(gz, 3)


def test_idx_image_label_count_mismatch(tmp_path):
    parts = mnist_parts(n_train=12, n_test=5)
    folder = write_mnist_folder(tmp_path, parts)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", parts["test"][1][:4])
    with pytest.raises(DataError, match="5 images but .* 4 labels"):
        load_raw("mnist", path=folder, use_cache=False)
