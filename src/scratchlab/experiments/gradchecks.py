"""The experiment's checks, computed once per experiment into `<exp>/gradcheck.json`.

    gradient checks   analytic vs centred-difference gradients of the first run's model,
                      one entry per `gradcheck` table (`scratchlab.experiments.checkspec`)
    overfit           the first run's model trained on a tiny subset until 100 % training
                      accuracy (`scratchlab.experiments.sanity.run_overfit`)

Each entry records the settings it was computed with (the check's own, the model it built,
the data's fingerprint and the seed). `update_gradcheck` (the runner calls it after the
runs) keeps an entry whose settings are unchanged, recomputes one whose settings changed or
that is new, and drops one the file no longer asks for -- per check, so adding a check does
not recompute the others. A damaged or older file is recomputed whole; `--fresh` recomputes
everything; with no check asked the file is removed (never stale). Format: docs/RESULTS.md.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from scratchlab.experiments.assemble import build_model
from scratchlab.experiments.checkspec import GradcheckSpec, OverfitSpec, resolve_overfit
from scratchlab.experiments.config import Experiment
from scratchlab.experiments.rundata import RunData, load_run_data
from scratchlab.experiments.sanity import overfit_spec, run_overfit
from scratchlab.experiments.schema import RunSpec
from scratchlab.io import read_json, write_json

FILE = "gradcheck.json"
FORMAT = 2


def update_gradcheck(exp: Experiment, exp_dir: Path, *, fresh: bool = False) -> None:
    """Bring gradcheck.json up to date with the experiment file (see the module docstring)."""
    path = Path(exp_dir) / FILE
    checks = exp.gradcheck or []
    overfit = resolve_overfit(exp.header.overfit, len(checks))
    if not checks and overfit is None:
        path.unlink(missing_ok=True)
        return
    old = {} if fresh else _read(path)
    spec, data = exp.runs[0], load_run_data(exp.runs[0])
    kept = {_key(e.get("settings")): e for e in old.get("checks", []) if isinstance(e, dict)}
    entries = []
    for g in checks:
        settings = check_settings(spec, g, data)
        entry = kept.get(_key(settings)) or run_check(spec, data, g, settings)
        entries.append({**entry, "name": g.label})  # a new name alone relabels
    doc = {"format": FORMAT, "checks": entries, "overfit": None}
    if overfit is not None:
        settings = overfit_settings(spec, overfit, data)
        previous = old.get("overfit")
        same = isinstance(previous, dict) and previous.get("settings") == settings
        result = previous if same else _overfit(spec, data, overfit, settings)
        doc["overfit"] = {**result, "run": spec.name}
    if doc != old:
        write_json(path, doc)


def _read(path: Path) -> dict:
    """The file as written by this format; {} when missing, damaged or older."""
    try:
        doc = read_json(path)
    except Exception:  # noqa: BLE001 - missing or damaged: recomputed
        return {}
    return doc if isinstance(doc, dict) and doc.get("format") == FORMAT else {}


def _key(settings: object) -> str:
    return repr(settings)


def check_spec(spec: RunSpec, g: GradcheckSpec) -> RunSpec:
    """The first run's spec with the check's hidden, loss, batch_norm and λ."""
    model = {
        "hidden": g.hidden if g.hidden is not None else spec.model.hidden,
        "loss": g.loss or spec.model.loss,
        "batch_norm": spec.model.batch_norm if g.batch_norm is None else g.batch_norm,
    }
    return spec.model_copy(
        update={
            "model": spec.model.model_copy(update=model),
            "train": spec.train.model_copy(update={"lambda_": g.lambda_}),
        }
    )


def check_settings(spec: RunSpec, g: GradcheckSpec, data: RunData) -> dict:
    """What a check's numbers depend on (its name aside)."""
    return {
        "check": g.model_dump(mode="json", by_alias=True, exclude={"name"}),
        "model": check_spec(spec, g).model.model_dump(mode="json"),
        "data": spec.data.model_dump(mode="json", exclude={"path", "retrain_split"}),
        "fingerprint": data.fingerprint,
        "seed": spec.seed,
    }


def run_check(spec: RunSpec, data: RunData, g: GradcheckSpec, settings: dict) -> dict:
    """One gradient check on the first `n_samples` training images, in float64."""
    from scratchlab.gradcheck import gradcheck

    splits, start = data.splits, time.perf_counter()
    cspec = check_spec(spec, g)
    model = build_model(cspec, splits, np.random.default_rng(spec.seed))
    X, y = splits.train.X[: g.n_samples], splits.train.y[: g.n_samples]
    rows = gradcheck(
        model,
        splits.standardiser(X),
        y,
        h=g.h,
        n_samples=g.n_samples,
        n_dims=g.n_dims,
        tol=g.tol,
        atol=g.atol,
    )
    return {
        "name": g.label,
        "settings": settings,
        "model": cspec.model.model_dump(mode="json"),
        "lambda": g.lambda_,
        "n_samples": g.n_samples,
        "n_dims": g.n_dims,
        "h": g.h,
        "tol": g.tol,
        "atol": g.atol,  # as asked: null = the round-off floor (each row's `atol` is the value)
        "time_s": time.perf_counter() - start,
        "rows": [
            {**dataclasses.asdict(r), "shape": list(r.shape), "status": r.status} for r in rows
        ],
    }


def overfit_settings(spec: RunSpec, o: OverfitSpec, data: RunData) -> dict:
    trained = overfit_spec(spec, o).model_dump(
        mode="json", by_alias=True, exclude={"name": True, "description": True, "data": {"path"}}
    )
    return {"overfit": o.model_dump(mode="json"), "spec": trained, "fingerprint": data.fingerprint}


def _overfit(spec: RunSpec, data: RunData, o: OverfitSpec, settings: dict) -> dict:
    result = run_overfit(spec, data.splits, o)
    trained = overfit_spec(spec, o)
    setup = {
        "model": trained.model.model_dump(mode="json"),
        "optimizer": trained.train.optimizer,
        "eta": trained.train.eta,
        "schedule": trained.train.schedule.model_dump(mode="json"),
    }
    return {"settings": settings, **setup, **result}
