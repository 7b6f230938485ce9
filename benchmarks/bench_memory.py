"""Memory workload: peak resident memory when training on all 50,000 CIFAR-shaped images.

The parent writes a fake CIFAR-10 binary release (data_batch_1..5 + test_batch, 10,000
records of 1 label byte + 3072 pixel bytes each, seeded) into a temporary folder, then
runs a fresh Python process (this file with ``--child``) that does what a run does:
``load_split("cifar10", "all", path=folder)`` (decode, hold out 1,000 validation images,
standardise to float32 on the training statistics; the test part comes along), then
trains the linear classifier for a few shuffled epochs with per-epoch evaluation. It is
run twice: the first load decodes the files and writes scratchlab's decoded-array cache,
the second loads from that cache (the usual case). The child reports its peak RSS
(``VmHWM``) after each phase.

Goal: peak <= 1.3 x the float32 data (50,000 x 3072 x 4 B = 614 MB) + 200 MB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

D = 3072
RECORD = 1 + D


def write_fake_cifar_binary(root: Path, per_batch: int, seed: int = 0) -> Path:
    """A fake `cifar-10-batches-bin` folder under `root` (labels in the first byte)."""
    from bench_common import images_u8

    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):
        X, y = images_u8(per_batch, D, seed + i)
        records = np.empty((per_batch, RECORD), dtype=np.uint8)
        records[:, 0] = y
        records[:, 1:] = X
        (folder / f"{name}.bin").write_bytes(records.tobytes())
    classes = "airplane automobile bird cat deer dog frog horse ship truck".split()
    (folder / "batches.meta.txt").write_text("\n".join(classes) + "\n")
    return folder


def _peak_mb() -> float:
    """This process's peak RSS so far (VmHWM), in MB (10^6 bytes)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    import resource  # pragma: no cover - not Linux

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    return float("nan")  # pragma: no cover


def child(folder: str, epochs: int) -> None:
    import warnings

    phases = {"start": _peak_mb()}
    from scratchlab.data import load_split
    from scratchlab.nn import build_mlp
    from scratchlab.threads import blas_threads
    from scratchlab.train import fit

    phases["imports"] = _peak_mb()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "cannot be checked against the official md5"
        s = load_split("cifar10", "all", val_size=1000, seed=0, path=folder)
    phases["load_split"] = _peak_mb()
    rss_loaded = _rss_mb()
    model = build_mlp(s.dim, s.n_classes, (), init_std=0.01, l2=0.1,
                      rng=np.random.default_rng(0))  # fmt: skip
    with blas_threads():
        fit(model, (s.train.X, s.train.y), (s.val.X, s.val.y), optimizer="sgd",
            schedule=0.001, n_epochs=epochs, n_batch=100, shuffle=True,
            rng=np.random.default_rng(0))  # fmt: skip
    phases["fit"] = _peak_mb()
    data_bytes = s.train.X.nbytes + s.val.X.nbytes
    print(json.dumps({"phases": phases, "rss_after_load": rss_loaded,
                      "data_mb": data_bytes / 1e6, "test_mb": s.test.X.nbytes / 1e6,
                      "n_train": len(s.train.y), "n_val": len(s.val.y)}))  # fmt: skip


def run(per_batch: int = 10_000, epochs: int = 2) -> dict:
    """Write the fake release, run the child twice (decode, then cache); peak RSS in MB."""
    here = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory(prefix="scratchlab-bench-mem-") as tmp:
        folder = write_fake_cifar_binary(Path(tmp), per_batch)
        path = os.pathsep.join([str(here), os.environ.get("PYTHONPATH", "")])
        env = {**os.environ, "SCRATCHLAB_CACHE": str(Path(tmp) / "cache"), "PYTHONPATH": path}
        runs = {}
        for label in ("decode", "cached"):
            proc = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--child", str(folder),
                 str(epochs)],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if proc.returncode != 0:
                raise RuntimeError(f"memory child failed:\n{proc.stderr[-2000:]}")
            runs[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    data_mb = runs["decode"]["data_mb"]
    peak = max(max(r["phases"].values()) for r in runs.values())
    return {"runs": runs, "data_mb": data_mb, "peak_mb": peak, "goal_mb": 1.3 * data_mb + 200}


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        print(json.dumps(run(), indent=1))
