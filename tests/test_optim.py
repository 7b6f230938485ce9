"""Optimiser steps against hand computations, state round trips, in-place updates."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from scratchlab.errors import ConfigError
from scratchlab.optim import SGD, Adam, Momentum, get_optimizer


class Params:
    """The optimiser's view of a model: `parameters() -> [(layer_idx, name, theta, grad)]`."""

    def __init__(self, dtype=np.float64, **theta) -> None:
        self.theta = {k: np.array(v, dtype=dtype) for k, v in theta.items()}
        self.grad = {k: np.zeros_like(v) for k, v in self.theta.items()}

    def set_grads(self, **grads) -> None:
        for k, g in grads.items():
            self.grad[k][...] = g

    def parameters(self):
        return [(i, k, self.theta[k], self.grad[k]) for i, k in enumerate(self.theta)]


def run(opt, grads, lr=0.1, theta=1.0):
    """Apply one step per gradient in `grads` to a scalar-ish parameter; return its values."""
    model = Params(w=[theta])
    out = []
    for g in grads:
        model.set_grads(w=g)
        opt.step(model, lr)
        out.append(float(model.theta["w"][0]))
    return out


def test_sgd_step():
    model = Params(W=[[1.0, 2.0]], b=[0.5])
    model.set_grads(W=[[0.5, -1.0]], b=[2.0])
    SGD().step(model, 0.1)
    np.testing.assert_allclose(model.theta["W"], [[0.95, 2.1]], rtol=1e-15)
    np.testing.assert_allclose(model.theta["b"], [0.3], rtol=1e-15)


def test_momentum_two_steps():
    # v1 = -0.1 * 1 = -0.1, theta1 = 0.9; v2 = 0.9 * -0.1 - 0.1 * 0.5 = -0.14, theta2 = 0.76
    assert run(Momentum(beta=0.9), [1.0, 0.5]) == pytest.approx([0.9, 0.76], rel=1e-14)


def test_nesterov_two_steps_lookahead_form():
    # theta += -beta v_prev + (1 + beta) v:
    # step 1: v = -0.1, theta = 1 - 0 + 1.9 * -0.1 = 0.81
    # step 2: v = 0.9 * -0.1 - 0.05 = -0.14, theta = 0.81 + 0.09 + 1.9 * -0.14 = 0.634
    assert run(get_optimizer("nesterov"), [1.0, 0.5]) == pytest.approx([0.81, 0.634], rel=1e-14)


def test_adam_two_steps_with_bias_correction():
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.1
    # step 1: m = 0.1, v = 0.001, m_hat = 1, v_hat = 1
    theta1 = 1.0 - lr * 1.0 / (1.0 + eps)
    # step 2: m = 0.09 + 0.05 = 0.14, v = 0.000999 + 0.00025 = 0.001249
    m_hat, v_hat = 0.14 / (1 - b1**2), 0.001249 / (1 - b2**2)
    theta2 = theta1 - lr * m_hat / (math.sqrt(v_hat) + eps)
    got = run(Adam(b1, b2, eps), [1.0, 0.5], lr=lr)
    assert got == pytest.approx([theta1, theta2], rel=1e-12)
    assert 1.0 - got[0] == pytest.approx(lr)  # bias correction: first step ~ lr * sign(g)


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam"])
def test_float32_in_place_no_allocation_after_first_step(name):
    rng = np.random.default_rng(0)
    model = Params(dtype=np.float32, W=rng.standard_normal((300, 100)), b=np.zeros(100))
    model.set_grads(W=rng.standard_normal((300, 100)), b=np.ones(100))
    opt = get_optimizer(name)
    ids = {k: id(v) for k, v in model.theta.items()}
    opt.step(model, 0.01)  # allocates buffers
    tracemalloc.start()
    opt.step(model, 0.01)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20_000  # the parameter alone is 120 kB
    assert {k: id(v) for k, v in model.theta.items()} == ids
    assert all(v.dtype == np.float32 for v in model.theta.values())
    assert all(a.dtype == np.float32 for k, a in opt.state_dict().items() if k != "step")


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam"])
def test_state_dict_resume_is_exact(name, tmp_path):
    rng = np.random.default_rng(1)
    grads = rng.standard_normal((5, 4, 3)).astype(np.float32)
    ref, ref_opt = Params(np.float32, W=np.ones((4, 3))), get_optimizer(name)
    for g in grads:
        ref.set_grads(W=g)
        ref_opt.step(ref, 0.05)

    model, opt = Params(np.float32, W=np.ones((4, 3))), get_optimizer(name)
    for g in grads[:3]:
        model.set_grads(W=g)
        opt.step(model, 0.05)
    np.savez(tmp_path / "opt.npz", **opt.state_dict())
    resumed = get_optimizer(name)
    with np.load(tmp_path / "opt.npz") as saved:
        resumed.load_state_dict(saved)
    assert resumed.t == 3
    for g in grads[3:]:
        model.set_grads(W=g)
        resumed.step(model, 0.05)
    np.testing.assert_array_equal(model.theta["W"], ref.theta["W"])
    assert resumed.t == ref_opt.t == 5


def test_state_dict_is_a_copy_and_keys():
    model = Params(W=[1.0, 2.0])
    model.set_grads(W=[1.0, 1.0])
    opt = Adam()
    opt.step(model, 0.1)
    state = opt.state_dict()
    assert set(state) == {"step", "m/0/W", "v/0/W"}
    state["m/0/W"][:] = 99
    assert opt.state_dict()["m/0/W"][0] != 99


def test_load_state_errors():
    with pytest.raises(ConfigError, match="step"):
        SGD().load_state_dict({})
    adam_state = {"step": np.asarray(1), "m/0/W": np.zeros(2), "v/0/W": np.zeros(2)}
    with pytest.raises(ConfigError, match="another optimiser"):
        Momentum().load_state_dict(adam_state)
    opt = Adam()
    opt.load_state_dict({**adam_state, "m/0/W": np.zeros(3), "v/0/W": np.zeros(3)})
    with pytest.raises(ConfigError, match="shape"):
        opt.step(Params(W=[1.0, 2.0]), 0.1)


def test_get_optimizer():
    assert isinstance(get_optimizer("SGD"), SGD)
    nesterov = get_optimizer("nesterov", beta=0.5)
    assert nesterov.nesterov and nesterov.beta == 0.5 and nesterov.name == "nesterov"
    assert get_optimizer("adam", beta1=0.8).config()["beta1"] == 0.8
    with pytest.raises(ConfigError, match="sgd, momentum, nesterov, adam"):
        get_optimizer("rmsprop")
    with pytest.raises(ConfigError, match="does not take"):
        get_optimizer("sgd", beta=0.9)
    with pytest.raises(ConfigError, match="beta"):
        get_optimizer("momentum", beta=1.5)
    with pytest.raises(ConfigError, match="eps"):
        get_optimizer("adam", eps=0)
