"""A restricted unpickler for CIFAR-10's python batches.

A pickle is a program: the plain `pickle.load` will call any importable function the
file names (``os.system`` included). CIFAR's batches are Python 2 pickles (protocol 2)
of dicts holding lists, byte strings, ints and one uint8 NumPy array, so the only
callables they need are NumPy's array reconstructor, `numpy.ndarray`, `numpy.dtype`
and -- in protocol-2 pickles written by Python 3 -- `_codecs.encode` for bytes.
`SafeUnpickler.find_class` hands out exactly those; anything else raises DataError
before it is constructed, so nothing in the file runs.

Memory is bounded too (`scan` walks the opcodes before anything is built): a pickle
may hold at most `max_ops()` opcodes (an official batch has ~30,000) and memo indices
below that, length-prefixed strings must fit in the file, and an array may only be made
by ``_reconstruct`` at a size under the cap -- `numpy.ndarray` itself is handed out as a
token that ``_reconstruct`` accepts and that refuses to be called, so ``ndarray(shape)``
cannot allocate a declared size. Arrays then get their bytes from the file (NumPy checks
that their length matches the shape), so a pickle builds at most about the cap.
"""

from __future__ import annotations

import codecs
import functools
import io
import pickle
import pickletools
from math import prod
from typing import Any

import numpy as np

from scratchlab.data.fileio import check_declared, size_cap
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


class _NDArrayToken:
    """Stands for `numpy.ndarray` in a pickle: the class argument of ``_reconstruct``.
    Calling it (``ndarray(shape)`` would allocate any declared size) is refused."""

    def __call__(self, *args, **kwargs):
        raise DataError(
            "refusing to load a pickle that calls numpy.ndarray directly (a CIFAR-10 batch "
            "never does; the file may be malicious)"
        )


NDARRAY = _NDArrayToken()


def _checked_reconstruct(cls, shape, dtype, *, what: str = "pickle") -> np.ndarray:
    """``numpy...._reconstruct(ndarray, shape, dtype)`` once `shape` x itemsize fits the
    cap (pickles of arrays use ``shape = (0,)``; the data arrives later, sized by NumPy)."""
    if cls is not NDARRAY:
        raise DataError(f"refusing to load {what}: it rebuilds an array of {cls!r}")
    dims = tuple(int(d) for d in (shape if isinstance(shape, tuple) else (shape,)))
    if any(d < 0 for d in dims):
        raise DataError(f"refusing to load {what}: negative array shape {dims}")
    check_declared(what, prod(dims) * np.dtype(dtype).itemsize, f"an array of shape {dims}")
    return _reconstruct(np.ndarray, dims, dtype)


ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _checked_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _checked_reconstruct,
    ("numpy", "ndarray"): NDARRAY,
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
            found = ALLOWED[(module, name)]
        except KeyError:
            raise DataError(
                f"refusing to load {self.what}: it tries to construct {module}.{name}, "
                "which a CIFAR-10 batch never needs (the file may be malicious; "
                "use the official archive from https://www.cs.toronto.edu/~kriz/cifar.html)"
            ) from None
        if found is _checked_reconstruct:  # its messages name the file
            return functools.partial(_checked_reconstruct, what=self.what)
        return found


def safe_loads(data: bytes, what: str = "pickle") -> Any:
    """Unpickle `data` with `SafeUnpickler` (Python 2 strings come back as bytes).

    Object arrays are refused too: they could only hold what the allowlist rebuilds,
    but no CIFAR file has one.
    """
    try:
        scan(data, what)
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


# Per opcode byte: (kind, size). FIXED: `size` argument bytes; LINES: `size` newline-ended
# lines; COUNTED / SIGNED: a `size`-byte little-endian (signed) length, then that many bytes;
# MEMO_LINE / MEMO4: PUT's decimal line, LONG_BINPUT's uint32 (memo indices); BAD: unknown.
FIXED, LINES, COUNTED, SIGNED, MEMO_LINE, MEMO4, BAD = range(7)
_STOP = ord(".")


def _arg_kinds() -> list[tuple[int, int]]:
    counted = {
        pickletools.TAKEN_FROM_ARGUMENT1: 1,
        pickletools.TAKEN_FROM_ARGUMENT4: 4,
        pickletools.TAKEN_FROM_ARGUMENT4U: 4,
        pickletools.TAKEN_FROM_ARGUMENT8U: 8,
    }
    kinds = [(BAD, 0)] * 256
    for op in pickletools.opcodes:
        n = op.arg.n if op.arg else 0
        if op.name in ("PUT", "LONG_BINPUT"):
            kind = (MEMO_LINE, 1) if op.name == "PUT" else (MEMO4, 4)
        elif n == pickletools.UP_TO_NEWLINE:
            kind = (LINES, 2 if op.name in ("GLOBAL", "INST") else 1)
        elif n in counted:
            signed = n == pickletools.TAKEN_FROM_ARGUMENT4  # BINSTRING, LONG4
            kind = (SIGNED if signed else COUNTED, counted[n])
        else:
            kind = (FIXED, n)
        kinds[ord(op.code)] = kind
    return kinds


_KINDS = _arg_kinds()


def max_ops() -> int:
    """Opcode budget of one pickle: one per 64 bytes of the size cap (1,048,576 for
    64 MiB). An opcode builds at most one small object (an int, an empty list, a
    reference) beside the bytes it carries, so the object graph stays near the cap."""
    return size_cap() // 64


def scan(data: bytes, what: str = "pickle") -> None:
    """Walk the opcodes of `data` without running them; DataError (or ValueError for
    malformed bytes) when it exceeds the opcode budget, puts a memo index beyond it, has
    a length prefix that runs past the end, or has no STOP. ~20 ms for a CIFAR batch."""
    budget, n, pos, ops, kinds = max_ops(), len(data), 0, 0, _KINDS
    while pos < n:
        code = data[pos]
        kind, size = kinds[code]
        pos, ops = pos + 1, ops + 1
        if kind == FIXED:
            pos += size
        elif kind == COUNTED or kind == SIGNED:
            length = int.from_bytes(data[pos : pos + size], "little", signed=kind == SIGNED)
            if length < 0 or pos + size + length > n:
                raise ValueError(f"length {length} at byte {pos} runs past the end")
            pos += size + length
        elif kind == LINES:
            for _ in range(size):
                pos = data.index(b"\n", pos) + 1
        elif kind == MEMO4 or kind == MEMO_LINE:
            end = pos + 4 if kind == MEMO4 else data.index(b"\n", pos) + 1
            index = int.from_bytes(data[pos:end], "little") if kind == MEMO4 else int(data[pos:end])
            if index > budget:
                raise DataError(f"refusing to load {what}: memo index {index} is implausible")
            pos = end
        elif kind == BAD:
            raise ValueError(f"unknown opcode {code:#04x} at byte {pos - 1}")
        if code == _STOP:
            return
        if ops > budget:
            raise DataError(
                f"refusing to load {what}: more than {budget} pickle opcodes (a CIFAR-10 "
                "batch has about 30,000); the file is corrupt or hostile"
            )
    raise ValueError("no STOP opcode (truncated)")
