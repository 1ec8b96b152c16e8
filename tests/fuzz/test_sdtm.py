"""Fuzzing ``lupusim score --sdtm`` (issue 13, item 3): SDTM domains written by
``to_sdtm`` from a good visit table, then damaged cell by cell, row by row and column by
column, or re-encoded. The command scores the folder or exits 2 with one line and no
output folder."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from fuzz._support import ENCODINGS, FUZZ, assert_clean_outcome, nasty_cell, record, run_cli
from lupusim.clinical import to_sdtm

VISITS = pd.DataFrame(
    {
        "subject_id": ["S1", "S1", "S2", "S2"],
        "visit": ["BL", "W12", "BL", "W12"],
        "visit_date": ["2024-01-01", "2024-03-25", "2024-02-01", "2024-04-25"],
        "study_day": [1, 85, 1, 85],
        "sex": ["F", "F", "M", "M"],
        "age_years": [30, 30, 50, 50],
        "creatinine_mg_dl": [0.7, 0.8, 1.0, 1.5],
        "upcr_g_per_g": [3.2, 1.0, 1.0, 0.8],
        "c3_g_l": [0.5, 0.8, 1.0, 1.0],
        "c3_lln_g_l": [0.9] * 4,
        "temperature_c": [38.4, 37.0, 36.5, 36.9],
        "weight_kg": [60, 60, 80, 80],
        "pga": [1.5, 1.0, 1.0, 1.3],
        "prednisone_mg_day": [20.0, 10.0, 10.0, 10.0],
        "rash": [True, False, False, False],
    }
)
DOMAINS: dict[str, pd.DataFrame] = {
    name: frame.astype(object).where(frame.notna(), "").astype(str)
    for name, frame in to_sdtm(VISITS).items()
}


@st.composite
def damaged_domains(draw: st.DrawFn) -> dict[str, bytes]:
    """The SDTM CSV files with a few generated edits (possibly a domain removed)."""
    frames = {k: v.copy() for k, v in DOMAINS.items()}
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(sorted(frames)))
        frame = frames[name]
        kind = draw(st.sampled_from(("cell", "cell", "cell", "dup_row", "drop_col", "drop_domain")))
        if kind == "cell" and len(frame):
            r = draw(st.integers(0, len(frame) - 1))
            c = draw(st.sampled_from(list(frame.columns)))
            frame.loc[frame.index[r], c] = draw(nasty_cell)
        elif kind == "dup_row" and len(frame):
            r = draw(st.integers(0, len(frame) - 1))
            frames[name] = pd.concat([frame, frame.iloc[[r]]], ignore_index=True)
        elif kind == "drop_col":
            frames[name] = frame.drop(columns=[draw(st.sampled_from(list(frame.columns)))])
        elif kind == "drop_domain":
            del frames[name]
            if not frames:
                break
    encoding = draw(st.sampled_from(ENCODINGS))
    out = {}
    for name, frame in frames.items():
        if draw(st.integers(0, 9)) == 0:
            out[name] = draw(st.binary(max_size=100))
        else:
            out[name] = frame.to_csv(index=False).encode(encoding, errors="replace")
    return out


@FUZZ
@given(files=damaged_domains())
def test_sdtm_fuzz(files: dict[str, bytes]) -> None:
    record("SDTM domains (lupusim score --sdtm)")
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "sdtm"
        folder.mkdir()
        for name, data in files.items():
            (folder / f"{name}.csv").write_bytes(data)
        out = Path(d) / "out"
        code, _, err = run_cli("score", "--sdtm", str(folder), "--out", str(out))
        assert_clean_outcome(code, err, out)


def test_undamaged_domains_score() -> None:
    """The fuzz starting point is itself good input (else every case would fail early)."""
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "sdtm"
        folder.mkdir()
        for name, frame in DOMAINS.items():
            frame.to_csv(folder / f"{name}.csv", index=False)
        out = Path(d) / "out"
        code, _, err = run_cli("score", "--sdtm", str(folder), "--out", str(out))
        assert code == 0, err
        scores = pd.read_csv(out / "scores.csv")
        assert len(scores) == 4
