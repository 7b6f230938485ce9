"""The `scratchlab` command line: dispatches to the modules in `scratchlab.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys

from scratchlab import __version__
from scratchlab.errors import ScratchlabError, plain_warnings

# Modules under scratchlab.commands, each with register(subparsers).
COMMANDS = ("data", "experiments", "gradcheck")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line and exits 2 (its default code)."""

    def error(self, message: str) -> None:  # pragma: no cover - exercised via CLI tests
        self.exit(2, f"scratchlab: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scratchlab", description=__doc__)
    parser.add_argument("--version", action="version", version=f"scratchlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"scratchlab.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from scratchlab.allocator import keep_freed_memory

    keep_freed_memory()
    plain_warnings()
    try:
        return int(args.func(args) or 0)
    except ScratchlabError as exc:
        message = " ".join(line.strip() for line in str(exc).splitlines())  # always one line
        print(f"scratchlab: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scratchlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
