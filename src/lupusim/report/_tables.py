"""Report tables as data: columns, rows and cells, drawn by one template macro.

A :class:`Table` is what every report hands its template for a table; the macro
``table`` in ``templates/_macros.html.j2`` draws it, so every table of every report has
the same markup (``num`` cells right-aligned, an optional colour dot, a tooltip).
:func:`table_from_frame` turns a DataFrame into one, with each column headed by its
readable name and unit; :func:`key_value_table` does the same for settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lupusim.report._format import fmt
from lupusim.report._labels import unit_from_name

NUM = "num"


@dataclass(frozen=True)
class Cell:
    """One cell: its text, CSS classes, tooltip, a colour dot before it, or a row header."""

    text: str
    css: str = ""
    title: str = ""
    colour: str = ""
    header: bool = False


@dataclass(frozen=True)
class Column:
    """A column heading and its CSS classes."""

    label: str
    css: str = ""


@dataclass(frozen=True)
class Row:
    """The cells of one row and the row's CSS classes."""

    cells: tuple[Cell, ...]
    css: str = ""


@dataclass(frozen=True)
class Table:
    """Columns (none: no heading row), rows and the table's CSS class."""

    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    css: str = ""

    def __bool__(self) -> bool:
        return bool(self.rows)


def row(*cells: Cell | str, css: str = "") -> Row:
    """A row; plain strings become plain cells."""
    return Row(tuple(c if isinstance(c, Cell) else Cell(c) for c in cells), css)


def columns(*labels: str | tuple[str, str]) -> tuple[Column, ...]:
    """Headings from labels or ``(label, css)`` pairs."""
    return tuple(Column(*x) if isinstance(x, tuple) else Column(x) for x in labels)


def table(heads: Sequence[Column], rows: Iterable[Row], *, css: str = "") -> Table:
    """A :class:`Table` from any sequences of columns and rows."""
    return Table(tuple(heads), tuple(rows), css)


def value_cell(value: Any) -> Cell:
    """A cell for a summary value: numbers (not booleans) right-aligned."""
    numeric = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    return Cell(fmt(value), NUM if numeric else "")


def key_value_table(items: Iterable[tuple[str, str]], *, css: str = "settings") -> Table:
    """Two columns without a heading: the key as a row header, then its value."""
    return Table((), tuple(Row((Cell(k, header=True), Cell(v))) for k, v in items), css)


def column_label(name: str, units: Mapping[str, str] | None = None) -> str:
    """``name (unit)``: the unit given for ``name``, else the one its suffix encodes."""
    unit = units[name] if units and name in units else unit_from_name(name)
    return f"{name} ({unit})" if unit else name


def table_from_frame(
    frame: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    formats: Mapping[str, Any] | None = None,
    css: str = "",
) -> Table:
    """One row per row of ``frame``, one column per column.

    Headings are ``labels[column]`` where given, else the column name with its unit
    (``units[column]`` or the unit its name's suffix encodes: ``c3_g_l`` -> ``c3_g_l
    (g/L)``). Cells are written by ``formats[column]`` (a callable) where given, else by
    :func:`~lupusim.report._format.fmt`; numeric columns are right-aligned.
    """
    labels = labels or {}
    formats = formats or {}
    names = [str(c) for c in frame.columns]
    numeric = [
        pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        for c in frame.columns
    ]
    heads = tuple(
        Column(labels.get(n, column_label(n, units)), NUM if num else "")
        for n, num in zip(names, numeric, strict=True)
    )
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = []
        for name, num, value in zip(names, numeric, values, strict=True):
            writer = formats.get(name, fmt)
            cells.append(Cell(str(writer(value)), NUM if num else ""))
        rows.append(Row(tuple(cells)))
    return Table(heads, tuple(rows), css)
