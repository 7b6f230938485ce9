"""Markdown for the speed workloads of one kernel child: summary rows and detail lines.

Ratios: speed-up = PyTorch time / scratchlab time (same threads); "/ bound" = scratchlab
time / the physical bound max(bytes / read bandwidth, FLOPs / float32 GEMM peak) measured
in the same child, i.e. under the same OpenBLAS kernel.
"""

from __future__ import annotations

import bench_a1
import bench_mlp
from bench_common import fmt_ms, fmt_rate, markdown_table, median

TORCH_MISSING = "torch not installed: pip install .[bench]"
AVX512 = ("skylakex", "cooperlake", "sapphirerapids")
GOALS = {"a1_torch_avx2": 3.0, "a1_torch_avx512": 4.0, "bound": 1.5, "mlp_torch": 1.5}


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def a1_goal(arch: str) -> float:
    return GOALS["a1_torch_avx512" if arch in AVX512 else "a1_torch_avx2"]


def _bound_cell(b: dict) -> str:
    which = "bandwidth" if b["bound_s"] >= b["compute_s"] else "arithmetic"
    return f"{fmt_ms(b['physical_s'])} ({which})"


def a1_rows(run: dict) -> list[list[str]]:
    a1, k, t = run["a1"], run["label"], run["threads"]
    b, goal = a1["bounds"], a1_goal(run["arch"])
    rows = []
    for how, summary in (
        ("wall, fastest epoch", bench_a1.summarise),
        ("CPU time, median epoch", bench_a1.summarise_cpu),
    ):
        s = summary(a1["scratchlab"])
        p = summary(a1["torch"]) if "torch" in a1 else None
        speed, vs = (p / s if p else None), s / b["physical_s"]
        rows.append(
            [
                f"A1 [{k}]: ms per epoch ({how})",
                f"{fmt_ms(s)} ({t}t, {a1['route']})",
                f"{fmt_ms(p)} ({a1['torch']['variant']}, {t}t)" if p else TORCH_MISSING,
                _bound_cell(b),
                f"{speed:.2f}x" if speed else "-",
                f"{vs:.2f}x",
                f">= {goal:g}x PyTorch: {'n/a' if speed is None else yes(speed >= goal)}; "
                f"<= {GOALS['bound']:g}x bound: {yes(vs <= GOALS['bound'])}",
            ]
        )
    return rows


def mlp_rows(run: dict) -> list[list[str]]:
    mlp, k, t = run["mlp"], run["label"], run["threads"]
    n, b = mlp["n_train"], mlp["bounds"]
    rows = []
    for label in ("batch 100", "full batch"):
        r = mlp[label]
        for how, key in (
            ("wall, fastest segment", "samples_per_s"),
            ("per CPU second, median segment", "samples_per_cpu_s"),
        ):
            s = n / r["scratchlab"][key]
            p = n / r["torch"][key] if "torch" in r else None
            speed, vs = (p / s if p else None), s / b["physical_s"]
            goal = "-"
            if label == "batch 100":
                ok = "n/a" if speed is None else yes(speed >= GOALS["mlp_torch"])
                goal = f">= {GOALS['mlp_torch']:g}x PyTorch: {ok}"
            rows.append(
                [
                    f"MLP [{k}] {label}: ms per epoch of updates ({how})",
                    f"{fmt_ms(s)} ({t}t)",
                    f"{fmt_ms(p)} ({t}t)" if p else TORCH_MISSING,
                    _bound_cell(b),
                    f"{speed:.2f}x" if speed else "-",
                    f"{vs:.2f}x",
                    goal,
                ]
            )
    return rows


def a1_details(run: dict) -> list[str]:
    a1, t = run["a1"], run["threads"]
    b = a1["bounds"]
    s = bench_a1.summarise(a1["scratchlab"])
    lines = [
        f"**A1 bound [{run['label']}].** An epoch reads at least {b['epoch_bytes'] / 1e6:.0f} "
        "MB (the training array once for the updates, the training and validation arrays "
        f"once each for the evaluation): at the best read bandwidth measured with {t} "
        f"thread(s), {b['bw'] / 1e9:.1f} GB/s ({b['bw_how']}), that takes "
        f"{fmt_ms(b['bound_s'])}. It is also {b['epoch_flops'] / 1e9:.2f} GFLOP (two "
        "products per batch, one per evaluated set): at this kernel's float32 GEMM peak "
        f"({b['sgemm_peak'] / 1e9:.0f} GFLOP/s, square 1536 product, {t} thread(s), CPU time) "
        f"{fmt_ms(b['compute_s'])}. Physical bound: {_bound_cell(b)}. scratchlab's fastest "
        f"epoch ran at {b['epoch_flops'] / s / 1e9:.0f} GFLOP/s (skinny products on the "
        f"`{a1['route']}` route of `scratchlab.nn.blas`). With every core the bandwidth "
        f"bound is {fmt_ms(b['bound_all_s'])} ({b['bw_all'] / 1e9:.1f} GB/s).",
        "",
        "Read bandwidth per method (GB/s): "
        + ", ".join(f"{k} {v / 1e9:.1f}" for k, v in b["bandwidth"]["all"].items()),
        "",
        f"**A1 runs [{run['label']}]** ({a1['epochs']} epochs each; the summary pools each "
        "implementation's runs; same maths from the same initial weights, so final cost "
        "and accuracy agree to float32 rounding):",
        "",
    ]
    detail = [(f"scratchlab run {i + 1}", r) for i, r in enumerate(a1["scratchlab_runs"])]
    if "numpy_route" in a1:
        detail.append(("scratchlab, NumPy route (no compiled kernels)", a1["numpy_route"]))
    detail += [(f"PyTorch {r['variant']}", r) for r in a1.get("torch_runs", [])]
    if "torch_default" in a1:
        r = a1["torch_default"]
        detail.append((f"PyTorch {r['variant']}, default threads", r))
    lines.append(
        markdown_table(
            [
                "implementation",
                "threads",
                "epochs",
                "fastest epoch",
                "median epoch",
                "CPU time (median)",
                "train cost",
                "train acc",
                "val cost",
                "val acc",
            ],
            [
                [
                    name,
                    r["threads"],
                    len(r["epoch_s"]),
                    fmt_ms(min(r["epoch_s"])),
                    fmt_ms(median(r["epoch_s"])),
                    fmt_ms(median(r["epoch_cpu_s"])),
                    f"{r['train_cost']:.4f}",
                    f"{r['train_acc']:.4f}",
                    f"{r['val_cost']:.4f}",
                    f"{r['val_acc']:.4f}",
                ]
                for name, r in detail
            ],
        )
    )
    return lines


def mlp_details(run: dict, segment: int) -> list[str]:
    mlp, t = run["mlp"], run["threads"]
    names = {
        "scratchlab": "scratchlab",
        "torch": "PyTorch",
        "torch_default": "PyTorch, default threads",
    }
    detail = []
    for label in ("batch 100", "full batch"):
        for who, name in names.items():
            if who in mlp[label]:
                x = mlp[label][who]
                detail.append(
                    [
                        label,
                        name,
                        x["threads"],
                        len(x["segment_s"]),
                        x["segment_samples"],
                        fmt_ms(min(x["segment_s"])),
                        fmt_ms(median(x["segment_s"])),
                        fmt_rate(x["samples_per_s"]),
                        fmt_rate(x["samples_per_cpu_s"]),
                        f"{x['train_cost']:.4f}",
                    ]
                )
    b, fl = mlp["bounds"], bench_mlp.flops_per_sample()
    r = mlp["full batch"]
    rates = ", ".join(
        f"{names[w]} {r[w]['samples_per_cpu_s'] * fl / 1e9:.0f} GFLOP/s"
        for w in ("scratchlab", "torch")
        if w in r
    )
    return [
        f"**MLP runs [{run['label']}]** ({mlp['n_train']:,} training images; training timed "
        f"in segments of {segment} updates at batch 100 and of one update at full batch, the "
        "per-epoch evaluation never inside one; samples/s from the fastest segment, samples "
        "per CPU second from the median one; PyTorch at its default threads ran one epoch on "
        f"a {mlp['n_sub']:,}-image subset):",
        "",
        markdown_table(
            [
                "workload",
                "implementation",
                "threads",
                "segments",
                "samples per segment",
                "fastest segment",
                "median segment",
                "samples/s",
                "samples per CPU second",
                "final train cost",
            ],
            detail,
        ),
        "",
        f"MLP bound: an epoch of updates reads the {mlp['n_train']:,} images once "
        f"({fmt_ms(b['bound_s'])} at {b['bw'] / 1e9:.1f} GB/s, {b['bw_how']}) and does "
        f"{fl / 1e3:.0f} kFLOP per image ({fmt_ms(b['compute_s'])} at the GEMM peak of "
        f"{mlp['sgemm_peak'] / 1e9:.0f} GFLOP/s, {t} thread(s)): {_bound_cell(b)}. Full batch "
        f"per CPU second: {rates}.",
    ]
