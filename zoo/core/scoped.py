"""A module's setting changed for a block and put back after it, however the block ends:
the command line's switches (progress lines, option names) without leaking into the API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def scoped(state: dict[str, Any], key: str, value: Any) -> Iterator[None]:
    """``state[key]`` is ``value`` for the block, then what it was before."""
    previous = state[key]
    state[key] = value
    try:
        yield
    finally:
        state[key] = previous
