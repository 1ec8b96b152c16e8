"""SLEDAI family: hand-worked cases from Bombardier 1992, Gladman 2002, Touma 2010, Petri 2005
(SPEC §1.1-1.2). Each case states the arithmetic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lupusim.clinical import SLEDAI_DESCRIPTORS, ScoringConfig, activity_band, sledai_items
from lupusim.clinical.sledai import total

from .conftest import make_visits, score_rows

NORMAL = {
    "urine_rbc_per_hpf": 0,
    "urine_wbc_per_hpf": 0,
    "protein_24h_g": 0.1,
    "c3_g_l": 1.2,
    "c3_lln_g_l": 0.9,
    "c4_g_l": 0.3,
    "c4_lln_g_l": 0.1,
    "anti_dsdna_iu_ml": 5,
    "anti_dsdna_uln_iu_ml": 30,
    "temperature_c": 36.8,
    "platelets_1e9_l": 250,
    "wbc_1e9_l": 6.0,
}


def one(row: dict, **cfg: object) -> pd.Series:
    return score_rows([{**NORMAL, **row}], **cfg).iloc[0]


def test_weights_sum_to_105() -> None:
    # Bombardier 1992: 8×8 + 6×4 + 7×2 + 3×1 = 64 + 24 + 14 + 3 = 105 (SPEC §1.1)
    assert sum(d.weight for d in SLEDAI_DESCRIPTORS) == 105
    assert [d.weight for d in SLEDAI_DESCRIPTORS].count(8) == 8


def test_alopecia_weighs_two_not_one() -> None:
    # SPEC §1.2 "known bugs": one public calculator scores alopecia 1; Gladman 2002 says 2.
    assert one({"alopecia": True})["sledai2k"] == 2


def test_all_descriptors_present_scores_105() -> None:
    row = {d.name: True for d in SLEDAI_DESCRIPTORS}
    r = one(row)
    assert r["sledai2k"] == 105
    # clinical SLEDAI drops low complement (2) and DNA binding (2): 105 − 4 = 101
    assert r["clinical_sledai"] == 101


def test_normal_visit_scores_zero() -> None:
    r = one({})
    assert r["sledai2k"] == 0 and r["selena_sledai"] == 0 and r["clinical_sledai"] == 0


@pytest.mark.parametrize(
    ("column", "at_threshold", "beyond", "weight"),
    [
        ("urine_rbc_per_hpf", 5, 6, 4),  # haematuria ">5 RBC/hpf" (Gladman 2002)
        ("urine_wbc_per_hpf", 5, 6, 4),  # pyuria ">5 WBC/hpf"
        ("protein_24h_g", 0.5, 0.51, 4),  # proteinuria ">0.5 g/24 h"
        ("temperature_c", 38.0, 38.1, 1),  # fever ">38 °C"
        ("platelets_1e9_l", 100, 99, 1),  # thrombocytopenia "<100 ×10⁹/L"
        ("wbc_1e9_l", 3.0, 2.9, 1),  # leukopenia "<3 ×10⁹/L"
        ("c3_g_l", 0.9, 0.89, 2),  # low complement: below LLN 0.9 (equal is not below)
        ("anti_dsdna_iu_ml", 30, 31, 2),  # DNA binding: above ULN 30 (equal is not above)
    ],
)
def test_lab_thresholds_are_strict(
    column: str, at_threshold: float, beyond: float, weight: int
) -> None:
    # SPEC §1.2: thresholds are strict inequalities; the boundary value scores 0.
    assert one({column: at_threshold})["sledai2k"] == 0
    assert one({column: beyond})["sledai2k"] == weight


def test_arthritis_two_joints_2k_but_three_for_selena() -> None:
    # SPEC §1.2 row 9: SLEDAI-2K ≥2 joints; 1992/SELENA "more than 2" (≥3).
    two = one({"arthritis_joints": 2})
    assert two["sledai2k"] == 4 and two["selena_sledai"] == 0 and two["sledai_1992"] == 0
    three = one({"arthritis_joints": 3})
    assert three["sledai2k"] == 4 and three["selena_sledai"] == 4
    assert one({"arthritis_joints": 1})["sledai2k"] == 0


def test_arthritis_min_joints_knob() -> None:
    assert one({"arthritis_joints": 2}, arthritis_min_joints=3)["sledai2k"] == 0


def test_persistent_rash_and_proteinuria_2k_versus_selena() -> None:
    # Gladman 2002: 2K scores persistent rash (2) and proteinuria (4); SELENA / 1992 score
    # them only when new. Visit 2: rash persists, proteinuria 1.0 → 1.2 (rise 0.2 ≤ 0.5).
    rows = [
        {**NORMAL, "rash": True, "protein_24h_g": 1.0},
        {**NORMAL, "rash": True, "protein_24h_g": 1.2},
    ]
    s = score_rows(rows)
    # baseline: both new → 2 + 4 = 6 in every version
    assert list(s["sledai2k"]) == [6, 6]
    assert list(s["selena_sledai"]) == [6, 0]
    assert list(s["sledai_1992"]) == [6, 0]
    # SLEDAI-S2K = SELENA + 2K proteinuria: 0 + 4 = 4
    assert list(s["sledai_s2k"]) == [6, 4]


def test_selena_proteinuria_recent_increase_over_half_gram() -> None:
    # 1992/SELENA: "new onset or recent increase of >0.5 g/24 h": 1.0 → 1.6 (+0.6) scores 4,
    # 1.6 → 2.1 (+0.5, not >0.5) scores 0.
    rows = [
        {**NORMAL, "protein_24h_g": 1.0},
        {**NORMAL, "protein_24h_g": 1.6},
        {**NORMAL, "protein_24h_g": 2.1},
    ]
    assert list(score_rows(rows)["selena_sledai"]) == [4, 4, 0]


def test_recurrent_rash_scores_again_in_selena() -> None:
    # new (2), gone (0), recurrent (2)
    rows = [{**NORMAL, "rash": True}, {**NORMAL, "rash": False}, {**NORMAL, "rash": True}]
    assert list(score_rows(rows)["selena_sledai"]) == [2, 0, 2]


def test_exclusions_pyuria_infection_and_drug_cytopenia() -> None:
    # Gladman 2002: pyuria excludes infection; leukopenia and thrombocytopenia exclude drug
    # causes; 1992/SELENA thrombocytopenia has no drug exclusion (SPEC §1.2 row 23).
    assert one({"urine_wbc_per_hpf": 20, "pyuria_infection": True})["sledai2k"] == 0
    r = one({"platelets_1e9_l": 50, "wbc_1e9_l": 2.0, "cytopenia_drug": True})
    assert r["sledai2k"] == 0
    assert r["selena_sledai"] == 1  # thrombocytopenia 1, leukopenia excluded


def test_fever_sle_overrides_temperature() -> None:
    assert one({"temperature_c": 39.0, "fever_sle": False})["sledai2k"] == 0
    assert one({"temperature_c": 37.0, "fever_sle": True})["sledai2k"] == 1


def test_explicit_boolean_overrides_lab_derivation() -> None:
    # "fixed" proteinuria not attributed to activity: the boolean wins over the lab value.
    assert one({"protein_24h_g": 2.0, "proteinuria": False})["sledai2k"] == 0
    assert one({"urinary_casts": True})["sledai2k"] == 4


def test_ch50_low_counts_as_low_complement() -> None:
    assert one({"ch50_low": True})["sledai2k"] == 2


def test_selena_scleritis_counts_as_visual_disturbance() -> None:
    # SPEC §1.2 row 4 [M]: SELENA adds scleritis/episcleritis; SLEDAI-2K does not.
    r = one({"scleritis": True})
    assert r["sledai2k"] == 0 and r["selena_sledai"] == 8


def test_dsdna_farr_binding_over_25_percent_in_1992() -> None:
    r = one({"anti_dsdna_farr_pct": 30})
    assert r["sledai2k"] == 0 and r["sledai_1992"] == 2


def _events(*rows: tuple[str, str, str, bool]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["subject_id", "date", "descriptor", "attributed_to_sle"])


def test_event_window_is_inclusive_ten_days() -> None:
    # SPEC §1.1: an event on visit − 10 … visit counts (both ends inclusive).
    rows = [{**NORMAL, "visit_date": "2024-03-11"}]
    ev_in = _events(("S1", "2024-03-01", "seizure", True))  # 10 days before: counts
    ev_out = _events(("S1", "2024-02-29", "seizure", True))  # 11 days before: does not
    ev_after = _events(("S1", "2024-03-12", "seizure", True))  # after the visit: does not
    ev_unattr = _events(("S1", "2024-03-10", "seizure", False))  # not attributed
    get = lambda ev, **c: score_rows(rows, events=ev, **c)["sledai2k"].iat[0]  # noqa: E731
    assert get(ev_in) == 8
    assert get(ev_out) == 0
    assert get(ev_after) == 0
    assert get(ev_unattr) == 0
    # Touma 2010: the 30-day window takes the 11-day-old event
    assert get(ev_out, sledai_window_days=30) == 8


def test_events_by_study_day() -> None:
    rows = [{**NORMAL}, {**NORMAL}]  # study days 0 and 28
    ev = pd.DataFrame(
        {
            "subject_id": ["S1"],
            "study_day": [20],
            "descriptor": ["pleurisy"],
            "attributed_to_sle": [True],
        }
    )
    # day 20 is within 28 − 10 = 18 … 28 → pleurisy 2 at the second visit only
    assert list(score_rows(rows, events=ev)["sledai2k"]) == [0, 2]


def test_row_without_any_sledai_input_is_missing() -> None:
    frame = make_visits([{"pga": 1.0}])
    items = sledai_items(frame)
    assert np.isnan(total(items)[0])


def test_proteinuria_source_upcr_and_fallback() -> None:
    # UPCR 0.8 g/g, no 24-h value: the default (24 h, fallback on) scores proteinuria 4.
    base = {k: v for k, v in NORMAL.items() if k != "protein_24h_g"}
    assert score_rows([{**base, "upcr_g_per_g": 0.8}])["sledai2k"].iat[0] == 4
    # strict 24-h source, no fallback: nothing to score
    frame = make_visits([{**base, "upcr_g_per_g": 0.8}])
    cfg = ScoringConfig(proteinuria_fallback=False)
    assert total(sledai_items(frame, cfg))[0] == 0


def test_activity_bands() -> None:
    # SPEC §1.1: 0 none, 1-4 low, 5-10 moderate, >10 high (labelled, non-validated)
    assert [activity_band(x) for x in (0, 4, 5, 10, 11)] == [
        "none",
        "low",
        "moderate",
        "moderate",
        "high",
    ]
