"""Every rule that needs the data or the whole experiment, checked before any file is written.

Field-level rules (types, ranges, finite numbers, eta_min <= eta_max) live in the schema; the
rules here need the loaded data or several runs at once. Each error is one line naming the
experiment file, the run and the field, and what to do.

    n_batch <= training images          early stopping / keep-best need validation images
    augmentations fit the image size    the model fits in memory (estimate below)
    gradient-check sizes fit the data   run names do not collide with the folder's own files
    at most MAX_RUNS runs unless --many
"""

from __future__ import annotations

import os

from scratchlab.data import Splits
from scratchlab.errors import ConfigError
from scratchlab.experiments.config import Experiment
from scratchlab.experiments.schema import RunSpec
from scratchlab.experiments.store import RESERVED

MAX_RUNS = 200  # a grid larger than this needs `--many` (it is easy to write 10^4 by mistake)
MEMORY_SHARE = 0.8  # refuse a model whose estimate exceeds this share of physical memory
BYTES_PER_PARAM = 4 * 7  # float32 weights, grads, 2 optimiser moments, scratch, best, saved
EVAL_CHUNK = 10_000  # rows per evaluation chunk (Sequential.evaluate's default)


def check_experiment(exp: Experiment, runs: list[RunSpec], *, many: bool = False) -> None:
    where = str(exp.source) if exp.source else exp.name
    if len(exp.runs) > MAX_RUNS and not many:
        raise ConfigError(
            f"{where}: {len(exp.runs)} runs (more than {MAX_RUNS}); check the grid, "
            "or pass --many to run them all"
        )
    if exp.header.overfit and not exp.runs:
        raise ConfigError(
            f"{where}: overfit needs a [[runs]] entry (it trains the first run's model)"
        )
    for spec in runs:
        if spec.name in RESERVED:
            raise ConfigError(
                f"{where}: run {spec.name!r}: this name is one of the experiment "
                f"folder's own files ({', '.join(RESERVED)}); rename the run"
            )


def check_run(exp: Experiment, spec: RunSpec, splits: Splits, *, retrain: bool = False) -> None:
    """The data-dependent rules for one run; `retrain`: `splits` is its data.retrain_split,
    trained for the epochs validation chose (no early stopping or keep-best there)."""
    where = f"{exp.source or exp.name}: run {spec.name!r}"
    t = spec.train
    if isinstance(t.n_batch, int) and t.n_batch > splits.train.n:
        raise ConfigError(
            f"{where}: train.n_batch = {t.n_batch} is larger than the training set "
            f'({splits.train.n} images); use a smaller n_batch or "full"'
        )
    if (t.early_stopping is not None or t.keep_best) and splits.val.n == 0 and not retrain:
        field = "train.early_stopping" if t.early_stopping is not None else "train.keep_best"
        raise ConfigError(
            f"{where}: {field} needs validation images, but split "
            f"{splits.split!r} of {splits.dataset} has none; use a split with a "
            "validation part (or data.retrain_split to train on all)"
        )
    if t.augment:
        from scratchlab.data.augment import build_augmenter

        try:
            build_augmenter([a.as_dict() for a in t.augment], splits.image_shape)
        except ConfigError as exc:
            raise ConfigError(f"{where}: train.augment: {exc}") from None
    _check_memory(where, spec, splits)


def check_gradcheck(exp: Experiment, splits: Splits) -> None:
    """Each gradient check's and the overfit's sizes fit the first run's data."""
    from scratchlab.experiments.checkspec import resolve_overfit

    checks = exp.gradcheck or []
    for i, g in enumerate(checks):
        where = f"{exp.source or exp.name}: gradcheck" + (f".{i}" if len(checks) > 1 else "")
        if g.n_samples > splits.train.n:
            raise ConfigError(
                f"{where}.n_samples = {g.n_samples} exceeds the {splits.train.n} "
                "training images of the first run"
            )
        if g.n_dims > splits.dim:
            raise ConfigError(
                f"{where}.n_dims = {g.n_dims} exceeds the input dimension {splits.dim}"
            )
    overfit = resolve_overfit(exp.header.overfit, len(checks))
    if overfit and "n_images" in overfit.model_fields_set and overfit.n_images > splits.train.n:
        raise ConfigError(
            f"{exp.source or exp.name}: overfit.n_images = {overfit.n_images} exceeds the "
            f"{splits.train.n} training images of the first run; use fewer"
        )


def estimate_bytes(spec: RunSpec, splits: Splits) -> int:
    """Parameters (with their gradients, optimiser state and copies) plus the activations of
    one batch and one evaluation chunk: a lower bound on what training needs."""
    widths = [splits.dim, *spec.model.hidden, splits.n_classes]
    params = sum(a * b + b for a, b in zip(widths, widths[1:], strict=False))
    n_batch = splits.train.n if spec.train.n_batch == "full" else spec.train.n_batch
    rows = max(min(n_batch, splits.train.n), min(EVAL_CHUNK, splits.train.n))
    activations = 4 * 3 * rows * sum(widths[1:])
    return params * BYTES_PER_PARAM * spec.ensemble + activations


def _check_memory(where: str, spec: RunSpec, splits: Splits) -> None:
    need = estimate_bytes(spec, splits)
    have = _physical_memory()
    if have and need > MEMORY_SHARE * have:
        raise ConfigError(
            f"{where}: model.hidden {spec.model.hidden} needs about "
            f"{need / 2**30:.1f} GiB to train, more than {MEMORY_SHARE:.0%} of "
            f"this machine's {have / 2**30:.1f} GiB; use narrower layers or a "
            "smaller n_batch"
        )


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None
