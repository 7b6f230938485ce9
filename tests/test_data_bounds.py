"""Hostile data files: small on disk, huge when decoded. Each fails with one DataError line
before anything of the declared size is allocated.

The bombs are built in tmp_path in a fraction of a second from one compressed block of
64 MiB of zeros, repeated (a gzip file may hold many members; a deflate stream restarts
at a full flush), and loaded in a child process whose peak resident memory (its own and
its children's, `ru_maxrss`) must stay under `PEAK_MB`. The time each takes is printed
(`pytest -s`), not asserted.
"""

from __future__ import annotations

import functools
import gzip
import json
import struct
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from fakedata import CIFAR_PARTS, cifar_parts, mnist_parts, write_cifar_folder, write_mnist_folder
from runhelpers import ROOT, subprocess_env

PEAK_MB = 300
BLOCK = 64 << 20  # bytes of zeros per repeated compressed block
GiB = 1 << 30

# Runs a command and reports its exit code, stdout/stderr, time and the peak RSS of it and
# its descendants (the MATLAB reader's child included): RUSAGE_CHILDREN of this wrapper.
MEASURE = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": p.returncode, "out": p.stdout, "err": p.stderr,
                  "seconds": time.perf_counter() - t,
                  "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""
LOAD = """
import sys, time, warnings
warnings.simplefilter("ignore")
from scratchlab.data import load_raw
from scratchlab.errors import DataError
t = time.perf_counter()
try:
    load_raw(sys.argv[1], path=sys.argv[2], use_cache=False)
except DataError as exc:
    print(exc)
    sys.exit(2)
finally:
    print(f"load_raw {time.perf_counter() - t:.3f} s", file=sys.stderr)
"""


def measure(*command: str) -> dict:
    """Run `command` in a child; its result with `seconds` and `peak_mb`."""
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=subprocess_env(),
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def load_in_child(name: str, path: Path, what: str) -> str:
    """`load_raw(name, path)` in a child: it must fail with one DataError line under the
    memory bound; returns that line."""
    res = measure(sys.executable, "-c", LOAD, name, str(path))
    files = list(path.rglob("*")) if path.is_dir() else [path]
    size = sum(p.stat().st_blocks * 512 for p in files)  # on disk: sparse holes excluded
    print(
        f"\n{what}: {size / 1e6:.1f} MB on disk -> failed in {res['seconds']:.2f} s "
        f"(process; {res['err'].strip()}), peak {res['peak_mb']:.0f} MB: {res['out'].strip()}"
    )
    assert res["rc"] == 2, res
    assert res["err"].startswith("load_raw ") and len(res["err"].splitlines()) == 1, res["err"]
    lines = res["out"].strip().splitlines()
    assert len(lines) == 1, res["out"]
    assert res["peak_mb"] < PEAK_MB, res
    return lines[0]


@functools.cache
def gzip_zeros() -> bytes:
    """One gzip member holding BLOCK zero bytes (~65 KB)."""
    return gzip.compress(bytes(BLOCK), compresslevel=9, mtime=0)


def gzip_bomb(path: Path, head: bytes, n_blocks: int, tail: bytes = b"") -> Path:
    """A valid multi-member gzip file: `head`, `n_blocks` x BLOCK zeros, `tail`."""
    with open(path, "wb") as f:
        f.write(gzip.compress(head, mtime=0))
        for _ in range(n_blocks):
            f.write(gzip_zeros())
        if tail:
            f.write(gzip.compress(tail, mtime=0))
    return path


@functools.cache
def deflate_zeros() -> bytes:
    """Raw deflate of BLOCK zeros after a full flush: valid wherever a block may start."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    c.compress(b"x")
    c.flush(zlib.Z_FULL_FLUSH)
    return c.compress(bytes(BLOCK)) + c.flush(zlib.Z_FULL_FLUSH)


def zlib_stream(head: bytes, n_zeros: int) -> bytes:
    """A zlib stream of `head` followed by `n_zeros` zero bytes (checksum included)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [b"\x78\xda", c.compress(head), c.flush(zlib.Z_FULL_FLUSH)]
    blocks, rest = divmod(n_zeros, BLOCK)
    parts += [deflate_zeros()] * blocks
    parts += [c.compress(bytes(rest)), c.flush(zlib.Z_FINISH)]
    adler = zlib.adler32(head)
    for _ in range(blocks):
        adler = zlib.adler32(bytes(BLOCK), adler)  # ~20 ms per block
    adler = zlib.adler32(bytes(rest), adler)
    return b"".join(parts) + struct.pack(">I", adler)


def mat_header() -> bytes:
    text = b"MATLAB 5.0 MAT-file, written by a test".ljust(116, b" ")
    return text + bytes(8) + struct.pack("<H", 0x0100) + b"IM"


def mat_variable(name: bytes, dims: tuple[int, ...], data_bytes: int, cls: int = 9) -> bytes:
    """The start of an uncompressed miMATRIX element (class uint8 by default) up to its
    data tag: array flags, dimensions, a short name, then the data tag (miUINT8)."""
    flags = struct.pack("<IIII", 6, 8, cls, 0)
    dim = struct.pack("<II", 5, 4 * len(dims)) + struct.pack(f"<{len(dims)}i", *dims)
    dim += bytes(-len(dim) % 8)
    assert len(name) <= 4
    small_name = struct.pack("<I", (len(name) << 16) | 1) + name.ljust(4, b"\0")
    body = flags + dim + small_name + struct.pack("<II", 2, data_bytes)
    return struct.pack("<II", 14, len(body) + data_bytes) + body


# --- IDX (MNIST) -----------------------------------------------------------------------------


def mnist_with(tmp_path: Path, filename: str, writer, gz: bool = True) -> Path:
    """An MNIST folder of tiny valid files whose train images are `writer(folder/filename)`
    (`gz=False`: the others uncompressed, so none has an official md5 to fail)."""
    folder = write_mnist_folder(tmp_path / "mnist", mnist_parts(n_train=4, n_test=2), gz=gz)
    (folder / ("train-images-idx3-ubyte" + (".gz" if gz else ""))).unlink()
    writer(folder / filename)
    return folder


def test_gzip_that_expands_to_3_gib_behind_an_honest_header(tmp_path):
    """3 MB of gzip, 3 GiB of data, header (60000, 28, 28): reading stops at 47 MB + 1."""
    header = struct.pack(">BBBB3I", 0, 0, 8, 3, 60000, 28, 28)  # magic 0x00000803, dims
    folder = mnist_with(
        tmp_path, "train-images-idx3-ubyte.gz", lambda p: gzip_bomb(p, header, 3 * GiB // BLOCK)
    )
    assert (folder / "train-images-idx3-ubyte.gz").stat().st_size < 4e6
    line = load_in_child("mnist", folder, "IDX gzip, 3 GiB of zeros after a (60000,28,28) header")
    assert "holds more than the 47040000 data bytes its header declares" in line


def test_gzip_whose_header_declares_3_gib(tmp_path):
    header = struct.pack(">BBBB3I", 0, 0, 8, 3, 50_000, 256, 256)  # 3.05 GiB
    folder = mnist_with(
        tmp_path, "train-images-idx3-ubyte.gz", lambda p: gzip_bomb(p, header, 3 * GiB // BLOCK)
    )
    line = load_in_child("mnist", folder, "IDX gzip declaring 50000x256x256")
    assert "its header (50000, 256, 256) declares 3.1 GiB, more than the 64.0 MiB" in line


@pytest.mark.parametrize(
    "spelling", ["train-images-idx3-ubyte", "train-images.idx3-ubyte", "train-images.idx3-ubyte.gz"]
)
def test_alternative_spellings_without_md5_are_checked_the_same(tmp_path, spelling):
    """Spellings that have no official md5 (uncompressed, dotted) go through the same cap;
    a sparse 3 GiB file takes no disk space."""
    header = struct.pack(">BBBB3I", 0, 0, 8, 3, 50_000, 256, 256)

    def write(path: Path) -> None:
        if path.suffix == ".gz":
            gzip_bomb(path, header, 2)
            return
        with open(path, "wb") as f:
            f.write(header)
            f.truncate(len(header) + 50_000 * 256 * 256)  # sparse: a hole, not data

    folder = mnist_with(tmp_path, spelling, write)
    line = load_in_child("mnist", folder, f"IDX {spelling} declaring 50000x256x256")
    assert spelling in line and "declares 3.1 GiB, more than the 64.0 MiB" in line


# --- CIFAR-10: MATLAB, pickles, binary, archives ----------------------------------------------


def cifar_folder_with(tmp_path: Path, fmt: str, name: str, data: bytes | None = None) -> Path:
    folder = write_cifar_folder(tmp_path / "c", fmt, cifar_parts({p: 2 for p in CIFAR_PARTS}))
    if data is not None:
        (folder / name).write_bytes(data)
    return folder


def test_mat_file_of_2_mb_that_declares_700000_images(tmp_path):
    """miCOMPRESSED 'data' of 700000x3072 uint8: 2 MB of zlib holding 2.0 GiB of zeros."""
    n_bytes = 700_000 * 3072
    stream = zlib_stream(mat_variable(b"data", (700_000, 3072), n_bytes), n_bytes)
    blob = mat_header() + struct.pack("<II", 15, len(stream)) + stream
    assert len(blob) < 2.5e6
    folder = cifar_folder_with(tmp_path, "matlab", "data_batch_1.mat", blob)
    line = load_in_child("cifar10", folder, ".mat declaring 700000 images")
    assert "data_batch_1.mat: variable 'data' (700000x3072 uint8) declares 2.0 GiB" in line


def test_mat_element_longer_than_the_file(tmp_path):
    blob = mat_header() + mat_variable(b"data", (700_000, 3072), 700_000 * 3072) + bytes(4096)
    folder = cifar_folder_with(tmp_path, "matlab", "test_batch.mat", blob)
    line = load_in_child("cifar10", folder, "uncompressed .mat declaring 700000 images")
    assert "test_batch.mat: an element at byte 128 declares" in line


def test_pickle_that_references_one_object_25_million_times(tmp_path):
    """25 MB of DUP opcodes would build a 25-million-entry list (~400 MB) in the C
    unpickler; the opcode walk refuses it first."""
    bomb = b"\x80\x02]q\x00(N" + b"2" * 25_000_000 + b"e."
    folder = cifar_folder_with(tmp_path, "python", "data_batch_1", bomb)
    line = load_in_child("cifar10", folder, "pickle of 25M references")
    assert "data_batch_1: more than 1048576 pickle opcodes" in line


def test_pickle_with_a_huge_memo_index(tmp_path):
    """LONG_BINPUT 100,000,000 would make the unpickler grow its memo to 1.6 GB."""
    bomb = b"\x80\x02Nr" + struct.pack("<I", 100_000_000) + b"."
    folder = cifar_folder_with(tmp_path, "python", "data_batch_2", bomb)
    line = load_in_child("cifar10", folder, "pickle memo index 1e8")
    assert "memo index 100000000 is implausible" in line


@pytest.mark.parametrize(
    ("fmt", "name"), [("binary", "data_batch_1.bin"), ("python", "test_batch")]
)
def test_batch_file_larger_than_the_cap_is_not_read(tmp_path, fmt, name):
    folder = cifar_folder_with(tmp_path, fmt, name)
    with open(folder / name, "r+b") as f:
        f.truncate(3 * GiB)  # sparse
    line = load_in_child("cifar10", folder, f"{fmt} batch of 3 GiB (sparse)")
    assert f"{name}: its size declares 3.0 GiB, more than the 64.0 MiB" in line


def tar_header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type = size, kind
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def test_tar_member_of_448_mib(tmp_path):
    """A wanted member under the old 512 MiB limit was read whole into memory."""
    size = 7 * BLOCK
    path = gzip_bomb(
        tmp_path / "cifar-10-binary.tar.gz",
        tar_header("cifar-10-batches-bin/data_batch_1.bin", size),
        size // BLOCK,
        bytes(1024),
    )
    line = load_in_child("cifar10", path, "tar.gz member of 448 MiB")
    assert "member cifar-10-batches-bin/data_batch_1.bin: its tar header declares 448.0 MiB" in line


def test_tar_of_many_members_just_under_the_cap(tmp_path):
    """48 members of 64 MiB (3 GiB) in 3 MB: read no further than the cap (the archive
    may expand to 8 x its size on disk, but always to the cap)."""
    member = tar_header("junk", BLOCK - 512) + bytes(BLOCK - 512)
    packed = gzip.compress(member, compresslevel=9, mtime=0)
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(packed * 48 + gzip.compress(bytes(1024), mtime=0))
    line = load_in_child("cifar10", path, "tar.gz of 48 x 64 MiB members")
    assert "member junk ends 134217728 bytes into the decompressed archive" in line
    assert "beyond the 67108864 this archive may need" in line


def pax_bomb(path: Path) -> Path:
    """A tar.gz whose first header is a 3 GiB pax record (of zeros)."""
    return gzip_bomb(path, tar_header("././@PaxHeader", 3 * GiB, tarfile.XHDTYPE), 48)


def test_tar_pax_header_of_3_gib(tmp_path):
    """tarfile reads a pax header's data into memory whole; the header is refused first."""
    path = pax_bomb(tmp_path / "cifar-10-python.tar.gz")
    line = load_in_child("cifar10", path, "tar.gz with a 3 GiB pax header")
    assert "member ././@PaxHeader: its tar header declares 3.0 GiB" in line


def test_renamed_archive_given_as_path_is_bounded_too(tmp_path):
    """A file that is not an official archive name is probed with the bounded reader."""
    path = pax_bomb(tmp_path / "my-cifar.tgz")
    line = load_in_child("cifar10", path, "renamed tar.gz with a 3 GiB pax header")
    assert "its tar header declares 3.0 GiB" in line


def test_cli_reports_the_bomb_on_one_line(tmp_path):
    """Through `scratchlab data verify` (a spelling without md5, so it is decoded)."""
    header = struct.pack(">BBBB3I", 0, 0, 8, 3, 60000, 28, 28)
    folder = mnist_with(
        tmp_path,
        "train-images.idx3-ubyte.gz",
        lambda p: gzip_bomb(p, header, 3 * GiB // BLOCK),
        gz=False,
    )
    res = measure(
        sys.executable, "-m", "scratchlab.cli", "data", "verify", "mnist", "--path", str(folder)
    )
    assert res["rc"] == 2 and res["peak_mb"] < PEAK_MB, res
    assert "holds more than the 47040000 data bytes" in res["out"]
    errors = [line for line in res["err"].splitlines() if "error" in line]
    assert errors == ["scratchlab: error: verification failed for mnist (see above)"], res["err"]


# --- the same checks in-process, with the cap lowered --------------------------------------


@pytest.fixture
def cap(monkeypatch):
    """Lower the one size cap (fileio.MAX_FILE_BYTES) for a test; returns a setter."""
    from scratchlab.data import fileio

    def set_cap(n: int) -> int:
        monkeypatch.setattr(fileio, "MAX_FILE_BYTES", n)
        return n

    return set_cap


@pytest.mark.parametrize("gz", [False, True])
def test_idx_at_the_cap_loads_and_one_byte_more_does_not(tmp_path, cap, gz):
    from fakedata import write_idx

    from scratchlab.data import idx
    from scratchlab.errors import DataError

    images = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28) % 251
    path = write_idx(tmp_path / ("x-idx3-ubyte" + (".gz" if gz else "")), images)
    cap(images.size)
    np.testing.assert_array_equal(idx.read_idx(path, 3), images)
    cap(images.size - 1)
    with pytest.raises(DataError, match=r"its header \(3, 28, 28\) declares 2352 bytes"):
        idx.read_idx(path, 3)


def test_gzip_with_data_beyond_its_header_is_refused(tmp_path):
    from scratchlab.data import idx
    from scratchlab.errors import DataError

    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(struct.pack(">BBBBI", 0, 0, 8, 1, 3) + bytes(5), mtime=0))
    with pytest.raises(DataError, match="holds more than the 3 data bytes its header declares"):
        idx.read_idx(path, 1)
    path.write_bytes(gzip.compress(struct.pack(">BBBBI", 0, 0, 8, 1, 9) + bytes(5), mtime=0))
    with pytest.raises(DataError, match="ends after 5 of the 9 data bytes"):
        idx.read_idx(path, 1)


@pytest.mark.parametrize("fmt", ["python", "matlab", "binary"])
def test_cifar_files_over_the_cap_are_refused_in_folders_and_archives(
    tmp_path, cap, fmt, monkeypatch
):
    from fakedata import write_cifar_archive

    from scratchlab.data import cifar
    from scratchlab.errors import DataError

    monkeypatch.setattr(cifar, "ARCHIVE_FILES", 100)  # tiny files: only the per-file cap here
    parts = cifar_parts({p: 3 for p in CIFAR_PARTS})
    folder = write_cifar_folder(tmp_path / "f", fmt, parts)
    archive = write_cifar_archive(tmp_path / "a", fmt, parts)
    biggest = max(p.stat().st_size for p in folder.iterdir())
    cap(biggest)
    cifar.read_folder(folder, fmt)
    cifar.read_archive(archive)
    cap(biggest - 1)
    with pytest.raises(DataError, match="more than the"):
        cifar.read_folder(folder, fmt)
    with pytest.raises(DataError, match="member .*its tar header declares"):
        cifar.read_archive(archive)


def test_compressed_and_uncompressed_mat_files_pass_the_size_check(tmp_path):
    import io

    import scipy.io

    from scratchlab.data import matlab

    X = np.arange(4 * 3072, dtype=np.uint8).reshape(4, 3072)
    cells = np.empty((2, 1), dtype=object)
    cells[0, 0], cells[1, 0] = "cat", "dog"
    for compress in (False, True):
        buf = io.BytesIO()
        scipy.io.savemat(
            buf,
            {"data": X, "labels": np.ones((4, 1), np.uint8), "label_names": cells},
            do_compression=compress,
        )
        matlab.check_sizes(buf.getvalue(), "x.mat")
        np.testing.assert_array_equal(matlab.batch(buf.getvalue(), "x.mat")[0], X)


def test_mat_variables_are_summed_against_the_cap(cap):
    from scratchlab.data import matlab
    from scratchlab.errors import DataError

    one = mat_variable(b"a", (100, 10), 1000) + bytes(1000)  # 1000 data bytes, 1048 in all
    blob = mat_header() + one + one
    cap(2096)
    matlab.check_sizes(blob, "x.mat")
    cap(2095)
    with pytest.raises(DataError, match="x.mat: the sum of its variables' element sizes declares"):
        matlab.check_sizes(blob, "x.mat")
    cap(1999)  # the arrays themselves (2 x 1000 uint8) no longer fit either
    with pytest.raises(DataError, match="x.mat: the sum of its variables' shapes declares 2000"):
        matlab.check_sizes(blob, "x.mat")


def test_mat_data_element_larger_than_its_variable_is_refused():
    from scratchlab.data import matlab
    from scratchlab.errors import DataError

    var = bytearray(mat_variable(b"data", (2, 3), 6) + bytes(8))
    var[-16 + 4 : -16 + 8] = struct.pack("<I", 60_000)  # the data tag's byte count
    with pytest.raises(DataError, match="holds a 60000 bytes data element inside a 54 bytes"):
        matlab.check_sizes(mat_header() + bytes(var), "x.mat")


def test_mat_child_caps_its_address_space():
    """The backstop for what the header check does not see (nested cells)."""
    code = (
        "from scratchlab.data.matlab import limit_address_space as f\n"
        "import numpy as np\n"
        "f(64 << 20)\n"
        "try:\n    np.ones(256 << 20, np.uint8)\nexcept MemoryError:\n    print('refused')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
    )
    assert proc.stdout.strip() == "refused", proc.stderr


def test_sparse_tar_members_are_refused(tmp_path):
    from scratchlab.data import cifar
    from scratchlab.errors import DataError

    info = tarfile.TarInfo("cifar-10-batches-bin/data_batch_1.bin")
    info.type, info.size = tarfile.GNUTYPE_SPARSE, 0
    path = tmp_path / "s.tar"
    path.write_bytes(info.tobuf(format=tarfile.GNU_FORMAT) + bytes(1024))
    with pytest.raises(DataError, match="is a sparse file"):
        cifar.read_archive(path)


def test_archive_with_too_many_members(tmp_path, monkeypatch):
    from fakedata import write_tar

    from scratchlab.data import cifar
    from scratchlab.errors import DataError

    monkeypatch.setattr(cifar, "MAX_MEMBERS", 5)
    path = write_tar(tmp_path / "m.tar.gz", {f"junk/{i}": b"x" for i in range(6)})
    with pytest.raises(DataError, match="holds more than 5 members"):
        cifar.read_archive(path)


def test_archive_limit_is_the_cap_ratio_or_files(tmp_path, cap, monkeypatch):
    from scratchlab.data import cifar

    cap(1 << 20)
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(bytes(10_000))
    with open(big, "wb") as f:
        f.truncate(300_000)
    assert cifar.archive_limit(small) == 1 << 20  # 8 x 10 kB < the cap: the cap
    assert cifar.archive_limit(big) == 8 * 300_000  # between the cap and 4 x the cap
    monkeypatch.setattr(cifar, "MAX_RATIO", 100)
    assert cifar.archive_limit(big) == 4 << 20  # 4 files' worth at most
