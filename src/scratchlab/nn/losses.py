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
    """

    name = "cross_entropy"

    def loss_and_grad(self, scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """scores: (N, K), y: (N,) -> (mean loss, dL/ds: (N, K))."""
        p, rows = self._buffers(scores)
        n = scores.shape[0]
        np.subtract(scores, scores.max(axis=1, keepdims=True), out=p)  # s - max_k s
        shifted_true = p[rows, y]  # s_y - max (a copy)
        np.exp(p, out=p)
        z = p.sum(axis=1)
        loss = float(np.mean(np.log(z) - shifted_true))  # -log P_y = log Z - (s_y - max)
        p /= z[:, None]  # P = softmax(s)
        p[rows, y] -= 1.0  # P - Y
        p /= n  # dL/ds = (P - Y) / N
        return loss, p

    def loss(self, scores: np.ndarray, y: np.ndarray) -> float:
        """Mean cross-entropy via log-sum-exp: -log P_y = m + log sum_k exp(s_k - m) - s_y."""
        m = scores.max(axis=1, keepdims=True)
        lse = np.log(np.exp(scores - m).sum(axis=1)) + m[:, 0]
        return float(np.mean(lse - scores[np.arange(scores.shape[0]), y]))


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
