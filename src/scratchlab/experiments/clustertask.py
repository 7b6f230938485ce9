"""The task of one run on a Dask worker, and what travels with it (see cluster.py).

    job = job_of(spec)            # client: plain values only (the spec as JSON), so a worker
    files = run_task(job)         # with another scratchlab can still read job["version"]

A job: {"version": scratchlab's, "spec": the RunSpec as JSON, "fingerprints": {split: content
hash of the split (rundata.fingerprint)} for each split the run loads, "threads": the BLAS
thread setting, "topic": where progress events go, "checkpoints": {relative path: bytes}}.

    worker: check_job (version, spec, data fingerprints) ─► checkpoints into <tmp>/work
            ─► train_run(spec, <tmp>/work) ─► write_run(result, <tmp>/out)
            ─► {path relative to the run folder: bytes} (history, models, predictions,
               figures, metrics.json)

`<tmp>` is a temporary folder under the worker's local directory, removed when the task ends.
`probe` makes the same checks on every connected worker before the client writes anything.

Cost. While a run trains, the worker's statistical profiler is paused (`profiler_paused`):
Dask samples every running task's stack every 10 ms (`distributed.worker.profile.interval`);
measured side by side on a 2-core machine, the worker process spent 0.61-0.72 s more CPU
than the task itself per 5-7 s run with it on, 0.25 s with it paused (docs/CLUSTER.md,
"Cost"). It restarts when the worker's last scratchlab task ends: other tasks are profiled
as before unless they run beside one of ours. The BLAS thread limit and the allocator are
set once per worker process and thread setting (`_prepare_process`), as in a `--jobs`
worker, not on every task.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import weakref
from pathlib import Path, PurePosixPath

import scratchlab
from scratchlab.errors import ConfigError, DataError, ScratchlabError
from scratchlab.experiments.execute import train_run
from scratchlab.experiments.rundata import load_run_data
from scratchlab.experiments.schema import RunSpec
from scratchlab.experiments.writers import spec_json, write_run
from scratchlab.threads import ENV_VAR as THREADS_ENV
from scratchlab.threads import available_cores, resolve_threads


def job_of(spec: RunSpec) -> dict:
    """What travels with a task, as plain values: the spec as JSON, the scratchlab version, the
    content fingerprint of each split the run loads, and the BLAS thread setting."""
    splits = [spec.data.split] + ([spec.data.retrain_split] if spec.data.retrain_split else [])
    env = os.environ.get(THREADS_ENV, "").strip().lower()
    return {
        "version": scratchlab.__version__,
        "spec": spec_json(spec),
        "fingerprints": {s: load_run_data(spec, split=s).fingerprint for s in splits},
        "threads": "auto" if env == "auto" else resolve_threads(),
    }


def check_job(job: dict, where: str) -> RunSpec:
    """Refuse a task made by another scratchlab version, or whose data differ here."""
    mine, theirs = scratchlab.__version__, job.get("version")
    if theirs != mine:
        raise ConfigError(
            f"worker {where} has scratchlab {mine} but the task comes from scratchlab "
            f"{theirs}; install the same version on the client and every worker"
        )
    try:
        spec = RunSpec.model_validate(job["spec"])
    except ValueError as exc:  # pydantic's ValidationError: this worker's schema differs
        raise ConfigError(
            f"worker {where} cannot read the run spec ({first_line(exc)}): its scratchlab "
            f"{mine} differs from the client's; install the same code on every worker"
        ) from None
    for split, expected in job["fingerprints"].items():
        try:
            found = load_run_data(spec, split=split).fingerprint
        except ScratchlabError as exc:
            raise type(exc)(f"worker {where}: {exc}") from None
        if found != expected:
            raise DataError(
                f"worker {where}: {spec.data.dataset} (split {split}) holds other data than the "
                f"client's (fingerprint {found}, expected {expected}); give every worker the "
                "same dataset files (SCRATCHLAB_DATA)"
            )
    return spec


async def probe(jobs: list[dict], dask_worker=None) -> None:
    """Run by `Client.run` on every worker; the data load runs off the worker's event loop."""
    for job in jobs:
        await asyncio.to_thread(check_job, job, dask_worker.address)


def run_task(job: dict) -> dict[str, bytes]:
    """One run on a worker: train in a temporary folder, return its files as bytes."""
    from distributed import get_worker

    worker = get_worker()
    spec = check_job(job, worker.address)
    _prepare_process(job["threads"], worker.state.nthreads)

    def progress(epoch, n_epochs, row) -> None:
        plain = {k: v.item() if hasattr(v, "item") else v for k, v in row.items()}
        worker.log_event(job["topic"], (spec.name, epoch, n_epochs, plain))

    worker.log_event(job["topic"], (spec.name, "started"))
    with (
        profiler_paused(worker),
        tempfile.TemporaryDirectory(prefix="scratchlab-", dir=worker.local_directory) as tmp,
    ):
        work, out = Path(tmp) / "work", Path(tmp) / "out"
        for rel, data in job["checkpoints"].items():
            (work / confined(rel)).parent.mkdir(parents=True, exist_ok=True)
            (work / confined(rel)).write_bytes(data)
        write_run(train_run(spec, work, progress=progress), out)
        return read_files(out)


_PREPARED: dict[str, int] = {}  # {"threads": the BLAS limit this process set} (threadpoolctl
# looks up the loaded libraries on every call: 8-17 ms of CPU per task, measured)


def _prepare_process(threads: int | str, task_threads: int) -> None:
    """The worker process's BLAS threads (process-wide, like a --jobs worker's) and allocator,
    once per process and thread count (the last one set holds, as for `threadpool_limits`)."""
    from threadpoolctl import threadpool_limits

    from scratchlab.allocator import keep_freed_memory

    n = max(1, available_cores() // max(1, task_threads)) if threads == "auto" else int(threads)
    if _PREPARED.get("threads") == n:
        return
    keep_freed_memory()
    threadpool_limits(limits=n, user_api="blas")
    _PREPARED["threads"] = n


_PAUSES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # worker -> [tasks, was on]


@contextlib.contextmanager
def profiler_paused(worker):
    """Pause `worker`'s statistical profiler (its periodic callback "profile") while the block
    runs; it starts again when the worker's last paused block ends, if it ran before the first.

    Counted per worker on its event loop (tornado's PeriodicCallback is not thread-safe; the
    loop runs the pauses and resumes in the order the task threads queue them), so tasks that
    overlap on a multi-thread worker leave it as they found it. A worker without a profiler
    (`distributed.worker.profile.enabled: false`, or another Dask) is left alone.
    """
    callbacks = getattr(worker, "periodic_callbacks", None) or {}
    if "profile" not in callbacks:
        yield
        return
    worker.loop.add_callback(_pause, worker)
    try:
        yield
    finally:
        with contextlib.suppress(RuntimeError):  # the loop has closed: the worker has gone
            worker.loop.add_callback(_resume, worker)


def _pause(worker) -> None:
    profiler = worker.periodic_callbacks.get("profile")
    state = _PAUSES.setdefault(worker, [0, False])
    if state[0] == 0:
        state[1] = profiler is not None and profiler.is_running()
        if state[1]:
            profiler.stop()
    state[0] += 1


def _resume(worker) -> None:
    state = _PAUSES.get(worker)
    if state is None or state[0] == 0:
        return
    state[0] -= 1
    profiler = worker.periodic_callbacks.get("profile")
    if state[0] == 0 and state[1] and profiler is not None and _running(worker):
        profiler.start()


def _running(worker) -> bool:
    """Whether the worker still runs (a closing worker has stopped its periodic callbacks)."""
    status = getattr(worker, "status", None)
    return getattr(status, "name", status) == "running"


def read_files(folder: Path, pattern: str = "*") -> dict[str, bytes]:
    """{path relative to `folder` (posix): content} of the files under it matching `pattern`."""
    paths = (p for p in Path(folder).rglob(pattern) if p.is_file())
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in paths}


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


def confined(rel: str) -> PurePosixPath:
    path = PurePosixPath(rel)
    if path.is_absolute() or not path.parts or ".." in path.parts:
        raise ScratchlabError(f"a worker returned the file name {rel!r}, outside its run folder")
    return path
