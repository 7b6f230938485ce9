"""experiments/assignment2.toml and assignment3.toml: they load, hold the course's recipe, and
run end to end (search, from_search, snapshots, gradient check, report) on tiny fake CIFAR
files through `--set` overrides."""

from __future__ import annotations

import importlib
import io
import json
import pkgutil
from pathlib import Path

import pytest
from fakedata import cifar_parts, write_cifar_folder
from runhelpers import ROOT, no_figures  # noqa: F401

from scratchlab.cli import main
from scratchlab.experiments.assemble import make_schedule, updates_per_epoch
from scratchlab.experiments.config import load_experiment
from scratchlab.experiments.findings import instability
from scratchlab.experiments.records import load_record

A2, A3 = ROOT / "experiments" / "assignment2.toml", ROOT / "experiments" / "assignment3.toml"
SAMPLE = {"data": {"val_size": 1000}}  # what the files' headers pass on the CIFAR-10 sample


def n_s(spec, n_train: int) -> int:
    """The half-cycle in updates the run trains with on `n_train` images."""
    return make_schedule(spec, updates_per_epoch(spec, n_train), spec.train.n_epochs).step_size


def cycles(spec) -> float:
    return spec.train.n_epochs / (2 * spec.train.schedule.step_size_epochs)


@pytest.mark.parametrize("overrides", [None, SAMPLE])
def test_assignment2_holds_the_course_recipe(overrides):
    exp = load_experiment(A2, overrides=overrides)
    runs = {r.name: r for r in exp.runs}
    cycle1, cycles3, final = runs["cycle1-ns500"], runs["cycles3-ns800"], runs["final"]
    assert cycle1.model.hidden == [50] and cycle1.model.init == "xavier"  # N(0, 1/d_in)
    assert (cycle1.train.lambda_, cycle1.train.n_batch, cycle1.data.split) == (0.01, 100, "a1")
    # On data_batch_1 (10,000 images) the course's n_s: 500 for one cycle, 800 for three.
    assert (n_s(cycle1, 10_000), cycles(cycle1)) == (500, 1)
    assert (n_s(cycles3, 10_000), cycles(cycles3)) == (800, 3)
    (search,) = exp.searches
    assert [n for n, _ in search.stages] == [8, 8]
    (lam,) = search.params
    assert (lam.key, lam.kind, lam.low, lam.high) == ("train.lambda", "log_uniform", 1e-5, 1e-1)
    trial = search.spec("lambda-s1-01", {"train.lambda": 1e-3})
    assert trial.data.split == "all" and cycles(trial) == 2
    assert trial.data.val_size == (1000 if overrides else 5000)
    assert n_s(trial, 45_000) == 900  # 2 floor(n / 100)
    assert final.from_search == "lambda" and cycles(final) == 3 and final.data.val_size == 1000
    assert runs["bonus-snapshots"].ensemble_snapshots == "cycle_ends"
    linear = runs["linear-a1"]
    assert linear.model.hidden == [] and linear.train.schedule.name == "constant"
    assert exp.header.baseline == "linear-a1"


@pytest.mark.parametrize("overrides", [None, SAMPLE])
def test_assignment3_holds_the_course_recipe(overrides):
    exp = load_experiment(A3, overrides=overrides)
    runs = {r.name: r for r in exp.runs}
    assert exp.runs[0].model.batch_norm  # the gradient check builds the first run's model
    checks = {g.label: g for g in exp.gradcheck or []}  # k-layer nets with and without BN
    assert not checks["2-layer"].batch_norm and not checks["3-layer"].batch_norm
    assert checks["4-layer-bn"].batch_norm and len(checks["4-layer-bn"].hidden) == 3
    assert runs["9-layer"].model.hidden == [50, 30, 20, 20, 10, 10, 10, 10]
    for name in ("3-layer", "3-layer-bn", "9-layer", "9-layer-bn"):
        spec = runs[name]
        assert spec.model.batch_norm == name.endswith("-bn") and spec.model.init == "he"
        assert spec.train.lambda_ == 0.005 and cycles(spec) == 2
        assert n_s(spec, 45_000) == 2250  # 5 * 45,000 / 100
        assert spec.data.val_size == (1000 if overrides else 5000)
    study = {(r.model.init_std, r.model.batch_norm) for r in exp.runs if r.name.startswith("sigma")}
    assert study == {(s, bn) for s in (1e-1, 1e-3, 1e-4) for bn in (True, False)}
    assert all(runs[f"sigma{s}"].model.init == "normal" for s in ("1e-1", "1e-3", "1e-4"))
    assert n_s(runs["sigma1e-4"], 45_000) == 900
    (search,) = exp.searches
    assert search.spec("lambda-s1-01", {"train.lambda": 1e-3}).model.batch_norm
    assert runs["3-layer-bn-best-lambda"].from_search == "lambda"


# The sample headers' command on tiny files: every run 2 epochs of 2 cycles, batches of 10.
TINY = [
    "--set", "data.val_size=20", "--set", "train.n_batch=10", "--set", "train.n_epochs=2",
    "--set", 'train.schedule={name="cyclical",eta_min=1e-5,eta_max=1e-1,step_size_epochs=0.5}',
]  # fmt: skip


@pytest.fixture
def unrendered(monkeypatch):
    """Figures are built but not rendered (a 1x1 PNG is saved): rendering takes ~1 s a figure
    and is tested with the plots; these tests check which figures the report asks for."""
    from PIL import Image

    import scratchlab.plots

    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="png")

    def save(fig, path):
        fig.clear()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(buffer.getvalue())
        return Path(path)

    for info in pkgutil.iter_modules(scratchlab.plots.__path__):
        module = importlib.import_module(f"scratchlab.plots.{info.name}")
        if hasattr(module, "save"):
            monkeypatch.setattr(module, "save", save)


@pytest.fixture(scope="module")
def fake_cifar(tmp_path_factory) -> Path:
    sizes = {f"data_batch_{i}": 40 for i in range(1, 6)} | {"test_batch": 30}
    return write_cifar_folder(tmp_path_factory.mktemp("cifar"), "binary", cifar_parts(sizes))


@pytest.mark.usefixtures("no_figures", "unrendered")
def test_assignment2_runs_end_to_end(tmp_path, fake_cifar):
    out = tmp_path / "out"
    assert main(["run", str(A2), "--data-path", str(fake_cifar), "--out", str(out), *TINY]) == 0
    exp_dir = out / "assignment2"
    (search,) = json.loads((exp_dir / "search.json").read_text())["searches"]
    assert search["complete"] and [len(s["trials"]) for s in search["stages"]] == [8, 8]
    best = search["best"]["values"]["train.lambda"]
    final = json.loads((exp_dir / "final" / "config.json").read_text())
    assert final["train"]["lambda"] == best
    snap = json.loads((exp_dir / "bonus-snapshots" / "metrics.json").read_text())
    assert snap["ensemble"]["kind"] == "snapshots" and snap["ensemble"]["n_members"] == 2
    assert [len(h) for h in load_record(exp_dir, "bonus-snapshots").histories] == [3]
    history = (exp_dir / "cycle1-ns500" / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,step,")  # evaluated between epochs
    html = (exp_dir / "report.html").read_text(encoding="utf-8")
    for section in ("Search <code>lambda</code>", "Against the baseline", "Gradient check"):
        assert section in html
    assert (exp_dir / "figures" / "search-lambda.png").is_file()
    assert (exp_dir / "figures" / "cycle1-lr.png").is_file()


@pytest.mark.usefixtures("no_figures", "unrendered")
def test_assignment3_runs_end_to_end(tmp_path, fake_cifar):
    out = tmp_path / "out"
    assert main(["run", str(A3), "--data-path", str(fake_cifar), "--out", str(out), *TINY]) == 0
    exp_dir = out / "assignment3"
    checks = json.loads((exp_dir / "gradcheck.json").read_text())["checks"]
    assert [c["name"] for c in checks] == ["2-layer", "3-layer", "3-layer-bn", "4-layer-bn"]
    rows = checks[-1]["rows"]
    names = " ".join(r["name"] for r in rows)
    assert all(p in names for p in ("W", "gamma", "beta")), names
    assert all(r["status"] == "ok" for c in checks for r in c["rows"]), checks
    (search,) = json.loads((exp_dir / "search.json").read_text())["searches"]
    assert search["complete"] and [len(s["trials"]) for s in search["stages"]] == [6, 6]
    for name in ("sigma1e-4", "sigma1e-4-bn", "9-layer-bn", "3-layer-bn-best-lambda"):
        assert (exp_dir / name / "metrics.json").is_file()
    html = (exp_dir / "report.html").read_text(encoding="utf-8")
    assert "Search <code>lambda</code>" in html
    assert (exp_dir / "figures" / "sensitivity-1e-4.png").is_file()


def test_a_cyclical_rate_is_not_read_as_oscillating():
    """The loss of a cyclical rate rises with the rate by design (findings rule 2b)."""
    rows = [{"epoch": e, "train_loss": v} for e, v in enumerate([2.3, 1.5, 1.8, 1.2, 1.6, 1.0])]
    assert "oscillates" in instability(rows)
    assert instability(rows, cyclical=True) is None
    assert "above its untrained" in instability([*rows, {"epoch": 6, "train_loss": 2.4}], True)


def test_search_scatter_draws_log_and_choice_axes(tmp_path):
    from scratchlab.plots.search import plot_search

    trials = [
        ({"train.lambda": 1e-4, "model.hidden": [50]}, 0.40, 1),
        ({"train.lambda": 1e-2, "model.hidden": [100]}, 0.45, 1),
        ({"train.lambda": 3e-3, "model.hidden": [100]}, float("nan"), 2),  # not measured
        ({"train.lambda": 5e-3, "model.hidden": [50]}, 0.47, 2),
    ]
    params = [("train.lambda", "log_uniform"), ("model.hidden", "choice")]
    path = plot_search(params, trials, tmp_path / "s.png", best=3, title="search")
    assert path.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="no searched parameters"):
        plot_search([], trials, tmp_path / "t.png")
