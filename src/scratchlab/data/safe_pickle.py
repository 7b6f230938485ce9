"""A restricted unpickler for CIFAR-10's python batches.

A pickle is a program: the plain `pickle.load` will call any importable function the
file names (``os.system`` included). CIFAR's batches are Python 2 pickles (protocol 2)
of dicts holding lists, byte strings, ints and one uint8 NumPy array, so the only
callables they need are NumPy's array reconstructor, `numpy.ndarray`, `numpy.dtype`
and -- in protocol-2 pickles written by Python 3 -- `_codecs.encode` for bytes.
`SafeUnpickler.find_class` hands out exactly those; anything else raises DataError
before it is constructed, so nothing in the file runs.
"""

from __future__ import annotations

import codecs
import io
import pickle
from typing import Any

import numpy as np

from scratchlab.errors import DataError

try:  # NumPy >= 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct


def _latin1_encode(obj: str, encoding: str = "utf-8") -> bytes:
    """`_codecs.encode` restricted to what pickle uses for bytes (latin1 only)."""
    if not isinstance(obj, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise DataError(f"refusing to load a pickle: it calls _codecs.encode with {encoding!r}")
    return obj.encode("latin1")


ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class SafeUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` whose `find_class` only returns the callables in `ALLOWED`."""

    def __init__(self, file, *, what: str = "pickle") -> None:
        super().__init__(file, encoding="bytes")
        self.what = what

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise DataError(
                f"refusing to load {self.what}: it tries to construct {module}.{name}, "
                "which a CIFAR-10 batch never needs (the file may be malicious; "
                "use the official archive from https://www.cs.toronto.edu/~kriz/cifar.html)"
            ) from None


def safe_loads(data: bytes, what: str = "pickle") -> Any:
    """Unpickle `data` with `SafeUnpickler` (Python 2 strings come back as bytes).

    Object arrays are refused too: they could only hold what the allowlist rebuilds,
    but no CIFAR file has one.
    """
    try:
        obj = SafeUnpickler(io.BytesIO(data), what=what).load()
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - the unpickler runs untrusted opcodes: a damaged
        # file can raise almost anything (AttributeError, MemoryError from a huge memo index...)
        reason = " ".join(f"{type(exc).__name__}: {exc}".split()).rstrip(": ")  # one line
        raise DataError(
            f"cannot read {what}: not a valid pickle ({reason}); the file is truncated, corrupt "
            "or not a CIFAR-10 python batch"
        ) from None
    _reject_object_arrays(obj, what)
    return obj


def _reject_object_arrays(obj: Any, what: str) -> None:
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        raise DataError(f"refusing to load {what}: it holds an object array")
    if isinstance(obj, dict):
        for value in obj.values():
            _reject_object_arrays(value, what)
    elif isinstance(obj, list | tuple):
        for value in obj:
            _reject_object_arrays(value, what)
