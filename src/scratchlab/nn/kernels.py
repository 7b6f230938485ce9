"""Compiled kernels for skinny float32 products (optional: used only where numba imports).

    scores_t(x, wt, out)         out[i, j] = sum_k x[i, k] wt[j, k]     s = x W, wt = W^T
    grad_t(x, g, dwt)            dwt[j, k] = sum_i g[i, j] x[i, k]      dW^T = (x^T g)^T

x: (m, d) C-contiguous float32 rows (a batch, or a whole set to score); wt, dwt: (K, d)
C-contiguous (the weight's transpose: each class's template is one contiguous row); g,
out: (m, K). K is small (the classifier's 10 classes), d large (3072).

Why: OpenBLAS's Haswell (AVX2) kernels, which most laptops get, copy ("pack") both operands
of every product into blocked buffers first; with K = 10 output columns that copy of x is
most of the work. Measured on a 2-core AMD EPYC (Zen 3, OpenBLAS 0.3.31 Haswell kernels,
1 thread; benchmarks/results/): ``(100 x 3072) @ (3072 x 10)`` 134-160 us with NumPy,
93 us here; scoring 10,000 rows 39 ms in one NumPy call, 24 ms in 256-row NumPy blocks,
18-20 ms here; ``x^T g`` 150-227 us with NumPy, 140-165 us here.

How: `scores_t` keeps a 2-row x 5-class block of dot products in registers while it walks
k (each loaded x and W value feeds several multiply-adds, 7 loads per 10 FMAs); `grad_t`
walks k in chunks of `CHUNK` columns that stay in L1 cache and adds two rows' outer
products per pass (halving the loads and stores of the accumulating rows). Both are plain
loops that LLVM vectorises; `reassoc` lets it split each sum into SIMD lanes and `contract`
fuse the multiply-adds, so the result differs from NumPy's only in float32 summation order
(no `nnan`/`ninf`: NaN and inf propagate as in NumPy, which divergence detection needs).

Without numba the same functions are plain Python (`AVAILABLE` is False): far too slow to
use, but the tests run them on small arrays to check the index arithmetic against NumPy.
"""

from __future__ import annotations

import numpy as np

try:  # optional: pip install numba (the `bench` extra installs it)
    import numba

    AVAILABLE = True
    _jit = numba.njit(fastmath={"reassoc", "contract"}, boundscheck=False, cache=True, nogil=True)
except ImportError:  # pragma: no cover - depends on the environment
    AVAILABLE = False

    def _jit(fn):
        return fn


CHUNK = 256  # grad_t: columns of x per pass (5 rows of dwt x 256 floats = 5 KB, in L1)
_ZERO = np.float32(0.0)


@_jit
def _dot_row(x, i, wt, j, d):
    """sum_k x[i, k] wt[j, k]: the remainder rows and classes."""
    acc = _ZERO
    for k in range(d):
        acc += x[i, k] * wt[j, k]
    return acc


@_jit
def scores_t(x, wt, out):
    """out[i, j] = sum_k x[i, k] wt[j, k] for x (m, d), wt (K, d), out (m, K)."""
    m, d = x.shape
    n_cls = wt.shape[0]
    m2 = m - m % 2
    k5 = n_cls - n_cls % 5
    for i in range(0, m2, 2):
        for j in range(0, k5, 5):
            a0 = a1 = a2 = a3 = a4 = _ZERO
            b0 = b1 = b2 = b3 = b4 = _ZERO
            for k in range(d):
                u = x[i, k]
                v = x[i + 1, k]
                w0 = wt[j, k]
                w1 = wt[j + 1, k]
                w2 = wt[j + 2, k]
                w3 = wt[j + 3, k]
                w4 = wt[j + 4, k]
                a0 += u * w0
                a1 += u * w1
                a2 += u * w2
                a3 += u * w3
                a4 += u * w4
                b0 += v * w0
                b1 += v * w1
                b2 += v * w2
                b3 += v * w3
                b4 += v * w4
            out[i, j], out[i, j + 1], out[i, j + 2] = a0, a1, a2
            out[i, j + 3], out[i, j + 4] = a3, a4
            out[i + 1, j], out[i + 1, j + 1], out[i + 1, j + 2] = b0, b1, b2
            out[i + 1, j + 3], out[i + 1, j + 4] = b3, b4
        for j in range(k5, n_cls):
            out[i, j] = _dot_row(x, i, wt, j, d)
            out[i + 1, j] = _dot_row(x, i + 1, wt, j, d)
    for i in range(m2, m):
        for j in range(n_cls):
            out[i, j] = _dot_row(x, i, wt, j, d)
    return out


@_jit
def _axpy_rows(dwt, j, k0, n, x, i, g):
    """dwt[j, k0:k0+n] += g[i, j] x[i, k0:k0+n]: the remainder classes and rows."""
    row = dwt[j, k0 : k0 + n]
    xi = x[i, k0 : k0 + n]
    gv = g[i, j]
    for k in range(n):
        row[k] += gv * xi[k]


@_jit
def grad_t(x, g, dwt):
    """dwt[j, k] = sum_i g[i, j] x[i, k] for x (m, d), g (m, K), dwt (K, d)."""
    m, d = x.shape
    n_cls = g.shape[1]
    m2 = m - m % 2
    k5 = n_cls - n_cls % 5
    dwt[:] = 0
    for k0 in range(0, d, CHUNK):
        n = min(CHUNK, d - k0)
        for j in range(0, k5, 5):
            r0 = dwt[j, k0 : k0 + n]
            r1 = dwt[j + 1, k0 : k0 + n]
            r2 = dwt[j + 2, k0 : k0 + n]
            r3 = dwt[j + 3, k0 : k0 + n]
            r4 = dwt[j + 4, k0 : k0 + n]
            for i in range(0, m2, 2):
                xa = x[i, k0 : k0 + n]
                xb = x[i + 1, k0 : k0 + n]
                g0, g1, g2, g3, g4 = g[i, j], g[i, j + 1], g[i, j + 2], g[i, j + 3], g[i, j + 4]
                h0, h1, h2 = g[i + 1, j], g[i + 1, j + 1], g[i + 1, j + 2]
                h3, h4 = g[i + 1, j + 3], g[i + 1, j + 4]
                for k in range(n):
                    a = xa[k]
                    b = xb[k]
                    r0[k] += g0 * a + h0 * b
                    r1[k] += g1 * a + h1 * b
                    r2[k] += g2 * a + h2 * b
                    r3[k] += g3 * a + h3 * b
                    r4[k] += g4 * a + h4 * b
            for i in range(m2, m):
                for jj in range(j, j + 5):
                    _axpy_rows(dwt, jj, k0, n, x, i, g)
        for j in range(k5, n_cls):
            for i in range(m):
                _axpy_rows(dwt, j, k0, n, x, i, g)
    return dwt
