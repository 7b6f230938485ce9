"""Cross-check: the assignment 2 and 3 recipes re-implemented in a few lines of PyTorch CPU.

For each named run of a finished results folder, its recipe is read from its config.json
(layers, batch norm, init, λ, dropout, schedule, epochs, batch size, split, validation
size) and trained again with code that shares nothing with scratchlab but the recipe: the
CIFAR-10 binary files read with NumPy, the training part's per-feature mean and standard
deviation, torch.nn layers (Linear → [BatchNorm1d] → ReLU → [Dropout]), softmax
cross-entropy + λ·ΣW² over the weight matrices, plain SGD with the rate set per update
(constant or the triangular cycle), batches of n_batch in order, evaluation in eval mode.
Initial weights, shuffling and the `all` split's validation hold-out come from torch/NumPy
generators seeded with the stated seed, so the two implementations agree up to training
noise, not to the bit. Runs with augmentation or snapshot votes are not re-implemented.

    .venv/bin/python benchmarks/crosscheck_torch.py ../shared/data/cifar-10-sample \\
        /tmp/a2/assignment2 cycle1-ns500 cycles3-ns800 final --seeds 0 1 2

Prints, per run: scratchlab's test accuracy (its seed) and the re-implementation's per seed.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def read_bin(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR-10 binary batch: records of 1 label byte + 3072 pixel bytes."""
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)
    return raw[:, 1:], raw[:, 0].astype(np.int64)


def split(root: Path, name: str, val_size: int, seed: int):
    """(train, test) as (X uint8, y): a1 = batch 1 / test; all = 5 batches minus val_size."""
    folder = next(Path(root).rglob("data_batch_1.bin")).parent
    test = read_bin(folder / "test_batch.bin")
    if name == "a1":
        return read_bin(folder / "data_batch_1.bin"), test
    parts = [read_bin(folder / f"data_batch_{i}.bin") for i in range(1, 6)]
    X, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    keep = np.sort(np.random.default_rng(seed).permutation(len(X))[val_size:])
    return (X[keep], y[keep]), test


def lr_at(t: int, epoch: int, sched: dict, eta: float, u: int) -> float:
    if sched["name"] == "constant":
        return eta
    n_s = sched.get("step_size") or max(1, round(sched["step_size_epochs"] * u))
    lo, hi, pos = sched["eta_min"], sched["eta_max"], t % (2 * n_s)
    return lo + (hi - lo) * (pos / n_s if pos <= n_s else 2 - pos / n_s)


def network(cfg: dict) -> torch.nn.Sequential:
    m, dims = cfg["model"], [3072, *cfg["model"]["hidden"], 10]
    layers: list[torch.nn.Module] = []
    for k, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        hidden = k < len(dims) - 2
        lin = torch.nn.Linear(a, b, bias=not (hidden and m["batch_norm"]))
        std = {"xavier": 1 / math.sqrt(a), "he": math.sqrt(2 / a)}.get(m["init"], m["init_std"])
        torch.nn.init.normal_(lin.weight, 0.0, std)
        if lin.bias is not None:
            torch.nn.init.zeros_(lin.bias)
        layers.append(lin)
        if hidden:
            layers += [torch.nn.BatchNorm1d(b)] if m["batch_norm"] else []
            layers.append(torch.nn.ReLU())
            layers += [torch.nn.Dropout(m["dropout"])] if m["dropout"] > 0 else []
    return torch.nn.Sequential(*layers)


def train_and_test(cfg: dict, data_root: Path, seed: int) -> dict:
    """Train the run's recipe with `seed`; its test (and training) accuracy."""
    torch.manual_seed(seed)
    d, t = cfg["data"], cfg["train"]
    (Xtr, ytr), (Xte, yte) = split(data_root, d["split"], d["val_size"], seed)
    mean, std = Xtr.mean(0) / 255, Xtr.std(0) / 255
    std[std == 0] = 1

    def prep(X):
        return torch.from_numpy(((X / 255 - mean) / std).astype(np.float32))

    X, y, Xt, yt = prep(Xtr), torch.from_numpy(ytr), prep(Xte), torch.from_numpy(yte)
    net, batch, lam = network(cfg), t["n_batch"], t["lambda"]
    weights = [p for n, p in net.named_parameters() if n.endswith("weight") and p.dim() == 2]
    u, step = math.ceil(len(X) / batch), 0
    for epoch in range(t["n_epochs"]):
        net.train()
        order = torch.randperm(len(X)) if t["shuffle"] else torch.arange(len(X))
        for s in range(0, len(X), batch):
            idx = order[s : s + batch]
            cost = F.cross_entropy(net(X[idx]), y[idx]) + lam * sum(w.pow(2).sum() for w in weights)
            net.zero_grad(set_to_none=True)
            cost.backward()
            eta = lr_at(step, epoch, t["schedule"], t["eta"], u)
            with torch.no_grad():
                for p in net.parameters():
                    p -= eta * p.grad
            step += 1
    net.eval()
    with torch.no_grad():
        return {
            "test": (net(Xt).argmax(1) == yt).double().mean().item(),
            "train": (net(X).argmax(1) == y).double().mean().item(),
        }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="CIFAR-10 binary folder (e.g. the sample)")
    ap.add_argument("results", type=Path, help="an experiment's results folder")
    ap.add_argument("runs", nargs="+", help="run names to re-implement")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    print("| run | scratchlab test acc (seed) | PyTorch test acc per seed | PyTorch mean |")
    print("|---|---|---|---|")
    for run in args.runs:
        cfg = json.loads((args.results / run / "config.json").read_text())
        ours = json.loads((args.results / run / "metrics.json").read_text())
        if cfg["train"]["augment"] or cfg.get("ensemble_snapshots"):
            print(f"| {run} | – | not re-implemented (augmentation / snapshots) | – |")
            continue
        accs = [train_and_test(cfg, args.data, s)["test"] for s in args.seeds]
        cells = ", ".join(
            f"{100 * a:.2f} % (seed {s})" for a, s in zip(accs, args.seeds, strict=True)
        )
        print(f"| {run} | {100 * ours['final']['test']['acc']:.2f} % (seed {ours['seed']}) | "
              f"{cells} | {100 * np.mean(accs):.2f} % |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
