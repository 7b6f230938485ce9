from __future__ import annotations

import math

import matplotlib.image as mpimg
import numpy as np
import pytest

from scratchlab import plots
from scratchlab.plots._base import minmax_scale, template_images, to_hwc
from scratchlab.plots.images import misclassified_figure, weight_templates_figure

NAMES = ["airplane", "automobile", "bird", "cat"]
SHAPE = (3, 8, 8)
D = 3 * 8 * 8


def rows(n=6, with_val=True):
    out = []
    for e in range(n):
        r = {
            "epoch": e,
            "train_loss": 2.3 / (e + 1),
            "train_cost": 2.4 / (e + 1),
            "train_acc": 0.1 + 0.05 * e,
            "lr": 0.01,
            "time": 0.1 * e,
        }
        nan = float("nan")
        r |= {"val_loss": 2.5 / (e + 1), "val_cost": 2.6 / (e + 1), "val_acc": 0.1 + 0.04 * e}
        if not with_val:
            r |= {"val_loss": nan, "val_cost": nan, "val_acc": nan}
        out.append(r)
    return out


def read_png(path, min_px=(150, 150), max_px=(3000, 3000)):
    """Read back a PNG and check it is non-empty, not blank and of a sensible pixel size."""
    assert path.exists() and path.stat().st_size > 1000
    img = mpimg.imread(path)
    h, w = img.shape[:2]
    assert min_px[0] <= h <= max_px[0] and min_px[1] <= w <= max_px[1], (h, w)
    assert img[..., :3].std() > 0.01  # something was drawn
    return img


@pytest.mark.parametrize("metric", ["loss", "cost", "acc"])
def test_plot_curves(tmp_path, metric):
    p = plots.plot_curves(rows(), tmp_path / f"{metric}.png", metric, best_epoch=3)
    assert p == tmp_path / f"{metric}.png"
    read_png(p, max_px=(800, 1000))


def test_plot_curves_nan_validation_and_string_values(tmp_path):
    read_png(plots.plot_curves(rows(with_val=False), tmp_path / "a.png", "acc"))
    as_csv = [{k: str(v) for k, v in r.items()} for r in rows()]  # as read from a CSV
    as_csv[2]["val_loss"] = ""
    read_png(plots.plot_curves(as_csv, tmp_path / "b.png"))


def test_plot_curves_diverged_run(tmp_path):
    r = rows(5)
    r[3]["train_loss"], r[4]["train_loss"] = 1e9, math.inf
    read_png(plots.plot_curves(r, tmp_path / "d.png"))


def test_plot_curves_rejects_unknown_metric_and_empty(tmp_path):
    with pytest.raises(ValueError, match="loss, cost, acc"):
        plots.plot_curves(rows(), tmp_path / "x.png", "f1")
    with pytest.raises(ValueError, match="no history"):
        plots.plot_curves([], tmp_path / "x.png")


def test_plot_loss_cost_acc(tmp_path):
    img = read_png(plots.plot_loss_cost_acc(rows(), tmp_path / "lca.png", "run 1", best_epoch=2))
    assert img.shape[1] > 2 * img.shape[0]  # three panels side by side
    read_png(plots.plot_loss_cost_acc(rows(with_val=False), tmp_path / "nv.png"))


def test_to_hwc_red_channel_row_is_red():
    row = np.concatenate([np.ones(64), np.zeros(64), np.zeros(64)])
    img = to_hwc(row, SHAPE)
    assert img.shape == (8, 8, 3)
    assert np.all(img[:, :, 0] == 1) and np.all(img[:, :, 1:] == 0)


def test_to_hwc_position_mapping():
    X = np.arange(2 * D).reshape(2, D)
    img = to_hwc(X, SHAPE)
    # channel c, row i, column j of sample n sits at n*D + c*64 + i*8 + j
    assert img[1, 2, 5, 1] == 1 * D + 1 * 64 + 2 * 8 + 5
    with pytest.raises(ValueError, match="rows of length 192"):
        to_hwc(np.zeros((2, 10)), SHAPE)


def test_template_images_scaled_per_template():
    W = np.zeros((D, 2))
    W[:64, 0] = 5.0  # class 0: red only
    W[64:128, 1] = -3.0  # class 1: green negative -> darkest where green
    t = template_images(W, SHAPE)
    assert t.shape == (2, 8, 8, 3) and t.min() == 0.0 and t.max() == 1.0
    np.testing.assert_array_equal(t[0, 0, 0], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(t[1, 0, 0], [1.0, 0.0, 1.0])
    assert np.all(minmax_scale(np.ones((1, 4))) == 0.5)  # constant template: mid-grey


def test_weight_templates_panel_k_is_class_k():
    W = np.random.default_rng(0).standard_normal((D, 4))
    fig = weight_templates_figure(W, SHAPE, NAMES)
    expected = template_images(W, SHAPE)
    for k, ax in enumerate(fig.axes):
        assert ax.get_title() == NAMES[k]
        np.testing.assert_allclose(ax.images[0].get_array(), expected[k])


def test_plot_weight_templates_rgb_and_gray(tmp_path):
    rng = np.random.default_rng(0)
    W = np.zeros((D, 4))
    W[:64, 0] = 1.0  # class 0 entirely red
    W[:, 1:] = rng.standard_normal((D, 3))
    img = read_png(plots.plot_weight_templates(W, SHAPE, NAMES, tmp_path / "w.png"), (100, 300))
    red = (img[..., 0] > 0.9) & (img[..., 1] < 0.1) & (img[..., 2] < 0.1)
    assert red.sum() > 1000  # the red panel is there
    assert red[:, : img.shape[1] // 4].sum() == red.sum()  # ... and it is the first one
    Wg = rng.standard_normal((28 * 28, 10))
    read_png(plots.plot_weight_templates(Wg, (1, 28, 28), list("0123456789"), tmp_path / "g.png"))


def test_plot_unit_templates(tmp_path):
    W1 = np.random.default_rng(0).standard_normal((D, 30))
    read_png(plots.plot_unit_templates(W1, SHAPE, tmp_path / "u.png", n=16))
    read_png(plots.plot_unit_templates(W1, SHAPE, tmp_path / "u2.png", n=100))  # n > M


def test_plot_image_grid_and_augmentation(tmp_path):
    X = np.random.default_rng(0).random((7, D)).astype(np.float32)
    read_png(plots.plot_image_grid(X, SHAPE, tmp_path / "g.png", titles=list("abcdefg"), ncols=4))
    read_png(plots.plot_image_grid(X * 1.5 - 0.2, SHAPE, tmp_path / "g2.png"))  # clipped
    read_png(plots.plot_augmentation_examples(X[:4], X[:4, ::-1], SHAPE, tmp_path / "a.png"))
    stack = np.stack([X[:4], 1 - X[:4], X[:4] ** 2])
    img = read_png(plots.plot_augmentation_examples(X[:4], stack, SHAPE, tmp_path / "a3.png"))
    assert img.shape[0] > 350  # four rows of images
    with pytest.raises(ValueError):
        plots.plot_augmentation_examples(X[:4], X[:3], SHAPE, tmp_path / "bad.png")


def test_plot_confusion(tmp_path):
    cm = np.array([[0.5, 0.25, 0.25, 0.0], [0.0, 1.0, 0.0, 0.0], [0.1] * 4, [0.3] * 4])
    read_png(plots.plot_confusion(cm, NAMES, tmp_path / "c.png", title="Test"))
    big = np.full((30, 30), 1 / 30)
    read_png(plots.plot_confusion(big, [f"class {i}" for i in range(30)], tmp_path / "big.png"))
    with pytest.raises(ValueError, match="expected"):
        plots.plot_confusion(cm[:3], NAMES, tmp_path / "x.png")


def test_plot_per_class_prf_dict_and_arrays(tmp_path):
    from scratchlab.metrics import classification_metrics

    m = classification_metrics([0, 1, 2, 3, 3, 2], [0, 1, 1, 3, 2, 2], NAMES)
    read_png(plots.plot_per_class_prf(m, NAMES, tmp_path / "p.png"))
    arrays = (np.full(4, 0.5), np.linspace(0, 1, 4), np.full(4, 0.2))
    read_png(plots.plot_per_class_prf(arrays, NAMES, tmp_path / "p2.png"))
    with pytest.raises(ValueError, match="4 values"):
        plots.plot_per_class_prf((np.ones(3),) * 3, NAMES, tmp_path / "x.png")


def test_plot_misclassified(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((20, D))
    y = rng.integers(0, 4, 20)
    yp = np.where(np.arange(20) % 2 == 0, (y + 1) % 4, y)
    read_png(plots.plot_misclassified(X, SHAPE, y, yp, NAMES, tmp_path / "m.png"))
    fig = misclassified_figure(X, SHAPE, y, yp, NAMES)
    assert len(fig.axes) == 9
    assert fig.axes[0].get_title() == f"true: {NAMES[y[0]]}\npred: {NAMES[yp[0]]}"
    assert fig.axes[1].get_title() == f"true: {NAMES[y[2]]}\npred: {NAMES[yp[2]]}"
    # nothing misclassified: still a valid PNG with a note
    p = plots.plot_misclassified(X, SHAPE, y, y, NAMES, tmp_path / "none.png")
    read_png(p, min_px=(50, 100))


def test_plot_comparison_bars(tmp_path):
    read_png(
        plots.plot_comparison_bars(
            ["a", "b", "c"],
            [0.3, 0.4, 0.35],
            tmp_path / "b.png",
            ylabel="test accuracy",
            title="Acc",
        )
    )
    long = [f"run-{i}-with-a-long-descriptive-name" for i in range(12)]
    values = [0.3 + 0.01 * i for i in range(11)] + [float("nan")]
    read_png(plots.plot_comparison_bars(long, values, tmp_path / "l.png", best="min"))
    read_png(plots.plot_comparison_bars(["x", "y"], [None, math.nan], tmp_path / "n.png"))
    with pytest.raises(ValueError):
        plots.plot_comparison_bars(["a"], [1, 2], tmp_path / "x.png")


def test_output_is_deterministic(tmp_path):
    W = np.random.default_rng(0).standard_normal((D, 4))
    a = plots.plot_weight_templates(W, SHAPE, NAMES, tmp_path / "1.png")
    b = plots.plot_weight_templates(W, SHAPE, NAMES, tmp_path / "2.png")
    np.testing.assert_array_equal(mpimg.imread(a), mpimg.imread(b))


def test_no_pyplot_figures_left_open(tmp_path):
    import sys

    plots.plot_curves(rows(), tmp_path / "c.png")
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []


# -- the report's views ---------------------------------------------------------------------
def captured(monkeypatch, module):
    """Keep the figures `module.save` is given (before it clears them)."""
    figs = []

    def keep(fig, path):
        figs.append(
            [(ax.get_title(), ax.get_ylim(), [t.get_text() for t in ax.texts]) for ax in fig.axes]
        )
        return path

    monkeypatch.setattr(module, "save", keep)
    return figs


def test_cost_panel_is_dropped_when_it_equals_the_loss(monkeypatch, tmp_path):
    from scratchlab.plots import curves

    figs = captured(monkeypatch, curves)
    plots.plot_loss_cost_acc(rows(), tmp_path / "a.png")  # cost = loss + penalty
    same = [{**r, "train_cost": r["train_loss"], "val_cost": r["val_loss"]} for r in rows()]
    plots.plot_loss_cost_acc(same, tmp_path / "b.png")
    assert [t for t, _, _ in figs[0]] == ["Loss", "Cost", "Accuracy"]
    assert [t for t, _, _ in figs[1]] == ["Loss (= cost: no regularisation)", "Accuracy"]
    assert plots.cost_equals_loss(same) and not plots.cost_equals_loss(rows())


def test_the_untrained_point_is_left_out_of_the_y_scale_and_marked(monkeypatch, tmp_path):
    from scratchlab.plots import curves

    figs = captured(monkeypatch, curves)
    r = rows(8)  # epoch 0: train loss 2.3, the trained epochs 1.15 .. 0.29
    plots.plot_curves(r, tmp_path / "a.png", "loss")
    plots.plot_curves(r, tmp_path / "b.png", "loss", full_range=True)
    ((_, ylim, texts),) = figs[0]
    assert ylim[1] < 2.3 and ylim[0] < 2.3 / 8  # scaled to epochs 1..7
    assert "epoch 0: 2.3" in texts and "epoch 0: 2.5" in texts  # pinned to the edge, labelled
    ((_, full, _),) = figs[1]
    assert full[1] >= 2.5  # the old view includes it


def test_one_label_for_equal_untrained_values(monkeypatch, tmp_path):
    from scratchlab.plots import curves

    figs = captured(monkeypatch, curves)
    r = [{**x, "val_acc": x["train_acc"] - 0.01 * x["epoch"]} for x in rows(8)]
    plots.plot_curves(r, tmp_path / "a.png", "acc")
    ((_, _, texts),) = figs[0]
    assert texts == ["epoch 0: 10.0 %"]  # train and val start at 0.1: labelled once, in %


def test_overlay_heatmaps_intervals_lr_and_stacked(tmp_path):
    read_png(plots.plot_overlay([("a", rows()), ("b", rows(4))], tmp_path / "o.png"))
    read_png(
        plots.plot_overlay([("a", rows())], tmp_path / "o1.png", metrics=["acc"], sets=["val"])
    )
    grid = np.array([[0.30, 0.35, np.nan], [0.40, 0.38, 0.33]])
    read_png(
        plots.plot_heatmaps(
            [("n_batch 50", grid), ("n_batch 100", grid + 0.01)],
            ["0.001", "0.01", "0.1"],
            ["0", "0.1"],
            tmp_path / "h.png",
            xlabel="train.eta",
            ylabel="train.lambda",
            best=(1, 1, 0),
        )
    )
    with pytest.raises(ValueError, match="shape"):
        plots.plot_heatmaps([("", grid)], ["a"], ["b"], tmp_path / "x.png", xlabel="x", ylabel="y")
    read_png(
        plots.plot_intervals(
            ["a", "b", "c"],
            [0.38, 0.37, math.nan],
            [0.35, 0.34, math.nan],
            [0.41, 0.40, math.nan],
            tmp_path / "i.png",
            best=0,
            tied=[1],
        )
    )
    lr = np.concatenate([np.linspace(1e-5, 1e-1, 50), np.linspace(1e-1, 1e-5, 50)])
    read_png(
        plots.plot_lr(
            [("cyclical", lr), ("constant", np.full(100, 1e-3))], [10, 10], tmp_path / "lr.png"
        )
    )
    a = plots.plot_weight_templates(
        np.random.default_rng(0).standard_normal((D, 4)), SHAPE, NAMES, tmp_path / "w.png"
    )
    read_png(plots.plot_stacked([("λ 0", a), ("λ 1", a)], tmp_path / "s.png", title="λ"))


def test_a_run_far_below_the_best_is_drawn_off_the_interval_scale(monkeypatch, tmp_path):
    from scratchlab.plots import across

    kept = []
    monkeypatch.setattr(across, "save", lambda fig, path: kept.append(fig.axes[0]) or path)
    values = [0.98, 0.975, 0.42]  # MNIST: the final model, a regulariser, a full-batch run
    lo, hi = [x - 0.003 for x in values], [x + 0.003 for x in values]
    plots.plot_intervals(["final", "dropout", "full-batch"], values, lo, hi, tmp_path / "i.png",
                         best=0)  # fmt: skip
    ax = kept[0]
    left, right = ax.get_xlim()
    assert 90 < left < 97.2 and right <= 101  # scaled to 97-98 %, not 42-98 %
    assert "42.0 (off scale)" in [t.get_text() for t in ax.texts]
    plots.plot_intervals(["a", "b"], [0.40, 0.28], [0.37, 0.25], [0.43, 0.31], tmp_path / "j.png",
                         best=0)  # fmt: skip
    assert kept[1].get_xlim()[0] < 25  # 12 points below the best: still on the scale


def test_confusion_with_counts(monkeypatch, tmp_path):
    from scratchlab.plots import classification

    figs = captured(monkeypatch, classification)
    cm = np.array([[0.5, 0.5], [0.0, 1.0]])
    plots.plot_confusion(cm, ["a", "b"], tmp_path / "c.png", counts=[[5, 5], [0, 10]])
    texts = figs[0][0][2]
    assert texts == ["5\n50 %", "5\n50 %", "0\n0 %", "10\n100 %"]  # shares in percent
    with pytest.raises(ValueError, match="counts"):
        plots.plot_confusion(cm, ["a", "b"], tmp_path / "c.png", counts=[[1]])


def test_mistakes_show_the_first_and_the_most_confident(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((30, D))
    y = rng.integers(0, 4, 30)
    yp = (y + (np.arange(30) % 3 == 0)) % 4
    conf = np.linspace(0.3, 0.99, 30)
    img = read_png(plots.plot_mistakes(X, SHAPE, y, yp, conf, NAMES, tmp_path / "m.png"))
    assert img.shape[1] > img.shape[0]  # two montages side by side
    read_png(plots.plot_mistakes(X, SHAPE, y, y, conf, NAMES, tmp_path / "n.png"), (50, 100))


def test_figures_are_saved_as_small_palette_pngs(tmp_path):
    from PIL import Image

    p = plots.plot_loss_cost_acc(rows(), tmp_path / "c.png")
    with Image.open(p) as img:
        assert img.mode == "P"
    data = p.read_bytes()
    assert plots.compact_png(data) == data  # already compact: unchanged
    big = tmp_path / "rgb.png"
    with Image.open(p) as img:
        img.convert("RGB").save(big)
    assert len(plots.compact_png(big.read_bytes())) < big.stat().st_size
