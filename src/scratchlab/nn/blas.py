"""Matrix products for the layers, in the formulation that runs fastest on this CPU.

    s  = matmul(x, W)                    # x: (m, k), W: (k, n) -> (m, n)
    dW = matmul_tn(x, g, out=dW)         # x^T g: (k, n), summed over the m rows

Both equal NumPy's ``x @ W`` and ``x.T @ g`` up to float32 rounding (NumPy's one call is the
reference the tests compare with). Only *skinny* float32 products -- at most `SKINNY`
output columns, e.g. the classifier's K = 10 class scores -- take another route, because
general BLAS GEMM first copies ("packs") both operands into blocked buffers and with so
few output columns that copy of the big operand is most of the work. Three routes, chosen
by `route(k, n, x)` (1 thread each, measured on the CPUs named; benchmarks/results/):

* ``"kernel"`` -- `scratchlab.nn.kernels` (numba) where it imports, the BLAS is not one of
  the AVX-512 builds below and k >= `MIN_KERNEL_K`. AMD EPYC Zen 3, OpenBLAS Haswell
  (AVX2) kernels: ``(100 x 3072) @ (3072 x 10)`` 93-115 us vs NumPy 134-167 us,
  ``x^T g`` 140-165 us vs 150-227 us, scoring 10,000 rows 18-23 ms vs 39 ms.
* ``"small"`` -- OpenBLAS builds for AVX-512 (kernel architectures SkylakeX, CooperLake,
  SapphireRapids) run products with M*N*K <= 100^3 with "small-matrix" kernels that work
  on the operands in place, so the product is cut into blocks of
  ``floor(SMALL_MNK / (k * n))`` rows (32 for k = 3072, n = 10). AMD EPYC, SkylakeX
  kernels: ``(100 x 3072) @ (3072 x 10)`` 132 -> 72 us, ``x^T g`` 178 -> 102 us,
  scoring 10,000 rows 24 -> 12 ms.
* ``"rows"`` -- elsewhere (AVX2 BLAS without numba) only the forward product of many rows
  is cut, into blocks of `STREAM_ROWS` rows: scoring 10,000 rows 39 -> 24 ms (Zen 3,
  Haswell kernels); ``x^T g`` and 100-row products stay one call (blocks did not help).

Everything else (wide products, float64 gradient checks) is one NumPy call. The routes
change only the order in which float32 sums are added.
"""

from __future__ import annotations

import threading

import numpy as np

from scratchlab.nn import kernels

SMALL_MNK = 100**3  # OpenBLAS's small-matrix limit on M*N*K (x86-64 AVX-512 kernels)
SKINNY = 16  # another route only for products with at most this many output columns
MIN_BLOCK = 8  # below this many rows per call the Python loop would cost more than it saves
MIN_KERNEL_K = 256  # shorter sums: a NumPy call is as fast as the kernel's call overhead
STREAM_ROWS = 256  # "rows" route: rows per BLAS call of a long forward product
SMALL_KERNEL_ARCHS = ("skylakex", "cooperlake", "sapphirerapids")

# None: decide from the BLAS NumPy loaded (on first use); True / False: force (tests).
SPLIT: bool | None = None
# None: the compiled kernels where `route` picks them; False: never; True: always for
# skinny float32 products with k >= MIN_KERNEL_K (even as plain Python without numba: tests).
KERNELS: bool | None = None
_detected: bool | None = None
_local = threading.local()  # work arrays per thread: trainings may share a process (Dask)


def small_kernels() -> bool:
    """Whether NumPy's BLAS has OpenBLAS's small-matrix kernels (checked once)."""
    global _detected
    if SPLIT is not None:
        return SPLIT
    if _detected is None:
        _detected = blas_architecture() in SMALL_KERNEL_ARCHS
    return _detected


def blas_architecture() -> str:
    """OpenBLAS's kernel architecture in lower case ("haswell", "skylakex", ...); "" for
    another BLAS or several."""
    try:
        from threadpoolctl import threadpool_info

        blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    except Exception:  # pragma: no cover - threadpoolctl cannot inspect this platform
        blas = []
    archs = {
        str(i.get("architecture", "")).lower() for i in blas if i["internal_api"] == "openblas"
    }
    return archs.pop() if len(archs) == 1 and len(blas) == 1 else ""


def route(k: int, n: int, x: np.ndarray, *others: np.ndarray) -> str:
    """ "kernel", "small", "rows" or "numpy" for a product of x (m, k) into n columns
    (see the module docstring); `others`: the other operands, which must be float32 too."""
    if n > SKINNY or x.dtype != np.float32 or any(a.dtype != np.float32 for a in others):
        return "numpy"
    if KERNELS is not False and k >= MIN_KERNEL_K and x.flags.c_contiguous:
        if KERNELS or (kernels.AVAILABLE and not small_kernels()):
            return "kernel"
    return "small" if small_kernels() else "rows"


def block_rows(k: int, n: int, dtype: np.dtype) -> int:
    """Rows per BLAS call on the "small" route (0: not that route, or blocks too short)."""
    if n > SKINNY or dtype != np.float32 or not small_kernels():
        return 0
    rows = SMALL_MNK // max(1, k * n)
    return rows if rows >= MIN_BLOCK else 0


def scratch(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A work array of this shape and dtype, reused by this thread's later calls (one per
    shape; the kernels release the GIL, so threads must not share one)."""
    bufs = getattr(_local, "bufs", None)
    if bufs is None or len(bufs) > 16:  # many shapes seen (tests): start again
        bufs = _local.bufs = {}
    key = (shape, np.dtype(dtype).str)
    buf = bufs.get(key)
    if buf is None:
        buf = bufs[key] = np.empty(shape, dtype=dtype)
    return buf


def matmul(x: np.ndarray, w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``x @ w``: x (m, k), w (k, n) -> (m, n) (`out` if given: C-contiguous)."""
    m, k = x.shape
    n = w.shape[1]
    how = route(k, n, x, w)
    if how == "kernel":
        wt = scratch((n, k), x.dtype)
        np.copyto(wt, w.T)  # each class's weights contiguous (16 us for 3072 x 10)
        if out is None:
            out = np.empty((m, n), dtype=x.dtype)
        return kernels.scores_t(x, wt, out)
    rows = block_rows(k, n, x.dtype) if how == "small" else STREAM_ROWS * (how == "rows")
    if rows == 0 or m <= rows:
        return np.matmul(x, w, out=out)
    if out is None:
        out = np.empty((m, n), dtype=x.dtype)
    for start in range(0, m, rows):
        np.matmul(x[start : start + rows], w, out=out[start : start + rows])
    return out


def matmul_tn(x: np.ndarray, g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``x^T g`` into `out`: x (m, k), g (m, n) -> (k, n) = sum over the rows of x_i^T g_i."""
    m, k = x.shape
    n = g.shape[1]
    how = route(k, n, x, g, out)
    if how == "kernel" and m > 0:
        dwt = scratch((n, k), x.dtype)
        kernels.grad_t(x, g, dwt)
        np.copyto(out, dwt.T)
        return out
    rows = block_rows(k, n, x.dtype) if how == "small" else 0
    if rows == 0 or m <= rows:
        return np.matmul(x.T, g, out=out)
    part = scratch(out.shape, out.dtype)
    np.matmul(x[:rows].T, g[:rows], out=out)
    for start in range(rows, m, rows):
        np.matmul(x[start : start + rows].T, g[start : start + rows], out=part)
        out += part
    return out
