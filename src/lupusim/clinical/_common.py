"""Helpers shared by the instruments: column access, visit links, safe comparisons.

A visit table handed to an instrument is ordered by subject and time (the loader checks
it). Links between rows are integer arrays: ``prev`` (the subject's previous *observed*
visit, -1 for none) and ``base`` (the subject's baseline row, -1 for none).

Threshold comparisons of laboratory values use a relative tolerance of 1e-9 so that a
value equal to a threshold in decimal notation compares as equal despite binary
floating point (e.g. 0.6 × 0.5 vs 0.3); PGA is compared as exact integers (hundredths).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from lupusim.clinical import schema as S

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

MISSING_VISIT = "_visit_missing"
EPS = 1e-9


def num(frame: pd.DataFrame, col: str) -> FloatArray:
    """A numeric column as float array (NaN where missing or absent)."""
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    return np.asarray(pd.to_numeric(frame[col], errors="coerce"), dtype=float)


def boolean(frame: pd.DataFrame, col: str) -> tuple[BoolArray, BoolArray]:
    """A boolean column as (value, known) arrays; value is False where unknown."""
    if col not in frame.columns:
        z = np.zeros(len(frame), dtype=bool)
        return z, z.copy()
    s = frame[col]
    known = np.asarray(s.notna(), dtype=bool)
    value = np.zeros(len(s), dtype=bool)
    value[known] = np.asarray(s[known].astype(bool), dtype=bool)
    return value, known


def flag(frame: pd.DataFrame, col: str) -> BoolArray:
    """A boolean column with missing read as False."""
    return boolean(frame, col)[0]


def ge(a: Any, b: Any) -> BoolArray:
    """a >= b with a relative tolerance (NaN gives False)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.asarray(a >= b - EPS * np.maximum(np.abs(b), 1.0), dtype=bool)


def le(a: Any, b: Any) -> BoolArray:
    """a <= b with a relative tolerance (NaN gives False)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.asarray(a <= b + EPS * np.maximum(np.abs(b), 1.0), dtype=bool)


def gt(a: Any, b: Any) -> BoolArray:
    """a > b beyond the tolerance (NaN gives False)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.asarray(a > b + EPS * np.maximum(np.abs(b), 1.0), dtype=bool)


def lt(a: Any, b: Any) -> BoolArray:
    """a < b beyond the tolerance (NaN gives False)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.asarray(a < b - EPS * np.maximum(np.abs(b), 1.0), dtype=bool)


def take(values: Any, index: IntArray) -> Any:
    """values[index] with NaN / None / False where index is -1."""
    arr = np.asarray(values)
    out = arr[np.maximum(index, 0)].copy()
    missing = index < 0
    if arr.dtype == bool:
        out[missing] = False
    elif arr.dtype.kind == "f":
        out[missing] = np.nan
    else:
        out = out.astype(object)
        out[missing] = None
    return out


def observed(frame: pd.DataFrame) -> BoolArray:
    """Rows that are real visits (not rows added for a missed scheduled visit)."""
    if MISSING_VISIT not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    return ~np.asarray(frame[MISSING_VISIT].fillna(False).astype(bool), dtype=bool)


def previous_index(frame: pd.DataFrame, mask: BoolArray | None = None) -> IntArray:
    """Position of each row's previous row of the same subject among ``mask`` rows."""
    n = len(frame)
    mask = np.ones(n, dtype=bool) if mask is None else mask
    subjects = frame[S.SUBJECT].to_numpy()
    out = np.full(n, -1, dtype=np.int64)
    last: dict[Any, int] = {}
    for i in range(n):
        s = subjects[i]
        out[i] = last.get(s, -1)
        if mask[i]:
            last[s] = i
    return out


def baseline_index(frame: pd.DataFrame) -> IntArray:
    """Position of each subject's baseline row: the row flagged ``baseline`` if any,
    otherwise the subject's first observed visit (issue 3, §1)."""
    n = len(frame)
    subjects = frame[S.SUBJECT].to_numpy()
    obs = observed(frame)
    flagged = flag(frame, S.BASELINE)
    first: dict[Any, int] = {}
    marked: dict[Any, int] = {}
    for i in range(n):
        s = subjects[i]
        if obs[i] and s not in first:
            first[s] = i
        if flagged[i]:
            marked[s] = i
    return np.array([marked.get(s, first.get(s, -1)) for s in subjects], dtype=np.int64)


def after_baseline(frame: pd.DataFrame, base: IntArray) -> BoolArray:
    """Rows strictly after their subject's baseline row."""
    pos = np.arange(len(frame))
    return (base >= 0) & (pos > base)


def visit_time(frame: pd.DataFrame) -> FloatArray:
    """Time of each visit in days: study_day, else days since 1970 of visit_date."""
    if S.STUDY_DAY in frame.columns and frame[S.STUDY_DAY].notna().any():
        return num(frame, S.STUDY_DAY)
    if S.VISIT_DATE in frame.columns:
        d = pd.to_datetime(frame[S.VISIT_DATE])
        out = (d - pd.Timestamp("1970-01-01")).dt.days.astype(float)
        return np.asarray(out, dtype=float)
    return np.full(len(frame), np.nan)


def pga_hundredths(frame: pd.DataFrame, step: int = 1) -> FloatArray:
    """PGA as exact integer hundredths (float array with NaN), quantised to ``step``.

    SPEC §2.1: in doubles 0.7 − 0.4 < 0.3; integers avoid the trap.
    """
    p = num(frame, "pga")
    h = np.rint(p * 100.0)
    if step != 1:  # half-up to the coarser step (0.45 -> 0.5)
        h = np.floor(h / step + 0.5) * step
    return h
