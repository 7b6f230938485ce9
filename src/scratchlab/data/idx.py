"""IDX files (MNIST, Fashion-MNIST), gzipped or not.

An IDX file is a big-endian header -- two zero bytes, a type code (0x08 = uint8), the
number of dimensions k -- then k uint32 sizes, then the data:
images ``0x00000803`` (n, rows, cols), labels ``0x00000801`` (n,).
"""

from __future__ import annotations

import gzip
import struct
from math import prod
from pathlib import Path

import numpy as np

from scratchlab.data.fileio import reading
from scratchlab.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
UBYTE = 0x08


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read an IDX file of uint8 values with `ndim` dimensions; gzip is detected by magic.

    Raises DataError for a wrong magic number, a size that disagrees with the header,
    or a truncated / corrupt gzip stream.
    """
    with reading(path):
        raw = path.read_bytes()
        if raw[:2] == GZIP_MAGIC:
            raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != UBYTE or raw[3] != ndim:
        magic = raw[:4].hex() if len(raw) >= 4 else "(file too short)"
        expected = f"0000080{ndim}"
        raise DataError(
            f"{path}: magic number {magic} is not {expected} (uint8, {ndim} dims); "
            "it is not an IDX file of the expected kind"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected_size = header + prod(dims)
    if len(raw) != expected_size:
        raise DataError(
            f"{path}: holds {len(raw)} bytes but its header {dims} needs {expected_size}; "
            "the file is truncated or corrupt -- delete it and fetch it again"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def read_pair(
    images: Path, labels: Path, image_shape: tuple[int, int, int], n_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of one part: ``X uint8 (n, H*W)``, ``y int64 (n,)``."""
    X = read_idx(images, 3)
    y = read_idx(labels, 1).astype(np.int64)
    _, h, w = image_shape
    if X.shape[1:] != (h, w):
        raise DataError(f"{images}: images are {X.shape[1]}x{X.shape[2]}, expected {h}x{w}")
    if X.shape[0] != y.shape[0]:
        raise DataError(f"{images} holds {X.shape[0]} images but {labels} {y.shape[0]} labels")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise DataError(f"{labels}: labels must lie in 0..{n_classes - 1}")
    return X.reshape(X.shape[0], h * w), y
