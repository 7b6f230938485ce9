"""`load_raw`: a dataset's parts as uint8 arrays, found, verified, decoded and cached.

    raw = load_raw("cifar10")            # SCRATCHLAB_DATA, then the cache, else download
    X, y = raw.parts["data_batch_1"]     # X uint8 (10000, 3072), y int64 (10000,)

The md5 policy: files that match the official sums are `verified`. Files that cannot be
checked (extracted folders, the CIFAR sample, uncompressed IDX) load with a visible
warning and ``verified=False``. Files that fail the check raise DataError -- unless they
were passed as an explicit `path`, which is the user saying "use these anyway" (warning,
``verified=False``).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchlab.data import cache, cifar, idx
from scratchlab.data.digits import digits_parts
from scratchlab.data.locate import Check, Location, check, find, searched
from scratchlab.data.registry import get_spec
from scratchlab.data.sources import fetch
from scratchlab.errors import DataError

_PACKAGE_DIR = str(Path(__file__).parent) + os.sep
log = logging.getLogger("scratchlab.data")
log.addHandler(logging.NullHandler())


@dataclass
class RawDataset:
    """A dataset as stored: ``parts[part] = (X uint8 (n, d), y int64 (n,))``.

    `image_shape` is (C, H, W) with ``d = C*H*W`` (rows channel-major); `source` the
    archive or folder read (None for bundled data); `verified` whether the files matched
    the official md5 sums; `check` the human-readable verdict.
    """

    name: str
    parts: dict[str, tuple[np.ndarray, np.ndarray]]
    class_names: list[str]
    image_shape: tuple[int, int, int]
    source: Path | None
    verified: bool
    check: str = ""


def load_raw(
    name: str, path: str | Path | None = None, *, download: bool = True, use_cache: bool = True
) -> RawDataset:
    """Load dataset `name` as uint8 parts (see the module docstring for the md5 policy).

    `path`: an explicit folder or archive (skips the lookup). `download`: fetch into the
    cache when the data is found nowhere. `use_cache`: reuse / write decoded arrays.
    """
    spec = get_spec(name)
    if spec.kind == "sklearn":
        if path is not None:
            warn(f"{name} is bundled with scikit-learn: the data path {path} is not used")
        return RawDataset(
            name,
            digits_parts(),
            list(spec.class_names),
            spec.image_shape,
            None,
            True,
            "verified (bundled with scikit-learn)",
        )
    loc = find(name, path)
    if loc is None:
        where = ", ".join(str(p) for p in searched(name))
        if not download:
            raise DataError(
                f"{spec.title} not found (looked in {where}); run `scratchlab data fetch "
                f"{name}` or set SCRATCHLAB_DATA to a folder that holds it"
            )
        fetch(name)
        loc = find(name)
        if loc is None:  # pragma: no cover - fetch either succeeds or raises
            raise DataError(f"{spec.title} still not found after downloading into {where}")
    entry = cache.load_entry(loc) if use_cache else None
    if entry is not None:
        parts, meta = entry
        verdict = Check(**meta["check"])
        verified = accept(loc, verdict)
        return RawDataset(
            name,
            parts,
            list(meta["class_names"]),
            spec.image_shape,
            loc.path,
            verified,
            verdict.detail,
        )
    verdict = check(loc)
    verified = accept(loc, verdict)
    parts, class_names = decode(loc)
    if use_cache:
        meta = {
            "source": str(loc.path.resolve()),
            "format": loc.format,
            "class_names": class_names,
            "check": {
                "state": verdict.state,
                "detail": verdict.detail,
                "problems": list(verdict.problems),
            },
        }
        cache.save_entry(loc, parts, meta)
    return RawDataset(
        name, parts, class_names, spec.image_shape, loc.path, verified, verdict.detail
    )


def accept(loc: Location, verdict: Check) -> bool:
    """Apply the md5 policy: True if verified, False (with a warning) if usable
    unverified, DataError for a mismatch not given as an explicit path."""
    if verdict.state == "verified":
        return True
    if verdict.state == "mismatch":
        if loc.origin != "path":
            raise DataError("; ".join(verdict.problems))
        warn(
            f"{loc.path}: md5 does not match the official release; using it unverified "
            "because it was given as an explicit data path"
        )
        return False
    warn(
        f"{loc.name} data at {loc.path} is {verdict.detail}: it cannot be checked against "
        "the official md5, so results may not match the official dataset"
    )
    return False


def warn(message: str) -> None:
    """A visible warning that is also logged (``scratchlab.data`` logger); it points at
    the first caller outside this package."""
    log.warning(message)
    level, frame = 1, sys._getframe(0)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)


def decode(loc: Location) -> tuple[dict, list[str]]:
    """Read `loc`'s files into ``(parts, class_names)``; never consults the cache."""
    spec = get_spec(loc.name)
    if spec.kind == "cifar":
        if loc.archive:
            parts, names, _ = cifar.read_archive(loc.path)
            return parts, names
        return cifar.read_folder(loc.path, loc.format)
    files = dict(loc.files)
    parts = {
        part: idx.read_pair(
            files[f"{part}-images"], files[f"{part}-labels"], spec.image_shape, spec.n_classes
        )
        for part in spec.parts
    }
    return parts, list(spec.class_names)
