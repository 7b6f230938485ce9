"""Shared helpers for the benchmarks: synthetic data, timers, machine load, the table.

Data is synthetic and seeded (no dataset files needed): each class has a "template" image
(grey 128 plus N(0, 2^2) per pixel) and every image is its class's template plus N(0, 60^2)
pixel noise, rounded to uint8. The classes are learnable but not separable: A1's linear
classifier reaches ~0.8 training and ~0.4 validation accuracy, CIFAR-10-like numbers.
Rows are standardised with scratchlab's own code path (`scratchlab.data.splits.train_stats`
/ `standardise_u8`), exactly as `load_split` does for real data.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from scratchlab.data.splits import standardise_u8, train_stats

CIFAR_D, MNIST_D, N_CLASSES = 3072, 784, 10


def images_u8(
    n: int, d: int, seed: int, spread: float = 2.0, noise: float = 60.0
) -> tuple[np.ndarray, np.ndarray]:
    """``(X uint8 (n, d), y int64 (n,))``: class template + N(0, noise^2) pixels, clipped."""
    rng = np.random.default_rng(seed)
    templates = 128.0 + np.random.default_rng(12345).normal(0.0, spread, size=(N_CLASSES, d))
    y = rng.integers(0, N_CLASSES, size=n).astype(np.int64)
    X = np.empty((n, d), dtype=np.uint8)
    for start in range(0, n, 2000):  # chunks: no (n, d) float64 temporary
        stop = min(start + 2000, n)
        block = templates[y[start:stop]] + rng.normal(0.0, noise, size=(stop - start, d))
        np.clip(block, 0, 255, out=block)
        X[start:stop] = block
    return X, y


@dataclass
class Dataset:
    """Standardised float32 train/val parts (train statistics), as `load_split` gives."""

    Xtr: np.ndarray
    ytr: np.ndarray
    Xva: np.ndarray
    yva: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.Xtr.nbytes + self.Xva.nbytes


def make_dataset(n_train: int, n_val: int, d: int, seed: int = 0, spread: float = 2.0) -> Dataset:
    Xtr_u8, ytr = images_u8(n_train, d, seed, spread)
    Xva_u8, yva = images_u8(n_val, d, seed + 1, spread)
    mean, std = train_stats(Xtr_u8)
    return Dataset(standardise_u8(Xtr_u8, mean, std), ytr, standardise_u8(Xva_u8, mean, std), yva)


def stamp() -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds): CPU time is what a single-threaded run
    costs without the waits for a core that other processes cause."""
    return time.perf_counter(), time.process_time()


class EpochClock:
    """A `fit` callback that timestamps the end of every epoch and of every update.

    `epoch_s` / `epoch_cpu_s`: wall / CPU seconds per epoch (updates + the epoch's
    evaluation), epoch 1 onwards. `train_s` / `train_cpu_s`: the updates alone, from the
    previous epoch's end (its evaluation done) to this epoch's last update.
    """

    def __init__(self) -> None:
        self.epoch_end: list[tuple[float, float]] = []
        self.last_update: tuple[float, float] | None = None
        self.train: list[tuple[float, float]] = []

    def on_epoch_end(self, epoch, row, model) -> None:
        now = stamp()
        if self.epoch_end and self.last_update is not None:
            prev = self.epoch_end[-1]
            self.train.append((self.last_update[0] - prev[0], self.last_update[1] - prev[1]))
        self.epoch_end.append(now)

    def on_batch_end(self, step, loss) -> None:
        self.last_update = stamp()

    @property
    def epoch_s(self) -> list[float]:
        return [b[0] - a[0] for a, b in zip(self.epoch_end[:-1], self.epoch_end[1:], strict=True)]

    @property
    def epoch_cpu_s(self) -> list[float]:
        return [b[1] - a[1] for a, b in zip(self.epoch_end[:-1], self.epoch_end[1:], strict=True)]

    @property
    def train_s(self) -> list[float]:
        return [t[0] for t in self.train]

    @property
    def train_cpu_s(self) -> list[float]:
        return [t[1] for t in self.train]


class SegmentClock:
    """A `fit` callback timing runs of `segment` consecutive updates inside an epoch (the
    epoch's evaluation never falls inside one): `wall` / `cpu` seconds per segment.
    Short segments let the fastest one dodge other processes' bursts."""

    def __init__(self, segment: int) -> None:
        self.segment = segment
        self.mark: tuple[float, float] | None = None
        self.count = 0
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def on_epoch_end(self, epoch, row, model) -> None:
        self.mark, self.count = stamp(), 0

    def on_batch_end(self, step, loss) -> None:
        self.count += 1
        if self.mark is not None and self.count % self.segment == 0:
            now = stamp()
            self.wall.append(now[0] - self.mark[0])
            self.cpu.append(now[1] - self.mark[1])
            self.mark = now


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """The minimum wall time of `repeats` calls of `fn` (seconds)."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def median(values) -> float:
    return float(np.median(np.asarray(values, dtype=float)))


@dataclass
class LoadMonitor:
    """Machine load while the benchmark runs: load averages and CPU time taken by others."""

    start_load: tuple[float, float, float] = field(default_factory=os.getloadavg)
    samples: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._t0 = time.time()
        self._busy0 = _busy_cpu_s()
        self._self0 = _self_cpu_s()

    def summary(self) -> dict:
        wall = max(time.time() - self._t0, 1e-9)
        busy = (_busy_cpu_s() or 0.0) - (self._busy0 or 0.0)
        mine = _self_cpu_s() - self._self0
        return {
            "load_start": self.start_load,
            "load_end": os.getloadavg(),
            "others_cores": max(0.0, (busy - mine) / wall) if self._busy0 is not None else None,
            "wall_s": wall,
        }


def _busy_cpu_s() -> float | None:
    """Non-idle CPU seconds of the whole machine since boot (Linux /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:  # pragma: no cover - not Linux
        return None
    ticks = [int(x) for x in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _self_cpu_s() -> float:
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def machine_line() -> str:
    """CPU model, core count, memory and the BLAS numpy uses, in one line."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:  # pragma: no cover
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):  # pragma: no cover
        mem = float("nan")
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    blas_s = (
        f"{blas[0].get('internal_api')} {blas[0].get('version')} ({blas[0].get('architecture')})"
        if blas
        else "no BLAS found"
    )
    return (
        f"{model}, {os.cpu_count()} cores, {mem:.0f} GiB RAM; Python "
        f"{platform.python_version()}, NumPy {np.__version__} with {blas_s}"
    )


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def fmt_rate(samples_per_s: float) -> str:
    return f"{samples_per_s:,.0f} /s"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])
