"""The experiment-file schema, validated by pydantic.

An experiment file (TOML) holds defaults in `[data]`, `[model]` and `[train]`, an optional
`[grid]`, and a list of `[[runs]]`, each overriding any default. Every run is validated as a
whole `RunSpec` after its overrides are merged, so a bad value names the run and the field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WrapValidator,
    field_validator,
    model_serializer,
    model_validator,
)

from scratchlab.data.registry import DATASETS as _DATASET_SPECS
from scratchlab.errors import ConfigError
from scratchlab.experiments.checkspec import GradcheckSpec, OverfitSpec, gradcheck_list
from scratchlab.experiments.reportspec import FigureSpec, ReferenceSpec
from scratchlab.nn.build import ACTIVATIONS, DROPOUT_WHERE
from scratchlab.nn.init import INITS
from scratchlab.nn.losses import LOSSES
from scratchlab.optim import OPTIMIZERS

# The allowed names come from the registries: one source of truth (tests/test_schema_sources.py).
DATASETS = tuple(_DATASET_SPECS)
SPLITS = {name: tuple(spec.splits) for name, spec in _DATASET_SPECS.items()}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class DataSpec(_Strict):
    """Which images, split and preprocessing a run uses."""

    dataset: Literal[DATASETS] = "cifar10"
    split: str | None = None  # None: the dataset's standard split (a1 / standard)
    val_size: int = Field(1000, ge=1)
    seed: int = Field(0, ge=0)  # draws cifar10 `all`'s validation hold-out (not the run seed)
    path: str | None = None
    retrain_split: str | None = None  # e.g. "full": after fitting, retrain on it and test

    @model_validator(mode="after")
    def _split_exists(self) -> DataSpec:
        valid = SPLITS[self.dataset]
        if self.split is None:
            object.__setattr__(self, "split", valid[0])
        for field in ("split", "retrain_split"):
            value = getattr(self, field)
            if value is not None and value not in valid:
                raise ValueError(
                    f"{field} {value!r} is not a split of {self.dataset}; use one of {list(valid)}"
                )
        return self


class ModelSpec(_Strict):
    """Architecture: hidden=[] is the linear classifier."""

    hidden: list[Annotated[int, Field(ge=1)]] = []
    activation: Literal[tuple(ACTIVATIONS)] = "relu"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    dropout_where: Literal[DROPOUT_WHERE] = "hidden"
    batch_norm: bool = False
    loss: Literal[tuple(LOSSES)] = "cross_entropy"
    init: Literal[INITS] = "normal"
    init_std: float = Field(0.01, gt=0.0, allow_inf_nan=False)


class ConstantSchedule(_Strict):
    name: Literal["constant"] = "constant"


class ExpDecaySchedule(_Strict):
    name: Literal["exp_decay"]
    gamma: float = Field(gt=0.0, le=1.0, allow_inf_nan=False)


class StepDecaySchedule(_Strict):
    name: Literal["step_decay"]
    every: int = Field(ge=1)
    factor: float = Field(gt=1.0, allow_inf_nan=False)


class CyclicalSchedule(_Strict):
    name: Literal["cyclical"]
    eta_min: float = Field(gt=0.0, allow_inf_nan=False)
    eta_max: float = Field(gt=0.0, allow_inf_nan=False)
    step_size: int | None = Field(None, ge=1)  # n_s in updates ...
    step_size_epochs: float | None = Field(None, gt=0.0, allow_inf_nan=False)  # ... or epochs

    @model_validator(mode="after")
    def _ordered(self) -> CyclicalSchedule:
        if self.eta_min > self.eta_max:
            raise ValueError(f"eta_min ({self.eta_min:g}) must not exceed eta_max "
                             f"({self.eta_max:g})")  # fmt: skip
        if (self.step_size is None) == (self.step_size_epochs is None):
            raise ValueError("give the half-cycle n_s as step_size (updates) or as "
                             "step_size_epochs (epochs: n_s = round(k * updates per epoch)), "
                             "exactly one")  # fmt: skip
        return self

    @model_serializer(mode="wrap")
    def _only_the_given_length(self, handler) -> dict:
        """Dump only the n_s key given (configs stay as they were before step_size_epochs)."""
        out = handler(self)
        for key in ("step_size", "step_size_epochs"):
            if out.get(key, 0) is None:
                del out[key]
        return out


class CosineSchedule(_Strict):
    name: Literal["cosine"]
    eta_min: float = Field(0.0, ge=0.0, allow_inf_nan=False)


Schedule = Annotated[
    ConstantSchedule | ExpDecaySchedule | StepDecaySchedule | CyclicalSchedule | CosineSchedule,
    Field(discriminator="name"),
]


class AugmentSpec(_Strict):
    """One augmentation; its parameters are checked by scratchlab.data.augment."""

    model_config = ConfigDict(extra="allow", frozen=True)
    kind: str

    @model_validator(mode="after")
    def _known(self) -> AugmentSpec:
        from scratchlab.data.augment import build_augmenter

        try:
            build_augmenter([self.as_dict()], (3, 32, 32))
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self

    def as_dict(self) -> dict:
        return {"kind": self.kind, **(self.model_extra or {})}


class EarlyStoppingSpec(_Strict):
    monitor: Literal["val_loss", "val_cost", "val_acc"] = "val_loss"
    patience: int = Field(5, ge=1)
    min_delta: float = Field(0.0, ge=0.0, allow_inf_nan=False)
    restore_best: bool = True


class OptimizerParams(_Strict):
    """Hyper-parameters of the optimisers: momentum/nesterov use `beta`, adam the rest."""

    beta: float = Field(0.9, ge=0.0, lt=1.0)
    beta1: float = Field(0.9, ge=0.0, lt=1.0)
    beta2: float = Field(0.999, ge=0.0, lt=1.0)
    eps: float = Field(1e-8, gt=0.0, allow_inf_nan=False)

    def for_optimizer(self, name: str) -> dict:
        if name in ("momentum", "nesterov"):
            return {"beta": self.beta}
        if name == "adam":
            return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}
        return {}


class EveryEpochs(_Strict):
    """`eval_every = { epochs = f }`: every round(f * updates per epoch) updates (at least 1)."""

    epochs: float = Field(gt=0.0, allow_inf_nan=False)


class TrainSpec(_Strict):
    """Optimisation: everything the fit loop needs."""

    optimizer: Literal[OPTIMIZERS] = "sgd"
    optimizer_params: OptimizerParams = OptimizerParams()
    eta: float = Field(0.001, gt=0.0, allow_inf_nan=False)
    lambda_: float = Field(0.0, ge=0.0, alias="lambda", allow_inf_nan=False)
    l1: float = Field(0.0, ge=0.0, allow_inf_nan=False)
    n_epochs: int = Field(40, ge=1)
    n_batch: int | Literal["full"] = 100
    schedule: Schedule = ConstantSchedule()
    shuffle: bool = False
    augment: list[AugmentSpec] = []
    early_stopping: EarlyStoppingSpec | None = None
    keep_best: bool = False
    checkpoint_every: int = Field(1, ge=0)
    eval_every: Annotated[int, Field(ge=1)] | EveryEpochs | None = None  # N updates | {epochs}

    @field_validator("n_batch")
    @classmethod
    def _positive_batch(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError('n_batch must be >= 1 (or "full" for full-batch training)')
        return value

    @field_validator("eval_every", mode="before")
    @classmethod
    def _updates_or_epochs(cls, value: object) -> object:
        whole = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        if value is None or whole or isinstance(value, dict):
            return value
        raise ValueError("give a whole number of updates >= 1, or { epochs = f } (f > 0)")

    @field_validator("schedule", mode="before")
    @classmethod
    def _schedule_by_name(cls, value: object) -> object:
        return {"name": value} if isinstance(value, str) else value


class RunSpec(_Strict):
    """One fully resolved run: what `scratchlab run` trains and reports."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.=,+-]*$", max_length=120)
    description: str = ""
    seed: int = Field(0, ge=0)
    ensemble: int = Field(1, ge=1, le=50)
    ensemble_snapshots: Literal["cycle_ends"] | None = None  # vote with cycle-end snapshots
    from_search: str | None = None  # take the best trial's values of this [search]
    data: DataSpec = DataSpec()
    model: ModelSpec = ModelSpec()
    train: TrainSpec = TrainSpec()

    @model_validator(mode="after")
    def _snapshots_need_cycles(self) -> RunSpec:
        """Snapshot ensembles: one model, a cyclical rate, no epoch selection, no retraining."""
        clash = None if self.ensemble_snapshots is None else self._snapshot_clash()
        if clash:
            raise ValueError(f"ensemble_snapshots = 'cycle_ends': {clash}")
        return self

    def _snapshot_clash(self) -> str | None:
        t = self.train
        if t.schedule.name != "cyclical":
            return "train.schedule must be cyclical"
        if self.ensemble > 1:
            return "ensemble must be 1 (the snapshots are the members)"
        if t.early_stopping is not None or t.keep_best:
            return "train.early_stopping / keep_best pick an epoch, not cycle ends"
        if self.data.retrain_split:
            return "data.retrain_split is not supported"
        return None


class ExperimentHeader(_Strict):
    """Top-level keys that are not run defaults."""

    # Report sections (scratchlab.experiments.reportspec): see that module's docstring.
    repeats: int = Field(1, ge=1, le=100)
    baseline: str | None = None
    reference: ReferenceSpec | None = None
    figures: list[FigureSpec] = []

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)
    title: str = ""
    description: str = ""
    seed: int = Field(0, ge=0)
    ensemble: int = Field(1, ge=1, le=50)
    # The checks (scratchlab.experiments.checkspec): `gradcheck` is read as a list of checks.
    gradcheck: Annotated[list[GradcheckSpec] | GradcheckSpec, WrapValidator(gradcheck_list)] = []
    overfit: OverfitSpec | bool | None = None
