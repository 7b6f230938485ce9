"""`scratchlab gradcheck`: exit 0 on a correct model, 1 on a wrong gradient, 2 on bad input."""

from __future__ import annotations

import pytest

from scratchlab.cli import main
from scratchlab.nn import Linear

SMALL = ["--n-samples", "10", "--n-dims", "8"]


def test_default_linear_check_passes(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "Parameter" in out and "Linear[0].W" in out and "20x10" in out
    assert "synthetic Gaussian (10 classes, d=3072)" in out
    assert out.strip().splitlines()[-1].startswith("PASS")


@pytest.mark.parametrize(
    "args",
    [
        ["--hidden", "8,6", "--batch-norm", "--lambda", "0.01"],
        ["--hidden", "8", "--loss", "svm", "--l1", "--lambda", "0.05", "--init", "xavier"],
        ["--hidden", "8,6", "--dropout", "0.3", "--dropout-where", "every_dense"],
        ["--hidden", "", "--loss", "svm", "--lambda", "0.1", "--h", "1e-4"],
    ],
)
def test_networks_pass(args, capsys):
    assert main(["gradcheck", *args, *SMALL]) == 0, capsys.readouterr().out


def test_markdown_output(capsys):
    assert main(["gradcheck", "--markdown", *SMALL]) == 0
    assert "| Parameter | Shape |" in capsys.readouterr().out


def test_wrong_gradient_exits_1(monkeypatch, capsys):
    right = Linear.backward

    def wrong(self, dout, need_dx=True):
        dx = right(self, dout, need_dx)
        if "b" in self.grads:
            self.grads["b"] *= 2.0
        return dx

    monkeypatch.setattr(Linear, "backward", wrong)
    assert main(["gradcheck", *SMALL]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out.splitlines()[-1]


@pytest.mark.parametrize(
    "args",
    [["--hidden", "50,x"], ["--hidden", "0"], ["--n-samples", "0"], ["--lambda", "-1"],
     ["--dropout", "1.5", "--hidden", "4"], ["--h", "0"]],
)  # fmt: skip
def test_bad_options_exit_2(args, capsys):
    assert main(["gradcheck", *args]) == 2
    assert capsys.readouterr().err.startswith("scratchlab: error:")
