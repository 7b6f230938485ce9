"""scratchlab benchmarks: speed against PyTorch CPU and the memory-bandwidth bound, and memory.

    python benchmarks/run_all.py            # the full run (a few minutes), writes results.md
    python benchmarks/run_all.py --quick    # a ~30 s smoke run (fewer epochs, smaller memory test)
    make bench                              # installs the `bench` extra (torch, psutil) first

Workloads (see each module's docstring):
1. A1 (`bench_a1`): 40 epochs of mini-batch GD, linear softmax + L2 on 10,000 CIFAR-shaped
   images with per-epoch cost/accuracy on train and a 10,000-image validation set: ms per
   epoch for scratchlab, PyTorch CPU and the memory-bandwidth bound.
2. MLP (`bench_mlp`): the MNIST lab's 784-128-128-64-64-32-10 ReLU network with Adam at
   batch 100 and full batch: training samples per second.
3. Memory (`bench_memory`): peak RSS of a fresh process that loads all 50,000 CIFAR-shaped
   images through `load_split` and trains on them.
4. Threads (`bench_threads`): 1 BLAS thread against every core, small and large products,
   machine as found and with an extra busy process: the data behind `scratchlab.threads`.

Both implementations use the same number of BLAS/intra-op threads (scratchlab's policy,
`scratchlab.threads`: 1 unless SCRATCHLAB_THREADS or --threads says otherwise); PyTorch is
also shown at its own default. Every epoch of a workload does the same work, so the
headline numbers are the fastest epoch over all repeats (the one least disturbed by other
processes; medians are in the details), and the bound is the best of repeated reads. The
machine's load is printed with the results because other processes change them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench_a1  # noqa: E402
import bench_memory  # noqa: E402
import bench_mlp  # noqa: E402
import bench_threads  # noqa: E402
from bench_common import (  # noqa: E402
    LoadMonitor,
    fmt_ms,
    fmt_rate,
    machine_line,
    markdown_table,
    median,
)

from scratchlab.threads import resolve_threads  # noqa: E402

TORCH_MISSING = "torch not installed: pip install .[bench]"
SEGMENT = 50  # MLP batch 100: updates per timed segment
GOALS = {"a1_torch": 5.0, "a1_bound": 1.5, "mlp_torch": 1.5, "mem_factor": 1.3, "mem_extra": 200}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def a1_section(args, threads: int, torch_default: int | None) -> dict:
    epochs = 3 if args.quick else 40
    repeats = 1 if args.quick else 3
    log(f"A1: building data (10,000 + 10,000 x 3072), {epochs} epochs ...")
    data = bench_a1.a1_data()
    out: dict = {"epochs": epochs}
    b = bench_a1.bounds(data, threads, repeats=3 if args.quick else 7)
    out["bounds"] = b
    runs = []
    for r in range(repeats):
        runs.append(bench_a1.run_scratchlab(data, epochs, threads))
        log(f"  scratchlab run {r + 1}: {fmt_ms(bench_a1.summarise(runs[-1]))} per epoch")
    out["scratchlab_runs"] = runs
    out["scratchlab"] = bench_a1.pooled(runs)
    if bench_a1.torch is None or args.no_torch:
        return out
    torch_runs = []
    for variant in ("autograd", "manual"):
        torch_runs.append(bench_a1.run_torch(data, epochs, threads, variant))
        log(f"  torch {variant} {threads}t: {fmt_ms(bench_a1.summarise(torch_runs[-1]))}")
    best = min(torch_runs, key=bench_a1.summarise)["variant"]
    if not args.quick:  # the peer gets repeats too
        torch_runs.append(bench_a1.run_torch(data, epochs, threads, best))
        log(f"  torch {best} {threads}t again: {fmt_ms(bench_a1.summarise(torch_runs[-1]))}")
    out["torch_runs"] = torch_runs
    out["torch"] = bench_a1.pooled([r for r in torch_runs if r["variant"] == best])
    if torch_default and torch_default != threads:
        e = 1 if args.quick else 3  # short: under load it can take seconds an epoch
        res = bench_a1.run_torch(data, e, torch_default, out["torch"]["variant"])
        log(f"  torch {res['variant']} {torch_default}t: {fmt_ms(bench_a1.summarise(res))}")
        out["torch_default"] = res
    return out


def mlp_section(args, threads: int, torch_default: int | None) -> dict:
    n_train = 10_000 if args.quick else bench_mlp.N_TRAIN
    log(f"MLP: building data ({n_train:,} x 784) ...")
    data = bench_mlp.mlp_data(n_train)
    out: dict = {"n_train": n_train, "n_sub": min(n_train, 2_000 if args.quick else 10_000)}
    sub = bench_mlp.mlp_data(out["n_sub"])
    out["sgemm_peak"] = bench_a1.sgemm_peak(threads)
    for label, n_batch, epochs in (("batch 100", 100, 1 if args.quick else 3),
                                   ("full batch", None, 3 if args.quick else 8)):  # fmt: skip
        row: dict = {"epochs": epochs}
        seg = SEGMENT
        row["scratchlab"] = bench_mlp.run_scratchlab(data, epochs, n_batch, threads, seg)
        log(f"  {label} scratchlab: {fmt_rate(row['scratchlab']['samples_per_s'])}")
        if bench_mlp.torch is not None and not args.no_torch:
            row["torch"] = bench_mlp.run_torch(data, epochs, n_batch, threads, seg)
            log(f"  {label} torch {threads}t: {fmt_rate(row['torch']['samples_per_s'])}")
            if torch_default and torch_default != threads:  # short: it can be very slow
                row["torch_default"] = bench_mlp.run_torch(sub, 1, n_batch, torch_default, seg)
                rate = row["torch_default"]["samples_per_s"]
                log(f"  {label} torch {torch_default}t: {fmt_rate(rate)}")
        out[label] = row
    return out


def a1_rows(a1: dict, threads: int) -> tuple[list[list], list[str]]:
    """The A1 summary rows (wall-clock and CPU time) and their detail lines."""
    b = a1["bounds"]
    rows = []
    for how, summary in (("wall, fastest epoch", bench_a1.summarise),
                         ("CPU time, median epoch", bench_a1.summarise_cpu)):  # fmt: skip
        s = summary(a1["scratchlab"])
        t = summary(a1["torch"]) if "torch" in a1 else None
        speed = t / s if t else None
        vs_bound = s / b["bound_s"]
        torch_cell = f"{fmt_ms(t)} ({a1['torch']['variant']}, {threads}t)" if t else TORCH_MISSING
        rows.append([
            f"A1: ms per epoch ({how})", f"{fmt_ms(s)} ({threads}t)", torch_cell,
            f"{fmt_ms(b['bound_s'])} ({threads}t)", f"{speed:.2f}x" if speed else "-",
            f"{vs_bound:.2f}x",
            f">= {GOALS['a1_torch']:g}x PyTorch: "
            f"{'n/a' if speed is None else yes(speed >= GOALS['a1_torch'])}; "
            f"<= {GOALS['a1_bound']:g}x bound: {yes(vs_bound <= GOALS['a1_bound'])}",
        ])  # fmt: skip
    s = bench_a1.summarise(a1["scratchlab"])
    bw = b["bandwidth"]
    s_all = s / b["bound_all_s"]
    lines = [
        f"**A1 bound.** An epoch reads at least {b['epoch_bytes'] / 1e6:.0f} MB (the training "
        "array once for the updates, the training and validation arrays once each for the "
        f"evaluation). The best read bandwidth measured now with {threads} thread(s) is "
        f"{b['bw'] / 1e9:.1f} GB/s ({b['bw_how']}): bound {fmt_ms(b['bound_s'])}; with every "
        f"core {b['bw_all'] / 1e9:.1f} GB/s ({b['bw_all_how']}): bound "
        f"{fmt_ms(b['bound_all_s'])} (scratchlab's fastest epoch is {s_all:.2f}x that). "
        f"The epoch is also {b['epoch_flops'] / 1e9:.2f} GFLOP (two products per batch, one "
        f"per evaluated set); at this machine's float32 GEMM peak "
        f"({b['sgemm_peak'] / 1e9:.0f} GFLOP/s: a square 1536 product, {threads} thread(s), "
        f"CPU time) the arithmetic alone takes {fmt_ms(b['compute_s'])}, "
        f"{b['compute_s'] / b['bound_s']:.2f}x the bandwidth bound. scratchlab's fastest "
        f"epoch ran at {b['epoch_flops'] / s / 1e9:.0f} GFLOP/s.",
        "",
        "Read bandwidth per method (GB/s): "
        + ", ".join(f"{k} {v / 1e9:.1f}" for k, v in bw["all"].items()),
        "",
        f"**A1 runs** ({a1['epochs']} epochs each; the table above pools each "
        "implementation's runs. Final cost and accuracy on train / val: the same maths from "
        "the same initial weights, so they agree to float32 rounding):",
        "",
    ]
    detail = [(f"scratchlab run {i + 1}", r) for i, r in enumerate(a1["scratchlab_runs"])]
    detail += [(f"PyTorch {r['variant']}", r) for r in a1.get("torch_runs", [])]
    if "torch_default" in a1:
        r = a1["torch_default"]
        detail.append((f"PyTorch {r['variant']}, default threads", r))
    lines.append(markdown_table(
        ["implementation", "threads", "epochs", "fastest epoch", "median epoch",
         "CPU time (median)", "train cost", "train acc", "val cost", "val acc"],
        [[name, r["threads"], len(r["epoch_s"]), fmt_ms(min(r["epoch_s"])),
          fmt_ms(median(r["epoch_s"])), fmt_ms(median(r["epoch_cpu_s"])),
          f"{r['train_cost']:.4f}", f"{r['train_acc']:.4f}", f"{r['val_cost']:.4f}",
          f"{r['val_acc']:.4f}"] for name, r in detail],
    ))  # fmt: skip
    return rows, lines


def mlp_rows(mlp: dict, threads: int) -> tuple[list, list[str]]:
    rows, detail = [], []
    names = {"scratchlab": "scratchlab", "torch": "PyTorch",
             "torch_default": "PyTorch, default threads"}  # fmt: skip
    for label in ("batch 100", "full batch"):
        r = mlp[label]
        for how, key in (("wall, fastest segment", "samples_per_s"),
                         ("per CPU second, median segment", "samples_per_cpu_s")):  # fmt: skip
            sr = r["scratchlab"][key]
            tr = r["torch"][key] if "torch" in r else None
            sp = sr / tr if tr else None
            ok = "n/a" if sp is None else yes(sp >= GOALS["mlp_torch"])
            rows.append([
                f"MLP {label}: samples/s ({how})", f"{fmt_rate(sr)} ({threads}t)",
                f"{fmt_rate(tr)} ({threads}t)" if tr else TORCH_MISSING, "-",
                f"{sp:.2f}x" if sp else "-", "-", f">= {GOALS['mlp_torch']:g}x PyTorch: {ok}",
            ])  # fmt: skip
        for who, name in names.items():
            if who in r:
                x = r[who]
                detail.append([
                    label, name, x["threads"], len(x["segment_s"]), x["segment_samples"],
                    fmt_ms(min(x["segment_s"])), fmt_ms(median(x["segment_s"])),
                    fmt_rate(x["samples_per_s"]), fmt_rate(x["samples_per_cpu_s"]),
                    f"{x['train_cost']:.4f}",
                ])  # fmt: skip
    lines = [f"**MLP runs** ({mlp['n_train']:,} training images; training timed in segments "
             f"of {SEGMENT} updates at batch 100 and of one update at full batch, the per-epoch "
             "evaluation never inside one; samples/s from the fastest segment, samples per CPU "
             "second from the median one; PyTorch at its default threads ran one epoch on a "
             f"{mlp['n_sub']:,}-image subset):", "",
             markdown_table(["workload", "implementation", "threads", "segments",
                             "samples per segment", "fastest segment", "median segment",
                             "samples/s", "samples per CPU second", "final train cost"],
                            detail)]  # fmt: skip
    fl = bench_mlp.flops_per_sample()
    r = mlp["full batch"]
    rates = ", ".join(f"{names[w]} {r[w]['samples_per_cpu_s'] * fl / 1e9:.0f} GFLOP/s"
                      for w in ("scratchlab", "torch") if w in r)  # fmt: skip
    lines += ["", f"Full batch is matrix products almost throughout: {fl / 1e3:.0f} kFLOP per "
              f"sample; per CPU second that is {rates}, against a float32 GEMM peak of "
              f"{mlp['sgemm_peak'] / 1e9:.0f} GFLOP/s ({threads} thread(s), square 1536 "
              "product, CPU time)."]  # fmt: skip
    return rows, lines


def memory_rows(mem: dict) -> tuple[list, list[str]]:
    run = mem["runs"]["decode"]
    row = [
        f"Memory: peak RSS ({mem['data_mb']:.0f} MB float32 data)", f"{mem['peak_mb']:.0f} MB",
        "-", f"{mem['goal_mb']:.0f} MB", "-", f"{mem['peak_mb'] / mem['goal_mb']:.2f}x",
        f"<= 1.3 x data + 200 MB: {yes(mem['peak_mb'] <= mem['goal_mb'])}",
    ]  # fmt: skip
    lines = [f"**Memory** (peak RSS = VmHWM of a fresh process, MB, after each phase; "
             f"{run['n_train']:,} train + {run['n_val']:,} val images = {mem['data_mb']:.0f} MB "
             f"float32, plus the {run['test_mb']:.0f} MB test part that `load_split` also "
             "returns; `decode` reads the binary batches and writes the decoded-array cache, "
             "`cached` loads from that cache):", ""]  # fmt: skip
    lines.append(markdown_table(
        ["load", "after imports", "peak after load_split", "RSS after load_split",
         "peak after fit"],
        [[label, f"{r['phases']['imports']:.0f}", f"{r['phases']['load_split']:.0f}",
          f"{r['rss_after_load']:.0f}", f"{r['phases']['fit']:.0f}"]
         for label, r in mem["runs"].items()]))  # fmt: skip
    return row, lines


def thread_lines(th: dict) -> list[str]:
    rows = [[r["condition"], f"{r['load']:.2f}", r["workload"], r["threads"],
             fmt_ms(r["median_s"]) if r["median_s"] >= 0.01 else f"{r['median_s'] * 1e6:.0f} us",
             fmt_ms(r["min_s"]) if r["min_s"] >= 0.01 else f"{r['min_s'] * 1e6:.0f} us"]
            for r in th["rows"]]  # fmt: skip
    return [f"**Threads** (1 BLAS thread against all {th['cores']} cores; median and fastest "
            "of repeated calls; the condition's extra process is started and stopped by the "
            "benchmark):", "",
            markdown_table(["condition", "load avg", "workload", "threads", "median",
                            "fastest"], rows)]  # fmt: skip


def build_report(a1: dict | None, mlp: dict | None, mem: dict | None, th: dict | None,
                 threads: int, load: dict, started: str, quick: bool) -> str:  # fmt: skip
    rows, details = [], []
    if a1 is not None:
        more, lines = a1_rows(a1, threads)
        rows += more
        details += [*lines, ""]
    if mlp is not None:
        more, lines = mlp_rows(mlp, threads)
        rows += more
        details += [*lines, ""]
    if mem is not None:
        row, lines = memory_rows(mem)
        rows.append(row)
        details += [*lines, ""]
    if th is not None:
        details += [*thread_lines(th), ""]
    others = (f"{load['others_cores']:.2f} cores on average" if load["others_cores"] is not None
              else "an unknown share")  # fmt: skip
    header = ["workload", "scratchlab", "PyTorch CPU (peer)", "bound / limit",
              "speed-up vs PyTorch", "scratchlab / bound", "goal met?"]  # fmt: skip
    lines = [
        "# scratchlab benchmarks" + (" (--quick smoke run: shortened workloads)" if quick else ""),
        "",
        f"- date: {started}",
        f"- machine: {machine_line()}",
        f"- threads: scratchlab {threads} BLAS thread(s) (`scratchlab.threads`); the PyTorch "
        "peer the same (`torch.set_num_threads`)",
        f"- load: 1-min load average {load['load_start'][0]:.2f} at the start, "
        f"{load['load_end'][0]:.2f} at the end; other processes used {others} during the "
        f"{load['wall_s']:.0f} s run",
        "- command: `make bench` (`python benchmarks/run_all.py`)",
        "",
        markdown_table(header, rows),
        "",
        "## Details",
        "",
        *details,
    ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="~30 s smoke run")
    p.add_argument("--threads", default=None,
                   help="BLAS threads for both peers (default: scratchlab's policy)")  # fmt: skip
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch peer")
    p.add_argument("--no-memory", action="store_true", help="skip the memory workload")
    p.add_argument("--only", choices=("a1", "mlp", "memory", "threads"), action="append",
                   help="run only this workload (repeatable)")  # fmt: skip
    p.add_argument("--out", type=Path, default=HERE / "results.md", help="markdown output")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    threads = resolve_threads(args.threads)
    started = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    load = LoadMonitor()
    torch_default = None
    if bench_a1.torch is None:
        log(TORCH_MISSING)
    elif not args.no_torch:
        torch_default = bench_a1.torch.get_num_threads()
    t0 = time.perf_counter()
    wanted = set(args.only or ("a1", "mlp", "memory", "threads"))
    a1 = a1_section(args, threads, torch_default) if "a1" in wanted else None
    log(f"  ({time.perf_counter() - t0:.0f} s so far)")
    mlp = mlp_section(args, threads, torch_default) if "mlp" in wanted else None
    log(f"  ({time.perf_counter() - t0:.0f} s so far)")
    mem = None
    if not args.no_memory and "memory" in wanted:
        log("Memory: fake CIFAR binary release, fresh processes ...")
        mem = bench_memory.run(per_batch=2_000 if args.quick else 10_000,
                               epochs=1 if args.quick else 2)  # fmt: skip
    th = None
    if "threads" in wanted:
        log("Threads: 1 vs all cores, as found and with an extra busy process ...")
        t1 = time.perf_counter()
        th = bench_threads.run(quick=args.quick)
        log(f"  ({time.perf_counter() - t1:.0f} s)")
    report = build_report(a1, mlp, mem, th, threads, load.summary(), started, args.quick)
    print(report)
    log(f"(benchmarks took {time.perf_counter() - t0:.0f} s)")
    if not args.no_write:
        args.out.write_text(report)
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
