"""The decoded-array cache: each dataset's parts saved once as ``.npy`` and reloaded fast.

Decoding CIFAR-10's pickles or gunzipping MNIST takes seconds; ``np.load`` of the uint8
arrays takes a fraction of one. An entry lives in
``<cache>/decoded/<dataset>/<key>/`` with ``<part>.X.npy``, ``<part>.y.npy`` and
``meta.json`` (class names, image shape, the md5 verdict), where `key` hashes every
source file's resolved path, size and modification time: change or replace a file and
its old entry is simply no longer used. Files are written atomically and ``meta.json``
last, so a half-written entry is never read. A missing or unreadable entry means
"decode again"; an unwritable cache only costs a warning.

``<part>.X.npy`` is a plain uint8 ``.npy`` (n, d), and `load_entry` returns it as a
read-only memory map (``np.load(mmap_mode="r")``): nothing is read until rows are used,
the pages are the page cache's (shared by every process on the same data, dropped by the
kernel under memory pressure, never anonymous memory), so training and evaluation read a
set of any size batch by batch. An entry replaced or pruned while mapped stays readable
(the mapping holds the old file). Labels are small and loaded into memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import warnings
from pathlib import Path

import numpy as np

from scratchlab.data.fileio import atomic_write
from scratchlab.data.locate import Location
from scratchlab.data.sources import cache_dir
from scratchlab.errors import ScratchlabError

VERSION = 1  # bump when the decoded layout changes
log = logging.getLogger(__name__)


def entry_key(loc: Location) -> str:
    """Hash of the location's format and each file's resolved path, size and mtime."""
    h = hashlib.sha256(f"v{VERSION}|{loc.name}|{loc.format}".encode())
    for key, path in loc.files:
        st = path.stat()
        h.update(f"|{key}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def entry_dir(loc: Location) -> Path:
    return cache_dir() / "decoded" / loc.name / entry_key(loc)


def load_entry(loc: Location) -> tuple[dict, dict] | None:
    """``(parts, meta)`` from the cache (X as read-only memory maps), or None when there is
    no usable entry."""
    try:
        d = entry_dir(loc)
        meta = json.loads((d / "meta.json").read_text())
        parts = {}
        for part in meta["parts"]:
            X = np.load(d / f"{part}.X.npy", mmap_mode="r", allow_pickle=False)
            y = np.load(d / f"{part}.y.npy", allow_pickle=False)
            if X.dtype != np.uint8 or X.ndim != 2 or y.shape != (X.shape[0],):
                return None
            parts[part] = (X, y.astype(np.int64, copy=False))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return parts, meta


def save_entry(loc: Location, parts: dict, meta: dict) -> None:
    """Write `parts` and `meta` (JSON-able) atomically; warn, never fail, on OSError."""
    d = entry_dir(loc)
    try:
        for part, (X, y) in parts.items():
            atomic_write(d / f"{part}.X.npy", lambda f, a=X: np.save(f, a, allow_pickle=False))
            atomic_write(d / f"{part}.y.npy", lambda f, a=y: np.save(f, a, allow_pickle=False))
        body = json.dumps({**meta, "parts": list(parts)}, indent=1).encode()
        atomic_write(d / "meta.json", lambda f: f.write(body))
    except (OSError, ScratchlabError) as exc:  # atomic_open reports OSError this way
        msg = f"could not write the decoded-array cache in {d} ({exc}); set SCRATCHLAB_CACHE"
        log.warning(msg)
        warnings.warn(msg, stacklevel=3)
        return
    _prune(d)


def _prune(keep: Path) -> None:
    """Drop older entries made from the same source files (same folder, other key)."""
    for other in keep.parent.iterdir():
        if other == keep or not (other / "meta.json").is_file():
            continue
        try:
            source = json.loads((other / "meta.json").read_text()).get("source")
            mine = json.loads((keep / "meta.json").read_text()).get("source")
        except (OSError, ValueError):
            continue
        if source == mine:
            shutil.rmtree(other, ignore_errors=True)
