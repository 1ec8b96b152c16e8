"""Human MSC calibration of the Sun 2009 reproduction: the endpoint definitions built
from simulated visits (H16, H17, H20–H22), the 24-month rows (H13, H15), the record of
rows shown but not fitted, and the H27 direction check."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from lupusim.model import get_preset
from lupusim.model._calibration_doc import render_calibration_markdown
from lupusim.model._presets import installed_human_calibration
from lupusim.studies.sun2009 import _calibration as cal

#: Human rows of targets.csv that the MSC problem computes (H18, H23, H25 are the
#: baselines of the H19, H24, H26 ratios; H27 is a direction check).
MSC_ROWS = {f"H{i}" for i in range(1, 27)} - {"H18", "H23", "H25"}


def _payload() -> dict:
    path = resources.files("lupusim.model").joinpath("data/calibration.json")
    return json.loads(path.read_text())


def test_kdigo_2012_remission_needs_protein_and_creatinine() -> None:
    protein = np.array(
        [
            [2.0, 0.4, 0.4],  # CR
            [2.0, 0.9, 1.0],  # PR (≤ 50 %), not CR
            [4.0, 1.9, 3.1],  # nephrotic: PR at visit 1 (< 3), not at visit 2 (≥ 3, > 50 %)
            [2.0, 0.4, 0.4],  # protein CR/PR but creatinine up 30 %
            [2.0, 1.5, 1.1],  # < 50 % reduction
        ]
    )
    creat = np.array(
        [
            [1.0, 1.0, 0.9],
            [1.0, 1.2, 1.25],
            [1.0, 1.0, 1.0],
            [1.0, 1.3, 1.3],
            [1.0, 1.0, 1.0],
        ]
    )
    got = cal.kdigo_2012_remission(protein, creat)
    assert not got[:, 0].any()  # never at baseline
    assert got.tolist() == [
        [False, True, True],
        [False, True, True],
        [False, True, False],
        [False, False, False],
        [False, False, False],
    ]
    # CR needs creatinine back to baseline: 0.4 g with creatinine 1.2 × baseline is PR only
    assert cal.kdigo_2012_remission(np.array([[1.0, 0.4]]), np.array([[1.0, 1.2]]))[0, 1]
    assert not cal.kdigo_2012_remission(np.array([[1.0, 0.4]]), np.array([[1.0, 1.3]]))[0, 1]


def test_aurora2_renal_flare_thresholds_follow_the_best_response() -> None:
    protein = np.array(
        [
            [2.0, 0.1, 1.1],  # best < 0.2 → flare above 1
            [2.0, 0.5, 1.9],  # best 0.2-1.0 → needs > 2: no flare
            [2.0, 0.5, 2.1],  # → flare
            [6.0, 2.5, 4.0],  # best > 1 → doubling (5.0) needed: no flare
            [6.0, 2.5, 5.1],  # → flare
            [2.0, 1.5, 3.0],  # never remitted → no flare
        ]
    )
    remission = np.array(
        [
            [False, True, False],
            [False, True, False],
            [False, True, False],
            [False, True, False],
            [False, True, False],
            [False, False, False],
        ]
    )
    got = cal.renal_flare_after_remission(protein, remission)
    assert got.tolist() == [True, False, True, False, True, False]


def test_system_activity_ignores_serology_and_groups_descriptors() -> None:
    quiet = {
        "protein_24h_g": np.array([0.2]),
        "urine_rbc_per_hpf": np.array([1.0]),
        "urine_wbc_per_hpf": np.array([1.0]),
        "renal_activity": np.array([0.1]),
        "skin_activity": np.array([0.0]),
        "joint_activity": np.array([0.0]),
        "cns_activity": np.array([0.0]),
        "inflammation": np.array([0.5]),
        "anti_dsdna_iu_ml": np.array([500.0]),  # serology: not an organ system
        "platelets_1e9_l": np.array([250.0]),
        "wbc_1e9_l": np.array([6.0]),
        "c3_g_l": np.array([0.3]),
        "c4_g_l": np.array([0.05]),
    }
    active = cal.system_activity(quiet)
    assert sum(int(a[0]) for a in active.values()) == 0
    busy = {
        **quiet,
        "protein_24h_g": np.array([0.8]),
        "urine_rbc_per_hpf": np.array([20.0]),
        "joint_activity": np.array([0.9]),
    }
    active = cal.system_activity(busy)
    # proteinuria and haematuria are one (renal) system; arthritis another
    assert {k for k, v in active.items() if v[0]} == {"renal", "musculoskeletal"}


def test_every_msc_definition_is_a_stated_assumption() -> None:
    for tid, text in cal.MSC_DEFINITIONS.items():
        assert text.startswith("assumption: "), tid
    for tid in ("H13", "H15", "H16", "H17", "H20", "H21", "H22"):
        assert tid in cal.MSC_DEFINITIONS
    assert cal.CARRION_DEFINITION.startswith("assumption: ")
    assert set(cal.MSC_UNFITTED) <= set(cal.MSC_DEFINITIONS)


@pytest.fixture(scope="module")
def small_msc_residuals() -> dict[str, cal.Residual]:
    # The script's MSC problem at the point its own fit wrote (calibration.json), not at
    # the installed joint fit of `lupusim calibrate human`, which the preset now carries.
    from lupusim.model import _presets

    shipped = {**_presets._COMMON, **_presets._HUMAN}
    legacy = {
        **{k: v.value for k, v in shipped.items() if k in get_preset("human").values},
        **_payload()["presets"]["human"]["values"],
    }
    problem = cal.human_msc_problem(legacy, n=600, seed=4, include_unfitted=True)
    values = {p.name: legacy[p.name] for p in problem.free}
    return {r.target_id: r for r in problem.residuals(values)}


def test_msc_problem_computes_every_row_including_the_24_month_ones(
    small_msc_residuals: dict[str, cal.Residual],
) -> None:
    assert set(small_msc_residuals) == MSC_ROWS
    res = small_msc_residuals
    for tid in ("H11", "H13", "H14", "H15", "H16", "H17", "H20", "H21", "H22"):
        assert 0.0 <= res[tid].simulated <= 1.0, tid
    # relapse within 24 months counts every relapse within 12 months and more
    assert res["H15"].simulated >= res["H14"].simulated
    assert res["H5"].simulated == res["H14"].simulated
    # MCR and PCR are exclusive
    assert res["H20"].simulated + res["H21"].simulated <= 1.0 + 1e-12
    for tid in cal.MSC_UNFITTED:
        assert "shown, not fitted" in res[tid].description


def test_unfitted_rows_are_reported_but_left_out_of_the_loss(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(cal.MSC_UNFITTED, "H17", "a test reason")
    fitted = cal.human_msc_problem({}, n=300, seed=4)
    shown = cal.human_msc_problem({}, n=300, seed=4, include_unfitted=True)
    values = {p.name: p.initial for p in fitted.free}
    fitted_ids = {r.target_id for r in fitted.residuals(values)}
    shown_rows = {r.target_id: r for r in shown.residuals(values)}
    assert "H17" not in fitted_ids and fitted_ids | {"H17"} == set(shown_rows)
    assert "shown, not fitted: a test reason" in shown_rows["H17"].description


def test_calibration_json_shows_every_human_msc_row_fitted_or_not() -> None:
    payload = _payload()
    msc = next(p for p in payload["presets"]["human"]["problems"] if p["problem"] == "human_msc")
    fitted = {r["target_id"] for r in msc["residuals"]}
    shown = {r["target_id"] for r in msc.get("unfitted_residuals", [])}
    assert fitted | shown == MSC_ROWS
    assert not fitted & shown
    for r in msc.get("unfitted_residuals", []):
        assert r["fitted"] is False and r["reason"]
    # each calibrated MSC parameter names exactly the rows of the fit that set it: the
    # installed joint fit of `lupusim calibrate human` where there is one, else this one
    installed = installed_human_calibration()
    prov = get_preset("human").values["k_msc_recovery"].provenance
    expected = set(installed["targets"]) if installed is not None else fitted
    assert set(prov.targets) == expected  # type: ignore[union-attr]
    check = payload["checks"]["H27"]
    assert check["target"] == "H27"
    assert set(check["mean_sledai2k_change_at_14_weeks"]) == {
        "autologous_msc",
        "allogeneic_bm_msc",
        "no_msc",
    }
    text = render_calibration_markdown()
    assert "H27 direction check" in text and "### human_msc" in text


def test_autologous_msc_is_weaker_than_allogeneic() -> None:
    check = cal.carrion_autologous_check(n=300, seed=5)
    assert check["n_patients"] > 10
    auto = check["autologous_effect_vs_no_msc"]
    allo = check["allogeneic_effect_vs_no_msc"]
    assert allo < 0  # allogeneic MSC lowers SLEDAI versus no MSC at 14 weeks
    assert abs(auto) <= abs(allo)


def test_residual_record_matches_the_calibration_json_rows() -> None:
    from lupusim.calibrate import Residual

    record = Residual("H1", "mean SLEDAI", 12.0, 10.0, 2.0).as_record()
    assert record["residual"] == pytest.approx(1.0)
    logged = Residual("H19", "eGFR ratio", 2.0, 1.0, 0.5, log=True).as_record()
    assert logged["residual"] == pytest.approx(np.log(2.0) / 0.5)
    assert logged["log_scale"] is True
    shipped = _payload()["presets"]["mrl_lpr"]["problems"][0]["residuals"][0]
    assert set(record) == set(shipped)
