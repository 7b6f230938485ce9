"""Where datasets live on disk, and downloading official files into the cache.

- `data_roots()`: the folders named by ``$SCRATCHLAB_DATA`` (``os.pathsep``-separated),
  each holding dataset folders (``mnist/``, ``cifar-10-sample/`` ...).
- `cache_dir()`: ``$SCRATCHLAB_CACHE``, else ``$XDG_CACHE_HOME/scratchlab``, else
  ``~/.cache/scratchlab``. Downloads go to ``<cache>/<dataset>/<file>``.
- `download(url, dest, md5=...)`: streams to ``dest.part`` with a progress bar (rich, on
  stderr, only when stderr is a terminal), checks the md5, then `os.replace`s the file
  into place, so an interrupted download never looks like a finished one.

Network access goes through the module attribute `urlopen` (or an `opener` argument),
so tests replace it and never download.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from scratchlab.data.fileio import md5_file, mismatch_message
from scratchlab.data.registry import FileSpec, get_spec
from scratchlab.errors import DataError
from scratchlab.io import atomic_open

CHUNK = 1 << 20
TIMEOUT_S = 60
MAX_DOWNLOAD_BYTES = 256 << 20  # the largest official file (CIFAR-10 Matlab, 175 MB) fits


def urlopen(url: str):
    """Open `url` for reading (replaced in tests; file:// URLs work too)."""
    return urllib.request.urlopen(url, timeout=TIMEOUT_S)  # noqa: S310 - official URLs


def cache_dir() -> Path:
    """The cache root: ``$SCRATCHLAB_CACHE`` or ``~/.cache/scratchlab``."""
    if env := os.environ.get("SCRATCHLAB_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "scratchlab"


def data_roots() -> list[Path]:
    """The folders listed in ``$SCRATCHLAB_DATA`` (empty when unset)."""
    env = os.environ.get("SCRATCHLAB_DATA", "")
    return [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]


@contextmanager
def _progress(label: str, total: int | None, quiet: bool | None) -> Iterator[Callable]:
    """Yield `advance(n_bytes)`; draws a rich bar on stderr when it is a terminal."""
    if quiet is None:
        quiet = not sys.stderr.isatty()
    if quiet:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    columns = ("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total or None)
        yield lambda n: bar.advance(task, n)


def download(
    url: str,
    dest: Path,
    *,
    md5: str | None = None,
    name: str = "DATASET",
    opener: Callable | None = None,
    quiet: bool | None = None,
) -> Path:
    """Download `url` to `dest` atomically, verifying `md5` when given.

    Streams into a hidden temporary sibling (scratchlab.io.atomic_open) and renames it only
    once the md5 matches; a download larger than MAX_DOWNLOAD_BYTES is stopped. On any
    failure the temporary file is removed and a DataError says what happened.
    """
    dest = Path(dest)
    digest = hashlib.md5(usedforsecurity=False)
    limit = MAX_DOWNLOAD_BYTES
    try:
        with (opener or urlopen)(url) as response, atomic_open(dest, "wb") as out:
            headers = getattr(response, "headers", None)
            total = int(headers.get("Content-Length") or 0) if headers is not None else 0
            with _progress(dest.name, total, quiet) as advance:
                received = 0
                for chunk in _chunks(response, url, dest):
                    received += len(chunk)
                    if received > limit:
                        raise DataError(f"download of {url} exceeds {limit >> 20} MiB, more "
                                        "than any official file; stopped")  # fmt: skip
                    out.write(chunk)
                    digest.update(chunk)
                    advance(len(chunk))
            actual = digest.hexdigest()
            if md5 is not None and actual != md5:  # raised inside: the file is not renamed
                raise DataError(f"download of {url} failed its check: "
                                + mismatch_message(dest, md5, actual, name))  # fmt: skip
    except (OSError, ValueError, http.client.HTTPException) as exc:  # opening the URL
        raise _failed(url, dest, exc) from exc
    return dest


def _chunks(response, url: str, dest: Path) -> Iterator[bytes]:
    """The response's bytes; a read error is a DataError (not a write error of `dest`)."""
    while True:
        try:
            chunk = response.read(CHUNK)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise _failed(url, dest, exc) from exc
        if not chunk:
            return
        yield chunk


def _failed(url: str, dest: Path, exc: BaseException) -> DataError:
    reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return DataError(
        f"could not download {url}: {reason}; download it by hand into "
        f"{dest.parent} or point SCRATCHLAB_DATA at a folder that holds it"
    )


def files_to_fetch(name: str, fmt: str | None = None) -> list[FileSpec]:
    """The official files `fetch` downloads: one CIFAR archive (python by default) or
    the four IDX files."""
    spec = get_spec(name)
    if spec.kind == "cifar":
        fmt = fmt or "python"
        chosen = [f for f in spec.files if f.format == fmt]
        if not chosen:
            raise DataError(f"cifar10 comes as python, binary or matlab, not {fmt!r}")
        return chosen
    if fmt not in (None, "idx"):
        raise DataError(f"{name} has one format; drop the format option")
    return list(spec.files)


def fetch(
    name: str,
    fmt: str | None = None,
    *,
    force: bool = False,
    opener: Callable | None = None,
    quiet: bool | None = None,
) -> Path:
    """Download dataset `name` into ``<cache>/<name>/`` unless verified copies are there.

    Tries each mirror in turn; returns the folder. Bundled datasets (digits) need no
    download and return the cache folder unchanged.
    """
    folder = cache_dir() / name
    if get_spec(name).kind == "sklearn":
        return folder
    for spec in files_to_fetch(name, fmt):
        dest = folder / spec.filename
        if dest.is_file() and not force and md5_file(dest) == spec.md5:
            continue
        errors = []
        for url in spec.urls:
            try:
                download(url, dest, md5=spec.md5, name=name, opener=opener, quiet=quiet)
                break
            except DataError as exc:
                errors.append(str(exc))
        else:
            raise DataError(" | ".join(errors) if len(errors) > 1 else errors[0])
    return folder
