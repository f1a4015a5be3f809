"""Errors by kind (issue 27.4): the user's input exits 2 in one line, the environment 3 in one
line, a bug of the zoo 70 with its traceback; none passes for another."""

import errno
import os
from concurrent.futures.process import BrokenProcessPool

import pytest

import zoo.api
from zoo.cli import main
from zoo.core.errors import EXIT_BAD_INPUT, EXIT_BUG, EXIT_ENVIRONMENT, DataError, EnvironmentProblem


def failing_verify(error: BaseException):
    def verify(*args, **kwargs):
        raise error

    return verify


@pytest.mark.parametrize("error, status, message", [
    (DataError("data.csv, row 3: y must be 0 or 1"), EXIT_BAD_INPUT, "row 3"),
    (EnvironmentProblem("cannot write reports/x: No space left on device"), EXIT_ENVIRONMENT,
     "No space left"),
    (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/tmp/x.nc"), EXIT_ENVIRONMENT,
     "/tmp/x.nc: No space left on device"),
    (PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/root/x"), EXIT_ENVIRONMENT,
     "Permission denied"),
    (MemoryError(), EXIT_ENVIRONMENT, "out of memory"),
    (BrokenProcessPool("A process in the process pool was terminated abruptly"),
     EXIT_ENVIRONMENT, "a worker process died"),
], ids=["input", "environment", "full disk", "permission", "memory", "dead worker"])
def test_input_and_environment_are_one_line_with_their_own_status(
        monkeypatch, capsys, tmp_path, error, status, message):
    monkeypatch.setattr(zoo.api, "verify", failing_verify(error))
    assert main(["run", "single-coin", "--out", str(tmp_path / "out")]) == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err, err


@pytest.mark.parametrize("error", [ValueError("shapes (3,) and (4,) not aligned"),
                                   OSError(errno.ENOENT, "No such file or directory", "x.pkl"),
                                   AssertionError()])
def test_a_bug_shows_its_traceback_and_exits_70(monkeypatch, capsys, tmp_path, error):
    """Not exit 1 (a failed check), not 2 (bad input): a bug is a bug."""
    monkeypatch.setattr(zoo.api, "verify", failing_verify(error))
    assert main(["run", "single-coin", "--out", str(tmp_path / "out")]) == EXIT_BUG
    err = capsys.readouterr().err
    assert "Traceback" in err and type(error).__name__ in err and "bug of the zoo" in err
