"""Fuzzing ``lupusim score`` with visit, subjects and events tables (issue 13, item 3).

Each case starts from a good CSV and applies generated damage: nasty cells (non-finite
numbers, overflow, wrong types, formulas), duplicated or swapped rows (duplicate keys,
unsorted visits), unknown, dropped or duplicated columns, another text encoding, random
bytes or an empty file. Whatever the input, the command either scores it (all outputs
written, CSV cells escaped) or exits 2 with one line and leaves no output folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz._support import (
    ENCODINGS,
    FUZZ,
    assert_clean_outcome,
    assert_escaped_csv,
    nasty_cell,
    record,
    run_cli,
)
from lupusim.clinical import load_visits
from lupusim.errors import InputError

HEADER = [
    "subject_id",
    "visit",
    "study_day",
    "sex",
    "age_years",
    "creatinine_mg_dl",
    "upcr_g_per_g",
    "c3_mg_dl",
    "pga",
    "rash",
]
ROWS = [
    ["S1", "BL", "0", "F", "30", "0.8", "3.2", "70", "1.5", "true"],
    ["S1", "W12", "84", "F", "30", "0.9", "1.0", "85", "1.0", "false"],
    ["S1", "W24", "168", "F", "30", "0.8", "0.4", "95", "0.5", ""],
    ["S2", "BL", "0", "M", "52", "1.1", "2.0", "60", "2.0", "yes"],
    ["S2", "W12", "84", "M", "52", "1.2", "1.5", "", "1.6", "no"],
]
SUBJECTS = [["subject_id", "weight_kg", "race_black"], ["S1", "61", "false"], ["S2", "80", "1"]]
EVENTS = [
    ["subject_id", "study_day", "descriptor", "attributed_to_sle"],
    ["S1", "80", "rash", "true"],
    ["S2", "70", "arthritis", "false"],
]

Table = list[list[str]]


def _csv(table: Table) -> str:
    return "".join(",".join(_quote(c) for c in row) + "\n" for row in table)


def _quote(cell: str) -> str:
    if any(ch in cell for ch in ',"\n\r'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


@st.composite
def damaged(draw: st.DrawFn, table: Table) -> Table:
    """``table`` (header first) with a few generated edits."""
    rows = [list(r) for r in table]
    width = len(rows[0])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(
                ("cell", "cell", "cell", "dup_row", "swap", "unknown_col", "drop_col", "dup_col")
            )
        )
        body = len(rows) - 1
        if kind == "cell" and body:
            r = draw(st.integers(1, body))
            rows[r][draw(st.integers(0, width - 1))] = draw(nasty_cell)
        elif kind == "dup_row" and body:
            rows.append(list(rows[draw(st.integers(1, body))]))
        elif kind == "swap" and body > 1:
            i, j = draw(st.integers(1, body)), draw(st.integers(1, body))
            rows[i], rows[j] = rows[j], rows[i]
        elif kind == "unknown_col":
            name = draw(
                st.one_of(st.sampled_from(["creatinine_mmol_l", "foo", "c3_"]), st.text(max_size=8))
            )
            rows[0].append(name)
            for row in rows[1:]:
                row.append(draw(nasty_cell))
            width += 1
        elif kind == "drop_col" and width > 1:
            k = draw(st.integers(0, width - 1))
            rows = [row[:k] + row[k + 1 :] for row in rows]
            width -= 1
        elif kind == "dup_col":
            k = draw(st.integers(0, width - 1))
            rows = [[*row, row[k]] for row in rows]
            width += 1
    return rows


@st.composite
def file_bytes(draw: st.DrawFn, table: Table) -> bytes:
    """The damaged table as bytes: some encoding, or random bytes, or nothing."""
    form = draw(st.sampled_from(("text", "text", "text", "text", "random", "empty", "header")))
    if form == "random":
        return draw(st.binary(max_size=200))
    if form == "empty":
        return b""
    rows = draw(damaged(table))
    if form == "header":
        rows = rows[:1]
    encoding = draw(st.sampled_from(ENCODINGS))
    return _csv(rows).encode(encoding, errors="replace")


def _score(tmp: Path, *extra: str) -> tuple[int, str, Path]:
    out = tmp / "out"
    code, _, err = run_cli("score", str(tmp / "visits.csv"), *extra, "--out", str(out))
    assert_clean_outcome(code, err, out)
    if code == 0:
        for name in ("scores.csv", "adam.csv", "summary.json", "report.html", "manifest.json"):
            assert (out / name).is_file(), name
        assert_escaped_csv(out / "scores.csv")
        assert_escaped_csv(out / "adam.csv")
    return code, err, out


@FUZZ
@given(data=file_bytes([HEADER, *ROWS]))
def test_visit_table_fuzz(data: bytes) -> None:
    record("visit table (lupusim score)")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "visits.csv").write_bytes(data)
        _score(tmp)


@FUZZ
@given(subjects=file_bytes(SUBJECTS), events=file_bytes(EVENTS))
def test_subjects_and_events_fuzz(subjects: bytes, events: bytes) -> None:
    record("subjects + events tables (lupusim score)")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "visits.csv").write_text(_csv([HEADER, *ROWS]), encoding="utf-8")
        (tmp / "subjects.csv").write_bytes(subjects)
        (tmp / "events.csv").write_bytes(events)
        _score(tmp, "--subjects", str(tmp / "subjects.csv"), "--events", str(tmp / "events.csv"))


number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**6), 10**6),
    st.none(),
    st.booleans(),
    st.text(max_size=6),
)


@FUZZ
@given(
    columns=st.dictionaries(
        st.sampled_from(["creatinine_mg_dl", "upcr_g_per_g", "pga", "age_years", "c3_g_l", "x"]),
        st.lists(number, min_size=2, max_size=2),
        max_size=3,
    )
)
def test_dataframe_and_parquet_fuzz(columns: dict[str, list[Any]]) -> None:
    """Typed inputs (pandas, Parquet): mixed types and non-finite floats in number columns."""
    record("visit DataFrame / Parquet (load_visits)")
    frame = pd.DataFrame(
        {"subject_id": ["S1", "S1"], "visit": ["BL", "W4"], "study_day": [0, 28], **columns}
    )
    try:
        load_visits(frame)
    except InputError as exc:
        assert "\n" not in str(exc)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "visits.parquet"
        try:
            frame.to_parquet(path)
        except Exception:  # pyarrow refuses some mixed-type columns: nothing to read
            return
        try:
            load_visits(path)
        except InputError as exc:
            assert "\n" not in str(exc)
            assert str(exc).startswith(str(path))


def test_huge_table_names_the_last_row(tmp_path: Path) -> None:
    """20,000 good rows and one overflowing cell at the end: the error names that row."""
    rows = [[f"S{i}", "BL", "0", "F", "40", "0.9", "1.0", "80", "1.0", ""] for i in range(20_000)]
    rows[-1][5] = "1e400"
    path = tmp_path / "visits.csv"
    path.write_text(_csv([HEADER, *rows]), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_visits(path)
    assert str(info.value) == (
        f"{path}, row 20000, column 'creatinine_mg_dl': value 1e400: not a finite number"
    )


def test_megabytes_of_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "visits.csv"
    path.write_bytes(bytes(range(256)) * 8192)  # 2 MiB, not UTF-8
    out = tmp_path / "out"
    code, _, err = run_cli("score", str(path), "--out", str(out))
    assert_clean_outcome(code, err, out)
    assert code == 2 and "cannot read" in err
