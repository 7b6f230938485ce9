"""`load_split`: train / val / test parts, standardised with the training statistics.

    s = load_split("cifar10", "a1")      # s.train.X float32 (10000, 3072), s.train.y int64
    X01 = s.raw(s.val.X)                 # back to pixels in [0, 1]

Splits (see ``DATASETS[name].splits``; the first is the default):
- cifar10 ``a1``: train data_batch_1, val data_batch_2, test test_batch.
- cifar10 ``all``: train data_batch_1..5 minus `val_size` images chosen with
  ``np.random.default_rng(seed)``, val those images (in file order), test test_batch.
- mnist / fashion-mnist ``standard``: val = the last 10,000 training images (the last
  ``n // 6`` when the train part has 10,000 or fewer), train the rest; test t10k.
- digits ``standard``: val = the last ``n // 5`` of the train part, train the rest.
- ``full`` (MNIST-style, digits): the whole train part, val empty (0 rows).
`val_size` and `seed` only matter for cifar10 ``all``.

Preprocessing: ``x01 = uint8 / 255`` (float32), then ``(x01 - mean) / std`` with the
training part's per-feature `mean` and `std` (computed exactly from integer sums, stored
float32; ``std == 0`` -> 1, so constant features become 0, never NaN), applied unchanged
to val and test. Memory: one uint8 copy of the training rows plus the float32 outputs,
and each uint8 part is released as soon as it is standardised, so the peak is about the
float32 outputs plus that uint8 copy (benchmarks/results.md, "Memory"); statistics and
standardisation run in row chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from scratchlab.data.raw import load_raw
from scratchlab.data.registry import check_split, get_spec
from scratchlab.errors import ConfigError

CHUNK_ROWS = 512  # rows per chunk: a few MB, so each chunk's passes stay in cache


class Part(NamedTuple):
    """One split part: ``X float32 (n, d)`` standardised rows, ``y int64 (n,)``."""

    X: np.ndarray
    y: np.ndarray

    @property
    def n(self) -> int:
        return int(self.y.shape[0])


@dataclass
class Splits:
    """train / val / test `Part`s plus what is needed to undo the standardisation.

    `mean`, `std`: (d,) float32 training statistics (std 0 replaced by 1).
    """

    train: Part
    val: Part
    test: Part
    class_names: list[str]
    image_shape: tuple[int, int, int]
    mean: np.ndarray
    std: np.ndarray
    dataset: str
    split: str
    source: Path | None = None
    verified: bool = False

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Standardised rows (n, d) -> pixels in [0, 1]: ``X * std + mean`` (float32)."""
        return np.asarray(X, dtype=np.float32) * self.std + self.mean

    def standardise(self, X01: np.ndarray) -> np.ndarray:
        """Pixels in [0, 1] (n, d) -> standardised rows: ``(X01 - mean) / std`` (float32)."""
        return (np.asarray(X01, dtype=np.float32) - self.mean) / self.std


def to_hwc(X: np.ndarray, image_shape: tuple[int, int, int]) -> np.ndarray:
    """Rows ``(N, C*H*W)`` (channel-major) -> images ``(N, H, W, C)`` for display.

    A single row ``(C*H*W,)`` gives one image ``(H, W, C)``.
    """
    c, h, w = image_shape
    X = np.asarray(X)
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
    """Load `name`, cut it into train/val/test per `split`, standardise on train stats."""
    spec = get_spec(name)
    split = check_split(spec, split or spec.default_split)
    raw = load_raw(name, path)
    train_u8, val_u8, test_u8 = _cut(spec.kind, split, raw.parts, val_size, seed)
    del raw.parts
    mean, std = train_stats(train_u8[0])
    cuts = [train_u8, val_u8, test_u8]
    del train_u8, val_u8, test_u8
    parts = []
    while cuts:  # drop each uint8 part once it is standardised: the peak holds one less
        X, y = cuts.pop(0)
        parts.append(Part(standardise_u8(X, mean, std), y))
        del X
    return Splits(
        *parts,
        list(raw.class_names),
        raw.image_shape,
        mean,
        std,
        name,
        split,
        raw.source,
        raw.verified,
    )


def _cut(kind: str, split: str, parts: dict, val_size: int, seed: int):
    """``((Xtr, ytr), (Xva, yva), (Xte, yte))`` as uint8 / int64, before preprocessing."""
    if kind == "cifar":
        test = parts["test_batch"]
        if split == "a1":
            return parts["data_batch_1"], parts["data_batch_2"], test
        batches = [parts[f"data_batch_{i}"] for i in range(1, 6)]
        return (*_hold_out(batches, val_size, seed), test)
    X, y = parts["train"]
    n = len(y)
    if split == "full":
        return (X, y), (X[:0], y[:0]), parts["test"]
    n_val = n // 5 if kind == "sklearn" else (10_000 if n > 10_000 else n // 6)
    return (X[: n - n_val], y[: n - n_val]), (X[n - n_val :], y[n - n_val :]), parts["test"]


def _hold_out(batches: list, val_size: int, seed: int):
    """Concatenate `batches` minus `val_size` seeded rows (one copy of the train rows)."""
    n = sum(len(y) for _, y in batches)
    if not isinstance(val_size, int | np.integer) or not 0 <= val_size < n:
        raise ConfigError(
            f"val_size={val_size!r} must be an integer from 0 to {n - 1}: the training "
            f"batches hold {n} images and some must remain for training"
        )
    val_idx = np.sort(np.random.default_rng(seed).choice(n, size=val_size, replace=False))
    keep = np.ones(n, dtype=bool)
    keep[val_idx] = False
    X_train = np.empty((n - val_size, batches[0][0].shape[1]), dtype=np.uint8)
    y_train = np.empty(n - val_size, dtype=np.int64)
    Xv, yv, start, pos = [], [], 0, 0
    for X, y in batches:
        k = keep[start : start + len(y)]
        m = int(k.sum())
        np.compress(k, X, axis=0, out=X_train[pos : pos + m])
        y_train[pos : pos + m] = y[k]
        Xv.append(X[~k])
        yv.append(y[~k])
        start, pos = start + len(y), pos + m
    return (X_train, y_train), (np.concatenate(Xv), np.concatenate(yv))


def train_stats(X_u8: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std of ``X_u8 / 255`` as float32 (d,), std 0 -> 1.

    Sums of pixels and squared pixels are exact integers (squares fit uint16, a chunk's
    sums uint32, the totals int64), so ``var = (n * sum(x^2) - sum(x)^2) / n^2`` has no
    rounding or cancellation error.
    """
    n, d = X_u8.shape
    if n == 0:
        raise ConfigError("the training part is empty; choose a smaller val_size")
    s1 = np.zeros(d, dtype=np.int64)
    s2 = np.zeros(d, dtype=np.int64)
    for start in range(0, n, CHUNK_ROWS):  # CHUNK_ROWS * 255^2 < 2^32
        block = X_u8[start : start + CHUNK_ROWS].astype(np.uint16)
        s1 += block.sum(axis=0, dtype=np.uint32)
        np.multiply(block, block, out=block)
        s2 += block.sum(axis=0, dtype=np.uint32)
    mean = s1 / (255.0 * n)
    var_num = n * s2 - s1 * s1  # exact: n^2 * 255^2 * var
    std = np.sqrt(np.maximum(var_num, 0).astype(np.float64)) / (255.0 * n)
    std[var_num <= 0] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def standardise_u8(X_u8: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(X_u8 / 255 - mean) / std`` as float32 (n, d), computed in place chunk by chunk
    (same arithmetic as `Splits.standardise`)."""
    out = np.empty(X_u8.shape, dtype=np.float32)
    for start in range(0, X_u8.shape[0], CHUNK_ROWS):
        o = out[start : start + CHUNK_ROWS]
        np.divide(X_u8[start : start + CHUNK_ROWS], np.float32(255), out=o, dtype=np.float32)
        o -= mean
        o /= std
    return out
