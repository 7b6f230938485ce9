"""Compare analytic gradients with centred differences (the DD2424 / cs231n check).

For every parameter tensor theta of the model and a set of its entries i:

    g_n[i] = (J(theta + h e_i) - J(theta - h e_i)) / (2 h)          (numerical)
    g_a[i] = dJ/dtheta_i from `model.train_step_grads`              (analytic)
    rel[i] = |g_a - g_n| / max(eps, |g_a| + |g_n|)

where J = loss + regularisation penalty (the cost), evaluated in float64 on the first
`n_samples` samples and the first `n_dims` input features, in training mode (batch-norm
batch statistics) with every dropout mask frozen.

An entry fails when rel >= tol (1e-6, the course's criterion) and |g_a - g_n| > atol,
the round-off floor of the difference quotient (10 eps |J| / h): an exactly-zero
gradient has a numerical estimate of pure round-off and rel = 1, which says nothing
about the code. An entry that disagrees is re-estimated once with the 5-point stencil
(truncation error O(h^4)) before it is called a failure.

Entries whose +-h perturbation crosses a kink (a ReLU input or an SVM margin changes
sign, or an L1-penalised weight passes 0) have no derivative to compare with; they are
counted in the `kinks` column and left out of the error maxima.
"""

from __future__ import annotations

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
    n_fail: int  # entries with rel error >= tol AND abs error > atol
    n_floor: int  # entries with rel error >= tol but abs error <= atol (round-off level)
    tol: float
    atol: float  # round-off floor of the centred difference, see `gradcheck`
    refined: int = 0  # entries whose 2-point estimate was replaced by the 5-point one

    @property
    def resolved(self) -> bool:
        """False when the whole gradient is within 100 x the round-off floor: uncheckable."""
        return self.max_grad >= 100 * self.atol or self.n_checked == self.kinks

    @property
    def ok(self) -> bool:
        return self.n_fail == 0 and self.resolved

    @property
    def status(self) -> str:
        if self.n_fail:
            return f"FAIL ({self.n_fail})"
        return "ok" if self.resolved else "too small"


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
    """
    if not h > 0:
        raise ConfigError(f"step h must be > 0, got {h}")
    Xs = np.asarray(X[:n_samples], dtype=np.float64)
    ys = np.asarray(y[:n_samples], dtype=np.int64)
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
            ga, gn = grad_a[idx][~kink], grad_n[~kink]
            abs_err = np.abs(ga - gn)
            rel_err = abs_err / np.maximum(eps, np.abs(ga) + np.abs(gn))
            rows.append(
                GradRow(
                    name=f"{layer.name}[{i}].{name}",
                    shape=tuple(param.shape),
                    n_checked=int(idx.size),
                    kinks=int(kink.sum()),
                    max_grad=float(np.abs(ga).max(initial=0.0)),
                    max_abs_err=float(abs_err.max(initial=0.0)),
                    max_rel_err=float(rel_err.max(initial=0.0)),
                    share_ok=float(np.mean(rel_err < tol)) if rel_err.size else 1.0,
                    n_fail=int(np.count_nonzero((rel_err >= tol) & (abs_err > atol))),
                    n_floor=int(np.count_nonzero((rel_err >= tol) & (abs_err <= atol))),
                    refined=int(refined.sum()),
                    tol=tol,
                    atol=float(atol),
                )
            )
    return rows


def max_rel_error(rows: list[GradRow]) -> float:
    return max((r.max_rel_err for r in rows), default=0.0)


def passed(rows: list[GradRow]) -> bool:
    """True when no entry fails and every tensor's gradient is above the round-off floor."""
    return all(r.ok for r in rows)


def _cells(rows: list[GradRow]) -> tuple[list[str], list[list[str]]]:
    tol = rows[0].tol if rows else 1e-6
    header = ["Parameter", "Shape", "Checked", "Kinks", "Max |grad|", "Max abs err",
              "Max rel err", f"% rel err < {tol:g}", "Status"]  # fmt: skip
    body = [
        [r.name, "x".join(map(str, r.shape)), str(r.n_checked), str(r.kinks),
         f"{r.max_grad:.2e}", f"{r.max_abs_err:.2e}", f"{r.max_rel_err:.2e}",
         f"{100 * r.share_ok:.2f}", r.status]
        for r in rows
    ]  # fmt: skip
    return header, body


def format_table(rows: list[GradRow]) -> str:
    """Aligned plain-text table, one line per parameter tensor."""
    header, body = _cells(rows)
    widths = [max(len(line[c]) for line in [header, *body]) for c in range(len(header))]

    def line(cells: list[str]) -> str:
        first, last = cells[0].ljust(widths[0]), cells[-1].ljust(widths[-1])
        mid = (cell.rjust(w) for cell, w in zip(cells[1:-1], widths[1:-1], strict=True))
        return "  ".join([first, *mid, last]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(b) for b in body)])


def to_markdown(rows: list[GradRow]) -> str:
    """The same table as a GitHub-flavoured Markdown table."""
    header, body = _cells(rows)
    align = ["---"] + ["---:"] * (len(header) - 2) + ["---"]
    lines = [[c.replace("|", "\\|") for c in cells] for cells in [header, align, *body]]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def _n(count: int) -> str:
    return f"{count} entry" if count == 1 else f"{count} entries"


def verdict(rows: list[GradRow]) -> str:
    """One line: PASS/FAIL, the largest errors and the criterion used."""
    if not rows:
        return "FAIL: the model has no parameters to check"
    tol, atol = rows[0].tol, rows[0].atol
    compared = sum(r.n_checked - r.kinks for r in rows)
    kinks = sum(r.kinks for r in rows)
    word = "PASS" if passed(rows) else "FAIL"
    text = (
        f"{word}: {compared} entries in {len(rows)} tensors; max rel err "
        f"{max_rel_error(rows):.2e}, max abs err {max(r.max_abs_err for r in rows):.2e}; "
        f"an entry fails if rel err >= {tol:g} and abs err > {atol:.1e} (round-off floor)"
    )
    refined = sum(r.refined for r in rows)
    if refined:
        text += f"; {_n(refined)} re-estimated with the 5-point stencil"
    floor = sum(r.n_floor for r in rows)
    if floor:
        text += f"; {_n(floor)} with rel err >= {tol:g} but abs err within the round-off floor"
    if kinks:
        text += f"; {_n(kinks)} straddling a kink left out"
    small = [r.name for r in rows if not r.resolved]
    if small:
        text += f"; gradient below the round-off floor in {', '.join(small)} (try --init he)"
    return text
