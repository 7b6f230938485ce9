"""Experiment-file sections that shape the report (validated by pydantic, `extra="forbid"`).

    repeats = 3                  each configuration runs 3 times, seeds seed + k·ensemble
                                 (k = 0..2, runs `<name>-r<k>`); reported as mean ± std
    baseline = "lambda0-eta0.001"    a run (or repeat group) every other one is compared with
    [reference]                  published numbers shown beside the measured ones
    source = "DD2424 Assignment 1 instructions (full CIFAR-10)"
    set = "test"                 # test | val | retrain (the retrained model's test accuracy)
    precision = 0.5              # ± points the published numbers are rounded to (default 0)
    accuracy = { "lambda0-eta0.1" = 28.2 }        # percent, as papers print them
    [[figures]]                  a figure across runs
    name = "eta"
    kind = "curves"              # curves | weights | heatmap | lr | updates
    runs = ["lambda0-eta0.1", "lambda0-eta0.001"]

Names in `runs`, `baseline` and `reference.accuracy` are checked against the experiment's
runs (see `config.check_report_sections`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FIGURE_KINDS = ("curves", "weights", "heatmap", "lr", "updates")
HEATMAP_VALUES = ("val_acc", "test_acc", "train_acc")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ReferenceSpec(_Strict):
    """Published accuracies (percent) of some configurations, shown beside the measured ones."""

    source: str = Field(min_length=1)
    # "retrain": the test accuracy of the run's model retrained on data.retrain_split
    set: Literal["test", "val", "retrain"] = "test"
    accuracy: dict[str, float]
    # ± points the published numbers were rounded to ("about 96 %": 0.5); the reference
    # agrees with a measurement whose 95 % interval meets [value − precision, value + precision]
    precision: float = Field(0.0, ge=0.0, le=50.0, allow_inf_nan=False)

    @field_validator("accuracy")
    @classmethod
    def _percent(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not 0.0 <= v <= 100.0}
        if bad:
            raise ValueError(f"reference accuracies are percentages in 0..100; got {bad}")
        if not value:
            raise ValueError('give at least one run, e.g. accuracy = { "run-name" = 38.5 }')
        return value


class FigureSpec(_Strict):
    """A named figure across runs.

    kind    curves:  training/validation curves of `runs` overlaid (`metric`: one panel;
                     default loss and accuracy side by side)
            weights: the runs' weight-template figures stacked, one row per run
            heatmap: `value` over a 2-D grid, `x` and `y` dotted config keys (train.eta)
            lr:      the learning rate of every update, from each run's schedule
            updates: per-update curves (needs runs that recorded updates.csv)
    runs    run names or shell patterns (`search-*`); empty = every run
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=60)
    title: str = ""
    kind: Literal["curves", "weights", "heatmap", "lr", "updates"]
    runs: list[str] = []
    metric: Literal["loss", "cost", "acc"] | None = None
    sets: list[Literal["train", "val"]] = ["train", "val"]
    x: str | None = None
    y: str | None = None
    value: Literal["val_acc", "test_acc", "train_acc"] = "val_acc"

    @model_validator(mode="after")
    def _kind_needs(self) -> FigureSpec:
        if self.kind == "heatmap":
            if not self.x or not self.y or self.x == self.y:
                raise ValueError(
                    'a heatmap needs two different config keys, e.g. x = "train.eta", '
                    'y = "train.lambda"'
                )
            for key in (self.x, self.y):
                if key.split(".")[0] not in ("data", "model", "train", "seed"):
                    raise ValueError(f"{key!r} is not a config key (data.…, model.…, train.…)")
        elif self.x or self.y:
            raise ValueError(f"x and y are for heatmaps, not {self.kind} figures")
        if not self.sets:
            raise ValueError('sets must name "train", "val" or both')
        return self
