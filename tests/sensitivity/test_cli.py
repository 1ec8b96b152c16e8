"""``lupusim sensitivity``: a tiny end-to-end run and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lupusim.errors import LupusimError
from lupusim.sensitivity import INDEX_COLUMNS, SensitivityOptions, run_sensitivity

ROOT = Path(__file__).resolve().parents[2]
ALMS = ROOT / "examples" / "trials" / "alms.yaml"
FILES = (
    "indices.parquet",
    "indices.csv",
    "evaluations.parquet",
    "sensitivity.png",
    "report.html",
    "summary.json",
    "manifest.json",
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lupusim.cli", "sensitivity", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_tiny_morris_run_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "morris"
    res = _run(
        str(ALMS),
        "--endpoint",
        "response_week24",
        "--out",
        str(out),
        "--parameters",
        "glucocorticoid_half_effect,antimetabolite_b_kill",
        "--trajectories",
        "2",
        "--subjects",
        "10",
        "--no-progress",
    )
    assert res.returncode == 0, res.stderr
    for name in FILES:
        assert (out / name).is_file(), name
    table = pd.read_parquet(out / "indices.parquet")
    assert tuple(table.columns) == INDEX_COLUMNS
    assert sorted(table["name"]) == ["antimetabolite_b_kill", "glucocorticoid_half_effect"]
    assert table["mu_star"].notna().all() and table["ST"].isna().all()
    assert list(table["morris_rank"]) == [1, 2]
    csv = pd.read_csv(out / "indices.csv")
    assert tuple(csv.columns) == INDEX_COLUMNS and len(csv) == 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["evaluations"]["total"] == 1 + 2 * 3
    assert summary["settings"]["seed"] == 2009  # the protocol's
    assert summary["settings"]["subjects"] == 10
    assert summary["output"]["arm"] == "mycophenolate"
    assert "Common random numbers" in summary["common_random_numbers"]
    assert summary["settings"]["population"] == "fixed"
    assert summary["factors"][0]["range_source"] == "preset value ×/÷ 2"
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "glucocorticoid_half_effect" in html
    assert (out / "sensitivity.png").read_bytes()[:4] == b"\x89PNG"


def test_tiny_sobol_contrast_of_groups(tmp_path: Path) -> None:
    summary = run_sensitivity(
        SensitivityOptions(
            protocol=ALMS,
            out=tmp_path / "sobol",
            endpoint="response_week24",
            contrast="mycophenolate-iv_cyclophosphamide",
            method="sobol",
            groups=("msc", "drug_effects"),
            samples=2,
            subjects=6,
            population="rebuild",
            progress=False,
        )
    )
    assert summary["evaluations"]["sobol"] == 2 * (2 + 2)
    assert summary["groups"]["msc"]["members"]
    table = pd.read_parquet(tmp_path / "sobol" / "indices.parquet")
    assert list(table["kind"]) == ["group", "group"]
    assert table["ST"].notna().all() and table["mu_star"].isna().all()
    assert summary["output"]["minus"] == "iv_cyclophosphamide"
    assert summary["settings"]["population"] == "rebuild"


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    res = _run(str(ALMS), "--out", str(tmp_path / "x"), "--endpoint", "nope")
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, res.stderr
    assert lines == [
        "lupusim: error: --endpoint: unknown endpoint 'nope' of protocol alms; known: "
        "response_week24, complete_remission_week24, serious_infections, time_to_death, "
        "cumulative_prednisone"
    ]
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ({"parameters": ("k_b_loss", "nope")}, r"unknown parameter\(s\) nope; known: "),
        ({"arm": "placebo"}, r"unknown arm 'placebo' of protocol alms; known: mycophenolate, "),
        ({"contrast": "a-b"}, r"--contrast: expected ARM_A-ARM_B .*arms: mycophenolate, "),
        ({"groups": ("kidneys",)}, r"unknown group\(s\) kidneys; known: msc, "),
    ],
)
def test_unknown_names_are_errors_naming_the_choices(
    tmp_path: Path, option: dict[str, object], expected: str
) -> None:
    opts = SensitivityOptions(protocol=ALMS, out=tmp_path / "z", progress=False, **option)  # type: ignore[arg-type]
    with pytest.raises(LupusimError, match=expected) as err:
        run_sensitivity(opts)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "z").exists()


def test_option_errors_before_any_simulation(tmp_path: Path) -> None:
    base = {"protocol": ALMS, "out": tmp_path / "y", "progress": False}
    with pytest.raises(LupusimError, match="unknown method"):
        run_sensitivity(SensitivityOptions(**base, method="fast"))  # type: ignore[arg-type]
    with pytest.raises(LupusimError, match="power of 2"):
        run_sensitivity(SensitivityOptions(**base, method="sobol", samples=60))
    with pytest.raises(LupusimError, match="unknown 'new'; known: fixed, rebuild"):
        run_sensitivity(SensitivityOptions(**base, population="new"))  # type: ignore[arg-type]
    with pytest.raises(LupusimError, match="cannot read protocol"):
        run_sensitivity(SensitivityOptions(**{**base, "protocol": tmp_path / "none.yaml"}))
    assert not (tmp_path / "y").exists()
