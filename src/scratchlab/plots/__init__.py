"""Figures for lab reports: every ``plot_*`` function writes one PNG and returns its path.

Rendering is headless (Agg, no pyplot state); output is deterministic (no randomness).
Images are channel-major rows with ``image_shape = (C, H, W)`` as everywhere in scratchlab.
"""

from __future__ import annotations

from scratchlab.plots._base import DPI, compact_png, template_images
from scratchlab.plots.across import OFF_SCALE, plot_heatmaps, plot_intervals, plot_lr, plot_stacked
from scratchlab.plots.classification import (
    plot_comparison_bars,
    plot_confusion,
    plot_per_class_prf,
)
from scratchlab.plots.curves import cost_equals_loss, plot_curves, plot_loss_cost_acc, plot_overlay
from scratchlab.plots.images import (
    plot_augmentation_examples,
    plot_image_grid,
    plot_misclassified,
    plot_mistakes,
    plot_unit_templates,
    plot_weight_templates,
)

__all__ = [
    "DPI",
    "OFF_SCALE",
    "compact_png",
    "cost_equals_loss",
    "plot_heatmaps",
    "plot_intervals",
    "plot_lr",
    "plot_mistakes",
    "plot_overlay",
    "plot_stacked",
    "plot_augmentation_examples",
    "plot_comparison_bars",
    "plot_confusion",
    "plot_curves",
    "plot_image_grid",
    "plot_loss_cost_acc",
    "plot_misclassified",
    "plot_per_class_prf",
    "plot_unit_templates",
    "plot_weight_templates",
    "template_images",
]
