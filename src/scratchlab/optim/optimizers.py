"""Optimisers: update every parameter of a model in place from its gradient.

One protocol for all of them::

    opt.step(model, lr)     # for (layer_idx, name, theta, grad) in model.parameters(): update theta
    opt.state_dict()        # {"step": int64 0-d array, "<buffer>/<layer_idx>/<name>": array, ...}
    opt.load_state_dict(sd) # the inverse, for checkpoint / resume

`opt.t` counts the updates taken so far (the global step, also what `fit` hands to a
learning-rate schedule). Buffers (velocity, moments) have the parameter's shape and dtype and
are keyed by `(layer_idx, name)`; they are allocated on the first step, and so is one scratch
array per parameter. After that `step` allocates nothing: every operation writes with `out=`
into the parameter, a buffer or the scratch array.

Notation: theta a parameter, g = dJ/dtheta its gradient (from `model.train_step_grads`),
eta the learning rate of this step.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from scratchlab.errors import ConfigError

Key = tuple[int, str]


class Optimizer:
    """Base class: walks `model.parameters()`, allocates buffers lazily, counts steps."""

    name: ClassVar[str] = ""
    buffers: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.t = 0
        self._state: dict[str, dict[Key, np.ndarray]] = {b: {} for b in self.buffers}
        self._scratch: dict[Key, np.ndarray] = {}

    def step(self, model: Any, lr: float) -> None:
        """Apply one update with learning rate `lr` to every parameter of `model`, in place."""
        self.t += 1
        lr = float(lr)
        for layer_idx, pname, theta, grad in model.parameters():
            key = (layer_idx, pname)
            tmp = self._scratch.get(key)
            if tmp is None or tmp.shape != theta.shape or tmp.dtype != theta.dtype:
                tmp = self._allocate(key, theta)
            self._update(key, theta, grad, lr, tmp)

    def _update(self, key: Key, theta: np.ndarray, grad: np.ndarray, lr: float, tmp: np.ndarray):
        raise NotImplementedError

    def _allocate(self, key: Key, theta: np.ndarray) -> np.ndarray:
        for buffer in self.buffers:
            old = self._state[buffer].get(key)
            if old is None:
                self._state[buffer][key] = np.zeros_like(theta)
            elif old.shape != theta.shape:
                raise ConfigError(
                    f"{self.name} state {buffer}/{key[0]}/{key[1]} has shape {old.shape} but the "
                    f"parameter has shape {theta.shape}; load a state saved for this model"
                )
            elif old.dtype != theta.dtype:
                self._state[buffer][key] = old.astype(theta.dtype)
        tmp = self._scratch[key] = np.empty_like(theta)
        return tmp

    # -- checkpointing ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the buffers, keyed `"<buffer>/<layer_idx>/<name>"`, plus `"step"` (= t).

        Every value is an ndarray, so the dict can go straight into `np.savez`.
        """
        state = {"step": np.asarray(self.t, dtype=np.int64)}
        for buffer in self.buffers:
            for (layer_idx, pname), arr in self._state[buffer].items():
                state[f"{buffer}/{layer_idx}/{pname}"] = arr.copy()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned (also accepts an `np.load`ed npz)."""
        if "step" not in state:
            raise ConfigError(f"not a {self.name} optimiser state: it has no 'step' entry")
        new: dict[str, dict[Key, np.ndarray]] = {b: {} for b in self.buffers}
        for k in state:
            if k == "step":
                continue
            parts = str(k).split("/", 2)
            if len(parts) != 3 or parts[0] not in new or not parts[1].lstrip("-").isdigit():
                raise ConfigError(
                    f"optimiser state entry {k!r} does not belong to {self.name} "
                    f"(expected buffers {list(self.buffers)}); was it saved by another optimiser?"
                )
            new[parts[0]][(int(parts[1]), parts[2])] = np.array(state[k], copy=True)
        self.t = int(np.asarray(state["step"]))
        self._state = new
        self._scratch = {}

    def config(self) -> dict[str, Any]:
        """Name and hyper-parameters (for logs and reports)."""
        return {"name": self.name}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _check_fraction(what: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{what} must be in [0, 1), got {value}")
    return value


class SGD(Optimizer):
    """Vanilla (mini-batch) gradient descent.

    theta <- theta - eta * g
    """

    name = "sgd"

    def _update(self, key, theta, grad, lr, tmp):
        np.multiply(grad, lr, out=tmp)  # tmp = eta g
        np.subtract(theta, tmp, out=theta)


class Momentum(Optimizer):
    """Gradient descent with (heavy-ball or Nesterov) momentum, in cs231n's form.

    Heavy ball (`nesterov=False`)::

        v     <- beta * v - eta * g
        theta <- theta + v

    Nesterov, "look-ahead" form (cs231n): the stored theta is the look-ahead point, so::

        v_prev = v
        v     <- beta * v - eta * g
        theta <- theta - beta * v_prev + (1 + beta) * v   ( = theta + beta * v - eta * g )

    v starts at 0 and has theta's shape.
    """

    buffers = ("velocity",)

    def __init__(self, beta: float = 0.9, nesterov: bool = False) -> None:
        super().__init__()
        self.beta = _check_fraction("momentum beta", beta)
        self.nesterov = bool(nesterov)

    @property
    def name(self) -> str:  # type: ignore[override]
        return "nesterov" if self.nesterov else "momentum"

    def _update(self, key, theta, grad, lr, tmp):
        v = self._state["velocity"][key]
        np.multiply(grad, lr, out=tmp)  # tmp = eta g
        v *= self.beta
        v -= tmp  # v = beta v - eta g
        if self.nesterov:
            theta -= tmp  # theta += beta v - eta g
            np.multiply(v, self.beta, out=tmp)
            theta += tmp
        else:
            theta += v

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "beta": self.beta, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction; t = 1 on the first step::

        m     <- beta1 * m + (1 - beta1) * g
        v     <- beta2 * v + (1 - beta2) * g**2
        m_hat  = m / (1 - beta1**t)
        v_hat  = v / (1 - beta2**t)
        theta <- theta - eta * m_hat / (sqrt(v_hat) + eps)

    m and v start at 0 and have theta's shape.
    """

    name = "adam"
    buffers = ("m", "v")

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        super().__init__()
        self.beta1 = _check_fraction("adam beta1", beta1)
        self.beta2 = _check_fraction("adam beta2", beta2)
        self.eps = float(eps)
        if not self.eps > 0.0:
            raise ConfigError(f"adam eps must be > 0, got {eps}")

    def step(self, model: Any, lr: float) -> None:
        """One update of every parameter, computed on flat buffers that hold all of them.

        The per-parameter arithmetic (`_update`) is the same element by element, so the
        result is identical; it just runs as one set of array operations over the whole
        model instead of one per parameter (a dozen small tensors make Python's per-call
        cost dominate otherwise). The moment buffers `m`, `v` stay per-parameter views,
        so `state_dict` / `load_state_dict` see the usual arrays.
        """
        params = model.parameters()
        plan = self._flat_plan(params)
        if plan is None:  # mixed dtypes: one parameter at a time
            super().step(model, lr)
            return
        self.t += 1
        for (_, _, _, grad), g in zip(params, plan["g_views"], strict=True):
            np.copyto(g, grad)
        self._update_arrays(plan["m"], plan["v"], plan["g"], float(lr), plan["tmp"])
        for (_, _, theta, _), step in zip(params, plan["tmp_views"], strict=True):
            theta -= step

    def _flat_plan(self, params: list) -> dict | None:
        """Flat m, v, g, tmp buffers for `params` (rebuilt when the parameters or the
        state change); m and v are registered as the per-parameter state views."""
        layout = tuple((i, n, p.shape, p.dtype) for i, n, p, _ in params)
        plan = getattr(self, "_plan", None)
        if (plan is not None and plan["layout"] == layout and plan["state"] is self._state
                and all(self._state["m"].get((i, n)) is mv and self._state["v"].get((i, n)) is vv
                        for (i, n, _, _), mv, vv in zip(layout, plan["m_views"], plan["v_views"],
                                                        strict=True))):  # fmt: skip
            return plan
        self._plan = None
        dtypes = {p.dtype for _, _, p, _ in params}
        if len(dtypes) != 1 or not params:
            return None
        for i, n, p, _ in params:  # allocate / validate the state as the base class does
            self._allocate((i, n), p)
        dtype = dtypes.pop()
        total = sum(p.size for _, _, p, _ in params)
        plan = {"layout": layout, "state": self._state}
        for name in ("m", "v", "g", "tmp"):
            flat = np.empty(total, dtype=dtype)
            views, off = [], 0
            for _, _, p, _ in params:
                views.append(flat[off : off + p.size].reshape(p.shape))
                off += p.size
            plan[name], plan[f"{name}_views"] = flat, views
        for buf in ("m", "v"):
            for (i, n, _, _), view in zip(layout, plan[f"{buf}_views"], strict=True):
                np.copyto(view, self._state[buf][(i, n)])
                self._state[buf][(i, n)] = view
        self._scratch = {}
        self._plan = plan
        return plan

    def _update(self, key, theta, grad, lr, tmp):
        m, v = self._state["m"][key], self._state["v"][key]
        self._update_arrays(m, v, grad, lr, tmp)
        theta -= tmp

    def _update_arrays(self, m, v, grad, lr, tmp):
        """m, v <- the moments after `grad`; tmp <- the step eta m_hat / (sqrt(v_hat) + eps)."""
        b1, b2, t = self.beta1, self.beta2, self.t
        m *= b1
        np.multiply(grad, 1.0 - b1, out=tmp)
        m += tmp  # m = b1 m + (1 - b1) g
        v *= b2
        np.multiply(grad, grad, out=tmp)
        tmp *= 1.0 - b2
        v += tmp  # v = b2 v + (1 - b2) g^2
        np.divide(v, 1.0 - b2**t, out=tmp)  # v_hat
        np.sqrt(tmp, out=tmp)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)  # m / (sqrt(v_hat) + eps)
        tmp *= lr / (1.0 - b1**t)  # eta m_hat / (sqrt(v_hat) + eps)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")


def get_optimizer(name: str, **kw: Any) -> Optimizer:
    """Build an optimiser by name: `sgd`, `momentum`, `nesterov` (= momentum with
    nesterov=True) or `adam`; `kw` are its hyper-parameters (e.g. `beta=0.9`)."""
    key = str(name).lower()
    classes: dict[str, type[Optimizer]] = {"sgd": SGD, "momentum": Momentum, "adam": Adam}
    if key == "nesterov":
        key, kw = "momentum", {**kw, "nesterov": True}
    if key not in classes:
        raise ConfigError(f"unknown optimizer {name!r}; use one of {', '.join(OPTIMIZERS)}")
    try:
        return classes[key](**kw)
    except TypeError:
        raise ConfigError(
            f"optimizer {name!r} does not take {sorted(kw)}; see help(scratchlab.optim."
            f"{classes[key].__name__})"
        ) from None
