"""Image montages: weight templates, first-layer units, samples, augmentations, mistakes.

Images arrive as channel-major rows (``(n, C*H*W)``, see ``image_shape = (C, H, W)``);
pixels are expected in [0, 1] (they are clipped for display).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import ceil, sqrt

import numpy as np
from matplotlib.figure import Figure

from scratchlab.plots._base import (
    SMALL,
    TITLE_SIZE,
    fit_title,
    image_axes,
    new_figure,
    save,
    show_image,
    template_images,
    to_hwc,
    wrap,
)


def _grid_figure(images, ncols: int, panel: float, titles=None, title=None, title_lines=1):
    """A montage of (n, H, W, C) images, ``ncols`` wide, each ``panel`` inches."""
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, ceil(n / ncols))
    extra = 0.2 * title_lines if titles is not None else 0.0
    fig = new_figure(ncols * panel + 0.2, nrows * (panel + extra) + (0.45 if title else 0.1))
    for k, ax in enumerate(image_axes(fig, n, ncols)):
        show_image(ax, images[k], None if titles is None else titles[k])
    if title:
        fig.suptitle(fit_title(title, fig.get_figwidth()), fontsize=TITLE_SIZE)
    return fig


def weight_templates_figure(W, image_shape, class_names: Sequence[str], title=None) -> Figure:
    """Panel k shows ``W[:, k]`` as an image, titled ``class_names[k]``. W: (d, K)."""
    images = template_images(W, image_shape)
    if len(class_names) != len(images):
        raise ValueError(f"W has {len(images)} columns but there are {len(class_names)} names")
    titles = [wrap(c, 12) for c in class_names]
    lines = max(t.count("\n") + 1 for t in titles)
    return _grid_figure(images, 10, 1.3, titles, title, lines)


def plot_weight_templates(W, image_shape, class_names: Sequence[str], path, title=None):
    """Each class template ``W[:, k]`` (W: (d, K)) as an image, min-max scaled per template.

    Laid out in one row for K <= 10 (CIFAR-10, MNIST), else rows of 10; grayscale for C = 1.
    """
    title = title if title is not None else "Learnt class templates (columns of W)"
    return save(weight_templates_figure(W, image_shape, class_names, title), path)


def plot_unit_templates(W1, image_shape, path, n: int = 64, title=None):
    """The first ``n`` hidden units' input weights ``W1[:, m]`` (W1: (d, M)) as a square grid."""
    W1 = np.asarray(W1)
    n = max(1, min(int(n), W1.shape[1]))
    images = template_images(W1[:, :n], image_shape)
    title = title if title is not None else f"First-layer weights of {n} of {W1.shape[1]} units"
    return save(_grid_figure(images, ceil(sqrt(n)), 0.85, None, title), path)


def plot_image_grid(X01, image_shape, path, titles=None, ncols: int | None = None, title=None):
    """Images X01: (n, d) in [0, 1] as a grid, ``ncols`` wide (default up to 10)."""
    images = to_hwc(X01, image_shape)
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(titles)} titles for {len(images)} images")
    ncols = ncols or min(len(images), 10)
    titles = None if titles is None else [wrap(t, 14) for t in titles]
    lines = 1 if titles is None else max(t.count("\n") + 1 for t in titles)
    return save(_grid_figure(images, ncols, 1.3, titles, title, lines), path)


def plot_augmentation_examples(X_orig01, X_aug01, image_shape, path, title=None):
    """Originals (n, d) on the top row; below, one row per augmented version.

    X_aug01: (n, d) for one augmented row, or (r, n, d) for r rows (r draws of the augmenter).
    """
    orig = to_hwc(X_orig01, image_shape)
    aug = np.asarray(X_aug01)
    aug = aug[None] if aug.ndim == 2 else aug
    if aug.shape[1] != len(orig):
        raise ValueError(f"{aug.shape[1]} augmented images for {len(orig)} originals")
    rows = [orig] + [to_hwc(a, image_shape) for a in aug]
    n, r = len(orig), len(rows)
    fig = new_figure(n * 1.2 + 0.6, r * 1.25 + 0.5)
    axes = np.array(fig.subplots(r, n, squeeze=False))
    for i, images in enumerate(rows):
        for k in range(n):
            show_image(axes[i, k], images[k])
        label = "original" if i == 0 else ("augmented" if r == 2 else f"augmented {i}")
        axes[i, 0].set_ylabel(label, fontsize=SMALL + 1)
    title = title or "Training images before and after augmentation"
    fig.suptitle(fit_title(title, fig.get_figwidth()), fontsize=TITLE_SIZE)
    return save(fig, path)


def misclassified_figure(X01, image_shape, y_true, y_pred, class_names, n=9, indices=None):
    """The figure behind :func:`plot_misclassified`; returns it unsaved."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if indices is None:
        indices = np.flatnonzero(y_true != y_pred)[:n]
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0:
        fig = new_figure(4.0, 1.5)
        ax = fig.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, "No misclassified samples", ha="center", va="center", fontsize=12)
        return fig
    images = to_hwc(np.asarray(X01)[indices], image_shape)
    titles = [
        f"true: {wrap(class_names[y_true[i]], 16)}\npred: {wrap(class_names[y_pred[i]], 16)}"
        for i in indices
    ]
    lines = max(t.count("\n") + 1 for t in titles)
    fig = _grid_figure(
        images, ceil(sqrt(len(images))), 1.7, titles, "Misclassified test images", lines
    )
    for ax in fig.axes:
        ax.title.set_color("#8b0000")
    return fig


def plot_misclassified(X01, image_shape, y_true, y_pred, class_names, path, n=9, indices=None):
    """The first ``n`` misclassified images (3x3 for n=9) titled "true: cat / pred: dog".

    X01: (N, d) test images in [0, 1]; y_true, y_pred: (N,). ``indices`` overrides the choice
    (e.g. from ``scratchlab.metrics.misclassified``). Writes a note if nothing is misclassified.
    """
    return save(
        misclassified_figure(X01, image_shape, y_true, y_pred, class_names, n, indices), path
    )


def plot_mistakes(X01, image_shape, y_true, y_pred, confidence, class_names, path, n=9):
    """Two montages side by side: the first `n` misclassified images (left) and the `n` most
    confident mistakes (right: highest predicted probability of the wrong class, first on ties).

    X01: (N, d) images in [0, 1]; y_true, y_pred: (N,); confidence: (N,) the probability the
    model gave its (wrong) prediction. A note replaces the montages if nothing is wrong.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    confidence = np.asarray(confidence, dtype=float)
    wrong = np.flatnonzero(y_true != y_pred)
    if wrong.size == 0:
        return save(misclassified_figure(X01, image_shape, y_true, y_pred, class_names, n), path)
    first = wrong[:n]
    sure = wrong[np.argsort(-confidence[wrong], kind="stable")[:n]]
    ncols = ceil(sqrt(len(first)))
    nrows = ceil(len(first) / ncols)
    fig = new_figure(2 * (ncols * 1.7 + 0.3), nrows * 2.2 + 0.6)
    heads = ("First misclassified", "Most confident mistakes")
    for sub, idx, head in zip(fig.subfigures(1, 2), (first, sure), heads, strict=True):
        images = to_hwc(np.asarray(X01)[idx], image_shape)
        for k, ax in enumerate(image_axes(sub, len(idx), ncols)):
            i = idx[k]
            true, pred = wrap(class_names[y_true[i]], 16), wrap(class_names[y_pred[i]], 16)
            label = f"true: {true}\npred: {pred}"
            if head == heads[1]:
                label += f"\np = {confidence[i]:.2f}"
            show_image(ax, images[k], label, fontsize=SMALL - 1)
            ax.title.set_color("#8b0000")
        sub.suptitle(head, fontsize=TITLE_SIZE - 1)
    return save(fig, path)
