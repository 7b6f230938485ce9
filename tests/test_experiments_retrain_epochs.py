"""How many epochs the retraining on the full training set repeats."""

from __future__ import annotations

from scratchlab.experiments.execute import retrain_epochs
from scratchlab.experiments.schema import RunSpec
from scratchlab.train import History


def _history(val_accs: list[float], best: int) -> History:
    h = History()
    for epoch, acc in enumerate(val_accs):
        h.append(
            {
                "epoch": epoch,
                "train_loss": 1.0,
                "train_cost": 1.0,
                "train_acc": acc,
                "val_loss": 1.0,
                "val_cost": 1.0,
                "val_acc": acc,
                "lr": 0.1,
                "time": 0.0,
            }
        )
    h.best_epoch = best  # fit records the best val_acc epoch whether or not it restored it
    return h


def _spec(**train) -> RunSpec:
    return RunSpec.model_validate({"name": "r", "data": {"dataset": "digits"}, "train": train})


def test_all_trained_epochs_without_a_restore() -> None:
    assert retrain_epochs(_spec(), _history([0.1, 0.9, 0.5, 0.6], best=1)) == 3


def test_best_epoch_when_keep_best_restored_it() -> None:
    assert retrain_epochs(_spec(keep_best=True), _history([0.1, 0.9, 0.5, 0.6], best=1)) == 1


def test_best_epoch_when_early_stopping_restored_it() -> None:
    spec = _spec(early_stopping={"monitor": "val_acc", "patience": 2})
    assert retrain_epochs(spec, _history([0.1, 0.9, 0.5, 0.6], best=1)) == 1
    no_restore = _spec(early_stopping={"monitor": "val_acc", "patience": 2, "restore_best": False})
    assert retrain_epochs(no_restore, _history([0.1, 0.9, 0.5, 0.6], best=1)) == 3
