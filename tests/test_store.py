"""The results folder as a database: one writer (lock), finished runs never lost or mixed.

Hostile cases: two commands on one folder at once, a lock left by a killed command, a data
folder that moved, run names that are the folder's own files, a symlinked run folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from runhelpers import DIGITS, ROOT, cli, experiment, metrics, no_figures, subprocess_env, write  # noqa: F401

from scratchlab.errors import ConfigError
from scratchlab.experiments.runner import run_experiment
from scratchlab.experiments.store import ResultsFolder

SLOW = DIGITS.replace("n_epochs = 2", "n_epochs = 5000") + '[[runs]]\nname = "slow"\n'


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "scratchlab.cli", *args], cwd=ROOT,
                            env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _wait_for(path, proc, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_two_commands_on_one_folder_never_write_at_once(tmp_path):
    slow = write(tmp_path / "lab.toml", 'name = "lab"\n' + SLOW)
    other = write(tmp_path / "other" / "lab.toml", 'name = "lab"\nseed = 3\n' + DIGITS)
    first = _start(["run", str(slow), "--out", str(tmp_path / "out")])
    try:
        _wait_for(tmp_path / "out" / "lab" / "slow" / "checkpoint.npz", first)
        second = cli(["run", str(other), "--out", str(tmp_path / "out")])
        assert second.returncode == 2, second.stderr
        assert f"in use by pid {first.pid}" in second.stderr
        assert not (tmp_path / "out" / "lab" / "default").exists()  # it wrote nothing
        report = cli(["report", str(tmp_path / "out" / "lab")])
        assert report.returncode == 2 and "in use by pid" in report.stderr
    finally:
        first.kill()
        first.communicate()


def test_a_lock_left_by_a_killed_command_does_not_block(tmp_path):
    slow = write(tmp_path / "lab.toml", 'name = "lab"\n' + SLOW)
    proc = _start(["run", str(slow), "--out", str(tmp_path / "out")])
    _wait_for(tmp_path / "out" / "lab" / "slow" / "checkpoint.npz", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert (tmp_path / "out" / "lab" / ".lock").read_text().startswith(f"pid {proc.pid}")
    with ResultsFolder(tmp_path / "out" / "lab"):  # the kernel released the dead one's lock
        pass


def test_the_lock_is_exclusive_within_a_process_too(tmp_path):
    with ResultsFolder(tmp_path / "x"):
        with pytest.raises(ConfigError, match=f"in use by pid {os.getpid()}"):
            ResultsFolder(tmp_path / "x").__enter__()
    with ResultsFolder(tmp_path / "x"):  # released on exit
        pass


@pytest.mark.usefixtures("no_figures")
def test_a_moved_data_folder_is_not_a_changed_spec(tmp_path):
    from fakedata import cifar_parts, write_cifar_folder

    sizes = {
        "data_batch_1": 60,
        "data_batch_2": 30,
        "data_batch_3": 2,
        "data_batch_4": 2,
        "data_batch_5": 2,
        "test_batch": 30,
    }
    parts = cifar_parts(sizes)
    first = write_cifar_folder(tmp_path / "here", "python", parts)
    body = '[data]\ndataset = "cifar10"\n[train]\nn_epochs = 1\nn_batch = 20\n'
    out = tmp_path / "out"
    exp = experiment(tmp_path, body, overrides={"data": {"path": str(first)}})
    with pytest.warns(UserWarning):
        run_experiment(exp, out)
    before = metrics(out / "lab" / "default")
    moved = shutil.copytree(first, tmp_path / "elsewhere" / first.name)
    exp = experiment(tmp_path, body, overrides={"data": {"path": str(moved)}})
    with pytest.warns(UserWarning):
        result = run_experiment(exp, out)
    assert result.skipped == ["default"] and metrics(out / "lab" / "default") == before
    # other content at a new place is a different spec: refused, nothing changed
    other = write_cifar_folder(tmp_path / "other", "python", cifar_parts(sizes, seed=1))
    exp = experiment(tmp_path, body, overrides={"data": {"path": str(other)}})
    with pytest.warns(UserWarning), pytest.raises(ConfigError, match="data.path"):
        run_experiment(exp, out)
    assert metrics(out / "lab" / "default") == before


@pytest.mark.parametrize("name", ["report.html", "figures", "experiment.json", "replaced"])
def test_run_names_that_are_the_folders_own_files_are_refused(tmp_path, name):
    exp = experiment(tmp_path, DIGITS + f'[[runs]]\nname = "{name}"\n')
    with pytest.raises(ConfigError, match="own files"):
        run_experiment(exp, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.usefixtures("no_figures")
def test_fresh_on_a_symlinked_run_folder_is_a_clean_error(tmp_path):
    exp = experiment(tmp_path, DIGITS + '[[runs]]\nname = "a"\n')
    out = tmp_path / "out"
    run_experiment(exp, out)
    real = tmp_path / "kept-a"
    (out / "lab" / "a").rename(real)
    (out / "lab" / "a").symlink_to(real)
    with pytest.raises(ConfigError, match="symbolic link"):
        run_experiment(exp, out, fresh=True)
    assert (real / "metrics.json").exists()


@pytest.mark.usefixtures("no_figures")
def test_an_unfinished_run_of_another_spec_is_cleared_not_resumed(tmp_path):
    out = tmp_path / "out"
    exp = experiment(tmp_path, DIGITS + '[[runs]]\nname = "a"\n')
    run_experiment(exp, out)
    (out / "lab" / "a" / "metrics.json").unlink()  # as if killed before the end
    write(out / "lab" / "a" / "config.json", '{"name": "a", "other": 1}')
    result = run_experiment(exp, out)
    assert result.trained == ["a"] and metrics(out / "lab" / "a")["epochs_trained"] == 2
