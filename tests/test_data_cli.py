"""`scratchlab data list | verify | fetch` through scratchlab.cli.main."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from fakedata import cifar_parts, mnist_parts, write_cifar_folder, write_mnist_folder

from scratchlab.cli import main
from scratchlab.data import DATASETS


def test_list_shows_present_missing_and_verdicts(data_env, capsys):
    write_cifar_folder(data_env / "cifar-10-sample", "binary", cifar_parts())
    write_mnist_folder(data_env / "fashion-mnist", mnist_parts(n_train=12, n_test=4))
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "present" in lines["cifar10"] and "unverified (extracted folder)" in lines["cifar10"]
    assert str(data_env / "cifar-10-sample" / "cifar-10-batches-bin") in lines["cifar10"]
    assert "missing" in lines["mnist"] and "scratchlab data fetch mnist" in lines["mnist"]
    assert "md5 mismatch" in lines["fashion-mnist"]
    assert "verified" in lines["digits"]


def test_verify_exit_codes(data_env, capsys):
    assert main(["data", "verify"]) == 0  # nothing present: missing ones are skipped
    assert main(["data", "verify", "mnist"]) == 2  # named and missing: fails
    write_cifar_folder(data_env / "cifar10", "binary", cifar_parts())
    assert main(["data", "verify", "cifar10"]) == 0
    assert main(["data", "verify", "digits"]) == 0
    bad = data_env / "cifar10" / "cifar-10-batches-bin" / "data_batch_2.bin"
    bad.write_bytes(bad.read_bytes()[:-7])
    capsys.readouterr()
    assert main(["data", "verify"]) == 2
    out = capsys.readouterr().out
    assert "cifar10: FAILED" in out and "data_batch_2.bin" in out


def test_verify_md5_mismatch_fails(data_env, capsys):
    write_mnist_folder(data_env / "mnist", mnist_parts(n_train=12, n_test=4))
    assert main(["data", "verify", "mnist"]) == 2
    assert "does not match the official" in capsys.readouterr().out


def test_fetch_errors_are_one_line(data_env, capsys):
    assert main(["data", "fetch", "mnist"]) == 2  # the tests' guard refuses to download
    err = capsys.readouterr().err
    assert err.startswith("scratchlab: error: could not download") and err.count("\n") == 1
    assert main(["data", "fetch", "digits"]) == 0


def test_fetch_from_local_mirror(data_env, tmp_path, monkeypatch, capsys):
    src = write_mnist_folder(tmp_path / "mirror", mnist_parts(n_train=12, n_test=4))
    spec = DATASETS["fashion-mnist"]
    files = tuple(
        dataclasses.replace(
            f,
            md5=hashlib.md5((src / f.filename).read_bytes()).hexdigest(),
            urls=((src / f.filename).as_uri(),),
        )
        for f in spec.files
    )
    monkeypatch.setitem(DATASETS, "fashion-mnist", dataclasses.replace(spec, files=files))
    assert main(["data", "fetch", "fashion-mnist"]) == 0
    assert main(["data", "verify", "fashion-mnist"]) == 0
    assert "verified (md5)" in capsys.readouterr().out


def test_usage_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["data", "fetch", "svhn"])
    assert exc.value.code == 2
    assert main(["data"]) == 2
