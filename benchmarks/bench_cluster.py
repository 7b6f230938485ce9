"""Runs on a Dask cluster against local processes: start-up cost and cost per run.

    python benchmarks/bench_cluster.py                 # 16-run grid (digits), several minutes
    python benchmarks/bench_cluster.py --start-only --repeat 3     # start-up costs only

Everything is measured in one process, on one machine, as wall time and as CPU time of this
process and all the processes it started (each measured block ends the processes it starts,
so their CPU is counted; CPU time is much less disturbed than wall time by other people's
processes on a shared machine). docs/CLUSTER.md has a run's numbers.

1. Start-up, until every worker has imported scratchlab's training code, and stop:
   the `--jobs 2` process pool (`executors.run_in_processes`: a multiprocessing Manager and a
   spawn ProcessPoolExecutor) against a `distributed.LocalCluster(n_workers=2,
   threads_per_worker=1, processes=True)` with its Client (`--jobs 2` as a LocalCluster).
2. A 4 x 4 grid (eta x lambda, 16 runs, real figures) on the digits data: inline
   (`--jobs 1`), `--jobs 2`, and `--cluster` on a LocalCluster of 1 and 2 single-thread
   workers: its whole life with no runs, with the 16 runs, and the runs alone (wall).

Derived: CPU seconds per run (the difference with and without the runs, / 16) for each
executor; the cluster's overhead per run against inline (CPU) and against `--jobs 2`
(wall); the speed-up from 1 to 2 workers (wall, runs only). Goals (issue 13): >= 1.8x from
1 to 2 workers on 2 cores, < 0.5 s overhead per run. The load average is printed.
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


def local_cluster(workers: int):
    import distributed

    return distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )


def cluster_start(workers: int) -> None:
    import distributed

    with local_cluster(workers) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(workers)
        client.run(_warm)


def cluster_sweep(workers: int, runs: list, out: Path | None, rows: Rows) -> None:
    """A LocalCluster's whole life: start, connect and probe, the runs (unless out is None)."""
    from scratchlab.experiments.cluster import ClusterSession

    with local_cluster(workers) as cluster, ClusterSession(cluster.scheduler_address, runs) as s:
        if out is not None:
            with RunProgress(runs, []) as p, measured(rows, f"--cluster {workers}: runs only"):
                s.run(runs, out, p)


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
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    (tmp / "bench.toml").write_text(GRID.format(epochs=args.epochs))
    runs = load_experiment(tmp / "bench.toml").runs
    n = len(runs)

    def folder(name: str) -> Path:
        shutil.rmtree(tmp / name, ignore_errors=True)
        return tmp / name

    print("| what | wall | CPU (all processes) |\n|---|---|---|")
    rows = Rows()
    for i in range(args.repeat):  # in turn, so both see the same load; the first imports Dask
        with measured(rows, f"pool start (--jobs 2) #{i + 1}"):
            pool_start(2)
        with measured(rows, f"LocalCluster start and stop (2 workers) #{i + 1}"):
            cluster_start(2)
    if args.start_only:
        return
    with RunProgress(runs, []) as p, measured(rows, "inline (--jobs 1)"):
        executors.run_inline(runs, folder("in"), p, 1)
    with RunProgress(runs, []) as p, measured(rows, "--jobs 2 (pool start included)"):
        executors.run_in_processes(runs, folder("j2"), 2, p, 1)
    for workers in (1, 2):
        with measured(rows, f"--cluster {workers}: LocalCluster life, no runs"):
            cluster_sweep(workers, runs, None, rows)
        with measured(rows, f"--cluster {workers}: LocalCluster life, {n} runs"):
            cluster_sweep(workers, runs, folder(f"c{workers}"), rows)
    report(rows, n, args.epochs)
    shutil.rmtree(tmp, ignore_errors=True)


def report(rows: Rows, n: int, epochs: int) -> None:
    def per_run_cpu(with_runs: str, without: str) -> float:
        return (rows[with_runs][1] - rows[without][1]) / n

    inline = rows["inline (--jobs 1)"][1] / n
    pool = per_run_cpu("--jobs 2 (pool start included)", "pool start (--jobs 2) #1")
    cluster = {
        k: per_run_cpu(f"--cluster {k}: LocalCluster life, {n} runs",
                       f"--cluster {k}: LocalCluster life, no runs")
        for k in (1, 2)
    }  # fmt: skip
    speedup = rows["--cluster 1: runs only"][0] / rows["--cluster 2: runs only"][0]
    wall = (rows["--cluster 2: runs only"][0] - rows["--jobs 2 (pool start included)"][0]) / n
    print(f"\n{n} runs, {epochs} epochs each, load average {os.getloadavg()}")
    print(f"CPU s per run: inline {inline:.3f}, --jobs 2 {pool:.3f}, "
          f"cluster 1 worker {cluster[1]:.3f}, 2 workers {cluster[2]:.3f}")  # fmt: skip
    print(f"cluster CPU overhead per run vs inline: {cluster[2] - inline:+.3f} s (goal < 0.5 s)")
    print(f"cluster wall overhead per run vs --jobs 2: {wall:+.3f} s (goal < 0.5 s)")
    print(f"speed-up 1 -> 2 workers (wall, runs only): {speedup:.2f}x (goal >= 1.8x)")


if __name__ == "__main__":
    main()
