"""Atomic writes: a results file is either the old one or the complete new one, never half.

The one writer of the package: every file scratchlab writes (results, checkpoints, reports,
caches, downloads) goes through `atomic_open`. It writes to a temporary sibling (mode 0666
minus the umask, like any new file), flushes and fsyncs it, `os.replace`s it into place
(atomic on POSIX within one file system), then fsyncs the folder so the rename survives a
power cut. JSON is strict: NaN and infinities are written as null (`write_json`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from scratchlab.errors import ScratchlabError


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary sibling of `path` for writing; rename it onto `path` on success."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temp(path)
    except OSError as exc:
        raise ScratchlabError(
            f"cannot write {path}: {exc.strerror or exc}; choose a writable folder (--out DIR)"
        ) from None
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ScratchlabError(
            f"cannot write {path}: {exc.strerror or exc} (is the disk full or read-only?)"
        ) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_temp(path: Path) -> tuple[int, str]:
    """A new hidden sibling `.<name>.<random>.tmp`, mode 0666 minus the umask (mkstemp's
    0600 would make every results file private to its owner)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), str(tmp)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def write_text(path: str | Path, text: str) -> Path:
    with atomic_open(path, "w") as handle:
        handle.write(text)
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    """Strict JSON (NaN, inf -> null; numpy scalars and arrays as numbers and lists)."""
    text = json.dumps(strict_json(obj), indent=2, allow_nan=False, default=_jsonable)
    return write_text(path, text + "\n")


def strict_json(obj: Any) -> Any:
    """`obj` with every non-finite float replaced by None (recursively)."""
    if isinstance(obj, float | np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return strict_json(obj.tolist())
    return obj


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    with atomic_open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return Path(path)


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; ScratchlabError (one line) if it is unreadable or not JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScratchlabError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ScratchlabError(
            f"{path} is damaged or not a file scratchlab wrote ({exc}); rerun what wrote it"
        ) from None


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")
