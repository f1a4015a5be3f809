"""What can go wrong, by kind, each with its own exit status of the ``zoo`` command (the README's
"Exit status"); a check that fails is no error but a verdict (exit status 1).

- :class:`ZooError` (:class:`DataError`, :class:`UsageError`): the user's input; one line,
  exit status 2, raised before any fitting.
- :class:`EnvironmentProblem`: the machine refused what the input asked for rightly (a full
  disk, a permission, memory, a process that died); one line, exit status 3.
- Anything else is a bug of the zoo: its traceback and exit status 70, never disguised as one
  of the above.
"""

import errno
import os
from concurrent.futures import BrokenExecutor

EXIT_FAILED_CHECK = 1
EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3
EXIT_BUG = 70  # EX_SOFTWARE of BSD's sysexits.h: an internal software error
EXIT_INTERRUPTED = 130


class ZooError(Exception):
    """Base class for problems with the user's input, reported without a traceback."""


class DataError(ZooError):
    """A data file is missing, empty, malformed or has values out of range."""


class UsageError(ZooError):
    """An unknown model, setting or option value."""


class EnvironmentProblem(Exception):
    """The machine cannot do what was asked: a full disk, a missing permission, memory, a
    process that died. Reported in one line without a traceback; not the user's input."""


#: what an OSError says of the machine rather than of the zoo (any other OSError is a bug)
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS,
                       errno.ENOMEM, errno.EMFILE, errno.ENFILE}


def environment_problem(err: BaseException) -> str | None:
    """``err`` in one line if the environment caused it (see :class:`EnvironmentProblem`),
    else None: the zoo's bug."""
    if isinstance(err, EnvironmentProblem):
        return str(err)
    if isinstance(err, MemoryError):
        return "out of memory"
    if isinstance(err, BrokenExecutor):
        return ("a worker process died (killed by the system, e.g. out of memory, or crashed): "
                + " ".join(str(err).split()))
    if isinstance(err, OSError) and err.errno in _ENVIRONMENT_ERRNOS:
        where = f"{err.filename}: " if err.filename else ""
        return f"{where}{os.strerror(err.errno)}"
    return None
