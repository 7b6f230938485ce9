"""Streaming beyond memory: a training set four times a memory cap trains under that cap.

The parent writes a synthetic uint8 ``.npy`` (the decoded-array cache's format) of
4 x `CAP`. A child process warms up (imports, numba, BLAS), then caps its own data
segment with ``RLIMIT_DATA`` = what it holds + `CAP` (private writable memory: any
attempt to hold the set, or its float32 copy, raises MemoryError; a read-only memory
map of the file does not count) and trains on a memory map of the file: statistics,
one shuffled epoch, evaluation of the whole set every epoch, predictions. It samples its
anonymous memory (``RssAnon``) after every update. The control: the same child reading
the file into memory (``np.load`` without a memory map) must fail under the same cap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CAP = 16 * 2**20  # bytes of anonymous memory the child may add after its warm-up
D = 1024
N = 4 * CAP // D  # rows: the uint8 file is 4 x CAP (its float32 copy 16 x CAP)

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists() or sys.platform != "linux",
    reason="RLIMIT_DATA and /proc/self/status are Linux's",
)

CHILD = r"""
import json, resource, sys
import numpy as np
from scratchlab.data import Standardiser
from scratchlab.nn import build_mlp
from scratchlab.train import fit

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

class AnonPeak:
    peak = 0
    def on_batch_end(self, step, loss):
        self.peak = max(self.peak, status("RssAnon"))

path, mode, cap, d = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
kw = dict(optimizer="sgd", schedule=0.01, n_epochs=1, n_batch=256, shuffle=True)
small = np.random.default_rng(0).integers(0, 256, (600, d), dtype=np.uint8)
labels = np.arange(600) % 10
warm = Standardiser.fit(small)  # compile the kernels, start the BLAS: not the data's cost
fit(build_mlp(d, 10, (), rng=np.random.default_rng(0)), (small, labels), (small, labels),
    transform=warm, rng=np.random.default_rng(0), **kw)
base = status("RssAnon")
resource.setrlimit(resource.RLIMIT_DATA, (status("VmData") + cap, resource.RLIM_INFINITY))
try:
    X = np.load(path, mmap_mode="r") if mode == "mmap" else np.load(path)
    y = np.arange(len(X)) % 10
    st = Standardiser.fit(X)
    model, probe = build_mlp(d, 10, (), rng=np.random.default_rng(0)), AnonPeak()
    hist = fit(model, (X, y), (X[:1000], y[:1000]), transform=st, callbacks=[probe],
               rng=np.random.default_rng(1), **kw)
    predicted = model.predict(X, transform=st)
    probe.on_batch_end(0, 0.0)
except MemoryError:
    print(json.dumps({"memory_error": True}))
    sys.exit(0)
print(json.dumps({"memory_error": False, "n": len(X), "anon_growth": probe.peak - base,
                  "rows": len(hist.rows), "train_acc": hist.rows[-1]["train_acc"],
                  "predicted": int(len(predicted)), "memmap": isinstance(X, np.memmap)}))
"""


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    """A (N, D) uint8 .npy of 4 x CAP, written in chunks (seeded pixels)."""
    path = tmp_path_factory.mktemp("stream") / "train.X.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(N, D))
    rng = np.random.default_rng(0)
    for start in range(0, N, 8192):
        stop = min(start + 8192, N)
        out[start:stop] = rng.integers(0, 256, (stop - start, D), dtype=np.uint8)
    labels = np.arange(N) % 10  # class k lights up pixels 8k..8k+7: learnable
    out[:, :80] = 0
    for k in range(10):
        out[labels == k, 8 * k : 8 * k + 8] = 255
    out.flush()
    del out
    return path


def _child(path: Path, mode: str) -> dict:
    env = {**os.environ, "SCRATCHLAB_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), mode, str(CAP), str(D)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_memory_mapped_set_four_times_the_cap_trains_under_it(big_file):
    assert big_file.stat().st_size >= 4 * CAP
    got = _child(big_file, "mmap")
    assert got["memory_error"] is False and got["memmap"]
    assert got["n"] == N and got["predicted"] == N and got["rows"] == 2
    assert got["anon_growth"] < CAP, f"{got['anon_growth'] / 2**20:.1f} MiB"
    print(f"anonymous memory added: {got['anon_growth'] / 2**20:.1f} MiB")
    assert got["train_acc"] > 0.5  # it learned (chance: 0.1): the batches were the data


def test_the_same_set_read_into_memory_breaks_the_cap(big_file):
    """The control: the cap is real -- holding the set (4 x CAP) raises MemoryError."""
    assert _child(big_file, "load")["memory_error"] is True
