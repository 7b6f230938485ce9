"""How many threads the BLAS library (OpenBLAS, MKL) may use: one policy, one place.

    from scratchlab.threads import blas_threads
    with blas_threads():          # SCRATCHLAB_THREADS, else 1
        fit(...)
    with blas_threads(2):         # explicit; inner `blas_threads()` blocks keep it
        fit(...)

Policy. Scratchlab's products are small (a batch of 100 rows against a few hundred or a
few thousand columns) and its machines are shared. Measured on a shared 2-core machine
(benchmarks/results.md, "Threads"; several runs): one training step of the MNIST MLP
(batch 100, Adam) took 1.0-1.9 ms with one BLAS thread and 14-212 ms with two (medians;
the fastest calls were alike, ~1 ms: the time goes into waiting), because every product
must wake a worker thread that the scheduler has parked behind other processes; a lone
100-row product took 0.4 ms against up to 72 ms. On 10,000-row products two threads ran
at 0.9x to 1.4x the speed of one. PyTorch at its default two threads collapses the same
way (its A1 epoch: 0.14-0.2 s with one thread, 0.7-6 s with two). So the default is
**one BLAS thread per process**; parallelism comes from running several trainings at
once (`scratchlab run --jobs N`), which has no per-product synchronisation to lose. On a
dedicated machine, full-batch training of wide layers may gain from
``SCRATCHLAB_THREADS=auto``.

Applied once, at the edge: the runner sets it for inline runs and at the start of each
worker process (`threads_per_job`: with ``SCRATCHLAB_THREADS=auto`` and ``--jobs N`` on C
cores each worker gets C // N); `fit` itself never changes it, so a library user who calls
`fit` keeps whatever limit they set.

Override, in this order of precedence:
1. ``blas_threads(n)`` with an explicit `n` (an int >= 1, or ``"auto"`` = every core
   this process may run on);
2. an enclosing ``blas_threads(...)`` block (an inner ``blas_threads()`` keeps it);
3. the environment variable ``SCRATCHLAB_THREADS`` (same values);
4. the default, 1.

The limit applies to BLAS only (``threadpoolctl``'s ``user_api="blas"``): OpenMP pools
of other libraries (PyTorch's) are left alone. Leaving the block restores the previous
limits. Results do not depend on the thread count beyond floating-point summation order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from scratchlab.errors import ConfigError

ENV_VAR = "SCRATCHLAB_THREADS"
DEFAULT_THREADS = 1

_active: ContextVar[int | None] = ContextVar("scratchlab_blas_threads", default=None)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def parse_threads(value: int | str, what: str = "threads") -> int:
    """An int >= 1 or "auto" (every available core) -> a thread count."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return available_cores()
        if not text.isdigit():
            raise ConfigError(f"{what} must be a whole number >= 1 or 'auto', got {value!r}")
        value = int(text)
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ConfigError(f"{what} must be a whole number >= 1 or 'auto', got {value!r}")
    return int(value)


def resolve_threads(threads: int | str | None = None) -> int:
    """The BLAS thread count the policy gives (see the module docstring for the order)."""
    if threads is not None:
        return parse_threads(threads)
    active = _active.get()
    if active is not None:
        return active
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return parse_threads(env, f"${ENV_VAR}")
    return DEFAULT_THREADS


def threads_per_job(jobs: int = 1) -> int:
    """BLAS threads for each of `jobs` runs trained at once (inline: jobs = 1).

    ``SCRATCHLAB_THREADS=auto`` shares the available cores: C // jobs each (at least 1); an
    explicit number is used as given; the default is 1 (see the policy above).
    """
    env = os.environ.get(ENV_VAR, "").strip().lower()
    if env == "auto":
        return max(1, available_cores() // max(1, jobs))
    return resolve_threads()


def current_blas_threads() -> int | None:
    """The thread count of the first loaded BLAS library (None when none is loaded)."""
    from threadpoolctl import threadpool_info

    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return counts[0] if counts else None


@contextmanager
def blas_threads(threads: int | str | None = None) -> Iterator[int]:
    """Limit BLAS to the policy's thread count inside the block; yields that count."""
    n = resolve_threads(threads)
    if _active.get() == n:  # an enclosing block already set this limit
        yield n
        return
    from threadpoolctl import threadpool_limits

    token = _active.set(n)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield n
    finally:
        _active.reset(token)
