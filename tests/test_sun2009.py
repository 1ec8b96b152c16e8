"""The sun2009 reproduction end to end (small cohorts), and its summary as a regression.

The regression file tests/data/sun2009_small_summary.json holds the simulated values of
a small run (seed 11, 12 mice per group, 3 replicates per patient). When the model or
its calibration changes on purpose, regenerate it with
``LUPUSIM_UPDATE_REGRESSION=1 pytest tests/test_sun2009.py`` and say why in the commit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from lupusim.studies.sun2009 import Sun2009Options, reproduce

REGRESSION = Path(__file__).parent / "data" / "sun2009_small_summary.json"
REQUIRED_VARIABLES = {
    "protein_24h_g",
    "creatinine_mg_dl",
    "egfr_ml_min_1_73m2",
    "anti_dsdna_iu_ml",
    "c3_g_l",
    "treg_pct_cd4",
    "th17_pct_cd4",
    "alive",
    "sledai2k",
    "urine_acr_mg_g",
    "bone_bv_tv_pct",
    "host_msc_function",
    "donor_msc_cells",
}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("sun2009") / "out"
    summary = reproduce(
        Sun2009Options(
            out_dir=out,
            seed=11,
            per_group=12,
            replicates=3,
            reinfuse_on_relapse=True,
            workers=2,
            uncertainty=3,
            uncertainty_replicates=2,
        )
    )
    return out, summary


def test_outputs_exist_with_the_contracted_columns(small_run: tuple[Path, dict[str, Any]]) -> None:
    out, summary = small_run
    for name in ("summary.json", "trajectories.parquet", "report.html", "manifest.json"):
        assert (out / name).is_file(), name
    traj = pd.read_parquet(out / "trajectories.parquet")
    assert list(traj.columns) == ["study", "group", "subject", "time_days", "variable", "value"]
    assert set(traj["variable"].astype(str)) >= REQUIRED_VARIABLES
    groups = set(traj["group"].astype(str))
    assert {
        "untreated",
        "ctx",
        "msct_week9",
        "msct_week16",
        "healthy_strain",
        "msc_restored",
        "pilot_msc",
        "pilot_is_only",
        "projection_msc",
        "projection_is_only",
        "projection_msc_reinfuse",
    } <= groups
    mouse = traj[traj["study"] == "mouse"]
    assert mouse.loc[mouse["group"] == "untreated", "time_days"].max() == 280.0
    assert mouse.loc[mouse["group"] == "ctx", "time_days"].max() == 140.0
    pilot = traj[traj["group"] == "pilot_msc"]
    assert set(pilot["subject"]) == {"P1", "P2", "P3", "P4"}
    assert pilot["time_days"].max() >= 548 + 3650
    on_disk = json.loads((out / "summary.json").read_text())
    for t in on_disk["targets"]:
        assert set(t) >= {"target_id", "simulated", "published", "agrees"}
    assert "mouse_week20_upcr_msct_vs_ctx" in on_disk["comparisons"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 11 and manifest["model_hashes"]["human"]
    assert summary["solver_failures"] == {"mouse": 0, "patients": 0}
    # the calibration fit (fitted and shown-not-fitted rows) and the H27 direction check
    shown = {r["target_id"] for r in on_disk["calibration"]}
    assert shown >= {"H13", "H15", "H16", "H17", "H20", "H21", "H22"}
    assert on_disk["calibration_checks"]["H27"]["target"] == "H27"
    assert "calibration_checks" in (out / "report.html").read_text()


def test_mouse_directions_of_the_seed(small_run: tuple[Path, dict[str, Any]]) -> None:
    _, summary = small_run
    targets = {t["target_id"]: t for t in summary["targets"]}
    for tid in ("M7", "M8", "M9", "M10", "M11", "M12", "M13", "M14"):
        assert targets[tid]["agrees"], (tid, targets[tid])
    comp = summary["comparisons"]
    for name in (
        "mouse_week20_upcr_msct_vs_ctx",
        "mouse_week20_upcr_ctx_vs_untreated",
        "mouse_week20_upcr_msc_restored_vs_untreated",
        "mouse_healthy_strain_stays_healthy",
    ):
        assert comp[name]["agrees"], (name, comp[name])


def _numbers(obj: Any, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out |= _numbers(v, f"{prefix}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out |= _numbers(v, f"{prefix}[{i}]")
    elif isinstance(obj, bool | int | float) and obj is not None:
        out[prefix] = float(obj)
    return out


def test_summary_regression(small_run: tuple[Path, dict[str, Any]]) -> None:
    out, _ = small_run
    current = json.loads((out / "summary.json").read_text())
    payload = {"targets": current["targets"], "comparisons": current["comparisons"]}
    if os.environ.get("LUPUSIM_UPDATE_REGRESSION"):
        REGRESSION.parent.mkdir(exist_ok=True)
        REGRESSION.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    expected = json.loads(REGRESSION.read_text())
    got, want = _numbers(payload), _numbers(expected)
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key


def test_projection_carries_model_intervals(small_run: tuple[Path, dict[str, Any]]) -> None:
    """--uncertainty: each projection outcome at the fit, its centred draws and the 90 %
    interval over them; shares stay shares; the report shows the table."""
    out, summary = small_run
    block = summary["projection_uncertainty"]
    assert block["draws_used"] == 3 and block["replicates_per_draw"] == 2
    assert set(block["arms"]) == {
        "projection_msc",
        "projection_is_only",
        "projection_msc_reinfuse",
    }
    moved = False
    for arm, outcomes in block["arms"].items():
        fitted = summary["comparisons"][f"{arm}_10y"]["value"]
        assert outcomes["alive_at_end"]["estimate"] == fitted["alive_at_end"]
        assert outcomes["egfr_at_end_median"]["estimate"] == fitted["egfr_at_end"]["median"]
        for name, entry in outcomes.items():
            assert len(entry["draws"]) == 3, name
            lo, hi = entry["model"]["interval90"]
            if lo is None:
                continue
            assert lo <= entry["model"]["median"] <= hi
            if name in ("reached_remission", "relapsed_after_remission", "alive_at_end"):
                assert 0.0 <= lo <= hi <= 1.0
            moved |= any(d is not None and d != entry["reference"] for d in entry["draws"])
    assert moved, "no posterior parameter set changed any projection outcome"
    html = (out / "report.html").read_text()
    assert "Projection under parameter uncertainty" in html
