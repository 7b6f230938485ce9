"""Layers: `forward(x, training)` keeps exactly what `backward(dout)` needs (cs231n style).

Every layer holds `params` and `grads` (same keys; `backward` overwrites the grads in
place, so an optimiser may keep references to them), `buffers` (non-trainable state that
is saved with the model, e.g. batch-norm running statistics), and `regularised` (the
names of the params L1/L2 act on: weights only).

Shapes: `x: (N, D)` row-major samples, `dout: (N, D_out)` = dL/d(out).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchlab.errors import ConfigError
from scratchlab.nn.blas import matmul, matmul_tn
from scratchlab.nn.init import INITS, init_weight


class Layer:
    """Base class: a differentiable map `(N, D_in) -> (N, D_out)`."""

    regularised: tuple[str, ...] = ()

    def __init__(self, dtype: np.dtype | type = np.float32) -> None:
        self.dtype = np.dtype(dtype)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}

    @property
    def name(self) -> str:
        return type(self).__name__

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        """dout: (N, D_out) -> dx: (N, D_in); fills `grads`. `need_dx=False` skips dx."""
        raise NotImplementedError

    def output_dim(self, input_dim: int) -> int:
        return input_dim

    def config(self) -> dict[str, Any]:
        return {"type": self.name}

    def astype(self, dtype: np.dtype | type) -> None:
        """Convert params, grads and buffers to `dtype` in place (drops the forward cache)."""
        self.dtype = np.dtype(dtype)
        for store in (self.params, self.grads, self.buffers):
            for key, value in store.items():
                store[key] = value.astype(self.dtype)
        self.clear_cache()

    def clear_cache(self) -> None:
        """Forget what the last training forward kept for backward."""

    def _missing_cache(self) -> RuntimeError:
        return RuntimeError(f"{self.name}.backward called without forward(x, training=True)")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "type")
        return f"{self.name}({args})"


class Linear(Layer):
    """Affine map `s = x W + b` with `W: (d_in, d_out)`, `b: (d_out,)`.

    Backward (one matrix product per output):
        dL/dW = x^T dout            (d_in, d_out)
        dL/db = sum_n dout[n]       (d_out,)
        dL/dx = dout W^T            (N, d_in)

    The products with x go through `scratchlab.nn.blas`, which runs skinny float32 ones
    (few output columns, e.g. the class scores) in the formulation fastest on this CPU.
    """

    regularised = ("W",)

    def __init__(
        self,
        d_in: int,
        d_out: int,
        init: str = "normal",
        std: float = 0.01,
        rng: np.random.Generator | None = None,
        dtype: np.dtype | type = np.float32,
        bias: bool = True,
    ) -> None:
        super().__init__(dtype)
        if int(d_in) < 1 or int(d_out) < 1:
            raise ConfigError(f"Linear needs d_in, d_out >= 1, got ({d_in}, {d_out})")
        if init not in INITS:
            raise ConfigError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
        self.d_in, self.d_out = int(d_in), int(d_out)
        self.init, self.std, self.bias = init, float(std), bool(bias)
        rng = np.random.default_rng(0) if rng is None else rng
        self.params["W"] = init_weight(init, self.d_in, self.d_out, std=std, rng=rng, dtype=dtype)
        self.grads["W"] = np.zeros_like(self.params["W"])
        if self.bias:
            self.params["b"] = np.zeros(self.d_out, dtype=self.dtype)
            self.grads["b"] = np.zeros(self.d_out, dtype=self.dtype)
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x: (N, d_in) -> s = x W + b: (N, d_out)."""
        x = np.asarray(x, dtype=self.dtype)
        out = matmul(x, self.params["W"])  # s = x W
        if self.bias:
            out += self.params["b"]
        self._x = x if training else None
        return out

    def backward(self, dout: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        x = self._x
        if x is None:
            raise self._missing_cache()
        matmul_tn(x, dout, out=self.grads["W"])  # dL/dW = x^T dout
        if self.bias:
            np.sum(dout, axis=0, out=self.grads["b"])  # dL/db = sum_n dout_n
        return dout @ self.params["W"].T if need_dx else None  # dL/dx = dout W^T

    def output_dim(self, input_dim: int) -> int:
        if input_dim != self.d_in:
            raise ConfigError(f"Linear expects {self.d_in} input features, got {input_dim}")
        return self.d_out

    def config(self) -> dict[str, Any]:
        return {"type": "Linear", "d_in": self.d_in, "d_out": self.d_out, "init": self.init,
                "std": self.std, "bias": self.bias}  # fmt: skip

    def clear_cache(self) -> None:
        self._x = None

    def __repr__(self) -> str:
        init = f"normal(std={self.std:g})" if self.init == "normal" else self.init
        bias = "" if self.bias else ", bias=False"
        return f"Linear({self.d_in}, {self.d_out}, init={init}{bias})"


class ReLU(Layer):
    """`out = max(0, x)`; backward `dx = dout * [x > 0]` (subgradient 0 at the kink)."""

    def __init__(self, dtype: np.dtype | type = np.float32) -> None:
        super().__init__(dtype)
        self._positive: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x: (N, D) -> (N, D)."""
        out = np.maximum(x, 0)
        self._positive = x > 0 if training else None
        return out

    @property
    def active(self) -> np.ndarray | None:
        """Boolean (N, D) mask [x > 0] of the last training forward (None after eval)."""
        return self._positive

    def backward(self, dout: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        if self._positive is None:
            raise self._missing_cache()
        return dout * self._positive if need_dx else None  # dL/dx = dout * [x > 0]

    def clear_cache(self) -> None:
        self._positive = None


class Dropout(Layer):
    """Inverted dropout with drop probability `p`.

    Training: `out = x * m`, `m = [u >= p] / (1 - p)`, `u ~ U(0, 1)` per entry, so
    `E[out] = x`; evaluation: identity. Backward: `dx = dout * m`.

    For gradient checks set `freeze_mask = True`: the next training forward draws a mask
    (if none of the right shape is held) and later ones reuse it; with `freeze_mask` an
    assigned `mask` of the input's shape is used as given.
    """

    def __init__(
        self,
        p: float,
        rng: np.random.Generator | None = None,
        dtype: np.dtype | type = np.float32,
    ) -> None:
        super().__init__(dtype)
        if not 0.0 <= float(p) < 1.0:
            raise ConfigError(f"dropout probability must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = np.random.default_rng(0) if rng is None else rng
        self.freeze_mask = False
        self.mask: np.ndarray | None = None
        self._uniform: np.ndarray | None = None
        self._mask_buf = np.empty(0, dtype=self.dtype)
        self._active = False

    def _draw_mask(self, shape: tuple[int, ...]) -> np.ndarray:
        """A fresh mask [u >= p] / (1 - p), drawn into buffers reused across batches."""
        dtype = self.dtype if self.dtype in (np.float32, np.float64) else np.float64
        if self._uniform is None or self._uniform.shape != shape:
            self._uniform = np.empty(shape, dtype=dtype)
            self._mask_buf = np.empty(shape, dtype=self.dtype)
        self.rng.random(out=self._uniform, dtype=dtype)
        mask = self._mask_buf
        np.greater_equal(self._uniform, self.p, out=mask, casting="unsafe")  # [u >= p]
        mask *= 1.0 / (1.0 - self.p)
        self.mask = mask
        return mask

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x: (N, D) -> (N, D)."""
        if not training or self.p == 0.0:
            self._active = False
            return x
        held = self.mask is not None and self.mask.shape == x.shape
        mask = self.mask if self.freeze_mask and held else self._draw_mask(x.shape)
        self._active = True
        return x * mask

    def backward(self, dout: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        if not need_dx:
            return None
        if not self._active:
            return dout  # p == 0: identity
        return dout * self.mask  # dL/dx = dout * m

    def config(self) -> dict[str, Any]:
        return {"type": "Dropout", "p": self.p}

    def astype(self, dtype: np.dtype | type) -> None:
        super().astype(dtype)
        if self.mask is not None:
            self.mask = self.mask.astype(self.dtype)
        self._uniform, self._mask_buf = None, np.empty(0, dtype=self.dtype)
