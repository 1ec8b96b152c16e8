"""SRI-k (Furie 2009), BICLA (Wallace 2014), LLDAS (Franklyn 2016), DORIS (van Vollenhoven
2021): hand-worked cases at their boundaries (SPEC §2)."""

from __future__ import annotations

import pandas as pd

from lupusim.clinical import BILAG_COLUMNS

from .conftest import score_rows

E_ALL = {c: "E" for c in BILAG_COLUMNS}


def visit(
    sledai_items: dict | None = None, pga: float = 1.0, pred: float = 5.0, **kw: object
) -> dict:
    """A visit whose SLEDAI-2K comes from the descriptor booleans given."""
    row = {"pga": pga, "prednisone_mg_day": pred, "rash": False}
    row.update(sledai_items or {})
    row.update(kw)
    return row


# SLEDAI-2K 10 = arthritis 4 + rash 2 + alopecia 2 + mucosal ulcers 2
TEN = {"arthritis": True, "rash": True, "alopecia": True, "mucosal_ulcers": True}
SIX = {"arthritis": True, "rash": True}  # 4 + 2
SEVEN = {"arthritis": True, "rash": True, "fever": True}  # 4 + 2 + 1


def follow(row: dict, base: dict | None = None, **cfg: object) -> pd.Series:
    return score_rows([base or visit(TEN), row], **cfg).iloc[1]


# --- SRI ---------------------------------------------------------------------------------


def test_sri4_boundary_reduction() -> None:
    # Furie 2009: SLEDAI_0 − SLEDAI_t ≥ 4. 10 → 6 (Δ4) responds; 10 → 7 (Δ3) does not.
    assert follow(visit(SIX))["sri4"] == "Y"
    assert follow(visit(SEVEN))["sri4"] == "N"


def test_sri_k_levels() -> None:
    # 10 → 0: Δ10 meets SRI-4…8; 10 → 4 (arthritis only): Δ6 meets SRI-4…6, not 7, 8.
    r = follow(visit({}))
    assert [r[f"sri{k}"] for k in range(4, 9)] == ["Y"] * 5
    r = follow(visit({"arthritis": True}))
    assert [r[f"sri{k}"] for k in range(4, 9)] == ["Y", "Y", "Y", "N", "N"]


def test_sri_pga_worsening_exact_decimal() -> None:
    # SPEC §2.1 numerics trap: 0.7 − 0.4 = 0.29999999999999993 in doubles, but a rise of
    # 0.30 is a worsening: 0.4 → 0.7 fails, 0.4 → 0.69 (rise 0.29) passes.
    base = visit(TEN, pga=0.4)
    assert follow(visit({}, pga=0.7), base)["sri4"] == "N"
    assert follow(visit({}, pga=0.69), base)["sri4"] == "Y"
    # 1.0 → 1.3 fails too (1.3 − 1.0 = 0.30000000000000004 ≥ 0.3 either way)
    assert follow(visit({}, pga=1.3), visit(TEN, pga=1.0))["sri4"] == "N"


def test_sri_bilag_component() -> None:
    base = visit(TEN, **E_ALL)
    # one new B (renal E → B) is allowed; two new B fail; one new A fails
    one_b = visit({}, **{**E_ALL, "bilag_renal": "B"})
    two_b = visit({}, **{**E_ALL, "bilag_renal": "B", "bilag_musculoskeletal": "B"})
    new_a = visit({}, **{**E_ALL, "bilag_renal": "A"})
    assert follow(one_b, base)["sri4"] == "Y"
    assert follow(two_b, base)["sri4"] == "N"
    assert follow(new_a, base)["sri4"] == "N"
    # A → B is an improvement, B → B is not new
    base_ab = visit(TEN, **{**E_ALL, "bilag_renal": "A", "bilag_mucocutaneous": "B"})
    now = visit({}, **{**E_ALL, "bilag_renal": "B", "bilag_mucocutaneous": "B"})
    assert follow(now, base_ab)["sri4"] == "Y"


def test_missing_visit_and_missing_values_are_non_responders() -> None:
    # S2 lacks V2 that S1 and S3 have (a scheduled visit: held by ≥ half the subjects):
    # a row is added and scored as non-responder.
    rows_s1 = [visit(TEN), visit({}), visit({})]
    rows_s2 = [visit(TEN), visit({})]
    frame_scores = score_rows(rows_s1, rows_s2, rows_s1, impute_missing_visits=True)
    s2 = frame_scores[frame_scores["subject_id"] == "S2"]
    assert list(s2["visit"]) == ["V0", "V1", "V2"]
    assert list(s2["visit_missing"]) == [False, False, True]
    assert list(s2["sri4"]) == ["", "Y", "N"]
    assert s2["nri_reason"].iat[2] == "missing_visit"
    # missing PGA at a follow-up visit: non-responder
    assert follow({**visit({}), "pga": None})["sri4"] == "N"


def test_baseline_flag_overrides_first_visit() -> None:
    # screening visit first, baseline flagged on V1: SRI is relative to V1 (SLEDAI 10).
    rows = [visit(SIX), visit(TEN, baseline=True), visit({})]
    s = score_rows(rows)
    assert list(s["sri4"]) == ["", "", "Y"]
    assert list(s["baseline"]) == [False, True, False]


def test_rescue_therapy_non_responder() -> None:
    assert follow(visit({}, rescue_therapy=True))["sri4"] == "N"


# --- BICLA -----------------------------------------------------------------------------


def test_bicla_requires_improvement_of_every_active_system() -> None:
    # Wallace 2014: every baseline A → B-D, every B → C-D.
    base = visit(TEN, **{**E_ALL, "bilag_renal": "A", "bilag_musculoskeletal": "B"})
    good = visit(SIX, **{**E_ALL, "bilag_renal": "B", "bilag_musculoskeletal": "C"})
    stuck = visit(SIX, **{**E_ALL, "bilag_renal": "B", "bilag_musculoskeletal": "B"})
    assert follow(good, base)["bicla"] == "Y"
    assert follow(stuck, base)["bicla"] == "N"  # B stays B


def test_bicla_sledai_and_pga_components() -> None:
    base = visit(SIX, pga=1.0, **{**E_ALL, "bilag_renal": "A"})
    ok = {**E_ALL, "bilag_renal": "C"}
    # SLEDAI 6 → 7 is a worsening (criterion 3); 6 → 6 is not
    assert follow(visit(SEVEN, **ok), base)["bicla"] == "N"
    assert follow(visit(SIX, **ok), base)["bicla"] == "Y"
    # PGA 1.0 → 1.3 is a worsening ≥ 0.3 (criterion 4)
    assert follow(visit(SIX, pga=1.3, **ok), base)["bicla"] == "N"
    assert follow(visit(SIX, pga=1.29, **ok), base)["bicla"] == "Y"


def test_bicla_not_evaluable_without_bilag() -> None:
    assert follow(visit({}))["bicla"] == ""


# --- LLDAS -----------------------------------------------------------------------------


def test_lldas_boundaries() -> None:
    # Franklyn 2016: SLEDAI-2K ≤ 4 without major organ activity, PGA ≤ 1, prednisone ≤ 7.5.
    four = {"arthritis": True}  # 4, allowed item
    s = score_rows([visit(four, pga=1.0, pred=7.5)])
    assert s["lldas"].iat[0] == "Y"
    assert score_rows([visit(four, pga=1.01, pred=7.5)])["lldas"].iat[0] == "N"
    assert score_rows([visit(four, pga=1.0, pred=7.6)])["lldas"].iat[0] == "N"
    # SLEDAI 6 > 4
    assert score_rows([visit(SIX)])["lldas"].iat[0] == "N"
    # proteinuria (renal, 4 points) is forbidden even though the total is 4
    assert score_rows([visit({"proteinuria": True})])["lldas"].iat[0] == "N"
    # serology alone (4) is allowed
    sero = {"low_complement": True, "increased_dna_binding": True}
    assert score_rows([visit(sero)])["lldas"].iat[0] == "Y"


def test_lldas_no_new_feature_since_previous_visit() -> None:
    # alopecia (2) absent at V0, present at V1: a new feature → not LLDAS at V1.
    rows = [visit({}), visit({"alopecia": True}), visit({"alopecia": True})]
    assert list(score_rows(rows)["lldas"]) == ["Y", "N", "Y"]


def test_lldas_investigational_drug_and_missing_prednisone_column() -> None:
    assert score_rows([visit({}, investigational_drug=True)])["lldas"].iat[0] == "N"
    rows = [{"pga": 0.5, "rash": False}]
    assert score_rows(rows)["lldas"].iat[0] == ""  # no prednisone column: not evaluable


# --- DORIS -----------------------------------------------------------------------------


def test_doris_boundaries() -> None:
    # van Vollenhoven 2021: clinical SLEDAI 0, PGA < 0.5, prednisone ≤ 5 mg/day.
    sero = {"low_complement": True, "increased_dna_binding": True}
    assert score_rows([visit(sero, pga=0.49, pred=5.0)])["doris"].iat[0] == "Y"
    assert score_rows([visit({}, pga=0.5, pred=5.0)])["doris"].iat[0] == "N"
    assert score_rows([visit({}, pga=0.0, pred=5.1)])["doris"].iat[0] == "N"
    assert score_rows([visit({"rash": True}, pga=0.0, pred=0)])["doris"].iat[0] == "N"
    # knob: strict "< 5"
    s = score_rows([visit({}, pga=0.0, pred=5.0)], doris_pred_inclusive=False)
    assert s["doris"].iat[0] == "N"


def test_pga_precision_tenths() -> None:
    # pga_precision 0.1: 0.45 → 0.5 (half-up), 0.74 → 0.7: rise 0.2 < 0.3 → responder;
    # at 0.01 the rise 0.74 − 0.45 = 0.29 also passes, but 0.45 → 0.75 (0.30) fails.
    base = visit(TEN, pga=0.45)
    assert follow(visit({}, pga=0.74), base, pga_precision="0.1")["sri4"] == "Y"
    assert follow(visit({}, pga=0.75), base)["sri4"] == "N"
    # 0.44 → 0.4 and 0.75 → 0.8: rise 0.4 fails at tenths
    assert follow(visit({}, pga=0.75), visit(TEN, pga=0.44), pga_precision="0.1")["sri4"] == "N"
