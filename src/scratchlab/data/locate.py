"""Finding a dataset's files, and checking them against the official md5 sums.

Lookup order (first hit wins, except that a copy whose md5 verifies wins over an earlier one
that cannot be verified, so a sample under $SCRATCHLAB_DATA never shadows a download):
1. an explicit `path` (a folder or archive; its dataset sub-folders are searched too);
2. each folder in ``$SCRATCHLAB_DATA``, in its dataset folders -- for cifar10 the root
   itself, ``cifar10/``, ``cifar-10/`` ... and any ``cifar*/`` folder (e.g.
   ``cifar-10-sample/``); for MNIST-style data ``<name>/`` and its aliases;
3. the cache, ``<cache>/<name>/``.

Liberal in where it looks, strict in what it accepts: a location counts only when it
holds a complete set of files (an official archive, a whole ``cifar-10-batches-*``
folder, or all four IDX files). `check` then says whether the files are the official
ones: ``verified`` (md5 matches), ``unverified`` (no official sum applies: extracted
folders, uncompressed IDX, renamed archives), or ``mismatch``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scratchlab.data import cifar
from scratchlab.data.fileio import md5_file, mismatch_message
from scratchlab.data.registry import CIFAR_PY_MEMBER_MD5, DatasetSpec, get_spec
from scratchlab.data.sources import cache_dir, data_roots
from scratchlab.errors import DataError


@dataclass(frozen=True)
class Location:
    """Where a dataset was found.

    `path`: the archive or folder; `format`: python/matlab/binary (CIFAR; ``archive``
    while an unofficially named archive is unread) or ``idx``; `files`: ``(key, path)``
    of every file the data is read from; `origin`: ``path``, ``SCRATCHLAB_DATA`` or
    ``cache``.
    """

    name: str
    path: Path
    format: str
    files: tuple[tuple[str, Path], ...]
    origin: str
    archive: bool = False


@dataclass(frozen=True)
class Check:
    """The md5 verdict: `state` in verified/unverified/mismatch, `detail` for people,
    `problems` one message per mismatching file."""

    state: str
    detail: str
    problems: tuple[str, ...] = ()


def find(name: str, path: str | Path | None = None) -> Location | None:
    """Locate dataset `name` (see the module docstring); None when it is nowhere.

    With an explicit `path` that holds no complete set of files, raise DataError
    saying what was expected there.
    """
    spec = get_spec(name)
    if path is not None:
        path = Path(path).expanduser()
        if not path.exists():
            raise DataError(f"data path {path} does not exist")
        for d in _search_dirs(spec, path, explicit=True):
            if loc := _probe(spec, d, "path"):
                return loc
        raise DataError(f"{path} holds no complete {spec.title} files; {_expected(spec)}")
    found = [loc for root in data_roots() for d in _search_dirs(spec, root)
             if (loc := _probe(spec, d, "SCRATCHLAB_DATA"))]  # fmt: skip
    if loc := _probe(spec, cache_dir() / name, "cache"):
        found.append(loc)
    return _prefer_verified(found)


def _prefer_verified(found: list[Location]) -> Location | None:
    """The first location, unless it cannot be verified and a later one can: a sample or an
    extracted folder under $SCRATCHLAB_DATA never shadows an official download."""
    if len(found) > 1 and check(found[0]).state != "verified":
        for loc in found[1:]:
            if check(loc).state == "verified":
                return loc
    return found[0] if found else None


def searched(name: str) -> list[Path]:
    """The top folders `find` searches without an explicit path (for messages)."""
    return [*data_roots(), cache_dir() / name]


def _expected(spec: DatasetSpec) -> str:
    if spec.kind == "cifar":
        archives = ", ".join(f.filename for f in spec.files)
        folders = ", ".join(cifar.FOLDERS.values())
        return f"expected one of {archives}, or a complete folder {folders}"
    return (
        "expected the four files " + ", ".join(f.filename for f in spec.files) + " (gzipped or not)"
    )


def _search_dirs(spec: DatasetSpec, root: Path, explicit: bool = False) -> list[Path]:
    """Candidate folders (or archives) under one root, in order, without duplicates."""
    dirs = [root] if spec.kind == "cifar" or explicit else []
    dirs += [root / alias for alias in (spec.name, *spec.aliases)]
    if spec.kind == "cifar" and root.is_dir():
        dirs += sorted(p for p in root.iterdir() if p.name.lower().startswith("cifar"))
    seen, out = set(), []
    for d in dirs:
        key = d.resolve() if d.exists() else None
        if key is not None and key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _probe(spec: DatasetSpec, d: Path, origin: str) -> Location | None:
    return _probe_cifar(spec, d, origin) if spec.kind == "cifar" else _probe_idx(spec, d, origin)


def _probe_cifar(spec: DatasetSpec, d: Path, origin: str) -> Location | None:
    if d.is_file():
        official = next((f for f in spec.files if f.filename == d.name), None)
        if official is None and (origin != "path" or not _is_tar(d)):  # renamed: explicit only
            return None
        fmt = official.format if official else "archive"
        return Location(spec.name, d, fmt, (("archive", d),), origin, archive=True)
    if not d.is_dir():
        return None
    if fmt := cifar.folder_format(d):
        return _cifar_folder(spec, d, fmt, origin)
    for f in spec.files:
        if (d / f.filename).is_file():
            return Location(
                spec.name,
                d / f.filename,
                f.format,
                (("archive", d / f.filename),),
                origin,
                archive=True,
            )
    for fmt, folder in cifar.FOLDERS.items():
        if (d / folder).is_dir() and cifar.folder_format(d / folder) == fmt:
            return _cifar_folder(spec, d / folder, fmt, origin)
    return None


def _cifar_folder(spec: DatasetSpec, d: Path, fmt: str, origin: str) -> Location:
    files = tuple((key, d / n) for key, n in cifar.file_names(fmt).items())
    return Location(spec.name, d, fmt, files, origin)


def _is_tar(path: Path) -> bool:
    """Whether a renamed file opens as a tar archive (bounded headers, see `cifar`)."""
    return cifar.is_archive(path)


def idx_candidates(d: Path, filename: str) -> list[Path]:
    """Accepted spellings of one IDX file: ``.gz`` first, then uncompressed, and the
    ``train-images.idx3-ubyte`` variant some unpackers produce."""
    stem = filename.removesuffix(".gz")
    dotted = stem.replace("-idx", ".idx")
    return [d / filename, d / stem, d / (dotted + ".gz"), d / dotted]


def _probe_idx(spec: DatasetSpec, d: Path, origin: str) -> Location | None:
    if not d.is_dir():
        return None
    files = []
    for f in spec.files:
        hit = next((p for p in idx_candidates(d, f.filename) if p.is_file()), None)
        if hit is None:
            return None
        files.append((f"{f.part}-{f.role}", hit))
    return Location(spec.name, d, "idx", tuple(files), origin)


def missing_idx(name: str, d: Path) -> list[str]:
    """The IDX files (official names) that folder `d` lacks in any accepted spelling."""
    spec = get_spec(name)
    return [
        f.filename
        for f in spec.files
        if not any(p.is_file() for p in idx_candidates(d, f.filename))
    ]


def check(loc: Location) -> Check:
    """Compare `loc`'s files with the official md5 sums (reads every file once)."""
    spec = get_spec(loc.name)
    if spec.kind == "cifar" and loc.archive:
        official = spec.file(loc.path.name)
        if official is None:
            return Check("unverified", "unverified (not an official archive name)")
        actual = md5_file(loc.path)
        if actual == official.md5:
            return Check("verified", "verified (md5)")
        msg = mismatch_message(loc.path, official.md5, actual, loc.name)
        return Check("mismatch", "md5 mismatch", (msg,))
    if spec.kind == "cifar":
        if loc.format == "python":
            same = all(md5_file(p) == CIFAR_PY_MEMBER_MD5.get(p.name) for _, p in loc.files)
            if same:
                return Check("verified", "verified (md5 of each file)")
            return Check("unverified", "unverified (extracted folder, not the official files)")
        return Check("unverified", "unverified (extracted folder)")
    problems, unknown = [], 0
    for _, path in loc.files:
        official = spec.file(path.name)
        if official is None:
            unknown += 1
            continue
        actual = md5_file(path)
        if actual != official.md5:
            problems.append(mismatch_message(path, official.md5, actual, loc.name))
    if problems:
        return Check("mismatch", "md5 mismatch", tuple(problems))
    if unknown:
        return Check("unverified", "unverified (uncompressed files have no official md5)")
    return Check("verified", "verified (md5)")
