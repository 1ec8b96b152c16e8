"""One validation layer for numbers (issue 13, item 1): finite, possible, plausible.

The four rows of the issue, through the ``lupusim`` command, give these exact lines;
the range table, its overrides and every reader (visit, subjects and events tables,
Parquet, SDTM, configuration) are checked here too.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fuzz._support import assert_clean_outcome, run_cli
from lupusim.clinical import RANGES, load_visits, read_sdtm, score_visits, to_sdtm
from lupusim.clinical import schema as S
from lupusim.clinical._ranges import (
    DOSE_MARGIN,
    format_number,
    parse_range_option,
    ranges_from_options,
    why_not_a_number,
)
from lupusim.clinical.output import load_config
from lupusim.errors import InputError

HEADER = "subject_id,visit,study_day,sex,age_years,creatinine_mg_dl,upcr_g_per_g\n"
GOOD_ROWS = ["S1,V0,0,F,30,1.0,2.0", "S1,V1,28,F,30,1.0,1.0", "S1,V2,56,F,30,0.9,0.5"]


def _table(tmp_path: Path, row2: str, name: str = "visits.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "\n".join([GOOD_ROWS[0], row2, GOOD_ROWS[2]]) + "\n")
    return path


@pytest.mark.parametrize(
    ("row2", "message"),
    [
        (
            "S1,V1,28,F,30,inf,1.0",
            "row 2, column 'creatinine_mg_dl': value inf: not a finite number",
        ),
        (
            "S1,V1,28,F,30,nan,1.0",
            "row 2, column 'creatinine_mg_dl': value nan: not a number "
            "(a missing value is an empty cell)",
        ),
        (
            "S1,V1,28,F,30,1.0,1e308",
            "row 2, column 'upcr_g_per_g': value 1e+308: outside the plausible range "
            "0-50 g/g of upcr_g_per_g (widen with --range upcr_g_per_g=LOW:HIGH)",
        ),
        (
            "S1,V1,28,F,30,1e400,1.0",
            "row 2, column 'creatinine_mg_dl': value 1e400: not a finite number",
        ),
        (
            "S1,V1,28,F,30,0.01,1.0",
            "row 2, column 'creatinine_mg_dl': value 0.01: outside the plausible range "
            "0.1-25 mg/dL of creatinine_mg_dl (widen with --range creatinine_mg_dl=LOW:HIGH)",
        ),
        (
            "S1,V1,28,F,30,NA,1.0",
            "row 2, column 'creatinine_mg_dl': expected a number, got 'NA'",
        ),
    ],
    ids=["inf", "nan-text", "1e308", "overflow", "implausible-low", "NA-text"],
)
def test_issue_rows_are_one_line_errors(tmp_path: Path, row2: str, message: str) -> None:
    path = _table(tmp_path, row2)
    out = tmp_path / "out"
    code, _, err = run_cli("score", str(path), "--out", str(out))
    assert_clean_outcome(code, err, out)
    assert code == 2
    assert err == f"lupusim: error: {path}, {message}\n"


def test_widened_range_is_used_and_reported(tmp_path: Path) -> None:
    path = _table(tmp_path, "S1,V1,28,F,30,1.0,60")
    out = tmp_path / "out"
    code, _, err = run_cli("score", str(path), "--out", str(out))
    assert code == 2 and "value 60: outside the plausible range 0-50 g/g" in err
    code, _, err = run_cli("score", str(path), "--out", str(out), "--range", "upcr_g_per_g=0:80")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ranges_overridden"] == {"upcr_g_per_g": [0.0, 80.0]}
    assert (
        "plausible range of upcr_g_per_g overridden: 0-80 g/g (default 0-50 g/g)"
        in (summary["warnings"])
    )
    scores = pd.read_csv(out / "scores.csv")
    assert scores["proteinuria_g_per_g"].tolist() == [2.0, 60.0, 0.5]


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        ("upcr_g_per_gg=0:3", "--range upcr_g_per_gg: no such range; did you mean upcr_g_per_g?"),
        ("upcr_g_per_g=-1:3", "-1 to 3 g/g goes beyond what is possible (at least 0 g/g)"),
        ("pga=0:4", "0-4 goes beyond what is possible (0-3)"),
        ("upcr_g_per_g=5:3", "low 5 is above high"),
        ("upcr_g_per_g=0:x", "'x' is not a number"),
        ("upcr_g_per_g", "expected NAME=LOW:HIGH"),
    ],
)
def test_bad_range_option(tmp_path: Path, option: str, fragment: str) -> None:
    path = _table(tmp_path, GOOD_ROWS[1])
    out = tmp_path / "out"
    code, _, err = run_cli("score", str(path), "--out", str(out), "--range", option)
    assert_clean_outcome(code, err, out)
    assert code == 2 and fragment in err, err


def test_range_option_forms() -> None:
    assert parse_range_option("creatinine_mg_dl=:30") == ("creatinine_mg_dl", (0.1, 30.0))
    assert parse_range_option("creatinine_mg_dl=0.05:") == ("creatinine_mg_dl", (0.05, 25.0))
    name, (lo, hi) = parse_range_option("upcr_g_per_g=0:inf")
    assert (name, lo, hi) == ("upcr_g_per_g", 0.0, math.inf)
    table = ranges_from_options(["upcr_g_per_g=0:inf", "age_years=0:125"])
    assert table["upcr_g_per_g"].high is None and table.why("upcr_g_per_g", 1e300) is None
    assert table.why("upcr_g_per_g", math.inf) == "not a finite number"
    assert table.overridden == {"upcr_g_per_g": (0.0, None), "age_years": (0.0, 125.0)}
    assert RANGES["upcr_g_per_g"].high == 50.0  # the default table is unchanged


def test_table_covers_every_numeric_column_with_a_source() -> None:
    for col in (*S.NUMERIC_COLUMNS, S.STUDY_DAY):
        assert col in RANGES, col
    for entry in RANGES.values():
        assert entry.source.strip(), entry.name
        lo, hi = entry.possible
        # the plausible interval lies within the possible one
        assert lo is None or (entry.low is not None and entry.low >= lo), entry.name
        assert hi is None or (entry.high is not None and entry.high <= hi), entry.name
    assert RANGES["dose_prednisone_mg_per_day"].high == 60.0 * DOSE_MARGIN
    assert RANGES["age_years"].plausible_text == "0-120 years"


def test_why_and_possible_only() -> None:
    assert RANGES.why("creatinine_mg_dl", -0.2) == (
        "negative value, impossible for creatinine_mg_dl"
    )
    assert RANGES.why("pga", 3.5) == "impossible for pga (possible: 0-3)"
    assert RANGES.why("not_in_table", 1e300) is None
    assert RANGES.why("not_in_table", -math.inf) == "not a finite number"
    simulated = RANGES.possible_only()
    assert simulated.why("creatinine_mg_dl", 40.0) is None  # implausible, possible
    assert simulated.why("creatinine_mg_dl", -1.0) is not None
    # a single value must be a number; in a column NaN is a missing cell
    assert simulated.why("creatinine_mg_dl", math.nan) == "not a finite number"
    found = RANGES.first_problem("upcr_g_per_g", np.array([np.nan, 1.0, 51.0, -1.0]))
    assert found is not None and found[0] == 2
    assert RANGES.first_problem("upcr_g_per_g", np.array([np.nan, 1.0])) is None


def test_number_texts() -> None:
    assert format_number(5000.0) == "5000"
    assert format_number(0.7) == "0.7"
    assert format_number(1e308) == "1e+308"
    assert format_number(-math.inf) == "-inf"
    assert why_not_a_number("Infinity") == "value Infinity: not a finite number"
    assert why_not_a_number("NaN").startswith("value NaN: not a number")
    assert why_not_a_number("high") == "expected a number, got 'high'"


def test_missing_values_are_counted_in_the_summary(tmp_path: Path) -> None:
    path = _table(tmp_path, "S1,V1,28,F,30,,1.0")
    result = score_visits(path)
    missing = result.summary["missing_values"]
    assert missing["creatinine_mg_dl"] == 1
    assert missing["upcr_g_per_g"] == 0
    assert "_row" not in missing


def test_alternative_unit_is_checked_after_conversion(tmp_path: Path) -> None:
    path = tmp_path / "visits.csv"
    path.write_text("subject_id,visit,study_day,creatinine_umol_l\nS1,V0,0,70\nS1,V1,28,5000\n")
    with pytest.raises(InputError) as info:
        load_visits(path)
    assert str(info.value) == (
        f"{path}, row 2, column 'creatinine_umol_l': value 5000 "
        f"(= {format_number(5000 / 88.4)} as creatinine_mg_dl): outside the plausible range "
        "0.1-25 mg/dL of creatinine_mg_dl (widen with --range creatinine_mg_dl=LOW:HIGH)"
    )


def test_subjects_and_events_numbers(tmp_path: Path) -> None:
    visits = _table(tmp_path, GOOD_ROWS[1])
    subjects = tmp_path / "subjects.csv"
    subjects.write_text("subject_id,weight_kg\nS1,-inf\n")
    with pytest.raises(InputError) as info:
        load_visits(visits, subjects)
    assert (
        str(info.value) == f"{subjects}, row 1, column 'weight_kg': value -inf: not a finite number"
    )
    events = tmp_path / "events.csv"
    events.write_text("subject_id,study_day,descriptor\nS1,99999999,rash\n")
    with pytest.raises(InputError, match="value 99999999: outside the plausible range") as info:
        load_visits(visits, events=events)
    assert (info.value.row, info.value.column) == (1, "study_day")


def test_dataframe_inf_is_an_error_and_nan_is_missing() -> None:
    frame = pd.DataFrame({"subject_id": ["S1", "S1"], "visit": ["V0", "V1"], "study_day": [0, 28]})
    data = load_visits(frame.assign(upcr_g_per_g=[1.0, np.nan]))
    assert data.missing["upcr_g_per_g"] == 1
    with pytest.raises(InputError, match=r"row 2, column 'upcr_g_per_g': value inf: not a finite"):
        load_visits(frame.assign(upcr_g_per_g=[1.0, np.inf]))


def test_parquet_nan_is_an_error_and_null_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "visits.parquet"
    base = {"subject_id": ["S1", "S1"], "visit": ["V0", "V1"], "study_day": [0, 28]}
    pq.write_table(pa.table({**base, "upcr_g_per_g": pa.array([1.0, None])}), path)
    assert load_visits(path).missing["upcr_g_per_g"] == 1
    nan = pa.array([1.0, float("nan")], from_pandas=False)
    pq.write_table(pa.table({**base, "upcr_g_per_g": nan}), path)
    with pytest.raises(InputError) as info:
        load_visits(path)
    assert str(info.value) == (
        f"{path}, row 2, column 'upcr_g_per_g': value nan: not a number "
        "(a missing value is null (NA))"
    )


def test_duplicate_and_unknown_columns(tmp_path: Path) -> None:
    path = tmp_path / "visits.csv"
    path.write_text("subject_id,visit,study_day,pga,pga\nS1,V0,0,1,1\n")
    with pytest.raises(InputError) as info:
        load_visits(path)
    assert str(info.value) == f"{path}, column 'pga': duplicate column"
    path.write_text("subject_id,visit,study_day,creatinin_mg_dl\nS1,V0,0,1\n")
    data = load_visits(path)
    assert [str(w) for w in data.warnings] == [
        f"{path}: column(s) not read by any instrument: creatinin_mg_dl"
    ]


def _sdtm(tmp_path: Path, edit: tuple[str, int, str, str]) -> Path:
    visits = pd.DataFrame(
        {
            "subject_id": ["S1", "S1"],
            "visit": ["BL", "W12"],
            "visit_date": ["2024-01-01", "2024-03-25"],
            "study_day": [1, 85],
            "sex": ["F", "F"],
            "age_years": [30, 30],
            "creatinine_mg_dl": [0.7, 0.8],
            "temperature_c": [37.0, 36.8],
            "pga": [1.5, 1.0],
        }
    )
    folder = tmp_path / "sdtm"
    folder.mkdir()
    domain, row, col, value = edit
    for name, frame in to_sdtm(visits).items():
        frame = frame.astype(object)
        if name == domain:
            frame.loc[row - 1, col] = value
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("lb", 2, "LBSTRESN", "inf"), "lb.csv, row 2, column 'LBSTRESN': value inf: not a finite"),
        (("lb", 1, "LBSTRESN", "nan"), "lb.csv, row 1, column 'LBSTRESN': value nan: not a number"),
        (
            ("lb", 1, "LBSTRESN", "700"),
            "lb.csv, row 1, column 'LBSTRESN': value 700: outside the plausible range 0.1-25 mg/dL",
        ),
        (
            ("vs", 1, "VSSTRESN", "98.6"),
            "vs.csv, row 1, column 'VSSTRESN': value 98.6: outside the plausible range 25-45 degC",
        ),
        (
            ("rs", 1, "RSSTRESN", "7"),
            "rs.csv, row 1, column 'RSSTRESN': value 7: impossible for pga",
        ),
        (("dm", 1, "AGE", "300"), "dm.csv, row 1, column 'AGE': value 300: outside the plausible"),
        (("dm", 1, "SEX", "X"), "dm.csv, row 1, column 'SEX': sex 'X' is not F, M or U"),
    ],
)
def test_sdtm_numbers_name_the_record(
    tmp_path: Path, edit: tuple[str, int, str, str], message: str
) -> None:
    folder = _sdtm(tmp_path, edit)
    with pytest.raises(InputError) as info:
        read_sdtm(folder)
    assert str(info.value).startswith(str(folder / message.split(",")[0]))
    assert message.split(", ", 1)[1] in str(info.value), str(info.value)


def test_sdtm_undamaged_reads(tmp_path: Path) -> None:
    folder = _sdtm(tmp_path, ("lb", 1, "LBSTRESN", "0.7"))
    assert read_sdtm(folder)["creatinine_mg_dl"].tolist() == [0.7, 0.8]


def test_config_numbers(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("c3_lln_default_g_l: .inf\n")
    with pytest.raises(InputError) as info:
        load_config(cfg)
    assert str(info.value) == f"{cfg}, column 'c3_lln_default_g_l': value inf: not a finite number"
    cfg.write_text("sri_k: 5\nsri_k: 6\n")
    with pytest.raises(InputError, match="duplicate key 'sri_k' at line 2"):
        load_config(cfg)
    js = tmp_path / "cfg.json"
    js.write_text('{"sri_k": 5, "sri_k": 6}')
    with pytest.raises(InputError, match="duplicate key 'sri_k'"):
        load_config(js)


def test_docs_carry_the_range_table() -> None:
    from lupusim.clinical._ranges import ranges_markdown

    docs = Path(__file__).resolve().parents[2] / "docs" / "clinical.md"
    assert ranges_markdown() in docs.read_text(encoding="utf-8")
