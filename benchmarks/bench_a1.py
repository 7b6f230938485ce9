"""A1 workload: DD2424 Assignment 1's linear softmax classifier, timed per epoch.

40 epochs of mini-batch gradient descent (batches of 100 in order, eta 0.001, L2 lambda
0.1, init N(0, 0.01^2)) on 10,000 CIFAR-shaped images (d = 3072, K = 10), each epoch
followed by the cost and accuracy on the whole training set and a 10,000-image validation
set: scratchlab's `fit`, two PyTorch CPU implementations from the same initial weights,
and the memory-bandwidth bound.

Bandwidth bound: an epoch must read the training array once for its updates and then the
training and validation arrays once each for the evaluation (the weights change during the
epoch, so the evaluation cannot share the update pass): 2 x 123 MB + 123 MB = 369 MB at
the best read bandwidth measured on the spot (streaming reductions and matrix-vector
products over those arrays, best of several) with the thread count the peers use; the
bound with every core is reported too.
"""

from __future__ import annotations

import time

import numpy as np
from bench_common import (
    CIFAR_D,
    N_CLASSES,
    Dataset,
    EpochClock,
    best_time,
    make_dataset,
    median,
    stamp,
)

from scratchlab.nn import build_mlp
from scratchlab.threads import available_cores, blas_threads
from scratchlab.train import fit

N_TRAIN = N_VAL = 10_000
N_BATCH, ETA, LAM, INIT_STD = 100, 0.001, 0.1, 0.01

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the bench extra is not installed
    torch = None


def a1_data(seed: int = 0) -> Dataset:
    return make_dataset(N_TRAIN, N_VAL, CIFAR_D, seed)


def new_model(seed: int = 0):
    return build_mlp(CIFAR_D, N_CLASSES, (), init="normal", init_std=INIT_STD, l2=LAM,
                     rng=np.random.default_rng(seed))  # fmt: skip


def epoch_flops(data: Dataset) -> float:
    """Multiply-adds x 2 of one epoch: per batch s = xW and dW = x^T G; then xW on both sets."""
    d, k = data.Xtr.shape[1], N_CLASSES
    return 2.0 * d * k * (2 * len(data.Xtr) + len(data.Xtr) + len(data.Xva))


# ---------------------------------------------------------------------------- scratchlab
def run_scratchlab(data: Dataset, epochs: int, threads: int, seed: int = 0) -> dict:
    model = new_model(seed)
    clock = EpochClock()
    with blas_threads(threads):
        hist = fit(model, (data.Xtr, data.ytr), (data.Xva, data.yva), optimizer="sgd",
                   schedule=ETA, n_epochs=epochs, n_batch=N_BATCH, shuffle=False,
                   callbacks=[clock])  # fmt: skip
    last = hist.rows[-1]
    return {
        "epoch_s": clock.epoch_s,
        "epoch_cpu_s": clock.epoch_cpu_s,
        "train_cost": last["train_cost"],
        "train_acc": last["train_acc"],
        "val_cost": last["val_cost"],
        "val_acc": last["val_acc"],
        "threads": threads,
    }


# ------------------------------------------------------------------------------ PyTorch
def _torch_metrics(X, y, W, b, lam_penalty: float) -> tuple[float, float]:
    """(cost, acc) on a whole set under no_grad: one product, cross-entropy, argmax."""
    scores = torch.addmm(b, X, W)
    loss = F.cross_entropy(scores, y).item()
    acc = (scores.argmax(1) == y).float().mean().item()
    return loss + lam_penalty, acc


def run_torch(data: Dataset, epochs: int, threads: int, variant: str, seed: int = 0) -> dict:
    """PyTorch CPU, same data (float32, shared memory) and initial weights.

    variant "autograd": nn.Linear + F.cross_entropy + torch.optim.SGD with the L2 gradient
    as weight decay 2*lambda on the weight only; "manual": the same maths without autograd
    (softmax, P - Y, two products, in-place updates) under no_grad.
    """
    torch.set_num_threads(threads)
    init = new_model(seed).layers[0].params
    X, y = torch.from_numpy(data.Xtr), torch.from_numpy(data.ytr)
    Xv, yv = torch.from_numpy(data.Xva), torch.from_numpy(data.yva)
    n = X.shape[0]
    times, cpu, metrics = [], [], None
    if variant == "autograd":
        lin = torch.nn.Linear(CIFAR_D, N_CLASSES)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(init["W"].T))
            lin.bias.copy_(torch.from_numpy(init["b"]))
        opt = torch.optim.SGD([{"params": [lin.weight], "weight_decay": 2 * LAM},
                               {"params": [lin.bias], "weight_decay": 0.0}], lr=ETA)  # fmt: skip
        t0 = stamp()
        for _ in range(epochs):
            for s in range(0, n, N_BATCH):
                loss = F.cross_entropy(lin(X[s : s + N_BATCH]), y[s : s + N_BATCH])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            with torch.no_grad():
                W, b = lin.weight.T, lin.bias
                pen = LAM * float((W * W).sum())
                metrics = (_torch_metrics(X, y, W, b, pen), _torch_metrics(Xv, yv, W, b, pen))
            t1 = stamp()
            times.append(t1[0] - t0[0])
            cpu.append(t1[1] - t0[1])
            t0 = t1
    elif variant == "manual":
        W = torch.from_numpy(init["W"].copy())
        b = torch.from_numpy(init["b"].copy())
        rows = torch.arange(N_BATCH)
        with torch.no_grad():
            t0 = stamp()
            for _ in range(epochs):
                for s in range(0, n, N_BATCH):
                    xb, yb = X[s : s + N_BATCH], y[s : s + N_BATCH]
                    m = xb.shape[0]
                    P = torch.softmax(torch.addmm(b, xb, W), dim=1)
                    P[rows[:m], yb] -= 1.0
                    P /= m  # dL/ds = (P - Y) / m
                    gW = torch.mm(xb.T, P).add_(W, alpha=2 * LAM)
                    W.sub_(gW, alpha=ETA)
                    b.sub_(P.sum(0), alpha=ETA)
                pen = LAM * float((W * W).sum())
                metrics = (_torch_metrics(X, y, W, b, pen), _torch_metrics(Xv, yv, W, b, pen))
                t1 = stamp()
                times.append(t1[0] - t0[0])
                cpu.append(t1[1] - t0[1])
                t0 = t1
    else:
        raise ValueError(variant)
    (tc, ta), (vc, va) = metrics
    return {"epoch_s": times, "epoch_cpu_s": cpu, "train_cost": tc, "train_acc": ta,
            "val_cost": vc, "val_acc": va, "threads": threads, "variant": variant}  # fmt: skip


# ----------------------------------------------------------------------- the bounds
def read_bandwidth(arrays: list[np.ndarray], repeats: int = 7) -> dict:
    """Best read bandwidth (bytes/s) over the arrays: column sums (single-threaded NumPy)
    and matrix-vector products with 1 BLAS thread and with every core. `by_threads[t]` is
    the best with at most t threads."""
    results, threads_of = {}, {}
    for i, A in enumerate(arrays):
        col = np.empty(A.shape[1], dtype=A.dtype)
        key = f"add.reduce[{i}] 1t"
        results[key] = A.nbytes / best_time(
            lambda A=A, col=col: np.add.reduce(A, axis=0, out=col), repeats
        )
        threads_of[key] = 1
        v = np.ones(A.shape[1], dtype=A.dtype)
        out = np.empty(A.shape[0], dtype=A.dtype)
        for threads in sorted({1, available_cores()}):
            with blas_threads(threads):
                key = f"gemv[{i}] {threads}t"
                results[key] = A.nbytes / best_time(
                    lambda A=A, v=v, out=out: np.matmul(A, v, out=out), repeats
                )
                threads_of[key] = threads
    by_threads = {}
    for t in sorted(set(threads_of.values())):
        best = max((k for k in results if threads_of[k] <= t), key=results.get)
        by_threads[t] = (results[best], best)
    return {"by_threads": by_threads, "all": results}


def sgemm_peak(threads: int, n: int = 1536, repeats: int = 5) -> float:
    """float32 multiply rate (flop/s) of a square n x n product: the machine's compute roof.

    Timed in CPU seconds (best of `repeats`) for one thread, so other processes taking the
    core do not lower it; wall seconds for more threads."""
    A = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    out = np.empty_like(A)
    clock = time.process_time if threads == 1 else time.perf_counter
    with blas_threads(threads):
        np.matmul(A, A, out=out)
        best = float("inf")
        for _ in range(repeats):
            t = clock()
            np.matmul(A, A, out=out)
            best = min(best, clock() - t)
    return 2.0 * n**3 / best


def bounds(data: Dataset, threads: int, repeats: int = 7) -> dict:
    """The bandwidth bound at `threads` threads (and at every core), the compute floor."""
    bw = read_bandwidth([data.Xtr, data.Xva], repeats)
    epoch_bytes = 2 * data.Xtr.nbytes + data.Xva.nbytes
    usable = max(t for t in bw["by_threads"] if t <= max(threads, 1))
    rate, how = bw["by_threads"][usable]
    top_rate, top_how = bw["by_threads"][max(bw["by_threads"])]
    peak = sgemm_peak(threads)
    return {
        "bandwidth": bw,
        "epoch_bytes": epoch_bytes,
        "bw": rate,
        "bw_how": how,
        "bound_s": epoch_bytes / rate,
        "bw_all": top_rate,
        "bw_all_how": top_how,
        "bound_all_s": epoch_bytes / top_rate,
        "sgemm_peak": peak,
        "epoch_flops": epoch_flops(data),
        "compute_s": epoch_flops(data) / peak,
    }


def summarise(result: dict) -> float:
    """Seconds of the fastest epoch: every epoch does the same work, so the fastest is the
    one least disturbed by other processes (the median is reported beside it)."""
    return min(result["epoch_s"])


def pooled(results: list[dict]) -> dict:
    """Several runs of one implementation as one: their epochs together."""
    first = results[0]
    return {**first, "epoch_s": [t for r in results for t in r["epoch_s"]],
            "epoch_cpu_s": [t for r in results for t in r["epoch_cpu_s"]]}  # fmt: skip


def summarise_cpu(result: dict) -> float:
    """Median CPU seconds per epoch (what the epoch costs without waiting for a core)."""
    return median(result["epoch_cpu_s"])
