"""Renal flare after a response (SPEC §3.3): AURORA 2 and the LN-RV framework.

Visits are 28 days apart unless a row sets ``study_day``; proteinuria is UPCR in g/g.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from lupusim.clinical import SCORE_COLUMNS, first_renal_flare_day, score_visits
from lupusim.clinical.adam import CATEGORY_PARAMS
from lupusim.clinical.score import YN_COLUMNS

from .conftest import make_visits, score_rows

AUR = "renal_flare_aurora2"
LNRV = "renal_flare_lnrv"


def u(*values: float | None, **extra: object) -> list[dict]:
    """One subject's visits from UPCR values (None = not measured)."""
    return [{"upcr_g_per_g": v, **extra} for v in values]


def col(rows: list[dict], column: str, **cfg: object) -> list[str]:
    return list(score_rows(rows, **cfg)[column])


# --- AURORA 2 (Lupus Sci Med 2024;11(Suppl 2):A85) ----------------------------------


def test_aurora2_after_complete_response_flare_is_upcr_above_1() -> None:
    # nadir 0.15 < 0.2 → flare threshold UPCR > 1 mg/mg
    assert col(u(3.0, 0.15, 1.1), AUR) == ["", "N", "Y"]
    assert col(u(3.0, 0.15, 1.0), AUR) == ["", "N", "N"]  # 1.0 is not > 1
    # per-visit status: back below the threshold is "N" again, a new rise "Y" again
    assert col(u(3.0, 0.15, 1.1, 0.3, 1.4), AUR) == ["", "N", "Y", "N", "Y"]


def test_aurora2_after_partial_response_flare_is_upcr_above_2() -> None:
    # nadir 0.5 (in 0.2-1.0) → threshold > 2 mg/mg
    assert col(u(3.0, 0.5, 1.5), AUR) == ["", "N", "N"]
    assert col(u(3.0, 0.5, 2.5), AUR) == ["", "N", "Y"]
    assert col(u(3.0, 0.5, 2.0), AUR) == ["", "N", "N"]  # 2.0 is not > 2
    # boundaries of the reference: 0.2 belongs to 0.2-1.0, 0.19 is < 0.2
    assert col(u(3.0, 0.2, 1.5), AUR)[-1] == "N"
    assert col(u(3.0, 0.2, 2.5), AUR)[-1] == "Y"
    assert col(u(3.0, 0.19, 1.5), AUR)[-1] == "Y"
    assert col(u(3.0, 1.0, 2.1), AUR)[-1] == "Y"  # 1.0 is still a response
    assert col(u(3.0, 1.01, 5.0), AUR)[-1] == "N"  # > 1.0: no response to flare from


def test_aurora2_reference_is_the_lowest_earlier_follow_up_value() -> None:
    # best 0.1 at V1, then 0.6 at V2: the reference stays 0.1 → 1.2 is a flare
    assert col(u(3.0, 0.1, 0.6, 1.2), AUR) == ["", "N", "N", "Y"]
    # the visit's own value is not its reference: a first follow-up cannot flare
    assert col(u(0.1, 5.0), AUR) == ["", "N"]


def test_never_responders_are_no() -> None:
    rows = u(3.0, 2.5, 2.8, 6.0)
    assert col(rows, AUR) == ["", "N", "N", "N"]
    assert col(rows, LNRV) == ["", "N", "N", "N"]


def test_missing_upcr_is_empty_and_does_not_break_the_reference() -> None:
    assert col(u(3.0, 0.1, None, 1.5), AUR) == ["", "N", "", "Y"]
    assert col(u(3.0, 0.1, None, 1.5), LNRV) == ["", "N", "", "N"]
    # LN-RV: the missing visit is skipped, the two high visits around it still confirm
    assert col(u(3.0, 0.1, 0.8, None, 0.9), LNRV) == ["", "N", "N", "", "Y"]


def test_baseline_and_pre_baseline_rows_are_empty() -> None:
    # screening 0.1 is before baseline: not a response; nadir is 2.5 (> 1.0)
    rows = [
        {"upcr_g_per_g": 0.1},
        {"upcr_g_per_g": 3.0, "baseline": True},
        {"upcr_g_per_g": 2.5},
        {"upcr_g_per_g": 2.9},
    ]
    assert col(rows, AUR) == ["", "", "N", "N"]
    assert col(rows, LNRV) == ["", "", "N", "N"]


def test_aurora2_confirmation_knob() -> None:
    rows = u(3.0, 0.1, 1.5, 1.6)
    # default: the source states no confirmation, one visit suffices
    assert col(rows, AUR) == ["", "N", "Y", "Y"]
    # two_consecutive: reported at the confirming visit
    assert col(rows, AUR, aurora_flare_confirmation="two_consecutive") == ["", "N", "N", "Y"]
    unconfirmed = u(3.0, 0.1, 1.5, 0.3)
    assert col(unconfirmed, AUR, aurora_flare_confirmation="two_consecutive") == [
        "",
        "N",
        "N",
        "N",
    ]
    # a partial-response flare confirmed at the next visit (nadir 0.5, both > 2)
    rows = u(3.0, 0.5, 2.5, 2.2)
    assert col(rows, AUR, aurora_flare_confirmation="two_consecutive")[-1] == "Y"


def test_rescue_therapy_does_not_impute_a_flare_status() -> None:
    rows = u(3.0, 0.1, 1.5)
    rows[2]["rescue_therapy"] = True
    assert col(rows, AUR) == ["", "N", "Y"]  # a flare is an event, not a response (no NRI)


def test_missed_visit_row_is_empty() -> None:
    s1 = u(3.0, 0.1, 1.5, 1.6)
    s2 = u(3.0, 0.1, 1.5)  # lacks V3, held by S1 and S3: a row is added for it
    s = score_rows(s1, s2, s1, impute_missing_visits=True)
    s2_rows = s[s["subject_id"] == "S2"]
    assert list(s2_rows["visit_missing"]) == [False, False, False, True]
    assert list(s2_rows[AUR]) == ["", "N", "Y", ""]


# --- LN response variables (PMC11258879 Table 2) -------------------------------------


def test_lnrv_one_high_visit_is_not_a_flare_two_more_than_a_week_apart_are() -> None:
    # after CRR (nadir 0.1 ≤ 0.2): persistent UPCR > 0.5
    assert col(u(3.0, 0.1, 0.8), LNRV) == ["", "N", "N"]
    assert col(u(3.0, 0.1, 0.8, 0.9), LNRV) == ["", "N", "N", "Y"]  # days 56 and 84
    assert col(u(3.0, 0.1, 0.8, 0.5), LNRV) == ["", "N", "N", "N"]  # 0.5 is not > 0.5


def test_lnrv_visits_must_be_more_than_one_week_apart() -> None:
    days = [0, 28, 56, 63, 65]
    values = [3.0, 0.1, 0.8, 0.9, 0.7]
    rows = [{"upcr_g_per_g": v, "study_day": d} for v, d in zip(values, days, strict=True)]
    # 63 − 56 = 7 days is not more than one week; 65 − 56 = 9 is
    assert col(rows, LNRV) == ["", "N", "N", "N", "Y"]
    rows = rows[:4]
    assert col(rows, LNRV) == ["", "N", "N", "N"]


def test_lnrv_run_is_broken_by_a_low_visit() -> None:
    assert col(u(3.0, 0.1, 0.8, 0.4, 0.8), LNRV) == ["", "N", "N", "N", "N"]
    assert col(u(3.0, 0.1, 0.8, 0.4, 0.8, 0.8), LNRV)[-1] == "Y"


def test_lnrv_min_visits_knob() -> None:
    rows = u(3.0, 0.1, 0.8, 0.9, 1.0)
    assert col(rows, LNRV) == ["", "N", "N", "Y", "Y"]
    assert col(rows, LNRV, lnrv_flare_min_visits=3) == ["", "N", "N", "N", "Y"]


def test_lnrv_after_partial_response_needs_doubling_above_1() -> None:
    # baseline 3.0, nadir 1.2 ≤ 1.5 (≥ 50 % reduction) → PRR; criterion ≥ 2 × 1.2 and > 1
    assert col(u(3.0, 1.2, 2.5, 2.6), LNRV)[-1] == "Y"
    assert col(u(3.0, 1.2, 2.4, 2.4), LNRV)[-1] == "Y"  # 2.4 = 2 × 1.2: doubled
    assert col(u(3.0, 1.2, 2.3, 2.3), LNRV)[-1] == "N"  # not doubled
    # doubling but not above 1.0 (baseline 1.0, nadir 0.4 is PRR, not CRR)
    assert col(u(1.0, 0.4, 0.9, 0.9), LNRV)[-1] == "N"
    # nadir 1.6 > 50 % of 3.0: no response, no flare
    assert col(u(3.0, 1.6, 4.0, 4.0), LNRV)[-1] == "N"


def test_lnrv_without_baseline_proteinuria() -> None:
    # CRR (nadir ≤ 0.2) needs no baseline; partial response cannot be judged: ""
    assert col(u(None, 0.1, 0.8, 0.9), LNRV) == ["", "N", "N", "Y"]
    # (the first follow-up has no earlier response to flare from: "N" in any case)
    assert col(u(None, 1.2, 2.5, 2.6), LNRV) == ["", "N", "", ""]
    assert col(u(None, 0.1, 0.8, 0.9), AUR) == ["", "N", "N", "N"]


def test_24h_protein_is_used_where_upcr_is_missing() -> None:
    rows = [{"protein_24h_g": v} for v in (3.0, 0.1, 1.5, 1.6)]
    assert col(rows, AUR) == ["", "N", "Y", "Y"]
    assert col(rows, LNRV) == ["", "N", "N", "Y"]
    # UPCR wins where both are given
    mixed = [
        {"upcr_g_per_g": 3.0},
        {"protein_24h_g": 0.1},
        {"upcr_g_per_g": 0.9, "protein_24h_g": 1.5},
    ]
    assert col(mixed, AUR) == ["", "N", "N"]


# --- first flare and registration ------------------------------------------------------


def test_first_renal_flare_day() -> None:
    s = score_rows(
        u(3.0, 0.1, 1.5, 0.3, 1.4),  # flare at day 56 (and again at 112)
        u(3.0, 2.5, 2.8),  # never a flare
        u(3.0, 0.1, 0.8, 0.9),  # AURORA 2: none; LN-RV: day 84
    )
    aur = first_renal_flare_day(s, AUR)
    assert list(aur.index) == ["S1", "S2", "S3"]
    assert aur["S1"] == 56.0 and math.isnan(aur["S2"]) and math.isnan(aur["S3"])
    lnrv = first_renal_flare_day(s, LNRV)
    assert math.isnan(lnrv["S1"]) and lnrv["S3"] == 84.0
    with pytest.raises(KeyError):
        first_renal_flare_day(s, "renal_flare_nope")


def test_columns_are_registered_as_yn_instruments() -> None:
    for c in (AUR, LNRV):
        assert c in SCORE_COLUMNS and c in YN_COLUMNS
    from lupusim.trial import INSTRUMENT_VALUES, INSTRUMENTS

    assert INSTRUMENT_VALUES[AUR] == ("Y", "N") and LNRV in INSTRUMENTS
    codes = {c: code for c, code, _ in CATEGORY_PARAMS}
    assert codes[AUR] == "RFAUR2" and codes[LNRV] == "RFLNRV"


def test_score_visits_outputs_flare_columns_in_scores_adam_and_summary() -> None:
    result = score_visits(make_visits(u(3.0, 0.1, 1.5, 1.6)))
    assert list(result.scores[AUR]) == ["", "N", "Y", "Y"]
    adam = result.adam
    rf = adam[adam["PARAMCD"] == "RFAUR2"]
    assert list(rf["AVALC"]) == ["N", "Y", "Y"] and list(rf["AVAL"]) == [0.0, 1.0, 1.0]
    assert result.summary["counts"][AUR] == {"N": 1, "Y": 2}
    assert isinstance(result.scores, pd.DataFrame)
