"""The restricted unpickler: CIFAR pickles load, anything that runs code is refused."""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest
from fakedata import cifar_parts, malicious_pickle, python_batch_bytes, write_cifar_folder

from scratchlab.data import cifar, load_raw
from scratchlab.data.safe_pickle import safe_loads
from scratchlab.errors import DataError

pytestmark = pytest.mark.filterwarnings("ignore:.*unverified:UserWarning")


def test_the_malicious_pickle_really_runs_code_when_loaded_plainly(tmp_path):
    marker = tmp_path / "ran"
    pickle.loads(malicious_pickle(marker))  # what the plain unpickler would do
    assert marker.exists()


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    evil = malicious_pickle(marker)
    with pytest.raises(DataError, match=r"refusing to load .*construct (posix|nt)\.system"):
        safe_loads(evil, "data_batch_1")
    assert not marker.exists()


def test_malicious_batch_in_a_folder_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    folder = write_cifar_folder(tmp_path, "python", cifar_parts())
    (folder / "data_batch_3").write_bytes(malicious_pickle(marker))
    with pytest.raises(DataError, match=r"refusing to load .*data_batch_3"):
        load_raw("cifar10", path=folder, use_cache=False)
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        b"cbuiltins\neval\n(V1+1\ntR.",
        b"cnumpy\nload\n(Vx\ntR.",
        b"c_codecs\ndecode\n(Vx\nVrot13\ntR.",
    ],
)
def test_other_globals_refused(payload):
    with pytest.raises(DataError, match="refusing to load"):
        safe_loads(payload)


def test_codecs_encode_only_latin1():
    assert safe_loads(b"c_codecs\nencode\n(V\xe9\nVlatin1\ntR.") == b"\xe9"
    with pytest.raises(DataError, match="_codecs.encode with 'rot13'"):
        safe_loads(b"c_codecs\nencode\n(Vx\nVrot13\ntR.")


def test_python3_pickles_also_load():
    X = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    d = safe_loads(pickle.dumps({b"data": X, b"labels": [1, 2], b"x": b"\xff"}, protocol=2))
    np.testing.assert_array_equal(d[b"data"], X)
    assert d[b"x"] == b"\xff"
    d = safe_loads(pickle.dumps({"data": X, "labels": [1, 2]}, protocol=4))
    np.testing.assert_array_equal(d["data"], X)


def test_object_arrays_refused():
    blob = pickle.dumps(np.array([1, "a"], dtype=object), protocol=2)
    with pytest.raises(DataError):
        safe_loads(blob)


def test_official_style_batch_uses_only_allowed_globals():
    X, y = cifar_parts()["data_batch_1"]
    got, labels = cifar.python_batch(python_batch_bytes(X, y), "data_batch_1")
    np.testing.assert_array_equal(got, X)
    np.testing.assert_array_equal(labels, y)


# --- memory bounds of the unpickler (the files themselves: tests/test_data_bounds.py) ----

SHAPE = (
    b"J" + struct.pack("<i", 700_000) + b"M" + struct.pack("<H", 3072) + b"\x86"
)  # (700000, 3072)


def test_ndarray_cannot_be_called_to_allocate_a_declared_shape():
    """``numpy.ndarray((700000, 3072))`` would allocate 2 GiB from a 60-byte pickle."""
    blob = b"\x80\x02cnumpy\nndarray\n" + SHAPE + b"\x85R."
    with pytest.raises(DataError, match="calls numpy.ndarray directly"):
        safe_loads(blob, "data_batch_1")


def test_reconstruct_checks_the_declared_shape_against_the_cap():
    blob = pickle.dumps(np.zeros(3, np.uint8), protocol=2)
    assert b"K\x00\x85" in blob  # _reconstruct(ndarray, (0,), b'b')
    huge = blob.replace(b"K\x00\x85", SHAPE, 1)
    with pytest.raises(
        DataError, match=r"data_batch_1: an array of shape \(700000, 3072\) declares"
    ):
        safe_loads(huge, "data_batch_1")


def test_array_data_must_match_its_declared_shape():
    """The array's bytes come from the file: a shape larger than its data is refused."""
    blob = pickle.dumps(np.zeros((2, 3), np.uint8), protocol=2)
    bigger = blob.replace(b"K\x02K\x03\x86", SHAPE, 1)
    with pytest.raises(DataError, match="buffer size does not match"):
        safe_loads(bigger, "data_batch_1")


def test_opcode_budget_scales_with_the_cap(monkeypatch):
    from scratchlab.data import fileio, safe_pickle

    blob = pickle.dumps(list(range(3000)), protocol=2)
    assert safe_loads(blob) == list(range(3000))
    monkeypatch.setattr(fileio, "MAX_FILE_BYTES", 64 * 1000)  # budget: 1000 opcodes
    assert safe_pickle.max_ops() == 1000
    with pytest.raises(DataError, match="more than 1000 pickle opcodes"):
        safe_loads(blob)


@pytest.mark.parametrize(
    ("blob", "reason"),
    [(b"\x80\x02T\xff\xff\xff\xff.", "runs past the end"),  # negative BINSTRING length
     (b"\x80\x02\x8e\x00\x00\x00\x00\x01\x00\x00\x00.", "runs past the end"),  # 4 GiB bytes8
     (b"\x80\x02N", "no STOP"), (b"\x80\x02\xff.", "unknown opcode")],
)  # fmt: skip
def test_scan_refuses_malformed_opcodes_before_unpickling(blob, reason):
    with pytest.raises(DataError, match=reason):
        safe_loads(blob, "x")
