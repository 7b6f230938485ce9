"""CIFAR-10 readers for the three official layouts, from an archive or an extracted folder.

Every reader returns the same thing -- ``parts: {part: (X uint8 (n, 3072), y int64 (n,))}``
for ``data_batch_1..5`` and ``test_batch``, and the 10 class names -- so the python,
matlab and binary releases give identical arrays. Rows keep the files' channel-major
layout (1024 red, 1024 green, 1024 blue; each plane row-major 32x32).

- python: ``cifar-10-batches-py/data_batch_1`` ... pickled dicts with ``b'data'`` (uint8
  (n, 3072)) and ``b'labels'`` (list); meta ``batches.meta`` with ``b'label_names'``.
  Read with the restricted unpickler in `safe_pickle`.
- matlab: ``cifar-10-batches-mat/data_batch_1.mat`` with ``data`` uint8 (n, 3072) and
  ``labels`` uint8 (n, 1); meta ``batches.meta.mat`` with the cell array ``label_names``.
- binary: ``cifar-10-batches-bin/data_batch_1.bin``: n records of 1 label byte + 3072
  pixel bytes (n = file size / 3073, so partial batches load); meta ``batches.meta.txt``.

Archives are read member by member with `tarfile.extractfile` (nothing is written to
disk, so member paths cannot escape anywhere); only regular-file members whose name is
exactly ``<folder>/<file>`` are used. Every file -- in a folder or an archive, and every
tar header (long names, pax records) -- is checked against the size cap of
`scratchlab.data.fileio` before it is read, and an archive is decompressed for at most
`archive_limit` bytes and `MAX_MEMBERS` members, so a small hostile archive can neither
fill the memory nor keep the reader busy for long.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path, PurePosixPath

import numpy as np

from scratchlab.data import matlab
from scratchlab.data.fileio import check_declared, human_bytes, read_capped, reading, size_cap
from scratchlab.data.registry import CIFAR_PARTS
from scratchlab.data.safe_pickle import safe_loads
from scratchlab.errors import DataError

D = 3072  # 3 * 32 * 32
RECORD = 1 + D  # binary record: label byte + pixels
ARCHIVE_FILES = 4  # an archive is decompressed for at most 4 x the cap (official ones: 177 MiB)
MAX_RATIO = 8  # ... and 8 x its size on disk (official ones: 1.1; a gzip of zeros: 1000)
MAX_MEMBERS = 1000  # members read before giving up (the official archives have 8)

FOLDERS = {
    "python": "cifar-10-batches-py",
    "binary": "cifar-10-batches-bin",
    "matlab": "cifar-10-batches-mat",
}
FORMAT_OF_FOLDER = {folder: fmt for fmt, folder in FOLDERS.items()}
_SUFFIX = {"python": "", "matlab": ".mat", "binary": ".bin"}
META = {"python": "batches.meta", "matlab": "batches.meta.mat", "binary": "batches.meta.txt"}

Parts = dict[str, tuple[np.ndarray, np.ndarray]]


def file_names(fmt: str) -> dict[str, str]:
    """``{part or "meta": file name}`` for one format, e.g. ``data_batch_1 -> ...1.bin``."""
    names = {part: part + _SUFFIX[fmt] for part in CIFAR_PARTS}
    names["meta"] = META[fmt]
    return names


def folder_format(folder: Path) -> str | None:
    """The format of an extracted folder if it holds every file of one, else None."""
    fmt = FORMAT_OF_FOLDER.get(folder.name)
    candidates = [fmt] if fmt else list(FOLDERS)
    for f in candidates:
        if all((folder / n).is_file() for n in file_names(f).values()):
            return f
    return None


def missing_files(folder: Path, fmt: str) -> list[str]:
    """The files of format `fmt` that `folder` lacks."""
    return [n for n in file_names(fmt).values() if not (folder / n).is_file()]


def read_folder(folder: Path, fmt: str) -> tuple[Parts, list[str]]:
    """Decode an extracted folder (``cifar-10-batches-*``) of format `fmt`."""
    missing = missing_files(folder, fmt)
    if missing:
        raise DataError(
            f"{folder} is missing {', '.join(missing)}; it is not a complete CIFAR-10 {fmt} folder"
        )
    blobs = {key: read_capped(folder / name) for key, name in file_names(fmt).items()}
    return _decode(blobs, fmt, str(folder))


class _BoundedTarInfo(tarfile.TarInfo):
    """A tar header that refuses (DataError), before tarfile reads the data behind it, a
    size beyond the cap, an end beyond `archive_limit` into the decompressed stream, and
    sparse files (whose maps tarfile would read without bound)."""

    def _proc_member(self, tar):  # the hook tarfile documents for TarInfo subclasses
        check_extent(tar.name or "archive", self.name, self.offset + tarfile.BLOCKSIZE, self.size)
        if self.type == tarfile.GNUTYPE_SPARSE:
            self._sparse(tar)
        return super()._proc_member(tar)

    def _sparse(self, tar, *args):
        raise DataError(f"{tar.name}: member {self.name} is a sparse file, which CIFAR-10 has not")

    _proc_gnusparse_00 = _proc_gnusparse_01 = _proc_gnusparse_10 = _sparse


def archive_limit(archive) -> int:
    """How far into its decompressed stream an archive is read: ARCHIVE_FILES x the cap,
    and at most MAX_RATIO x its size on disk -- though always the cap. CIFAR-10's pixels
    barely compress, a decompression bomb is mostly zeros."""
    cap = size_cap()
    try:
        on_disk = os.path.getsize(archive)
    except (OSError, TypeError):  # opened from a file object
        return ARCHIVE_FILES * cap
    return min(ARCHIVE_FILES * cap, max(cap, MAX_RATIO * on_disk))


def check_extent(archive, name: str, start: int, size: int) -> None:
    """DataError when a member of `size` bytes at decompressed offset `start` is larger
    than the cap or ends beyond `archive_limit`."""
    check_declared(f"{archive}: member {name}", size, "its tar header")
    limit = archive_limit(archive)
    if start + size > limit:
        raise DataError(
            f"{archive}: member {name} ends {start + size} bytes into the decompressed archive, "
            f"beyond the {limit} this archive may need (at most {ARCHIVE_FILES} x the "
            f"{human_bytes(size_cap())} file cap, and {MAX_RATIO} x its size on disk: "
            "CIFAR-10 barely compresses); it is not an official archive"
        )


def open_archive(path: Path) -> tarfile.TarFile:
    """`tarfile.open(path, "r:*")` with the bounded headers of `_BoundedTarInfo`."""
    return tarfile.open(path, "r:*", tarinfo=_BoundedTarInfo)


def is_archive(path: Path) -> bool:
    """True if `path` opens as a tar archive (DataError for a hostile first header)."""
    try:
        with open_archive(path):
            return True
    except (OSError, tarfile.TarError):
        return False


def archive_members(archive: Path) -> tuple[str, dict[str, bytes]]:
    """Read the CIFAR files of a tar archive: ``(format, {part or "meta": bytes})``.

    One sequential pass over the archive; the first format folder with a complete set
    of files wins. Raises DataError when the archive holds no complete set.
    """
    found: dict[str, dict[str, bytes]] = {fmt: {} for fmt in FOLDERS}
    wanted = {fmt: {n: k for k, n in file_names(fmt).items()} for fmt in FOLDERS}
    with reading(archive), open_archive(archive) as tar:
        for count, member in enumerate(tar, 1):
            if count > MAX_MEMBERS:
                raise DataError(f"{archive} holds more than {MAX_MEMBERS} members; not CIFAR-10")
            check_extent(archive, member.name, member.offset_data, member.size)  # pax sizes
            parts = PurePosixPath(member.name.removeprefix("./")).parts
            if len(parts) != 2 or parts[0] not in FORMAT_OF_FOLDER or not member.isfile():
                continue
            fmt = FORMAT_OF_FOLDER[parts[0]]
            key = wanted[fmt].get(parts[1])
            if key is None:
                continue
            handle = tar.extractfile(member)
            found[fmt][key] = handle.read() if handle else b""
            if len(found[fmt]) == len(wanted[fmt]):
                return fmt, found[fmt]
    best = max(found, key=lambda f: len(found[f]))
    have = found[best]
    if not have:
        raise DataError(
            f"{archive} holds no CIFAR-10 files (expected a folder named one of "
            f"{', '.join(FOLDERS.values())}); pass the official archive or its folder"
        )
    lacking = [n for k, n in file_names(best).items() if k not in have]
    raise DataError(f"{archive} is missing {FOLDERS[best]}/{{{', '.join(lacking)}}}")


def read_archive(archive: Path) -> tuple[Parts, list[str], str]:
    """Decode a CIFAR-10 tar archive: ``(parts, class_names, format)``."""
    fmt, blobs = archive_members(archive)
    parts, names = _decode(blobs, fmt, str(archive) + ":" + FOLDERS[fmt])
    return parts, names, fmt


def _decode(blobs: dict[str, bytes], fmt: str, where: str) -> tuple[Parts, list[str]]:
    names = file_names(fmt)
    if fmt == "matlab":
        for key, blob in blobs.items():
            with reading(f"{where}/{names[key]}"):
                matlab.check_sizes(blob, f"{where}/{names[key]}")
        blobs = matlab.load_isolated(blobs, where)
    decode_batch = {"python": python_batch, "matlab": matlab.batch, "binary": binary_batch}[fmt]
    decode_meta = {"python": python_meta, "matlab": matlab.meta, "binary": binary_meta}[fmt]
    parts = {}
    for part in CIFAR_PARTS:
        what = f"{where}/{names[part]}"
        with reading(what):
            X, y = decode_batch(blobs[part], what)
        parts[part] = check_batch(X, y, what)
    what = f"{where}/{names['meta']}"
    with reading(what):
        class_names = decode_meta(blobs["meta"])
    if len(class_names) != 10:
        raise DataError(f"{what} lists {len(class_names)} class names, CIFAR-10 has 10")
    return parts, class_names


def check_batch(X, y, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate one batch: X uint8 (n, 3072), y integer labels 0..9 of length n."""
    X = np.asarray(X)
    y = np.asarray(y).reshape(-1)
    if X.dtype != np.uint8 or X.ndim != 2 or X.shape[1] != D:
        raise DataError(f"{what}: expected uint8 data of shape (n, {D}), got {X.dtype} {X.shape}")
    if y.shape[0] != X.shape[0] or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{what}: {y.shape[0]} labels for {X.shape[0]} images")
    if X.shape[0] == 0:
        raise DataError(f"{what}: the batch holds no images")
    if y.min() < 0 or y.max() > 9:
        raise DataError(f"{what}: labels must lie in 0..9, found {y.min()}..{y.max()}")
    return np.ascontiguousarray(X), y.astype(np.int64)


def _get(d: dict, key: str):
    """`d[b'key']` (Python 2 pickle) or `d['key']` (Python 3 pickle)."""
    if not isinstance(d, dict):
        raise DataError(f"expected a dict, found {type(d).__name__}")
    for k in (key.encode(), key):
        if k in d:
            return d[k]
    raise KeyError(f"no {key!r} entry")


def python_batch(blob: bytes, what: str) -> tuple[np.ndarray, np.ndarray]:
    d = safe_loads(blob, what)
    return _get(d, "data"), np.asarray(_get(d, "labels"), dtype=np.int64)


def python_meta(blob: bytes) -> list[str]:
    d = safe_loads(blob, "batches.meta")
    return [_text(n) for n in _get(d, "label_names")]


def binary_batch(blob: bytes, what: str) -> tuple[np.ndarray, np.ndarray]:
    if len(blob) % RECORD:
        raise DataError(
            f"{what}: size {len(blob)} bytes is not a multiple of the {RECORD}-byte record "
            "(1 label byte + 3072 pixels); the file is truncated or not a CIFAR-10 batch"
        )
    records = np.frombuffer(blob, dtype=np.uint8).reshape(-1, RECORD)
    return records[:, 1:].copy(), records[:, 0].astype(np.int64)


def binary_meta(blob: bytes) -> list[str]:
    return [line.strip() for line in blob.decode("utf-8").splitlines() if line.strip()]


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
