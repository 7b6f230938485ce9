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

CHUNK = 1 << 20
TIMEOUT_S = 60


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

    Writes ``dest.part`` while streaming and renames it only once the md5 matches;
    on any failure the ``.part`` file is removed and a DataError says what happened.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with (opener or urlopen)(url) as response, open(part, "wb") as out:
            headers = getattr(response, "headers", None)
            total = int(headers.get("Content-Length") or 0) if headers is not None else 0
            with _progress(dest.name, total, quiet) as advance:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    advance(len(chunk))
    except (OSError, ValueError, http.client.HTTPException) as exc:
        part.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        raise DataError(
            f"could not download {url}: {reason}; download it by hand into {dest.parent} "
            "or point SCRATCHLAB_DATA at a folder that holds it"
        ) from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    actual = digest.hexdigest()
    if md5 is not None and actual != md5:
        part.unlink(missing_ok=True)
        raise DataError(
            f"download of {url} failed its check: " + mismatch_message(dest, md5, actual, name)
        )
    os.replace(part, dest)
    return dest


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
