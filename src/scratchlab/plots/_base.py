"""Shared helpers: headless figures, saving, and channel-major rows -> displayable images.

No pyplot: figures are plain :class:`matplotlib.figure.Figure` objects, which render with
the Agg backend when saved to PNG, touch no global backend state and are freed when they
go out of scope (there is no pyplot figure manager holding on to them).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from PIL import Image

from scratchlab.data.splits import to_hwc  # noqa: F401 - one layout, owned by the data
from scratchlab.io import atomic_open

DPI = 110
TITLE_SIZE = 12
SMALL = 9


def new_figure(width: float, height: float, **kwargs) -> Figure:
    """A headless figure with constrained layout (labels, colour bars and titles don't clash)."""
    return Figure(figsize=(width, height), layout="constrained", **kwargs)


def save(fig: Figure, path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (parents created), release it, return the path.

    Written atomically (a temporary file renamed into place): an interrupted save never
    leaves a truncated PNG where a report would embed it. Stored as a palette PNG when that
    is smaller (see `compact_png`).
    """
    path = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    fig.clear()
    with atomic_open(path, "wb") as handle:
        handle.write(compact_png(buffer.getvalue()))
    return path


def compact_png(data: bytes) -> bytes:
    """The smaller of `data` and its 256-colour palette version (median cut, no dithering).

    Charts have a few dozen colours and lose nothing; image montages lose a little colour
    depth. A report embeds dozens of figures, so this is what keeps it to a few MB (a
    three-panel learning-curve figure: ~95 KB as RGBA, ~35 KB as a palette PNG).
    """
    with Image.open(io.BytesIO(data)) as img:
        if img.mode in ("P", "L", "1"):
            return data  # already a palette (or grey) image
        rgb = img.convert("RGB")
    small = io.BytesIO()
    rgb.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        small, format="PNG", optimize=True
    )
    return small.getvalue() if small.tell() < len(data) else data


def minmax_scale(images: np.ndarray) -> np.ndarray:
    """Scale each image of (N, ...) to [0, 1] on its own; a constant image becomes 0.5."""
    images = np.asarray(images, dtype=np.float64)
    axes = tuple(range(1, images.ndim))
    lo = images.min(axis=axes, keepdims=True)
    span = images.max(axis=axes, keepdims=True) - lo
    return np.divide(images - lo, span, out=np.full(images.shape, 0.5), where=span > 0)


def template_images(W, image_shape: Sequence[int]) -> np.ndarray:
    """Weight columns -> displayable templates.

    W: (d, K) with column k the template of class (or unit) k -> (K, H, W, C) in [0, 1],
    min-max scaled per template.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"expected a weight matrix (d, K), got shape {W.shape}")
    return minmax_scale(to_hwc(W.T, image_shape))


def show_image(ax: Axes, img_hwc: np.ndarray, title: str | None = None, fontsize=SMALL) -> None:
    """Draw one (H, W, C) image in [0, 1] without ticks; grayscale for C == 1."""
    img = np.clip(img_hwc, 0.0, 1.0)
    if img.shape[-1] == 1:
        ax.imshow(img[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(img, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title is not None:
        ax.set_title(title, fontsize=fontsize)


def image_axes(fig: Figure, n: int, ncols: int) -> list[Axes]:
    """An n-panel grid with ``ncols`` columns; unused trailing panels are hidden."""
    nrows = max(1, -(-n // ncols))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return list(axes[:n])


def wrap(label: str, width: int = 14) -> str:
    """Wrap a long class name onto several lines for a panel title."""
    return "\n".join(textwrap.wrap(str(label), width, break_long_words=True)) or str(label)


def fit_title(title: str, width_in: float, fontsize: float = TITLE_SIZE) -> str:
    """Wrap ``title`` so it fits a figure ``width_in`` inches wide at ``fontsize`` points."""
    chars = max(20, int(width_in * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.wrap(title, chars)) or title


def tick_rotation(labels: Sequence[str], n_max: int = 6, len_max: int = 6) -> int:
    """45 degrees when the category labels would collide, else 0."""
    longest = max((len(str(s)) for s in labels), default=0)
    return 45 if len(labels) > n_max or longest > len_max else 0


def set_category_ticks(ax: Axes, labels: Sequence[str], axis: str = "x") -> None:
    """Category tick labels, rotated (anchored at their end) when they would overlap."""
    pos = np.arange(len(labels))
    labels = [str(s) for s in labels]
    if axis == "x":
        rot = tick_rotation(labels)
        ha = "right" if rot else "center"
        ax.set_xticks(pos, labels, rotation=rot, ha=ha, rotation_mode="anchor")
    else:
        ax.set_yticks(pos, labels)
