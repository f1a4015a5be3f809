"""Reading a model's CSV file, with one clear message for every kind of bad input.

Every message names the file, and where it can the line (counting the header as line 1)
and the column, so that a user can open the file and fix it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from zoo.errors import DataError


@dataclass(frozen=True)
class Column:
    """What a column must hold: ``kind`` is 'binary' (0/1), 'count' (integer >= 0),
    'real' (any finite number) or 'label' (any non-empty text)."""

    name: str
    kind: str
    help: str


def read_csv(path: Path | str, columns: list[Column]) -> pd.DataFrame:
    """Read ``path`` and return a frame with exactly ``columns``, converted and checked.

    Extra columns are ignored. Raises DataError on the first problem found.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text (byte {err.start})") from None
    rows = list(csv.reader(text.splitlines()))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise DataError(f"{path}: the file is empty; expected a header with {_names(columns)}")
    header = [cell.strip() for cell in rows[0]]
    missing = [c.name for c in columns if c.name not in header]
    if missing:
        raise DataError(
            f"{path}: missing column {_names_of(missing)}; found {_names_of(header)}, "
            f"expected {_names(columns)}"
        )
    if len(rows) == 1:
        raise DataError(f"{path}: no data rows below the header")
    frame = {}
    for column in columns:
        position = header.index(column.name)
        cells = [(line, row[position].strip() if position < len(row) else "") for line, row in
                 _numbered(rows)]
        frame[column.name] = _convert(path, column, cells)
    return pd.DataFrame(frame)


def fail_rows(path: Path | str, bad: np.ndarray, message: str) -> None:
    """Raise DataError naming the first data line where ``bad`` is True (a row-level check)."""
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}, line {first + 2}: {message}")


def _numbered(rows: list[list[str]]):
    return ((number + 2, row) for number, row in enumerate(rows[1:]))


def _convert(path: Path, column: Column, cells: list[tuple[int, str]]) -> np.ndarray:
    where = lambda line: f"{path}, line {line}, column '{column.name}'"  # noqa: E731
    if column.kind == "label":
        for line, cell in cells:
            if not cell:
                raise DataError(f"{where(line)}: empty cell")
        return np.array([cell for _, cell in cells], dtype=object)
    values = np.empty(len(cells))
    for i, (line, cell) in enumerate(cells):
        if not cell:
            raise DataError(f"{where(line)}: empty cell, expected {_KIND_TEXT[column.kind]}")
        try:
            values[i] = float(cell)
        except ValueError:
            raise DataError(
                f"{where(line)}: '{cell}' is not a number, expected {_KIND_TEXT[column.kind]}"
            ) from None
        if not np.isfinite(values[i]):
            raise DataError(f"{where(line)}: '{cell}' is not a finite number")
        if column.kind in ("binary", "count") and values[i] != round(values[i]):
            raise DataError(f"{where(line)}: '{cell}' is not a whole number")
        if column.kind == "binary" and values[i] not in (0.0, 1.0):
            raise DataError(f"{where(line)}: '{cell}' is not 0 or 1")
        if column.kind == "count" and values[i] < 0:
            raise DataError(f"{where(line)}: '{cell}' is negative, expected a count >= 0")
    return values.astype(int) if column.kind in ("binary", "count") else values


_KIND_TEXT = {
    "binary": "0 or 1",
    "count": "a whole number >= 0",
    "real": "a number",
}


def _names(columns: list[Column]) -> str:
    return _names_of([c.name for c in columns])


def _names_of(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names) if names else "none"
