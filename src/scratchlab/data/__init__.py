"""Datasets: registry, finding / verifying / downloading files, decoding, splits.

Public contract (docs/ARCHITECTURE.md, section scratchlab.data):

- `DATASETS: dict[str, DatasetSpec]` -- cifar10, mnist, fashion-mnist, digits.
- `load_raw(name, path=None) -> RawDataset` -- uint8 parts ``(X (n, d), y (n,))``.
- `load_split(name, split, *, val_size=1000, seed=0, path=None) -> Splits` -- uint8
  train/val/test `Part`s and `Splits.standardiser`, the training mean and std applied a
  batch at a time (`Standardiser`, scratchlab.data.standardise).
- `to_hwc(X, image_shape)` -- rows ``(N, C*H*W)`` -> images ``(N, H, W, C)``.

Files are looked up at an explicit path, then under ``$SCRATCHLAB_DATA``, then in the
cache (``$SCRATCHLAB_CACHE`` or ``~/.cache/scratchlab``), and downloaded there when
absent. Augmentation lives in `scratchlab.data.augment` (imported on its own).
"""

from __future__ import annotations

from scratchlab.data.raw import RawDataset, load_raw
from scratchlab.data.registry import DATASETS, DatasetSpec, FileSpec, get_spec
from scratchlab.data.sources import cache_dir, data_roots, download, fetch
from scratchlab.data.splits import Part, Splits, load_split, to_hwc
from scratchlab.data.standardise import Standardiser

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "FileSpec",
    "Part",
    "RawDataset",
    "Splits",
    "Standardiser",
    "cache_dir",
    "data_roots",
    "download",
    "fetch",
    "get_spec",
    "load_raw",
    "load_split",
    "to_hwc",
]
