"""Run folders in the run-folder format (format 2), built from constructed numbers.

The report reads only these files, so its tests build them directly — no training:

    exp = Lab(tmp_path / "lab")                   # an experiment folder
    exp.run("good", history=curve(...), val=(381, 932), test=(372, 1000))
    exp.write(report={"baseline": "good"})        # experiment.json last
    build_report(exp.dir)

`val=(k, n)` writes predictions with exactly k of n images right (which ones: `right=`, a
boolean mask, or the first k); accuracies in metrics.json follow from the predictions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from scratchlab.experiments.schema import RunSpec

K = 10
CLASSES = [f"class{k}" for k in range(K)]


def curve(
    n_epochs: int = 10,
    *,
    loss0: float = 2.30,
    loss_end: float = 1.60,
    train_acc: float = 0.45,
    val_acc: float = 0.40,
    acc0: float = 0.10,
    val_gap_loss: float = 0.1,
    lam: float = 0.0,
) -> list[dict]:
    """A smooth history: losses decay geometrically from loss0 to loss_end, accuracies rise
    from acc0; cost = loss + `lam` (a stand-in for the penalty); epoch 0 = untrained."""
    rows = []
    for e in range(n_epochs + 1):
        t = 1 - math.exp(-3 * e / n_epochs) if e else 0.0
        t /= 1 - math.exp(-3)
        loss = loss0 + (loss_end - loss0) * t
        vloss = loss + val_gap_loss * t
        rows.append(
            {
                "epoch": e,
                "train_loss": loss,
                "train_cost": loss + lam * t,
                "train_acc": acc0 + (train_acc - acc0) * t,
                "val_loss": vloss,
                "val_cost": vloss + lam * t,
                "val_acc": acc0 + (val_acc - acc0) * t,
                "lr": 0.001,
                "time": 0.5 * e,
            }
        )
    return rows


def unstable_curve(n_epochs: int = 10) -> list[dict]:
    """η too large: the training loss jumps around and ends above its untrained value."""
    rows = curve(n_epochs, loss0=2.44, loss_end=2.0, train_acc=0.30, val_acc=0.27)
    for e, r in enumerate(rows[1:], 1):
        r["train_loss"] = r["train_cost"] = 2.3 + (0.9 if e % 2 else 0.0) + 0.09 * e
        r["val_loss"] = r["val_cost"] = r["train_loss"] + 0.1
    return rows


def oscillating_curve(n_epochs: int = 10) -> list[dict]:
    """Loss below the start at the end, but rising by > 2 % every other epoch."""
    rows = curve(n_epochs, loss0=2.4, loss_end=1.7)
    for e, r in enumerate(rows[1:], 1):
        r["train_loss"] = r["train_cost"] = 2.0 - 0.02 * e + (0.15 if e % 2 else 0.0)
    return rows


def _predictions(k: int, n: int, right: np.ndarray | None, seed: int) -> tuple:
    true = np.arange(n, dtype=np.int64) % K
    mask = np.zeros(n, bool) if right is None else np.asarray(right, bool)
    if right is None:
        mask[:k] = True
    pred = np.where(mask, true, (true + 1 + seed % (K - 1)) % K)
    return pred.astype(np.int64), true


def _score(loss: float, acc: float) -> dict:
    nan = loss is None or (isinstance(loss, float) and math.isnan(loss))
    return {"loss": None if nan else loss, "cost": None if nan else loss, "acc": acc}


class Lab:
    """An experiment folder being filled with runs."""

    def __init__(self, path: Path, name: str = "lab") -> None:
        self.dir = Path(path)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.runs: list[str] = []
        self.report: dict | None = None

    def run(
        self,
        name: str,
        *,
        history: list[dict] | None = None,
        val=(380, 932),
        test=(370, 1000),
        n_train: int = 4000,
        right_val=None,
        right_test=None,
        status: str = "completed",
        spec: dict | None = None,
        members=None,
        figures: dict[str, str] | None = None,
        message: str = "",
        class_names=None,
        retrain=None,
        data_path: str | None = None,
        verified: bool = False,
    ) -> Path:
        """Write one finished run; returns its folder."""
        run_dir = self.dir / name
        run_dir.mkdir(parents=True, exist_ok=True)
        base = {
            "name": name,
            "data": {"dataset": "cifar10", "split": "a1", "path": data_path},
            "train": {"n_epochs": 10, "n_batch": 100, "eta": 0.001},
        }
        config = _merge(base, spec or {})
        config = RunSpec.model_validate(config).model_dump(mode="json", by_alias=True)
        _dump(run_dir / "config.json", config)
        seed = config["seed"]
        vp, vt = _predictions(*val, right_val, seed) if val else (np.empty(0, np.int64),) * 2
        tp, tt = _predictions(*test, right_test, seed)
        np.savez(run_dir / "predictions.npz", val_pred=vp, val_true=vt, test_pred=tp, test_true=tt)
        histories = members or [history or curve()]
        for i, rows in enumerate(histories):
            folder = run_dir if members is None else run_dir / f"member-{i + 1}"
            _history_csv(folder / "history.csv", rows)
        first, last = histories[0][0], histories[0][-1]
        acc = {
            "val": float(np.mean(vp == vt)) if vp.size else None,
            "test": float(np.mean(tp == tt)),
        }
        final = {
            "train": _score(None if members else last["train_loss"], last["train_acc"]),
            "val": _score(None if members or not vp.size else last["val_loss"], acc["val"]),
            "test": _score(None if members else last["val_loss"] + 0.05, acc["test"]),
        }
        untrained = {
            p: _score(first["train_loss"], first["train_acc"]) for p in ("train", "val", "test")
        }
        names = class_names or CLASSES
        cm = np.zeros((len(names), len(names)), dtype=int)
        np.add.at(cm, (tt % len(names), tp % len(names)), 1)
        metrics = {
            "format": 2,
            "run": name,
            "status": status,
            "message": message,
            "seed": seed,
            "epochs_trained": int(last["epoch"]),
            "best_epoch": None,
            "time_s": 12.5,
            "data": {
                "dataset": config["data"]["dataset"],
                "split": config["data"]["split"],
                "n_train": n_train,
                "n_val": int(vp.size),
                "n_test": int(tp.size),
                "class_names": names,
                "image_shape": [3, 32, 32],
                "verified": verified,
            },
            "untrained": untrained,
            "final": final,
            "ensemble": _ensemble(histories, seed, acc) if members else None,
            "test_report": {
                "class_names": names,
                "precision": [0.5] * len(names),
                "recall": [0.5] * len(names),
                "f1": [0.5] * len(names),
                "support": cm.sum(1).tolist(),
                "accuracy": acc["test"],
                "confusion": cm.tolist(),
                "confusion_normalised": (cm / np.maximum(cm.sum(1, keepdims=True), 1)).tolist(),
            },
            "retrain": retrain,
            "figures": figures or {},
            "model_summary": "Linear(3072 -> 10)",
        }
        _dump(run_dir / "metrics.json", metrics)
        self.runs.append(name)
        return run_dir

    def write(
        self,
        *,
        report: dict | None = None,
        notes=(),
        title: str = "A lab",
        description: str = "Setup only.",
        source: str | None = None,
    ) -> Path:
        meta = {
            "name": self.name,
            "title": title,
            "description": description,
            "runs": self.runs,
            "notes": list(notes),
            "source": source,
        }
        report = report if report is not None else self.report
        if report is not None:
            meta["report"] = report
        _dump(self.dir / "experiment.json", meta)
        return self.dir


def _ensemble(histories, seed: int, acc: dict) -> dict:
    members = [
        {
            "seed": seed + i + 1,
            "status": "completed",
            "epochs_trained": h[-1]["epoch"],
            "best_epoch": None,
            "final": {
                p: _score(h[-1]["train_loss"], h[-1]["train_acc"]) for p in ("train", "val", "test")
            },
        }
        for i, h in enumerate(histories)
    ]
    mean = {
        p: _score(None, float(np.mean([h[-1]["train_acc"] for h in histories])))
        for p in ("train", "val", "test")
    }
    std = {
        p: _score(None, float(np.std([h[-1]["train_acc"] for h in histories])))
        for p in ("train", "val", "test")
    }
    return {
        "vote": "majority",
        "n_members": len(histories),
        "members": members,
        "member_mean": mean,
        "member_std": std,
    }


def _history_csv(path: Path, rows: list[dict]) -> None:
    from scratchlab.train import History

    h = History()
    for r in rows:
        h.append(r)
    path.parent.mkdir(parents=True, exist_ok=True)
    h.to_csv(path)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _dump(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1, allow_nan=False), encoding="utf-8")


def mask(n: int, right: list[int] | range) -> np.ndarray:
    """A boolean mask of n images with the given indices right."""
    m = np.zeros(n, bool)
    m[list(right)] = True
    return m


def draw_run_figures(run_dir: Path, rows: list[dict], seed: int = 0) -> dict[str, str]:
    """Real per-run PNGs (curves, weights, confusion) as the pipeline draws them."""
    from scratchlab import plots

    rng = np.random.default_rng(seed)
    fig = run_dir / "figures"
    plots.plot_loss_cost_acc(rows, fig / "curves.png", title=run_dir.name)
    W = rng.standard_normal((3 * 32 * 32, K)).cumsum(axis=0)
    plots.plot_weight_templates(W, (3, 32, 32), CLASSES, fig / "weights.png")
    cm = rng.dirichlet(np.ones(K) * 0.5, size=K) * 0.4 + np.eye(K) * 0.6
    plots.plot_confusion(cm, CLASSES, fig / "confusion.png", counts=(cm * 100).astype(int))
    return {
        "curves": "figures/curves.png",
        "weights": "figures/weights.png",
        "confusion": "figures/confusion.png",
    }


def a1_lab(path: Path, *, figures: bool = False) -> Lab:
    """Assignment 1's shape: an unstable η = 0.1 run, an overfitting run, and two runs tied
    with the best on 932 validation images; a baseline and a reference."""
    lab = Lab(path, "a1")
    specs = [
        ("lambda0-eta0.1", unstable_curve(), (260, 932), (270, 1000), 0.1, 0.0),
        (
            "lambda0-eta0.001",
            curve(train_acc=0.45, val_acc=0.38),
            (355, 932),
            (370, 1000),
            0.001,
            0.0,
        ),
        (
            "lambda0.1-eta0.001",
            curve(train_acc=0.44, val_acc=0.383, lam=0.1),
            (357, 932),
            (372, 1000),
            0.001,
            0.1,
        ),
        (
            "lambda1-eta0.001",
            curve(train_acc=0.40, val_acc=0.385, lam=0.5),
            (359, 932),
            (368, 1000),
            0.001,
            1.0,
        ),
    ]
    for name, rows, val, test, eta, lam in specs:
        spec = {"train": {"eta": eta, "lambda": lam}}
        run_dir = lab.dir / name
        figs = draw_run_figures(run_dir, rows) if figures else None
        lab.run(
            name,
            history=rows,
            val=val,
            test=test,
            spec=spec,
            figures=figs,
            data_path="/home/someone/data/cifar-10-sample",
        )
    return lab


def bonus_lab(path: Path, *, figures: bool = False) -> Lab:
    """The bonus shape: a baseline, an ensemble, repeats, and a 3 × 3 × 2 grid."""
    lab = Lab(path, "bonus")
    base = curve(train_acc=0.42, val_acc=0.39)
    lab.run(
        "all-data",
        history=base,
        val=(390, 1000),
        test=(392, 1000),
        n_train=49000,
        figures=draw_run_figures(lab.dir / "all-data", base) if figures else None,
    )
    members = [curve(train_acc=0.42 + 0.005 * i, val_acc=0.39) for i in range(3)]
    lab.run(
        "ensemble-3",
        members=members,
        val=(405, 1000),
        test=(401, 1000),
        n_train=49000,
        spec={"ensemble": 3},
    )
    groups = {"shuffle": []}
    for k in range(3):
        name = f"shuffle-r{k}"
        lab.run(
            name,
            history=curve(train_acc=0.42, val_acc=0.39 + 0.004 * k),
            val=(392 + 4 * k, 1000),
            test=(390 + 3 * k, 1000),
            n_train=49000,
            spec={"seed": k, "train": {"shuffle": True}},
        )
        groups["shuffle"].append(name)
    grid_runs = []
    for eta, lam, batch in (
        (e, la, b) for e in (0.001, 0.005, 0.02) for la in (0.0, 0.01, 0.1) for b in (50, 100)
    ):
        name = f"search-eta{eta:g}-lambda{lam:g}-n_batch{batch}"
        score = 380 + int(4000 * eta) - int(60 * lam) + (3 if batch == 100 else 0)
        lab.run(
            name,
            history=curve(train_acc=score / 1000 + 0.03, val_acc=score / 1000),
            val=(score, 1000),
            test=(score - 2, 1000),
            n_train=49000,
            spec={"train": {"eta": eta, "lambda": lam, "n_batch": batch}},
        )
        grid_runs.append(name)
    lab.report = {
        "baseline": "all-data",
        "groups": groups,
        "grids": [
            {
                "name": "search",
                "runs": grid_runs,
                "axes": [
                    ["train.eta", [0.001, 0.005, 0.02]],
                    ["train.lambda", [0.0, 0.01, 0.1]],
                    ["train.n_batch", [50, 100]],
                ],
            }
        ],
        "figures": [
            {
                "name": "eta-curves",
                "title": "η 0.001 vs 0.02",
                "kind": "curves",
                "runs": ["all-data", "search-eta0.02-lambda0-n_batch100"],
                "metric": None,
                "sets": ["train", "val"],
                "x": None,
                "y": None,
                "value": "val_acc",
            },
            {
                "name": "eta-lambda",
                "title": "Validation accuracy over η × λ",
                "kind": "heatmap",
                "runs": ["search-*"],
                "metric": None,
                "sets": ["train", "val"],
                "x": "train.eta",
                "y": "train.lambda",
                "value": "val_acc",
            },
            {
                "name": "lr",
                "title": "",
                "kind": "lr",
                "runs": ["all-data"],
                "metric": None,
                "sets": ["train", "val"],
                "x": None,
                "y": None,
                "value": "val_acc",
            },
        ],
    }
    return lab


def set_figures(run_dir: Path, figures: dict[str, str]) -> None:
    """Rewrite the `figures` entry of a run's metrics.json (e.g. to a hostile path)."""
    path = Path(run_dir) / "metrics.json"
    metrics = json.loads(path.read_text(encoding="utf-8"))
    metrics["figures"] = figures
    _dump(path, metrics)


def tiny_png(path: Path, colour=(200, 30, 30)) -> Path:
    """A 4×4 one-colour PNG."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), colour).save(path)
    return path
