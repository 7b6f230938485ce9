"""The full section of one run (or one repeat group) in the report.

heading · setup (description, parameters, data sizes) · status · reading (findings rule)
table: loss and accuracy per set, untrained and trained, with 95 % intervals
ensemble members / repeats · retraining · figures · most-confused pairs · per-class table
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scratchlab.experiments.document import Block, Code, Figure, Heading, Para, Table
from scratchlab.experiments.entries import Entry
from scratchlab.experiments.findings import Verdict
from scratchlab.experiments.records import PARTS, RunRecord, confined, png_bytes
from scratchlab.experiments.report_classes import test_set_blocks
from scratchlab.experiments.stats import wilson_acc
from scratchlab.experiments.summary import run_row
from scratchlab.experiments.textfmt import count, num, pct, pct_ci

PARAMS = {
    "model": "hidden",
    "loss": "loss",
    "optimiser": "optimizer",
    "η": "eta",
    "λ": "lambda",
    "L1": "l1",
    "dropout": "dropout",
    "batch norm": "batch_norm",
    "init": "init",
    "epochs": "n_epochs",
    "batch": "n_batch",
    "schedule": "schedule",
    "shuffle": "shuffle",
    "augmentation": "augment",
    "weights kept": "selection",
    "ensemble": "ensemble",
}
CAPTIONS = {
    "curves": "Loss{cost} and accuracy per epoch on the training and validation sets; epoch 0 "
    "(untrained) is marked apart and left out of the y-scale.",
    "weights": "Learnt weights of each class, reshaped to an image and min-max scaled.",
    "units": "First-layer unit templates, min-max scaled.",
    "augmentation": "Training images before (top) and after (bottom) augmentation.",
    "confusion": "Confusion matrix on the test set (rows: true class; colour and percent: "
    "share of the true class).",
    "misclassified": "Misclassified test images with their true and predicted labels.",
    "retrain_curves": "Retraining on the full training set (no validation set).",
}
ORDER = (
    "curves",
    "weights",
    "units",
    "augmentation",
    "confusion",
    "misclassified",
    "retrain_curves",
)


def fmt_param(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Varying:
    """The parameters that differ between the runs shown, and each one's most common value.

    `short(row)` names a run's setting in captions and tables: every varying parameter when
    there are at most `FEW` of them (η 0.1, λ 0), else only those that differ from the
    reference value — the baseline's, or the most common one (what a run changes)."""

    keys: list[str]
    common: dict[str, str]
    baseline: str | None = None

    FEW = 3

    def short(self, row: dict) -> str:
        keys = self.keys
        if len(keys) > self.FEW:
            keys = [k for k in keys if fmt_param(row[PARAMS[k]]) != self.common[k]]
        return params_text(row, keys)

    @property
    def same(self) -> str:
        """What `short` means when it is empty."""
        return "the baseline's setting" if self.baseline else "the most common setting"


def params_text(row: dict, keys: list[str] | None = None) -> str:
    """`η 0.1, λ 0, batch 100` for the given parameter labels (all when None)."""
    keys = list(PARAMS) if keys is None else keys
    return ", ".join(f"{k} {fmt_param(row[PARAMS[k]])}" for k in keys)


BRIEF = ("curves", "retrain_curves")  # the figures of a brief section (report.FULL_SECTIONS)


def run_sections(
    entry: Entry, verdict: Verdict, varying: Varying, exp_dir: Path, detailed: bool = True
) -> list[Block]:
    """Heading, setup, reading, tables and figures of one entry; a brief section (not
    `detailed`) has its learning curves only and points to the run folder for the rest."""
    run = entry.first
    row = run_row(run)
    short = varying.short(row)
    blocks: list[Block] = [Heading(f"Run `{entry.name}`", 3)]
    if run.config.get("description"):
        blocks.append(Para(run.config["description"]))
    blocks.append(Para(f"**Parameters:** {params_text(row)}, seed {run.config.get('seed')}."))
    blocks.append(Para(_data_line(run)))
    blocks.append(Para(_status_line(run)))
    blocks.append(Para(f"**Reading:** {verdict.text}."))
    if entry.repeated:
        blocks.append(_repeats_table(entry))
        blocks.append(Para(f"Below: the first repeat, `{run.name}`."))
    blocks.append(_sets_table(run, short))
    if run.ensemble:
        blocks += _ensemble_blocks(run)
    if run.metrics.get("retrain"):
        blocks.append(_retrain_para(run.metrics["retrain"]))
    blocks += _figures(run, short, row, ORDER if detailed else BRIEF)
    if detailed:
        blocks += test_set_blocks(run)
    else:
        blocks.append(
            Para(
                "Its other figures (weights, confusion matrix, per-class metrics, "
                f"misclassified images) are in the run folder, `{run.name}/figures/`."
            )
        )
    if run.metrics.get("model_summary"):
        blocks.append(Code(run.metrics["model_summary"]))
    return blocks


def _data_line(run: RunRecord) -> str:
    d = run.data
    sizes = ", ".join(
        f"{count(run.n(p))} {w}"
        for p, w in zip(PARTS, ("training", "validation", "test"), strict=True)
    )
    return f"**Data:** {d.get('dataset', '?')} split `{d.get('split', '?')}`: {sizes} images."


def _status_line(run: RunRecord) -> str:
    m = run.metrics
    line = f"**Status:** {run.status} after {m.get('epochs_trained')} epochs"
    if m.get("best_epoch") is not None:
        line += f"; best validation epoch {m['best_epoch']}"
    time_s = m.get("time_s")
    line += f"; {time_s:.1f} s." if isinstance(time_s, int | float) else "."
    if m.get("message"):
        line += f" {m['message']}"
    if run.status == "diverged":
        line += (
            " **This run diverged** (the loss became NaN or infinite); its metrics are "
            "those of the last finite epoch."
        )
    return line


def _sets_table(run: RunRecord, short: str) -> Table:
    rows = []
    for part in PARTS:
        if run.n(part) == 0:
            continue
        rows.append(
            [
                part,
                count(run.n(part)),
                num(run.untrained(part, "loss"), 3),
                pct(run.untrained(part)),
                num(run.final(part, "loss"), 3),
                num(run.final(part, "cost"), 3),
                pct_ci(run.acc(part)),
            ]
        )
    header = [
        "set",
        "images",
        "untrained loss",
        "untrained acc",
        "final loss",
        "final cost",
        "final acc [95 %]",
    ]
    what = "the ensemble's majority vote (a vote has no loss)" if run.ensemble else "the model"
    caption = f"Run `{run.name}`" + (f" ({short})" if short else "")
    return Table(header, rows, f"{caption}: loss and accuracy of {what} per set.")


def _repeats_table(entry: Entry) -> Table:
    rows = [
        [
            r.name,
            str(r.config.get("seed")),
            r.status,
            str(r.metrics.get("epochs_trained")),
            pct(r.final("train")),
            pct(r.final("val")),
            pct(r.final("test")),
        ]
        for r in entry.runs
    ]
    rows.append(["mean ± std", "", "", "", *(_mean_std(entry, p) for p in PARTS)])
    return Table(
        ["repeat", "seed", "status", "epochs", "train acc", "val acc", "test acc"],
        rows,
        f"`{entry.name}` repeated over {len(entry.runs)} seeds (std with ddof = 1).",
    )


def _mean_std(entry: Entry, part: str) -> str:
    from scratchlab.experiments.textfmt import mean_std

    return mean_std(entry.spread(part), 2)


def _ensemble_blocks(run: RunRecord) -> list[Block]:
    ens = run.ensemble
    rows = []
    for i, m in enumerate(ens.get("members", []), 1):
        final = m.get("final") or {}
        rows.append(
            [
                f"member {i}",
                str(m.get("seed")),
                str(m.get("status")),
                str(m.get("epochs_trained")),
                *(pct((final.get(p) or {}).get("acc")) for p in PARTS),
            ]
        )
    mean, std = ens.get("member_mean") or {}, ens.get("member_std") or {}
    rows.append(
        [
            "members: mean ± std",
            "",
            "",
            "",
            *(
                f"{pct((mean.get(p) or {}).get('acc'))} ± {pct((std.get(p) or {}).get('acc'))}"
                for p in PARTS
            ),
        ]
    )
    rows.append(["majority vote", "", "", "", *(pct(run.final(p)) for p in PARTS)])
    return [
        Table(
            ["model", "seed", "status", "epochs", "train acc", "val acc", "test acc"],
            rows,
            f"Run `{run.name}`: the {ens.get('n_members')} members and their majority "
            "vote (std: population, over members).",
        )
    ]


def _retrain_para(rt: dict) -> Para:
    test = rt.get("test") or {}
    n_test = sum((rt.get("test_report") or {}).get("support") or [0])
    acc = wilson_acc(test.get("acc"), n_test) if n_test else None
    shown = pct_ci(acc) if acc is not None else pct(test.get("acc"))
    return Para(
        f"**Retrained on `{rt.get('split')}`** ({count(rt.get('n_train') or 0)} images, "
        f"{rt.get('epochs')} epochs, {rt.get('status')}): test accuracy {shown}, test "
        f"loss {num(test.get('loss'))}."
    )


def _figures(run: RunRecord, short: str, row: dict, keys: tuple[str, ...]) -> list[Block]:
    blocks: list[Block] = []
    regularised = bool(row["lambda"]) or bool(row["l1"])
    for key in keys:
        rel = run.figure(key)
        if not rel:
            continue
        png_bytes(run.dir, rel, f"run {run.name!r}")  # refuses anything outside the run folder
        caption = CAPTIONS[key].format(cost=", cost" if regularised else "")
        label = f"Run `{run.name}`" + (f" ({short})" if short else "")
        blocks.append(Figure(confined(run.dir, rel, f"run {run.name!r}"), f"{label}. {caption}"))
    return blocks
