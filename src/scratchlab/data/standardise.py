"""Standardisation of uint8 image rows, applied a batch at a time: ``z = (x / 255 - mean) / std``.

Images stay uint8, as in the files (a quarter of float32's memory; a memory map of the
decoded-array cache costs no anonymous memory at all). The model sees standardised float32
rows, made one batch or evaluation block at a time into a buffer its caller reuses:

    st = Standardiser.fit(X_train_u8)          # mean, std: (d,) float32; std 0 -> 1
    z = st(X_u8[i:j], out=buf[: j - i])        # (j - i, d) float32, written into buf

**Per batch, not folded into the first layer.** Folding would train W' = diag(1/(255 std)) W
and b' = b - (mean / std) W on the raw pixels, so the L2 term sum W'^2 would penalise each
input's weights in proportion to 1/std^2 -- another regulariser, another optimum, other
weight images and other numbers. Per batch the model, its penalty and its saved weights stay
as they were, and so do the numbers: every element goes through the same three float32
operations (divide by 255, subtract mean, divide by std), each rounded as NumPy rounds it,
so training and evaluation see bit-identical inputs to those of float32-resident data.

**Speed** (CPU time for 10,000 CIFAR rows, 256-row blocks, 2-core AMD EPYC Zen 3 under
load): NumPy's three passes 27-30 ms; where numba imports, `_standardise_kernel`'s one pass
9.7 ms (the same IEEE operations, no fast-math: equal bit for bit, tested), of which 5.4 ms
is converting uint8 to float32 and the rest the two divisions (vdivps, ~0.9 cycle per
element; no multiplication reproduces x / 255 in float32 for every x). The A1 epoch reads
30,000 rows, so this is the price of the 4x smaller data (benchmarks/README.md, "Memory").
`BLOCK_ROWS`-row blocks keep each pass in cache.

**Statistics.** `train_stats` sums pixels and squared pixels as exact integers, chunk by
chunk (a memory map is read once, never copied): ``var = (n sum x^2 - (sum x)^2) / n^2``
has no rounding or cancellation error; `mean` and `std` are then rounded to float32.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from scratchlab.errors import ConfigError, DataError

CHUNK_ROWS = 512  # train_stats: rows per chunk (CHUNK_ROWS * 255^2 < 2^32: uint32 sums)
BLOCK_ROWS = 256  # rows per standardised block (CIFAR: 3 MB of float32, in cache)
_255 = np.float32(255.0)

KERNEL = True  # False: NumPy only (tests set it to compare)


@functools.cache
def _kernel():
    """The compiled one-pass kernel, or None without numba. Imported on first use, so loading
    data costs no numba import (about 0.7 s and 125 MB of RSS)."""
    try:  # optional: the `fast` extra installs numba
        import numba
    except ImportError:  # pragma: no cover - depends on the environment
        return None

    @numba.njit(boundscheck=False, nogil=True, cache=True, error_model="numpy")
    def standardise_kernel(x, mean, std, out):  # pragma: no cover - compiled
        """out[i, j] = (float32(x[i, j]) / 255 - mean[j]) / std[j], one pass. The
        numpy error model lets LLVM vectorise the divisions (no zero-division check)."""
        c = np.float32(255.0)
        for i in range(x.shape[0]):
            xi, oi = x[i], out[i]
            for j in range(x.shape[1]):
                oi[j] = (np.float32(xi[j]) / c - mean[j]) / std[j]

    return standardise_kernel


def _standardise_numpy(x: np.ndarray, mean: np.ndarray, std: np.ndarray, out: np.ndarray):
    np.divide(x, _255, out=out, dtype=np.float32)
    out -= mean
    out /= std


def _into(x: np.ndarray, mean: np.ndarray, std: np.ndarray, out: np.ndarray) -> None:
    """``out = (x / 255 - mean) / std`` for uint8 rows x (m, d), block by block."""
    kernel = _kernel() if KERNEL else None
    x = np.asarray(x)  # a memory map as a plain array view (numba types ndarray only)
    for start in range(0, x.shape[0], BLOCK_ROWS):
        xb, ob = x[start : start + BLOCK_ROWS], out[start : start + BLOCK_ROWS]
        if kernel is not None:
            kernel(xb, mean, std, ob)
        else:
            _standardise_numpy(xb, mean, std, ob)


@dataclass(frozen=True, eq=False)
class Standardiser:
    """``z = (x / 255 - mean) / std`` for uint8 pixel rows x (m, d); `mean`, `std` (d,) float32.

    Call it as the `transform` of `scratchlab.train.fit` and `Sequential.evaluate`:
    ``st(rows, out)`` writes the standardised rows into `out` and returns it.
    """

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:  # one arithmetic: float32, contiguous (the kernel's)
        object.__setattr__(self, "mean", np.ascontiguousarray(self.mean, dtype=np.float32))
        object.__setattr__(self, "std", np.ascontiguousarray(self.std, dtype=np.float32))

    @classmethod
    def fit(cls, X_u8: np.ndarray) -> Standardiser:
        """The training rows' statistics (`train_stats`)."""
        return cls(*train_stats(X_u8))

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def __call__(self, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """uint8 rows (m, d) -> standardised float32 (m, d), into `out` when given (an `out`
        of another float dtype, e.g. a float64 model's, gets the float32 values cast)."""
        if rows.dtype != np.uint8 or rows.ndim != 2 or rows.shape[1] != self.dim:
            raise DataError(
                f"standardising expects uint8 pixel rows (m, {self.dim}), got {rows.dtype} "
                f"{rows.shape}; pass the images as loaded (Part.X), not standardised rows"
            )
        if out is None:
            out = np.empty(rows.shape, dtype=np.float32)
        if out.shape != rows.shape:
            raise ValueError(f"out must have the rows' shape {rows.shape}, got {out.shape}")
        if out.dtype != np.float32:
            out[...] = self(rows)
            return out
        _into(rows, self.mean, self.std, out)
        return out

    def pixels(self, rows: np.ndarray) -> np.ndarray:
        """uint8 rows -> pixels in [0, 1]: ``x / 255`` (float32, exact to rounding)."""
        return np.divide(rows, _255, dtype=np.float32)

    def to_pixels(self, Z: np.ndarray) -> np.ndarray:
        """Standardised rows -> pixels in [0, 1]: ``Z * std + mean`` (float32)."""
        return np.asarray(Z, dtype=np.float32) * self.std + self.mean

    def from_pixels(self, X01: np.ndarray) -> np.ndarray:
        """Pixels in [0, 1] -> standardised rows: ``(X01 - mean) / std`` (float32)."""
        return (np.asarray(X01, dtype=np.float32) - self.mean) / self.std


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
    for start in range(0, n, CHUNK_ROWS):
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
    """The whole of `X_u8` standardised into a new float32 (n, d) array (what
    float32-resident data held; benchmarks and tests compare with it)."""
    return Standardiser(mean, std)(X_u8)
