"""The data of a run: its splits (uint8 images), loaded once per process, and a fingerprint.

    load_run_data(spec) -> RunData(splits, notes, fingerprint)

`notes` are the loader's warnings (e.g. "unverified sample"), shown in the report.
`fingerprint` is a content hash of the split (labels and pixels of every part, class names),
so a finished run is recognised as "the same data" wherever the files now live.
The validation hold-out of cifar10 `all` is drawn with the experiment's data seed
(`data.seed`), not the run seed: every run of an experiment sees the same validation images.
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from dataclasses import dataclass, field

import numpy as np

from scratchlab.data import Splits, load_split
from scratchlab.experiments.schema import RunSpec

FINGERPRINT_ROWS = 1024


@dataclass
class RunData:
    splits: Splits
    notes: list[str] = field(default_factory=list)
    fingerprint: str = ""


@functools.lru_cache(maxsize=4)
def _cached_split(dataset: str, split: str, val_size: int, seed: int, path: str | None) -> RunData:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        splits = load_split(dataset, split, val_size=val_size, seed=seed, path=path)
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=2)
    return RunData(splits, [str(w.message) for w in caught], fingerprint(splits))


def load_run_data(spec: RunSpec, *, split: str | None = None) -> RunData:
    """The run's splits (`split` overrides `data.split`, e.g. for retraining); cached."""
    d = spec.data
    return _cached_split(d.dataset, split or d.split, d.val_size, d.seed, d.path)


def fingerprint(splits: Splits) -> str:
    """blake2b of the parts' labels and standardised rows and the class names (16 hex).

    The rows are standardised `FINGERPRINT_ROWS` at a time into one buffer and hashed in
    order: the digest of the float32 rows' bytes, as when the parts were float32, so runs
    finished before the parts became uint8 are still recognised (memory: one block).
    """
    digest = hashlib.blake2b(digest_size=8)
    digest.update(repr((splits.dataset, splits.split, list(splits.class_names))).encode())
    buf = np.empty((FINGERPRINT_ROWS, splits.dim), dtype=np.float32)
    for part in (splits.train, splits.val, splits.test):
        digest.update(np.ascontiguousarray(part.y).tobytes())
        for start in range(0, part.n, FINGERPRINT_ROWS):
            rows = part.X[start : start + FINGERPRINT_ROWS]
            digest.update(splits.standardiser(rows, buf[: len(rows)]).data)
    return digest.hexdigest()
