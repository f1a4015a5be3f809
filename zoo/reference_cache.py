"""References kept on disk, keyed by everything that decides them.

A reference is a deterministic function of the model's code, its data, its settings and the
numerical packages (every random reference draws from a fixed seed), so a second run on the
same data can read it instead of computing it again: gmm's importance sampler and rat-tumors'
grid are most of a warm ``verify --all`` otherwise. The key is a SHA-256 of the model's name,
its settings, the data's values and column types, the source of the zoo and of the package the
model comes from, and the versions of the packages that compute references; any change to any
of them is a different key, so a stale entry is never read. A damaged or unreadable entry is
computed again; a cache that cannot be written is skipped. Nothing about a run's verdict
depends on the cache but the time it takes.

Code changed without changing a file is not seen: a model defined in ``__main__`` (a notebook,
a script) is never cached, and a test that monkeypatches a reference must turn the cache off.

Where: ``$ZOO_CACHE_DIR``, else ``$XDG_CACHE_HOME/bayes-zoo``, else ``~/.cache/bayes-zoo``;
``ZOO_CACHE_DIR=off`` (or ``--no-cache``) turns it off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from zoo.outputs import write_atomically
from zoo.results import Reference, versions

if TYPE_CHECKING:
    from zoo.model import ZooModel

OFF = "off"
#: bump when the stored format changes
FORMAT = 1


@dataclass(frozen=True)
class Source:
    """Where a run's reference came from: computed now, or read from the cache (with the
    seconds it took when it was computed)."""

    cached: bool
    key: str = ""
    computed_seconds: float = 0.0
    folder: Path | None = None  # the cache's, where one was used: shared by every clone

    def describe(self) -> str:
        if not self.cached:
            return f"computed; stored in the reference cache {self.folder}" if self.folder else "computed"
        return (f"read from the cache {self.folder} (computed in {self.computed_seconds:.2f} s; "
                f"key {self.key[:12]}; ZOO_CACHE_DIR=off or --no-cache computes anew)")


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
    if where is None or not from_a_file(type(model).__module__):
        return model.reference(data, settings), Source(cached=False)
    key = cache_key(model, data, settings)
    path = where / f"{key}.pickle"
    stored = _read(path)
    if stored is not None:
        found, seconds = stored
        return found, Source(cached=True, key=key, computed_seconds=seconds, folder=where)
    start = time.perf_counter()
    found = model.reference(data, settings)
    written = _write(path, (found, time.perf_counter() - start))
    return found, Source(cached=False, key=key, folder=where if written else None)


def cache_key(model: ZooModel, data: pd.DataFrame, settings: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    for part in (f"format {FORMAT}", model.name, type(model).__qualname__,
                 repr(sorted(settings.items())), repr(sorted(versions().items())),
                 code_fingerprint(type(model).__module__)):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(repr([(str(c), str(t)) for c, t in data.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def from_a_file(module_name: str) -> bool:
    """Whether the module's code is a file the key can hash (not ``__main__``, a notebook)."""
    path = getattr(sys.modules.get(module_name), "__file__", None)
    return module_name != "__main__" and path is not None and Path(path).is_file()


@cache
def code_fingerprint(module_name: str) -> str:
    """SHA-256 of every Python file of the zoo and of the top-level package ``module_name``
    belongs to (a model's helpers may live beside it)."""
    roots = {Path(__file__).parent, Path(sys.modules[module_name].__file__).parent}
    top = getattr(sys.modules.get(module_name.partition(".")[0]), "__file__", None)
    if top:
        roots.add(Path(top).parent)
    digest = hashlib.sha256()
    for root in sorted(roots):
        for file in sorted(root.rglob("*.py")):
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _read(path: Path) -> tuple[Reference, float] | None:
    """A stored entry, or None when there is none or it cannot be read back whole."""
    try:
        with path.open("rb") as handle:
            found, seconds = pickle.load(handle)
    except Exception:  # missing, damaged or foreign: compute again (and overwrite it)
        return None
    if not isinstance(found, Reference):
        return None
    return found, float(seconds)


def _write(path: Path, entry: tuple[Reference, float]) -> bool:
    """Store atomically (a reader sees the whole entry or none); a cache that cannot be
    written (read-only, full disk) is skipped: it costs time, never a run. Whether stored."""
    with suppress(OSError, pickle.PicklingError, TypeError, AttributeError):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL))
        return True
    return False
