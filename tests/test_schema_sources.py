"""One source of truth: the experiment schema's allowed names come from the registries."""

from __future__ import annotations

import typing

from scratchlab.data.augment import build_augmenter
from scratchlab.data.registry import DATASETS
from scratchlab.experiments import schema
from scratchlab.nn.build import ACTIVATIONS, DROPOUT_WHERE
from scratchlab.nn.init import INITS
from scratchlab.nn.losses import LOSSES
from scratchlab.optim import OPTIMIZERS, SCHEDULES


def _choices(model, field: str) -> tuple:
    return typing.get_args(model.model_fields[field].annotation)


def test_names_come_from_the_registries():
    assert _choices(schema.DataSpec, "dataset") == tuple(DATASETS)
    assert schema.SPLITS == {n: tuple(s.splits) for n, s in DATASETS.items()}
    assert _choices(schema.ModelSpec, "loss") == tuple(LOSSES)
    assert _choices(schema.ModelSpec, "init") == tuple(INITS)
    assert _choices(schema.ModelSpec, "activation") == tuple(ACTIVATIONS)
    assert _choices(schema.ModelSpec, "dropout_where") == tuple(DROPOUT_WHERE)
    assert _choices(schema.TrainSpec, "optimizer") == tuple(OPTIMIZERS)


def test_every_schedule_of_the_optimiser_package_has_a_schema_and_back():
    union = typing.get_args(typing.get_args(schema.Schedule)[0])
    names = {typing.get_args(m.model_fields["name"].annotation)[0] for m in union}
    assert names == set(SCHEDULES)


def test_optimizer_params_reach_the_optimizer():
    from scratchlab.experiments.assemble import make_optimizer

    spec = schema.RunSpec.model_validate({"name": "a", "train": {
        "optimizer": "nesterov", "optimizer_params": {"beta": 0.5}}})  # fmt: skip
    assert make_optimizer(spec).config() == {"name": "nesterov", "beta": 0.5, "nesterov": True}
    spec = schema.RunSpec.model_validate({"name": "a", "train": {
        "optimizer": "adam",
        "optimizer_params": {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6}}})  # fmt: skip
    assert make_optimizer(spec).config() == {"name": "adam", "beta1": 0.8, "beta2": 0.99,
                                             "eps": 1e-6}  # fmt: skip


def test_augment_kinds_are_validated_by_the_augment_registry():
    assert build_augmenter([{"kind": "flip", "p": 0.5}], (3, 8, 8)) is not None
