"""CDISC SDTM round trip (visit table → DM/LB/VS/CM/RS → visit table) and unit mapping
(SPEC §6.3 controlled terminology)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lupusim.cli import app
from lupusim.clinical import (
    SCORE_COLUMNS,
    ScoringConfig,
    load_visits,
    read_sdtm,
    score_visits,
    to_sdtm,
)
from lupusim.errors import InputError

VISITS = pd.DataFrame(
    {
        "subject_id": ["S1", "S1", "S1", "S2", "S2"],
        "visit": ["BL", "W12", "W24", "BL", "W12"],
        "visit_date": ["2024-01-01", "2024-03-25", "2024-06-17", "2024-02-01", "2024-04-25"],
        "study_day": [1, 85, 169, 1, 85],
        "sex": ["F", "F", "F", "M", "M"],
        "age_years": [30, 30, 30, 50, 50],
        "creatinine_mg_dl": [0.7, 0.7, 0.8, 1.0, 1.5],
        "upcr_g_per_g": [3.2, 1.0, 0.4, 1.0, 0.8],
        "c3_g_l": [0.5, 0.8, 1.0, 1.0, 1.0],
        "c3_lln_g_l": [0.9] * 5,
        "anti_dsdna_iu_ml": [100, 50, 10, 5, 5],
        "anti_dsdna_uln_iu_ml": [30.0] * 5,
        "platelets_1e9_l": [90, 150, 200, 250, 250],
        "urine_rbc_per_hpf": [8, 2, 0, 0, 1],
        "temperature_c": [38.4, 37.0, 36.8, 36.5, 36.9],
        "weight_kg": [60, 60, 61, 80, 80],
        "pga": [1.5, 1.0, 0.4, 1.0, 1.3],
        "prednisone_mg_day": [20.0, 10.0, 5.0, 10.0, 10.0],
        "rescue_therapy": [False, False, False, False, True],
        "rash": [True, True, False, False, False],
        "arthritis": [True, False, False, True, True],
        "bilag_renal": ["A", "B", "C", "B", "B"],
        "bilag_musculoskeletal": ["B", "C", "D", "B", "B"],
    }
)


def _scores(table: pd.DataFrame) -> pd.DataFrame:
    cfg = ScoringConfig(impute_missing_visits=False)
    return score_visits(load_visits(table), cfg).scores[list(SCORE_COLUMNS)]


def _write(datasets: dict[str, pd.DataFrame], folder: Path, fmt: str) -> None:
    folder.mkdir()
    for name, frame in datasets.items():
        if fmt == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False)
        else:
            import pyreadstat

            # version 5 transport, the FDA submission format pandas reads
            pyreadstat.write_xport(
                frame, str(folder / f"{name}.xpt"), table_name=name.upper(), file_format_version=5
            )


@pytest.mark.parametrize("fmt", ["csv", "xpt"])
def test_round_trip_gives_identical_scores(tmp_path: Path, fmt: str) -> None:
    folder = tmp_path / "sdtm"
    _write(to_sdtm(VISITS), folder, fmt)
    back = read_sdtm(folder)
    for col in ("creatinine_mg_dl", "upcr_g_per_g", "c3_g_l", "pga", "prednisone_mg_day"):
        assert np.allclose(back[col].astype(float), VISITS[col]), col
    assert back["bilag_renal"].tolist() == VISITS["bilag_renal"].tolist()
    assert back["c3_lln_g_l"].tolist() == [0.9] * 5
    pd.testing.assert_frame_equal(_scores(back), _scores(VISITS))


def test_sdtm_cli(tmp_path: Path) -> None:
    folder = tmp_path / "sdtm"
    _write(to_sdtm(VISITS), folder, "csv")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["score", "--sdtm", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out / "scores.csv", dtype=str, keep_default_na=False)
    assert scores["sledai2k"].tolist() == [str(v) for v in _scores(VISITS)["sledai2k"]]


def _minimal(tmp_path: Path, lb_rows: list[dict]) -> Path:
    folder = tmp_path / "sdtm"
    folder.mkdir()
    pd.DataFrame({"USUBJID": ["S1"], "SEX": ["F"], "AGE": [30]}).to_csv(
        folder / "dm.csv", index=False
    )
    base = {"USUBJID": "S1", "VISITNUM": 1, "VISIT": "BL", "LBDTC": "2024-01-01"}
    pd.DataFrame([{**base, **r} for r in lb_rows]).to_csv(folder / "lb.csv", index=False)
    return folder


def test_units_are_converted(tmp_path: Path) -> None:
    # CREAT 61.88 umol/L = 0.7 mg/dL (÷ 88.4); PROTCRT 113.12 mg/mmol = 1 g/g (exact);
    # C3 90 mg/dL = 0.9 g/L; urine RBC /HPF and blood WBC 10^9/L; CH50 below LLN.
    folder = _minimal(
        tmp_path,
        [
            {"LBTESTCD": "CREAT", "LBSPEC": "SERUM", "LBSTRESN": 61.88, "LBSTRESU": "umol/L"},
            {"LBTESTCD": "PROTCRT", "LBSPEC": "URINE", "LBSTRESN": 113.12, "LBSTRESU": "mg/mmol"},
            {
                "LBTESTCD": "C3",
                "LBSPEC": "SERUM",
                "LBSTRESN": 90,
                "LBSTRESU": "mg/dL",
                "LBSTNRLO": 90,
            },
            {"LBTESTCD": "RBC", "LBSPEC": "URINE", "LBSTRESN": 12, "LBSTRESU": "/HPF"},
            {"LBTESTCD": "WBC", "LBSPEC": "BLOOD", "LBSTRESN": 2.5, "LBSTRESU": "10^9/L"},
            {
                "LBTESTCD": "CH50",
                "LBSPEC": "SERUM",
                "LBSTRESN": 20,
                "LBSTRESU": "U/mL",
                "LBSTNRLO": 30,
            },
        ],
    )
    t = read_sdtm(folder).iloc[0]
    assert t["creatinine_mg_dl"] == pytest.approx(0.7)
    assert t["upcr_g_per_g"] == pytest.approx(1.0)
    assert t["c3_g_l"] == pytest.approx(0.9) and t["c3_lln_g_l"] == pytest.approx(0.9)
    assert t["urine_rbc_per_hpf"] == 12 and t["wbc_1e9_l"] == 2.5
    assert bool(t["ch50_low"]) is True
    # rounded convention: 113.12 / 100
    t = read_sdtm(folder, upcr_mgmmol_convention="rounded").iloc[0]
    assert t["upcr_g_per_g"] == pytest.approx(1.1312)


def test_unknown_unit_and_negative_value_are_errors(tmp_path: Path) -> None:
    folder = _minimal(
        tmp_path, [{"LBTESTCD": "CREAT", "LBSPEC": "SERUM", "LBSTRESN": 1.0, "LBSTRESU": "mg/L"}]
    )
    with pytest.raises(InputError, match="unknown unit 'MG/L' for CREAT") as info:
        read_sdtm(folder)
    assert info.value.row == 1 and info.value.column == "LBSTRESU"
    assert info.value.file is not None and info.value.file.endswith("lb.csv")


def test_negative_lab_in_sdtm(tmp_path: Path) -> None:
    folder = _minimal(
        tmp_path, [{"LBTESTCD": "C4", "LBSPEC": "SERUM", "LBSTRESN": -0.1, "LBSTRESU": "g/L"}]
    )
    with pytest.raises(InputError, match="negative value") as info:
        read_sdtm(folder)
    assert info.value.column == "LBSTRESN"


def test_missing_dm_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "sdtm").mkdir()
    with pytest.raises(InputError, match="no DM dataset"):
        read_sdtm(tmp_path / "sdtm")
