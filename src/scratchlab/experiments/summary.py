"""One row per run: its parameters and its train/val/test loss, cost and accuracy.

`summary_rows` reads what the runner wrote (`config.json`, `metrics.json` in each run folder),
so `scratchlab report DIR` can rebuild everything without retraining.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from scratchlab.io import read_json, write_text

COLUMNS = [
    "run", "status", "dataset", "split", "hidden", "loss", "optimizer", "eta", "lambda", "l1",
    "n_epochs", "n_batch", "schedule", "shuffle", "augment", "dropout", "batch_norm", "init",
    "ensemble", "epochs_trained", "best_epoch",
    "train_loss", "train_cost", "train_acc", "val_loss", "val_cost", "val_acc",
    "test_loss", "test_cost", "test_acc", "retrain_test_acc", "time_s",
]  # fmt: skip


def describe_schedule(schedule: dict) -> str:
    params = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in schedule.items() if k != "name")  # fmt: skip
    return f"{schedule['name']}({params})" if params else schedule["name"]


def describe_augment(augment: list[dict]) -> str:
    if not augment:
        return "none"
    parts = []
    for spec in augment:
        params = ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in spec.items() if k != "kind")  # fmt: skip
        parts.append(f"{spec['kind']}({params})" if params else spec["kind"])
    return "+".join(parts)


def run_row(config: dict, metrics: dict) -> dict:
    data, model, train = config["data"], config["model"], config["train"]
    row = {
        "run": config["name"],
        "status": metrics.get("status", "?"),
        "dataset": data["dataset"],
        "split": data["split"],
        "hidden": "-".join(str(h) for h in model["hidden"]) or "linear",
        "loss": model["loss"],
        "optimizer": train["optimizer"],
        "eta": train["eta"],
        "lambda": train["lambda"],
        "l1": train["l1"],
        "n_epochs": train["n_epochs"],
        "n_batch": train["n_batch"],
        "schedule": describe_schedule(train["schedule"]),
        "shuffle": train["shuffle"],
        "augment": describe_augment(train["augment"]),
        "dropout": model["dropout"],
        "batch_norm": model["batch_norm"],
        "init": model["init"],
        "ensemble": config["ensemble"],
        "epochs_trained": metrics.get("epochs_trained"),
        "best_epoch": metrics.get("best_epoch"),
        "time_s": round(metrics.get("time_s", math.nan), 2),
    }
    final = metrics.get("final", {})
    for part in ("train", "val", "test"):
        for key in ("loss", "cost", "acc"):
            row[f"{part}_{key}"] = final.get(part, {}).get(key, math.nan)
    row["retrain_test_acc"] = metrics.get("retrain", {}).get("test", {}).get("acc", math.nan)
    return row


def summary_rows(exp_dir: Path, run_names: list[str]) -> list[dict]:
    rows = []
    for name in run_names:
        run_dir = exp_dir / name
        if (run_dir / "metrics.json").exists() and (run_dir / "config.json").exists():
            rows.append(
                run_row(read_json(run_dir / "config.json"), read_json(run_dir / "metrics.json"))
            )
        # A run without metrics.json has not finished; the report lists only finished runs.
    return rows


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


def best_index(rows: list[dict]) -> int | None:
    """The run selected on validation accuracy among runs that have one (never on test).

    Diverged runs are never selected. Only when no run has a validation set is the
    selection made on test accuracy (and the report says so).
    """
    candidates = [i for i, r in enumerate(rows) if r["status"] != "diverged"]
    with_val = [i for i in candidates if not math.isnan(rows[i]["val_acc"])]
    if with_val:
        return max(with_val, key=lambda i: rows[i]["val_acc"])
    tested = [i for i in candidates if not math.isnan(rows[i]["test_acc"])]
    return max(tested, key=lambda i: rows[i]["test_acc"]) if tested else None
