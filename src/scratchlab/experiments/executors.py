"""Where the pending runs of an experiment train: inline, or in local worker processes.

    run_inline(pending, exp_dir, progress, threads)         one after the other, here
    run_in_processes(pending, exp_dir, jobs, progress, threads)

Each run is `execute.execute_run(spec, exp_dir / spec.name)`: train (resuming from its
checkpoint), then write its files, metrics.json last. The BLAS thread count is set once per
process here (the edge), never inside training.

Signals: SIGINT (Ctrl-C) or SIGTERM to the main process stops every worker before the command
returns, so no run goes on writing afterwards; an interrupted run resumes from its last
checkpoint on the next command.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import signal
import threading
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from pathlib import Path

from scratchlab.experiments import execute
from scratchlab.experiments.progress import RunProgress
from scratchlab.experiments.schema import RunSpec
from scratchlab.threads import blas_threads

WORKER_STOP_S = 10.0  # how long stopped workers get to exit before they are killed


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised in the main process like Ctrl-C's KeyboardInterrupt."""


def run_inline(pending: list[RunSpec], exp_dir: Path, progress: RunProgress, threads: int):
    with blas_threads(threads), _sigterm_as_interrupt():
        for spec in pending:
            progress.started(spec.name)
            execute.execute_run(spec, exp_dir / spec.name, progress=progress.callback(spec.name))
            progress.done(spec.name)


def run_in_processes(
    pending: list[RunSpec],
    exp_dir: Path,
    jobs: int,
    progress: RunProgress,
    threads: int,
    shown: tuple[str, ...] = (),
) -> None:
    """`shown`: warnings the main process has printed (e.g. the data's), not repeated by
    each worker when it loads the same data."""
    ctx = mp.get_context("spawn")
    manager = ctx.Manager()
    queue = manager.Queue()
    listener = threading.Thread(target=progress.listen, args=(queue,), daemon=True)
    listener.start()
    pool = ProcessPoolExecutor(
        jobs, mp_context=ctx, initializer=_start_worker, initargs=(threads, shown)
    )
    try:
        with _sigterm_as_interrupt():
            futures = [pool.submit(_worker, s, exp_dir / s.name, queue) for s in pending]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in done:
                future.result()  # re-raise a worker's error here
    except BaseException:
        _stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        queue.put(None)
        listener.join(timeout=5)
        manager.shutdown()


def _start_worker(threads: int, shown: tuple[str, ...] = ()) -> None:
    """Worker start: BLAS threads for the process; Ctrl-C is the main process's to handle;
    warnings as the CLI prints them, less those already shown."""
    from threadpoolctl import threadpool_limits

    from scratchlab.allocator import keep_freed_memory
    from scratchlab.errors import plain_warnings

    plain_warnings(shown)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    keep_freed_memory()  # a spawned worker starts with glibc's defaults
    threadpool_limits(limits=threads, user_api="blas")  # process-wide, for its whole life


def _worker(spec: RunSpec, run_dir: Path, queue) -> str:
    queue.put((spec.name, "started"))
    execute.execute_run(spec, run_dir, progress=lambda *event: queue.put((spec.name, *event)))
    queue.put((spec.name, "done"))
    return spec.name


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate every worker and wait until each has exited (killed after WORKER_STOP_S)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    for process in processes:
        process.join(WORKER_STOP_S)
        if process.is_alive():
            process.kill()
            process.join()


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Turn SIGTERM into `Interrupted` in the main thread while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(f"stopped by signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
