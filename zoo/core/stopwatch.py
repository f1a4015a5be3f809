"""Where a run's seconds go: phases timed deep inside a fit (building the PyMC graph,
compiling, importing the sampler), collected by the pipeline for the run's ``seconds``.

Phases are kept per thread, so runs in parallel threads do not mix their times.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

#: whether the first run of this process is charged the process's start-up as "imports"
#: (the command line says so; a notebook's first run did not wait for the notebook)
count_startup = False

_local = threading.local()


def _phases() -> defaultdict[str, float]:
    if not hasattr(_local, "phases"):
        _local.phases = defaultdict(float)
    return _local.phases


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Add the seconds the block takes to ``name`` (phases may repeat: every fit compiles)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        _phases()[name] += time.perf_counter() - start


def collected() -> dict[str, float]:
    """The phases timed in this thread since the last call, which starts them afresh."""
    phases = dict(_phases())
    _phases().clear()
    return phases


def startup_seconds() -> float:
    """The process's age, once, when :data:`count_startup` is set (interpreter start, imports
    and argument checks before the first run); 0 after that, elsewhere, and where the age
    cannot be read (not Linux)."""
    global count_startup
    if not count_startup:
        return 0.0
    count_startup = False
    return process_age() or 0.0


def process_age() -> float | None:
    """Seconds since this process started, from the kernel's record (Linux)."""
    try:
        with open(f"/proc/{os.getpid()}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start after boot
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return None
