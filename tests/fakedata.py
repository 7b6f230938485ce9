"""Tiny datasets in the official file formats, for tests (import from any test module).

    parts = cifar_parts()                                  # {part: (X uint8, y int64)}
    folder = write_cifar_folder(tmp_path, "binary", parts) # .../cifar-10-batches-bin
    archive = write_cifar_archive(tmp_path, "python", parts)
    mnist = write_mnist_folder(tmp_path / "mnist", mnist_parts())

Every image row carries a unique id in its first two pixels (``id = 256*X[:,0] + X[:,1]``,
see `row_ids`), so tests can check which images ended up where.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import scipy.io

CLASS_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
CIFAR_PARTS = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
FOLDERS = {
    "python": "cifar-10-batches-py",
    "matlab": "cifar-10-batches-mat",
    "binary": "cifar-10-batches-bin",
}
SUFFIX = {"python": "", "matlab": ".mat", "binary": ".bin"}
META = {"python": "batches.meta", "matlab": "batches.meta.mat", "binary": "batches.meta.txt"}


def _with_ids(X: np.ndarray, first_id: int) -> np.ndarray:
    ids = np.arange(first_id, first_id + len(X))
    X[:, 0], X[:, 1] = ids // 256, ids % 256
    return X


def row_ids(X_u8: np.ndarray) -> np.ndarray:
    """The unique image ids the builders wrote into the first two pixels."""
    X_u8 = np.asarray(X_u8).astype(np.int64)
    return X_u8[:, 0] * 256 + X_u8[:, 1]


def cifar_parts(sizes: dict[str, int] | None = None, seed: int = 0) -> dict:
    """Random CIFAR-like parts: ``{part: (X uint8 (n, 3072), y int64 (n,))}``.

    Default sizes: 20 images per training batch, 16 in test_batch.
    """
    sizes = sizes or {p: (16 if p == "test_batch" else 20) for p in CIFAR_PARTS}
    rng = np.random.default_rng(seed)
    parts, next_id = {}, 0
    for part in CIFAR_PARTS:
        n = sizes[part]
        X = _with_ids(rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), next_id)
        parts[part] = (X, rng.integers(0, 10, size=n).astype(np.int64))
        next_id += n
    return parts


# --- python: Python 2 style pickles, as in the official archive -------------------------


class _Py2Pickler(pickle._Pickler):
    """Protocol 2 with Python 2 ``str`` opcodes (BINSTRING) for bytes and str, as
    cPickle wrote CIFAR-10's batches; loaded with ``encoding='bytes'`` they give bytes."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_str(self, obj):
        data = obj if isinstance(obj, bytes) else obj.encode("latin1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str
    dispatch[str] = _save_py2_str


def py2_dumps(obj) -> bytes:
    """Pickle `obj` the way the official (Python 2, NumPy 1.x) CIFAR files are pickled."""
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue().replace(
        b"cnumpy._core.multiarray\n_reconstruct\n", b"cnumpy.core.multiarray\n_reconstruct\n"
    )


def python_batch_bytes(X, y, label: str = "training batch 1 of 5") -> bytes:
    names = [f"image_{i:05d}.png" for i in range(len(y))]
    return py2_dumps(
        {"batch_label": label, "labels": [int(v) for v in y], "data": X, "filenames": names}
    )


def python_meta_bytes(names=CLASS_NAMES) -> bytes:
    return py2_dumps({"num_cases_per_batch": 10000, "label_names": list(names), "num_vis": 3072})


def malicious_pickle(marker: Path) -> bytes:
    """A pickle that, loaded with the plain unpickler, runs ``touch marker`` via os.system."""

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    return pickle.dumps({b"data": Evil(), b"labels": [0]}, protocol=2)


# --- matlab and binary ------------------------------------------------------------------


def mat_batch_bytes(X, y, label: str = "training batch 1 of 5") -> bytes:
    buf = io.BytesIO()
    labels = np.asarray(y, dtype=np.uint8).reshape(-1, 1)
    scipy.io.savemat(buf, {"data": np.asarray(X, np.uint8), "labels": labels, "batch_label": label})
    return buf.getvalue()


def mat_meta_bytes(names=CLASS_NAMES) -> bytes:
    cells = np.empty((len(names), 1), dtype=object)
    for i, name in enumerate(names):
        cells[i, 0] = name
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"label_names": cells})
    return buf.getvalue()


def bin_batch_bytes(X, y) -> bytes:
    labels = np.asarray(y, dtype=np.uint8).reshape(-1, 1)
    return np.concatenate([labels, np.asarray(X, np.uint8)], axis=1).tobytes()


def bin_meta_bytes(names=CLASS_NAMES) -> bytes:
    return ("\n".join(names) + "\n\n").encode()


def cifar_files(fmt: str, parts: dict, names=CLASS_NAMES) -> dict[str, bytes]:
    """``{file name: bytes}`` of a complete ``cifar-10-batches-*`` folder in `fmt`."""
    files = {}
    for i, part in enumerate(CIFAR_PARTS):
        X, y = parts[part]
        label = "testing batch 1 of 1" if part == "test_batch" else f"training batch {i + 1} of 5"
        if fmt == "python":
            files[part] = python_batch_bytes(X, y, label)
        elif fmt == "matlab":
            files[part + ".mat"] = mat_batch_bytes(X, y, label)
        else:
            files[part + ".bin"] = bin_batch_bytes(X, y)
    meta = {"python": python_meta_bytes, "matlab": mat_meta_bytes, "binary": bin_meta_bytes}
    files[META[fmt]] = meta[fmt](names)
    return files


def write_cifar_folder(root: Path, fmt: str, parts: dict, names=CLASS_NAMES) -> Path:
    """Write ``root/cifar-10-batches-{py,mat,bin}/`` and return that folder."""
    folder = Path(root) / FOLDERS[fmt]
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in cifar_files(fmt, parts, names).items():
        (folder / name).write_bytes(data)
    return folder


def write_tar(path: Path, members: dict[str, bytes]) -> Path:
    """A .tar.gz holding `members` (``{arcname: bytes}``) as regular files."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for arcname, data in members.items():
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return Path(path)


def write_cifar_archive(
    root: Path, fmt: str, parts: dict, names=CLASS_NAMES, filename: str | None = None
) -> Path:
    """Write ``root/cifar-10-{fmt}.tar.gz`` laid out like the official archive."""
    folder = FOLDERS[fmt]
    members = {f"{folder}/{n}": d for n, d in cifar_files(fmt, parts, names).items()}
    members[f"{folder}/readme.html"] = b"<html>CIFAR-10</html>"
    return write_tar(Path(root) / (filename or f"cifar-10-{fmt}.tar.gz"), members)


# --- IDX (MNIST-style) ------------------------------------------------------------------

IDX_NAMES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}


def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.tobytes()


def write_idx(path: Path, arr: np.ndarray) -> Path:
    """Write an IDX file; gzipped when the name ends in ``.gz``."""
    data = idx_bytes(arr)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def mnist_parts(n_train: int = 120, n_test: int = 30, seed: int = 0) -> dict:
    """Random MNIST-like parts ``{"train"|"test": (X uint8 (n, 784), y int64 (n,))}``;
    the bottom image row (28 pixels) is 0 everywhere (zero-std features)."""
    rng = np.random.default_rng(seed)
    parts, next_id = {}, 0
    for part, n in (("train", n_train), ("test", n_test)):
        X = _with_ids(rng.integers(0, 256, size=(n, 784), dtype=np.uint8), next_id)
        X[:, -28:] = 0  # a blank bottom row, like MNIST's borders
        parts[part] = (X, rng.integers(0, 10, size=n).astype(np.int64))
        next_id += n
    return parts


def write_mnist_folder(folder: Path, parts: dict, gz: bool = True) -> Path:
    """Write the four IDX files of `parts` into `folder` (``.gz`` names when `gz`)."""
    for (part, role), stem in IDX_NAMES.items():
        X, y = parts[part]
        arr = X.reshape(-1, 28, 28) if role == "images" else y
        write_idx(Path(folder) / (stem + (".gz" if gz else "")), arr)
    return Path(folder)
