"""Sub-commands of the `scratchlab` CLI.

Each module here exposes `register(subparsers)`, which adds its sub-parser(s) and sets
`func=handler` on them; a handler takes the parsed `argparse.Namespace` and returns an
exit code. Handlers raise `ScratchlabError` for user mistakes; `cli.main` turns those into
one line on stderr and exit code 2.
"""
