"""SELENA Flare Index (Petri 2005 / Buyon 2005), SLICC/ACR Damage Index (Gladman 1996),
BILAG-2004 numeric score (Yee 2010) and FDA 2010 BILAG responses (SPEC §1.4, §2.5, §4)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lupusim.clinical import BILAG_COLUMNS, sdi

from .conftest import make_visits, score_rows

# SELENA-SLEDAI values built from descriptors (persistent items do not score in SELENA,
# so each visit uses items that are new relative to the previous one).
E_ALL = {c: "E" for c in BILAG_COLUMNS}


def two(prev: dict, now: dict, **cfg: object) -> pd.Series:
    return score_rows([{"rash": False, **prev}, {"rash": False, **now}], **cfg).iloc[1]


def test_first_visit_is_empty() -> None:
    assert score_rows([{"rash": True}])["flare_sfi"].iat[0] == ""


def test_sfi_selena_sledai_rise() -> None:
    # Mild/moderate: rise ≥ 3 to ≤ 12. 0 → 4 (pyuria, not itself an SFI manifestation):
    # +4, 4 ≤ 12 → mild_moderate. New proteinuria too, unless it is read as nephritis.
    assert two({}, {"pyuria": True})["flare_sfi"] == "mild_moderate"
    assert two({}, {"proteinuria": True})["flare_sfi"] == "mild_moderate"
    assert two({}, {"proteinuria": True}, sfi_nephritis_from_sledai=True)["flare_sfi"] == "severe"
    assert two({}, {"nephritis": True})["flare_sfi"] == "severe"
    # 0 → 2 (alopecia new): +2 < 3 → none
    assert two({}, {"alopecia": True})["flare_sfi"] == "none"
    # Severe: rise to > 12. 0 → 16 (seizure 8 + vasculitis 8) → severe (also new CNS).
    assert two({}, {"seizure": True, "vasculitis": True})["flare_sfi"] == "severe"


def test_sfi_selena_rise_to_above_12_only() -> None:
    # 0 → 14 with arthritis 4 + proteinuria 4 + haematuria 4 + alopecia 2: no severe
    # manifestation, so severe only by the SLEDAI > 12 rule (classic); the modified SFI
    # (BLISS) drops that trigger and keeps mild/moderate (rise 14 ≥ 3).
    now = {"arthritis_joints": 3, "proteinuria": True, "haematuria": True, "alopecia": True}
    r = two({}, now)
    assert r["selena_sledai"] == 14
    assert r["flare_sfi_classic"] == "severe"
    assert r["flare_sfi_modified"] == "mild_moderate"
    now = {"arthritis_joints": 3, "pyuria": True, "haematuria": True, "alopecia": True}
    r = two({}, now)
    assert r["selena_sledai"] == 14
    assert r["flare_sfi_classic"] == "severe"
    assert r["flare_sfi_modified"] == "mild_moderate"


def test_sfi_pga_rules() -> None:
    # PGA rise ≥ 1.00 to ≤ 2.50 → mild/moderate; rise to > 2.50 → severe.
    assert two({"pga": 1.0}, {"pga": 2.0})["flare_sfi"] == "mild_moderate"
    assert two({"pga": 1.0}, {"pga": 1.99})["flare_sfi"] == "none"
    assert two({"pga": 1.5}, {"pga": 2.5})["flare_sfi"] == "mild_moderate"  # 2.5 not > 2.5
    assert two({"pga": 2.0}, {"pga": 2.51})["flare_sfi"] == "severe"


def test_sfi_prednisone_rules() -> None:
    # increase not to > 0.5 mg/kg/day → mild; 60 kg: 0.5 mg/kg = 30 mg.
    w = {"weight_kg": 60.0}
    assert two({"prednisone_mg_day": 20, **w}, {"prednisone_mg_day": 30, **w})["flare_sfi"] == (
        "mild_moderate"
    )
    # 20 → 35 (> 30 mg = 0.5 mg/kg) → severe
    assert (
        two({"prednisone_mg_day": 20, **w}, {"prednisone_mg_day": 35, **w})["flare_sfi"] == "severe"
    )
    # doubling 10 → 20 (20 ≤ 30 mg) is mild by default; severe with the knob on
    r = two({"prednisone_mg_day": 10, **w}, {"prednisone_mg_day": 20, **w})
    assert r["flare_sfi"] == "mild_moderate"
    r = two(
        {"prednisone_mg_day": 10, **w}, {"prednisone_mg_day": 20, **w}, sfi_doubling_is_severe=True
    )
    assert r["flare_sfi"] == "severe"


def test_sfi_manifestations_and_drugs() -> None:
    assert two({}, {"pleurisy": True})["flare_sfi"] == "mild_moderate"  # new pleuritis
    assert two({"pleurisy": True}, {"pleurisy": True})["flare_sfi"] == "none"  # not new
    assert two({}, {"discoid_rash": True})["flare_sfi"] == "mild_moderate"
    assert two({}, {"new_nsaid_or_hcq": True})["flare_sfi"] == "mild_moderate"
    assert two({}, {"myositis": True})["flare_sfi"] == "severe"
    assert two({}, {"new_immunosuppressant": True})["flare_sfi"] == "severe"
    assert two({"platelets_1e9_l": 80}, {"platelets_1e9_l": 59})["flare_sfi"] == "severe"
    # haemolysis: Hb fall > 3 g/dL (12 → 8.9) severe; fall of 3.0 exactly is not
    assert two({"haemoglobin_g_dl": 12}, {"haemoglobin_g_dl": 8.9})["flare_sfi"] == "severe"
    assert two({"haemoglobin_g_dl": 12}, {"haemoglobin_g_dl": 9.0})["flare_sfi"] == "none"


# --- SDI -------------------------------------------------------------------------------


def test_sdi_items_and_esrd_replacing_renal_items() -> None:
    # cataract 1 + CVA twice 2 + GFR < 50 % 1 + proteinuria ≥ 3.5 g 1 = 5
    f = make_visits(
        [
            {"sdi_cataract": 1, "sdi_cva": 2, "sdi_gfr_below_50": 1, "sdi_proteinuria_3_5g": 1},
            # ESRD (3) replaces the two renal items (renal max 3): 1 + 2 + 3 = 6
            {
                "sdi_cataract": 1,
                "sdi_cva": 2,
                "sdi_gfr_below_50": 1,
                "sdi_proteinuria_3_5g": 1,
                "sdi_esrd": 3,
            },
        ]
    )
    assert list(sdi(f)) == [5, 6]


def test_sdi_never_decreases() -> None:
    # Gladman 1996: damage is permanent; a later visit recording less keeps the maximum.
    f = make_visits([{"sdi_diabetes": 1, "sdi_malignancy": 2}, {"sdi_diabetes": 1}, {}])
    assert list(sdi(f)) == [3, 3, 3]


def test_sdi_maximum_is_47() -> None:
    from lupusim.clinical import SDI_ITEMS

    row = {k: v for k, v in SDI_ITEMS.items()}
    # every item at its maximum; ESRD replaces GFR and proteinuria items: 47
    assert sdi(make_visits([row]))[0] == 47


def test_sdi_in_scores_table() -> None:
    s = score_rows([{"sdi_diabetes": 1, "rash": False}, {"sdi_diabetes": 0, "rash": False}])
    assert list(s["sdi"]) == [1, 1]


# --- BILAG -------------------------------------------------------------------------------


def test_bilag_numeric_score() -> None:
    # Yee 2010: A=12, B=8, C=1, D=E=0. A + B + C + 6 × E = 21.
    row = {**E_ALL, "bilag_renal": "A", "bilag_musculoskeletal": "B", "bilag_mucocutaneous": "C"}
    assert score_rows([{**row, "rash": False}])["bilag_numeric"].iat[0] == 21


def test_fda_2010_major_and_partial_response() -> None:
    # FDA 2010: MCR = all systems C or better at month 6 and no new A/B after; PCR = no A
    # and ≤ 1 B at month 6 with no flare. Visits at days 0, 84, 168, 252 (step 84).
    base = {**E_ALL, "bilag_renal": "A", "rash": False}
    clean = {**E_ALL, "bilag_renal": "C", "rash": False}
    one_b = {**E_ALL, "bilag_renal": "B", "rash": False}
    rows = [base, one_b, clean, clean]
    frame = make_visits(rows, step=84)
    from lupusim.clinical import ScoringConfig, score_visits

    s = score_visits(frame, ScoringConfig(impute_missing_visits=False)).scores
    assert list(s["bilag_mcr"]) == ["", "", "Y", "Y"]
    assert list(s["bilag_pcr"]) == ["", "", "N", "N"]  # major, hence not partial
    rows = [base, clean, one_b, one_b]
    s = score_visits(make_visits(rows, step=84), ScoringConfig(impute_missing_visits=False)).scores
    assert list(s["bilag_mcr"]) == ["", "", "N", "N"]
    assert list(s["bilag_pcr"]) == ["", "", "Y", "Y"]
    assert np.all(s["bilag_numeric"].notna())
