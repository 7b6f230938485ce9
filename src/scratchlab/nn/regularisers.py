"""Weight penalties. They act on the params a layer lists in `regularised` (Linear `W`),
never on biases or batch-norm `gamma`/`beta`. The cost is `J = loss + sum penalty(W)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchlab.errors import ConfigError


class Regulariser:
    """`penalty(W) -> float`, `grad(W) -> dpenalty/dW`, `add_grad(W, G)`: G += grad in place."""

    name = "regulariser"

    def __init__(self, lam: float) -> None:
        if not float(lam) >= 0:
            raise ConfigError(f"{self.name} strength lambda must be >= 0, got {lam}")
        self.lam = float(lam)

    def penalty(self, W: np.ndarray) -> float:
        raise NotImplementedError

    def grad(self, W: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def add_grad(self, W: np.ndarray, G: np.ndarray) -> None:
        G += self.grad(W)

    def config(self) -> dict[str, Any]:
        return {"type": self.name, "lam": self.lam}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lam={self.lam:g})"


class L2(Regulariser):
    """penalty = lam * sum_ij W_ij^2 (the DD2424 convention, no 1/2); grad = 2 lam W."""

    name = "l2"

    def penalty(self, W: np.ndarray) -> float:
        w = W.ravel()
        return self.lam * float(np.dot(w, w))  # lam * sum W^2

    def grad(self, W: np.ndarray) -> np.ndarray:
        return (2.0 * self.lam) * W  # 2 lam W

    def add_grad(self, W: np.ndarray, G: np.ndarray) -> None:
        G += (2.0 * self.lam) * W


class L1(Regulariser):
    """penalty = lam * sum_ij |W_ij|; (sub)grad = lam * sign(W) (0 at W_ij = 0)."""

    name = "l1"

    def penalty(self, W: np.ndarray) -> float:
        return self.lam * float(np.abs(W).sum())  # lam * sum |W|

    def grad(self, W: np.ndarray) -> np.ndarray:
        return self.lam * np.sign(W)  # lam sign(W)


REGULARISERS: dict[str, type[Regulariser]] = {"l2": L2, "l1": L1}


def get_regulariser(name: str, lam: float) -> Regulariser:
    """`get_regulariser("l2", 0.01)`."""
    try:
        cls = REGULARISERS[name]
    except KeyError:
        known = ", ".join(REGULARISERS)
        raise ConfigError(f"unknown regulariser {name!r}; choose one of {known}") from None
    return cls(lam)
