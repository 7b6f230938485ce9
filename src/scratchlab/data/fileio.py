"""Small file helpers shared by the readers: error translation, md5, atomic writes.

Every reader wraps its file access in `reading(what)`, so a truncated, corrupt or
unreadable file surfaces as one `DataError` naming the file, never as a traceback.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import struct
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scratchlab.errors import DataError

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
    """Call `writer(file_object)` on a temporary file beside `path`, then rename it.

    Readers never see a half-written file: `os.replace` is atomic on one filesystem.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
