"""`scratchlab data list | verify [NAME] | fetch NAME`: see and manage the datasets.

- ``list``: each dataset, whether it is present, where, and its md5 verdict
  (verified / unverified / md5 mismatch). Always exits 0.
- ``verify [NAME] [--path P]``: checks md5 sums and decodes every file; exit 2 if any
  check fails (a named dataset that is missing fails too; without NAME, missing
  datasets are skipped).
- ``fetch NAME [--format F] [--force]``: downloads the official files into the cache.
"""

from __future__ import annotations

import argparse
import os

from scratchlab.data import DATASETS, cache_dir, fetch, get_spec
from scratchlab.data.digits import digits_parts
from scratchlab.data.locate import check, find
from scratchlab.data.raw import decode
from scratchlab.data.registry import CIFAR_FORMATS
from scratchlab.errors import DataError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "data", help="list, verify and download datasets", description=__doc__.split("\n")[0]
    )
    parser.set_defaults(func=lambda args: _usage(parser))
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    p = actions.add_parser("list", help="show each dataset: present?, where, verified?")
    p.set_defaults(func=cmd_list)
    p = actions.add_parser("verify", help="check md5 sums and decode the files (exit 2 on failure)")
    p.add_argument("name", nargs="?", choices=list(DATASETS), help="one dataset (default: all)")
    p.add_argument("--path", help="verify this folder or archive instead of the lookup")
    p.set_defaults(func=cmd_verify)
    p = actions.add_parser("fetch", help="download a dataset's official files into the cache")
    p.add_argument("name", choices=list(DATASETS))
    p.add_argument("--format", choices=CIFAR_FORMATS, help="cifar10 archive (default python)")
    p.add_argument("--force", action="store_true", help="download even if a good copy exists")
    p.set_defaults(func=cmd_fetch)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def status_row(name: str) -> tuple[str, str, str, str]:
    """``(name, present|missing|error, verdict, where)`` for `data list`."""
    spec = get_spec(name)
    if spec.kind == "sklearn":
        return name, "present", "verified (bundled)", "scikit-learn"
    try:
        loc = find(name)
        if loc is None:
            return name, "missing", "-", f"run `scratchlab data fetch {name}`"
        verdict = check(loc)
    except DataError as exc:
        return name, "error", "unreadable", str(exc)
    return name, "present", verdict.detail, f"{loc.path}  [{loc.origin}]"


def cmd_list(args: argparse.Namespace) -> int:
    from scratchlab.commands.tables import print_table

    print_table(["DATASET", "STATUS", "CHECK", "WHERE"], [status_row(n) for n in DATASETS])
    print(f"\nSCRATCHLAB_DATA={os.environ.get('SCRATCHLAB_DATA', '')!s}  cache={cache_dir()}")
    return 0


def verify_one(name: str, path: str | None, named: bool) -> tuple[bool, str]:
    """``(ok, message)`` after checking md5 sums and decoding every part."""
    spec = get_spec(name)
    if spec.kind == "sklearn":
        parts = digits_parts()
        return True, f"ok, bundled ({_count(parts)})"
    try:
        loc = find(name, path)
        if loc is None:
            if named:
                return False, "FAILED: not found; run `scratchlab data fetch " + name + "`"
            return True, "missing (skipped)"
        verdict = check(loc)
        if verdict.state == "mismatch":
            return False, "FAILED: " + "; ".join(verdict.problems)
        parts, class_names = decode(loc)
    except DataError as exc:
        return False, f"FAILED: {exc}"
    return True, f"ok, {verdict.detail} ({_count(parts)}; {len(class_names)} classes) {loc.path}"


def _count(parts: dict) -> str:
    return ", ".join(f"{part} {len(y)}" for part, (_, y) in parts.items())


def cmd_verify(args: argparse.Namespace) -> int:
    names = [args.name] if args.name else list(DATASETS)
    if args.path and not args.name:
        raise DataError(
            "--path needs a dataset NAME (e.g. `scratchlab data verify cifar10 --path DIR`)"
        )
    failed = []
    for name in names:
        ok, message = verify_one(name, args.path, named=bool(args.name))
        print(f"{name}: {message}", flush=True)
        if not ok:
            failed.append(name)
    if failed:  # the details are on stdout above; the verdict is the usual one error line
        raise DataError(f"verification failed for {', '.join(failed)} (see above)")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    if get_spec(args.name).kind == "sklearn":
        print(f"{args.name} is bundled with scikit-learn; nothing to fetch")
        return 0
    if not args.force and (loc := find(args.name)) is not None and check(loc).state == "verified":
        print(
            f"{args.name}: a verified copy is already at {loc.path} [{loc.origin}]; "
            "nothing to fetch (--force downloads anyway)"
        )
        return 0
    folder = fetch(args.name, args.format, force=args.force)
    print(f"{args.name}: official files verified in {folder}")
    return 0
