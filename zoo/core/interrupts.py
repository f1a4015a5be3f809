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
    """The SIGINT handler: remember the interrupt, then raise it where Python is."""
    _received.set()
    raise KeyboardInterrupt


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C came, even if whoever it hit swallowed it."""
    if _received.is_set():
        raise KeyboardInterrupt


@contextmanager
def recorded() -> Iterator[None]:
    """Install :func:`record` as the SIGINT handler for the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()
    previous, previous_hook = signal.signal(signal.SIGINT, record), sys.unraisablehook

    def unraisable(info):  # "Exception ignored ... KeyboardInterrupt": recorded, not lost
        if not issubclass(info.exc_type, KeyboardInterrupt):
            previous_hook(info)

    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = previous_hook
        _received.clear()
