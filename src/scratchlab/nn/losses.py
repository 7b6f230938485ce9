"""Classification losses on class scores `s: (N, K)` with integer labels `y: (N,)`.

Each loss has `loss_and_grad(scores, y) -> (mean_loss, dscores)`, `loss(scores, y)` and
`predict_proba(scores)`. `dscores` is written into a buffer owned by the loss object and
reused by its next `loss_and_grad` call of the same shape: consume it (backward) or copy it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchlab.errors import ConfigError


def softmax(scores: np.ndarray) -> np.ndarray:
    """P = exp(s - max_k s) / sum_k exp(s - max_k s), row-wise; s: (N, K) -> P: (N, K)."""
    p = scores - scores.max(axis=1, keepdims=True)  # shift: exp never overflows
    np.exp(p, out=p)
    p /= p.sum(axis=1, keepdims=True)
    return p


class Loss:
    """Base class: mean loss over the N rows of `scores` and its gradient."""

    name = "loss"

    def __init__(self) -> None:
        self._buf: np.ndarray | None = None
        self._rows = np.arange(0)

    def _buffers(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A reusable (N, K) work array like `scores`, and arange(N) for row indexing."""
        if self._buf is None or self._buf.shape != scores.shape or self._buf.dtype != scores.dtype:
            self._buf = np.empty_like(scores)
        if self._rows.shape[0] != scores.shape[0]:
            self._rows = np.arange(scores.shape[0])
        return self._buf, self._rows

    def loss_and_grad(self, scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def loss(self, scores: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def predict_proba(self, scores: np.ndarray) -> np.ndarray:
        """Softmax of the scores: (N, K), rows sum to 1."""
        return softmax(scores)

    def config(self) -> dict[str, Any]:
        return {"type": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SoftmaxCrossEntropy(Loss):
    """L = -(1/N) sum_n log P[n, y_n], P = softmax(s).

    Gradient: dL/ds = (P - Y) / N, Y the one-hot labels.

    Both methods work on a class-major copy of the scores (a (K, N) array whose transpose
    is the (N, K) view they read and return): the per-row max and sum over the K classes
    then run over contiguous rows of N values, several times faster than NumPy's
    reductions along a short last axis, and the gradient comes back column-major, the
    layout in which the classifier's `x^T dscores` runs fastest.
    """

    name = "cross_entropy"

    def _class_major(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The reused work array: pT (K, N) C-contiguous holding s^T, and arange(N).

        `self._grad` is its (N, K) transpose: the array `loss_and_grad` returns."""
        n, k = scores.shape
        buf = self._buf
        if buf is None or buf.shape != (k, n) or buf.dtype != scores.dtype:
            buf = self._buf = np.empty((k, n), dtype=scores.dtype)
        grad = getattr(self, "_grad", None)
        if grad is None or grad.base is not buf:  # (a deep copy makes views independent)
            self._grad = buf.T
        if self._rows.shape[0] != n:
            self._rows = np.arange(n)
        np.copyto(self._grad, scores)
        return buf, self._rows

    def loss_and_grad(self, scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """scores: (N, K), y: (N,) -> (mean loss, dL/ds: (N, K))."""
        pT, rows = self._class_major(scores)  # pT = s^T: (K, N)
        n = scores.shape[0]
        pT -= pT.max(axis=0)  # s - max_k s: exp never overflows
        shifted_true = pT[y, rows]  # s_y - max (a copy)
        np.exp(pT, out=pT)
        z = pT.sum(axis=0)
        loss = float(np.mean(np.log(z) - shifted_true))  # -log P_y = log Z - (s_y - max)
        z *= n
        pT /= z  # P / N, P = softmax(s)
        pT[y, rows] -= 1.0 / n  # dL/ds = (P - Y) / N
        return loss, self._grad

    def loss(self, scores: np.ndarray, y: np.ndarray) -> float:
        """Mean cross-entropy via log-sum-exp: -log P_y = m + log sum_k exp(s_k - m) - s_y."""
        n = scores.shape[0]
        sT = np.empty((scores.shape[1], n), dtype=scores.dtype)  # class-major copy
        np.copyto(sT.T, scores)
        m = sT.max(axis=0)
        true = sT[y, np.arange(n)]
        sT -= m
        np.exp(sT, out=sT)
        lse = np.log(sT.sum(axis=0)) + m
        return float(np.mean(lse - true))


class MulticlassHinge(Loss):
    """Multi-class SVM: L = (1/N) sum_n sum_{j != y_n} max(0, s_nj - s_n,y_n + margin).

    Subgradient (indicator 1[m_nj > 0] of the active margins, 0 at the kink):
        dL/ds_nj     =  1[m_nj > 0] / N                  for j != y_n
        dL/ds_n,y_n  = -(sum_{j != y_n} 1[m_nj > 0]) / N

    `predict_proba` returns softmax(scores): a monotone normalisation of the SVM scores
    (same argmax), not calibrated probabilities.
    """

    name = "svm"

    def __init__(self, margin: float = 1.0) -> None:
        super().__init__()
        if not float(margin) > 0:
            raise ConfigError(f"SVM margin must be > 0, got {margin}")
        self.margin = float(margin)

    def _margins(
        self, scores: np.ndarray, y: np.ndarray, out: np.ndarray, rows: np.ndarray
    ) -> np.ndarray:
        """m_nj = max(0, s_nj - s_n,y_n + margin), with m_n,y_n = 0; (N, K) into `out`."""
        np.subtract(scores, scores[rows, y][:, None] - self.margin, out=out)
        np.maximum(out, 0, out=out)
        out[rows, y] = 0
        return out

    def active(self, scores: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Boolean (N, K) mask of the active margins 1[m_nj > 0] (where the loss has kinks)."""
        n = scores.shape[0]
        return self._margins(scores, y, np.empty_like(scores), np.arange(n)) > 0

    def loss_and_grad(self, scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """scores: (N, K), y: (N,) -> (mean hinge loss, subgradient dL/ds: (N, K))."""
        g, rows = self._buffers(scores)
        n = scores.shape[0]
        margins = self._margins(scores, y, g, rows)
        loss = float(margins.sum() / n)
        np.greater(margins, 0, out=g)  # indicator 1[m_nj > 0]; the true class is 0
        g[rows, y] = -g.sum(axis=1)  # true class: minus the number of active margins
        g /= n
        return loss, g

    def loss(self, scores: np.ndarray, y: np.ndarray) -> float:
        n = scores.shape[0]
        return float(self._margins(scores, y, np.empty_like(scores), np.arange(n)).sum() / n)

    def config(self) -> dict[str, Any]:
        return {"type": self.name, "margin": self.margin}

    def __repr__(self) -> str:
        return f"MulticlassHinge(margin={self.margin})"


LOSSES: dict[str, type[Loss]] = {"cross_entropy": SoftmaxCrossEntropy, "svm": MulticlassHinge}


def get_loss(name: str, **kwargs: Any) -> Loss:
    """`get_loss("cross_entropy")` or `get_loss("svm", margin=1.0)`."""
    try:
        cls = LOSSES[name]
    except KeyError:
        raise ConfigError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}") from None
    return cls(**kwargs)
