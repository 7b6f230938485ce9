"""Runs as tasks on a Dask distributed cluster: `scratchlab run FILE --cluster tcp://HOST:PORT`.

    with ClusterSession(address, runs) as session:   # connect, wait for a worker, probe each
        notes = session.notes                        # worker (version, data); or one-line error
        session.run(pending, exp_dir, progress)      # every pending run is one task

One run = one task (docs/CLUSTER.md):

    client: write_config ─► submit(run_task, job) ───────────────────────────► as_completed
    worker: check version and data fingerprints ─► train_run(spec, <tmp>/work)     │
            ─► write_run(result, <tmp>/out) ─► {relative path: bytes} ──────────────┘
    client: each file written atomically into <exp>/<run>/, metrics.json LAST, then the run's
            local checkpoints are removed (as `writers.write_run` does)

So workers need no shared file system, and resume, the folder lock and "metrics.json last
means finished" work as for local runs. The worker side and what travels with a task (plain
values: a worker with another scratchlab can still read the version and refuse) are in
`clustertask.py`.

Retries: a worker that dies mid-run makes the scheduler give the task to another worker
(up to `distributed.scheduler.allowed-failures`, 3 by default); the run starts again from
its seed, so its numbers equal an uninterrupted run's. A task that raises is not retried:
its error is the run's error. BLAS threads: 1 per task unless SCRATCHLAB_THREADS says
otherwise ("auto": the worker's cores // its task threads).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import uuid
from pathlib import Path

import scratchlab
from scratchlab.errors import ConfigError, ScratchlabError
from scratchlab.experiments.clustertask import (
    confined,
    first_line,
    job_of,
    probe,
    read_files,
    run_task,
)
from scratchlab.experiments.schema import RunSpec
from scratchlab.experiments.writers import write_config
from scratchlab.io import atomic_open

ENV_TIMEOUT = "SCRATCHLAB_CLUSTER_TIMEOUT"  # seconds to connect, and to wait for a worker
DEFAULT_TIMEOUT_S = 30.0
ADDRESS = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9._-]*):(\d{1,5})")
CLIENT_LOG = logging.getLogger("distributed.client")
FORM = "tcp://HOST:PORT (the address `dask scheduler` prints), e.g. tcp://10.0.0.5:8786"


def check_address(address: str) -> str:
    """`address` if it has the form scheme://host:port (scheme tcp or tls), else ConfigError."""
    match = ADDRESS.fullmatch(address.strip())
    if not match or not 0 < int(match.group(3)) < 65536:
        raise ConfigError(f"--cluster {address!r} is not a scheduler address; use {FORM}")
    return address.strip()


def timeout_s() -> float:
    text = os.environ.get(ENV_TIMEOUT, "").strip()
    try:
        value = float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise ConfigError(f"${ENV_TIMEOUT} must be a number of seconds > 0, got {text!r}")
    return value


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ConfigError(
            "--cluster needs Dask distributed, which is not installed; "
            "install it with: pip install 'dask[distributed]'"
        ) from None
    return distributed


class ClusterSession:
    """A connection to a scheduler, checked before anything is written (see the module doc)."""

    def __init__(self, address: str, runs: list[RunSpec], *, jobs: int = 1) -> None:
        if jobs != 1:
            raise ConfigError(
                f"--jobs {jobs} cannot be combined with --cluster: the cluster's workers decide "
                "how many runs train at once (start them with --nthreads 1 --nworkers N)"
            )
        self.address, self.runs = check_address(address), list(runs)
        self.timeout = timeout_s()
        self.dist = _distributed()
        self.client = None
        self.topic = f"scratchlab-progress-{uuid.uuid4().hex[:12]}"
        self.notes: list[str] = []
        self._log_level = CLIENT_LOG.level  # restored by close()

    def __enter__(self) -> ClusterSession:
        # Dask's client logs connection trouble as tracebacks; ours is one line (see _result).
        CLIENT_LOG.setLevel(logging.CRITICAL)
        try:
            self.client = self.dist.Client(self.address, timeout=self.timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise ConfigError(
                f"cannot reach the Dask scheduler at {self.address} ({exc}); start one with "
                "`dask scheduler`, or check the address and the network"
            ) from None
        try:
            self._wait_for_workers()
            self._probe_workers()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close(timeout=5)
            self.client = None
        CLIENT_LOG.setLevel(self._log_level)

    def _wait_for_workers(self) -> None:
        try:
            self.client.wait_for_workers(1, timeout=self.timeout)
        except (TimeoutError, OSError):
            raise ConfigError(
                f"no Dask worker joined the scheduler at {self.address} within "
                f"{self.timeout:g} s; start workers with `dask worker {self.address} "
                f"--nthreads 1` (or wait longer: ${ENV_TIMEOUT}=SECONDS)"
            ) from None
        threads = self.client.nthreads()
        link = self._dashboard()
        self.notes.append(
            f"cluster {self.address}: {len(threads)} workers, {sum(threads.values())} task "
            f"threads" + (f"; dashboard {link}" if link else "")
        )

    def _dashboard(self) -> str | None:
        with contextlib.suppress(Exception):
            if "dashboard" in self.client.scheduler_info(n_workers=0).get("services", {}):
                return self.client.dashboard_link
        return None

    def _probe_workers(self) -> None:
        """Every worker checks the version and loads each dataset now: a bad worker stops
        the command before anything is written (a worker that joins later checks each task)."""
        seen, probes = set(), []
        for spec in self.runs:
            job = job_of(spec)
            key = repr(sorted(job["fingerprints"].items()))
            if key not in seen:
                seen.add(key)
                probes.append(job)
        answers = self.client.run(probe, probes, on_error="return")
        for worker, answer in sorted(answers.items()):
            if isinstance(answer, ScratchlabError):
                raise answer
            if isinstance(answer, BaseException):
                raise ConfigError(
                    f"worker {worker} cannot run scratchlab tasks ({type(answer).__name__}: "
                    f"{first_line(answer)}); install scratchlab {scratchlab.__version__} and its "
                    "dependencies on every worker"
                )

    def run(self, pending: list[RunSpec], exp_dir: Path, progress) -> None:
        """Submit every pending run; write each result as it arrives (metrics.json last)."""
        from scratchlab.experiments.executors import _sigterm_as_interrupt

        self.client.subscribe_topic(self.topic, lambda event: progress.update(*event[1]))
        futures = {}
        try:
            with _sigterm_as_interrupt():
                for spec in pending:
                    futures[self._submit(spec, Path(exp_dir) / spec.name)] = spec
                for future in self.dist.as_completed(list(futures), loop=self.client.loop):
                    spec = futures[future]
                    write_files(Path(exp_dir) / spec.name, self._result(future, spec))
                    progress.done(spec.name)
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.cancel(list(futures))
            raise
        finally:
            with contextlib.suppress(Exception):
                self.client.unsubscribe_topic(self.topic)

    def _submit(self, spec: RunSpec, run_dir: Path):
        write_config(spec, run_dir)
        job = {**job_of(spec), "topic": self.topic, "checkpoints": read_checkpoints(run_dir)}
        key = f"scratchlab-run-{spec.name}-{uuid.uuid4().hex[:8]}"
        return self.client.submit(run_task, job, key=key, pure=False, retries=0)

    def _result(self, future, spec: RunSpec) -> dict[str, bytes]:
        try:
            return future.result()
        except self.dist.KilledWorker:
            raise ScratchlabError(
                f"run {spec.name!r}: every worker that ran it died (distributed.scheduler."
                "allowed-failures times); look at the workers' logs (out of memory?) and run "
                "the command again: finished runs are kept"
            ) from None
        except self.dist.CancelledError:
            raise ScratchlabError(
                f"run {spec.name!r} was cancelled on the cluster at {self.address} (the "
                "scheduler went away or cancelled it); run the command again: finished runs "
                "are kept"
            ) from None
        except OSError as exc:
            if future.status == "error":  # the task itself raised it on its worker
                raise
            raise ScratchlabError(
                f"lost the connection to the scheduler at {self.address} while run "
                f"{spec.name!r} trained ({exc}); run the command again: finished runs are kept"
            ) from None


def read_checkpoints(run_dir: Path) -> dict[str, bytes]:
    """An interrupted local run's checkpoints travel, so the task resumes from them."""
    return read_files(run_dir, "checkpoint.npz") if run_dir.is_dir() else {}


def write_files(run_dir: Path, files: dict[str, bytes]) -> None:
    """Write a task's files atomically, metrics.json last; then drop the local checkpoints."""
    order = sorted(files, key=lambda rel: (rel == "metrics.json", rel))
    for rel in order:
        with atomic_open(run_dir / confined(rel), "wb") as handle:
            handle.write(files[rel])
    for ckpt in run_dir.rglob("checkpoint.npz"):
        ckpt.unlink(missing_ok=True)
