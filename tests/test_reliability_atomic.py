"""Crash safety of the writers: every results and cache file is written to a temporary file
and renamed into place, so a reader (or a resumed run) never sees half a file."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from fakedata import cifar_parts, write_cifar_folder
from runhelpers import write

from scratchlab.errors import ScratchlabError
from scratchlab.experiments.config import load_experiment
from scratchlab.experiments.runner import run_experiment
from scratchlab.io import atomic_open, write_json, write_npz, write_text

pytestmark = pytest.mark.filterwarnings("ignore:.*unverified:UserWarning")

LAB = """name = "lab"
gradcheck = { n_samples = 4, n_dims = 8 }
[data]
dataset = "cifar10"
retrain_split = "all"
val_size = 10
[train]
n_epochs = 2
n_batch = 10
augment = [{ kind = "flip" }]
[[runs]]
name = "linear"
[[runs]]
name = "mlp"
ensemble = 2
model = { hidden = [8] }
"""


def test_every_file_of_a_run_and_of_the_cache_arrives_by_rename(tmp_path, monkeypatch):
    folder = write_cifar_folder(tmp_path / "data", "binary", cifar_parts())
    cache = tmp_path / "cache"
    monkeypatch.setenv("SCRATCHLAB_CACHE", str(cache))
    renamed: set[Path] = set()
    real_replace = os.replace

    def replace(src, dst):
        renamed.add(Path(dst).resolve())
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    exp = load_experiment(write(tmp_path / "lab.toml", LAB),
                          overrides={"data": {"path": str(folder)}})  # fmt: skip
    result = run_experiment(exp, tmp_path / "out")

    written = {p.resolve() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    written |= {p.resolve() for p in cache.rglob("*") if p.is_file()}
    kinds = {p.suffix for p in written}
    assert {".png", ".csv", ".json", ".npz", ".md", ".html", ".npy"} <= kinds
    assert any(p.name == "gradcheck.json" for p in written)
    assert len([p for p in written if p.suffix == ".png"]) >= 10
    lock = (tmp_path / "out" / "lab" / ".lock").resolve()  # the folder lock, not a result
    assert written - renamed == {lock}, "written in place, not via a temporary file"
    assert not [p for p in written if p.name.endswith(".tmp")]
    assert result.report_html.is_file()


@pytest.mark.parametrize(
    "writer",
    [
        lambda p: write_text(p, "new text"),
        lambda p: write_json(p, {"new": [1, 2]}),
        lambda p: write_npz(p, {"a": __import__("numpy").arange(3)}),
    ],
)
def test_a_failed_rename_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, writer):
    target = tmp_path / "results.out"
    target.write_text("old")

    def no_space(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(ScratchlabError) as exc:
        writer(target)
    message = str(exc.value)
    assert message == (f"cannot write {target}: No space left on device "
                       "(is the disk full or read-only?)")  # fmt: skip
    assert target.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["results.out"]


def test_an_exception_inside_the_block_leaves_no_temporary(tmp_path):
    target = tmp_path / "x.txt"
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(target) as handle:
            handle.write("half")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_a_folder_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ScratchlabError, match=r"cannot write .*choose a writable folder"):
        write_text(blocker / "sub" / "x.txt", "x")


def test_results_files_honour_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_text(tmp_path / "report.md", "# hi\n")
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


def test_figures_are_saved_atomically(tmp_path, monkeypatch):
    from scratchlab import plots

    target = tmp_path / "figures" / "curves.png"
    target.parent.mkdir()
    target.write_bytes(b"old png")

    def no_space(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", no_space)
    rows = [{"epoch": e, "train_loss": 1.0 / (e + 1), "train_cost": 1.0, "train_acc": 0.5,
             "val_loss": 1.0, "val_cost": 1.0, "val_acc": 0.4, "lr": 0.1, "time": e}
            for e in range(3)]  # fmt: skip
    with pytest.raises(ScratchlabError, match="No space left on device"):
        plots.plot_loss_cost_acc(rows, target, title="t")
    assert target.read_bytes() == b"old png" and os.listdir(target.parent) == ["curves.png"]
