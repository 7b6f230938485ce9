"""The experiment's gradient check: analytic vs numerical gradients of its first run's model.

`gradcheck.json` records the settings it was computed with; the runner recomputes it when
they change and removes it when the experiment no longer asks for a check (never stale).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scratchlab.experiments.assemble import build_model
from scratchlab.experiments.config import Experiment
from scratchlab.experiments.rundata import load_run_data
from scratchlab.experiments.schema import RunSpec
from scratchlab.io import read_json, write_json

FILE = "gradcheck.json"


def settings_of(exp: Experiment) -> dict | None:
    """What the check depends on: its own settings and the first run's data and model."""
    if exp.gradcheck is None:
        return None
    spec = exp.runs[0]
    return {
        "gradcheck": exp.gradcheck.model_dump(mode="json", by_alias=True),
        "data": spec.data.model_dump(mode="json", exclude={"path"}),
        "model": spec.model.model_dump(mode="json"),
        "seed": spec.seed,
    }


def update_gradcheck(exp: Experiment, exp_dir: Path, *, fresh: bool = False) -> None:
    """Compute the check if asked and not already done with the same settings; else drop it."""
    path = Path(exp_dir) / FILE
    settings = settings_of(exp)
    if settings is None:
        path.unlink(missing_ok=True)
        return
    if not fresh and path.exists():
        try:
            if read_json(path).get("settings") == settings:
                return
        except Exception:  # noqa: BLE001 - a damaged file is recomputed
            pass
    run_gradcheck(exp, path, settings)


def run_gradcheck(exp: Experiment, out: Path, settings: dict) -> None:
    from scratchlab.gradcheck import gradcheck

    spec, g = exp.runs[0], exp.gradcheck
    splits = load_run_data(spec).splits
    dumped = spec.model_dump(by_alias=True)
    dumped["model"] = {
        **dumped["model"],
        "hidden": g.hidden if g.hidden is not None else spec.model.hidden,
        "loss": g.loss or spec.model.loss,
    }
    dumped["train"] = {**dumped["train"], "lambda": g.lambda_}
    check_spec = RunSpec.model_validate(dumped)
    model = build_model(check_spec, splits, np.random.default_rng(spec.seed))
    rows = gradcheck(
        model,
        splits.standardiser(splits.train.X[: g.n_samples]),
        splits.train.y[: g.n_samples],
        h=g.h,
        n_samples=g.n_samples,
        n_dims=g.n_dims,
    )
    hidden = "-".join(map(str, check_spec.model.hidden)) or "linear"
    write_json(
        out,
        {
            "tol": 1e-6,
            "settings": settings,
            "description": (
                f"Model {hidden}, loss {check_spec.model.loss}, λ = {g.lambda_:g}; "
                f"first {g.n_samples} training images, first {g.n_dims} input "
                f"dimensions, centred differences with h = {g.h:g}, in float64."
            ),
            "rows": [
                {
                    "name": r.name,
                    "shape": "×".join(map(str, r.shape)),
                    "max_abs": r.max_abs_err,
                    "max_rel": r.max_rel_err,
                    "share_ok": r.share_ok,
                    "status": r.status,
                }
                for r in rows
            ],
        },
    )
