"""The check itself: `gradcheck` -> one `GradRow` per parameter tensor; `passed`.

The method, the failure criterion and the guards against nonsense are described in the
package docstring (`scratchlab.gradcheck`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scratchlab.errors import ConfigError
from scratchlab.nn.layers import Dropout, Linear, ReLU
from scratchlab.nn.losses import MulticlassHinge
from scratchlab.nn.model import Sequential
from scratchlab.nn.regularisers import L1


@dataclass(frozen=True)
class GradRow:
    """The check of one parameter tensor."""

    name: str  # e.g. "Linear[0].W": layer type, index in the model, param name
    shape: tuple[int, ...]
    n_checked: int  # entries compared (all, or a seeded random subset of max_entries)
    kinks: int  # entries left out because +-h straddles a kink
    max_grad: float  # max |g_a| over the compared entries: the scale of the gradient
    max_abs_err: float  # max |g_a - g_n|
    max_rel_err: float  # max |g_a - g_n| / max(eps, |g_a| + |g_n|)
    share_ok: float  # fraction of compared entries with rel error < tol (the course's %)
    n_fail: int  # entries with rel error >= tol AND abs error > atol, or non-finite
    n_floor: int  # entries with rel error >= tol but abs error <= atol (round-off level)
    tol: float
    atol: float  # round-off floor of the centred difference, see `gradcheck`
    refined: int = 0  # entries whose 2-point estimate was replaced by the 5-point one
    n_nonfinite: int = 0  # entries with a NaN/inf gradient or error (included in n_fail)

    @property
    def compared(self) -> int:
        """Entries compared: checked minus those straddling a kink."""
        return self.n_checked - self.kinks

    @property
    def resolved(self) -> bool:
        """False when the whole gradient is within 100 x the round-off floor: uncheckable."""
        return self.max_grad >= 100 * self.atol

    @property
    def ok(self) -> bool:
        return self.n_fail == 0 and self.compared > 0 and self.resolved

    @property
    def status(self) -> str:
        if self.n_fail:
            return f"FAIL ({self.n_fail})"
        if self.compared == 0:
            return "FAIL (none compared)"
        return "ok" if self.resolved else "too small"


def check_settings(h: float, tol: float, atol=None, eps: float = 1e-12, **sizes) -> None:
    """ConfigError unless h, tol, eps are finite and > 0, atol is None or finite and >= 0,
    and each of `sizes` (n_samples=..., n_dims=..., max_entries=...) is None or >= 1."""
    for name, value in (("step h", h), ("tolerance tol", tol), ("eps", eps)):
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"gradient check: {name} must be a finite number > 0, got {value}")
    if atol is not None and not (math.isfinite(atol) and atol >= 0):
        raise ConfigError(f"gradient check: atol must be a finite number >= 0, got {atol}")
    for name, value in sizes.items():
        if value is not None and not (isinstance(value, int | np.integer) and value >= 1):
            raise ConfigError(f"gradient check: {name} must be an integer >= 1, got {value}")


def _check_model(model: Sequential, X: np.ndarray) -> None:
    """ConfigError for a non-finite regularisation strength or no samples to check on."""
    for reg in model.regularisers:
        if not math.isfinite(reg.lam):
            raise ConfigError(f"gradient check: {reg!r} has a non-finite lambda; use lambda >= 0")
    if X.shape[0] == 0:
        raise ConfigError("gradient check: no samples to check on (X has no rows)")


def slice_inputs(model: Sequential, n_dims: int) -> Sequential:
    """A copy of `model` whose first Linear keeps only the first `n_dims` rows of W."""
    model = model.copy()
    first = next((layer for layer in model.layers if layer.params), None)
    if not isinstance(first, Linear):
        raise ConfigError("n_dims needs a Linear as the first parametric layer; use n_dims=None")
    if n_dims < first.d_in:
        first.params["W"] = np.ascontiguousarray(first.params["W"][:n_dims])
        first.grads["W"] = np.zeros_like(first.params["W"])
        first.d_in = n_dims
    return model


def _kink_pattern(model: Sequential, scores: np.ndarray, y: np.ndarray) -> bytes:
    """The on/off state of every ReLU input and SVM margin (packed), to spot kink crossings."""
    masks = [layer.active for layer in model.layers if isinstance(layer, ReLU)]
    if isinstance(model.loss, MulticlassHinge):
        masks.append(model.loss.active(scores, y))
    return b"".join(np.packbits(m).tobytes() for m in masks if m is not None)


def _estimate(
    flat: np.ndarray,
    j: int,
    g_a: float,
    cost: Callable[[], tuple[float, bytes]],
    *,
    h: float,
    tol: float,
    atol: float,
    eps: float,
    l1_kink: bool,
) -> tuple[float, bool, bool]:
    """(numerical dJ/dtheta_j, straddles a kink, refined) for entry j of the flat param.

    g = (J(+h) - J(-h)) / 2h. Where it disagrees with g_a, it is re-estimated with the
    5-point centred stencil g = (8 (J(+h) - J(-h)) - (J(+2h) - J(-2h))) / 12h, whose
    truncation error is O(h^4) instead of O(h^2): a disagreement that is only the 2-point
    formula's truncation error (large curvature, e.g. small weights feeding batch norm)
    goes away, a wrong gradient stays.
    """
    old = flat[j]

    def at(delta: float) -> tuple[float, bytes]:
        flat[j] = old + delta
        out = cost()
        flat[j] = old
        return out

    (f_p, pat_p), (f_m, pat_m) = at(h), at(-h)
    g = (f_p - f_m) / (2.0 * h)
    if pat_p != pat_m or (l1_kink and abs(old) <= h):
        return g, True, False
    err = abs(g_a - g)
    if err <= atol or err < tol * max(eps, abs(g_a) + abs(g)):
        return g, False, False
    (f_2p, pat_2p), (f_2m, pat_2m) = at(2 * h), at(-2 * h)
    if pat_2p != pat_p or pat_2m != pat_p or (l1_kink and abs(old) <= 2 * h):
        return g, False, False  # a kink within 2h: the 5-point stencil does not apply
    return (8.0 * (f_p - f_m) - (f_2p - f_2m)) / (12.0 * h), False, True


def gradcheck(
    model: Sequential,
    X: np.ndarray,
    y: np.ndarray,
    h: float = 1e-5,
    *,
    n_samples: int | None = 20,
    n_dims: int | None = 20,
    tol: float = 1e-6,
    atol: float | None = None,
    eps: float = 1e-12,
    max_entries: int | None = 4096,
    seed: int = 0,
) -> list[GradRow]:
    """Check dJ/dtheta for every parameter tensor; returns one `GradRow` per tensor.

    X: (N, d), y: (N,). The model is not modified (the check runs on a float64 copy).
    Tensors with more than `max_entries` entries are checked on a random subset of that
    size drawn with `seed`; None checks every entry.

    An entry fails when rel error >= tol and abs error > atol. `atol` defaults to the
    round-off floor of the centred difference, 10 * eps_float64 * |J| / h (about 5e-10
    for J = 2.3, h = 1e-5): a gradient that is exactly 0 (e.g. an SVM bias whose active
    margins cancel) has a numerical estimate of pure round-off and a relative error of 1,
    which says nothing about the code. `atol=0` gives the strict criterion rel < tol.
    Settings that are not finite and positive raise ConfigError (see `check_settings`).
    """
    check_settings(h, tol, atol, eps, n_samples=n_samples, n_dims=n_dims, max_entries=max_entries)
    Xs = np.asarray(X[:n_samples], dtype=np.float64)
    ys = np.asarray(y[:n_samples], dtype=np.int64)
    _check_model(model, Xs)
    model = model.astype(np.float64)
    if n_dims is not None and n_dims < Xs.shape[1]:
        model = slice_inputs(model, n_dims)
        Xs = Xs[:, :n_dims]
    for layer in model.layers:
        if isinstance(layer, Dropout):
            layer.freeze_mask, layer.mask = True, None  # next forward draws, later ones reuse
    model.train_step_grads(Xs, ys)
    if atol is None:
        atol = 10 * np.finfo(np.float64).eps * abs(model.cost(Xs, ys, training=True)) / h
    has_l1 = any(isinstance(r, L1) for r in model.regularisers)
    rng = np.random.default_rng(seed)

    def cost() -> tuple[float, bytes]:
        scores = model.forward(Xs, training=True)
        return model.loss.loss(scores, ys) + model.penalty(), _kink_pattern(model, scores, ys)

    rows = []
    for i, layer in enumerate(model.layers):
        for name, param in layer.params.items():
            flat = param.reshape(-1)  # a view: params are contiguous
            grad_a = layer.grads[name].reshape(-1).copy()
            idx = np.arange(flat.size)
            if max_entries is not None and flat.size > max_entries:
                idx = np.sort(rng.choice(flat.size, size=max_entries, replace=False))
            grad_n = np.empty(idx.size)
            kink = np.zeros(idx.size, dtype=bool)
            refined = np.zeros(idx.size, dtype=bool)
            for k, j in enumerate(idx):  # one entry at a time: the check, not hot code
                grad_n[k], kink[k], refined[k] = _estimate(
                    flat, int(j), grad_a[j], cost, h=h, tol=tol, atol=atol, eps=eps,
                    l1_kink=has_l1 and name in layer.regularised,
                )  # fmt: skip
            label = f"{layer.name}[{i}].{name}"
            row = _row(label, param.shape, grad_a[idx], grad_n, kink, refined, tol, atol, eps)
            rows.append(row)
    return rows


def _row(name, shape, ga, gn, kink, refined, tol, atol, eps) -> GradRow:
    """Summarise one tensor: g_a, g_n over its checked entries (kinks flagged).

    An entry is non-finite when g_a, g_n, |g_a - g_n| or the relative error is NaN or
    infinite, or the cost at the start (hence `atol`) is; it fails, and the maxima are
    taken over the finite entries.
    """
    ga, gn = ga[~kink], gn[~kink]
    with np.errstate(over="ignore", invalid="ignore"):
        abs_err = np.abs(ga - gn)
        rel_err = abs_err / np.maximum(eps, np.abs(ga) + np.abs(gn))
    finite = np.isfinite(ga) & np.isfinite(gn) & np.isfinite(abs_err) & np.isfinite(rel_err)
    finite &= math.isfinite(atol)
    n_nonfinite = int(ga.size - np.count_nonzero(finite))
    ga, abs_err, rel_err = ga[finite], abs_err[finite], rel_err[finite]
    return GradRow(
        name=name,
        shape=tuple(shape),
        n_checked=int(kink.size),
        kinks=int(kink.sum()),
        max_grad=float(np.abs(ga).max(initial=0.0)),
        max_abs_err=float(abs_err.max(initial=0.0)),
        max_rel_err=float(rel_err.max(initial=0.0)),
        share_ok=float(np.count_nonzero(rel_err < tol) / finite.size) if finite.size else 0.0,
        n_fail=int(np.count_nonzero((rel_err >= tol) & (abs_err > atol))) + n_nonfinite,
        n_floor=int(np.count_nonzero((rel_err >= tol) & (abs_err <= atol))),
        refined=int(refined.sum()),
        tol=tol,
        atol=float(atol),
        n_nonfinite=n_nonfinite,
    )


def max_rel_error(rows: list[GradRow]) -> float:
    return max((r.max_rel_err for r in rows), default=0.0)


def passed(rows: list[GradRow]) -> bool:
    """True when there are rows, no entry fails, every tensor had an entry compared and
    its gradient is above the round-off floor."""
    return bool(rows) and all(r.ok for r in rows)
