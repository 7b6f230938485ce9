"""The speed workloads one kernel child runs: A1 and the MLP, each against PyTorch CPU and
the physical bound measured in the same process (so under the same OpenBLAS kernel).

Physical bound of an epoch = max(bytes it must read / the best read bandwidth measured,
FLOPs it must do / the float32 GEMM peak measured), both at the thread count the peers use.
"""

from __future__ import annotations

import sys

import bench_a1
import bench_mlp
from bench_common import fmt_ms, fmt_rate

from scratchlab.nn import blas

SEGMENT = 50  # MLP batch 100: updates per timed segment


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _scratchlab_runs(data, epochs: int, threads: int, repeats: int, kernels) -> list[dict]:
    """`repeats` A1 runs with `blas.KERNELS = kernels` (None: the automatic route)."""
    saved = blas.KERNELS
    blas.KERNELS = kernels
    try:
        runs = []
        for r in range(repeats):
            runs.append(bench_a1.run_scratchlab(data, epochs, threads))
            log(f"  scratchlab run {r + 1}: {fmt_ms(bench_a1.summarise(runs[-1]))} per epoch")
        return runs
    finally:
        blas.KERNELS = saved


def a1_section(quick: bool, threads: int, torch_default: int | None, no_torch: bool) -> dict:
    epochs = 3 if quick else 40
    repeats = 1 if quick else 3
    log(f"A1: building data (10,000 + 10,000 x 3072), {epochs} epochs ...")
    data = bench_a1.a1_data()
    route = blas.route(data.Xtr.shape[1], 10, data.Xtr)
    out: dict = {"epochs": epochs, "route": route}
    b = bench_a1.bounds(data, threads, repeats=3 if quick else 7)
    b["physical_s"] = max(b["bound_s"], b["compute_s"])
    out["bounds"] = b
    runs = _scratchlab_runs(data, epochs, threads, repeats, None)
    out["scratchlab_runs"] = runs
    out["scratchlab"] = bench_a1.pooled(runs)
    if route == "kernel":  # what the compiled kernels earn: the NumPy route, same process
        log("  scratchlab on the NumPy route (blas.KERNELS = False):")
        out["numpy_route"] = bench_a1.pooled(_scratchlab_runs(data, epochs, threads, 1, False))
    if bench_a1.torch is None or no_torch:
        return out
    torch_runs = []
    for variant in ("autograd", "manual"):
        torch_runs.append(bench_a1.run_torch(data, epochs, threads, variant))
        log(f"  torch {variant} {threads}t: {fmt_ms(bench_a1.summarise(torch_runs[-1]))}")
    best = min(torch_runs, key=bench_a1.summarise)["variant"]
    if not quick:  # the peer gets repeats too
        torch_runs.append(bench_a1.run_torch(data, epochs, threads, best))
        log(f"  torch {best} {threads}t again: {fmt_ms(bench_a1.summarise(torch_runs[-1]))}")
    out["torch_runs"] = torch_runs
    out["torch"] = bench_a1.pooled([r for r in torch_runs if r["variant"] == best])
    if torch_default and torch_default != threads:
        e = 1 if quick else 3  # short: under load it can take seconds an epoch
        res = bench_a1.run_torch(data, e, torch_default, out["torch"]["variant"])
        log(f"  torch {res['variant']} {torch_default}t: {fmt_ms(bench_a1.summarise(res))}")
        out["torch_default"] = res
    return out


def mlp_bounds(data, threads: int, peak: float, quick: bool) -> dict:
    """One epoch of updates reads the training array once and does flops_per_sample() per
    image: the physical bound of the MLP's training epoch."""
    bw = bench_a1.read_bandwidth([data.Xtr], repeats=3 if quick else 7)
    usable = max(t for t in bw["by_threads"] if t <= max(threads, 1))
    rate, how = bw["by_threads"][usable]
    n = len(data.Xtr)
    flops = bench_mlp.flops_per_sample() * n
    bound_s, compute_s = data.Xtr.nbytes / rate, flops / peak
    return {
        "bw": rate,
        "bw_how": how,
        "bound_s": bound_s,
        "epoch_flops": flops,
        "compute_s": compute_s,
        "physical_s": max(bound_s, compute_s),
    }


def mlp_section(quick: bool, threads: int, torch_default: int | None, no_torch: bool) -> dict:
    n_train = 10_000 if quick else bench_mlp.N_TRAIN
    log(f"MLP: building data ({n_train:,} x 784) ...")
    data = bench_mlp.mlp_data(n_train)
    out: dict = {"n_train": n_train, "n_sub": min(n_train, 2_000 if quick else 10_000)}
    sub = bench_mlp.mlp_data(out["n_sub"])
    out["sgemm_peak"] = bench_a1.sgemm_peak(threads)
    out["bounds"] = mlp_bounds(data, threads, out["sgemm_peak"], quick)
    for label, n_batch, epochs in (
        ("batch 100", 100, 1 if quick else 3),
        ("full batch", None, 3 if quick else 8),
    ):
        row: dict = {"epochs": epochs}
        row["scratchlab"] = bench_mlp.run_scratchlab(data, epochs, n_batch, threads, SEGMENT)
        log(f"  {label} scratchlab: {fmt_rate(row['scratchlab']['samples_per_s'])}")
        if bench_mlp.torch is not None and not no_torch:
            row["torch"] = bench_mlp.run_torch(data, epochs, n_batch, threads, SEGMENT)
            log(f"  {label} torch {threads}t: {fmt_rate(row['torch']['samples_per_s'])}")
            if torch_default and torch_default != threads:  # short: it can be very slow
                row["torch_default"] = bench_mlp.run_torch(sub, 1, n_batch, torch_default, SEGMENT)
                rate = row["torch_default"]["samples_per_s"]
                log(f"  {label} torch {torch_default}t: {fmt_rate(rate)}")
        out[label] = row
    return out
