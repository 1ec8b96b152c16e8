"""``lupusim score``: outputs, exact column names, configuration, atomic failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lupusim.cli import app

HEADER = (
    "subject_id,visit,visit_date,sex,age_years,creatinine_mg_dl,upcr_g_per_g,pga,"
    "prednisone_mg_day,arthritis_joints,rash,c3_g_l,anti_dsdna_iu_ml,anti_dsdna_uln_iu_ml,"
    "rescue_therapy\n"
)
VISITS = (
    HEADER
    + """S1,BL,2024-01-01,F,30,0.7,3.2,1.5,20,3,true,0.5,100,30,
S1,W12,2024-03-25,F,30,0.7,1.0,1.0,10,0,true,0.8,50,30,
S1,W24,2024-06-17,F,30,0.8,0.4,0.4,5,0,false,1.0,10,30,
S2,BL,2024-02-01,M,50,1.0,1.0,1.0,10,2,,1.0,5,30,
S2,W12,2024-04-25,M,50,1.5,0.8,1.3,10,2,,1.0,5,30,true
"""
)

# the columns issue 3 names, exactly
REQUIRED = [
    "subject_id",
    "visit",
    "study_day",
    "sledai2k",
    "selena_sledai",
    "clinical_sledai",
    "egfr_ckd_epi_2021",
    "renal_kdigo",
    "renal_acr_2006",
    "renal_eular_2019",
    "renal_alms",
    "renal_access",
    "renal_deng_2017",
    "bliss_ln_perr",
    "bliss_ln_crr",
    "aurora_crr",
    "sri4",
    "sri5",
    "sri6",
    "sri7",
    "sri8",
    "bicla",
    "lldas",
    "doris",
    "flare_sfi",
]

runner = CliRunner()


@pytest.fixture
def visits(tmp_path: Path) -> Path:
    path = tmp_path / "visits.csv"
    path.write_text(VISITS)
    return path


def test_score_writes_all_outputs(visits: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["score", str(visits), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "adam.csv",
        "manifest.json",
        "report.html",
        "scores.csv",
        "summary.json",
    ]
    scores = pd.read_csv(out / "scores.csv", dtype=str, keep_default_na=False)
    for col in REQUIRED:
        assert col in scores.columns, col
    assert len(scores) == 5
    s1 = scores[scores["subject_id"] == "S1"]
    # hand-worked (see test_sledai): BL 14 = arthritis 4 + rash 2 + proteinuria 4 + C3 2 + DNA 2
    assert s1["sledai2k"].tolist() == ["14", "10", "0"]
    assert s1["study_day"].tolist() == ["0", "84", "168"]
    for col in (
        "renal_kdigo",
        "renal_acr_2006",
        "renal_eular_2019",
        "renal_alms",
        "renal_access",
        "renal_deng_2017",
    ):
        assert set(scores[col]) <= {"complete", "partial", "none", ""}
        assert scores.loc[scores["visit"] == "BL", col].tolist() == ["", ""]
    for col in (
        "bliss_ln_perr",
        "bliss_ln_crr",
        "aurora_crr",
        "sri4",
        "sri5",
        "sri6",
        "sri7",
        "sri8",
        "bicla",
        "lldas",
        "doris",
    ):
        assert set(scores[col]) <= {"Y", "N", ""}
    assert set(scores["flare_sfi"]) <= {"none", "mild_moderate", "severe", ""}
    # S2 W12 has rescue therapy: non-responder recorded as such
    s2 = scores[(scores["subject_id"] == "S2") & (scores["visit"] == "W12")].iloc[0]
    assert (
        s2["sri4"] == "N" and s2["renal_kdigo"] == "none" and s2["nri_reason"] == "rescue_therapy"
    )

    adam = pd.read_csv(out / "adam.csv", dtype=str, keep_default_na=False)
    assert list(adam.columns[:4]) == ["USUBJID", "PARAMCD", "PARAM", "AVISIT"]
    for col in ("AVAL", "AVALC", "BASE", "CHG", "ABLFL", "DTYPE"):
        assert col in adam.columns
    s2k = adam[(adam["USUBJID"] == "S1") & (adam["PARAMCD"] == "S2KTOT")]
    assert s2k["AVAL"].astype(float).tolist() == [14, 10, 0]
    assert s2k["CHG"].tolist() == ["", "-4.0", "-14.0"]
    assert s2k["ABLFL"].tolist() == ["Y", "", ""]
    nri = adam[(adam["USUBJID"] == "S2") & (adam["PARAMCD"] == "SRI4")]
    assert nri["DTYPE"].tolist() == ["NRI"] and nri["AVALC"].tolist() == ["N"]

    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_subjects"] == 2 and summary["n_visits"] == 5
    assert summary["counts"]["sri4"] == {"N": 1, "Y": 2}
    assert any("BILAG" in w for w in summary["warnings"])
    html = (out / "report.html").read_text()
    assert "<svg" in html and "S1" in html and "SLEDAI-2K" in html and "UPCR" in html


def test_config_file_changes_rules(visits: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"arthritis_min_joints": 4, "intercurrent_event_rule": "ignore"}))
    out = tmp_path / "out"
    result = runner.invoke(app, ["score", str(visits), "--out", str(out), "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out / "scores.csv", dtype=str, keep_default_na=False)
    # 3 joints no longer score arthritis: BL 14 − 4 = 10
    assert scores["sledai2k"].iloc[0] == "10"
    assert scores["nri_reason"].iloc[4] == ""


def test_events_and_subjects_options(visits: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text("subject_id,date,descriptor,attributed_to_sle\nS2,2024-04-20,seizure,true\n")
    subjects = tmp_path / "subjects.csv"
    subjects.write_text("subject_id,weight_kg\nS1,60\nS2,80\n")
    out = tmp_path / "out"
    args = [
        "score",
        str(visits),
        "--out",
        str(out),
        "--events",
        str(events),
        "--subjects",
        str(subjects),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out / "scores.csv", dtype=str, keep_default_na=False)
    # S2 W12: arthritis 4 + proteinuria 4 + seizure 8 (5 days before the visit) = 16
    assert scores["sledai2k"].iloc[4] == "16"


def test_bad_input_leaves_no_output(visits: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(VISITS.replace("1.3,10,2", "3.5,10,2"))
    out = tmp_path / "out"
    result = runner.invoke(app, ["score", str(bad), "--out", str(out)])
    assert result.exit_code != 0
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    # an existing output folder keeps its previous files untouched
    good = runner.invoke(app, ["score", str(visits), "--out", str(out)])
    assert good.exit_code == 0
    before = (out / "scores.csv").read_text()
    runner.invoke(app, ["score", str(bad), "--out", str(out)])
    assert (out / "scores.csv").read_text() == before


def test_subprocess_exit_codes(visits: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(VISITS.replace("1.3,10,2", "3.5,10,2"))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "lupusim.cli", "score", str(bad), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0] == (
        f"lupusim: error: {bad}, row 5, column 'pga': value 3.5: impossible for pga (possible: 0-3)"
    )
    assert not out.exists()
    proc = subprocess.run(
        [sys.executable, "-m", "lupusim.cli", "score", str(visits), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "scores.csv").is_file()
