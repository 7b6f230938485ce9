"""CIFAR-10's MATLAB files: a size check of the raw bytes, then `scipy.io.loadmat` in a child.

A MAT v5 file is a 128-byte header, then data elements, each an 8-byte tag ``(type,
nbytes)`` and its body. A variable is an ``miMATRIX`` element (type 14), or an
``miCOMPRESSED`` one (type 15) whose zlib stream holds the ``miMATRIX`` element. The
``miMATRIX`` body starts with sub-elements: array flags (the class: 9 = uint8 ...), the
dimensions (int32), the name, then the data. `check_sizes` reads only those headers
(decompressing at most `HEAD` bytes of each variable) and refuses a file whose variables
declare more than the size cap of `scratchlab.data.fileio`, or an element longer than
what remains of the file -- before scipy allocates anything.

SciPy's reader is then run in a child process: a flipped byte in an element tag can crash
the interpreter with a segmentation fault (scipy gh-25349), which no `except` can catch.
The child also caps its own address space (`CHILD_MEMORY_FACTOR` x the size cap above
its size at the start), as a backstop for what the header check does not see (the
contents of nested cell arrays).
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from math import prod

import numpy as np

from scratchlab.data.fileio import check_declared, human_bytes, size_cap
from scratchlab.errors import DataError

HEAD = 1024  # bytes of a variable decompressed to read its header
MI_MATRIX, MI_COMPRESSED = 14, 15
# Bytes per element as loaded by scipy: numeric classes their width, char 4 (numpy 'U'),
# cell / struct / object 8 (object pointers), sparse 0 (its arrays are read from the file).
ITEM_BYTES = {
    1: 8,
    2: 8,
    3: 8,
    4: 4,
    5: 0,
    6: 8,
    7: 4,
    8: 1,
    9: 1,
    10: 2,
    11: 2,
    12: 4,
    13: 4,
    14: 8,
    15: 8,
}
CLASS_NAMES = {
    1: "cell",
    2: "struct",
    3: "object",
    4: "char",
    5: "sparse",
    6: "double",
    7: "single",
    8: "int8",
    9: "uint8",
    10: "int16",
    11: "uint16",
    12: "int32",
    13: "uint32",
    14: "int64",
    15: "uint64",
}
CHILD_MEMORY_FACTOR = 8


class _Short(Exception):
    """A variable header runs past the bytes available."""


def check_sizes(blob: bytes, what: str) -> None:
    """Refuse (DataError) a MAT v5 file whose variables declare, in total, more than the
    size cap, or whose elements run past the end of the file. Other versions pass: v4
    data is read as stored in the file, v7.3 (HDF5) is refused by scipy."""
    if len(blob) < 128 or 0 in blob[:4]:
        return
    endian = {b"IM": "<", b"MI": ">"}.get(blob[126:128])
    if endian is None or struct.unpack(endian + "H", blob[124:126])[0] != 0x0100:
        return
    view, pos, declared, stored = memoryview(blob), 128, 0, 0
    while pos + 8 <= len(blob):
        mdtype, nbytes = struct.unpack_from(endian + "II", blob, pos)
        if mdtype >> 16:  # a 'small data element': 4 bytes of data in the tag
            pos += 8
            continue
        body = pos + 8
        if nbytes > len(blob) - body:
            raise DataError(
                f"cannot read {what}: an element at byte {pos} declares {nbytes} bytes but "
                f"only {len(blob) - body} remain (the file is truncated or corrupt; delete it "
                "and fetch it again with `scratchlab data fetch`)"
            )
        if mdtype == MI_COMPRESSED:
            head = zlib.decompressobj().decompress(view[body : body + nbytes], HEAD)
        else:
            head = view[pos : body + min(nbytes, HEAD)]
        if mdtype in (MI_MATRIX, MI_COMPRESSED):
            size, nbytes_inner = _variable(head, endian, what)
            declared, stored = declared + size, stored + nbytes_inner
            check_declared(what, declared, "the sum of its variables' shapes")
            check_declared(what, stored, "the sum of its variables' element sizes")
        pos = body + (nbytes if mdtype == MI_COMPRESSED else -(-nbytes // 8) * 8)


def _variable(head, endian: str, what: str) -> tuple[int, int]:
    """``(bytes its array takes once loaded, its miMATRIX element's byte count)`` from the
    start of an miMATRIX element (tag included); DataError for a size beyond the cap."""
    mdtype, nbytes = struct.unpack_from(endian + "II", head, 0) if len(head) >= 8 else (0, 0)
    if mdtype != MI_MATRIX or nbytes == 0:
        return 0, nbytes  # not a matrix, or an empty one: scipy decides
    try:
        _, _, at, nxt = _sub(head, 8, endian)
        flags = struct.unpack_from(endian + "I", head, at)[0]
        _, n, at, nxt = _sub(head, nxt, endian)
        dims = struct.unpack_from(f"{endian}{n // 4}i", _need(head, at, n), at)
        _, n, at, nxt = _sub(head, nxt, endian)
        name = bytes(_need(head, at, n)[at : at + n]).decode("latin1")
        cls, has_data = flags & 0xFF, nxt + 8 <= 8 + nbytes
        data_bytes = _sub(head, nxt, endian)[1] if 4 <= cls <= 15 and has_data else 0
    except (_Short, struct.error):
        raise DataError(f"{what}: a variable header is truncated or implausibly long") from None
    shape = "x".join(map(str, dims))
    if any(d < 0 for d in dims):
        raise DataError(f"{what}: variable {name!r} has a negative dimension ({shape})")
    size = prod(dims) * ITEM_BYTES.get(cls, 8) * (2 if flags & 0x800 else 1)
    label = f"variable {name!r} ({shape} {CLASS_NAMES.get(cls, f'class {cls}')})"
    check_declared(what, size, label)
    check_declared(what, max(nbytes, data_bytes), label + "'s element")
    if data_bytes > nbytes:
        raise DataError(
            f"{what}: {label} holds a {human_bytes(data_bytes)} data element inside a "
            f"{human_bytes(nbytes)} variable; the file is corrupt"
        )
    return size, nbytes


def _sub(buf, off: int, endian: str) -> tuple[int, int, int, int]:
    """``(type, nbytes, data offset, next offset)`` of the sub-element tag at `off`."""
    first, second = struct.unpack_from(endian + "II", _need(buf, off, 8), off)
    if first >> 16:  # small data element: type and size share the first word
        return first & 0xFFFF, first >> 16, off + 4, off + 8
    return first, second, off + 8, off + 8 + -(-second // 8) * 8


def _need(buf, off: int, n: int):
    if off + n > len(buf):
        raise _Short
    return buf


# --- scipy.io.loadmat, isolated ---------------------------------------------------------


def loadmat_bytes(blob: bytes) -> dict:
    """`scipy.io.loadmat` of a blob; its own MatReadError (an Exception, not an OSError or
    ValueError) and anything else a damaged file provokes become ValueError for `reading`."""
    from scipy.io import loadmat

    try:
        return loadmat(io.BytesIO(blob))
    except Exception as exc:  # noqa: BLE001 - a parser of untrusted bytes
        raise ValueError(f"not a readable MATLAB file ({type(exc).__name__}: {exc})") from exc


class Failed(str):
    """What the isolated MATLAB reader could not decode: raised (as ValueError) on use."""


def mat_value(blob) -> dict:
    """A loaded file: from `load_isolated` (a dict, or Failed) or raw bytes."""
    if isinstance(blob, Failed):
        raise ValueError(str(blob))
    return blob if isinstance(blob, dict) else loadmat_bytes(blob)


def batch(blob, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``(data, labels)`` of a CIFAR-10 batch file."""
    m = mat_value(blob)
    return m["data"], np.asarray(m["labels"]).astype(np.int64).reshape(-1)


def meta(blob) -> list[str]:
    """The class names of ``batches.meta.mat`` (a cell array ``label_names``)."""
    m = mat_value(blob)
    if "label_names" in m and isinstance(m["label_names"], list):  # names, already extracted
        return m["label_names"]
    cells = np.asarray(m["label_names"], dtype=object).reshape(-1)
    return [_text(np.asarray(c).reshape(-1)[0]) for c in cells]


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def load_isolated(blobs: dict[str, bytes], where: str) -> dict:
    """Run `scipy.io.loadmat` on each blob in a child process.

    The child sends back, per file, the CIFAR arrays (`np.save` without pickle) or the
    class names (JSON) or the error; if it dies, the files are reported damaged. Returns
    ``{key: {"data", "labels"} | {"label_names"} | Failed}``. In a daemonic process
    (which may not start children) the blobs are returned for loading in-process.
    """
    import multiprocessing as mp
    import sys

    if mp.current_process().daemon:
        return dict(blobs)
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, blobs), daemon=True)
    child.start()
    send.close()
    out: dict = {}
    try:
        while len(out) < len(blobs):
            head = json.loads(receive.recv_bytes())
            if "error" in head:
                out[head["key"]] = Failed(head["error"])
            elif "names" in head:
                out[head["key"]] = {"label_names": [str(n) for n in head["names"]]}
            else:
                arrays = [
                    np.load(io.BytesIO(receive.recv_bytes()), allow_pickle=False) for _ in range(2)
                ]
                out[head["key"]] = {"data": arrays[0], "labels": arrays[1]}
    except (EOFError, OSError, ValueError, KeyError):
        child.join(timeout=10)
        culprit = next((k for k in blobs if k not in out), "?")
        raise DataError(
            f"cannot read {where}: the MATLAB reader (scipy.io.loadmat) crashed on its "
            f"{culprit} file (exit code {child.exitcode}), which is damaged; delete the files "
            "and fetch them again with `scratchlab data fetch`, or use the python or binary "
            "CIFAR-10 release"
        ) from None
    finally:
        receive.close()
        child.join(timeout=10)
        if child.is_alive():  # pragma: no cover - it sent everything; never expected
            child.kill()
    return out


def limit_address_space(extra: int) -> None:
    """Cap this process's address space (RLIMIT_AS) at its current size plus `extra`
    bytes, so an allocation beyond it raises MemoryError. Only for the child; no-op where
    /proc or `resource` is missing."""
    try:
        import resource

        with open("/proc/self/statm") as f:
            current = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limits = [current + extra] + [v for v in (soft, hard) if v != resource.RLIM_INFINITY]
        resource.setrlimit(resource.RLIMIT_AS, (min(limits), hard))
    except (ImportError, OSError, ValueError):  # pragma: no cover - not Linux
        pass


def _child(conn, blobs: dict[str, bytes]) -> None:  # pragma: no cover - in a child
    import faulthandler

    faulthandler.disable()  # a crash here is expected and reported by the parent
    limit_address_space(CHILD_MEMORY_FACTOR * size_cap())
    for key, blob in blobs.items():
        try:
            m = loadmat_bytes(blob)
            if key == "meta":
                payload = [json.dumps({"key": key, "names": meta(m)}).encode()]
            else:
                payload = [json.dumps({"key": key, "arrays": 2}).encode()]
                for array in (m["data"], m["labels"]):
                    buf = io.BytesIO()
                    np.save(buf, np.asarray(array), allow_pickle=False)
                    payload.append(buf.getvalue())
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
            payload = [json.dumps({"key": key, "error": f"{type(exc).__name__}: {exc}"}).encode()]
        for message in payload:
            conn.send_bytes(message)
    conn.close()
