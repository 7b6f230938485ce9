"""MLP workload: the MNIST lab's 784-128-128-64-64-32-10 ReLU network trained with Adam.

Training throughput on 50,000 MNIST-shaped images, at batch 100 (a fresh shuffle every
epoch, as in the lab) and at full batch (one update an epoch): samples per second of
forward + backward + Adam update, timed per segment of 50 updates at batch 100 and per
update at full batch, the per-epoch evaluation excluded; the fastest segment gives the
wall-clock rate, the median segment the rate per CPU second. scratchlab's `fit` against
PyTorch CPU (nn.Sequential of nn.Linear/nn.ReLU, F.cross_entropy, torch.optim.Adam;
batches gathered with a randperm index), both from the same He-initialised weights.
"""

from __future__ import annotations

import numpy as np
from bench_common import MNIST_D, N_CLASSES, Dataset, SegmentClock, make_dataset, median, stamp

from scratchlab.nn import build_mlp
from scratchlab.optim import Adam
from scratchlab.threads import blas_threads
from scratchlab.train import fit

HIDDEN = (128, 128, 64, 64, 32)
N_TRAIN = 50_000
ETA = 1e-4

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the bench extra is not installed
    torch = None


def mlp_data(n_train: int = N_TRAIN, seed: int = 0) -> Dataset:
    """MNIST-shaped images, classes further apart than A1's (the MLP learns them)."""
    return make_dataset(n_train, 0, MNIST_D, seed, spread=8.0)


def flops_per_sample() -> float:
    """2 x multiply-adds per training sample: forward x W, dW = x^T g for every layer, and
    dx = g W^T for every layer but the first (its input needs no gradient)."""
    dims = [MNIST_D, *HIDDEN, N_CLASSES]
    macs = [a * b for a, b in zip(dims[:-1], dims[1:], strict=True)]
    return 2.0 * (2 * sum(macs) + sum(macs[1:]))


def new_model(seed: int = 0):
    return build_mlp(MNIST_D, N_CLASSES, HIDDEN, init="he", rng=np.random.default_rng(seed))


def _rates(wall: list[float], cpu: list[float], samples: int, threads: int, cost: float) -> dict:
    return {"segment_s": wall, "segment_cpu_s": cpu, "segment_samples": samples,
            "samples_per_s": samples / min(wall), "samples_per_cpu_s": samples / median(cpu),
            "train_cost": cost, "threads": threads}  # fmt: skip


def run_scratchlab(
    data: Dataset, epochs: int, n_batch: int | None, threads: int, segment: int = 1
) -> dict:
    """`fit`, timed per `segment` updates (full batch: every update)."""
    model = new_model()
    n = len(data.Xtr)
    clock = SegmentClock(1 if n_batch is None else min(segment, -(-n // n_batch)))
    with blas_threads(threads):
        hist = fit(model, (data.Xtr, data.ytr), None, optimizer=Adam(), schedule=ETA,
                   n_epochs=epochs, n_batch=n_batch, shuffle=n_batch is not None,
                   rng=np.random.default_rng(1), callbacks=[clock])  # fmt: skip
    samples = clock.segment * (n_batch or len(data.Xtr))
    return _rates(clock.wall, clock.cpu, samples, threads, hist.rows[-1]["train_cost"])


def run_torch(
    data: Dataset, epochs: int, n_batch: int | None, threads: int, segment: int = 1
) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    layers: list = []
    for layer in new_model().layers:
        if layer.name == "Linear":
            lin = torch.nn.Linear(layer.d_in, layer.d_out)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.params["W"].T))
                lin.bias.copy_(torch.from_numpy(layer.params["b"]))
            layers.append(lin)
        else:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=ETA, betas=(0.9, 0.999), eps=1e-8)
    X, y = torch.from_numpy(data.Xtr), torch.from_numpy(data.ytr)
    n = X.shape[0]
    size = n if n_batch is None else n_batch
    segment = 1 if n_batch is None else min(segment, -(-n // n_batch))
    wall, cpu = [], []
    for _ in range(epochs):
        mark, count = stamp(), 0
        perm = torch.randperm(n) if n_batch is not None else None
        for s in range(0, n, size):
            if perm is None:
                xb, yb = X, y
            else:
                idx = perm[s : s + size]
                xb, yb = X[idx], y[idx]
            loss = F.cross_entropy(net(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            count += 1
            if count % segment == 0:
                now = stamp()
                wall.append(now[0] - mark[0])
                cpu.append(now[1] - mark[1])
                mark = now
        with torch.no_grad():  # the per-epoch evaluation fit also does (not timed)
            cost = F.cross_entropy(net(X), y).item()
    return _rates(wall, cpu, segment * size, threads, cost)
