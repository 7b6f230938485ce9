"""Bad input: one line `scratchlab: error: ...` on stderr, exit code 2, no traceback, and no
results folder (validation runs before anything is written).

Each case goes through `scratchlab.cli.main`; a few also through a real subprocess.
"""

from __future__ import annotations

import errno
import os
import sys

import pytest
from fakedata import (
    cifar_parts,
    malicious_pickle,
    mnist_parts,
    write_cifar_archive,
    write_cifar_folder,
    write_mnist_folder,
)
from runhelpers import DIGITS, assert_one_error_line, cli, metrics, no_figures, write  # noqa: F401

from scratchlab.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:.*unverified:UserWarning")

OK = 'name = "lab"\n' + DIGITS


def _fails(capsys, args: list[str], *needles: str) -> str:
    """main(args) exits 2 with one error line holding `needles`; returns that line."""
    capsys.readouterr()
    try:
        code = main(args)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    assert code == 2, args
    return assert_one_error_line(capsys.readouterr().err, *needles)


def _run_fails(tmp_path, capsys, toml: str, *needles: str, extra=()) -> str:
    path = write(tmp_path / "lab.toml", toml)
    out = tmp_path / "out"
    line = _fails(capsys, ["run", str(path), "--out", str(out), *extra], *needles)
    assert not out.exists(), "an invalid experiment must not create its results folder"
    return line


# --- the experiment file ------------------------------------------------------------------

FILE_CASES = {
    "misspelt top-level key": (
        'titel = "x"\n' + OK,
        ["top level: unknown key 'titel'; did you mean 'title'?"],
    ),
    "misspelt section key": (OK + "n_epoch = 3\n", ["train.n_epoch", "did you mean 'n_epochs'?"]),
    "misspelt run key": (OK + '[[runs]]\nname = "a"\nmodle = {}\n', ["did you mean 'model'?"]),
    "wrong type": (OK + "shuffle = 'yes please'\n", ["train.shuffle", "valid boolean"]),
    "eta <= 0": (OK.replace("eta = 0.05", "eta = -0.05"), ["train.eta", "greater than 0"]),
    "n_batch <= 0": (OK.replace("n_batch = 64", "n_batch = 0"), ["n_batch must be >= 1"]),
    "n_batch > training set": (
        OK.replace("n_batch = 64", "n_batch = 5000"),
        ["n_batch = 5000 is larger than the training set (1151 images)"],
    ),
    "n_epochs < 1": (OK.replace("n_epochs = 2", "n_epochs = 0"), ["train.n_epochs"]),
    "unknown loss": (OK + "[model]\nloss = 'hinge'\n", ["model.loss", "'hinge'", "'svm'"]),
    "unknown optimiser": (OK + "optimizer = 'rmsprop'\n", ["train.optimizer", "'rmsprop'"]),
    "unknown schedule": (OK + "schedule = 'warmup'\n", ["train.schedule", "'warmup'"]),
    "unknown dataset": (OK.replace('"digits"', '"svhn"'), ["data.dataset", "'svhn'"]),
    "unknown split": (OK.replace('"digits"', '"digits"\nsplit = "a1"'), ["split 'a1'"]),
    "unknown augmentation": (OK + "augment = [{ kind = 'rotate' }]\n", ["unknown kind 'rotate'"]),
    "duplicate run names": (OK + '[[runs]]\nname = "a"\n[[runs]]\nname = "a"\n', ["unique"]),
    "grid with an empty list": (OK + "[grid]\ntrain.eta = []\n", ["grid.train.eta", "non-empty"]),
    "not TOML": ('name = "lab\n[data\n', ["is not valid TOML"]),
    "section not a table": ('name = "lab"\ntrain = 3\n', ["[train] must be a table"]),
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_bad_experiment_file(tmp_path, capsys, case):
    toml, needles = FILE_CASES[case]
    line = _run_fails(tmp_path, capsys, toml, *needles)
    assert str(tmp_path / "lab.toml") in line or "n_batch" in line


def test_missing_experiment_file(tmp_path, capsys):
    _fails(capsys, ["run", str(tmp_path / "nope.toml")], "nope.toml does not exist")


def test_experiment_file_that_is_a_folder_or_not_text(tmp_path, capsys):
    _fails(capsys, ["run", str(tmp_path)], "cannot read experiment file")
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"\xff\xfe\x00name")
    _fails(capsys, ["run", str(bad)], "cannot read experiment file")


# --- command-line options -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--set", "train.n_epochs"], ["--set takes KEY=VALUE", "'train.n_epochs'"]),
        (["--set", "train.n_epochs=abc"], ["train.n_epochs", "'abc'"]),
        (["--set", "train.n_epoch=3"], ["did you mean 'n_epochs'?"]),
        (["--only", "zzz*"], ["--only 'zzz*' matches no run", "the runs are: default"]),
        (["--only", ","], ["matches no run"]),
        (["--jobs", "0"], ["--jobs must be at least 1, got 0"]),
        (["--jobs", "-3"], ["--jobs must be at least 1"]),
        (["--jobs", "two"], ["invalid int value: 'two'"]),
    ],
)
def test_bad_options(tmp_path, capsys, extra, needles):
    _run_fails(tmp_path, capsys, OK, *needles, extra=extra)


def test_bad_train_flags(tmp_path, capsys):
    base = ["train", "--dataset", "digits", "--out", str(tmp_path / "out")]
    _fails(capsys, [*base, "--hidden", "a,b"], "--hidden takes comma-separated integers")
    _fails(capsys, [*base, "--schedule", "exp_decay:gamma"], "expected KEY=VALUE")
    _fails(capsys, [*base, "--eta", "0"], "train.eta")
    _fails(capsys, [*base, "--dataset", "svhn"], "data.dataset")
    _fails(capsys, [*base, "--optimizer", "lbfgs"], "train.optimizer")
    assert not (tmp_path / "out").exists()


def test_output_folder_that_cannot_be_written(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    path = write(tmp_path / "lab.toml", OK)
    _fails(capsys, ["run", str(path), "--out", str(blocker / "sub")],
           f"cannot write results under {blocker / 'sub'}", "not a writable folder")  # fmt: skip


def test_output_folder_without_write_permission(tmp_path, capsys, monkeypatch):
    # root ignores permission bits, so make os.access say what it would say to a user
    import scratchlab.experiments.runner as runner

    monkeypatch.setattr(runner.os, "access", lambda path, mode: False)
    path = write(tmp_path / "lab.toml", OK)
    _fails(capsys, ["run", str(path), "--out", str(tmp_path / "out")], "not a writable folder")
    assert not (tmp_path / "out").exists()


def test_results_name_taken_by_a_file(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "lab").write_text("in the way")
    path = write(tmp_path / "lab.toml", OK)
    _fails(capsys, ["run", str(path), "--out", str(tmp_path / "out")],
           "cannot create the results folder")  # fmt: skip


# --- data ---------------------------------------------------------------------------------

CIFAR = 'name = "lab"\n[data]\ndataset = "cifar10"\n[train]\nn_epochs = 1\nn_batch = 10\n'


def test_val_size_not_smaller_than_the_training_set(tmp_path, capsys):
    folder = write_cifar_folder(tmp_path / "data", "binary", cifar_parts())
    toml = CIFAR.replace('"cifar10"', '"cifar10"\nsplit = "all"\nval_size = 100')
    _run_fails(tmp_path, capsys, toml, "val_size=100 must be an integer from 0 to 99",
               extra=["--data-path", str(folder)])  # fmt: skip


def test_data_path_that_does_not_exist(tmp_path, capsys):
    _run_fails(tmp_path, capsys, CIFAR, "data path /nonexistent/cifar does not exist",
               extra=["--data-path", "/nonexistent/cifar"])  # fmt: skip


def test_missing_data_file(tmp_path, capsys):
    folder = write_cifar_folder(tmp_path / "data", "binary", cifar_parts())
    (folder / "data_batch_3.bin").unlink()
    _run_fails(tmp_path, capsys, CIFAR, "holds no complete CIFAR-10 files",
               extra=["--data-path", str(folder)])  # fmt: skip


def test_dataset_nowhere_and_no_download(tmp_path, capsys, data_env):
    toml = CIFAR.replace("cifar10", "mnist")
    _run_fails(tmp_path, capsys, toml, "could not download")


def test_wrong_md5(tmp_path, capsys, data_env):
    write_mnist_folder(data_env / "mnist", mnist_parts())
    _run_fails(tmp_path, capsys, CIFAR.replace("cifar10", "mnist"),
               "train-images-idx3-ubyte.gz: md5", "does not match the official")  # fmt: skip


def test_wrong_md5_of_an_official_archive(tmp_path, capsys, data_env):
    write_cifar_archive(data_env / "cifar10", "python", cifar_parts())
    _run_fails(tmp_path, capsys, CIFAR, "cifar-10-python.tar.gz: md5")


def test_truncated_archive(tmp_path, capsys):
    archive = write_cifar_archive(tmp_path / "data", "python", cifar_parts())
    archive.write_bytes(archive.read_bytes()[:2000])
    _run_fails(tmp_path, capsys, CIFAR, f"cannot read {archive}", "truncated",
               extra=["--data-path", str(archive)])  # fmt: skip


def test_truncated_batch_file(tmp_path, capsys):
    folder = write_cifar_folder(tmp_path / "data", "binary", cifar_parts())
    batch = folder / "data_batch_2.bin"
    batch.write_bytes(batch.read_bytes()[:-100])
    _run_fails(tmp_path, capsys, CIFAR, "data_batch_2.bin", "not a multiple",
               extra=["--data-path", str(folder)])  # fmt: skip


def test_malicious_pickle(tmp_path, capsys):
    marker = tmp_path / "pwned"
    folder = write_cifar_folder(tmp_path / "data", "python", cifar_parts())
    (folder / "data_batch_1").write_bytes(malicious_pickle(marker))
    _run_fails(tmp_path, capsys, CIFAR, "refusing to load", "system",
               extra=["--data-path", str(folder)])  # fmt: skip
    assert not marker.exists()


@pytest.mark.usefixtures("no_figures")
def test_unwritable_cache_only_warns(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("SCRATCHLAB_CACHE", str(blocker / "cache"))
    folder = write_cifar_folder(tmp_path / "data", "binary", cifar_parts())
    path = write(tmp_path / "lab.toml", CIFAR)
    args = ["run", str(path), "--out", str(tmp_path / "out"), "--data-path", str(folder)]
    with pytest.warns(UserWarning, match="could not write the decoded-array cache"):
        assert main(args) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert metrics(tmp_path / "out" / "lab" / "default")["epochs_trained"] == 1


# --- the disk fills up mid-run ------------------------------------------------------------


@pytest.mark.usefixtures("no_figures")
def test_full_disk_mid_run(tmp_path, capsys, monkeypatch):
    import scratchlab.io

    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith("metrics.json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst)

    monkeypatch.setattr(scratchlab.io.os, "replace", replace)
    path = write(tmp_path / "lab.toml", OK)
    out = tmp_path / "out"
    _fails(capsys, ["run", str(path), "--out", str(out)],
           f"cannot write {out / 'lab' / 'default' / 'metrics.json'}",
           "No space left on device", "is the disk full")  # fmt: skip
    run = out / "lab" / "default"
    assert not (run / "metrics.json").exists()  # the run does not look finished
    assert not list(out.rglob("*.tmp"))  # and no partial file is left behind
    assert (run / "checkpoint.npz").exists()

    monkeypatch.setattr(scratchlab.io.os, "replace", real_replace)  # space freed: rerun
    assert main(["run", str(path), "--out", str(out)]) == 0
    assert metrics(run)["epochs_trained"] == 2


def test_full_disk_while_writing_a_file(tmp_path, monkeypatch):
    """The temporary file is removed when the write itself fails (not only the rename)."""
    from scratchlab.errors import ScratchlabError
    from scratchlab.io import atomic_open

    target = tmp_path / "big.bin"
    target.write_bytes(b"old")
    with pytest.raises(ScratchlabError, match="No space left on device"):
        with atomic_open(target, "wb") as handle:
            handle.write(b"new, partly")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["big.bin"]


# --- reports and data commands --------------------------------------------------------------


def test_report_on_a_folder_that_is_not_results(tmp_path, capsys):
    _fails(capsys, ["report", str(tmp_path)], "is not an experiment results folder")
    _fails(capsys, ["report", str(tmp_path / "nope")], "is not an experiment results folder")


def test_report_on_damaged_results(tmp_path, capsys):
    (tmp_path / "experiment.json").write_text('{"name": "lab", "runs": ["a"]')
    _fails(capsys, ["report", str(tmp_path)], "experiment.json is damaged")
    (tmp_path / "experiment.json").write_text('{"name": "lab"}')
    _fails(capsys, ["report", str(tmp_path)], "damaged or foreign results file", "KeyError")


def test_data_verify_on_a_corrupt_file(capsys, data_env):
    folder = write_cifar_folder(data_env / "cifar10", "binary", cifar_parts())
    (folder / "test_batch.bin").write_bytes(b"\x00" * 100)
    capsys.readouterr()
    assert main(["data", "verify", "cifar10"]) == 2
    captured = capsys.readouterr()
    assert_one_error_line(captured.err, "verification failed for cifar10")
    lines = captured.out.strip().splitlines()  # the details, one line per dataset
    assert len(lines) == 1 and lines[0].startswith("cifar10: FAILED")
    assert "test_batch.bin" in lines[0] and "Traceback" not in captured.out


def test_usage_errors_are_one_line(capsys):
    _fails(capsys, ["frobnicate"], "invalid choice: 'frobnicate'")
    _fails(capsys, ["run"], "the following arguments are required: file")


# --- the same through real processes --------------------------------------------------------


def test_errors_in_a_real_process(tmp_path):
    path = write(tmp_path / "lab.toml", OK + "etaa = 0.1\n")
    proc = cli(["run", str(path), "--out", str(tmp_path / "out")])
    assert proc.returncode == 2 and proc.stdout == ""
    assert_one_error_line(proc.stderr, "train.etaa", "did you mean 'eta'?")

    write(tmp_path / "bad.toml", "name = [\n")
    proc = cli(["run", str(tmp_path / "bad.toml"), "--jobs", "2"])
    assert proc.returncode == 2
    assert_one_error_line(proc.stderr, "is not valid TOML")

    proc = cli(["run", str(tmp_path / "lab.toml"), "--jobs", "0", "--set", "train.etaa=0.1"])
    assert proc.returncode == 2 and "did you mean 'eta'?" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_malicious_pickle_in_a_real_process(tmp_path):
    marker = tmp_path / "pwned"
    folder = write_cifar_folder(tmp_path / "data", "python", cifar_parts())
    (folder / "data_batch_4").write_bytes(malicious_pickle(marker))
    path = write(tmp_path / "lab.toml", CIFAR)
    proc = cli(["run", str(path), "--out", str(tmp_path / "out"), "--data-path", str(folder)],
               SCRATCHLAB_CACHE=str(tmp_path / "cache"))  # fmt: skip
    assert proc.returncode == 2
    assert_one_error_line(proc.stderr, "refusing to load", "data_batch_4")
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_unwritable_output_in_a_real_process(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    path = write(tmp_path / "lab.toml", OK)
    proc = cli(["run", str(path), "--out", str(blocker / "results")])
    assert proc.returncode == 2
    assert_one_error_line(proc.stderr, "not a writable folder")
    proc = cli(["report", str(tmp_path)])
    assert proc.returncode == 2
    assert_one_error_line(proc.stderr, "is not an experiment results folder")


def test_entry_point_exists():
    bindir = os.path.dirname(sys.executable)
    assert os.path.exists(os.path.join(bindir, "scratchlab"))


@pytest.mark.usefixtures("no_figures")
def test_a_data_path_for_the_bundled_digits_is_reported_unused(tmp_path):
    path = write(tmp_path / "lab.toml", OK)
    args = ["run", str(path), "--out", str(tmp_path / "out"), "--data-path", str(tmp_path)]
    with pytest.warns(UserWarning, match="digits is bundled with scikit-learn"):
        assert main(args) == 0


def test_a_multi_line_message_is_printed_as_one_line(capsys, monkeypatch):
    import scratchlab.commands.experiments as commands
    from scratchlab.errors import DataError

    def three_lines(args):
        raise DataError("first line\n  - second\n  - third")

    monkeypatch.setattr(commands, "_report", three_lines)
    assert main(["report", "anywhere"]) == 2
    assert capsys.readouterr().err == "scratchlab: error: first line - second - third\n"


@pytest.mark.parametrize("value", ["abc", "0", "-2", "1.5"])
def test_bad_thread_setting_fails_before_anything_is_written(tmp_path, capsys, monkeypatch, value):
    monkeypatch.setenv("SCRATCHLAB_THREADS", value)
    _run_fails(tmp_path, capsys, OK, "SCRATCHLAB_THREADS must be a whole number >= 1 or 'auto'")
