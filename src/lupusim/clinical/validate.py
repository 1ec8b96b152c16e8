"""Small composable checks of a visit table, each returning issues with a severity.

PEtab-style: every check is a function ``check(frame, file) -> list[Issue]``; the loader
runs them in order and raises the first error as an :class:`~lupusim.errors.InputError`
naming file, row and column. Warnings are collected for ``summary.json``.

Rows are numbered as data rows from 1 (the header is not a row), so "row 3" is the
fourth line of a CSV file. Every frame handled here carries that number in ``_row``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from lupusim.clinical import schema as S
from lupusim.clinical._ranges import RANGES, Ranges, format_number
from lupusim.errors import InputError

ROW = "_row"

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """One finding about an input table."""

    severity: Severity
    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None

    def to_error(self) -> InputError:
        """The issue as an exception with file, row and column."""
        return InputError(self.message, file=self.file, row=self.row, column=self.column)

    def __str__(self) -> str:
        return str(self.to_error())


Check = Callable[[pd.DataFrame, str], list[Issue]]


def raise_first_error(issues: Iterable[Issue]) -> list[Issue]:
    """Raise the first error among ``issues``; return the warnings."""
    issues = list(issues)
    for issue in issues:
        if issue.severity == "error":
            raise issue.to_error()
    return issues


def _row_of(frame: pd.DataFrame, index: object) -> int | None:
    if ROW in frame.columns:
        pos = frame.index.get_loc(index)
        return int(np.asarray(frame[ROW])[pos])
    return None


# ---------------------------------------------------------------------------------
# Structure
# ---------------------------------------------------------------------------------


def check_required_columns(frame: pd.DataFrame, file: str) -> list[Issue]:
    """subject_id, visit and one of visit_date / study_day are required (DESIGN.md)."""
    missing = [c for c in S.REQUIRED_COLUMNS if c not in frame.columns]
    if not any(c in frame.columns for c in S.TIME_COLUMNS):
        missing.append("visit_date or study_day")
    if missing:
        return [Issue("error", f"missing required column(s): {', '.join(missing)}", file)]
    return []


def check_unit_columns(frame: pd.DataFrame, file: str) -> list[Issue]:
    """A unit-carrying column must be canonical or an accepted alternative (DESIGN.md)."""
    known = set(S.NUMERIC_COLUMNS) | set(S.ALTERNATIVE_UNITS) | S.BOOLEAN_COLUMNS
    issues = []
    for col in frame.columns:
        name = str(col)
        if name in known or not name.startswith(S.UNIT_STEMS):
            continue
        issues.append(
            Issue(
                "error",
                "unknown unit column; accepted: "
                + ", ".join(sorted(c for c in known if c.startswith(name.split("_")[0] + "_"))),
                file,
                column=name,
            )
        )
    return issues


def check_duplicate_columns(frame: pd.DataFrame, file: str) -> list[Issue]:
    """A column name appears once."""
    names = [str(c) for c in frame.columns]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return [Issue("error", "duplicate column", file, column=name)]
        seen.add(name)
    return []


def check_unknown_columns(frame: pd.DataFrame, file: str) -> list[Issue]:
    """Columns no instrument reads are kept but named in a warning (a typo is not silent)."""
    unknown = [
        str(c)
        for c in frame.columns
        if str(c) not in S.KNOWN_COLUMNS and not str(c).startswith("_")
    ]
    if not unknown:
        return []
    shown = ", ".join(unknown[:10]) + (
        f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
    )
    return [Issue("warning", f"column(s) not read by any instrument: {shown}", file)]


def check_missing_ids(frame: pd.DataFrame, file: str) -> list[Issue]:
    """subject_id and visit may not be empty."""
    issues = []
    for col in S.REQUIRED_COLUMNS:
        if col not in frame.columns:
            continue
        bad = frame.index[frame[col].isna()]
        if len(bad):
            issues.append(Issue("error", "empty value", file, _row_of(frame, bad[0]), col))
    return issues


# ---------------------------------------------------------------------------------
# Values (run on a coerced frame)
# ---------------------------------------------------------------------------------


def range_check(ranges: Ranges = RANGES) -> Check:
    """A check that every numeric column is finite and within ``ranges`` (``_ranges``)."""

    def check_ranges(frame: pd.DataFrame, file: str) -> list[Issue]:
        """Non-finite, impossible (negative labs, PGA outside 0-3) or implausible values."""
        issues = []
        for col in (*S.NUMERIC_COLUMNS, S.STUDY_DAY):
            if col not in frame.columns:
                continue
            values = frame[col].to_numpy(dtype=float, na_value=np.nan)
            found = ranges.first_problem(col, values)
            if found is not None:
                i, why = found
                issues.append(
                    Issue(
                        "error",
                        f"value {format_number(values[i])}: {why}",
                        file,
                        _row_of(frame, frame.index[i]),
                        col,
                    )
                )
        return issues

    return check_ranges


check_ranges = range_check()


def check_pga_precision(frame: pd.DataFrame, file: str) -> list[Issue]:
    """PGA is recorded to two decimals at most (SPEC §5); finer values are rounded."""
    if "pga" not in frame.columns:
        return []
    values = frame["pga"].to_numpy(dtype=float, na_value=np.nan)
    ok = np.isnan(values) | (np.abs(values * 100 - np.rint(values * 100)) < 1e-6)
    if ok.all():
        return []
    i = int(np.flatnonzero(~ok)[0])
    return [
        Issue(
            "warning",
            f"PGA {values[i]!r} has more than two decimals; rounded",
            file,
            _row_of(frame, frame.index[i]),
            "pga",
        )
    ]


def check_sex(frame: pd.DataFrame, file: str) -> list[Issue]:
    """Sex is F or M (CDISC C66731 subset used by the eGFR equations)."""
    if "sex" not in frame.columns:
        return []
    sex = frame["sex"]
    bad = sex.notna() & ~sex.isin(list(S.SEXES))
    if bad.any():
        i = frame.index[bad.to_numpy()][0]
        return [Issue("error", f"sex {sex[i]!r} is not F or M", file, _row_of(frame, i), "sex")]
    return []


def check_bilag(frame: pd.DataFrame, file: str) -> list[Issue]:
    """BILAG-2004 system grades are A-E (Isenberg 2005)."""
    issues = []
    for col in S.BILAG_COLUMNS:
        if col not in frame.columns:
            continue
        values = frame[col]
        bad = values.notna() & ~values.isin(list(S.BILAG_GRADES))
        if bad.any():
            i = frame.index[bad.to_numpy()][0]
            issues.append(
                Issue(
                    "error", f"BILAG grade {values[i]!r} not in A-E", file, _row_of(frame, i), col
                )
            )
    return issues


def check_duplicates(frame: pd.DataFrame, file: str) -> list[Issue]:
    """One row per subject and visit."""
    dup = frame.duplicated([S.SUBJECT, S.VISIT], keep="first")
    if dup.any():
        i = frame.index[dup.to_numpy()][0]
        return [
            Issue(
                "error",
                f"duplicate subject-visit ({frame.at[i, S.SUBJECT]!s}, {frame.at[i, S.VISIT]!s})",
                file,
                _row_of(frame, i),
                S.VISIT,
            )
        ]
    return []


def check_time_order(frame: pd.DataFrame, file: str) -> list[Issue]:
    """Within a subject, rows are in time order: dates / study days strictly increase.

    Where both visit_date and study_day are given they must order the visits alike.
    """
    issues: list[Issue] = []
    for col in S.TIME_COLUMNS:
        if col not in frame.columns:
            continue
        t = frame[col]
        if col == S.VISIT_DATE:
            t = pd.to_datetime(t)
        prev = t.groupby(frame[S.SUBJECT], sort=False).shift(1)
        bad = t.notna() & prev.notna() & (t <= prev)
        if bad.any():
            i = frame.index[bad.to_numpy()][0]
            issues.append(
                Issue(
                    "error",
                    f"{col} out of order: {t[i]} is not after the subject's previous visit",
                    file,
                    _row_of(frame, i),
                    col,
                )
            )
            return issues
    return issues


def check_baseline_flag(frame: pd.DataFrame, file: str) -> list[Issue]:
    """At most one visit per subject is flagged baseline."""
    if S.BASELINE not in frame.columns:
        return []
    flag = frame[S.BASELINE].fillna(False).astype(bool)
    count = flag.groupby(frame[S.SUBJECT], sort=False).cumsum()
    bad = flag & (count > 1)
    if bad.any():
        i = frame.index[bad.to_numpy()][0]
        return [
            Issue(
                "error",
                "second baseline visit for this subject",
                file,
                _row_of(frame, i),
                S.BASELINE,
            )
        ]
    return []


STRUCTURE_CHECKS: tuple[Check, ...] = (
    check_duplicate_columns,
    check_required_columns,
    check_unit_columns,
    check_unknown_columns,
    check_missing_ids,
)


def value_checks(ranges: Ranges = RANGES) -> tuple[Check, ...]:
    """The checks of a coerced visit table, numbers checked against ``ranges``."""
    return (
        range_check(ranges),
        check_pga_precision,
        check_sex,
        check_bilag,
        check_duplicates,
        check_time_order,
        check_baseline_flag,
    )


VALUE_CHECKS: tuple[Check, ...] = value_checks()


def run_checks(frame: pd.DataFrame, file: str, checks: Iterable[Check]) -> list[Issue]:
    """Run ``checks`` in order, stopping after the first one that finds an error."""
    found: list[Issue] = []
    for check in checks:
        issues = check(frame, file)
        found.extend(issues)
        if any(i.severity == "error" for i in issues):
            break
    return found
