"""Ctrl-C that cannot be lost.

While PyTensor compiles, numba and llvmlite call back into Python through ctypes; a
KeyboardInterrupt raised inside such a callback is printed as "Exception ignored" and dropped,
and the run went on to sample, write its output and exit 0. So the zoo's handler records the
signal as well as raising it, and the run looks at the record at safe points (before sampling,
after the fit, before an output folder replaces the previous one) and stops there; the
"Exception ignored" message of a swallowed one is not printed.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_received = threading.Event()


def record(signum=None, frame=None) -> None:
    """The handler of SIGINT and SIGTERM: remember the interrupt, then raise it where Python is."""
    _received.set()
    raise KeyboardInterrupt


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C came, even if whoever it hit swallowed it."""
    if _received.is_set():
        raise KeyboardInterrupt


@contextmanager
def recorded() -> Iterator[None]:
    """Install :func:`record` as the SIGINT and SIGTERM handler for the block (main thread
    only). SIGTERM too: by default it ends the process at once, and the worker processes of
    ``zoo power`` or ``zoo sbc --jobs 2`` were left fitting on their own."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()
    previous = {signum: signal.signal(signum, record) for signum in (signal.SIGINT, signal.SIGTERM)}
    previous_hook = sys.unraisablehook

    def unraisable(info):  # "Exception ignored ... KeyboardInterrupt": recorded, not lost
        if not issubclass(info.exc_type, KeyboardInterrupt):
            previous_hook(info)

    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = previous_hook
        _received.clear()
