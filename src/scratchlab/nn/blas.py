"""Matrix products for the layers, split so that the BLAS runs them fast.

    s  = matmul(x, W)                    # x: (m, k), W: (k, n) -> (m, n)
    dW = matmul_tn(x, g, out=dW)         # x^T g: (k, n), summed over the m rows

Both equal NumPy's ``x @ W`` and ``x.T @ g`` up to float rounding. Why they exist:
OpenBLAS builds for AVX-512 x86-64 (kernel architectures SkylakeX, CooperLake,
SapphireRapids) run "small" products -- M*N*K <= 100^3 multiply-adds -- with kernels that
work on the operands in place, and larger ones through the packed GEMM path, which first
copies both operands into blocked buffers. For a product with few output columns (the
classifier's K = 10 class scores) that copy of the big operand is most of the work:
measured with one thread (benchmarks/results.md), ``(100 x 3072) @ (3072 x 10)`` took
132 us in one call and 72 us as row blocks of at most 32 rows, its gradient ``x^T g``
178 us against 102 us, and scoring 10,000 rows 24 ms against 12 ms. Products with 32 or
more output columns were as fast or faster in one call, so only float32 products with
at most `SKINNY` output columns are split, into blocks of
``floor(SMALL_MNK / (k * n))`` rows; everything else (float64 gradient checks included)
is one NumPy call. The split changes only the order in which float32 sums are added.
"""

from __future__ import annotations

import numpy as np

SMALL_MNK = 100**3  # OpenBLAS's small-matrix limit on M*N*K (x86-64 AVX-512 kernels)
SKINNY = 16  # split only products with at most this many output columns
MIN_BLOCK = 8  # below this many rows per call the Python loop would cost more than it saves
SMALL_KERNEL_ARCHS = ("skylakex", "cooperlake", "sapphirerapids")

# None: decide from the BLAS NumPy loaded (on first use); True / False: force (tests).
SPLIT: bool | None = None
_detected: bool | None = None


def small_kernels() -> bool:
    """Whether NumPy's BLAS has OpenBLAS's small-matrix kernels (checked once)."""
    global _detected
    if SPLIT is not None:
        return SPLIT
    if _detected is None:
        try:
            from threadpoolctl import threadpool_info

            blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        except Exception:  # pragma: no cover - threadpoolctl cannot inspect this platform
            blas = []
        _detected = bool(blas) and all(
            i.get("internal_api") == "openblas"
            and str(i.get("architecture", "")).lower() in SMALL_KERNEL_ARCHS
            for i in blas
        )
    return _detected


def block_rows(k: int, n: int, dtype: np.dtype) -> int:
    """Rows per BLAS call for a product with inner size `k` and `n` output columns
    (0: one call)."""
    if n > SKINNY or dtype != np.float32 or not small_kernels():
        return 0
    rows = SMALL_MNK // max(1, k * n)
    return rows if rows >= MIN_BLOCK else 0


def matmul(x: np.ndarray, w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``x @ w``: x (m, k), w (k, n) -> (m, n), in row blocks where that is faster."""
    m, k = x.shape
    n = w.shape[1]
    rows = block_rows(k, n, x.dtype) if x.dtype == w.dtype else 0
    if rows == 0 or m <= rows:
        return np.matmul(x, w, out=out)
    if out is None:
        out = np.empty((m, n), dtype=x.dtype)
    for start in range(0, m, rows):
        np.matmul(x[start : start + rows], w, out=out[start : start + rows])
    return out


def matmul_tn(
    x: np.ndarray, g: np.ndarray, out: np.ndarray, scratch: np.ndarray | None = None
) -> np.ndarray:
    """``x^T g`` into `out`: x (m, k), g (m, n) -> (k, n) = sum over row blocks of
    ``x_blk^T g_blk``. `scratch` (k, n) holds each block's term (allocated if None)."""
    m, k = x.shape
    n = g.shape[1]
    rows = block_rows(k, n, x.dtype) if x.dtype == g.dtype == out.dtype else 0
    if rows == 0 or m <= rows:
        return np.matmul(x.T, g, out=out)
    if scratch is None or scratch.shape != out.shape or scratch.dtype != out.dtype:
        scratch = np.empty_like(out)
    np.matmul(x[:rows].T, g[:rows], out=out)
    for start in range(rows, m, rows):
        np.matmul(x[start : start + rows].T, g[start : start + rows], out=scratch)
        out += scratch
    return out
