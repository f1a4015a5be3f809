"""Coarse progress on stderr ("simulation 3/20 done, 41 s", "compiling gmm ..."), so that a
command running for minutes is never silent; ``--quiet`` turns it off.

Lines are printed only inside :func:`shown`, in which the command line runs every command
unless ``--quiet``: the Python API prints none (a notebook asked for results, not chatter),
and neither do worker processes, whose results the main process counts as they arrive.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import TypeVar

from zoo.core.scoped import scoped

T = TypeVar("T")

_state: dict = {"shown": False, "subject": None}


def shown(enabled: bool = True) -> AbstractContextManager[None]:
    """Progress lines on stderr for the block (none when ``enabled`` is False)."""
    return scoped(_state, "shown", enabled)


def about(subject: str) -> AbstractContextManager[None]:
    """What the block works on, as :func:`compiling` names it (a model's name)."""
    return scoped(_state, "subject", subject)


def say(text: str) -> None:
    """One progress line on stderr, inside :func:`shown`."""
    if _state["shown"]:
        print(text, file=sys.stderr, flush=True)


def compiling() -> None:
    """The line before a compile that may take seconds to a minute."""
    say(f"compiling {_state['subject'] or 'the model'} ...")


def counted(items: Iterable[T], what: str, total: int,
            label: Callable[[T], str] | None = None) -> Iterator[T]:
    """``items`` (each a finished unit of work), with a line as each arrives:
    "``what`` 3/``total`` done, 41 s" (and ``label(item)`` when given)."""
    start = time.perf_counter()
    for done, item in enumerate(items, 1):
        named = f" ({label(item)})" if label else ""
        say(f"{what} {done}/{total}{named} done, {time.perf_counter() - start:.0f} s")
        yield item
