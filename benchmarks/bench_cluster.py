"""Runs on a Dask cluster against local processes: start-up cost and cost per run.

    python benchmarks/bench_cluster.py                 # 16-run grid (digits), several minutes
    python benchmarks/bench_cluster.py --start-only --repeat 3     # start-up costs only
    python benchmarks/bench_cluster.py --idle 30 --start-only      # + Dask's background cost
    python benchmarks/bench_cluster.py --dask-defaults             # LocalCluster untuned

Everything is measured in one process, on one machine, as wall time and as CPU time of this
process and all the processes it started (each measured block ends the processes it starts,
so their CPU is counted; CPU time is much less disturbed than wall time by other people's
processes on a shared machine). This process first keeps freed memory as the CLI does
(`allocator.keep_freed_memory`, also done by every `--jobs` and cluster worker), so inline
runs are measured as `scratchlab run` runs them. docs/CLUSTER.md has a run's numbers.

The LocalCluster runs with the Dask settings docs/CLUSTER.md recommends for `dask worker`
and `dask scheduler` (`TUNED`: no statistical profiler, a 500 ms event-loop health tick, a
2 s system monitor, a 1 s memory monitor), or with Dask's defaults (`--dask-defaults`).

1. Start-up, until every worker has imported scratchlab's training code, and stop:
   the `--jobs 2` process pool (`executors.run_in_processes`: a multiprocessing Manager and a
   spawn ProcessPoolExecutor) against a `distributed.LocalCluster(n_workers=2,
   threads_per_worker=1, processes=True)` with its Client (`--jobs 2` as a LocalCluster).
2. With `--idle S`: a LocalCluster of 2 workers left idle for S seconds, with the tuned
   settings and with Dask's defaults: CPU of this process (scheduler, nannies, client) and
   of the two workers, in % of a core.
3. A 4 x 4 grid (eta x lambda, 16 runs, real figures) on the digits data: inline
   (`--jobs 1`), `--jobs 2`, and `--cluster` on a LocalCluster of 1 and 2 single-thread
   workers: its whole life with no runs, with the 16 runs, and the runs alone (wall).

Derived, like with like: CPU seconds per run (the difference with and without the runs, or
without the pool start, / 16) for each executor; the cluster's CPU overhead per run with as
many runs at a time (1 worker against inline, 2 workers against `--jobs 2`: on a busy 2-core
machine two runs at once cost more CPU each than one), and of 2 workers against inline; the
cluster's wall overhead per run against `--jobs 2`, both with their start-up (a
LocalCluster's whole life against the whole `--jobs 2` command) and both without it (the
cluster's runs alone against `--jobs 2` less the pool start measured in step 1, an
estimate); the speed-up from 1 to 2 workers (wall, runs only). Goals (issue 13): >= 1.8x
from 1 to 2 workers on 2 cores, < 0.5 s overhead per run. The load average is printed at
the start and at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from scratchlab.allocator import keep_freed_memory
from scratchlab.experiments import executors
from scratchlab.experiments.config import load_experiment
from scratchlab.experiments.progress import RunProgress

GRID = """name = "bench"
[data]
dataset = "digits"
[train]
n_epochs = {epochs}
n_batch = 64
[grid]
"train.eta" = [0.01, 0.02, 0.05, 0.1]
"train.lambda" = [0.0, 0.001, 0.01, 0.1]
"""

# docs/CLUSTER.md, "Cost": the DASK_DISTRIBUTED__... variables it recommends, as Dask config.
TUNED = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def _warm(_=None) -> int:
    """What a worker imports before its first run."""
    import scratchlab.experiments.execute  # noqa: F401
    import scratchlab.experiments.writers  # noqa: F401

    return os.getpid()


def pool_start(jobs: int) -> None:
    ctx = mp.get_context("spawn")
    manager = ctx.Manager()
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=executors._start_worker,
                             initargs=(1,)) as pool:  # fmt: skip
        list(pool.map(_warm, range(jobs)))
    manager.shutdown()


@contextlib.contextmanager
def local_cluster(workers: int, settings: dict):
    """A LocalCluster whose scheduler, nannies and workers read `settings` when they start."""
    import dask
    import distributed

    with (
        dask.config.set(settings),
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
    ):
        yield cluster


def cluster_start(workers: int, settings: dict) -> None:
    import distributed

    with local_cluster(workers, settings) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(workers)
        client.run(_warm)


def idle_background(seconds: float, settings: dict) -> tuple[float, float]:
    """% of a core used by this process (scheduler, nannies, client) and by the 2 workers of
    an idle LocalCluster, over `seconds` after every worker has imported the training code."""
    import distributed
    import psutil

    with local_cluster(2, settings) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(2)
        workers = [psutil.Process(pid) for pid in client.run(_warm).values()]
        procs = [psutil.Process(), *workers]
        time.sleep(2)  # the start's after-effects
        before, wall = [sum(p.cpu_times()[:2]) for p in procs], time.perf_counter()
        time.sleep(seconds)
        used = [sum(p.cpu_times()[:2]) - b for p, b in zip(procs, before, strict=True)]
        wall = time.perf_counter() - wall
    return 100 * used[0] / wall, 100 * sum(used[1:]) / wall


def cluster_sweep(workers: int, settings: dict, runs: list, out: Path | None, rows: Rows):
    """A LocalCluster's whole life: start, connect and probe, the runs (unless out is None)."""
    from scratchlab.experiments.cluster import ClusterSession

    with (
        local_cluster(workers, settings) as cluster,
        ClusterSession(cluster.scheduler_address, runs) as session,
    ):
        if out is not None:
            with RunProgress(runs, []) as p, measured(rows, f"--cluster {workers}: runs only"):
                session.run(runs, out, p)


def cpu_s() -> float:
    """CPU seconds of this process and of every descendant that has ended (and been reaped)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Rows(dict):
    """{what: (wall s, CPU s)}, each printed as it comes (a long run shows what it has)."""

    def __setitem__(self, what: str, value: tuple[float, float]) -> None:
        super().__setitem__(what, value)
        print(f"| {what} | {value[0]:.2f} s | {value[1]:.2f} s |", flush=True)


@contextlib.contextmanager
def measured(rows: Rows, what: str):
    """Wall and CPU time of the block. Every process it starts must end inside it."""
    wall, cpu = time.perf_counter(), cpu_s()
    yield
    rows[what] = (time.perf_counter() - wall, cpu_s() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--start-only", action="store_true", help="only the start-up costs")
    parser.add_argument("--repeat", type=int, default=1, help="start-ups, measured in turn")
    parser.add_argument("--idle", type=float, default=0, help="seconds of idle LocalCluster")
    parser.add_argument("--dask-defaults", action="store_true", help="LocalCluster untuned")
    args = parser.parse_args()
    settings = {} if args.dask_defaults else TUNED
    keep_freed_memory()  # as the CLI does
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    (tmp / "bench.toml").write_text(GRID.format(epochs=args.epochs))
    runs = load_experiment(tmp / "bench.toml").runs
    n = len(runs)

    def folder(name: str) -> Path:
        shutil.rmtree(tmp / name, ignore_errors=True)
        return tmp / name

    print(f"load average at the start {os.getloadavg()}; LocalCluster settings {settings}")
    print("| what | wall | CPU (all processes) |\n|---|---|---|")
    rows = Rows()
    for i in range(args.repeat):  # in turn, so both see the same load; the first imports Dask
        with measured(rows, f"pool start (--jobs 2) #{i + 1}"):
            pool_start(2)
        with measured(rows, f"LocalCluster start and stop (2 workers) #{i + 1}"):
            cluster_start(2, settings)
    if args.idle:
        for name, config in (("tuned", TUNED), ("Dask defaults", {})):
            main_pc, workers_pc = idle_background(args.idle, config)
            print(f"idle LocalCluster, 2 workers, {name}, {args.idle:g} s: this process "
                  f"(scheduler, nannies, client) {main_pc:.1f} %, workers {workers_pc:.1f} % "
                  "of a core", flush=True)  # fmt: skip
    if args.start_only:
        return
    with RunProgress(runs, []) as p, measured(rows, "inline (--jobs 1)"):
        executors.run_inline(runs, folder("in"), p, 1)
    with RunProgress(runs, []) as p, measured(rows, "--jobs 2 (pool start included)"):
        executors.run_in_processes(runs, folder("j2"), 2, p, 1)
    for workers in (1, 2):
        with measured(rows, f"--cluster {workers}: LocalCluster life, no runs"):
            cluster_sweep(workers, settings, runs, None, rows)
        with measured(rows, f"--cluster {workers}: LocalCluster life, {n} runs"):
            cluster_sweep(workers, settings, runs, folder(f"c{workers}"), rows)
    report(rows, n, args.epochs)
    shutil.rmtree(tmp, ignore_errors=True)


def report(rows: Rows, n: int, epochs: int) -> None:
    def per_run(with_runs: str, without: str, i: int = 1) -> float:
        return (rows[with_runs][i] - rows[without][i]) / n

    jobs2, start = "--jobs 2 (pool start included)", "pool start (--jobs 2) #1"
    life = {k: f"--cluster {k}: LocalCluster life, {n} runs" for k in (1, 2)}
    inline = rows["inline (--jobs 1)"][1] / n
    pool = per_run(jobs2, start)
    cluster = {k: per_run(life[k], f"--cluster {k}: LocalCluster life, no runs") for k in (1, 2)}
    only = rows["--cluster 2: runs only"][0]
    with_start = (rows[life[2]][0] - rows[jobs2][0]) / n
    without_start = (only - (rows[jobs2][0] - rows[start][0])) / n
    speedup = rows["--cluster 1: runs only"][0] / only
    print(f"\n{n} runs, {epochs} epochs each, load average at the end {os.getloadavg()}")
    print(f"CPU s per run: inline {inline:.3f}, --jobs 2 {pool:.3f}, "
          f"cluster 1 worker {cluster[1]:.3f}, 2 workers {cluster[2]:.3f}")  # fmt: skip
    print(f"cluster CPU overhead per run, as many runs at a time: 1 worker vs inline "
          f"{cluster[1] - inline:+.3f} s, 2 workers vs --jobs 2 {cluster[2] - pool:+.3f} s; "
          f"2 workers vs inline {cluster[2] - inline:+.3f} s (goal < 0.5 s)")  # fmt: skip
    print(f"cluster (2 workers) wall overhead per run vs --jobs 2: both with their start-up "
          f"{with_start:+.3f} s, both without (estimate) {without_start:+.3f} s "
          "(goal < 0.5 s)")  # fmt: skip
    print(f"speed-up 1 -> 2 workers (wall, runs only): {speedup:.2f}x (goal >= 1.8x)")


if __name__ == "__main__":
    main()
