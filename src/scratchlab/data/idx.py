"""IDX files (MNIST, Fashion-MNIST), gzipped or not.

An IDX file is a big-endian header -- two zero bytes, a type code (0x08 = uint8), the
number of dimensions k -- then k uint32 sizes, then the data:
images ``0x00000803`` (n, rows, cols), labels ``0x00000801`` (n,). Every accepted
spelling of a file (``.gz`` or not, ``-idx`` or ``.idx``) is read here, with the same checks.
"""

from __future__ import annotations

import gzip
import os
import struct
from math import prod
from pathlib import Path

import numpy as np

from scratchlab.data.fileio import check_declared, expect_end, read_exact, reading
from scratchlab.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
UBYTE = 0x08


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read an IDX file of uint8 values with `ndim` dimensions; gzip is detected by magic.

    The header's size ``prod(dims)`` is checked against the size cap (`fileio`) and, for
    an uncompressed file, against the file's size before the data is allocated; a gzip
    stream is decompressed in bounded chunks into that allocation and must end exactly
    there. Raises DataError for a wrong magic number, a size that disagrees with the
    header or exceeds the cap, or a truncated / corrupt gzip stream.
    """
    with reading(path), open(path, "rb") as f:
        if f.read(2) == GZIP_MAGIC:
            f.seek(0)
            with gzip.GzipFile(fileobj=f, mode="rb") as stream:
                dims = _header(stream, path, ndim)
                n = prod(dims)
                check_declared(path, n, f"its header {dims}")
                data = read_exact(stream, n, path)
                expect_end(stream, path, n)
        else:
            f.seek(0)
            dims = _header(f, path, ndim)
            n, header = prod(dims), 4 + 4 * ndim
            check_declared(path, n, f"its header {dims}")
            size = os.fstat(f.fileno()).st_size
            if size != header + n:
                raise DataError(
                    f"{path}: holds {size} bytes but its header {dims} needs {header + n}; "
                    "the file is truncated or corrupt -- delete it and fetch it again"
                )
            data = read_exact(f, n, path)
    return data.reshape(dims)


def _header(stream, path: Path, ndim: int) -> tuple[int, ...]:
    """The dimensions in an IDX header: magic ``0x0000080<ndim>``, then `ndim` uint32."""
    magic = stream.read(4)
    if len(magic) < 4 or magic[:3] != bytes([0, 0, UBYTE]) or magic[3] != ndim:
        shown = magic.hex() if len(magic) == 4 else "(file too short)"
        raise DataError(
            f"{path}: magic number {shown} is not 0000080{ndim} (uint8, {ndim} dims); "
            "it is not an IDX file of the expected kind"
        )
    raw = stream.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise DataError(f"{path}: truncated IDX header")
    return struct.unpack(f">{ndim}I", raw)


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
