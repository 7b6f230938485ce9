"""Runs on a Dask cluster against local processes: start-up cost and time per run.

    python benchmarks/bench_cluster.py                 # 16-run grid (digits), a few minutes
    python benchmarks/bench_cluster.py --epochs 10     # longer runs: overhead matters less

What is timed, in this one process, on one machine (docs/CLUSTER.md has a run's numbers):

1. Start-up, until every worker has imported scratchlab's training code:
   - the process pool of `--jobs 2` (`executors.run_in_processes`: a multiprocessing Manager
     and a spawn ProcessPoolExecutor), against
   - a `distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True)` and its
     Client (what `--jobs 2` would cost as a LocalCluster), `import distributed` included.
2. The executor phase of a 4 x 4 grid (eta x lambda, 16 runs, real figures) on the digits
   data: inline (`--jobs 1`), `--jobs 2` (pool start included), and `--cluster` with 1 and
   2 single-thread workers of a LocalCluster (the session's connect and probe are timed
   apart from `ClusterSession.run`). Report building is left out: it is the same for all.

Derived: speed-up from 1 to 2 workers; overhead per run of the cluster against `--jobs 2`
= (cluster 2 workers - jobs 2) / runs. Goals (issue 13): >= 1.8x from 1 to 2 workers on
2 cores, < 0.5 s overhead per run. The machine's load average is printed: other people's
processes on a shared machine change every number.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
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


def pool_start(jobs: int) -> float:
    t0 = time.perf_counter()
    ctx = mp.get_context("spawn")
    manager = ctx.Manager()
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=executors._start_worker,
                             initargs=(1,)) as pool:  # fmt: skip
        list(pool.map(_warm, range(jobs)))
        elapsed = time.perf_counter() - t0
    manager.shutdown()
    return elapsed


def local_cluster(workers: int):
    import distributed

    return distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )


def cluster_start(workers: int) -> float:
    t0 = time.perf_counter()
    import distributed

    with local_cluster(workers) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(workers)
        client.run(_warm)
        return time.perf_counter() - t0


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


class Rows(dict):
    """The measurements, each printed as it comes (a long run shows what it has so far)."""

    def __setitem__(self, what: str, seconds: float) -> None:
        super().__setitem__(what, seconds)
        print(f"| {what} | {seconds:.2f} s |", flush=True)


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

    def progress():
        return RunProgress(runs, [])

    rows = Rows()
    for i in range(args.repeat):  # in turn, so both see the same load; the first imports Dask
        rows[f"pool start (--jobs 2) #{i + 1}"] = pool_start(2)
        rows[f"LocalCluster start (2 workers) #{i + 1}"] = cluster_start(2)
    if args.start_only:
        return
    with progress() as p:
        rows["inline (--jobs 1)"] = timed(executors.run_inline, runs, folder("in"), p, 1)
    with progress() as p:
        rows["--jobs 2"] = timed(executors.run_in_processes, runs, folder("j2"), 2, p, 1)
    from scratchlab.experiments.cluster import ClusterSession

    for workers in (1, 2):
        with local_cluster(workers) as cluster:
            session = ClusterSession(cluster.scheduler_address, runs)
            rows[f"cluster connect + probe ({workers} workers)"] = timed(session.__enter__)
            try:
                with progress() as p:
                    out = folder(f"c{workers}")
                    rows[f"--cluster, {workers} worker(s)"] = timed(session.run, runs, out, p)
            finally:
                session.close()
    speedup = rows["--cluster, 1 worker(s)"] / rows["--cluster, 2 worker(s)"]
    overhead = (rows["--cluster, 2 worker(s)"] - rows["--jobs 2"]) / n
    print(f"\n{n} runs, {args.epochs} epochs each, load average {os.getloadavg()}")
    for what, seconds in rows.items():
        print(f"| {what} | {seconds:.2f} s |")  # again, together
    print(f"| speed-up 1 -> 2 workers | {speedup:.2f}x (goal >= 1.8x) |")
    print(f"| overhead per run vs --jobs 2 | {overhead:+.3f} s (goal < 0.5 s) |")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
