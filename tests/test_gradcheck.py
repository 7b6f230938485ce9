"""scratchlab.gradcheck: every layer, loss and regulariser passes; a wrong gradient fails."""

from __future__ import annotations

import numpy as np
import pytest

from scratchlab.gradcheck import (
    GradRow,
    format_table,
    gradcheck,
    max_rel_error,
    passed,
    slice_inputs,
    to_markdown,
    verdict,
)
from scratchlab.nn import L2, Linear, ReLU, Sequential, build_mlp


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((30, 40)), rng.integers(0, 5, 30)


def check(data, n_dims=10, **kwargs) -> list[GradRow]:
    X, y = data
    model = build_mlp(X.shape[1], 5, rng=np.random.default_rng(1), **kwargs)
    return gradcheck(model, X, y, n_samples=12, n_dims=n_dims)


@pytest.mark.parametrize("reg", [{}, {"l2": 0.1}, {"l1": 0.05}, {"l2": 0.1, "l1": 0.05}])
@pytest.mark.parametrize("init", ["normal", "xavier"])
def test_linear_cross_entropy_strictly_below_1e6(data, reg, init):
    rows = check(data, init=init, **reg)
    assert [r.name for r in rows] == ["Linear[0].W", "Linear[0].b"]
    assert rows[0].shape == (10, 5) and rows[0].n_checked == 50
    assert max_rel_error(rows) < 1e-6 and passed(rows)
    assert all(r.share_ok == 1.0 for r in rows)


@pytest.mark.parametrize("reg", [{}, {"l2": 0.1}, {"l1": 0.05}])
def test_linear_svm(data, reg):
    rows = check(data, loss="svm", init="xavier", **reg)
    assert passed(rows)
    assert rows[0].max_rel_err < 1e-6  # W: every entry agrees to 1e-6
    # The bias gradient is a count of active margins / N: it can be exactly 0 (the +1s
    # and -1s of a class cancel), and then the numerical estimate is pure round-off and
    # rel err ~ 1. Such entries must agree in absolute terms, below the round-off floor.
    b = rows[1]
    assert b.max_rel_err < 1e-6 or b.max_abs_err < b.atol


@pytest.mark.parametrize("loss", ["cross_entropy", "svm"])
@pytest.mark.parametrize("reg", [{}, {"l2": 0.05}])
def test_three_layer_batchnorm_dropout(data, loss, reg):
    rows = check(data, hidden=(10, 8), batch_norm=True, dropout=0.3, loss=loss, init="he", **reg)
    names = [r.name for r in rows]
    assert names == [
        "Linear[0].W", "BatchNorm[1].gamma", "BatchNorm[1].beta",
        "Linear[4].W", "BatchNorm[5].gamma", "BatchNorm[5].beta",
        "Linear[8].W", "Linear[8].b",
    ]  # fmt: skip
    assert passed(rows), format_table(rows)
    assert max_rel_error(rows) < 1e-5, format_table(rows)
    assert all(r.share_ok > 0.98 for r in rows), format_table(rows)


@pytest.mark.parametrize("where", ["hidden", "every_dense"])
def test_three_layer_plain_relu_and_dropout_positions(data, where):
    rows = check(data, hidden=(10, 8), dropout=0.2, dropout_where=where, init="he", l1=0.01)
    assert passed(rows), format_table(rows)


def test_model_is_left_untouched(data):
    X, y = data
    model = build_mlp(40, 5, (6,), batch_norm=True, dropout=0.5, l2=0.1)
    before = model.get_weights()
    rows = gradcheck(model, X, y, n_samples=5, n_dims=7)
    assert rows[0].shape == (7, 6)  # the check ran on a sliced float64 copy
    assert model.dtype == np.float32 and model.layers[0].params["W"].shape == (40, 6)
    for key, value in model.get_weights().items():
        np.testing.assert_array_equal(value, before[key])


def test_slice_inputs_keeps_the_first_rows():
    model = build_mlp(30, 3, (4,), rng=np.random.default_rng(0))
    small = slice_inputs(model, 5)
    np.testing.assert_array_equal(small.layers[0].params["W"], model.layers[0].params["W"][:5])
    assert small.input_dim == 5 and model.input_dim == 30


def test_max_entries_samples_big_tensors_reproducibly(data):
    X, y = data
    model = build_mlp(40, 5, (30,), init="he", rng=np.random.default_rng(0))
    a = gradcheck(model, X, y, n_samples=6, n_dims=None, max_entries=50, seed=3)
    b = gradcheck(model, X, y, n_samples=6, n_dims=None, max_entries=50, seed=3)
    assert [r.n_checked for r in a] == [50, 30, 50, 5]
    assert a == b and passed(a)


def test_kink_crossings_are_counted_and_left_out():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((4, 3)), np.array([0, 1, 0, 1])
    first = Linear(3, 2, init="he", rng=rng, dtype=np.float64)
    model = Sequential([first, ReLU(), Linear(2, 2, init="he", rng=rng, dtype=np.float64)])
    # put sample 0's input to hidden unit 0 exactly on the ReLU kink
    first.params["b"][0] = -(X[0] @ first.params["W"][:, 0])
    rows = gradcheck(model, X, y, n_dims=None)
    assert rows[1].name == "Linear[0].b" and rows[1].kinks >= 1
    assert passed(rows) and "straddling a kink" in verdict(rows)


def test_truncation_error_is_refined_not_failed(data):
    # Small weights (std 0.01) feeding batch norm: J curves on the scale of |W|, so the
    # 2-point difference's O(h^2) truncation error exceeds 1e-6 for a few entries; the
    # 5-point re-estimate (O(h^4)) resolves them.
    rows = check(data, hidden=(10, 8), batch_norm=True, init="normal")
    assert sum(r.refined for r in rows) > 0
    assert passed(rows) and "5-point" in verdict(rows)


def test_wrong_linear_gradient_is_detected(data, monkeypatch):
    right = Linear.backward

    def dropped_factor(self, dout, need_dx=True):  # dW = 0.5 x^T dout: a lost factor
        dx = right(self, dout, need_dx)
        self.grads["W"] *= 0.5
        return dx

    monkeypatch.setattr(Linear, "backward", dropped_factor)
    rows = check(data, hidden=(6,), init="he")
    assert not passed(rows)
    assert rows[0].status.startswith("FAIL") and rows[0].max_rel_err > 0.1
    assert verdict(rows).startswith("FAIL")
    assert "FAIL" in format_table(rows)


def test_wrong_l2_gradient_is_detected(data, monkeypatch):
    # the classic slip: lam W instead of 2 lam W
    monkeypatch.setattr(L2, "add_grad", lambda self, W, G: G.__iadd__(self.lam * W))
    assert not passed(check(data, l2=0.5))


def test_wrong_batchnorm_gradient_is_detected(data, monkeypatch):
    from scratchlab.nn import BatchNorm

    right = BatchNorm.backward

    def no_mean_term(self, dout, need_dx=True):  # forgets that mu depends on x
        dx = right(self, dout, need_dx)
        return None if dx is None else dx + self.params["gamma"] * self._inv_std * dout.mean(0)

    monkeypatch.setattr(BatchNorm, "backward", no_mean_term)
    rows = check(data, hidden=(6,), batch_norm=True, init="he")
    assert not passed(rows) and rows[0].n_fail > 0


def test_format_table_and_markdown(data):
    rows = check(data, l2=0.1)
    text = format_table(rows)
    lines = text.splitlines()
    assert len(lines) == 2 + len(rows)
    assert lines[0].split()[:3] == ["Parameter", "Shape", "Checked"]
    assert "Max rel err" in lines[0] and "% rel err < 1e-06" in lines[0]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].startswith("Linear[0].W") and "10x5" in lines[2] and lines[2].endswith("ok")
    end = lines[0].index("Checked") + len("Checked")  # numeric columns are right-aligned
    assert lines[2][end - 3 : end] == " 50" and lines[3][end - 2 : end] == " 5"
    md = to_markdown(rows).splitlines()
    assert md[0].startswith("| Parameter |") and "Max \\|grad\\|" in md[0]
    assert md[1].startswith("| --- |") and len(md) == 2 + len(rows)
    assert all(line.count(" | ") == md[0].count(" | ") for line in md)
    assert verdict(rows).startswith("PASS")
