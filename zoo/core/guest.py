"""The Python API is a guest in the user's session: a call leaves the warnings filters and
the loggers as it found them, including what the libraries the zoo imports for the first time
change on import (after a bare ``import zoo``, the first ``zoo.verify`` imports PyMC, which
gives its logger a handler and level INFO, and SciPy and NumPy, which add warnings filters).

Whatever a call imported stays imported; only the process-wide settings are put back. A
logger made during the call is left as ``logging.getLogger`` makes one (level NOTSET, no
handler, propagating), so PyMC's messages then reach the user's own logging set-up rather
than a handler of PyMC's. The zoo's own quieting (:func:`zoo.core.sampling.quieted_pymc`) and Ctrl-C
handling restore PyTensor's configuration and the signal handlers themselves.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: a logger's settings the guest puts back: level, handlers, propagate, disabled
_FRESH = (logging.NOTSET, [], True, False)


@contextmanager
def visiting() -> Iterator[None]:
    """The block's changes to the warnings filters and the loggers are undone at its end."""
    loggers = {logger: _settings(logger) for logger in _loggers()}
    with warnings.catch_warnings():
        try:
            yield
        finally:
            for logger in _loggers():
                _restore(logger, loggers.get(logger, _FRESH))


def as_guest(function: F) -> F:
    """``function`` called inside :func:`visiting`; a returned iterator (``verify_many``'s
    results) advances inside it too, one item at a time, so that the session is the user's
    again whenever the user's code runs."""
    @functools.wraps(function)
    def call(*args, **kwargs):
        with visiting():
            value = function(*args, **kwargs)
        return _visited(value) if isinstance(value, Iterator) else value

    return call  # type: ignore[return-value]


def _visited(items: Iterator) -> Iterator:
    while True:
        with visiting():
            try:
                item = next(items)
            except StopIteration:
                return
        yield item


def _loggers() -> list[logging.Logger]:
    placed = logging.Logger.manager.loggerDict.values()
    return [logging.root, *(logger for logger in placed if isinstance(logger, logging.Logger))]


def _settings(logger: logging.Logger) -> tuple:
    return logger.level, list(logger.handlers), logger.propagate, logger.disabled


def _restore(logger: logging.Logger, settings: tuple) -> None:
    if _settings(logger) == settings:
        return
    level, handlers, logger.propagate, logger.disabled = settings
    logger.handlers[:] = handlers
    logger.setLevel(level)  # also clears logging's cache of effective levels
