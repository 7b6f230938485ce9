"""Lookup order, md5 policy, downloading (file:// and fake openers only), decoded cache."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os

import numpy as np
import pytest
from fakedata import (
    cifar_parts,
    mnist_parts,
    write_cifar_archive,
    write_cifar_folder,
    write_mnist_folder,
)

from scratchlab.data import DATASETS, download, fetch, load_raw, locate, raw, registry
from scratchlab.data.locate import find
from scratchlab.errors import DataError

UNVERIFIED = pytest.mark.filterwarnings("ignore:.*unverified:UserWarning")


def md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def official_fake_mnist(tmp_path, monkeypatch):
    """Fake MNIST files in tmp/src, registered as if they were the official ones
    (their md5s and file:// URLs patched into the registry)."""
    src = write_mnist_folder(tmp_path / "src", mnist_parts(n_train=30, n_test=8))
    spec = DATASETS["mnist"]
    files = tuple(
        dataclasses.replace(f, md5=md5(src / f.filename), urls=((src / f.filename).as_uri(),))
        for f in spec.files
    )
    monkeypatch.setitem(DATASETS, "mnist", dataclasses.replace(spec, files=files))
    return src


def test_md5_mismatch_in_data_folder_is_an_error_naming_file_and_sums(data_env):
    write_mnist_folder(data_env / "mnist", mnist_parts(n_train=12, n_test=4))
    with pytest.raises(DataError) as err:
        load_raw("mnist")
    msg = str(err.value)
    bad = data_env / "mnist" / "train-images-idx3-ubyte.gz"
    assert str(bad) in msg
    assert "f68b3c2dcbeaaa9fbdd348bbdeb94873" in msg  # the official sum
    assert md5(bad) in msg  # the actual sum
    assert "delete it" in msg and "scratchlab data fetch mnist" in msg and "explicit" in msg


def test_explicit_path_with_mismatch_loads_unverified_with_warning(data_env, tmp_path):
    folder = write_mnist_folder(tmp_path / "mine", mnist_parts(n_train=12, n_test=4))
    with pytest.warns(UserWarning, match="md5 does not match.*explicit"):
        ds = load_raw("mnist", path=folder)
    assert ds.verified is False and ds.source == folder


def test_verified_when_md5_matches(data_env, official_fake_mnist):
    os.replace(official_fake_mnist, data_env / "mnist")
    ds = load_raw("mnist")
    assert ds.verified is True and ds.check == "verified (md5)"
    assert ds.source == data_env / "mnist"


def test_missing_data_is_downloaded_into_the_cache_and_verified(data_env, official_fake_mnist):
    ds = load_raw("mnist")  # nothing in SCRATCHLAB_DATA: fetched via file:// URLs
    cache = data_env.parent / "cache" / "mnist"
    assert ds.verified and ds.source == cache
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        f.filename for f in DATASETS["mnist"].files
    )
    assert find("mnist").origin == "cache"


def test_no_download_when_not_allowed_and_tests_never_download(data_env):
    with pytest.raises(DataError, match="not found .*scratchlab data fetch mnist"):
        load_raw("mnist", download=False)
    with pytest.raises(DataError, match="could not download https://.*tests must not download"):
        load_raw("mnist")
    assert not list((data_env.parent / "cache" / "mnist").glob("*.part"))


def test_download_atomic_and_checked(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3000))
    dest = tmp_path / "out" / "file.gz"
    download(src.as_uri(), dest, md5=md5(src), quiet=False)  # draws a bar on stderr
    assert dest.read_bytes() == src.read_bytes()
    dest.unlink()
    with pytest.raises(DataError, match=f"md5 {md5(src)} does not match the official 0+"):
        download(src.as_uri(), dest, md5="0" * 32, name="mnist", quiet=True)
    assert not dest.exists() and not list(dest.parent.iterdir())


def test_download_with_fake_opener_failing_midway(tmp_path):
    class Broken(io.BytesIO):
        headers = {"Content-Length": "100"}

        def read(self, n=-1):
            if self.tell() >= 10:
                raise ConnectionResetError("connection reset")
            return super().read(10)

    dest = tmp_path / "x.gz"
    with pytest.raises(DataError, match="could not download http://example/x.gz: connection"):
        download("http://example/x.gz", dest, opener=lambda url: Broken(b"a" * 100), quiet=True)
    assert not list(tmp_path.iterdir())


def test_fetch_skips_good_files_and_refetches_bad_ones(data_env, official_fake_mnist):
    folder = fetch("mnist", quiet=True)
    target = folder / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(b"corrupt")
    before = (folder / "train-images-idx3-ubyte.gz").stat().st_mtime_ns
    fetch("mnist", quiet=True)
    assert md5(target) == md5(official_fake_mnist / target.name)
    assert (folder / "train-images-idx3-ubyte.gz").stat().st_mtime_ns == before


@UNVERIFIED
def test_lookup_order_path_then_data_then_cache(data_env, tmp_path, monkeypatch):
    a = write_cifar_folder(tmp_path / "explicit", "binary", cifar_parts(seed=1))
    b = write_cifar_folder(data_env / "cifar-10-sample", "binary", cifar_parts(seed=2))
    c = write_cifar_folder(data_env.parent / "cache" / "cifar10", "binary", cifar_parts(seed=3))
    assert load_raw("cifar10", path=tmp_path / "explicit").source == a
    assert load_raw("cifar10").source == b
    monkeypatch.setenv("SCRATCHLAB_DATA", str(tmp_path / "nowhere"))
    ds = load_raw("cifar10")
    assert ds.source == c
    np.testing.assert_array_equal(ds.parts["test_batch"][0], cifar_parts(seed=3)["test_batch"][0])


@UNVERIFIED
@pytest.mark.parametrize(
    "parent", [".", "cifar10", "CIFAR-10", "cifar-10-sample", "flat files in cifar10/"]
)
def test_liberal_cifar_layouts(data_env, parent):
    if parent.startswith("flat"):
        files = write_cifar_folder(data_env / "tmp", "python", cifar_parts())
        os.replace(files, data_env / "cifar10")
        expected = data_env / "cifar10"
    else:
        expected = write_cifar_folder(data_env / parent, "python", cifar_parts())
    assert find("cifar10").path == expected


def test_extracted_python_folder_verified_file_by_file(data_env, monkeypatch):
    folder = write_cifar_folder(data_env / "cifar10", "python", cifar_parts())
    sums = {p.name: md5(p) for p in folder.iterdir()}
    monkeypatch.setattr(locate, "CIFAR_PY_MEMBER_MD5", sums)
    ds = load_raw("cifar10")
    assert ds.verified and ds.check == "verified (md5 of each file)"


@UNVERIFIED
def test_renamed_archives_only_via_explicit_path(data_env):
    from fakedata import write_tar

    write_tar(data_env / "cifar-100-python.tar.gz", {"cifar-100-python/train": b"x"})
    mine = write_cifar_archive(data_env / "x", "binary", cifar_parts(), filename="mine.tgz")
    assert find("cifar10") is None  # neither archive has an official name
    ds = load_raw("cifar10", path=mine)
    assert ds.source == mine and ds.check == "unverified (not an official archive name)"


def test_official_archive_names_are_checked(data_env):
    write_cifar_archive(data_env / "cifar10", "binary", cifar_parts())
    with pytest.raises(DataError, match="c32a1d4ab5d03f1284b67883e8d87530"):
        load_raw("cifar10")


@UNVERIFIED
def test_mnist_layouts_and_incomplete_folders(data_env):
    write_mnist_folder(data_env / "MNIST" / "raw", mnist_parts(n_train=12, n_test=4), gz=False)
    assert find("mnist").path == data_env / "MNIST" / "raw"
    assert find("fashion-mnist") is None  # MNIST files are not Fashion-MNIST
    with pytest.warns(UserWarning, match="uncompressed files have no official md5"):
        assert load_raw("mnist").verified is False
    (data_env / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    assert find("mnist") is None
    with pytest.raises(DataError, match="no complete MNIST files"):
        load_raw("mnist", path=data_env / "MNIST")


def test_explicit_path_must_exist(data_env):
    with pytest.raises(DataError, match="does not exist"):
        load_raw("cifar10", path=data_env / "nope")


def test_unverified_folder_warns_every_load(data_env):
    write_cifar_folder(data_env / "cifar-10-sample", "binary", cifar_parts())
    for _ in range(2):  # second load comes from the decoded cache
        with pytest.warns(UserWarning, match=r"unverified \(extracted folder\)"):
            assert load_raw("cifar10").verified is False


@UNVERIFIED
def test_decoded_cache_reused_and_invalidated(data_env, monkeypatch):
    folder = write_cifar_folder(data_env / "cifar10", "binary", cifar_parts(seed=1))
    first = load_raw("cifar10")
    entries = list((data_env.parent / "cache" / "decoded" / "cifar10").iterdir())
    assert len(entries) == 1 and (entries[0] / "data_batch_1.X.npy").is_file()

    def no_decode(loc):
        raise AssertionError("decoded again")

    monkeypatch.setattr(raw, "decode", no_decode)
    second = load_raw("cifar10")
    for part, (X, y) in first.parts.items():
        np.testing.assert_array_equal(second.parts[part][0], X)
        np.testing.assert_array_equal(second.parts[part][1], y)
    assert second.class_names == first.class_names
    monkeypatch.undo()
    monkeypatch.setenv("SCRATCHLAB_DATA", str(data_env))
    monkeypatch.setenv("SCRATCHLAB_CACHE", str(data_env.parent / "cache"))
    write_cifar_folder(data_env / "cifar10", "binary", cifar_parts(seed=2))  # files change
    st = (folder / "test_batch.bin").stat()
    os.utime(folder / "test_batch.bin", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = load_raw("cifar10")
    expect = cifar_parts(seed=2)["test_batch"][0]
    np.testing.assert_array_equal(third.parts["test_batch"][0], expect)
    assert len(list((data_env.parent / "cache" / "decoded" / "cifar10").iterdir())) == 1


@UNVERIFIED
def test_corrupt_cache_entry_is_ignored(data_env):
    write_cifar_folder(data_env / "cifar10", "binary", cifar_parts(seed=1))
    load_raw("cifar10")
    (entry,) = (data_env.parent / "cache" / "decoded" / "cifar10").iterdir()
    (entry / "test_batch.X.npy").write_bytes(b"garbage")
    ds = load_raw("cifar10")
    np.testing.assert_array_equal(ds.parts["test_batch"][0], cifar_parts(seed=1)["test_batch"][0])


def test_registry_contents():
    assert list(DATASETS) == ["cifar10", "mnist", "fashion-mnist", "digits"]
    cifar = DATASETS["cifar10"]
    assert {f.filename: f.md5 for f in cifar.files} == {
        "cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a",
        "cifar-10-binary.tar.gz": "c32a1d4ab5d03f1284b67883e8d87530",
        "cifar-10-matlab.tar.gz": "70270af85842c9e89bb428ec9976c926",
    }
    assert all(f.urls[0].startswith("https://www.cs.toronto.edu/~kriz/") for f in cifar.files)
    assert cifar.splits == ("a1", "all") and DATASETS["mnist"].splits == ("standard", "full")
    assert len(DATASETS["fashion-mnist"].files) == 4
    with pytest.raises(Exception, match="unknown dataset 'svhn'"):
        registry.get_spec("svhn")


def test_a_sample_under_scratchlab_data_does_not_shadow_a_verified_download(
    data_env, official_fake_mnist
):
    """The newcomer path: the unverifiable sample stays where it is, the verified copy wins."""
    write_mnist_folder(data_env / "mnist", mnist_parts(n_train=12, n_test=4), gz=False)
    with pytest.warns(UserWarning, match="uncompressed files have no official md5"):
        assert load_raw("mnist").verified is False  # only the sample so far
    fetch("mnist")  # the official files (file:// here) into the cache
    ds = load_raw("mnist")
    assert ds.verified and ds.source == data_env.parent / "cache" / "mnist"


def test_data_fetch_does_nothing_when_a_verified_copy_is_present(
    data_env, official_fake_mnist, capsys
):
    from scratchlab.cli import main

    os.replace(official_fake_mnist, data_env / "mnist")
    assert main(["data", "fetch", "mnist"]) == 0
    assert "a verified copy is already at" in capsys.readouterr().out
    assert not (data_env.parent / "cache" / "mnist").exists()


def test_a_download_larger_than_any_official_file_is_stopped(tmp_path, monkeypatch):
    from scratchlab.data import sources

    monkeypatch.setattr(sources, "MAX_DOWNLOAD_BYTES", 3 << 20)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (5 << 20))
    with pytest.raises(DataError, match="exceeds 3 MiB"):
        download(big.as_uri(), tmp_path / "out" / "big.bin", quiet=True)
    assert not list((tmp_path / "out").iterdir())  # no partial file left behind
