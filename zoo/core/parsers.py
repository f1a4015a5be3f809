"""Parsers for ``--set KEY=VALUE`` texts that several models share.

Each returns a function ``text -> value`` that raises ValueError with a reason a user can act
on; :meth:`zoo.core.model.ZooModel.parse_settings` turns that into one line and exit status 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def number(text: str) -> float:
    """A finite number."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def numbers(text: str, count: int, example: str) -> tuple[float, ...]:
    """Exactly ``count`` comma-separated finite numbers."""
    try:
        values = tuple(number(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count:
        raise ValueError(f"expected {count} comma-separated number{'s' * (count > 1)}, e.g. {example}")
    return values


def at_least(minimum: float, what: str = "the value") -> Callable[[str], float]:
    """A number >= ``minimum``."""

    def parse(text: str) -> float:
        value = number(text)
        if value < minimum:
            raise ValueError(f"{what} must be at least {minimum:g}")
        return value

    return parse


def positive(text: str) -> float:
    """A number > 0."""
    value = number(text)
    if value <= 0:
        raise ValueError(f"{text!r} must be positive")
    return value


def whole_number(minimum: int, what: str = "the value",
                 maximum: int | None = None) -> Callable[[str], int]:
    """A whole number from ``minimum`` to ``maximum`` (a size past which memory or time runs
    out), written plainly or as an exact power like 1e4."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if not (math.isfinite(number) and number.is_integer()):
                raise ValueError(f"{text!r} is not a whole number") from None
            value = int(number)
        if value < minimum:
            raise ValueError(f"{what} must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise ValueError(f"{what} must be at most {maximum:,}")
        return value

    return parse


def choice(*options: str) -> Callable[[str], str]:
    """One of ``options``, as given."""

    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return text

    return parse


def yes_no(text: str) -> bool:
    """'yes' or 'no'."""
    return choice("yes", "no")(text) == "yes"
