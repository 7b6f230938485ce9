"""Errors a user can cause. Each message says what is wrong and what to do about it."""


class ScratchlabError(Exception):
    """Base class for every error the CLI reports as one line with exit code 2."""


class DataError(ScratchlabError):
    """A dataset file is missing, corrupt, unsafe or does not match its checksum."""


class ConfigError(ScratchlabError):
    """An experiment file or command-line option is invalid."""


def plain_warnings(already_shown: tuple[str, ...] = ()) -> None:
    """Show warnings as one `scratchlab: warning: ...` line each (no source line), and not
    those in `already_shown` (what the main process printed before starting workers)."""
    import re
    import warnings

    warnings.simplefilter("default")
    warnings.formatwarning = lambda msg, cat, *a, **k: f"scratchlab: warning: {msg}\n"
    for message in already_shown:
        warnings.filterwarnings("ignore", message=re.escape(message))
