"""Property: the analytic gradients of random layer stacks match centred differences.

Random depth, widths, batch size, input scale, BatchNorm / ReLU / Dropout placement, loss
(softmax cross-entropy or multi-class hinge), L1 / L2, initialisation and seed. Entries whose
+-h step crosses a kink are left out by `gradcheck` itself; every other entry must agree.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchlab.gradcheck import gradcheck
from scratchlab.nn import L1, L2, BatchNorm, Dropout, Linear, ReLU, Sequential, build_mlp, get_loss

FAST = settings(max_examples=25, deadline=None, derandomize=True)


@st.composite
def stacks(draw):
    """(model, X, y): a Sequential of 0-3 hidden blocks and a final Linear, with its data."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n, d, k = draw(st.integers(2, 9)), draw(st.integers(1, 7)), draw(st.integers(2, 5))
    init = draw(st.sampled_from(["normal", "xavier", "he"]))
    std = draw(st.sampled_from([0.1, 0.5, 1.0]))
    layers, width = [], d
    for _ in range(draw(st.integers(0, 3))):
        out = draw(st.integers(1, 7))
        bn = draw(st.booleans())
        if draw(st.booleans()):  # dropout before the dense layer ("every_dense" placement)
            layers.append(Dropout(draw(st.sampled_from([0.1, 0.5])), rng=rng))
        layers.append(Linear(width, out, init, std, rng=rng, bias=not bn))
        if bn:
            layers.append(BatchNorm(out))
        if draw(st.booleans()):
            layers.append(ReLU())
        if draw(st.booleans()):
            layers.append(Dropout(draw(st.sampled_from([0.2, 0.5])), rng=rng))
        width = out
    layers.append(Linear(width, k, init, std, rng=rng))
    regs = []
    if draw(st.booleans()):
        regs.append(L2(draw(st.sampled_from([0.01, 0.3]))))
    if draw(st.booleans()):
        regs.append(L1(draw(st.sampled_from([0.01, 0.1]))))
    model = Sequential(layers, get_loss(draw(st.sampled_from(["cross_entropy", "svm"]))), regs)
    X = rng.standard_normal((n, d)) * draw(st.sampled_from([0.3, 1.0, 4.0]))
    y = rng.integers(0, k, n)
    return model, X, y


def _no_failures(rows) -> None:
    for row in rows:
        assert row.n_fail == 0, (row.name, row.max_rel_err, row.max_abs_err)
        assert row.n_checked > 0


@FAST
@given(case=stacks())
def test_random_stacks_pass_the_gradient_check(case):
    model, X, y = case
    _no_failures(gradcheck(model, X, y, n_samples=None, n_dims=None, max_entries=None))


@FAST
@given(
    seed=st.integers(0, 2**16),
    hidden=st.lists(st.integers(1, 6), max_size=2),
    batch_norm=st.booleans(),
    dropout=st.sampled_from([0.0, 0.3]),
    where=st.sampled_from(["hidden", "every_dense"]),
    loss=st.sampled_from(["cross_entropy", "svm"]),
    l2=st.sampled_from([0.0, 0.1]),
    n_dims=st.integers(1, 12),
)
def test_build_mlp_models_pass_on_sliced_inputs(seed, hidden, batch_norm, dropout, where,
                                               loss, l2, n_dims):  # fmt: skip
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((8, 12)), rng.integers(0, 4, 8)
    model = build_mlp(12, 4, hidden, batch_norm=batch_norm, dropout=dropout,
                      dropout_where=where, loss=loss, l2=l2, init="he", rng=rng)  # fmt: skip
    rows = gradcheck(model, X, y, n_samples=6, n_dims=n_dims)
    _no_failures(rows)
    assert rows[0].shape == (min(n_dims, 12), hidden[0] if hidden else 4)


def test_a_wrong_gradient_is_caught():
    """The property has teeth: a Linear whose weight gradient is off by 1 % fails."""

    class Off(Linear):
        def backward(self, dout, need_dx=True):
            dx = super().backward(dout, need_dx)
            self.grads["W"] *= 1.01
            return dx

    rng = np.random.default_rng(0)
    model = Sequential([Off(5, 3, "he", rng=rng)], get_loss("cross_entropy"))
    rows = gradcheck(model, rng.standard_normal((6, 5)), rng.integers(0, 3, 6), n_dims=None)
    assert rows[0].n_fail > 0 and rows[1].n_fail == 0
