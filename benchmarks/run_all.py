"""scratchlab benchmarks: speed against PyTorch CPU and the physical bound, per OpenBLAS
kernel class, and memory.

    python benchmarks/run_all.py            # the full run (several minutes)
    python benchmarks/run_all.py --quick    # a smoke run (well under 2 minutes)
    make bench                              # installs the `bench` extra first

Each run writes a new file benchmarks/results/<date>-<host>-<kernels>[-quick].md (never
over an earlier one; `--out` names another, `--no-write` only prints).

Workloads (see each module's docstring):
1. A1 (`bench_a1`): 40 epochs of mini-batch GD, linear softmax + L2 on 10,000 CIFAR-shaped
   images with per-epoch cost/accuracy on train and a 10,000-image validation set.
2. MLP (`bench_mlp`): the MNIST lab's 784-128-128-64-64-32-10 ReLU network with Adam at
   batch 100 and full batch.
   A1 and the MLP run once per OpenBLAS kernel class (`kernel_runs`: the detected kernel,
   Haswell/AVX2, and SkylakeX/AVX-512 where the CPU has it), each in a fresh child process,
   against PyTorch CPU at the same thread count and against the physical bound measured in
   that child: max(bytes / read bandwidth, FLOPs / float32 GEMM peak).
3. Memory (`bench_memory`): peak RSS of a fresh process that loads all 50,000 CIFAR-shaped
   images through `load_split` and trains on them (detected kernel).
4. Threads (`bench_threads`): 1 BLAS thread against every core, small and large products,
   machine as found and with an extra busy process: the data behind `scratchlab.threads`
   (not in a --quick run unless asked for with --only threads).

Both implementations use the same number of BLAS/intra-op threads (scratchlab's policy,
`scratchlab.threads`: 1 unless SCRATCHLAB_THREADS or --threads says otherwise); PyTorch is
also shown at its own default. Every epoch of a workload does the same work, so the
headline numbers are the fastest epoch over all repeats (the one least disturbed by other
processes; CPU-time medians beside them), and the bounds are the best of repeated reads.
The machine's load is printed with the results because other processes change them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import socket
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench_memory  # noqa: E402
import bench_threads  # noqa: E402
import kernel_runs  # noqa: E402
import report_speed  # noqa: E402
from bench_common import LoadMonitor, fmt_ms, markdown_table  # noqa: E402
from report_speed import yes  # noqa: E402
from sections import SEGMENT, log  # noqa: E402

from scratchlab.threads import resolve_threads  # noqa: E402

RESULTS = HERE / "results"


def memory_rows(mem: dict) -> tuple[list, list[str]]:
    run = mem["runs"]["decode"]
    row = [
        f"Memory: peak RSS ({mem['data_mb']:.0f} MB uint8 data)",
        f"{mem['peak_mb']:.0f} MB",
        "-",
        f"{mem['goal_mb']:.0f} MB",
        "-",
        f"{mem['peak_mb'] / mem['goal_mb']:.2f}x",
        f"<= 1.3 x data + 200 MB: {yes(mem['peak_mb'] <= mem['goal_mb'])}",
    ]
    lines = [
        f"**Memory** (detected kernel; peak RSS = VmHWM of a fresh process, MB, after "
        f"each phase; {run['n_train']:,} train + {run['n_val']:,} val images = "
        f"{mem['data_mb']:.0f} MB uint8 ({run['float32_mb']:.0f} MB as float32), plus the "
        f"{run['test_mb']:.0f} MB test part that `load_split` also returns; `decode` reads "
        "the binary batches and writes the decoded-array cache, `cached` loads from that "
        "cache as memory maps; anonymous = the most RssAnon seen; shared libraries' pages "
        "(numba/llvmlite among them) count in the RSS):",
        "",
    ]
    lines.append(
        markdown_table(
            [
                "load",
                "after imports",
                "peak after load_split",
                "RSS after load_split",
                "peak after fit",
                "anonymous peak",
            ],
            [
                [
                    label,
                    f"{r['phases']['imports']:.0f}",
                    f"{r['phases']['load_split']:.0f}",
                    f"{r['rss_after_load']:.0f}",
                    f"{r['phases']['fit']:.0f}",
                    f"{r['anon_peak']:.0f}",
                ]
                for label, r in mem["runs"].items()
            ],
        )
    )
    return row, lines


def thread_lines(th: dict) -> list[str]:
    def fmt(s: float) -> str:
        return fmt_ms(s) if s >= 0.01 else f"{s * 1e6:.0f} us"

    rows = [
        [
            r["condition"],
            f"{r['load']:.2f}",
            r["workload"],
            r["threads"],
            fmt(r["median_s"]),
            fmt(r["min_s"]),
        ]
        for r in th["rows"]
    ]
    return [
        f"**Threads** (detected kernel; 1 BLAS thread against all {th['cores']} cores; "
        "median and fastest of repeated calls; the condition's extra process is started "
        "and stopped by the benchmark):",
        "",
        markdown_table(["condition", "load avg", "workload", "threads", "median", "fastest"], rows),
    ]


def kernel_line(run: dict) -> str:
    how = (
        f"OPENBLAS_CORETYPE={run['coretype']}"
        if run["coretype"]
        else "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset"
    )
    return (
        f"- kernel **{run['label']}**: child process with {how}; threadpoolctl reports "
        f"`{run['arch'] or 'unknown'}`; numba kernels "
        f"{'available' if run['numba'] else 'not installed'}"
    )


def build_report(
    runs: list[dict],
    mem: dict | None,
    th: dict | None,
    threads: int,
    load: dict,
    started: str,
    quick: bool,
) -> str:
    rows, details = [], []
    for run in runs:
        if run["a1"] is not None:
            rows += report_speed.a1_rows(run)
            details += [*report_speed.a1_details(run), ""]
        if run["mlp"] is not None:
            rows += report_speed.mlp_rows(run)
            details += [*report_speed.mlp_details(run, SEGMENT), ""]
    if mem is not None:
        row, lines = memory_rows(mem)
        rows.append(row)
        details += [*lines, ""]
    if th is not None:
        details += [*thread_lines(th), ""]
    others = (
        f"{load['others_cores']:.2f} cores on average"
        if load["others_cores"] is not None
        else "an unknown share"
    )
    header = [
        "workload",
        "scratchlab",
        "PyTorch CPU (peer)",
        "physical bound",
        "speed-up vs PyTorch",
        "scratchlab / bound",
        "goal met?",
    ]
    machine = runs[0]["machine"] if runs else "-"
    lines = [
        "# scratchlab benchmarks" + (" (--quick smoke run: shortened workloads)" if quick else ""),
        "",
        f"- date: {started}",
        f"- machine: {machine}",
        *[kernel_line(r) for r in runs],
        f"- threads: scratchlab {threads} BLAS thread(s) (`scratchlab.threads`); the PyTorch "
        "peer the same (`torch.set_num_threads`)",
        f"- load: 1-min load average {load['load_start'][0]:.2f} at the start, "
        f"{load['load_end'][0]:.2f} at the end; other processes used {others} during the "
        f"{load['wall_s']:.0f} s run",
        "- command: `make bench` (`python benchmarks/run_all.py"
        + (" --quick`)" if quick else "`)"),
        "",
        markdown_table(header, rows),
        "",
        "## Details",
        "",
        *details,
    ]
    return "\n".join(lines).rstrip() + "\n"


def results_path(runs: list[dict], quick: bool, now: dt.datetime) -> Path:
    """benchmarks/results/<date>-<host>-<kernels>[-quick].md, never an existing file."""
    host = re.sub(r"[^A-Za-z0-9]+", "-", socket.gethostname()).strip("-").lower() or "host"
    kernels = "-".join(r["arch"] or "unknown" for r in runs) or "none"
    stem = f"{now:%Y-%m-%d}-{host}-{kernels}" + ("-quick" if quick else "")
    path, n = RESULTS / f"{stem}.md", 1
    while path.exists():
        n += 1
        path = RESULTS / f"{stem}-{n}.md"
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run, well under 2 minutes")
    p.add_argument(
        "--threads", default=None, help="BLAS threads for both peers (default: scratchlab's policy)"
    )
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch peer")
    p.add_argument("--no-memory", action="store_true", help="skip the memory workload")
    p.add_argument(
        "--only",
        choices=("a1", "mlp", "memory", "threads"),
        action="append",
        help="run only this workload (repeatable)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="markdown output (default: a new file in benchmarks/results/)",
    )
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    threads = resolve_threads(args.threads)
    now = dt.datetime.now().astimezone()
    load = LoadMonitor()
    t0 = time.perf_counter()
    # --quick leaves out the thread-policy data unless asked for (--only threads)
    wanted = set(args.only or ("a1", "mlp", "memory") + ("threads",) * (not args.quick))
    args.only = sorted(wanted & {"a1", "mlp"})
    runs = []
    if args.only:
        for entry in kernel_runs.plan():
            log(f"Kernel {entry['label']} (fresh process) ...")
            runs.append(kernel_runs.run_child(entry, args))
            log(f"  ({time.perf_counter() - t0:.0f} s so far)")
    mem = None
    if not args.no_memory and "memory" in wanted:
        log("Memory: fake CIFAR binary release, fresh processes ...")
        mem = bench_memory.run(
            per_batch=2_000 if args.quick else 10_000, epochs=1 if args.quick else 2
        )
    th = None
    if "threads" in wanted:
        log("Threads: 1 vs all cores, as found and with an extra busy process ...")
        th = bench_threads.run(quick=args.quick)
    report = build_report(
        runs, mem, th, threads, load.summary(), now.strftime("%Y-%m-%d %H:%M %Z"), args.quick
    )
    print(report)
    log(f"(benchmarks took {time.perf_counter() - t0:.0f} s)")
    if not args.no_write:
        out = args.out or results_path(runs, args.quick, now)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report)
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
