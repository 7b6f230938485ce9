"""Early stopping, keep-best and the evaluation divergence guard, on scripted models.

`Scripted` isolates the bookkeeping from learning: one scalar weight w that every update
lowers by lr (grad = 1), and validation metrics read from a script, one entry per epoch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scratchlab.errors import ConfigError
from scratchlab.nn import build_mlp
from scratchlab.train import EarlyStopping, History, KeepBest, fit


class Scripted:
    def __init__(self, val_loss=None, val_acc=None, train_loss=None) -> None:
        self.w, self.g = np.zeros(1, np.float32), np.ones(1, np.float32)
        self.script = {"val_loss": val_loss, "val_acc": val_acc, "train_loss": train_loss}
        self.evals = {"train": 0, "val": 0}

    def parameters(self):
        return [(0, "w", self.w, self.g)]

    def train_step_grads(self, X, y):
        return 1.0

    def evaluate(self, X, y, chunk=10_000):
        part = "val" if len(X) == 5 else "train"
        epoch = self.evals[part]
        self.evals[part] += 1
        loss = self.script[f"{part}_loss"]
        acc = self.script.get(f"{part}_acc")
        loss = loss[epoch] if loss else 1.0
        return {"loss": loss, "cost": loss, "acc": acc[epoch] if acc else 0.5}

    def get_weights(self):
        return {"0.w": self.w.copy()}

    def set_weights(self, weights):
        np.copyto(self.w, weights["0.w"])


TRAIN = (np.zeros((10, 2), np.float32), np.zeros(10, np.int64))
VAL = (np.zeros((5, 2), np.float32), np.zeros(5, np.int64))


def run(model, **kw):
    kw = {"optimizer": "sgd", "schedule": 1.0, "n_epochs": 8, "n_batch": 10, **kw}
    return fit(model, TRAIN, VAL, **kw)


def test_early_stopping_stops_and_restores_best_epoch():
    model = Scripted(val_loss=[1.0, 0.8, 0.7, 0.75, 0.71, 0.9, 0.5, 0.4, 0.3])
    hist = run(model, early_stopping=EarlyStopping("val_loss", patience=3))
    assert hist.status == "early_stopped" and hist.last_epoch == 5
    assert hist.best_epoch == 2 and model.w[0] == -2.0  # weights after 2 updates


def test_early_stopping_min_delta_and_no_restore():
    model = Scripted(val_loss=[1.0, 0.8, 0.79, 0.78, 0.77, 0.2, 0.1, 0.0, 0.0])
    es = EarlyStopping("val_loss", patience=3, min_delta=0.05, restore_best=False)
    hist = run(model, early_stopping=es)
    assert hist.last_epoch == 4 and es.best_epoch == 1 and es.stopped_epoch == 4
    assert model.w[0] == -4.0 and hist.best_epoch == 0  # best val_acc (all equal): first


def test_early_stopping_on_accuracy_maximises():
    model = Scripted(val_acc=[0.1, 0.5, 0.4, 0.45, 0.3, 0.9, 0.9, 0.9, 0.9])
    hist = run(model, early_stopping=EarlyStopping("val_acc", patience=2))
    assert hist.last_epoch == 3 and hist.best_epoch == 1 and model.w[0] == -1.0


def test_keep_best_restores_best_val_acc_weights():
    model = Scripted(val_acc=[0.1, 0.3, 0.5, 0.45, 0.5, 0.2, 0.3, 0.4, 0.1])
    hist = run(model, keep_best=True)
    assert hist.status == "completed" and hist.last_epoch == 8
    assert hist.best_epoch == 2 and model.w[0] == -2.0  # first of the tied best


def test_keep_best_wins_over_early_stopping_restore():
    model = Scripted(
        val_loss=[1.0, 0.9, 0.8, 0.85, 0.9, 1.0, 1, 1, 1],
        val_acc=[0.1, 0.6, 0.3, 0.3, 0.3, 0.3, 0, 0, 0],
    )
    hist = run(model, keep_best=True, early_stopping=EarlyStopping("val_loss", patience=2))
    assert hist.last_epoch == 4 and hist.best_epoch == 1 and model.w[0] == -1.0


def test_non_finite_evaluation_diverges_and_keeps_rows():
    model = Scripted(train_loss=[2.0, 1.5, math.inf, 1.0, 1.0])
    hist = run(model)
    assert hist.status == "diverged" and hist.last_epoch == 2
    assert "train_loss" in hist.message and math.isinf(hist.rows[-1]["train_loss"])


def _rows(val_losses):
    return [
        {"epoch": e, "train_loss": 1.0, "train_cost": 1.0, "train_acc": 0.5, "val_loss": v,
         "val_cost": v, "val_acc": 0.5, "lr": 1.0, "time": 0.0}
        for e, v in enumerate(val_losses)
    ]  # fmt: skip


def test_resume_from_a_loaded_state_keeps_the_watch_and_best_weights():
    history = History()
    for r in _rows([1.0, 0.5, 0.6]):
        history.append(r)
    model = Scripted(val_loss=[0.7, 0.8, 0.9])
    model.w[0] = -2.0
    saved = EarlyStopping("val_loss", patience=2)
    saved.best, saved.best_epoch, saved.wait = 0.5, 1, 1  # after epoch 2 (0.6, no better)
    saved.best_weights = {"0.w": np.array([-1.0], np.float32)}
    es = EarlyStopping("val_loss", patience=2)
    es.load_state_dict(saved.state_dict())
    hist = run(model, history=history, early_stopping=es, n_epochs=10)
    # epoch 3 is the second epoch without improvement on epoch 1: stop, restore its weights
    assert hist.status == "early_stopped" and hist.last_epoch == 3
    assert hist.best_epoch == 1 and model.w[0] == -1.0


def test_a_loaded_stopped_state_trains_no_further_and_still_restores():
    history = History()
    for r in _rows([1.0, 0.5, 0.6, 0.7]):
        history.append(r)
    model = Scripted(val_loss=[0.1] * 5)  # would improve, but training already ended
    model.w[0] = -3.0
    saved = EarlyStopping("val_loss", patience=2)
    saved.best, saved.best_epoch, saved.wait, saved.stopped_epoch = 0.5, 1, 2, 3
    saved.best_weights = {"0.w": np.array([-1.0], np.float32)}
    es = EarlyStopping("val_loss", patience=2)
    es.load_state_dict(saved.state_dict())
    assert es.stopped
    hist = run(model, history=history, early_stopping=es, n_epochs=10)
    assert hist.status == "early_stopped" and hist.last_epoch == 3 and len(hist.rows) == 4
    assert model.w[0] == -1.0 and model.evals["val"] == 0


def test_a_fresh_fit_resets_a_reused_early_stopping():
    es = EarlyStopping("val_loss", patience=2)
    run(Scripted(val_loss=[1.0, 0.5, 0.6, 0.7, 0.8]), early_stopping=es, n_epochs=4)
    assert es.best_epoch == 1
    hist = run(Scripted(val_loss=[0.9, 0.8, 0.7, 0.6, 0.5]), early_stopping=es, n_epochs=4)
    assert hist.status == "completed" and es.best_epoch == 4


def test_keep_best_instance_and_monitor_validation():
    model = Scripted(val_acc=[0.1, 0.3, 0.2])
    kb = KeepBest()
    hist = run(model, keep_best=kb, n_epochs=2)
    assert hist.best_epoch == 1 and model.w[0] == -1.0
    with pytest.raises(ConfigError, match="monitor"):
        EarlyStopping("val_f1")
    with pytest.raises(ConfigError, match="patience"):
        EarlyStopping(patience=0)
    with pytest.raises(ConfigError, match="validation"):
        fit(
            Scripted(),
            TRAIN,
            None,
            optimizer="sgd",
            schedule=1.0,
            n_epochs=1,
            early_stopping=EarlyStopping(),
        )


def test_early_stopping_with_a_real_model_and_rising_val_loss():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 8)).astype(np.float32)
    y = (X @ rng.standard_normal((8, 3))).argmax(1)
    model = build_mlp(8, 3, rng=rng)
    start = model.get_weights()
    hist = fit(
        model,
        (X, y),
        (X[:100], (y[:100] + 1) % 3),
        optimizer="sgd",
        schedule=0.1,
        n_epochs=30,
        n_batch=20,
        early_stopping=EarlyStopping(patience=2),
    )
    assert hist.status == "early_stopped" and hist.last_epoch == 2 and hist.best_epoch == 0
    assert all(np.array_equal(w, start[k]) for k, w in model.get_weights().items())


def test_on_train_end_of_other_callbacks_sees_restored_weights():
    seen = []

    class Saver:
        def on_train_end(self, model, history):
            seen.append((float(model.w[0]), history.best_epoch))

    model = Scripted(val_acc=[0.1, 0.3, 0.5, 0.45, 0.5, 0.2, 0.3, 0.4, 0.1])
    run(model, keep_best=True, callbacks=[Saver()])
    assert seen == [(-2.0, 2)]
