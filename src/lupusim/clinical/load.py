"""Load visit, subject and event tables from CSV, Parquet or pandas, and check them.

The result is a :class:`VisitData`: a visit table with canonical columns (alternative
units converted, types coerced, subjects joined) plus the optional events table and the
warnings found on the way. Anything impossible raises :class:`~lupusim.errors.InputError`
naming file, row and column (DESIGN.md "Visit table").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lupusim.clinical import schema as S
from lupusim.clinical._ranges import (
    NOT_A_NUMBER,
    NOT_FINITE,
    RANGES,
    Interval,
    Ranges,
    format_number,
    why_not_a_number,
)
from lupusim.clinical.validate import (
    ROW,
    STRUCTURE_CHECKS,
    Issue,
    check_sex,
    check_unknown_columns,
    raise_first_error,
    range_check,
    run_checks,
    value_checks,
)
from lupusim.errors import InputError

TableSource = str | Path | pd.DataFrame

_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})
_SEX = {"F": "F", "M": "M", "FEMALE": "F", "MALE": "M"}
_MG_PER_MMOL = {"exact": 113.12, "rounded": 100.0}  # SPEC §3.1


@dataclass
class VisitData:
    """A checked visit table, its optional events table and the warnings found.

    ``missing`` counts the empty cells of each input column; ``ranges_overridden`` lists
    the plausible ranges the checks used in place of the defaults.
    """

    visits: pd.DataFrame
    events: pd.DataFrame | None = None
    warnings: list[Issue] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    ranges_overridden: dict[str, Interval] = field(default_factory=dict)


def missing_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Empty cells per input column (internal ``_`` columns left out)."""
    return {str(c): int(frame[c].isna().sum()) for c in frame.columns if not str(c).startswith("_")}


_MANGLED = re.compile(r"^(.*)\.(\d+)$")


def _read_parquet(path: Path, name: str) -> pd.DataFrame:
    """A Parquet file; a NaN (not null) in a float column is an error naming its cell."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    import pyarrow.types as pat

    table = pq.read_table(path)
    for col_name, column in zip(table.column_names, table.columns, strict=True):
        if not pat.is_floating(column.type):
            continue
        nan = pc.fill_null(pc.is_nan(column), False).to_numpy(zero_copy_only=False)
        if nan.any():
            raise InputError(
                f"value nan: {NOT_A_NUMBER.replace('an empty cell', 'null (NA)')}",
                file=name,
                row=int(np.flatnonzero(nan)[0]) + 1,
                column=str(col_name).strip(),
            )
    return table.to_pandas()


def read_table(source: TableSource, what: str = "table") -> tuple[pd.DataFrame, str]:
    """Read CSV/TSV/Parquet (or take a DataFrame); return the frame and a display name.

    CSV cells are read as text so that type errors can be reported by row; only an
    empty cell is missing (the text ``nan`` or ``NA`` is a value, checked as such). A
    column name given twice is an error. CSV files are UTF-8 (with or without a byte-order
    mark) or UTF-16 with its byte-order mark; other encodings are refused as unreadable.
    """
    if isinstance(source, pd.DataFrame):
        return source.copy(), f"<{what} DataFrame>"
    path = Path(source)
    name = str(path)
    if not path.is_file():
        raise InputError("no such file", file=name)
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = _read_parquet(path, name)
        elif suffix in (".csv", ".tsv", ".txt"):
            frame = read_csv_text(path, sep="\t" if suffix == ".tsv" else ",")
        else:
            raise InputError(f"unsupported file type {suffix!r} (use .csv or .parquet)", file=name)
    except InputError:
        raise
    except Exception as exc:  # parser errors of every kind become one line
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(f"cannot read: {first}", file=name) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if suffix not in (".parquet", ".pq"):
        refuse_duplicate_columns(frame, name)
    return frame, name


def read_csv_text(path: Path, sep: str = ",") -> pd.DataFrame:
    """A CSV file as text cells; only an empty cell is missing.

    UTF-8 (with or without a byte-order mark) or UTF-16 with its byte-order mark.
    Parser and decoding errors propagate (callers turn them into one line).
    """
    with path.open("rb") as fh:
        bom = fh.read(2)
    return pd.read_csv(
        path,
        dtype=str,
        sep=sep,
        skipinitialspace=True,
        keep_default_na=False,
        na_values=[""],
        encoding="utf-16" if bom in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig",
    )


def refuse_duplicate_columns(frame: pd.DataFrame, name: str) -> None:
    """pandas renames a repeated header ``x`` to ``x.1``: report it as a duplicate."""
    names = {str(c) for c in frame.columns}
    for col in frame.columns:
        m = _MANGLED.match(str(col))
        if m and m[1] in names:
            raise InputError("duplicate column", file=name, column=m[1])


def _number_rows(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame[ROW] = np.arange(1, len(frame) + 1)
    return frame


def _rownum(frame: pd.DataFrame, position: object) -> int:
    """The source row number of the row at ``position`` (frames here have a RangeIndex)."""
    return int(np.asarray(frame[ROW])[int(position)])  # type: ignore[call-overload]


def _text(series: pd.Series) -> pd.Series:
    """Strip text; empty strings and missing values become None (object dtype)."""
    values = [
        None if (v is None or (not isinstance(v, str) and bool(pd.isna(v)))) else str(v).strip()
        for v in series.to_numpy(dtype=object)
    ]
    return pd.Series([v if v else None for v in values], index=series.index, dtype=object)


def _coerce_numeric(frame: pd.DataFrame, col: str, file: str, integer: bool) -> None:
    """Text or numbers → float; an unparsable, NaN-text or non-finite cell is an error."""
    raw = frame[col]
    if pd.api.types.is_bool_dtype(raw):
        raise InputError("expected a number, got booleans", file=file, column=col)
    if pd.api.types.is_numeric_dtype(raw):
        values = pd.to_numeric(raw, errors="coerce").astype(float)
        text = None
    else:
        text = _text(raw)
        values = pd.to_numeric(text, errors="coerce").astype(float)
        bad = text.notna() & values.isna()
        if bad.any():
            i = frame.index[bad.to_numpy()][0]
            raise InputError(
                why_not_a_number(str(text[i])),
                file=file,
                row=_rownum(frame, i),
                column=col,
            )
    v = values.to_numpy()
    inf = np.isinf(v)
    if inf.any():
        i = frame.index[np.flatnonzero(inf)[0]]
        shown = str(text[i]) if text is not None else format_number(v[np.flatnonzero(inf)[0]])
        raise InputError(
            f"value {shown}: {NOT_FINITE}", file=file, row=_rownum(frame, i), column=col
        )
    if integer:
        frac = ~np.isnan(v) & (v != np.round(v))
        if frac.any():
            i = frame.index[np.flatnonzero(frac)[0]]
            raise InputError(
                f"expected an integer, got {values[i]!r}",
                file=file,
                row=_rownum(frame, i),
                column=col,
            )
    frame[col] = values


def _coerce_bool(frame: pd.DataFrame, col: str, file: str) -> None:
    raw = frame[col]
    if pd.api.types.is_bool_dtype(raw):
        frame[col] = raw.astype("boolean")
        return
    text = _text(raw).map(lambda v: None if v is None else v.lower())
    out = pd.Series(pd.NA, index=frame.index, dtype="boolean")
    is_true = text.isin(list(_TRUE))
    is_false = text.isin(list(_FALSE))
    bad = text.notna() & ~is_true & ~is_false
    if bad.any():
        i = frame.index[bad.to_numpy()][0]
        raise InputError(
            f"expected true/false, got {raw[i]!r}", file=file, row=_rownum(frame, i), column=col
        )
    out[is_true.to_numpy()] = True
    out[is_false.to_numpy()] = False
    frame[col] = out


def _coerce_date(frame: pd.DataFrame, col: str, file: str) -> None:
    raw = frame[col]
    if pd.api.types.is_datetime64_any_dtype(raw):
        frame[col] = pd.to_datetime(raw).dt.normalize()
        return
    text = _text(raw)
    values = pd.to_datetime(text, format="ISO8601", errors="coerce")
    bad = text.notna() & values.isna()
    if bad.any():
        i = frame.index[bad.to_numpy()][0]
        raise InputError(
            f"expected an ISO 8601 date, got {text[i]!r}",
            file=file,
            row=_rownum(frame, i),
            column=col,
        )
    frame[col] = (
        values.dt.tz_localize(None).dt.normalize() if values.dt.tz else values.dt.normalize()
    )


def coerce_types(frame: pd.DataFrame, file: str) -> pd.DataFrame:
    """Coerce every known column to its type; raise on the first cell that does not fit."""
    frame = frame.copy()
    for col in (S.SUBJECT, S.VISIT):
        if col in frame.columns:
            frame[col] = _text(frame[col])
    numeric = set(S.NUMERIC_COLUMNS) | set(S.ALTERNATIVE_UNITS) | {S.STUDY_DAY}
    for col in frame.columns:
        if col in numeric:
            _coerce_numeric(frame, col, file, integer=col in S.INTEGER_COLUMNS)
        elif col in S.BOOLEAN_COLUMNS:
            _coerce_bool(frame, col, file)
        elif col == S.VISIT_DATE:
            _coerce_date(frame, col, file)
    if "sex" in frame.columns:
        sex = _text(frame["sex"])
        frame["sex"] = sex.map(lambda v: None if v is None else _SEX.get(v.upper(), v))
    for col in S.BILAG_COLUMNS:
        if col in frame.columns:
            frame[col] = _text(frame[col]).map(lambda v: None if v is None else v.upper())
    return frame


def convert_units(
    frame: pd.DataFrame, file: str, mgmmol: str = "exact", ranges: Ranges = RANGES
) -> pd.DataFrame:
    """Convert alternative-unit columns to canonical ones (SPEC §3.1).

    An alternative-unit value is checked against its canonical column's range after
    conversion (the message shows both). Where both the canonical and an alternative
    column hold a value on the same row they must agree within 1 %; otherwise the units
    conflict and the row is named.
    """
    frame = frame.copy()
    for alt, (canon, factor) in S.ALTERNATIVE_UNITS.items():
        if alt not in frame.columns:
            continue
        f = 1.0 / _MG_PER_MMOL[mgmmol] if factor is None else factor
        alt_values = frame[alt].to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(over="ignore"):
            converted = alt_values * f
        found = ranges.first_problem(canon, converted)
        if found is not None:
            i, why = found
            raise InputError(
                f"value {format_number(alt_values[i])} "
                f"(= {format_number(converted[i])} as {canon}): {why}",
                file=file,
                row=_rownum(frame, i),
                column=alt,
            )
        if canon in frame.columns:
            canon_values = frame[canon].to_numpy(dtype=float, na_value=np.nan)
            both = ~np.isnan(converted) & ~np.isnan(canon_values)
            differ = both & (
                np.abs(converted - canon_values) > 0.01 * np.maximum(np.abs(canon_values), 1e-12)
            )
            if differ.any():
                i = int(np.flatnonzero(differ)[0])
                raise InputError(
                    f"conflicting unit columns {canon!r} and {alt!r} "
                    f"({canon_values[i]:g} vs {alt_values[i]:g})",
                    file=file,
                    row=_rownum(frame, i),
                    column=alt,
                )
            frame[canon] = np.where(np.isnan(canon_values), converted, canon_values)
        else:
            frame[canon] = converted
        frame = frame.drop(columns=[alt])
    return frame


def _join_subjects(visits: pd.DataFrame, subjects: pd.DataFrame, file: str) -> pd.DataFrame:
    if S.SUBJECT not in subjects.columns:
        raise InputError(f"missing required column(s): {S.SUBJECT}", file=file)
    dup = subjects.duplicated(S.SUBJECT)
    if dup.any():
        i = subjects.index[dup.to_numpy()][0]
        raise InputError(
            f"duplicate subject {subjects.at[i, S.SUBJECT]!r}",
            file=file,
            row=_rownum(subjects, i),
            column=S.SUBJECT,
        )
    per_subject = subjects.set_index(S.SUBJECT)
    visits = visits.copy()
    for col in per_subject.columns:
        if col == ROW:
            continue
        mapped = visits[S.SUBJECT].map(per_subject[col])
        if col not in visits.columns:
            visits[col] = mapped
            continue
        both = visits[col].notna() & mapped.notna()
        differ = both & (visits[col].astype(object) != mapped.astype(object))
        if differ.any():
            i = visits.index[differ.to_numpy()][0]
            sid = visits.at[i, S.SUBJECT]
            rows = _rownum(subjects, int(np.flatnonzero(subjects[S.SUBJECT].to_numpy() == sid)[0]))
            raise InputError(
                f"conflicts with the visit table for subject {sid!r} "
                f"({mapped[i]!r} vs {visits.at[i, col]!r})",
                file=file,
                row=rows,
                column=col,
            )
        visits[col] = visits[col].where(visits[col].notna(), mapped)
    return visits


def load_events(
    source: TableSource, visits: pd.DataFrame, *, ranges: Ranges = RANGES
) -> tuple[pd.DataFrame, list[Issue]]:
    """Load the events table: subject_id, date (or study_day), descriptor, attributed_to_sle."""
    frame, name = read_table(source, "events")
    frame = _number_rows(frame)
    warnings: list[Issue] = []
    missing = [c for c in (S.SUBJECT, "descriptor") if c not in frame.columns]
    time_col = (
        "date" if "date" in frame.columns else "study_day" if "study_day" in frame.columns else None
    )
    if time_col is None:
        missing.append("date or study_day")
    if missing:
        raise InputError(f"missing required column(s): {', '.join(missing)}", file=name)
    frame[S.SUBJECT] = _text(frame[S.SUBJECT])
    frame["descriptor"] = _text(frame["descriptor"]).map(lambda v: None if v is None else v.lower())
    for col in (S.SUBJECT, "descriptor", time_col):
        empty = frame[col].isna()
        if empty.any():
            i = frame.index[empty.to_numpy()][0]
            raise InputError("empty value", file=name, row=_rownum(frame, i), column=col)
    unknown = ~frame["descriptor"].isin(sorted(S.EVENT_DESCRIPTORS))
    if unknown.any():
        i = frame.index[unknown.to_numpy()][0]
        raise InputError(
            f"unknown descriptor {frame.at[i, 'descriptor']!r}",
            file=name,
            row=_rownum(frame, i),
            column="descriptor",
        )
    if time_col == "date":
        _coerce_date(frame, "date", name)
        if S.VISIT_DATE not in visits.columns:
            raise InputError("events are dated but the visit table has no visit_date", file=name)
    else:
        _coerce_numeric(frame, "study_day", name, integer=True)
        days = frame["study_day"].to_numpy(dtype=float)
        found = ranges.first_problem(S.STUDY_DAY, days)
        if found is not None:
            i, why = found
            value = format_number(days[i])
            raise InputError(
                f"value {value}: {why}", file=name, row=_rownum(frame, i), column="study_day"
            )
        if S.STUDY_DAY not in visits.columns:
            raise InputError("events use study_day but the visit table has none", file=name)
    if "attributed_to_sle" in frame.columns:
        _coerce_bool(frame, "attributed_to_sle", name)
    else:
        frame["attributed_to_sle"] = pd.array([True] * len(frame), dtype="boolean")
        warnings.append(
            Issue("warning", "no attributed_to_sle column: all events attributed", name)
        )
    strangers = ~frame[S.SUBJECT].isin(set(visits[S.SUBJECT]))
    if strangers.any():
        i = frame.index[strangers.to_numpy()][0]
        warnings.append(
            Issue(
                "warning",
                f"{int(strangers.sum())} event(s) for subjects not in the visit table",
                name,
                _rownum(frame, i),
                S.SUBJECT,
            )
        )
    frame["_file"] = name
    return frame, warnings


def prepare_visits(
    frame: pd.DataFrame,
    file: str,
    *,
    mgmmol: str = "exact",
    numbered: bool = False,
    ranges: Ranges = RANGES,
) -> tuple[pd.DataFrame, list[Issue]]:
    """Check and coerce a raw visit table; return it with the warnings found."""
    if not numbered:
        frame = _number_rows(frame)
    warnings = raise_first_error(run_checks(frame, file, STRUCTURE_CHECKS))
    frame = coerce_types(frame, file)
    frame = convert_units(frame, file, mgmmol, ranges)
    warnings += raise_first_error(run_checks(frame, file, value_checks(ranges)))
    if len(frame) == 0:
        raise InputError("the visit table has no rows", file=file)
    frame["_file"] = file
    return frame, warnings


def load_visits(
    visits: TableSource,
    subjects: TableSource | None = None,
    events: TableSource | None = None,
    *,
    upcr_mgmmol_convention: str = "exact",
    ranges: Ranges | None = None,
    visits_name: str | None = None,
) -> VisitData:
    """Load and check a visit table, joining an optional subjects table and events table.

    Every number is checked against ``ranges`` (default: :data:`lupusim.clinical.RANGES`;
    build another with ``RANGES.override``); overridden ranges are listed in the warnings.
    ``visits_name`` names a DataFrame in messages (default ``<visits DataFrame>``).
    """
    table = RANGES if ranges is None else ranges
    frame, name = read_table(visits, "visits")
    if visits_name is not None and isinstance(visits, pd.DataFrame):
        name = visits_name
    frame, warnings = prepare_visits(frame, name, mgmmol=upcr_mgmmol_convention, ranges=table)
    sources = {"visits": name}
    if subjects is not None:
        sub, sub_name = read_table(subjects, "subjects")
        sub = _number_rows(sub)
        warnings += raise_first_error(run_checks(sub, sub_name, (check_unknown_columns,)))
        sub = coerce_types(sub, sub_name)
        sub = convert_units(sub, sub_name, upcr_mgmmol_convention, table)
        warnings += raise_first_error(run_checks(sub, sub_name, (range_check(table), check_sex)))
        frame = _join_subjects(frame, sub, sub_name)
        sources["subjects"] = sub_name
    ev = None
    if events is not None:
        ev, ev_warnings = load_events(events, frame, ranges=table)
        warnings += ev_warnings
        sources["events"] = str(ev["_file"].iat[0]) if len(ev) else "<events>"
    warnings += [Issue("warning", note) for note in table.override_notes()]
    return VisitData(
        visits=frame,
        events=ev,
        warnings=warnings,
        sources=sources,
        missing=missing_counts(frame),
        ranges_overridden=table.overridden,
    )
