"""Batch normalisation (Ioffe & Szegedy 2015) over the feature axis of `x: (N, D)`."""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchlab.errors import ConfigError
from scratchlab.nn.layers import Layer


class BatchNorm(Layer):
    """`out = gamma * xhat + beta`, `xhat = (x - mu) / sqrt(var + eps)`.

    Training: `mu`, `var` are the batch mean and (biased, 1/N) variance per feature, and
    the running statistics follow an exponential moving average
        running = momentum * running + (1 - momentum) * batch.
    Evaluation: `mu`, `var` are the running statistics (saved with the model as buffers).

    Backward in training mode, the compact form (sigma = sqrt(var + eps)):
        dL/dbeta  = sum_n dout_n
        dL/dgamma = sum_n dout_n * xhat_n
        dL/dx     = gamma / (N sigma) * (N dout - dL/dbeta - xhat * dL/dgamma)
    gamma and beta are not regularised.
    """

    def __init__(
        self,
        d: int,
        momentum: float = 0.9,
        eps: float = 1e-5,
        dtype: np.dtype | type = np.float32,
    ) -> None:
        super().__init__(dtype)
        if int(d) < 1:
            raise ConfigError(f"BatchNorm needs d >= 1, got {d}")
        if not 0.0 <= float(momentum) < 1.0:
            raise ConfigError(f"BatchNorm momentum must be in [0, 1), got {momentum}")
        if not float(eps) > 0:
            raise ConfigError(f"BatchNorm eps must be > 0, got {eps}")
        self.d, self.momentum, self.eps = int(d), float(momentum), float(eps)
        self.params["gamma"] = np.ones(self.d, dtype=self.dtype)
        self.params["beta"] = np.zeros(self.d, dtype=self.dtype)
        self.grads["gamma"] = np.zeros(self.d, dtype=self.dtype)
        self.grads["beta"] = np.zeros(self.d, dtype=self.dtype)
        self.buffers["running_mean"] = np.zeros(self.d, dtype=self.dtype)
        self.buffers["running_var"] = np.ones(self.d, dtype=self.dtype)
        self._xhat: np.ndarray | None = None
        self._inv_std: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x: (N, d) -> (N, d)."""
        gamma, beta = self.params["gamma"], self.params["beta"]
        if not training:
            self.clear_cache()
            rm, rv = self.buffers["running_mean"], self.buffers["running_var"]
            scale = gamma / np.sqrt(rv + self.eps)  # folded: out = x * scale + shift
            return x * scale + (beta - rm * scale)
        mu = x.mean(axis=0)
        xhat = x - mu
        var = np.einsum("nd,nd->d", xhat, xhat) / x.shape[0]  # biased batch variance
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat *= inv_std  # xhat = (x - mu) / sigma
        m = self.momentum
        for key, batch in (("running_mean", mu), ("running_var", var)):
            running = self.buffers[key]
            running *= m
            running += (1.0 - m) * batch
        self._xhat, self._inv_std = xhat, inv_std
        return xhat * gamma + beta

    def backward(self, dout: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        xhat, inv_std = self._xhat, self._inv_std
        if xhat is None or inv_std is None:
            raise self._missing_cache()
        dbeta = np.sum(dout, axis=0, out=self.grads["beta"])  # sum_n dout_n
        dgamma = np.einsum("nd,nd->d", dout, xhat, out=self.grads["gamma"])  # sum dout*xhat
        if not need_dx:
            return None
        n = dout.shape[0]
        # dL/dx = gamma / (N sigma) * (N dout - dbeta - xhat * dgamma)
        dx = dout * n
        dx -= dbeta
        dx -= xhat * dgamma
        dx *= self.params["gamma"] * inv_std / n
        return dx

    def output_dim(self, input_dim: int) -> int:
        if input_dim != self.d:
            raise ConfigError(f"BatchNorm expects {self.d} features, got {input_dim}")
        return self.d

    def config(self) -> dict[str, Any]:
        return {"type": "BatchNorm", "d": self.d, "momentum": self.momentum, "eps": self.eps}

    def clear_cache(self) -> None:
        self._xhat = self._inv_std = None
