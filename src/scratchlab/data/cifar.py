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
exactly ``<folder>/<file>`` are used.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path, PurePosixPath

import numpy as np

from scratchlab.data.fileio import reading
from scratchlab.data.registry import CIFAR_PARTS
from scratchlab.data.safe_pickle import safe_loads
from scratchlab.errors import DataError

D = 3072  # 3 * 32 * 32
RECORD = 1 + D  # binary record: label byte + pixels
MAX_MEMBER = 512 << 20  # refuse archive members larger than this (decompression bombs)

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
    blobs = {}
    for key, name in file_names(fmt).items():
        with reading(folder / name):
            blobs[key] = (folder / name).read_bytes()
    return _decode(blobs, fmt, str(folder))


def archive_members(archive: Path) -> tuple[str, dict[str, bytes]]:
    """Read the CIFAR files of a tar archive: ``(format, {part or "meta": bytes})``.

    One sequential pass over the archive; the first format folder with a complete set
    of files wins. Raises DataError when the archive holds no complete set.
    """
    found: dict[str, dict[str, bytes]] = {fmt: {} for fmt in FOLDERS}
    wanted = {fmt: {n: k for k, n in file_names(fmt).items()} for fmt in FOLDERS}
    with reading(archive), tarfile.open(archive, "r:*") as tar:
        for member in tar:
            parts = PurePosixPath(member.name.removeprefix("./")).parts
            if len(parts) != 2 or parts[0] not in FORMAT_OF_FOLDER or not member.isfile():
                continue
            fmt = FORMAT_OF_FOLDER[parts[0]]
            key = wanted[fmt].get(parts[1])
            if key is None:
                continue
            if member.size > MAX_MEMBER:
                raise DataError(f"{archive}: member {member.name} is implausibly large")
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
    if fmt == "matlab":
        blobs = load_mats_isolated(blobs, where)
    decode_batch = {"python": python_batch, "matlab": matlab_batch, "binary": binary_batch}[fmt]
    decode_meta = {"python": python_meta, "matlab": matlab_meta, "binary": binary_meta}[fmt]
    names = file_names(fmt)
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


def _loadmat(blob: bytes) -> dict:
    """`scipy.io.loadmat` of a blob; its own MatReadError (an Exception, not an OSError or
    ValueError) and anything else a damaged file provokes become ValueError for `reading`."""
    from scipy.io import loadmat

    try:
        return loadmat(io.BytesIO(blob))
    except Exception as exc:  # noqa: BLE001 - a parser of untrusted bytes
        raise ValueError(f"not a readable MATLAB file ({type(exc).__name__}: {exc})") from exc


class _Failed(str):
    """What the isolated MATLAB reader could not decode: raised (as ValueError) on use."""


def _mat_value(blob) -> dict:
    """A loaded file: from `load_mats_isolated` (a dict, or _Failed) or raw bytes."""
    if isinstance(blob, _Failed):
        raise ValueError(str(blob))
    return blob if isinstance(blob, dict) else _loadmat(blob)


def matlab_batch(blob, what: str) -> tuple[np.ndarray, np.ndarray]:
    m = _mat_value(blob)
    return m["data"], np.asarray(m["labels"]).astype(np.int64).reshape(-1)


def matlab_meta(blob) -> list[str]:
    m = _mat_value(blob)
    if "label_names" in m and isinstance(m["label_names"], list):  # names, already extracted
        return m["label_names"]
    cells = np.asarray(m["label_names"], dtype=object).reshape(-1)
    return [_text(np.asarray(c).reshape(-1)[0]) for c in cells]


def load_mats_isolated(blobs: dict[str, bytes], where: str) -> dict:
    """Run `scipy.io.loadmat` on each blob in a child process.

    SciPy's MAT v5 reader is not hardened against damaged files: a flipped byte in an
    element tag can crash the interpreter with a segmentation fault (scipy gh-25349), which
    no `except` can catch. The child sends back, per file, the CIFAR arrays (`np.save`
    without pickle) or the class names (JSON) or the error; if it dies, the files are
    reported damaged. Returns ``{key: {"data", "labels"} | {"label_names"} | _Failed}``.
    """
    import json
    import multiprocessing as mp
    import sys

    if mp.current_process().daemon:  # a daemonic process may not start children
        return dict(blobs)
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_mat_child, args=(send, blobs), daemon=True)
    child.start()
    send.close()
    out: dict = {}
    try:
        while len(out) < len(blobs):
            head = json.loads(receive.recv_bytes())
            if "error" in head:
                out[head["key"]] = _Failed(head["error"])
            elif "names" in head:
                out[head["key"]] = {"label_names": [str(n) for n in head["names"]]}
            else:
                arrays = [np.load(io.BytesIO(receive.recv_bytes()), allow_pickle=False)
                          for _ in range(2)]  # fmt: skip
                out[head["key"]] = {"data": arrays[0], "labels": arrays[1]}
    except (EOFError, OSError, ValueError, KeyError):
        child.join(timeout=10)
        culprit = next((k for k in blobs if k not in out), "?")
        raise DataError(
            f"cannot read {where}: the MATLAB reader (scipy.io.loadmat) crashed on its "
            f"{culprit} file (exit code {child.exitcode}), which is damaged; delete the files "
            "and fetch them again with `scratchlab data fetch`, or use the python or binary "
            "CIFAR-10 release"
        ) from None
    finally:
        receive.close()
        child.join(timeout=10)
        if child.is_alive():  # pragma: no cover - it sent everything; never expected
            child.kill()
    return out


def _mat_child(conn, blobs: dict[str, bytes]) -> None:  # pragma: no cover - in a child
    import faulthandler
    import json

    faulthandler.disable()  # a crash here is expected and reported by the parent
    for key, blob in blobs.items():
        try:
            m = _loadmat(blob)
            if key == "meta":
                payload = [json.dumps({"key": key, "names": matlab_meta(m)}).encode()]
            else:
                payload = [json.dumps({"key": key, "arrays": 2}).encode()]
                for array in (m["data"], m["labels"]):
                    buf = io.BytesIO()
                    np.save(buf, np.asarray(array), allow_pickle=False)
                    payload.append(buf.getvalue())
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
            payload = [json.dumps({"key": key, "error": f"{type(exc).__name__}: {exc}"}).encode()]
        for message in payload:
            conn.send_bytes(message)
    conn.close()


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
