"""Random affine distortion (rotation, scale, shift) of a batch, vectorised, bilinear.

For output pixel p (row/column coordinates, origin at the image centre c) the source
position is the inverse map

    src = R(-θ) · (p − c − t) / s + c,      θ ~ U(−max_rotate°, max_rotate°),
                                            s ~ U(1 − max_scale, 1 + max_scale),
                                            t ~ U(−max_shift, max_shift)² (pixels)

and its value is interpolated bilinearly from the four neighbours; positions outside the
image read 0 (black). One gather per neighbour over the whole batch: no loop over samples.
"""

from __future__ import annotations

import numpy as np


def affine_warp(
    X4: np.ndarray, theta: np.ndarray, scale: np.ndarray, shift: np.ndarray
) -> np.ndarray:
    """X4: (B, C, H, W); theta (B,) radians, scale (B,), shift (B, 2) as (dy, dx) pixels."""
    B, C, H, W = X4.shape
    dtype = X4.dtype
    cy, cx = (H - 1) / 2.0, (W - 1) / 2.0
    rows, cols = np.meshgrid(np.arange(H, dtype=dtype), np.arange(W, dtype=dtype), indexing="ij")
    # Output coordinates relative to the centre, minus the shift: (B, H*W)
    py = rows.reshape(1, -1) - cy - shift[:, :1].astype(dtype)
    px = cols.reshape(1, -1) - cx - shift[:, 1:].astype(dtype)
    cos = (np.cos(theta) / scale).astype(dtype)[:, None]
    sin = (np.sin(theta) / scale).astype(dtype)[:, None]
    sy = cos * py - sin * px + cy  # rotate by −θ, divide by s
    sx = sin * py + cos * px + cx
    y0, x0 = np.floor(sy), np.floor(sx)
    wy, wx = sy - y0, sx - x0
    y0, x0 = y0.astype(np.intp), x0.astype(np.intp)

    flat = X4.reshape(B, C, H * W)
    out = np.zeros((B, C, H * W), dtype=dtype)
    for dy, dx, weight in ((0, 0, (1 - wy) * (1 - wx)), (0, 1, (1 - wy) * wx),
                           (1, 0, wy * (1 - wx)), (1, 1, wy * wx)):  # fmt: skip
        yy, xx = y0 + dy, x0 + dx
        inside = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
        idx = np.where(inside, yy * W + xx, 0)  # (B, H*W)
        vals = np.take_along_axis(flat, idx[:, None, :], axis=2)  # (B, C, H*W)
        out += vals * (weight * inside)[:, None, :]
    return out.reshape(B, C, H, W)


def affine(
    X01: np.ndarray,
    rng: np.random.Generator,
    image_shape: tuple[int, int, int],
    *,
    max_rotate: float = 10.0,
    max_scale: float = 0.1,
    max_shift: float = 2.0,
) -> np.ndarray:
    """Rotate by up to ±max_rotate degrees, scale by 1 ± max_scale, shift by ±max_shift px."""
    B = X01.shape[0]
    theta = np.deg2rad(rng.uniform(-max_rotate, max_rotate, B))
    scale = rng.uniform(1 - max_scale, 1 + max_scale, B)
    shift = rng.uniform(-max_shift, max_shift, (B, 2))
    X4 = X01.reshape(B, *image_shape)
    return np.clip(affine_warp(X4, theta, scale, shift), 0, 1).reshape(X01.shape)
