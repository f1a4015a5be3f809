"""Errors a user can cause: the CLI prints their message on one line and exits with status 2."""


class ZooError(Exception):
    """Base class for problems with the user's input, reported without a traceback."""


class DataError(ZooError):
    """A data file is missing, empty, malformed or has values out of range."""


class UsageError(ZooError):
    """An unknown model, setting or option value."""
