"""How a message names an option: the command line's flag (``--draws 200``) when the zoo runs
as the ``zoo`` command, the Python API's keyword (``draws=200``) otherwise. The checks are
shared by both (zoo.core.sampling, zoo.core.model, zoo.core.outputs); only their words differ, so that a
reader is told the name they typed."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from zoo.core.scoped import scoped

#: the API's keyword -> the command line's flag, where the flag is not the keyword with dashes
FLAGS = {"settings": "--set"}

_state = {"command_line": False}


def on_command_line() -> AbstractContextManager[None]:
    """Messages in the block name the command line's flags (the ``zoo`` command runs in it)."""
    return scoped(_state, "command_line", True)


def flag(name: str) -> str:
    """The option ``name`` (the API's keyword) as the reader typed it: ``--draws`` or ``draws=``."""
    if _state["command_line"]:
        return FLAGS.get(name, "--" + name.replace("_", "-"))
    return f"{name}="


def given(name: str, value: Any) -> str:
    """The option with its value as the reader typed it: ``--draws 0`` or ``draws=0``
    (``settings='K=1'`` for one of a model's settings)."""
    if _state["command_line"]:
        return f"{flag(name)} {value}"
    return f"{flag(name)}{value!r}" if isinstance(value, str | int | float | None) else \
        f"{flag(name)}'{value}'"
