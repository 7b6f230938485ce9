"""Sequential and build_mlp: structure, training step, evaluation, summary, save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scratchlab.errors import ConfigError, DataError
from scratchlab.nn import (
    L1,
    L2,
    BatchNorm,
    Dropout,
    Linear,
    MulticlassHinge,
    ReLU,
    Sequential,
    build_mlp,
)


def layer_types(model: Sequential) -> list[str]:
    return [layer.name for layer in model.layers]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 12)).astype(np.float32)
    y = rng.integers(0, 4, 64)
    return X, y


def test_build_mlp_linear_classifier():
    model = build_mlp(3072, 10, rng=np.random.default_rng(0))
    assert layer_types(model) == ["Linear"]
    assert model.dtype == np.float32 and model.regularisers == ()
    W = model.layers[0].params["W"]
    assert W.shape == (3072, 10) and W.std() == pytest.approx(0.01, rel=0.05)


def test_build_mlp_layer_order():
    model = build_mlp(12, 4, (8, 6), batch_norm=True, dropout=0.2, l2=0.1, l1=0.01)
    assert layer_types(model) == [
        "Linear", "BatchNorm", "ReLU", "Dropout",
        "Linear", "BatchNorm", "ReLU", "Dropout",
        "Linear",
    ]  # fmt: skip
    assert [type(r) for r in model.regularisers] == [L2, L1]
    # a Linear feeding BatchNorm has no bias (beta replaces it); the output layer has one
    assert [("b" in layer.params) for layer in model.layers if layer.name == "Linear"] == [
        False, False, True
    ]  # fmt: skip


def test_build_mlp_dropout_before_every_dense():
    model = build_mlp(12, 4, (8,), dropout=0.1, dropout_where="every_dense", loss="svm")
    assert layer_types(model) == ["Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert isinstance(model.loss, MulticlassHinge)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hidden": (0,)},
        {"dropout": 1.0},
        {"dropout_where": "input"},
        {"activation": "tanh"},
        {"init": "glorot"},
        {"loss": "mse"},
        {"l2": -0.1},
    ],
)
def test_build_mlp_rejects_bad_options(kwargs):
    with pytest.raises(ConfigError):
        build_mlp(12, 4, **kwargs)


def test_summary_784_128_10():
    text = build_mlp(784, 10, (128,)).summary(784)
    assert "Layer (type)" in text and "Output Shape" in text and "Param #" in text
    assert "(None, 128)" in text and "(None, 10)" in text
    assert "100,480" in text and "1,290" in text
    assert "Total params: 101,770" in text
    assert "Trainable params: 101,770" in text
    assert "Non-trainable params: 0" in text


def test_summary_counts_batchnorm_running_stats_as_non_trainable():
    model = build_mlp(784, 10, (128,), batch_norm=True)
    trainable = 784 * 128 + 2 * 128 + 128 * 10 + 10  # no bias before BN
    assert model.count_params() == (trainable, 2 * 128)
    text = model.summary()
    assert f"Trainable params: {trainable:,}" in text and "Non-trainable params: 256" in text
    with pytest.raises(ConfigError, match="expects 784"):
        model.summary(100)


def test_train_step_grads_and_parameters(data):
    X, y = data
    rng = np.random.default_rng(1)
    model = build_mlp(12, 4, (8,), batch_norm=True, init="he", l2=0.01, rng=rng)
    params = model.parameters()
    assert [(i, name) for i, name, _, _ in params] == [
        (0, "W"), (1, "gamma"), (1, "beta"), (3, "W"), (3, "b")
    ]  # fmt: skip
    grad_ids = [id(g) for *_, g in params]
    loss = model.train_step_grads(X, y)
    assert isinstance(loss, float) and np.isfinite(loss)
    assert [id(g) for *_, g in model.parameters()] == grad_ids  # updated in place
    assert all(g.any() for *_, g in model.parameters())
    # a few plain gradient steps lower the cost
    before = model.evaluate(X, y)["cost"]
    for _ in range(20):
        model.train_step_grads(X, y)
        for _, _, p, g in model.parameters():
            p -= 0.1 * g
    assert model.evaluate(X, y)["cost"] < before


def test_evaluate_in_chunks_matches_one_pass(data):
    X, y = data
    model = build_mlp(12, 4, (8,), init="he", l2=0.1, rng=np.random.default_rng(2))
    full, chunked = model.evaluate(X, y, chunk=10_000), model.evaluate(X, y, chunk=7)
    assert full == pytest.approx(chunked, rel=1e-5)
    scores = model.forward(X)
    assert full["loss"] == pytest.approx(model.loss.loss(scores, y), rel=1e-6)
    assert full["cost"] == pytest.approx(full["loss"] + model.penalty(), rel=1e-6)
    assert full["acc"] == pytest.approx(np.mean(scores.argmax(1) == y))
    np.testing.assert_array_equal(model.predict(X, chunk=5), scores.argmax(1))
    np.testing.assert_allclose(model.predict_proba(X, chunk=5).sum(1), 1, rtol=1e-5)
    with pytest.raises(DataError, match="shape"):
        model.forward(X[:, :5])


def test_astype_float64_copy(data):
    X, y = data
    model = build_mlp(12, 4, (8,), batch_norm=True, dropout=0.3, rng=np.random.default_rng(3))
    m64 = model.astype(np.float64)
    assert m64.dtype == np.float64 and model.dtype == np.float32
    assert all(p.dtype == np.float64 for _, _, p, _ in m64.parameters())
    np.testing.assert_allclose(m64.forward(X), model.forward(X), rtol=1e-4, atol=1e-6)
    m64.layers[0].params["W"][:] = 0  # an independent copy
    assert model.layers[0].params["W"].any()
    assert np.isfinite(m64.train_step_grads(X, y))


def test_get_set_weights_round_trip(data):
    X, y = data
    model = build_mlp(12, 4, (8,), batch_norm=True, init="he", rng=np.random.default_rng(4))
    model.train_step_grads(X, y)  # moves the BN running stats
    saved = model.get_weights()
    assert "1.running_mean" in saved and "0.W" in saved
    before = model.predict_scores(X)
    for _, _, p, _ in model.parameters():
        p += 1.0
    model.layers[1].buffers["running_var"][:] = 7.0
    model.set_weights(saved)
    np.testing.assert_array_equal(model.predict_scores(X), before)
    with pytest.raises(DataError, match="missing"):
        model.set_weights({k: v for k, v in saved.items() if k != "0.W"})
    with pytest.raises(DataError, match="shape"):
        model.set_weights({**saved, "0.W": np.zeros((3, 3))})


def test_save_load_round_trip(tmp_path, data):
    X, y = data
    model = build_mlp(12, 4, (8, 6), batch_norm=True, dropout=0.2, loss="svm", init="xavier",
                      l2=0.05, l1=0.001, rng=np.random.default_rng(5))  # fmt: skip
    for _ in range(3):
        model.train_step_grads(X, y)
        for _, _, p, g in model.parameters():
            p -= 0.05 * g
    path = model.save(tmp_path / "model.npz")
    loaded = Sequential.load(path)
    assert layer_types(loaded) == layer_types(model)
    assert [r.config() for r in loaded.regularisers] == [r.config() for r in model.regularisers]
    assert isinstance(loaded.loss, MulticlassHinge) and loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded.predict_scores(X), model.predict_scores(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.evaluate(X, y) == model.evaluate(X, y)
    with np.load(path, allow_pickle=False) as npz:  # plain arrays + a JSON string
        config = json.loads(str(npz["__config__"]))
    assert config["layers"][1] == {"type": "BatchNorm", "d": 8, "momentum": 0.9, "eps": 1e-5}


def test_save_load_hand_built_model(tmp_path):
    rng = np.random.default_rng(6)
    model = Sequential(
        [Dropout(0.1, rng=rng), Linear(5, 3, init="he", rng=rng), ReLU(), Linear(3, 2, rng=rng)],
        "cross_entropy",
    )
    X = rng.standard_normal((4, 5)).astype(np.float32)
    loaded = Sequential.load(model.save(tmp_path / "m.npz"))
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))


def test_load_rejects_missing_foreign_and_corrupt_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        Sequential.load(tmp_path / "nope.npz")
    text = tmp_path / "notes.npz"
    text.write_text("not a zip archive at all")
    with pytest.raises(DataError, match="not a scratchlab model"):
        Sequential.load(text)
    arr = tmp_path / "array.npy"
    np.save(arr, np.zeros(3))
    with pytest.raises(DataError, match="single array"):
        Sequential.load(arr)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(DataError, match="no model config"):
        Sequential.load(other)
    good = build_mlp(6, 3, (4,)).save(tmp_path / "good.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(DataError):
        Sequential.load(truncated)
    with np.load(good) as npz:
        arrays = dict(npz)
    arrays["0.W"] = np.zeros((5, 4), np.float32)  # wrong shape for the config
    np.savez(tmp_path / "bad_shape.npz", **arrays)
    with pytest.raises(DataError, match="shape"):
        Sequential.load(tmp_path / "bad_shape.npz")
    arrays = {**dict(np.load(good)), "__config__": np.array('{"format": "keras"}')}
    np.savez(tmp_path / "foreign.npz", **arrays)
    with pytest.raises(DataError, match="not a scratchlab.Sequential config"):
        Sequential.load(tmp_path / "foreign.npz")


def test_batchnorm_model_eval_differs_from_training_mode(data):
    X, _ = data
    bn = BatchNorm(12)
    model = Sequential([bn, Linear(12, 4, rng=np.random.default_rng(0))], "cross_entropy")
    # running stats start at mean 0 / var 1, so eval is ~identity and training normalises
    assert not np.allclose(model.forward(X + 5, training=True), model.forward(X + 5))
