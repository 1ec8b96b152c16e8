"""Safe tabular outputs (issue 13, item 2): CSV cells a spreadsheet would execute are
escaped with a leading single quote (OWASP); numbers stay numbers."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from lupusim.clinical import score_visits, write_outputs
from lupusim.safe_csv import DANGEROUS_FIRST, escape_cell, escape_frame, is_formula, write_csv


def _written(frame: pd.DataFrame, **options: object) -> pd.DataFrame:
    buffer = io.StringIO()
    write_csv(frame, buffer, **options)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype=str, keep_default_na=False, sep=str(options.get("sep", ",")))


def test_owasp_first_characters_are_escaped() -> None:
    frame = pd.DataFrame(
        {
            "subject_id": ['=HYPERLINK("x")', "+cmd", "-x", "@SUM(A1)", "\tA", "\rB", "S1", "-1.5"],
            "value": [-1.5, 2.0, -3.0, 4.0, 5.0, 6.0, 7.0, -8.0],
            "count": np.arange(-4, 4),
        }
    )
    out = _written(frame)
    assert out["subject_id"].tolist() == [
        '\'=HYPERLINK("x")',
        "'+cmd",
        "'-x",
        "'@SUM(A1)",
        "'\tA",
        "'\rB",
        "S1",
        "-1.5",  # a text cell that is a plain number is read by a spreadsheet as that number
    ]
    assert out["value"].tolist() == ["-1.5", "2.0", "-3.0", "4.0", "5.0", "6.0", "7.0", "-8.0"]
    assert out["count"].tolist() == [str(i) for i in range(-4, 4)]


def test_headers_categories_and_string_dtype() -> None:
    frame = pd.DataFrame({"=a": pd.Categorical(["-b", "c"]), "s": pd.array(["@x", None], "string")})
    escaped = escape_frame(frame)
    assert list(escaped.columns) == ["'=a", "s"]
    assert escaped["'=a"].tolist() == ["'-b", "c"]
    assert escaped["s"].iloc[0] == "'@x" and pd.isna(escaped["s"].iloc[1])
    assert frame["s"].iloc[0] == "@x"  # the input frame is left as it was


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(st.text(max_size=8), min_size=1, max_size=6),
    numbers=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=6),
)
def test_escaping_is_complete_and_reversible(text: list[str], numbers: list[float]) -> None:
    n = min(len(text), len(numbers))
    frame = pd.DataFrame({"t": text[:n], "x": numbers[:n]})
    escaped = escape_frame(frame)
    for before, after in zip(frame["t"], escaped["t"], strict=True):
        assert not is_formula(after)
        if is_formula(before):
            assert after == "'" + before
        else:
            assert after == before
    assert escaped["x"].tolist() == frame["x"].tolist()  # numbers are never touched
    assert escape_cell(1.5) == 1.5 and escape_cell(None) is None


def test_scores_and_adam_escape_subject_ids(tmp_path: Path) -> None:
    visits = tmp_path / "visits.csv"
    visits.write_text(
        "subject_id,visit,study_day,sex,age_years,creatinine_mg_dl,upcr_g_per_g\n"
        '"=HYPERLINK(""x"")",V0,0,F,30,1.0,2.0\n'
        '"=HYPERLINK(""x"")",V1,28,F,30,1.0,1.0\n'
        "+cmd,V0,0,F,30,0.9,0.5\n"
    )
    out = write_outputs(score_visits(visits), tmp_path / "out")
    for name, col in (("scores.csv", "subject_id"), ("adam.csv", "USUBJID")):
        table = pd.read_csv(out / name, dtype=str, keep_default_na=False)
        assert set(table[col]) == {'\'=HYPERLINK("x")', "'+cmd"}, name
        for c in table.columns:
            assert not any(is_formula(v) for v in table[c]), (name, c)
    raw = (out / "scores.csv").read_text()
    assert raw.splitlines()[1].startswith('"\'=HYPERLINK(""x"")",V0,0,')
    scores = pd.read_csv(out / "scores.csv")
    assert pd.api.types.is_float_dtype(scores["egfr_ckd_epi_2021"])  # numbers stay numbers


def test_tsv_too() -> None:
    out = _written(pd.DataFrame({"a": ["-x", "y"], "b": [-1.0, 2.0]}), sep="\t")
    assert out["a"].tolist() == ["'-x", "y"] and out["b"].tolist() == ["-1.0", "2.0"]
    assert "\t" in DANGEROUS_FIRST
