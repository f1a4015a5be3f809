"""References kept on disk, keyed by everything that decides them.

A reference is a deterministic function of the model's code, its state, its data, its settings
and the numerical packages (every random reference draws from a fixed seed, the model's
``reference_seed``: an instance given a seed of its own, as ``zoo power``'s false-alarm runs
are, holds it in its state and so gets a key of its own), so a second run on
the same data can read it instead of computing it again: gmm's importance sampler and
rat-tumors' grid are most of a warm ``verify --all`` otherwise. The key is a SHA-256 of the
model's :func:`code_key` (its class, the instance's own attributes, the source files of every
package its class and base classes come from, the versions of the packages that compute
references), its settings, and the data's values and column types; any change to any of them
is a different key, so a stale entry is never read. The source is fingerprinted at every call
(each file's SHA-256 is reused only while its size and modification time are unchanged), so a
model file edited and reloaded in a running notebook gets a key of its own.

Not cached, and the run says why: an instance with an attribute the key cannot hash stably (a
function, an open file: :func:`stable_bytes`), a model defined in ``__main__`` (its code can
change without a file changing), and a reference that cannot be pickled. A damaged or
unreadable entry is computed again; a cache that cannot be written is skipped. Nothing about a
run's verdict depends on the cache but the time it takes. A file edited but not yet reloaded
is not seen (the key follows the file; the run uses the code in memory); a test that
monkeypatches a reference must turn the cache off.

Where: ``$ZOO_CACHE_DIR``, else ``$XDG_CACHE_HOME/bayes-zoo``, else ``~/.cache/bayes-zoo``;
``ZOO_CACHE_DIR=off`` (or ``--no-cache``) turns it off.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import os
import pickle
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.core.deferred import pd
from zoo.core.outputs import write_atomically
from zoo.core.results import Reference, versions

if TYPE_CHECKING:
    from zoo.core.model import ZooModel

OFF = "off"
#: bump when the stored format or the key changes
FORMAT = 3


class Unhashable(ValueError):
    """A value the cache key cannot encode stably (so the reference is not cached)."""


@dataclass(frozen=True)
class Source:
    """Where a run's reference came from: computed now (and why it was not cached, when it
    could not be), or read from the cache (with the seconds it took when it was computed)."""

    cached: bool
    key: str = ""
    computed_seconds: float = 0.0
    not_cached: str = ""
    folder: Path | None = None  # the cache's, where one was used: shared by every clone

    def describe(self) -> str:
        """Where the reference came from, in words without brackets: the console puts them
        in its own."""
        if not self.cached:
            if self.not_cached:
                return f"computed, not cached: {self.not_cached}"
            return f"computed; stored in the reference cache {self.folder}" if self.folder else "computed"
        return (f"read from the cache {self.folder}, computed there in "
                f"{self.computed_seconds:.2f} s, key {self.key[:12]}; ZOO_CACHE_DIR=off or "
                "--no-cache computes anew")


def folder() -> Path | None:
    """The cache's folder, or None when the cache is off."""
    chosen = os.environ.get("ZOO_CACHE_DIR")
    if chosen:
        return None if chosen.strip().lower() == OFF else Path(chosen) / "references"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bayes-zoo" / "references"


def reference(model: ZooModel, data: pd.DataFrame, settings: dict[str, Any]) -> tuple[Reference, Source]:
    """``model.reference(data, settings)``, from the cache when an entry for exactly these
    inputs is there; computed (and stored) otherwise."""
    where = folder()
    if where is None:
        return model.reference(data, settings), Source(cached=False)
    try:
        key = cache_key(model, data, settings)
    except Unhashable as why:
        return model.reference(data, settings), Source(cached=False, not_cached=str(why))
    path = where / f"{key}.pickle"
    stored = _read(path)
    if stored is not None:
        found, seconds = stored
        return found, Source(cached=True, key=key, computed_seconds=seconds, folder=where)
    start = time.perf_counter()
    found = model.reference(data, settings)
    try:
        entry = pickle.dumps((found, time.perf_counter() - start), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as err:  # pickle's own refusals
        why = f"the reference cannot be pickled, {type(err).__name__}: {err}"
        return found, Source(cached=False, key=key, not_cached=why)
    written = _write(path, entry)
    return found, Source(cached=False, key=key, folder=where if written else None)


def cache_key(model: ZooModel, data: pd.DataFrame, settings: dict[str, Any]) -> str:
    """SHA-256 of the model's :func:`code_key`, its settings and the data; Unhashable when one
    of them cannot be encoded stably."""
    digest = hashlib.sha256()
    for part in (f"format {FORMAT}", code_key(model), model.name):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(stable_bytes(settings, "its settings"))
    digest.update(stable_bytes(data, "its data"))
    return digest.hexdigest()


def code_key(model: ZooModel) -> str:
    """SHA-256 of what decides a model's answers besides its inputs: its class, the instance's
    attributes, the source of every package its class hierarchy comes from (as the files are
    now) and the numerical packages' versions. ``zoo power`` stamps its stored results with it.
    Unhashable for a model from ``__main__`` or with an attribute that cannot be encoded."""
    cls = type(model)
    if not all(from_a_file(c.__module__) for c in _own_classes(cls)):
        raise Unhashable(f"{cls.__qualname__} is defined in {cls.__module__}, not in a file "
                         "whose changes the cache can see")
    digest = hashlib.sha256()
    for part in (f"{cls.__module__}.{cls.__qualname__}", repr(sorted(versions().items())),
                 code_fingerprint(cls)):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(stable_bytes(vars(model), f"{cls.__qualname__}'s attributes"))
    return digest.hexdigest()


def stable_bytes(value: Any, where: str) -> bytes:
    """An encoding of ``value`` that is the same in every process for equal values (unlike
    ``hash`` or ``repr`` of a large array): plain Python values, containers of them, numpy
    arrays, pandas frames and series, dataclasses and enums. Unhashable otherwise, naming
    ``where`` and the type."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, Path)):
        return f"{type(value).__name__}:{value!r};".encode()
    if isinstance(value, enum.Enum):
        return f"enum:{type(value).__qualname__}.{value.name};".encode()
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype == object:
            return b"array[" + stable_bytes(array.tolist(), where) + b"]"
        return f"array:{array.dtype.str}{array.shape}:".encode() + np.ascontiguousarray(array).tobytes()
    if isinstance(value, (pd.DataFrame, pd.Series)):
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        types = repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode()
        return b"frame:" + types + pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__}(".encode() + b"".join(stable_bytes(v, where) for v in value) + b")"
    if isinstance(value, (set, frozenset)):
        return b"set(" + b"".join(sorted(stable_bytes(v, where) for v in value)) + b")"
    if isinstance(value, dict):
        items = sorted(stable_bytes(k, where) + b"=" + stable_bytes(v, where) for k, v in value.items())
        return b"dict(" + b"".join(items) + b")"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return f"{type(value).__qualname__}".encode() + stable_bytes(fields, where)
    raise Unhashable(f"{where} hold a {type(value).__qualname__}, which the cache key cannot "
                     "encode stably")


def from_a_file(module_name: str) -> bool:
    """Whether the module's code is a file the key can hash (not ``__main__``, a notebook)."""
    path = getattr(sys.modules.get(module_name), "__file__", None)
    return module_name != "__main__" and path is not None and Path(path).is_file()


def code_fingerprint(cls: type) -> str:
    """SHA-256 of the zoo's Python files and of those of every package (or lone module) that
    ``cls`` and its base classes come from, as they are now: recomputed at every call, never
    remembered for the process; a file's own SHA-256 is reused while its size and modification
    time stay the same. Each file counts by its place in its package, not by where the
    checkout is: every clone of one commit shares its entries (it hashed the absolute path,
    and a fresh clone computed every reference again)."""
    digest = hashlib.sha256()
    for place, file in sorted(_source_files(cls).items()):
        digest.update(place.encode())
        digest.update(_file_digest(file))
    return digest.hexdigest()


def _own_classes(cls: type) -> list[type]:
    """``cls`` and its base classes, without Python's own (object, ABC)."""
    return [c for c in cls.__mro__ if c.__module__ not in ("builtins", "abc")]


def _source_files(cls: type) -> dict[str, Path]:
    """The .py files of every package enclosing the modules of ``cls``'s hierarchy and of zoo
    (a model's helpers may live beside it), each by its package and path inside it
    (``zoo/core/model.py``); a top-level module that is no package: its file, by its name."""
    files: dict[Path, str] = {}
    for module_name in sorted({"zoo", *(c.__module__ for c in _own_classes(cls))}):
        parts = module_name.split(".")
        for depth in range(1, len(parts) + 1):  # outermost first: each file by its shortest place
            name = ".".join(parts[:depth])
            module = sys.modules.get(name)
            for root in getattr(module, "__path__", ()):
                for file in Path(root).rglob("*.py"):
                    files.setdefault(file.resolve(), f"{name}/{file.relative_to(root).as_posix()}")
            if not hasattr(module, "__path__") and getattr(module, "__file__", None):
                files.setdefault(Path(module.__file__).resolve(), name)
    return {place: file for file, place in files.items()}


#: file -> ((size, mtime_ns, inode), SHA-256): a file's digest is read again once it changes
_digests: dict[Path, tuple[tuple[int, int, int], bytes]] = {}


def _file_digest(file: Path) -> bytes:
    stat = file.stat()
    signature = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    known = _digests.get(file)
    if known is None or known[0] != signature:
        known = (signature, hashlib.sha256(file.read_bytes()).digest())
        _digests[file] = known
    return known[1]


def _read(path: Path) -> tuple[Reference, float] | None:
    """A stored entry, or None when there is none or it cannot be read back whole."""
    try:
        with path.open("rb") as handle:
            found, seconds = pickle.load(handle)
    except Exception:  # missing, damaged or foreign (unpickling raises almost anything): compute again
        return None
    if not isinstance(found, Reference):
        return None
    return found, float(seconds)


def _write(path: Path, entry: bytes) -> bool:
    """Store atomically (a reader sees the whole entry or none); a cache that cannot be
    written (read-only, full disk) is skipped: it costs time, never a run. Whether stored."""
    with suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, entry)
        return True
    return False
