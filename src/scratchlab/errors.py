"""Errors a user can cause. Each message says what is wrong and what to do about it."""


class ScratchlabError(Exception):
    """Base class for every error the CLI reports as one line with exit code 2."""


class DataError(ScratchlabError):
    """A dataset file is missing, corrupt, unsafe or does not match its checksum."""


class ConfigError(ScratchlabError):
    """An experiment file or command-line option is invalid."""
