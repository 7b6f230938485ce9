"""Property: the dataset readers, fed random or mutated bytes, fail only with DataError.

Never another exception type, never a hang (each test has a time limit), never code run
from a pickle. Valid tiny files in the official formats are built by `fakedata`; the
mutations truncate, flip, insert and delete bytes.
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pytest
from fakedata import (
    cifar_files,
    cifar_parts,
    idx_bytes,
    malicious_pickle,
    write_cifar_archive,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scratchlab.data import cifar, idx
from scratchlab.data.safe_pickle import safe_loads
from scratchlab.errors import DataError

FAST = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)  # fmt: skip

PARTS = cifar_parts({p: 3 for p in cifar.CIFAR_PARTS})
VALID = {fmt: cifar_files(fmt, PARTS) for fmt in ("python", "matlab", "binary")}
IMAGES = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
LABELS = np.array([1, 7, 3], dtype=np.uint8)


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """`original` with a few random edits (or, sometimes, cut short or replaced)."""
    data = bytearray(original)
    kind = draw(st.sampled_from(["edit", "truncate", "random", "empty"]))
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, max(0, len(data) - 1)))])
    if kind == "random":
        return draw(st.binary(max_size=512))
    if kind == "empty":
        return b""
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


def _only_data_error(fn, *args):
    """Call fn; it may succeed (a harmless mutation) or raise DataError, nothing else."""
    try:
        fn(*args)
    except DataError as exc:
        assert str(exc) and "\n" not in str(exc).strip()


# --- IDX ------------------------------------------------------------------------------------


@pytest.mark.timeout(120)
@FAST
@given(blob=mutated(idx_bytes(IMAGES)), gz=st.booleans())
def test_idx_images(blob, gz):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "train-images-idx3-ubyte"
        path.write_bytes(gzip.compress(blob, mtime=0) if gz else blob)
        _only_data_error(idx.read_idx, path, 3)


@pytest.mark.timeout(120)
@FAST
@given(images=mutated(idx_bytes(IMAGES)), labels=mutated(idx_bytes(LABELS)))
def test_idx_pair(images, labels):
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "i").write_bytes(images)
        (Path(d) / "l").write_bytes(labels)
        _only_data_error(idx.read_pair, Path(d) / "i", Path(d) / "l", (1, 28, 28))


@pytest.mark.timeout(120)
@FAST
@given(blob=mutated(gzip.compress(idx_bytes(LABELS), mtime=0)))
def test_idx_corrupt_gzip_stream(blob):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t10k-labels-idx1-ubyte.gz"
        path.write_bytes(blob)
        _only_data_error(idx.read_idx, path, 1)


# --- CIFAR-10: each format's batch and meta files, decoded as a folder would be -------------


def _decode_with(fmt: str, name: str, blob: bytes) -> None:
    names = cifar.file_names(fmt)
    key = next(k for k, n in names.items() if n == name)
    blobs = {k: VALID[fmt][n] for k, n in names.items()}
    blobs[key] = blob
    cifar._decode(blobs, fmt, "fuzzed")


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("fmt", "name"),
    [("binary", "data_batch_1.bin"), ("binary", "batches.meta.txt"),
     ("python", "data_batch_2"), ("python", "batches.meta"),
     ("matlab", "test_batch.mat"), ("matlab", "batches.meta.mat")],
)  # fmt: skip
def test_cifar_files(fmt, name):
    @FAST
    @given(blob=mutated(VALID[fmt][name]))
    def check(blob):
        _only_data_error(_decode_with, fmt, name, blob)

    check()


@pytest.mark.timeout(120)
@FAST
@given(blob=mutated(VALID["python"]["data_batch_1"]))
def test_safe_unpickler(blob):
    _only_data_error(safe_loads, blob, "fuzzed")


@pytest.mark.timeout(120)
@FAST
@given(prefix=st.binary(max_size=64), suffix=st.binary(max_size=64))
def test_safe_unpickler_never_runs_code(prefix, suffix):
    with tempfile.TemporaryDirectory() as d:
        marker = Path(d) / "pwned"
        _only_data_error(safe_loads, prefix + malicious_pickle(marker) + suffix, "fuzzed")
        _only_data_error(safe_loads, malicious_pickle(marker)[:-1] + suffix, "fuzzed")
        assert not marker.exists()


ARCHIVE: dict[str, bytes] = {}


def _archive(fmt: str) -> bytes:
    if fmt not in ARCHIVE:
        with tempfile.TemporaryDirectory() as d:
            ARCHIVE[fmt] = write_cifar_archive(Path(d), fmt, PARTS).read_bytes()
    return ARCHIVE[fmt]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("fmt", ["binary", "python"])
def test_cifar_archive(fmt):
    @FAST
    @given(blob=mutated(_archive(fmt)))
    def check(blob):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / f"cifar-10-{fmt}.tar.gz"
            path.write_bytes(blob)
            _only_data_error(cifar.read_archive, path)

    check()


@pytest.mark.timeout(120)
@FAST
@given(member=mutated(VALID["binary"]["test_batch.bin"]))
def test_cifar_archive_with_a_mutated_member(member):
    """A valid gzip/tar wrapper around a damaged file (the mutation survives decompression)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in VALID["binary"].items():
            data = member if name == "test_batch.bin" else data
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "cifar-10-binary.tar.gz"
        path.write_bytes(buf.getvalue())
        _only_data_error(cifar.read_archive, path)


def test_a_mat_file_that_crashes_scipy_is_a_data_error(tmp_path):
    """A data-element tag with an invalid type code (8) makes scipy.io.loadmat (1.17)
    dereference a NULL pointer (scipy gh-25349); the reader runs it in a child process."""
    import struct

    from fakedata import write_cifar_folder

    folder = write_cifar_folder(tmp_path, "matlab", PARTS)
    batch = folder / "data_batch_3.mat"
    tag = struct.pack("<II", 2, 3 * 3072)  # miUINT8, the pixels' byte count
    assert batch.read_bytes().count(tag) == 1
    batch.write_bytes(batch.read_bytes().replace(tag, struct.pack("<II", 8, 3 * 3072)))
    with pytest.raises(DataError, match=r"crashed on its data_batch_3 file .*damaged"):
        cifar.read_folder(folder, "matlab")


# --- the opcode walk of safe_pickle accepts every ordinary pickle ---------------------------

PLAIN = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.binary(max_size=300),
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=40,
)


@pytest.mark.timeout(120)
@FAST
@given(obj=PLAIN, protocol=st.integers(0, 5))
def test_scan_accepts_what_pickle_writes(obj, protocol):
    """No false alarms: the walk that bounds memory knows every opcode of protocols 0-5
    (whether the allowlist then rebuilds the objects is another matter)."""
    from scratchlab.data.safe_pickle import scan

    scan(pickle.dumps(obj, protocol=protocol), "plain")


@pytest.mark.timeout(120)
@FAST
@given(n=st.integers(1, 50), protocol=st.integers(2, 4))
def test_scan_accepts_pickled_uint8_arrays(n, protocol):
    X = np.arange(n * 7, dtype=np.uint8).reshape(n, 7)
    np.testing.assert_array_equal(safe_loads(pickle.dumps(X, protocol=protocol)), X)
