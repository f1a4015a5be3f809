"""Reading a model's CSV file, with one clear message for every kind of bad input.

Every message names the file, and where it can the line (counting the header as line 1)
and the column, so that a user can open the file and fix it.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from zoo.core.deferred import pd
from zoo.core.errors import DataError


@dataclass(frozen=True)
class Column:
    """What a column must hold: ``kind`` is 'binary' (0/1), 'count' (integer >= 0),
    'real' (any finite number) or 'label' (any non-empty text). ``maximum``: the largest value
    the model takes, where its numerics need one (counts never exceed MAX_COUNT). ``nullable``:
    an empty cell is a lost value, read as NaN (real columns only; the model handles NaN)."""

    name: str
    kind: str
    help: str
    maximum: float | None = None
    nullable: bool = False

    def __post_init__(self):
        if self.nullable and self.kind != "real":
            raise ValueError(f"column {self.name!r}: only a real column can be nullable")


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
    rows = _rows(text.splitlines())
    if not rows:
        raise DataError(f"{path}: the file is empty; expected a header with {_names(columns)}")
    header = [cell.strip() for cell in rows[0][1]]
    missing = [c.name for c in columns if c.name not in header]
    if missing:
        raise DataError(
            f"{path}: missing column {_names_of(missing)}; found {_names_of(header)}, "
            f"expected {_names(columns)}{_separator_hint(header)}"
        )
    if len(rows) == 1:
        raise DataError(f"{path}: no data rows below the header")
    frame = {}
    for column in columns:
        position = header.index(column.name)
        cells = [(line, row[position].strip() if position < len(row) else "") for line, row in
                 rows[1:]]
        frame[column.name] = _convert(path, column, cells)
    frame = pd.DataFrame(frame)
    frame.attrs["lines"] = [line for line, _ in rows[1:]]
    return frame


def write_example_command(module: str, write: Callable[[], None], path: Path,
                          argv: list[str] | None = None) -> None:
    """``python -m MODULE write-data``: write a model's bundled example again from its
    simulation (seeded, so the file comes out the same), and say where."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}")
    parser.add_argument("command", choices=["write-data"])
    parser.parse_args(argv)
    write()
    print(f"wrote {path}")


def fail_rows(path: Path | str, bad: np.ndarray | pd.Series, message: str) -> None:
    """Raise DataError naming the first data line where ``bad`` is True (a row-level check).

    ``bad`` computed from the columns of a frame :func:`read_csv` returned carries the file's
    line numbers (``attrs["lines"]``); without them row i is taken to be line i + 2.
    """
    lines = getattr(bad, "attrs", {}).get("lines")
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}, line {lines[first] if lines else first + 2}: {message}")


def _rows(lines: list[str]) -> list[tuple[int, list[str]]]:
    """The non-blank rows, each with the file's line number where it starts (header: 1)."""
    reader = csv.reader(lines)
    rows, start = [], 1
    for row in reader:
        if any(cell.strip() for cell in row):
            rows.append((start, row))
        start = reader.line_num + 1  # a quoted cell can span lines
    return rows


def _convert(path: Path, column: Column, cells: list[tuple[int, str]]) -> np.ndarray:
    where = lambda line: f"{path}, line {line}, column '{column.name}'"  # noqa: E731
    if column.kind == "label":
        for line, cell in cells:
            if not cell:
                raise DataError(f"{where(line)}: empty cell")
        return np.array([cell for _, cell in cells], dtype=object)
    values = np.empty(len(cells))
    # NA, nan: how R and pandas write a missing value; this reader takes an empty cell
    empty_hint = f"; leave the cell empty where {column.name} is missing" if column.nullable else ""
    for i, (line, cell) in enumerate(cells):
        if not cell and column.nullable:
            values[i] = np.nan
            continue
        if not cell:
            raise DataError(f"{where(line)}: empty cell, expected {_KIND_TEXT[column.kind]}")
        try:
            values[i] = float(cell)
        except ValueError:
            raise DataError(
                f"{where(line)}: '{cell}' is not a number, expected {_KIND_TEXT[column.kind]}"
                f"{empty_hint}") from None
        if not np.isfinite(values[i]):
            raise DataError(f"{where(line)}: '{cell}' is not a finite number{empty_hint}")
        if column.kind in ("binary", "count"):
            _check_whole(where(line), cell)
        if column.kind == "binary" and values[i] not in (0.0, 1.0):
            raise DataError(f"{where(line)}: '{cell}' is not 0 or 1")
        if column.kind == "count" and values[i] < 0:
            raise DataError(f"{where(line)}: '{cell}' is negative, expected a count >= 0")
        if column.maximum is not None and values[i] > column.maximum:
            raise DataError(f"{where(line)}: '{cell}' is larger than {column.maximum:,g}, the "
                            "most this model takes")
    return values.astype(int) if column.kind in ("binary", "count") else values


#: the largest count a CSV may give: every whole number up to it is exact as a float and as an
#: int64 (the models compute in both); beyond it 1e20 became -2**63 and crashed a model
MAX_COUNT = 2**53


def _check_whole(where: str, cell: str) -> None:
    """A count's text must be a whole number exactly (not 1.0000000000000001, which a float
    rounds to 1) and at most MAX_COUNT."""
    exact = Decimal(cell)
    if exact > MAX_COUNT:
        raise DataError(f"{where}: '{cell}' is too large; a count must be at most 2**53 "
                        f"({MAX_COUNT})")
    if exact != exact.to_integral_value():
        raise DataError(f"{where}: '{cell}' is not a whole number")


_KIND_TEXT = {
    "binary": "0 or 1",
    "count": "a whole number >= 0",
    "real": "a number",
}


def _names(columns: list[Column]) -> str:
    return _names_of([c.name for c in columns])


def _separator_hint(header: list[str]) -> str:
    """Why the header looks like one name: another separator (Excel's ';' where the decimal
    mark is a comma, or a tab)."""
    for separator, name in ((";", "';'"), ("\t", "tabs")):
        if len(header) == 1 and separator in header[0]:
            return (f"; the header has {name} between names: the zoo reads columns separated "
                    "by commas")
    return ""


def _names_of(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names) if names else "none"
