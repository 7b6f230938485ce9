"""`load_split`: train / val / test parts as uint8 images, plus the training statistics.

    s = load_split("cifar10", "a1")      # s.train.X uint8 (10000, 3072), s.train.y int64
    z = s.standardiser(s.val.X[:100])    # standardised float32 rows, for the model
    X01 = s.pixels(s.val.X[:8])          # pixels in [0, 1], for display

Splits (see ``DATASETS[name].splits``; the first is the default):
- cifar10 ``a1``: train data_batch_1, val data_batch_2, test test_batch.
- cifar10 ``all``: train data_batch_1..5 minus `val_size` images chosen with
  ``np.random.default_rng(seed)``, val those images (in file order), test test_batch.
- mnist / fashion-mnist ``standard``: val = the last 10,000 training images (the last
  ``n // 6`` when the train part has 10,000 or fewer), train the rest; test t10k.
- digits ``standard``: val = the last ``n // 5`` of the train part, train the rest.
- ``full`` (MNIST-style, digits): the whole train part, val empty (0 rows).
`val_size` and `seed` only matter for cifar10 ``all``.

Images stay as in the files: ``Part.X`` is uint8 (n, d). The model's inputs are
``(x / 255 - mean) / std`` with the training part's per-feature `mean` and `std`
(scratchlab.data.standardise: exact integer sums, float32, ``std == 0`` -> 1), made a
batch at a time by ``Splits.standardiser`` (the `transform` of `fit` and `evaluate`), so
val and test are standardised with the training statistics and no float32 copy of a
set is ever held.

Memory: a part that is a range of one decoded part is a view of it -- of a read-only
memory map when the parts come from the decoded-array cache (scratchlab.data.cache), so
it costs no anonymous memory and a set larger than memory can be trained on, batch by
batch. cifar10 ``all`` gathers its training rows into one new uint8 array (its rows
come from five files), releasing each source part once its rows are copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from scratchlab.data.raw import load_raw
from scratchlab.data.registry import check_split, get_spec
from scratchlab.data.standardise import Standardiser, standardise_u8, train_stats
from scratchlab.errors import ConfigError

__all__ = ["Part", "Splits", "load_split", "standardise_u8", "to_hwc", "train_stats"]


class Part(NamedTuple):
    """One split part: ``X uint8 (n, d)`` image rows as in the files (an array or a read-only
    memory map), ``y int64 (n,)``."""

    X: np.ndarray
    y: np.ndarray

    @property
    def n(self) -> int:
        return int(self.y.shape[0])


@dataclass
class Splits:
    """train / val / test `Part`s and the `standardiser` made from the training part.

    `mean`, `std`: (d,) float32 training statistics of ``x / 255`` (std 0 replaced by 1).
    """

    train: Part
    val: Part
    test: Part
    class_names: list[str]
    image_shape: tuple[int, int, int]
    standardiser: Standardiser
    dataset: str
    split: str
    source: Path | None = None
    verified: bool = False

    @property
    def mean(self) -> np.ndarray:
        return self.standardiser.mean

    @property
    def std(self) -> np.ndarray:
        return self.standardiser.std

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def dim(self) -> int:
        return self.standardiser.dim

    def pixels(self, X_u8: np.ndarray) -> np.ndarray:
        """uint8 rows (n, d) -> pixels in [0, 1]: ``x / 255`` (float32)."""
        return self.standardiser.pixels(X_u8)

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Standardised rows (n, d) -> pixels in [0, 1]: ``X * std + mean`` (float32)."""
        return self.standardiser.to_pixels(X)

    def standardise(self, X01: np.ndarray) -> np.ndarray:
        """Pixels in [0, 1] (n, d) -> standardised rows: ``(X01 - mean) / std`` (float32)."""
        return self.standardiser.from_pixels(X01)


def to_hwc(X: np.ndarray, image_shape: tuple[int, int, int]) -> np.ndarray:
    """Rows ``(N, C*H*W)`` (channel-major, e.g. CIFAR's 1024 red, 1024 green, 1024 blue
    values) -> images ``(N, H, W, C)`` for display. A single row ``(C*H*W,)`` gives one image
    ``(H, W, C)``. ValueError if the rows do not have ``C*H*W`` values."""
    c, h, w = (int(s) for s in image_shape)
    X = np.asarray(X)
    if X.ndim not in (1, 2) or X.shape[-1] != c * h * w:
        raise ValueError(f"expected rows of length {c * h * w} for image_shape {(c, h, w)}, "
                         f"got shape {X.shape}")  # fmt: skip
    if X.ndim == 1:
        return X.reshape(c, h, w).transpose(1, 2, 0)
    return X.reshape(X.shape[0], c, h, w).transpose(0, 2, 3, 1)


def load_split(
    name: str,
    split: str | None = None,
    *,
    val_size: int = 1000,
    seed: int = 0,
    path: str | Path | None = None,
) -> Splits:
    """Load `name`, cut it into train/val/test per `split`; statistics from train."""
    spec = get_spec(name)
    split = check_split(spec, split or spec.default_split)
    raw = load_raw(name, path)
    train, val, test = (Part(*cut) for cut in _cut(spec.kind, split, raw.parts, val_size, seed))
    del raw.parts
    return Splits(
        train,
        val,
        test,
        list(raw.class_names),
        raw.image_shape,
        Standardiser.fit(train.X),
        name,
        split,
        raw.source,
        raw.verified,
    )


def _cut(kind: str, split: str, parts: dict, val_size: int, seed: int):
    """``((Xtr, ytr), (Xva, yva), (Xte, yte))`` as uint8 / int64 (views where possible)."""
    if kind == "cifar":
        test = parts["test_batch"]
        if split == "a1":
            return parts["data_batch_1"], parts["data_batch_2"], test
        return (*_hold_out(parts, val_size, seed), test)
    X, y = parts["train"]
    n = len(y)
    if split == "full":
        return (X, y), (X[:0], y[:0]), parts["test"]
    n_val = n // 5 if kind == "sklearn" else (10_000 if n > 10_000 else n // 6)
    return (X[: n - n_val], y[: n - n_val]), (X[n - n_val :], y[n - n_val :]), parts["test"]


def _hold_out(parts: dict, val_size: int, seed: int):
    """data_batch_1..5 minus `val_size` seeded rows: one new uint8 array of training rows.

    Each batch is taken out of `parts` once its rows are copied, so (with no other
    reference) its memory or memory map is released before the next one is read.
    """
    names = [f"data_batch_{i}" for i in range(1, 6)]
    n = sum(len(parts[name][1]) for name in names)
    if not isinstance(val_size, int | np.integer) or not 0 <= val_size < n:
        raise ConfigError(
            f"val_size={val_size!r} must be an integer from 0 to {n - 1}: the training "
            f"batches hold {n} images and some must remain for training"
        )
    val_idx = np.sort(np.random.default_rng(seed).choice(n, size=val_size, replace=False))
    keep = np.ones(n, dtype=bool)
    keep[val_idx] = False
    X_train = np.empty((n - val_size, parts[names[0]][0].shape[1]), dtype=np.uint8)
    y_train = np.empty(n - val_size, dtype=np.int64)
    Xv, yv, start, pos = [], [], 0, 0
    for name in names:
        X, y = parts.pop(name)
        k = keep[start : start + len(y)]
        m = int(k.sum())
        np.compress(k, X, axis=0, out=X_train[pos : pos + m])
        y_train[pos : pos + m] = y[k]
        Xv.append(X[~k])
        yv.append(y[~k])
        start, pos = start + len(y), pos + m
        del X, y
    return (X_train, y_train), (np.concatenate(Xv), np.concatenate(yv))
