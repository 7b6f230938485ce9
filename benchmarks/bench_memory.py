"""Memory workload: peak memory when training on all 50,000 CIFAR-shaped images; and what
uint8-resident data costs the A1 epoch.

**Peak memory.** The parent writes a fake CIFAR-10 binary release (data_batch_1..5 +
test_batch, 10,000 records of 1 label byte + 3072 pixel bytes each, seeded) into a
temporary folder, then runs a fresh Python process (this file with ``--child``) that does
what a run does: ``load_split("cifar10", "all", path=folder)`` (decode, hold out 1,000
validation images; the parts stay uint8, the test part comes along), then trains the
linear classifier for a few shuffled epochs on the standardised batches
(``transform=s.standardiser``) with per-epoch evaluation, and scores every set as a run's
result does. It is run twice: the first load decodes the files and writes scratchlab's
decoded-array cache, the second loads from that cache (the usual case: its parts are
read-only memory maps). The child reports its peak RSS (``VmHWM``: anonymous and
file-backed pages) after each phase and the most anonymous memory (``RssAnon``) seen at
the phase ends and after every update.

Goal: peak <= 1.3 x the uint8 data (50,000 x 3072 B = 154 MB) + 200 MB. Before the parts
were uint8 the same process peaked at 987 MB on this VM (858 MB before numba was
imported), holding 614 MB of float32 rows.

**Time (`a1_epochs`).** The A1 workload (bench_a1: 10,000 + 10,000 images, batch 100,
in order, evaluation of both sets each epoch), trained side by side in one process in
alternating rounds: on float32-resident standardised rows (no transform: what the parts
held before), on uint8 rows standardised per batch by the one-pass kernel (numba), and by
NumPy's three passes. ms per epoch, wall (fastest) and CPU (median).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
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


def _status_mb(key: str) -> float:
    """A /proc/self/status field (VmHWM, VmRSS, RssAnon, RssFile) in MB (10^6 bytes)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    return float("nan")  # pragma: no cover - not Linux


class AnonPeak:
    """A `fit` callback: the most anonymous memory (RssAnon) seen after any update."""

    def __init__(self) -> None:
        self.peak = 0.0

    def sample(self) -> None:
        self.peak = max(self.peak, _status_mb("RssAnon"))

    def on_batch_end(self, step, loss) -> None:
        self.sample()


def child(folder: str, epochs: int) -> None:
    import warnings

    anon = AnonPeak()
    phases = {"start": _status_mb("VmHWM")}
    from scratchlab.data import load_split
    from scratchlab.nn import build_mlp
    from scratchlab.threads import blas_threads
    from scratchlab.train import fit

    phases["imports"] = _status_mb("VmHWM")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "cannot be checked against the official md5"
        s = load_split("cifar10", "all", val_size=1000, seed=0, path=folder)
    phases["load_split"] = _status_mb("VmHWM")
    anon.sample()
    rss_loaded = _status_mb("VmRSS")
    model = build_mlp(s.dim, s.n_classes, (), init_std=0.01, l2=0.1,
                      rng=np.random.default_rng(0))  # fmt: skip
    with blas_threads():
        fit(model, (s.train.X, s.train.y), (s.val.X, s.val.y), optimizer="sgd",
            schedule=0.001, n_epochs=epochs, n_batch=100, shuffle=True,
            rng=np.random.default_rng(0), transform=s.standardiser,
            callbacks=[anon])  # fmt: skip
        for part in (s.train, s.val, s.test):  # a run's result: every set scored
            model.evaluate(part.X, part.y, transform=s.standardiser)
            model.predict(part.X, transform=s.standardiser)
    anon.sample()
    phases["fit"] = _status_mb("VmHWM")
    data_bytes = s.train.X.nbytes + s.val.X.nbytes
    print(json.dumps({"phases": phases, "rss_after_load": rss_loaded,
                      "anon_peak": anon.peak, "rss_file_end": _status_mb("RssFile"),
                      "data_mb": data_bytes / 1e6, "float32_mb": 4 * data_bytes / 1e6,
                      "test_mb": s.test.X.nbytes / 1e6, "memmap": hasattr(s.test.X, "filename"),
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


def a1_epochs(rounds: int = 4, epochs: int = 3) -> dict:
    """A1 ms per epoch on float32-resident rows vs uint8 rows standardised per batch
    (kernel, NumPy), alternating rounds in this process; identical histories checked."""
    from bench_a1 import ETA, N_BATCH, new_model
    from bench_common import EpochClock, images_u8, median

    import scratchlab.data.standardise as standardise
    from scratchlab.data import Standardiser
    from scratchlab.threads import blas_threads
    from scratchlab.train import fit

    Xtr, ytr = images_u8(10_000, D, 0)
    Xva, yva = images_u8(10_000, D, 1)
    st = Standardiser.fit(Xtr)
    Ztr, Zva = st(Xtr), st(Xva)
    kinds = ["float32", "uint8-kernel", "uint8-numpy"]
    if standardise._standardise_kernel is None:
        kinds.remove("uint8-kernel")
    wall, cpu, last = {k: [] for k in kinds}, {k: [] for k in kinds}, {}
    for _ in range(rounds):
        for kind in kinds:
            standardise.KERNEL = kind == "uint8-kernel"
            clock = EpochClock()
            data = ((Ztr, ytr), (Zva, yva), None) if kind == "float32" else (
                (Xtr, ytr), (Xva, yva), st)  # fmt: skip
            with blas_threads(1):
                hist = fit(new_model(0), data[0], data[1], optimizer="sgd", schedule=ETA,
                           n_epochs=epochs, n_batch=N_BATCH, transform=data[2],
                           callbacks=[clock])  # fmt: skip
            wall[kind] += clock.epoch_s
            cpu[kind] += clock.epoch_cpu_s
            last[kind] = {k: v for k, v in hist.rows[-1].items() if k != "time"}
    standardise.KERNEL = standardise._standardise_kernel is not None
    return {
        "kinds": kinds,
        "wall_ms": {k: 1e3 * min(v) for k, v in wall.items()},
        "wall_median_ms": {k: 1e3 * median(v) for k, v in wall.items()},
        "cpu_ms": {k: 1e3 * median(v) for k, v in cpu.items()},
        "cpu_min_ms": {k: 1e3 * min(v) for k, v in cpu.items()},
        "same_history": all(last[k] == last["float32"] for k in kinds),
        "load": os.getloadavg()[0],
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) >= 2 and sys.argv[1] == "--a1":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        print(json.dumps(a1_epochs(*map(int, sys.argv[2:4])), indent=1))
    else:
        print(json.dumps(run(), indent=1))
