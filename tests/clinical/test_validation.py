"""Bad input: one line naming file, row and column; nothing scored (issue 3, §4).

``BAD_INPUTS`` is the table of what was tried: each case edits a good CSV and names the
row (data rows from 1) and column the error must point at.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from lupusim.clinical import load_visits
from lupusim.clinical.output import load_config
from lupusim.errors import InputError

GOOD = """subject_id,visit,visit_date,study_day,sex,age_years,creatinine_mg_dl,upcr_g_per_g,pga,rash
S1,BL,2024-01-01,1,F,30,0.7,3.2,1.5,true
S1,W12,2024-03-25,85,F,30,0.7,1.0,1.0,false
S2,BL,2024-02-01,1,M,50,1.0,1.0,1.0,
S2,W12,2024-04-25,85,M,50,1.5,0.8,1.3,no
"""

Edit = Callable[[pd.DataFrame], pd.DataFrame]


def _set(row: int, col: str, value: object) -> Edit:
    def edit(f: pd.DataFrame) -> pd.DataFrame:
        f = f.copy()
        f[col] = f[col].astype(object)
        f.loc[row - 1, col] = value
        return f

    return edit


def _add(col: str, values: list[object]) -> Edit:
    return lambda f: f.assign(**{col: values})


def _drop(col: str) -> Edit:
    return lambda f: f.drop(columns=[col])


# (case, edit, message fragment, row, column)
BAD_INPUTS: list[tuple[str, Edit, str, int | None, str | None]] = [
    (
        "missing subject_id",
        _drop("subject_id"),
        "missing required column(s): subject_id",
        None,
        None,
    ),
    (
        "missing time columns",
        lambda f: f.drop(columns=["visit_date", "study_day"]),
        "visit_date or study_day",
        None,
        None,
    ),
    ("empty subject id", _set(2, "subject_id", ""), "empty value", 2, "subject_id"),
    (
        "text in a number column",
        _set(3, "creatinine_mg_dl", "high"),
        "expected a number",
        3,
        "creatinine_mg_dl",
    ),
    ("bad boolean", _set(2, "rash", "maybe"), "expected true/false", 2, "rash"),
    ("bad date", _set(4, "visit_date", "25/04/2024"), "ISO 8601", 4, "visit_date"),
    ("non-integer study day", _set(2, "study_day", "85.5"), "expected an integer", 2, "study_day"),
    (
        "negative creatinine",
        _set(3, "creatinine_mg_dl", "-0.2"),
        "negative value",
        3,
        "creatinine_mg_dl",
    ),
    ("negative UPCR", _set(1, "upcr_g_per_g", "-1"), "negative value", 1, "upcr_g_per_g"),
    (
        "PGA above 3",
        _set(4, "pga", "3.5"),
        "value 3.5: impossible for pga (possible: 0-3)",
        4,
        "pga",
    ),
    ("PGA below 0", _set(1, "pga", "-0.1"), "value -0.1: negative value", 1, "pga"),
    ("duplicate subject-visit", _set(2, "visit", "BL"), "duplicate subject-visit", 2, "visit"),
    (
        "unknown unit column",
        _add("creatinine_mmol_l", ["0.06", "", "", ""]),
        "unknown unit column",
        None,
        "creatinine_mmol_l",
    ),
    (
        "conflicting unit columns",
        _add("creatinine_umol_l", ["61.88", "200", "", ""]),
        "conflicting unit columns",
        2,
        "creatinine_umol_l",
    ),
    ("dates out of order", _set(2, "visit_date", "2023-12-01"), "out of order", 2, "visit_date"),
    ("study days out of order", _set(4, "study_day", "0"), "out of order", 4, "study_day"),
    ("bad sex", _set(3, "sex", "X"), "is not F or M", 3, "sex"),
    ("bad BILAG grade", _add("bilag_renal", ["A", "F", "", ""]), "not in A-E", 2, "bilag_renal"),
    (
        "second baseline",
        _add("baseline", ["true", "true", "", ""]),
        "second baseline",
        2,
        "baseline",
    ),
    (
        "negative alternative unit",
        _add("c3_mg_dl", ["-5", "", "", ""]),
        "negative value",
        1,
        "c3_mg_dl",
    ),
]


def _write(tmp_path: Path, frame: pd.DataFrame, name: str = "visits.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def good(tmp_path: Path) -> pd.DataFrame:
    path = tmp_path / "good.csv"
    path.write_text(GOOD)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_good_table_loads(good: pd.DataFrame, tmp_path: Path) -> None:
    data = load_visits(_write(tmp_path, good))
    assert len(data.visits) == 4
    assert data.visits["rash"].tolist()[:2] == [True, False]


@pytest.mark.parametrize(
    ("case", "edit", "fragment", "row", "column"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_names_file_row_column(
    good: pd.DataFrame,
    tmp_path: Path,
    case: str,
    edit: Edit,
    fragment: str,
    row: int | None,
    column: str | None,
) -> None:
    path = _write(tmp_path, edit(good))
    with pytest.raises(InputError) as info:
        load_visits(path)
    err = info.value
    message = str(err)
    assert fragment in message, case
    assert "\n" not in message
    assert err.file == str(path)
    assert message.startswith(str(path))
    assert err.row == row
    assert err.column == column


def test_subjects_table_conflict_and_duplicates(good: pd.DataFrame, tmp_path: Path) -> None:
    visits = _write(tmp_path, good)
    subjects = tmp_path / "subjects.csv"
    subjects.write_text("subject_id,sex,weight_kg\nS1,F,60\nS2,F,70\n")
    with pytest.raises(InputError, match="conflicts with the visit table") as info:
        load_visits(visits, subjects)
    assert info.value.row == 2 and info.value.column == "sex"
    subjects.write_text("subject_id,weight_kg\nS1,60\nS1,61\n")
    with pytest.raises(InputError, match="duplicate subject") as info:
        load_visits(visits, subjects)
    assert info.value.row == 2
    subjects.write_text("subject_id,weight_kg\nS1,60\nS2,-70\n")
    with pytest.raises(InputError, match="negative value") as info:
        load_visits(visits, subjects)
    assert info.value.column == "weight_kg"


def test_subjects_table_joins(good: pd.DataFrame, tmp_path: Path) -> None:
    subjects = tmp_path / "subjects.csv"
    subjects.write_text("subject_id,weight_kg,egfr_preflare_ml_min_1_73m2\nS1,60,95\nS2,80,70\n")
    data = load_visits(_write(tmp_path, good), subjects)
    assert data.visits["weight_kg"].tolist() == [60, 60, 80, 80]


def test_events_table_errors(good: pd.DataFrame, tmp_path: Path) -> None:
    visits = _write(tmp_path, good)
    events = tmp_path / "events.csv"
    events.write_text("subject_id,date,descriptor,attributed_to_sle\nS1,2024-01-01,sneezing,true\n")
    with pytest.raises(InputError, match="unknown descriptor") as info:
        load_visits(visits, events=events)
    assert (info.value.row, info.value.column) == (1, "descriptor")
    events.write_text("subject_id,descriptor\nS1,rash\n")
    with pytest.raises(InputError, match="date or study_day"):
        load_visits(visits, events=events)
    events.write_text("subject_id,date,descriptor\nS1,yesterday,rash\n")
    with pytest.raises(InputError, match="ISO 8601"):
        load_visits(visits, events=events)


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_visits(tmp_path / "nope.csv")
    odd = tmp_path / "visits.xlsx"
    odd.write_text("x")
    with pytest.raises(InputError, match="unsupported file type"):
        load_visits(odd)


def test_parquet_input(good: pd.DataFrame, tmp_path: Path) -> None:
    frame = good.replace("", None)
    frame["pga"] = frame["pga"].astype(float)
    frame["study_day"] = frame["study_day"].astype(int)
    path = tmp_path / "visits.parquet"
    frame.to_parquet(path)
    assert len(load_visits(path).visits) == 4
    frame.loc[1, "pga"] = 3.5
    frame.to_parquet(path)
    with pytest.raises(InputError, match=r"value 3\.5: impossible for pga") as info:
        load_visits(path)
    assert info.value.row == 2


def test_bad_config(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("sledai_window_days: 30\nsri_k: 5\n")
    assert load_config(cfg).sledai_window_days == 30
    cfg.write_text("sledai_windw_days: 30\n")
    with pytest.raises(InputError) as info:
        load_config(cfg)
    assert info.value.column == "sledai_windw_days"
    cfg.write_text("sledai_version: SLEDAI-3K\n")
    with pytest.raises(InputError):
        load_config(cfg)
    cfg.write_text("[1, 2")
    with pytest.raises(InputError, match="cannot parse"):
        load_config(cfg)
