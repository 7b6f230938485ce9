"""`scratchlab run --cluster`: runs as tasks on a Dask scheduler and two single-thread workers
started here on 127.0.0.1 (subprocesses, bounded in time, torn down after the module).

The same numbers as a local run, with a worker killed mid-run too; the files travel back
(metrics.json last, no checkpoints left); bad cluster input is one line, exit 2, nothing
written; without --cluster Dask is never imported. Figures are stubbed (in this process and,
through a `--preload`, in the workers): drawing them takes seconds and is tested elsewhere.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from runhelpers import (
    DIGITS,
    ROOT,
    assert_one_error_line,
    experiment,
    history_rows,
    metrics,
    subprocess_env,
    weights,
    write,
)

distributed = pytest.importorskip("distributed")

import scratchlab  # noqa: E402
from scratchlab.cli import main  # noqa: E402
from scratchlab.errors import ConfigError, DataError, ScratchlabError  # noqa: E402
from scratchlab.experiments import cluster as cl  # noqa: E402
from scratchlab.experiments import clustertask as ct  # noqa: E402
from scratchlab.experiments.runner import run_experiment  # noqa: E402

START_S = 120  # the scheduler and both workers must be up within this (a loaded 2-core box)

# Worker preload and in-process stub alike: one tiny "figure" per run instead of the PNGs.
STUB = """
from pathlib import Path
from PIL import Image, PngImagePlugin
import scratchlab.experiments.writers as writers

def stub_figures(result, run_dir):
    path = Path(run_dir) / "figures" / "curves.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    info.add_text("run", result.spec.name)
    Image.new("L", (1, 1)).save(path, pnginfo=info)
    return {"curves": "figures/curves.png"}

writers.run_figures = stub_figures
"""

SWEEP = DIGITS + (
    '[[runs]]\nname = "a"\ntrain = { eta = 0.01 }\n'
    '[[runs]]\nname = "b"\ndata = { retrain_split = "full" }\n'
    '[[runs]]\nname = "ens"\nensemble = 2\nmodel = { hidden = [16] }\n'
    "train = { shuffle = true }\n"
)

# Runs long enough (20 epochs, a checkpoint after each) to kill a worker in the middle of one.
LONG = DIGITS + "".join(
    f'[[runs]]\nname = "r{i}"\nseed = {i}\nmodel = {{ hidden = [32] }}\n'
    "train = { n_epochs = 20, n_batch = 16, shuffle = true, checkpoint_every = 1 }\n"
    for i in (1, 2)
)


class Cluster:
    """A `dask scheduler` and named `dask worker --nthreads 1 --no-nanny` subprocesses."""

    def __init__(self, root: Path) -> None:
        self.root, self.procs, self.logs, self.client = root, {}, [], None
        write(root / "stub_preload.py", STUB)
        self.env = subprocess_env(
            SCRATCHLAB_CACHE=str(root / "cache"),
            TMPDIR=str(root),
            DASK_DISTRIBUTED__SCHEDULER__IDLE_TIMEOUT="600s",  # a stray scheduler ends itself
        )

    def start(self) -> None:
        self._start(
            "scheduler",
            ["--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0"],
        )
        self.address = self._address()
        for name in ("w1", "w2"):
            self.start_worker(name)
        self.client = distributed.Client(self.address, timeout=START_S, set_as_default=False)
        self.wait_for(2)

    def _start(self, name: str, args: list[str], kind: str = "scheduler") -> None:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self.logs.append(log)
        argv = [sys.executable, "-m", "dask", kind, "--scheduler-file", str(self.root / "s.json")]
        self.procs[name] = subprocess.Popen(
            argv + args, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT
        )

    def start_worker(self, name: str) -> None:
        args = ["--nthreads", "1", "--no-nanny", "--host", "127.0.0.1", "--name", name,
                "--local-directory", str(self.root / name), "--death-timeout", "60",
                "--preload", str(self.root / "stub_preload.py")]  # fmt: skip
        self._start(name, args, kind="worker")

    def _address(self) -> str:
        deadline = time.monotonic() + START_S
        path = self.root / "s.json"
        while time.monotonic() < deadline:
            if path.is_file() and path.stat().st_size:
                return json.loads(path.read_text())["address"]
            assert self.procs["scheduler"].poll() is None, self.log("scheduler")
            time.sleep(0.1)
        raise AssertionError("the scheduler did not start: " + self.log("scheduler"))

    def wait_for(self, n: int) -> None:
        self.client.wait_for_workers(n, timeout=START_S)

    def ensure_workers(self) -> None:
        """Restart any worker a test killed."""
        for name in ("w1", "w2"):
            if self.procs[name].poll() is not None:
                self.start_worker(name)
        self.wait_for(2)

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.client is not None:
            self.client.close(timeout=5)
        for proc in self.procs.values():  # test processes: nothing of theirs needs saving
            proc.kill()
        for proc in self.procs.values():
            proc.wait(10)
        for log in self.logs:
            log.close()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def live(dask_cluster):
    dask_cluster.ensure_workers()
    return dask_cluster


@pytest.fixture
def stub_figures(monkeypatch):
    """The workers' figure stub, in this process too (for the local reference runs)."""
    import scratchlab.experiments.writers as writers

    # STUB assigns writers.run_figures itself: record the real one first, so that
    # monkeypatch puts it back after the test (later tests draw real figures).
    monkeypatch.setattr(writers, "run_figures", writers.run_figures)
    space: dict = {}
    exec(STUB, space)  # noqa: S102 - our own constant
    monkeypatch.setattr(writers, "run_figures", space["stub_figures"])


def same_run(a: Path, b: Path) -> None:
    """Two run folders hold the same numbers (all but the wall-clock time)."""
    assert metrics(a, drop=("time_s",)) == metrics(b, drop=("time_s",)), a.name
    models = sorted(p.parent.relative_to(a) for p in a.rglob("model.npz"))
    assert models == sorted(p.parent.relative_to(b) for p in b.rglob("model.npz"))
    for rel in models:
        assert history_rows(a / rel) == history_rows(b / rel), rel
        w, v = weights(a / rel), weights(b / rel)
        assert w.keys() == v.keys() and all(np.array_equal(w[k], v[k]) for k in w), rel
    p, q = np.load(a / "predictions.npz"), np.load(b / "predictions.npz")
    assert all(np.array_equal(p[k], q[k]) for k in p.files)


def summary(rows: list[dict]) -> list[dict]:
    """summary.csv's rows without the wall-clock time, NaN made comparable."""
    return [{k: repr(v) for k, v in row.items() if k != "time_s"} for row in rows]


def no_leftovers(exp_dir: Path) -> None:
    assert not list(exp_dir.rglob("checkpoint.npz")) and not list(exp_dir.rglob(".*.tmp"))


# -- on the cluster ------------------------------------------------------------------------


@pytest.mark.usefixtures("stub_figures")
def test_a_sweep_on_the_cluster_equals_the_local_run(live, tmp_path, capsys):
    exp = experiment(tmp_path, SWEEP)
    remote = run_experiment(exp, tmp_path / "remote", cluster=live.address)
    err = capsys.readouterr().err
    local = run_experiment(exp, tmp_path / "local")
    assert remote.trained == ["a", "b", "ens"] and summary(remote.rows) == summary(local.rows)
    for name in ("a", "b", "ens"):
        same_run(remote.exp_dir / name, local.exp_dir / name)
        figure = remote.exp_dir / name / "figures" / "curves.png"
        assert Image.open(figure).text["run"] == name  # drawn there, came back
    assert (remote.exp_dir / "b" / "retrain" / "model.npz").is_file()
    assert (remote.exp_dir / "ens" / "member-2" / "history.csv").is_file()
    no_leftovers(remote.exp_dir)
    assert f"cluster {live.address}: 2 workers, 2 task threads" in err
    assert "a: done after 2 epochs" in err  # the workers' progress events reached the display
    assert "a: started (" in err and "(done 3 · running 0 · pending 0)" in err
    profiling = live.client.run(
        lambda dask_worker: dask_worker.periodic_callbacks["profile"].is_running()
    )
    assert list(profiling.values()) == [True, True]  # paused while runs trained, on again after
    again = run_experiment(exp, tmp_path / "remote", cluster=live.address)
    assert again.trained == [] and again.skipped == ["a", "b", "ens"]  # resume: kept


def test_a_task_refuses_another_version_or_other_data(live, tmp_path):
    exp = experiment(tmp_path, SWEEP)
    job = {**cl.job_of(exp.runs[0]), "topic": "t", "checkpoints": {}}
    for bad, error, words in (
        ({"version": "0.0.0-other"}, ConfigError, "task comes from scratchlab 0.0.0-other"),
        ({"fingerprints": {"standard": "0" * 16}}, DataError, "holds other data"),
    ):
        future = live.client.submit(cl.run_task, {**job, **bad}, pure=False)
        with pytest.raises(error, match=words) as caught:
            future.result(timeout=60)
        assert "worker tcp://127.0.0.1:" in str(caught.value)


def test_workers_of_another_version_stop_the_command(live, tmp_path, monkeypatch, capsys):
    path = write(tmp_path / "lab.toml", 'name = "lab"\n' + SWEEP)
    monkeypatch.setattr(scratchlab, "__version__", "9.9.9")
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--cluster", live.address]) == 2
    assert_one_error_line(capsys.readouterr().err, "has scratchlab", "comes from scratchlab 9.9.9")
    assert not out.exists()


def test_a_cluster_without_workers_stops_the_command(tmp_path, monkeypatch, capsys):
    path = write(tmp_path / "lab.toml", 'name = "lab"\n' + SWEEP)
    monkeypatch.setenv(cl.ENV_TIMEOUT, "1")
    with distributed.LocalCluster(
        n_workers=0,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address="127.0.0.1:0",
    ) as empty:
        code = main(["run", str(path), "--out", str(tmp_path / "out"), "--cluster",
                     empty.scheduler_address])  # fmt: skip
    assert code == 2
    assert_one_error_line(capsys.readouterr().err, "no Dask worker joined", "within 1 s")
    assert not (tmp_path / "out").exists()


@pytest.mark.usefixtures("stub_figures")
def test_a_worker_killed_mid_run_is_replaced_and_the_numbers_do_not_change(live, tmp_path):
    exp = experiment(tmp_path, LONG)
    box: dict = {}
    thread = threading.Thread(
        target=lambda: box.update(r=run_experiment(exp, tmp_path / "remote", cluster=live.address))
    )
    thread.start()
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and thread.is_alive() and time.monotonic() < deadline:
        for name in ("w1", "w2"):  # a checkpoint in a worker's scratch space: it is mid-run
            if any((live.root / name).rglob("checkpoint.npz")):
                victim = name
                live.procs[name].send_signal(signal.SIGKILL)
                break
        time.sleep(0.02)
    thread.join(180)
    assert victim is not None, "no worker was caught in the middle of a run"
    assert not thread.is_alive() and "r" in box
    assert live.procs[victim].wait(10) == -signal.SIGKILL
    local = run_experiment(exp, tmp_path / "local")
    for name in ("r1", "r2"):
        same_run(box["r"].exp_dir / name, local.exp_dir / name)
    no_leftovers(box["r"].exp_dir)


# -- bad input, no cluster needed ----------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1:8786", "tcp://127.0.0.1", "http://127.0.0.1:8786", "tcp://:8786",
     "tcp://host:99999", "tcp://host:port", "tcp://a b:1"],
)  # fmt: skip
def test_malformed_addresses_are_refused(tmp_path, monkeypatch, capsys, address):
    path = write(tmp_path / "lab.toml", 'name = "lab"\n' + DIGITS + '[[runs]]\nname = "a"\n')
    monkeypatch.setenv("SCRATCHLAB_CLUSTER", address)  # the environment's address, like --cluster
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    assert_one_error_line(capsys.readouterr().err, "is not a scheduler address", "tcp://HOST:PORT")
    assert not (tmp_path / "out").exists()


def test_jobs_cannot_be_combined_with_a_cluster(tmp_path, capsys):
    path = write(tmp_path / "lab.toml", 'name = "lab"\n' + DIGITS + '[[runs]]\nname = "a"\n')
    args = ["run", str(path), "--out", str(tmp_path / "out"), "--jobs", "2"]
    assert main([*args, "--cluster", "tcp://127.0.0.1:8786"]) == 2
    assert_one_error_line(capsys.readouterr().err, "--jobs 2 cannot be combined with --cluster")
    assert not (tmp_path / "out").exists()


def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path, monkeypatch, capfd):
    """capfd: what Dask's own logging writes to the stderr file must not add lines either."""
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = write(tmp_path / "lab.toml", 'name = "lab"\n' + DIGITS + '[[runs]]\nname = "a"\n')
    monkeypatch.setenv(cl.ENV_TIMEOUT, "1")
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--cluster", f"tcp://127.0.0.1:{port}"]) == 2
    err = capfd.readouterr().err
    assert_one_error_line(err, f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")
    assert not out.exists()


def test_jobs_1_does_not_import_dask(tmp_path):
    path = write(tmp_path / "lab.toml", 'name = "lab"\n' + DIGITS + '[[runs]]\nname = "a"\n')
    script = (
        "import sys\nfrom scratchlab.cli import main\n"
        "import scratchlab.experiments.writers as w\n"
        "w.run_figures = lambda *a, **k: {}\n"  # seconds of drawing, nothing to do with Dask
        f"code = main(['run', {str(path)!r}, '--out', {str(tmp_path / 'out')!r}])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "print('RESULT', code, loaded)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=180,
        cwd=ROOT, env=subprocess_env(SCRATCHLAB_CLUSTER=""),
    )  # fmt: skip
    assert "RESULT 0 []" in proc.stdout, proc.stdout + proc.stderr
    assert (tmp_path / "out" / "lab" / "a" / "metrics.json").is_file()


# -- the worker's per-task settings -------------------------------------------------------


class FakeWorker:
    """A worker's profiler callback and a loop that runs queued callbacks when drained."""

    def __init__(self, profiling: bool = True, status: str = "running") -> None:
        self.periodic_callbacks = {"profile": FakeProfiler(profiling)}
        self.status, self.queued = status, []
        self.loop = SimpleNamespace(add_callback=lambda fn, *args: self.queued.append((fn, args)))

    @property
    def profiling(self) -> bool:
        for fn, args in self.queued:
            fn(*args)
        self.queued.clear()
        return self.periodic_callbacks["profile"].running


class FakeProfiler:
    def __init__(self, running: bool) -> None:
        self.running = running

    def is_running(self) -> bool:
        return self.running

    def stop(self) -> None:
        self.running = False

    def start(self) -> None:
        self.running = True


def test_the_profiler_is_paused_while_runs_train_and_restored_after_the_last():
    worker = FakeWorker()
    first, second = ct.profiler_paused(worker), ct.profiler_paused(worker)
    first.__enter__()
    assert not worker.profiling
    second.__enter__()  # overlapping tasks on a multi-thread worker
    first.__exit__(None, None, None)
    assert not worker.profiling
    second.__exit__(None, None, None)
    assert worker.profiling
    with ct.profiler_paused(worker):  # and again for the next task
        assert not worker.profiling
    assert worker.profiling


def test_a_profiler_that_was_off_or_a_closing_worker_is_not_restarted():
    off = FakeWorker(profiling=False)
    with ct.profiler_paused(off):
        assert not off.profiling
    assert not off.profiling
    closing = FakeWorker()
    with ct.profiler_paused(closing):
        closing.status = "closing"
    assert not closing.profiling
    bare = FakeWorker()
    del bare.periodic_callbacks["profile"]  # profiling disabled in the worker's Dask config
    with ct.profiler_paused(bare):
        assert bare.queued == []


def test_blas_threads_are_set_once_per_process_and_setting(monkeypatch):
    import threadpoolctl

    calls = []
    monkeypatch.setattr(threadpoolctl, "threadpool_limits", lambda **kw: calls.append(kw))
    monkeypatch.setattr(ct, "_PREPARED", {})
    for threads in (1, 1, 2, 2, 1):
        ct._prepare_process(threads, 1)
    assert [c["limits"] for c in calls] == [1, 2, 1]


# -- the client's file handling ------------------------------------------------------------


def test_files_are_written_with_metrics_last_and_confined(tmp_path, monkeypatch):
    order = []
    real = cl.atomic_open

    def spy(path, mode="w"):
        order.append(Path(path).relative_to(tmp_path).as_posix())
        return real(path, mode)

    monkeypatch.setattr(cl, "atomic_open", spy)
    write(tmp_path / "member-1" / "checkpoint.npz", "old")
    files = {"metrics.json": b"{}", "z.csv": b"1", "member-1/model.npz": b"2", "a/b.png": b"3"}
    cl.write_files(tmp_path, files)
    assert order[-1] == "metrics.json" and sorted(order) == sorted(files)
    assert not (tmp_path / "member-1" / "checkpoint.npz").exists()
    for bad in ("../x", "/etc/x", "a/../../x", ""):
        with pytest.raises(ScratchlabError, match="outside its run folder"):
            cl.write_files(tmp_path / "r", {bad: b"x"})


def test_checkpoints_travel_with_the_task(tmp_path):
    write(tmp_path / "checkpoint.npz", "a")
    write(tmp_path / "member-2" / "checkpoint.npz", "b")
    write(tmp_path / "config.json", "{}")
    assert cl.read_checkpoints(tmp_path) == {
        "checkpoint.npz": b"a",
        "member-2/checkpoint.npz": b"b",
    }
    assert cl.read_checkpoints(tmp_path / "missing") == {}


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf", "nan"])
def test_a_bad_timeout_is_refused(monkeypatch, value):
    monkeypatch.setenv(cl.ENV_TIMEOUT, value)
    with pytest.raises(ConfigError, match=cl.ENV_TIMEOUT):
        cl.timeout_s()


def test_addresses_that_are_accepted():
    for address in ("tcp://127.0.0.1:8786", "tcp://node-7.cluster.local:8786",
                    "tls://sched:8786", "tcp://[::1]:8786"):  # fmt: skip
        assert cl.check_address(address) == address


def test_without_dask_the_option_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ConfigError, match=r"pip install 'dask\[distributed\]'"):
        cl.ClusterSession("tcp://127.0.0.1:8786", [])
