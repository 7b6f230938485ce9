"""Run the speed workloads (A1, MLP) once per OpenBLAS kernel class, each in a fresh process.

OpenBLAS chooses its kernels ("core type") once, when the library loads: from the CPU, or
from ``OPENBLAS_CORETYPE``. So one process cannot compare kernel classes; this module
starts one child per class and collects what each measured (JSON):

* the **detected** kernel: a child with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
  both removed from its environment (some machines set them for older OpenBLAS builds;
  they slow a current one), i.e. what a user's NumPy picks on this CPU;
* **Haswell** (AVX2), which most laptops get, forced with ``OPENBLAS_CORETYPE=Haswell``;
* **SkylakeX** (AVX-512), forced likewise, only where the CPU has AVX-512 (``avx512f``).

Kernels that turn out the same as the detected one are not run twice. Each child checks
with threadpoolctl which kernel it really runs and reports it with its results; the
parent's own environment (and the tests') is never changed.

    python benchmarks/kernel_runs.py --child --json out.json [--quick] [--coretype X]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
NAMES = {"haswell": "Haswell", "skylakex": "SkylakeX"}


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:  # pragma: no cover - not Linux
        pass
    return set()


def child_env(coretype: str | None) -> dict[str, str]:
    """This environment without the OpenBLAS overrides, plus `coretype` if given."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH")) if p)
    return env


def probe(coretype: str | None) -> str:
    """The kernel architecture a fresh NumPy loads under `coretype` (lower case)."""
    code = "from scratchlab.nn.blas import blas_architecture; print(blas_architecture())"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=child_env(coretype),
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip().lower()


def plan() -> list[dict]:
    """[{"label", "coretype", "arch"}]: detected first, then Haswell, then SkylakeX."""
    detected = probe(None)
    entries = [
        {
            "label": f"detected ({NAMES.get(detected, detected or 'unknown')})",
            "coretype": None,
            "arch": detected,
        }
    ]
    wanted = ["Haswell"] + (["SkylakeX"] if "avx512f" in cpu_flags() else [])
    for coretype in wanted:
        arch = probe(coretype)
        if arch not in {e["arch"] for e in entries}:
            entries.append({"label": NAMES.get(arch, arch), "coretype": coretype, "arch": arch})
    return entries


def run_child(entry: dict, args: argparse.Namespace) -> dict:
    """One child for `entry`; its progress goes to this stderr, its results come back."""
    with tempfile.TemporaryDirectory(prefix="scratchlab-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, str(HERE / "kernel_runs.py"), "--child", "--json", str(out)]
        cmd += ["--quick"] * args.quick + ["--no-torch"] * args.no_torch
        cmd += ["--threads", str(args.threads)] if args.threads else []
        for name in args.only or ():
            cmd += ["--only", name]
        subprocess.run(cmd, env=child_env(entry["coretype"]), check=True)
        result = json.loads(out.read_text())
    return {**entry, **result}


def child_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--child", action="store_true")
    p.add_argument("--json", type=Path, required=True)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--threads", default=None)
    p.add_argument("--only", action="append")
    args = p.parse_args(argv)
    import bench_a1
    import sections
    from bench_common import machine_line

    from scratchlab.nn import blas, kernels
    from scratchlab.threads import resolve_threads

    threads = resolve_threads(args.threads)
    arch = blas.blas_architecture()
    sections.log(
        f"== OpenBLAS kernel {arch or 'unknown'} "
        f"(OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}) =="
    )
    torch_default = None
    if bench_a1.torch is not None and not args.no_torch:
        torch_default = bench_a1.torch.get_num_threads()
    wanted = set(args.only or ("a1", "mlp"))
    result = {
        "arch": arch,
        "machine": machine_line(),
        "threads": threads,
        "numba": kernels.AVAILABLE,
        "torch": bench_a1.torch is not None,
        "a1": None,
        "mlp": None,
    }
    if "a1" in wanted:
        result["a1"] = sections.a1_section(args.quick, threads, torch_default, args.no_torch)
    if "mlp" in wanted:
        result["mlp"] = sections.mlp_section(args.quick, threads, torch_default, args.no_torch)
    args.json.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    raise SystemExit(child_main())
