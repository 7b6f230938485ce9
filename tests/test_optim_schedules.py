"""Learning-rate schedule values at chosen steps and epochs."""

from __future__ import annotations

import pytest

from scratchlab.errors import ConfigError
from scratchlab.optim import get_schedule


def test_constant():
    s = get_schedule("constant", 0.01)
    assert [s.lr(t, e) for t, e in [(0, 0), (1000, 7)]] == [0.01, 0.01]


def test_cyclical_triangle():
    n_s = 500
    s = get_schedule("cyclical", 0.1, eta_min=1e-5, step_size=n_s)
    steps = [0, n_s // 2, n_s, 3 * n_s // 2, 2 * n_s, 5 * n_s // 2, 3 * n_s]
    mid = (1e-5 + 0.1) / 2
    expected = [1e-5, mid, 0.1, mid, 1e-5, mid, 0.1]
    assert [s.lr(t, 99) for t in steps] == pytest.approx(expected, rel=1e-12)
    assert s.lr(100, 0) == pytest.approx(1e-5 + 100 / n_s * (0.1 - 1e-5))
    assert get_schedule("cyclical", 1.0, eta_min=0.0, eta_max=0.5, step_size=2).lr(2, 0) == 0.5


def test_exp_decay_by_epoch():
    s = get_schedule("exp_decay", 0.1, gamma=0.9)
    assert [s.lr(1234, e) for e in range(3)] == pytest.approx([0.1, 0.09, 0.081])


def test_step_decay():
    s = get_schedule("step_decay", 0.1, every=10, factor=10)
    assert [s.lr(0, e) for e in (0, 9, 10, 19, 20)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 1e-3])


def test_cosine_endpoints():
    s = get_schedule("cosine", 0.1, total_steps=100, eta_min=0.001)
    assert s.lr(0, 0) == pytest.approx(0.1)
    assert s.lr(50, 0) == pytest.approx((0.1 + 0.001) / 2)
    assert s.lr(100, 0) == pytest.approx(0.001)
    assert s.lr(500, 3) == pytest.approx(0.001)
    assert get_schedule("cosine", 0.1, total_steps=10).lr(10, 0) == pytest.approx(0.0)


def test_config_round_trip():
    s = get_schedule("step_decay", 0.1, every=2, factor=3)
    assert s.config() == {"name": "step_decay", "eta": 0.1, "every": 2, "factor": 3.0}
    cfg = dict(s.config())
    name, eta = cfg.pop("name"), cfg.pop("eta")
    assert get_schedule(name, eta, **cfg) == s


@pytest.mark.parametrize(
    ("name", "kw", "match"),
    [
        ("warmup", {}, "constant, exp_decay, step_decay, cyclical, cosine"),
        ("exp_decay", {}, "gamma"),
        ("exp_decay", {"gamma": 0.0}, "gamma"),
        ("step_decay", {"every": 0, "factor": 2}, "every"),
        ("step_decay", {"every": 2, "factor": 0.5}, "factor"),
        ("cyclical", {"step_size": 100}, "eta_min"),
        ("cyclical", {"eta_min": 1.0, "step_size": 100}, "exceed"),
        ("cyclical", {"eta_min": 1e-5, "step_size": 0}, "step_size"),
        ("cosine", {}, "total_steps"),
        ("cosine", {"total_steps": 10, "eta_min": 1.0}, "eta_min"),
        ("constant", {"gamma": 0.5}, "nothing"),
    ],
)
def test_bad_schedules(name, kw, match):
    with pytest.raises(ConfigError, match=match):
        get_schedule(name, 0.1, **kw)


def test_bad_eta():
    with pytest.raises(ConfigError, match="eta"):
        get_schedule("constant", -1)
    with pytest.raises(ConfigError, match="number"):
        get_schedule("constant", "fast")
