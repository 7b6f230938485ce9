"""An experiment's results folder, treated like a database: one writer, nothing lost or mixed.

    with ResultsFolder(exp_dir) as folder:     # an exclusive lock, or a clear error naming
        folder.state_of(spec, fingerprint)      # the holder's pid
        folder.replace(run)                      # (only --fresh) move a run aside, never delete

Lock: `fcntl.flock` on `<exp>/.lock`, held by `run`, `train` and `report` for their whole
command. The kernel releases it when its process dies, so a lock left by a killed command
never blocks (the pid written in the file is only used in the message).

A run folder is `finished` when its metrics.json (written last) is readable and its
config.json is this run's spec — where the data were found (`data.path`) does not count when
the data's content fingerprint is the same. A finished run whose spec differs is `conflict`:
the command refuses and says what differs (`--fresh` moves the old run aside to
`<exp>/replaced/<run>.<time>/`; nothing is ever deleted). An unfinished folder of another
spec (a checkpoint that cannot be resumed) is cleared.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
from pathlib import Path

from scratchlab.errors import ConfigError, ScratchlabError
from scratchlab.experiments.schema import RunSpec
from scratchlab.io import read_json

LOCK_NAME = ".lock"
REPLACED = "replaced"
# Names in an experiment folder that are not runs (a run may not take one of them).
RESERVED = (
    "experiment.json",
    "summary.csv",
    "report.md",
    "report.html",
    "report.pdf",
    "report.tex",
    "figures",
    "gradcheck.json",
    "search.json",
    REPLACED,
    LOCK_NAME,
)


class ResultsFolder:
    def __init__(self, exp_dir: Path) -> None:
        self.exp_dir = Path(exp_dir)
        self._handle = None

    def __enter__(self) -> ResultsFolder:
        try:
            self.exp_dir.mkdir(parents=True, exist_ok=True)
            handle = open(self.exp_dir / LOCK_NAME, "a+")  # noqa: SIM115 - held until __exit__
        except OSError as exc:
            reason = exc.strerror or exc
            raise ConfigError(
                f"cannot create the results folder {self.exp_dir}: {reason}; "
                "pass --out with a folder you can write"
            ) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigError(
                f"{self.exp_dir} is in use by {holder}; wait for that command to finish, or "
                "write to another folder with --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.truncate(0)
            self._handle.close()  # closing releases the flock
            self._handle = None

    # -- runs --------------------------------------------------------------------------------
    def state_of(self, spec: RunSpec, config: dict, fingerprint: str) -> tuple[str, list[str]]:
        """("new" | "finished" | "resumable" | "stale" | "conflict", differences)."""
        run_dir = self.exp_dir / spec.name
        if not run_dir.exists():
            return "new", []
        saved = _saved(run_dir / "config.json")
        metrics = _saved(run_dir / "metrics.json")
        finished = metrics is not None and "status" in metrics
        diffs = [] if saved is None else differences(saved, config)
        if finished and saved is None:
            return "conflict", ["config.json (missing or damaged)"]
        if finished:
            same_data = (metrics.get("data") or {}).get("fingerprint") == fingerprint
            if diffs == ["data.path"] and same_data:
                diffs = []
            if diffs:
                return "conflict", diffs
            return "finished", []
        if saved is not None and not diffs:
            return "resumable", []
        return "stale", diffs

    def clear_unfinished(self, name: str) -> None:
        """Remove a run folder that holds no finished result (never a finished one)."""
        run_dir = self.exp_dir / name
        if (run_dir / "metrics.json").exists():
            raise ScratchlabError(f"refusing to clear {run_dir}: it holds a finished run")
        if run_dir.is_symlink():
            raise ConfigError(f"{run_dir} is a symbolic link; remove or rename it by hand")
        shutil.rmtree(run_dir, ignore_errors=False)

    def move_aside(self, name: str) -> Path:
        """Move run `name` to `replaced/<name>.<UTC time>/`; returns the new place."""
        run_dir = self.exp_dir / name
        if run_dir.is_symlink():
            raise ConfigError(f"{run_dir} is a symbolic link; remove or rename it by hand")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        target = self.exp_dir / REPLACED / f"{name}.{stamp}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(run_dir, target)
        return target

    def remove_temp_files(self, name: str) -> None:
        """Hidden `.*.tmp` files left by a process killed while writing."""
        run_dir = self.exp_dir / name
        for tmp in run_dir.rglob(".*.tmp") if run_dir.is_dir() else ():
            tmp.unlink(missing_ok=True)


def differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts."""
    keys = sorted(set(old) | set(new))
    out = []
    for key in keys:
        a, b = old.get(key), new.get(key)
        dotted = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, dotted + ".")
        elif a != b:
            out.append(dotted)
    return out


def describe(old: dict, new: dict, keys: list[str], limit: int = 4) -> str:
    """`train.eta 0.01 -> 0.1, ...` for the first `limit` differing keys."""

    def get(d: dict, dotted: str):
        for part in dotted.split("."):
            d = d.get(part) if isinstance(d, dict) else None
        return d

    shown = [f"{k} {get(old, k)!r} -> {get(new, k)!r}" for k in keys[:limit]]
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(shown) + more


def _saved(path: Path) -> dict | None:
    """A JSON object scratchlab wrote, or None if it is missing or damaged."""
    try:
        value = read_json(path)
    except (ScratchlabError, OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def saved_config(exp_dir: Path, name: str) -> dict | None:
    return _saved(Path(exp_dir) / name / "config.json")
