"""On-the-fly data augmentation, vectorised per batch and seeded.

Every augmentation works on raw pixels in [0, 1], *before* standardisation.

Layout: ``X01: (B, d)`` with ``d = C * H * W``; each row is one image flattened
channel-major (``image_shape = (C, H, W)``; CIFAR stores 1024 red, then 1024 green,
then 1024 blue values, each plane row-major 32x32). Internally a batch is viewed as
``(B, C, H, W)``; there are no Python loops over samples.

Each augmentation is a function ``fn(X01, rng, image_shape, **params) -> X01'`` that
returns a new array of the same shape and dtype (the input is never modified) and
clips to [0, 1] wherever it could leave that range.

    >>> aug = build_augmenter([{"kind": "flip"}, {"kind": "translate", "max_shift": 2}],
    ...                       (3, 32, 32))
    >>> aug.describe()
    'flip(p=0.5) + translate(max_shift=2)'
    >>> Xb_aug = aug(Xb01, rng)            # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from math import prod
from numbers import Integral, Real

import numpy as np

from scratchlab.data.affine import affine
from scratchlab.errors import ConfigError

ImageShape = tuple[int, int, int]

__all__ = [
    "AUGMENTATIONS",
    "AugmentationKind",
    "Augmenter",
    "affine",
    "build_augmenter",
    "flip",
    "gaussian_noise",
    "photometric",
    "salt_pepper",
    "translate",
    "translate_by",
]


def _as_4d(X01: np.ndarray, image_shape: ImageShape) -> np.ndarray:
    """View ``X01: (B, d)`` as ``(B, C, H, W)`` (no copy for a contiguous input)."""
    X01 = np.asarray(X01)
    if X01.ndim != 2 or X01.shape[1] != prod(image_shape):
        raise ValueError(
            f"expected X01 of shape (B, {prod(image_shape)}) for image_shape {tuple(image_shape)},"
            f" got {X01.shape}"
        )
    return X01.reshape(X01.shape[0], *image_shape)


def flip(X01: np.ndarray, rng: np.random.Generator, image_shape: ImageShape, *, p: float = 0.5):
    """Mirror a random subset of images left-right (the W axis).

    Each image is flipped independently with probability ``p``.
    X01: (B, d) -> (B, d), same dtype.
    """
    X4 = _as_4d(X01, image_shape)
    out = X4.copy()
    chosen = rng.random(X4.shape[0]) < p
    out[chosen] = X4[chosen, :, :, ::-1]
    return out.reshape(X01.shape)


def translate_by(X01: np.ndarray, dx, dy, image_shape: ImageShape) -> np.ndarray:
    """Shift every image by integer offsets, filling the uncovered border with zeros.

    ``dx``/``dy``: int or (B,) ints. Positive ``dx`` moves the content right (towards
    larger column index), positive ``dy`` moves it down: ``out[c, i, j] = x[c, i - dy, j - dx]``
    where that source pixel exists, else 0 (zero padding, i.e. black in [0, 1] pixels).
    X01: (B, d) -> (B, d), same dtype.
    """
    X4 = _as_4d(X01, image_shape)
    B, _, H, W = X4.shape
    # Clamp: a shift of H (or W) or more already leaves an all-zero image.
    dx = np.clip(np.broadcast_to(np.asarray(dx, dtype=np.int64), (B,)), -W, W)
    dy = np.clip(np.broadcast_to(np.asarray(dy, dtype=np.int64), (B,)), -H, H)
    out = np.zeros_like(X4)
    # Group samples by their (dy, dx) pair: at most (2 * max_shift + 1)^2 slice copies,
    # no loop over samples, and no padded copy of the batch.
    order = np.lexsort((dx, dy))
    starts = np.flatnonzero(np.diff(dy[order]) | np.diff(dx[order])) + 1
    for group in np.split(order, starts):
        if group.size == 0:
            continue
        y, x = int(dy[group[0]]), int(dx[group[0]])
        out[group, :, max(y, 0) : H + min(y, 0), max(x, 0) : W + min(x, 0)] = X4[
            group, :, max(-y, 0) : H - max(y, 0), max(-x, 0) : W - max(x, 0)
        ]
    return out.reshape(X01.shape)


def translate(
    X01: np.ndarray, rng: np.random.Generator, image_shape: ImageShape, *, max_shift: int = 2
):
    """Geometric jitter: shift each image by dx, dy ~ U{-max_shift..max_shift}, zero-padded.

    X01: (B, d) -> (B, d), same dtype. See :func:`translate_by` for the convention.
    """
    B = X01.shape[0]
    dx = rng.integers(-max_shift, max_shift + 1, size=B)
    dy = rng.integers(-max_shift, max_shift + 1, size=B)
    return translate_by(X01, dx, dy, image_shape)


def photometric(
    X01: np.ndarray,
    rng: np.random.Generator,
    image_shape: ImageShape,
    *,
    brightness: float = 0.1,
    contrast: float = 0.1,
):
    """Random contrast and brightness per image, then clip to [0, 1].

    ``x' = (x - m) * c + m + b`` with ``m`` the image's mean over all its pixels and
    channels, ``c ~ U(1 - contrast, 1 + contrast)``, ``b ~ U(-brightness, brightness)``.
    X01: (B, d) -> (B, d), same dtype.
    """
    _as_4d(X01, image_shape)
    B, dt = X01.shape[0], X01.dtype
    c = rng.uniform(1.0 - contrast, 1.0 + contrast, size=(B, 1)).astype(dt)
    b = rng.uniform(-brightness, brightness, size=(B, 1)).astype(dt)
    m = X01.mean(axis=1, keepdims=True, dtype=dt)
    out = (X01 - m) * c + (m + b)
    return np.clip(out, 0.0, 1.0, out=out)


def gaussian_noise(
    X01: np.ndarray, rng: np.random.Generator, image_shape: ImageShape, *, sigma: float = 0.01
):
    """Add i.i.d. N(0, sigma^2) noise to every value, then clip to [0, 1].

    X01: (B, d) -> (B, d), same dtype.
    """
    _as_4d(X01, image_shape)
    dt = X01.dtype if X01.dtype in (np.float32, np.float64) else np.float64
    out = rng.standard_normal(X01.shape, dtype=dt)
    out *= sigma
    out += X01
    return np.clip(out, 0.0, 1.0, out=out).astype(X01.dtype, copy=False)


def salt_pepper(
    X01: np.ndarray, rng: np.random.Generator, image_shape: ImageShape, *, fraction: float = 0.01
):
    """Set a random ``fraction`` of pixel positions to black (0) or white (1), 50/50.

    Chosen per pixel *position*: each (i, j) is hit independently with probability
    ``fraction`` and then all C channels there get the same value, so colour images
    get black/white dots (not coloured ones). X01: (B, d) -> (B, d), same dtype.
    """
    X4 = _as_4d(X01, image_shape)
    B, _, H, W = X4.shape
    hit = rng.random((B, 1, H, W)) < fraction
    value = (rng.random((B, 1, H, W)) < 0.5).astype(X4.dtype)
    return np.where(hit, value, X4).reshape(X01.shape)


# --------------------------------------------------------------------- registry + specs


def _prob(v) -> str | None:
    return None if 0.0 <= v <= 1.0 else "must be in [0, 1]"


def _nonneg(v) -> str | None:
    return None if v >= 0 else "must be >= 0"


@dataclass(frozen=True)
class AugmentationKind:
    """One registered augmentation: its function and its parameters with defaults."""

    name: str
    fn: Callable[..., np.ndarray]
    params: dict[str, float | int]
    summary: str
    checks: dict[str, Callable[[float], str | None]] = field(default_factory=dict, repr=False)


AUGMENTATIONS: dict[str, AugmentationKind] = {
    k.name: k
    for k in (
        AugmentationKind("flip", flip, {"p": 0.5}, "mirror left-right", {"p": _prob}),
        AugmentationKind(
            "translate",
            translate,
            {"max_shift": 2},
            "shift by up to max_shift px, zero-padded",
            {"max_shift": _nonneg},
        ),
        AugmentationKind(
            "photometric",
            photometric,
            {"brightness": 0.1, "contrast": 0.1},
            "random brightness and contrast",
            {"brightness": _nonneg, "contrast": _prob},
        ),
        AugmentationKind(
            "gaussian_noise", gaussian_noise, {"sigma": 0.01}, "additive noise", {"sigma": _nonneg}
        ),
        AugmentationKind(
            "affine",
            affine,
            {"max_rotate": 10.0, "max_scale": 0.1, "max_shift": 2.0},
            "rotate, scale and shift (bilinear, zero fill)",
            {"max_rotate": _nonneg, "max_scale": _prob, "max_shift": _nonneg},
        ),
        AugmentationKind(
            "salt_pepper",
            salt_pepper,
            {"fraction": 0.01},
            "black/white pixels",
            {"fraction": _prob},
        ),
    )
}


def _validate(spec: Mapping, index: int) -> tuple[AugmentationKind, dict]:
    """Check one spec dict; return its kind and its full parameter dict (defaults filled)."""
    where = f"augmentation #{index + 1}"
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f'{where}: expected a table like {{kind = "flip", p = 0.5}}, got {spec!r}'
        )
    valid_kinds = ", ".join(AUGMENTATIONS)
    if "kind" not in spec:
        raise ConfigError(f"{where}: missing 'kind'; valid kinds: {valid_kinds}")
    name = spec["kind"]
    if name not in AUGMENTATIONS:
        raise ConfigError(f"{where}: unknown kind {name!r}; valid kinds: {valid_kinds}")
    kind = AUGMENTATIONS[name]
    params = dict(kind.params)
    for key, value in spec.items():
        if key == "kind":
            continue
        if key not in kind.params:
            valid = ", ".join(kind.params) or "(none)"
            raise ConfigError(f"{where} ({name}): unknown key {key!r}; valid keys: {valid}")
        default = kind.params[key]
        want_int = isinstance(default, int)
        ok_type = Integral if want_int else Real
        if isinstance(value, bool) or not isinstance(value, ok_type):
            what = "an integer" if want_int else "a number"
            raise ConfigError(f"{where} ({name}): {key} must be {what}, got {value!r}")
        value = int(value) if want_int else float(value)
        if not np.isfinite(value):
            raise ConfigError(f"{where} ({name}): {key} must be finite, got {value!r}")
        problem = kind.checks.get(key, lambda v: None)(value)
        if problem:
            raise ConfigError(f"{where} ({name}): {key} {problem}, got {value!r}")
        params[key] = value
    return kind, params


def _format_value(v: float | int) -> str:
    return str(v) if isinstance(v, int) else f"{v:g}"


class Augmenter:
    """A validated pipeline of augmentations applied in order: ``aug(X01, rng) -> X01'``.

    Build it with :func:`build_augmenter`. ``specs`` is the normalised list of dicts
    (every parameter filled in), suitable for metrics.json.
    """

    def __init__(self, steps: Sequence[tuple[AugmentationKind, dict]], image_shape: ImageShape):
        self.steps = list(steps)
        self.image_shape: ImageShape = tuple(int(s) for s in image_shape)  # type: ignore[assignment]

    @property
    def specs(self) -> list[dict]:
        return [{"kind": kind.name, **params} for kind, params in self.steps]

    def __call__(self, X01: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """X01: (B, d) pixels in [0, 1] -> (B, d) augmented, same dtype; input untouched."""
        out = X01
        for kind, params in self.steps:
            out = kind.fn(out, rng, self.image_shape, **params)
        return out

    def describe(self) -> str:
        """E.g. ``"flip(p=0.5) + translate(max_shift=2)"``."""
        return " + ".join(
            f"{kind.name}({', '.join(f'{k}={_format_value(v)}' for k, v in params.items())})"
            for kind, params in self.steps
        )

    def __repr__(self) -> str:
        return f"Augmenter({self.describe()}, image_shape={self.image_shape})"


def build_augmenter(specs: Sequence[Mapping] | None, image_shape) -> Augmenter | None:
    """Validate ``specs`` (e.g. ``[{"kind": "flip", "p": 0.5}]``) and build the pipeline.

    Returns None for an empty (or None) list. Raises ConfigError naming the valid kinds or
    keys for an unknown kind, unknown key, wrong type or out-of-range value.
    """
    if not specs:
        return None
    if isinstance(specs, Mapping | str):
        raise ConfigError(f"augment must be a list of tables, got {specs!r}")
    shape = tuple(image_shape)
    if len(shape) != 3 or not all(isinstance(s, Integral) and s > 0 for s in shape):
        raise ValueError(f"image_shape must be (C, H, W) positive ints, got {image_shape!r}")
    steps = [_validate(spec, i) for i, spec in enumerate(specs)]
    side = min(shape[1:])
    for kind, params in steps:  # a shift as large as the image leaves nothing of it
        if params.get("max_shift", 0) >= side:
            raise ConfigError(
                f"{kind.name}: max_shift = {params['max_shift']:g} px is not smaller "
                f"than the {shape[1]}x{shape[2]} images; use at most {side - 1}"
            )
    return Augmenter(steps, shape)
