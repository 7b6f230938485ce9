"""The progress display's counts: done / running / pending, from started, epoch and done events."""

from types import SimpleNamespace

from scratchlab.experiments.progress import RunProgress


def specs(*names: str) -> list:
    return [SimpleNamespace(name=n, train=SimpleNamespace(n_epochs=3)) for n in names]


def test_counts_follow_started_epoch_and_done_events(capsys):
    with RunProgress(specs("a", "b", "c"), skipped=[]) as progress:
        assert progress.state() == "done 0 · running 0 · pending 3"
        progress.update("a", "started")
        progress.update("a", "started")  # a retried task starts again elsewhere: still one
        assert progress.state() == "done 0 · running 1 · pending 2"
        progress.update("b", 1, 3, {"epoch": 1, "train_loss": 0.5})  # epochs imply running
        assert progress.state() == "done 0 · running 2 · pending 1"
        progress.update("a", 3, 3, {"epoch": 3, "train_loss": 0.1, "val_acc": 0.5})
        progress.update("a", "done")
        assert progress.state() == "done 1 · running 1 · pending 1"
        progress.update("a", "started")  # a late duplicate of a finished run changes nothing
        assert progress.state() == "done 1 · running 1 · pending 1"
    err = capsys.readouterr().err  # stderr is not a terminal here: plain lines
    assert "a: started (done 0 · running 1 · pending 2)" in err
    assert "a: done after 3 epochs, val acc 50.00% (done 1 · running 1 · pending 1)" in err


def test_inline_runs_report_their_start(tmp_path, monkeypatch):
    from scratchlab.experiments import executors

    seen = []

    class Recorder(RunProgress):
        def started(self, name):
            seen.append(("started", name, self.state()))
            super().started(name)

    def fake_execute(spec, run_dir, progress=None):
        progress(1, 1, {"epoch": 1, "train_loss": 1.0})

    monkeypatch.setattr(executors.execute, "execute_run", fake_execute)
    with Recorder(specs("x", "y"), skipped=[]) as progress:
        executors.run_inline(specs("x", "y"), tmp_path, progress, threads=1)
        final = progress.state()
    assert seen == [
        ("started", "x", "done 0 · running 0 · pending 2"),
        ("started", "y", "done 1 · running 0 · pending 1"),
    ]
    assert final == "done 2 · running 0 · pending 0"


def test_workers_do_not_repeat_the_data_warning_the_main_process_showed(tmp_path):
    """An unverified (extracted) CIFAR folder warns once, as one plain line, with --jobs 2."""
    from fakedata import cifar_parts, write_cifar_folder
    from runhelpers import cli

    folder = write_cifar_folder(tmp_path / "data", "binary", cifar_parts())
    lab = tmp_path / "lab.toml"
    lab.write_text(
        'name = "lab"\n[data]\ndataset = "cifar10"\nsplit = "a1"\n'
        "[train]\nn_epochs = 1\nn_batch = 10\n"
        '[[runs]]\nname = "a"\n[[runs]]\nname = "b"\ntrain = { eta = 0.001 }\n'
    )
    args = ["run", str(lab), "--out", str(tmp_path / "out"), "--jobs", "2"]
    proc = cli([*args, "--data-path", str(folder)], timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("is unverified") == 1, proc.stderr
    assert "scratchlab: warning: cifar10 data at" in proc.stderr
    assert "UserWarning" not in proc.stderr and "rundata.py" not in proc.stderr


def test_jobs_are_capped_by_pending_runs_and_nothing_is_said_when_none_are_pending():
    from scratchlab.experiments.runner import cap_jobs

    assert cap_jobs(2, 0) == (2, [])  # the batch after the last: no "capped at 1 (0 runs)"
    jobs, notes = cap_jobs(4, 1)
    assert jobs == 1 and notes and "(1 pending runs" in notes[0]
    assert cap_jobs(2, 5) == (2, [])
