"""One row per run: its parameters and its train/val/test loss, cost and accuracy.

`summary_rows` reads what the run pipeline wrote (`config.json`, `metrics.json` in each run
folder, see `records.py`), so `scratchlab report DIR` rebuilds everything without retraining.
Accuracies come with their 95 % Wilson interval (`*_acc_lo`, `*_acc_hi`) on the set's size.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from scratchlab.experiments.records import PARTS, RunRecord, load_records
from scratchlab.io import write_text

COLUMNS = [
    "run",
    "status",
    "dataset",
    "split",
    "hidden",
    "loss",
    "optimizer",
    "eta",
    "lambda",
    "l1",
    "n_epochs",
    "n_batch",
    "schedule",
    "shuffle",
    "augment",
    "selection",
    "dropout",
    "batch_norm",
    "init",
    "ensemble",
    "seed",
    "epochs_trained",
    "best_epoch",
    "n_train",
    "n_val",
    "n_test",
    "train_loss",
    "train_cost",
    "train_acc",
    "val_loss",
    "val_cost",
    "val_acc",
    "test_loss",
    "test_cost",
    "test_acc",
    "val_acc_lo",
    "val_acc_hi",
    "test_acc_lo",
    "test_acc_hi",
    "retrain_test_acc",
    "time_s",
]


def describe_schedule(schedule: dict) -> str:
    params = ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in schedule.items()
        if k != "name"
    )
    return f"{schedule['name']}({params})" if params else schedule["name"]


def describe_augment(augment: list[dict]) -> str:
    if not augment:
        return "none"
    parts = []
    for spec in augment:
        params = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in spec.items()
            if k != "kind"
        )
        parts.append(f"{spec['kind']}({params})" if params else spec["kind"])
    return " + ".join(parts)  # spaces: a narrow table cell (PDF) may wrap between them


def describe_selection(train: dict) -> str:
    """Which epoch's weights the run keeps: `last`, `best val` (keep-best) or early stopping."""
    es = train.get("early_stopping")
    if es:
        kept = "best" if es.get("restore_best", True) else "last"
        return f"early stopping on {es['monitor']} (patience {es['patience']}, {kept} weights)"
    return "best val" if train.get("keep_best") else "last"


def run_row(record: RunRecord) -> dict:
    """The summary row of one finished run (keys `COLUMNS`; NaN for what was not measured)."""
    config, metrics = record.config, record.metrics
    data, model, train = config["data"], config["model"], config["train"]
    row = {
        "run": record.name,
        "status": record.status,
        "dataset": data["dataset"],
        "split": data["split"],
        "hidden": "-".join(str(h) for h in model["hidden"]) or "linear",
        "loss": model["loss"],
        "optimizer": train["optimizer"],
        "eta": train["eta"],
        "lambda": train["lambda"],
        "l1": train.get("l1", 0.0),
        "n_epochs": train["n_epochs"],
        "n_batch": train["n_batch"],
        "schedule": describe_schedule(train["schedule"]),
        "shuffle": train.get("shuffle", False),
        "augment": describe_augment(train.get("augment", [])),
        "selection": describe_selection(train),
        "dropout": model.get("dropout", 0.0),
        "batch_norm": model.get("batch_norm", False),
        "init": model.get("init", "?"),
        "ensemble": config.get("ensemble", 1),
        "seed": config.get("seed"),
        "epochs_trained": metrics.get("epochs_trained"),
        "best_epoch": metrics.get("best_epoch"),
        "time_s": round(_float(metrics.get("time_s")), 2),
    }
    for part in PARTS:
        row[f"n_{part}"] = record.n(part)
        for key in ("loss", "cost", "acc"):
            row[f"{part}_{key}"] = record.final(part, key)
    for part in ("val", "test"):
        ci = record.acc(part)
        row[f"{part}_acc_lo"], row[f"{part}_acc_hi"] = ci.lo, ci.hi
    retrain = metrics.get("retrain") or {}
    row["retrain_test_acc"] = _float((retrain.get("test") or {}).get("acc"))
    return row


def _float(value: object) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
    )


def summary_rows(exp_dir: str | Path, run_names: list[str]) -> list[dict]:
    """One row per finished run among `run_names` (a run without metrics.json is skipped)."""
    return [run_row(r) for r in load_records(Path(exp_dir), run_names)]


def write_summary_csv(path: Path, rows: list[dict]) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(row.get(k)) for k in COLUMNS})
    return write_text(path, buf.getvalue())


def _fmt(value: object) -> object:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return "" if value is None else value
