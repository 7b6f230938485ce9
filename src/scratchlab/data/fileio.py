"""Small file helpers shared by the readers: the size cap, error translation, md5, writes.

Every reader wraps its file access in `reading(what)`, so a truncated, corrupt or
unreadable file surfaces as one `DataError` naming the file, never as a traceback.

`MAX_FILE_BYTES` is the one size cap of every decoder: no data file (IDX, CIFAR batch in
any format, archive member) may hold or decode to more. Decoders compare what a file
*declares* (a header's dimensions, a tar member's size, a MATLAB variable's shape) with
the cap and with the file itself before they allocate, and decompress in bounded
chunks, so a small hostile file cannot make them allocate more than about the cap.
"""

from __future__ import annotations

import hashlib
import pickle
import struct
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from scratchlab.errors import DataError

MAX_FILE_BYTES = 64 << 20
"""64 MiB: the most one data file may hold or decode to. The largest official file,
MNIST's training images, decodes to 47,040,016 bytes; a CIFAR-10 batch to ~31 MB.
Read at call time (through `size_cap`), so tests may lower it."""

# What corrupt files raise inside gzip, tarfile, pickle, scipy.io and numpy.
_READ_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    zlib.error,
    struct.error,
    tarfile.TarError,
    pickle.UnpicklingError,
    NotImplementedError,
    RecursionError,  # a chain of nested tar headers
)


@contextmanager
def reading(what: str | Path) -> Iterator[None]:
    """Turn low-level read/decode errors into `DataError(f"cannot read {what}: ...")`."""
    try:
        yield
    except DataError:
        raise
    except _READ_ERRORS as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__  # one line (tarfile's has 5)
        raise DataError(
            f"cannot read {what}: {reason} (the file is truncated, corrupt or not in the "
            "expected format; delete it and fetch it again with `scratchlab data fetch`, "
            "or pass an explicit path to intact files)"
        ) from exc


def size_cap() -> int:
    """The current value of `MAX_FILE_BYTES`."""
    return MAX_FILE_BYTES


def human_bytes(n: int) -> str:
    """``2352 -> '2352 bytes'``, ``47040016 -> '44.9 MiB'`` (exact below 1 MiB)."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def check_declared(what: str | Path, nbytes: int, declared: str) -> None:
    """DataError unless `nbytes` (what `declared` asks for) fits under the size cap."""
    cap = size_cap()
    if nbytes > cap:
        raise DataError(
            f"{what}: {declared} declares {human_bytes(nbytes)}, more than the "
            f"{human_bytes(cap)} one data file may hold (the largest official file holds "
            "45 MiB); the file is corrupt or not what its name says -- delete it and fetch "
            "it again with `scratchlab data fetch`"
        )


def read_capped(path: Path) -> bytes:
    """The bytes of `path`, refused (DataError) before reading when it exceeds the cap."""
    with reading(path):
        check_declared(path, path.stat().st_size, "its size")
        return path.read_bytes()


def read_exact(stream, n: int, what: str | Path, chunk: int = 4 << 20) -> np.ndarray:
    """Read exactly `n` bytes of `stream` into a new writable uint8 array.

    Reads in `chunk`-byte pieces (a decompressing stream then never holds more than one
    piece beside the array); DataError when the stream ends early.
    """
    out = np.empty(n, dtype=np.uint8)
    view, pos = memoryview(out), 0
    while pos < n:
        got = stream.readinto(view[pos : pos + chunk])
        if not got:
            raise DataError(
                f"{what}: ends after {pos} of the {n} data bytes its header declares; the "
                "file is truncated or corrupt -- delete it and fetch it again"
            )
        pos += got
    return out


def expect_end(stream, what: str | Path, n: int) -> None:
    """DataError when `stream` holds more than the `n` data bytes its header declared."""
    if stream.read(1):
        raise DataError(
            f"{what}: holds more than the {n} data bytes its header declares; the file is "
            "corrupt or not what its name says -- delete it and fetch it again"
        )


def md5_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex md5 of a file, read in 1 MiB chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with reading(path), open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def md5_bytes(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def mismatch_message(file: str | Path, expected: str, actual: str, name: str) -> str:
    """The message for a checksum failure: file, both sums, what to do."""
    return (
        f"{file}: md5 {actual} does not match the official {expected} (the file is "
        f"truncated, corrupt or not the official one); delete it and run "
        f"`scratchlab data fetch {name}` to download it again, or pass its folder as an "
        f"explicit data path to use it unverified"
    )


def atomic_write(path: Path, writer) -> None:
    """Call `writer(binary file)` on a temporary sibling of `path`, then rename it into place
    (`scratchlab.io.atomic_open`: the one atomic writer of the package)."""
    from scratchlab.io import atomic_open

    with atomic_open(path, "wb") as handle:
        writer(handle)
