"""CSV and TSV files that a spreadsheet opens as data, never as formulas.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (and
a leading tab or carriage return can hide one): a subject id ``=HYPERLINK("…")`` in a
results file becomes a live link, a ``+cmd|…`` a command (OWASP, "CSV Injection"). Every
CSV or TSV lupusim writes goes through :func:`write_csv`, which applies the OWASP rule to
*text* cells: a text cell starting with one of ``= + - @``, tab or carriage return gets
a single quote in front (``'=HYPERLINK("x")``), which spreadsheets show as text.

Numbers stay numbers: numeric, boolean and date columns are written unchanged (``-1.5``
in a float column is not escaped), and so is a text cell that is exactly a plain decimal
number (``-1.5``, ``+2``, ``-3e-4``), which a spreadsheet reads as that number. Parquet
and DuckDB outputs keep their values as they are; this is for text formats only.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import IO, Any

import pandas as pd

#: First characters that make a spreadsheet evaluate a cell (OWASP CSV injection).
DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def is_formula(value: Any) -> bool:
    """Whether ``value`` is text a spreadsheet would evaluate (OWASP rule, numbers exempt)."""
    return (
        isinstance(value, str)
        and value.startswith(DANGEROUS_FIRST)
        and not _PLAIN_NUMBER.match(value)
    )


def escape_cell(value: Any) -> Any:
    """``value`` with a single quote in front if it is text a spreadsheet would execute."""
    return "'" + value if is_formula(value) else value


def _is_text(series: pd.Series) -> bool:
    dtype = series.dtype
    return bool(
        pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names are escaped."""
    out = frame.copy()
    for i in range(out.shape[1]):
        series = out.iloc[:, i]
        if _is_text(series):
            out.isetitem(i, series.astype(object).map(escape_cell).to_numpy(dtype=object))
    out.columns = [escape_cell(c) for c in out.columns]
    return out


def _has_carriage_return(frame: pd.DataFrame) -> bool:
    if any("\r" in str(c) for c in frame.columns):
        return True
    for i in range(frame.shape[1]):
        series = frame.iloc[:, i]
        if _is_text(series) and series.map(lambda v: isinstance(v, str) and "\r" in v).any():
            return True
    return False


def write_csv(frame: pd.DataFrame, path: str | Path | IO[str], **options: Any) -> None:
    """``frame.to_csv(path, index=False, **options)`` with text cells escaped.

    A text cell holding a carriage return is quoted like one holding a line break
    (pandas quotes only the characters of its line terminator), so that no reader splits
    the row there.
    """
    options.setdefault("index", False)
    escaped = escape_frame(frame)
    if "\r" not in options.get("lineterminator", "\n") and _has_carriage_return(escaped):
        options.setdefault("quoting", csv.QUOTE_NONNUMERIC)
    escaped.to_csv(path, **options)
