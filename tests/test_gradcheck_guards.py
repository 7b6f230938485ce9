"""The gradient check cannot pass on nonsense: bad settings are a ConfigError (exit 2),
NaN/inf gradients and errors, a non-finite cost and tensors with nothing compared FAIL.

Each case goes through the Python API, the CLI (`scratchlab gradcheck`) and, where the
setting exists there, an experiment file's `[gradcheck]` table.
"""

from __future__ import annotations

import numpy as np
import pytest
from runhelpers import DIGITS, assert_one_error_line, cli, experiment, write

from scratchlab.cli import main
from scratchlab.errors import ConfigError
from scratchlab.gradcheck import GradRow, gradcheck, passed, verdict
from scratchlab.nn import L1, L2, Linear, SoftmaxCrossEntropy, build_mlp

SMALL = ["--n-samples", "6", "--n-dims", "5"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((12, 8)), rng.integers(0, 3, 12)


def model(**kw):
    return build_mlp(8, 3, rng=np.random.default_rng(1), **kw)


def check(data, m=None, **kw) -> list[GradRow]:
    X, y = data
    return gradcheck(m or model(), X, y, **{"n_samples": 6, "n_dims": 5, **kw})


# --- settings: ConfigError in the API, exit 2 from the CLI -----------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"h": 0.0},
        {"h": -1e-5},
        {"h": np.nan},
        {"h": np.inf},
        {"tol": 0.0},
        {"tol": -1e-6},
        {"tol": np.nan},
        {"tol": np.inf},
        {"atol": -1.0},
        {"atol": np.nan},
        {"atol": np.inf},
        {"eps": 0.0},
        {"eps": np.nan},
        {"max_entries": 0},
        {"n_samples": 0},
        {"n_dims": 0},
    ],
)
def test_bad_settings_are_config_errors(data, bad):
    name = next(iter(bad))
    with pytest.raises(ConfigError, match=f"gradient check: .*{name.split('_')[-1]}"):
        check(data, **bad)


@pytest.mark.parametrize("reg", [L2, L1])
def test_infinite_lambda_is_a_config_error(data, reg):
    m = model()
    m.regularisers = [reg(np.inf)]  # the regularisers accept inf; the check does not
    with pytest.raises(ConfigError, match="non-finite lambda"):
        check(data, m)


def test_no_samples_is_a_config_error(data):
    X, y = data
    with pytest.raises(ConfigError, match="no samples"):
        gradcheck(model(), X[:0], y[:0])


@pytest.mark.parametrize(
    "args",
    [
        ["--h", "inf"],
        ["--h", "nan"],
        ["--h=-1e-5"],
        ["--tol", "inf"],
        ["--tol", "nan"],
        ["--tol", "0"],
        ["--tol", "-1"],
        ["--atol", "inf"],
        ["--atol", "nan"],
        ["--atol", "-1"],
        ["--lambda", "nan"],
        ["--lambda", "inf"],
        ["--lambda=-inf"],
        ["--init-std", "inf"],
        ["--max-entries", "0"],
        ["--n-dims", "0"],
    ],
)
def test_cli_bad_options_exit_2(args, capsys):
    assert main(["gradcheck", *SMALL, *args]) == 2
    out, err = capsys.readouterr()
    assert "PASS" not in out
    assert err.startswith("scratchlab: error:") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ("h = inf", "gradcheck.h"),
        ("h = nan", "gradcheck.h"),
        ("h = 0.0", "gradcheck.h"),
        ("lambda = inf", "gradcheck.lambda"),
        ("lambda = nan", "gradcheck.lambda"),
        ("n_samples = 0", "gradcheck.n_samples"),
    ],
)
def test_experiment_file_gradcheck_table_must_be_finite(tmp_path, table, field):
    with pytest.raises(ConfigError, match=field):
        experiment(tmp_path, f"{DIGITS}\n[gradcheck]\n{table}\n")


def test_experiment_file_with_infinite_h_exits_2_and_writes_nothing(tmp_path):
    path = write(tmp_path / "lab.toml", f'name = "lab"\n{DIGITS}\n[gradcheck]\nh = inf\n')
    proc = cli(["run", str(path), "--out", str(tmp_path / "out")])
    assert proc.returncode == 2, proc.stderr
    assert_one_error_line(proc.stderr, "gradcheck.h")
    assert not (tmp_path / "out").exists()


# --- NaN / inf in an error, a non-finite cost, nothing compared: FAIL -----------------------


def _poison_grad(monkeypatch, value: float, param: str = "b") -> None:
    right = Linear.backward

    def poisoned(self, dout, need_dx=True):
        dx = right(self, dout, need_dx)
        if param in self.grads:
            self.grads[param].reshape(-1)[0] = value
        return dx

    monkeypatch.setattr(Linear, "backward", poisoned)


@pytest.mark.parametrize(("value", "param"), [(np.nan, "b"), (np.inf, "W"), (-np.inf, "b")])
def test_nonfinite_analytic_gradient_fails(data, monkeypatch, value, param):
    _poison_grad(monkeypatch, value, param)
    rows = check(data)
    row = next(r for r in rows if r.name.endswith(param))
    assert row.n_nonfinite == 1 and row.n_fail >= 1 and row.status.startswith("FAIL")
    assert np.isfinite([row.max_abs_err, row.max_rel_err, row.max_grad]).all()
    assert not passed(rows)
    assert verdict(rows).startswith("FAIL") and "1 entry with a NaN or infinite" in verdict(rows)


def test_nonfinite_numerical_gradient_fails(data, monkeypatch):
    """Every 5th cost evaluation is NaN: the analytic gradient and the floor are fine, some
    numerical estimates are NaN. Before the guard, NaN compared false and the check passed."""
    right, calls = SoftmaxCrossEntropy.loss, [0]

    def sometimes_nan(self, scores, y):
        calls[0] += 1
        return np.nan if calls[0] % 5 == 0 else right(self, scores, y)

    monkeypatch.setattr(SoftmaxCrossEntropy, "loss", sometimes_nan)
    rows = check(data)
    assert sum(r.n_nonfinite for r in rows) > 0 and not passed(rows)
    assert verdict(rows).startswith("FAIL")


def test_nonfinite_cost_fails_every_entry(data):
    X, y = data
    X = X.copy()
    X[0, 0] = np.nan
    rows = gradcheck(model(), X, y, n_samples=6, n_dims=5)
    assert all(r.n_nonfinite == r.n_checked - r.kinks > 0 for r in rows)
    assert not passed(rows) and "the cost itself is not finite" in verdict(rows)


def test_tensor_with_no_entry_compared_fails():
    row = GradRow("Linear[0].b", (3,), 3, 3, 0.0, 0.0, 0.0, 0.0, 0, 0, 1e-6, 1e-10)
    assert row.compared == 0 and not row.ok and row.status == "FAIL (none compared)"
    assert not passed([row]) and "no entry compared in Linear[0].b" in verdict([row])


def test_no_rows_is_not_a_pass():
    assert not passed([]) and verdict([]).startswith("FAIL")


def test_cli_nonfinite_gradient_exits_1(monkeypatch, capsys):
    _poison_grad(monkeypatch, np.nan)
    assert main(["gradcheck", *SMALL]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("FAIL") and "NaN or infinite" in last
