"""Thread-policy data: 1 BLAS thread against every core, on small and large products, with
the machine as found and with one extra process started here and stopped afterwards:
either a spinning Python loop (a core taken away, as another user's job would) or a loop
of small float32 products using every core's BLAS thread (another job with the same
multithreaded BLAS, e.g. a second training run or test session at default settings).

Workloads (float32, the MNIST MLP's widest layer, 784 -> 128):
- small: one batch of 100 through that layer: forward ``x W`` + gradient ``x^T g``;
- mlp step: a whole training step of the 784-128-128-64-64-32-10 network (batch 100,
  Adam), the unit `fit` repeats 500 times an epoch;
- large: the same layer on 10,000 rows (forward + gradient), as in full-batch training.

Times are medians of repeated calls (the min is shown too): the median is what a
training run pays when the scheduler parks a BLAS thread now and then.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
from bench_common import median

from scratchlab.nn import build_mlp
from scratchlab.optim import Adam
from scratchlab.threads import available_cores, blas_threads

CONDITIONS = {
    "as found": None,
    "+1 busy process": "while True: pass",
    "+1 process with BLAS on all cores": (
        "import numpy as np\n"
        "a = np.ones((100, 784), np.float32); w = np.ones((784, 128), np.float32)\n"
        "while True: a @ w"
    ),
}


def _timed(fn, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return median(times), min(times)


def _workloads(quick: bool) -> dict:
    rng = np.random.default_rng(0)
    W = rng.standard_normal((784, 128), dtype=np.float32)
    xs = rng.standard_normal((100, 784), dtype=np.float32)
    gs = rng.standard_normal((100, 128), dtype=np.float32)
    xl = rng.standard_normal((10_000, 784), dtype=np.float32)
    gl = rng.standard_normal((10_000, 128), dtype=np.float32)
    dW = np.empty_like(W)
    model = build_mlp(784, 10, (128, 128, 64, 64, 32), init="he", rng=rng)
    opt = Adam()
    yb = rng.integers(0, 10, 100)

    def step():
        model.train_step_grads(xs, yb)
        opt.step(model, 1e-4)

    k = 1 if quick else 5
    return {
        "small (100x784 @ 784x128, fwd + dW)": (
            lambda: (xs @ W, np.matmul(xs.T, gs, out=dW)), 40 * k),
        "MLP training step (batch 100, Adam)": (step, 20 * k),
        "large (10000x784 @ 784x128, fwd + dW)": (
            lambda: (xl @ W, np.matmul(xl.T, gl, out=dW)), 1 + 2 * k),
    }  # fmt: skip


def run(quick: bool = False) -> dict:
    cores = available_cores()
    counts = sorted({1, cores})
    work = _workloads(quick)
    results: dict = {"cores": cores, "rows": []}
    for condition, code in CONDITIONS.items():
        spinner = None
        if code:
            spinner = subprocess.Popen([sys.executable, "-c", code])
            time.sleep(1.0)
        try:
            load = os.getloadavg()[0]
            for name, (fn, repeats) in work.items():
                for threads in counts:
                    with blas_threads(threads):
                        fn()  # warm up: thread pool started, caches filled
                        med, best = _timed(fn, repeats)
                    results["rows"].append({"condition": condition, "load": load,
                                            "workload": name, "threads": threads,
                                            "median_s": med, "min_s": best})  # fmt: skip
        finally:
            if spinner is not None:
                spinner.kill()
                spinner.wait()
    return results
