"""Output folders written all or nothing: whatever happens, ``out`` holds either the previous
complete output or the new complete one.

The new files are written into a staging folder beside ``out``; the two are then swapped in one
step (Linux's ``renameat2(RENAME_EXCHANGE)``), so that a ``kill -9`` at any moment, or a second
run writing the same folder at once, can never leave ``out`` missing or half-written. Where the
swap is not available, the previous folder is renamed aside first (a moment without ``out``).
Staging folders left by a killed run are removed by the next run.

The zoo replaces only a folder it wrote: each staged folder holds :data:`MARKER`, the list of
the files written, and :func:`writable_folder` refuses, before any work, a folder holding
anything else (the user's notes, the run's own input, the working folder itself).
"""

from __future__ import annotations

import ctypes
import errno
import glob
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from zoo.core import interrupts
from zoo.core.errors import EnvironmentProblem, UsageError
from zoo.core.option_names import given

#: where the zoo writes unless told (relative to the working folder): each command's default
#: --out is a folder or file in it, and the report site finds the tools' results beside it
REPORTS = Path("reports")
#: the report site's folder (``zoo report``, ``verify --report``, ``zoo.make_site``)
SITE = REPORTS / "site"

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_RENAMEAT2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)  # glibc >= 2.28


def write_atomically(path: Path, content: str | bytes) -> None:
    """Write beside ``path`` and rename: a reader never sees half a file, and a failed write
    (a full disk) leaves no temporary behind."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if isinstance(content, bytes):
            temporary.write_bytes(content)
        else:
            temporary.write_text(content)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


#: the file by which the zoo knows a folder as its own output: the files it wrote there, which
#: are all the folder may hold for the zoo to replace it
MARKER = ".zoo-output.json"


def writable_folder(out: str | Path, *, replaces: bool = False,
                    inputs: Iterable[str | Path | None] = ()) -> Path:
    """``out`` if the zoo can write its folder there, else UsageError (a bad choice of folder) or
    EnvironmentProblem (no permission, no room); checked before any work.

    ``out`` must be a folder or not exist yet, neither the working folder (or one holding it)
    nor a mount point, and the folder that will receive it must take a new folder (one is
    made there and removed at once: permissions alone do not tell on root, read-only or
    virtual file systems) with room for it. A command that ``replaces`` the folder whole
    (run, report, sweep) also needs it new, empty or the zoo's own output holding nothing
    else, and none of its ``inputs`` inside it.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{given('out', out)}: exists and is not a folder")
    if os.path.ismount(out):
        raise UsageError(f"{given('out', out)}: is a mount point; choose a folder inside it")
    where = Path.cwd().resolve()
    if where == out.resolve():
        raise UsageError(f"{given('out', out)}: is the working folder; choose a folder inside it")
    if out.resolve() in where.parents:
        raise UsageError(f"{given('out', out)}: holds the working folder; choose a folder "
                         "inside it")
    receiver = out.parent
    while not receiver.exists() and receiver != receiver.parent:
        receiver = receiver.parent
    if not receiver.is_dir():
        raise UsageError(f"{given('out', out)}: {receiver} is not a folder")
    for folder in {receiver, out} if out.exists() else {receiver}:
        try:
            shutil.rmtree(tempfile.mkdtemp(prefix=".zoo-probe-", dir=folder))
        except OSError as err:
            raise EnvironmentProblem(f"{given('out', out)}: cannot write in {folder} "
                                     f"({err.strerror})") from None
    if replaces:
        require_replaceable(out, inputs)
    require_free_space(out)
    return out


def require_replaceable(out: Path, inputs: Iterable[str | Path | None] = ()) -> None:
    """UsageError unless replacing ``out`` whole deletes nothing but what the zoo wrote there:
    ``out`` is absent, empty, or holds :data:`MARKER` and only the files it lists, and none
    of ``inputs``."""
    for path in filter(None, inputs):
        if out.resolve() in Path(path).resolve().parents:
            raise UsageError(f"{given('out', out)}: holds the input {path}, which replacing the "
                             "folder would delete; choose another folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    try:
        written = set(json.loads((out / MARKER).read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(f"{given('out', out)}: holds files the zoo did not write, which "
                         "replacing the folder would delete; choose a new or empty folder") from None
    for path in sorted(_files(out)):
        if path not in written and path != MARKER:
            raise UsageError(f"{given('out', out)}: {path} was not written by the zoo, which would "
                             "delete it on replacing the folder; move it or choose another folder")


def written_files(out: Path) -> list[Path]:
    """The files a staged folder holds for its reader, without :data:`MARKER`."""
    return sorted(path for path in Path(out).iterdir() if path.name != MARKER)


def _files(folder: Path) -> list[str]:
    """Every file and folder below ``folder``, as paths relative to it."""
    return [path.relative_to(folder).as_posix() for path in folder.rglob("*")]


#: free space below which a destination is refused before any work: a run's largest output
#: (gmm's posterior.nc with its predictive draws and log-likelihood) is about 30 MB
MIN_FREE_BYTES = 64 * 2**20


def require_free_space(out: Path) -> None:
    """EnvironmentProblem when the file system that will hold ``out`` is (nearly) full, so that a full
    disk is found before fitting, not after. A disk that fills up during the write is caught
    by :func:`staged_folder`."""
    receiver = Path(out)
    while not receiver.exists() and receiver != receiver.parent:
        receiver = receiver.parent
    free = shutil.disk_usage(receiver).free
    if free < MIN_FREE_BYTES:
        raise EnvironmentProblem(f"{given('out', out)}: only {free / 2**20:.1f} MB free on its disk; "
                                 f"the zoo needs {MIN_FREE_BYTES // 2**20} MB")


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A staging folder beside ``out`` that replaces ``out`` only if the block completes.

    ``out`` must be one the zoo may replace (:func:`require_replaceable`), and the staging
    folder gets the list of its files (:data:`MARKER`). It is made with mkdir's default mode, the umask's (0755 under umask 022), rather than by
    tempfile.mkdtemp, whose 0700 the folder would keep once it becomes ``out``. A write that
    fails (a full disk, a folder made read-only meanwhile) is one line, EnvironmentProblem,
    with the previous output kept.
    """
    out = Path(out)
    require_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(out)
    staging = _sibling(out, "new")
    staging.mkdir()
    try:
        try:
            yield staging
            (staging / MARKER).write_text(json.dumps({"files": sorted(_files(staging))}, indent=0))
            interrupts.check()  # a Ctrl-C someone swallowed: keep the previous output
            _replace(staging, out)
        except OSError as err:
            raise EnvironmentProblem(f"cannot write {out}: {_reason(err)}; "
                                     "the previous output, if any, is kept") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _reason(err: OSError) -> str:
    """An OSError in a few words on one line: h5py's (NetCDF) messages span lines and hide
    the errno in their text, "errno = 28" for a full disk."""
    if err.errno:
        return os.strerror(err.errno)
    found = re.search(r"errno = (\d+)", str(err))
    if found:
        return os.strerror(int(found[1]))
    text = " ".join(str(err).split())
    return text if len(text) <= 160 else text[:157] + "..."


def _sibling(out: Path, kind: str) -> Path:
    """A hidden name beside ``out`` that says whose it is: ``.NAME-KIND-PID-RANDOM``."""
    return out.parent / f".{out.name}-{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _replace(staging: Path, out: Path) -> None:
    """Make ``staging`` the folder ``out``, atomically where the system allows."""
    while True:
        try:
            staging.rename(out)  # out absent (or an empty folder): one atomic step
            return
        except OSError as err:
            if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
        if _exchange(staging, out):  # staging now holds the previous output
            return
        if out.exists():  # no exchange here: move the previous output aside, then replace
            aside = _sibling(out, "old")
            out.rename(aside)
            staging.rename(out)
            shutil.rmtree(aside, ignore_errors=True)
            return
        # out vanished between the two calls (another run is swapping): try again


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step; False if the system or file system cannot, or b is gone."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOENT, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _remove_abandoned(out: Path) -> None:
    """Staging folders of ``out`` whose process is gone (a run killed with -9)."""
    for path in out.parent.glob(f".{glob.escape(out.name)}-*-*-*"):
        kind, pid = path.name[len(out.name) + 2:].split("-")[:2]
        if kind in ("new", "old") and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
