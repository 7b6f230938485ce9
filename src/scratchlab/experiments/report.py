"""Assemble `report.md` and `report.html` for an experiment folder from what its runs wrote.

DIR/<experiment>/experiment.json      header, run order (written by the runner)
DIR/<experiment>/<run>/config.json    the resolved RunSpec
DIR/<experiment>/<run>/metrics.json   untrained/final metrics, per-class report, figures
DIR/<experiment>/gradcheck.json       optional gradient-check rows
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path

from scratchlab import __version__
from scratchlab.errors import ConfigError
from scratchlab.experiments.document import (
    Block,
    Code,
    Figure,
    Heading,
    Para,
    Table,
    to_html,
    to_markdown,
)
from scratchlab.experiments.generalisation import generalisation_blocks
from scratchlab.experiments.summary import best_index, summary_rows, write_summary_csv
from scratchlab.io import read_json, write_text

_CAPTIONS = {
    "curves": "Loss, cost and accuracy per epoch on the training and validation sets "
    "(epoch 0 = untrained).",
    "weights": "Learnt weights of each class, reshaped to an image and min-max scaled.",
    "units": "First-layer unit templates, min-max scaled.",
    "augmentation": "Training images before (top) and after (bottom) augmentation.",
    "confusion": "Normalised confusion matrix on the test set (rows: true class).",
    "prf": "Per-class precision, recall and F1 on the test set.",
    "misclassified": "The first misclassified test images, with true and predicted labels.",
    "retrain_curves": "Retraining on the full training set (no validation set).",
}


def _pct(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f} %"


def _num(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def build_report(exp_dir: str | Path) -> tuple[Path, Path]:
    """Write summary.csv, report.md and report.html in `exp_dir`; return the two report paths."""
    exp_dir = Path(exp_dir)
    meta_path = exp_dir / "experiment.json"
    if not meta_path.exists():
        raise ConfigError(
            f"{exp_dir} is not an experiment results folder (no experiment.json); "
            "pass the folder `scratchlab run` wrote, e.g. results/assignment1"
        )
    try:
        meta = read_json(meta_path)
        rows = summary_rows(exp_dir, meta["runs"])
        blocks = _blocks(exp_dir, meta, rows)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise ConfigError(  # a results file edited by hand, or from another version
            f"{exp_dir} holds a damaged or foreign results file ({type(exc).__name__}: {exc}); "
            "rerun the experiment (delete a damaged run's folder to retrain it)"
        ) from None
    write_summary_csv(exp_dir / "summary.csv", rows)
    md_path, html_path = exp_dir / "report.md", exp_dir / "report.html"
    write_text(md_path, to_markdown(blocks, exp_dir))
    write_text(html_path, to_html(blocks, meta.get("title") or meta["name"]))
    return md_path, html_path


def _blocks(exp_dir: Path, meta: dict, rows: list[dict]) -> list[Block]:
    title = meta.get("title") or meta["name"]
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    blocks: list[Block] = [Heading(title, 1)]
    if meta.get("description"):
        blocks.append(Para(meta["description"]))
    blocks.append(
        Para(
            f"Experiment `{meta['name']}` · {len(rows)} of {len(meta['runs'])} runs finished · "
            f"scratchlab {__version__} · {stamp}"
        )
    )
    for note in meta.get("notes", []):
        blocks.append(Para(f"**Note:** {note}"))
    blocks += _comparison(exp_dir, rows)
    if (exp_dir / "gradcheck.json").exists():
        blocks += _gradcheck(read_json(exp_dir / "gradcheck.json"))
    blocks.append(Heading("Runs", 2))
    for row in rows:
        blocks += _run_section(exp_dir / row["run"], row)
    return blocks


def _comparison(exp_dir: Path, rows: list[dict]) -> list[Block]:
    if not rows:
        return [Para("No run has finished yet.")]
    best = best_index(rows)
    params = {
        "model": [r["hidden"] for r in rows],
        "loss": [r["loss"] for r in rows],
        "optimiser": [r["optimizer"] for r in rows],
        "λ": [f"{r['lambda']:g}" for r in rows],
        "L1": [f"{r['l1']:g}" for r in rows],
        "dropout": [f"{r['dropout']:g}" for r in rows],
        "η": [f"{r['eta']:g}" for r in rows],
        "epochs": [str(r["epochs_trained"]) for r in rows],
        "batch": [str(r["n_batch"]) for r in rows],
        "schedule": [r["schedule"] for r in rows],
        "augment": [r["augment"] for r in rows],
    }
    # Columns that are the same for every run go into the caption, not the table.
    constant = {k: v[0] for k, v in params.items() if len(rows) > 1 and len(set(v)) == 1}
    varying = [k for k in params if k not in constant]
    header = ["run", "train acc", "val acc", "test acc", *varying, "status"]
    table_rows = [
        [("★ " if i == best else "") + r["run"], _pct(r["train_acc"]), _pct(r["val_acc"]),
         _pct(r["test_acc"]), *(params[k][i] for k in varying), r["status"]]
        for i, r in enumerate(rows)
    ]  # fmt: skip
    on_val = any(not math.isnan(r["val_acc"]) for r in rows)
    rule = "validation accuracy" if on_val else "test accuracy (no run has a validation set)"
    caption = f"Final metrics per run; ★ = selected on {rule}."
    if constant:
        caption += " All runs: " + ", ".join(f"{k} {v}" for k, v in constant.items()) + "."
    blocks: list[Block] = [
        Heading("Comparison", 2),
        Table(header, table_rows, caption, highlight=set() if best is None else {best}),
    ]
    if best is None:
        blocks.append(Para("**No run finished without diverging.**"))
    else:
        b = rows[best]
        blocks.append(
            Para(
                f"**Best run** (selected on {rule}): `{b['run']}` — validation "
                f"accuracy {_pct(b['val_acc'])}, test accuracy {_pct(b['test_acc'])}."
            )
        )
    if (exp_dir / "figures" / "comparison.png").exists():
        blocks.append(Figure(exp_dir / "figures" / "comparison.png", "Test accuracy per run."))
    blocks += _loss_pivot(rows)
    blocks += generalisation_blocks(rows)
    retrained = [r for r in rows if not math.isnan(r["retrain_test_acc"])]
    if retrained:
        blocks += [Heading("Retrained on all training data", 3), Table(
            ["run", "test acc (trained on split)", "test acc (retrained)"],
            [[r["run"], _pct(r["test_acc"]), _pct(r["retrain_test_acc"])] for r in retrained],
            "Each of these runs was retrained from scratch on the full training set for the "
            "epochs its validation run selected, then tested.")]  # fmt: skip
    return blocks


def _loss_pivot(rows: list[dict]) -> list[Block]:
    """Cross-entropy vs SVM side by side for runs that differ only in their loss."""
    losses = sorted({r["loss"] for r in rows})
    if len(losses) < 2:
        return []
    keyed: dict[tuple, dict[str, dict]] = {}
    for r in rows:
        key = (r["lambda"], r["eta"], r["n_epochs"], r["n_batch"], r["hidden"], r["schedule"])
        keyed.setdefault(key, {})[r["loss"]] = r
    header = ["λ", "η", "epochs", "batch", "model"] + [f"{loss} test acc" for loss in losses]
    table = []
    for key, by_loss in keyed.items():
        if len(by_loss) < 2:
            continue
        accs = [_pct(by_loss[loss]["test_acc"]) if loss in by_loss else "–" for loss in losses]
        table.append([f"{key[0]:g}", f"{key[1]:g}", str(key[2]), str(key[3]), key[4], *accs])
    if not table:
        return []
    return [
        Heading("Loss comparison", 3),
        Table(header, table, "Test accuracy of the same configuration under each loss."),
    ]


def _gradcheck(data: dict) -> list[Block]:
    header = ["parameter", "shape", "max abs error", "max rel error",
              f"rel error < {data['tol']:g}", "result"]  # fmt: skip
    rows = [[r["name"], r["shape"], f"{r['max_abs']:.2e}", f"{r['max_rel']:.2e}",
             f"{100 * r['share_ok']:.1f} %", r["status"]] for r in data["rows"]]  # fmt: skip
    return [
        Heading("Gradient check", 2),
        Para(data["description"]),
        Table(header, rows, "Analytic vs centred-difference gradients of the cost (float64)."),
    ]


def _run_section(run_dir: Path, row: dict) -> list[Block]:
    config, metrics = read_json(run_dir / "config.json"), read_json(run_dir / "metrics.json")
    blocks: list[Block] = [Heading(f"Run `{row['run']}`", 3)]
    if config.get("description"):
        blocks.append(Para(config["description"]))
    params = (f"dataset {row['dataset']} ({row['split']}), model {row['hidden']}, "
              f"loss {row['loss']}, init {row['init']}, optimiser {row['optimizer']}, "
              f"η {row['eta']:g}, λ {row['lambda']:g}, L1 {row['l1']:g}, "
              f"dropout {row['dropout']:g}, batch norm {row['batch_norm']}, "
              f"epochs {row['n_epochs']}, batch {row['n_batch']}, schedule {row['schedule']}, "
              f"shuffle {row['shuffle']}, augmentation {row['augment']}, "
              f"ensemble {row['ensemble']}, seed {config['seed']}")  # fmt: skip
    blocks.append(Para(f"**Parameters:** {params}."))
    status = metrics.get("status", "?")
    line = f"**Status:** {status} after {metrics.get('epochs_trained')} epochs"
    if metrics.get("best_epoch") is not None:
        line += f"; best validation epoch {metrics['best_epoch']}"
    blocks.append(Para(line + f"; {metrics.get('time_s', 0):.1f} s."))
    if status == "diverged":
        blocks.append(Para("**This run diverged** (the loss became NaN or infinite); its "
                           "metrics are those of the last finite epoch."))  # fmt: skip
    untrained, final = metrics.get("untrained", {}), metrics.get("final", {})
    table = [[part, _pct(untrained.get(part, {}).get("acc")), _pct(final.get(part, {}).get("acc")),
              _num(final.get(part, {}).get("loss")), _num(final.get(part, {}).get("cost"))]
             for part in ("train", "val", "test")]  # fmt: skip
    blocks.append(Table(["set", "untrained acc", "trained acc", "final loss", "final cost"], table))
    if "ensemble" in metrics:
        ens = metrics["ensemble"]
        members = ", ".join(_pct(a) for a in ens["member_test_acc"])
        blocks.append(
            Para(
                f"**Ensemble of {len(ens['member_test_acc'])}** (majority vote): "
                f"test accuracy {_pct(ens['vote_test_acc'])}; members {members}."
            )
        )
    if "retrain" in metrics:
        rt = metrics["retrain"]
        blocks.append(Para(f"**Retrained on `{rt['split']}`** ({rt['n_train']} images, "
                           f"{rt['epochs']} epochs): test accuracy {_pct(rt['test']['acc'])}, "
                           f"test loss {_num(rt['test']['loss'])}."))  # fmt: skip
    for key, rel in metrics.get("figures", {}).items():
        if (run_dir / rel).exists():
            blocks.append(Figure(run_dir / rel, _CAPTIONS.get(key, key)))
    report = metrics.get("test_report")
    if report:
        prf = [[name, f"{p:.3f}", f"{r:.3f}", f"{f:.3f}", str(s)] for name, p, r, f, s in zip(
            report["class_names"], report["precision"], report["recall"], report["f1"],
            report["support"], strict=True)]  # fmt: skip
        blocks.append(
            Table(
                ["class", "precision", "recall", "F1", "support"],
                prf,
                "Per-class metrics on the test set.",
            )
        )
    if metrics.get("model_summary"):
        blocks.append(Code(metrics["model_summary"]))
    return blocks
