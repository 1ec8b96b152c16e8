"""Renal response rules (SPEC §3.2-3.3): hand-worked boundaries, each citing its source.

eGFR is given as measured so the arithmetic is plain; proteinuria is UPCR in g/g.
"""

from __future__ import annotations

import pandas as pd

from .conftest import score_rows


def pair(base: dict, follow: dict, *, pre: float | None = None, **cfg: object) -> pd.Series:
    """Score baseline + one follow-up visit; return the follow-up row."""
    extra = {} if pre is None else {"egfr_preflare_ml_min_1_73m2": pre}
    rows = [{**extra, **base}, {**extra, **follow}]
    return score_rows(rows, **cfg).iloc[1]


def b(upcr: float, egfr: float = 100.0, **kw: object) -> dict:
    return {"upcr_g_per_g": upcr, "egfr_ml_min_1_73m2": egfr, **kw}


# --- KDIGO 2024 ------------------------------------------------------------------


def test_kdigo_complete_requires_upcr_below_half() -> None:
    # KDIGO 2024: CR = UPCR < 0.5 g/g and eGFR within 15 % of baseline.
    assert pair(b(4.0), b(0.49))["renal_kdigo"] == "complete"
    # 0.5 is not < 0.5; but 0.5 ≤ 0.5 × 4.0 = 2.0 and < 3 → partial
    assert pair(b(4.0), b(0.5))["renal_kdigo"] == "partial"


def test_kdigo_partial_needs_half_reduction_and_subnephrotic() -> None:
    # PR = UPCR ≤ 50 % of baseline and < 3 g/g.
    assert pair(b(2.0), b(1.0))["renal_kdigo"] == "partial"  # 1.0 = 0.5 × 2.0 (boundary met)
    assert pair(b(2.0), b(1.01))["renal_kdigo"] == "none"  # 1.01 > 1.0
    assert pair(b(7.0), b(3.0))["renal_kdigo"] == "none"  # 3.0 ≤ 3.5 but not < 3
    assert pair(b(7.0), b(2.9))["renal_kdigo"] == "partial"
    # float trap: 0.3 vs 0.5 × 0.6 (= 0.3 in decimal) must count as a 50 % reduction
    assert pair(b(0.6), b(0.3))["renal_kdigo"] == "complete"
    assert pair(b(1.2), b(0.6))["renal_kdigo"] == "partial"


def test_kdigo_kidney_function_tolerance_15_percent() -> None:
    # eGFR 100 → 85 is exactly −15 %: within tolerance; 84.9 is not.
    assert pair(b(4.0, 100), b(0.3, 85.0))["renal_kdigo"] == "complete"
    assert pair(b(4.0, 100), b(0.3, 84.9))["renal_kdigo"] == "none"
    # knob: 10 % tolerance makes 89 fail
    assert pair(b(4.0, 100), b(0.3, 89.0), kidney_function_tolerance=0.10)["renal_kdigo"] == "none"


def test_kdigo_preflare_reference() -> None:
    # egfr_reference = preflare: 80 vs pre-flare 100 (−20 %) fails; vs baseline 80 passes.
    r = pair(b(4.0, 80), b(0.3, 80), pre=100.0, egfr_reference="preflare")
    assert r["renal_kdigo"] == "none"
    assert pair(b(4.0, 80), b(0.3, 80), pre=100.0)["renal_kdigo"] == "complete"


def test_baseline_row_is_empty_and_missing_upcr_is_none() -> None:
    s = score_rows([b(4.0), {"egfr_ml_min_1_73m2": 100.0, "pga": 1.0}])
    assert s["renal_kdigo"].iat[0] == ""
    assert s["renal_kdigo"].iat[1] == "none"  # missing follow-up UPCR: non-responder


def test_no_baseline_proteinuria_is_not_evaluable() -> None:
    s = score_rows([{"egfr_ml_min_1_73m2": 100.0, "pga": 1.0}, b(0.2)])
    assert s["renal_kdigo"].iat[1] == ""


def test_rescue_therapy_makes_non_responder_and_sticks() -> None:
    rows = [b(4.0), b(0.2, rescue_therapy=True), b(0.2)]
    s = score_rows(rows)
    assert list(s["renal_kdigo"]) == ["", "none", "none"]
    assert list(s["nri_reason"]) == ["", "rescue_therapy", "rescue_therapy"]
    s = score_rows(rows, treatment_failure_sticky=False)
    assert list(s["renal_kdigo"]) == ["", "none", "complete"]
    s = score_rows(rows, intercurrent_event_rule="ignore")
    assert list(s["renal_kdigo"]) == ["", "complete", "complete"]


def test_two_consecutive_confirmation() -> None:
    rows = [b(4.0), b(1.5), b(0.3), b(0.3)]
    assert list(score_rows(rows)["renal_kdigo"]) == ["", "partial", "complete", "complete"]
    # confirmed: first follow-up cannot be confirmed; then min(level, previous level)
    s = score_rows(rows, confirmation_rule="two_consecutive")
    assert list(s["renal_kdigo"]) == ["", "none", "partial", "complete"]


# --- ACR 2006 --------------------------------------------------------------------


def test_acr_2006_complete_needs_upcr_below_0_2_and_inactive_sediment() -> None:
    base = b(3.0, creatinine_mg_dl=0.9)
    # UPCR 0.19 < 0.2, SCr 0.9 normal (≤ 1.2), sediment inactive → complete
    assert pair(base, b(0.19, creatinine_mg_dl=0.9))["renal_acr_2006"] == "complete"
    # UPCR 0.2 is not < 0.2: ≥50 % reduction and ≤ 2.0 → partial
    assert pair(base, b(0.2, creatinine_mg_dl=0.9))["renal_acr_2006"] == "partial"
    # active sediment (6 RBC/hpf > 5) blocks complete
    r = pair(base, b(0.1, creatinine_mg_dl=0.9, urine_rbc_per_hpf=6))
    assert r["renal_acr_2006"] == "partial"


def test_acr_2006_partial_bounds() -> None:
    # partial: UPCR ≤ 50 % and ≤ 2.0, eGFR not fallen ≥ 25 %
    assert pair(b(5.0), b(2.0))["renal_acr_2006"] == "partial"
    assert pair(b(5.0), b(2.1))["renal_acr_2006"] == "none"  # 2.1 > 2.0
    assert pair(b(2.0, 100), b(0.8, 75))["renal_acr_2006"] == "none"  # −25 % exactly fails
    assert pair(b(2.0, 100), b(0.8, 76))["renal_acr_2006"] == "partial"


def test_acr_2006_abnormal_baseline_needs_25_percent_improvement() -> None:
    base = b(3.0, 50.0, creatinine_mg_dl=1.6)  # SCr abnormal (> 1.2)
    # SCr 1.4 still abnormal; eGFR 62.5 = +25 % → complete
    assert pair(base, b(0.1, 62.5, creatinine_mg_dl=1.4))["renal_acr_2006"] == "complete"
    assert pair(base, b(0.1, 62.0, creatinine_mg_dl=1.4))["renal_acr_2006"] == "partial"


# --- EULAR/ERA-EDTA 2019 -----------------------------------------------------------


def test_eular_2019() -> None:
    # CR: UPCR < 0.5 with eGFR ≥ 90 or within 10 % of reference.
    assert pair(b(3.0, 60), b(0.4, 54))["renal_eular_2019"] == "complete"  # 54 = 0.9 × 60
    assert pair(b(3.0, 60), b(0.4, 53.9))["renal_eular_2019"] == "none"
    assert pair(b(3.0, 120), b(0.4, 95))["renal_eular_2019"] == "complete"  # ≥ 90 normal
    # knob: CR threshold 0.7 (source allows 0.5-0.7)
    assert pair(b(3.0), b(0.6), eular_cr_upcr_max=0.7)["renal_eular_2019"] == "complete"
    assert pair(b(3.0), b(0.6))["renal_eular_2019"] == "partial"


# --- ALMS ----------------------------------------------------------------------------


def test_alms_nephrotic_and_subnephrotic_baselines() -> None:
    # Appel 2009: baseline ≥ 3 → response if UPCR < 3; baseline < 3 → ≥ 50 % reduction;
    # SCr within +25 % of baseline.
    base = dict(creatinine_mg_dl=1.0)
    assert pair(b(6.0, **base), b(2.9, **base))["renal_alms"] == "partial"
    assert pair(b(6.0, **base), b(3.0, **base))["renal_alms"] == "none"
    assert pair(b(2.0, **base), b(1.0, **base))["renal_alms"] == "partial"
    assert pair(b(2.0, **base), b(1.1, **base))["renal_alms"] == "none"
    # SCr 1.25 = +25 % (met) vs 1.26 (not met)
    assert pair(b(6.0, **base), b(2.0, creatinine_mg_dl=1.25))["renal_alms"] == "partial"
    assert pair(b(6.0, **base), b(2.0, creatinine_mg_dl=1.26))["renal_alms"] == "none"
    # complete remission: normal SCr, UPCR ≤ 0.5, inactive sediment
    assert pair(b(6.0, **base), b(0.5, **base))["renal_alms"] == "complete"


# --- ACCESS --------------------------------------------------------------------------


def test_access_complete_and_partial() -> None:
    # ACCESS 2014 [M]: CR = UPCR < 0.5, SCr normal or ≤ 125 % of baseline, prednisone ≤ 10.
    base = b(3.5, creatinine_mg_dl=1.5, prednisone_mg_day=60)
    cr = b(0.4, creatinine_mg_dl=1.8, prednisone_mg_day=10)  # 1.8 ≤ 1.25 × 1.5 = 1.875
    assert pair(base, cr)["renal_access"] == "complete"
    assert pair(base, {**cr, "prednisone_mg_day": 12.5})["renal_access"] == "none"  # taper
    # PR: ≥ 50 % and < 3 for nephrotic baseline: 1.75 = 0.5 × 3.5 and < 3
    assert (
        pair(base, b(1.75, creatinine_mg_dl=1.5, prednisone_mg_day=10))["renal_access"] == "partial"
    )
    assert pair(base, b(0.4, creatinine_mg_dl=1.9, prednisone_mg_day=10))["renal_access"] == "none"


# --- BLISS-LN ----------------------------------------------------------------------


def test_bliss_ln_perr_boundaries() -> None:
    # Furie 2020: UPCR ≤ 0.7 and (eGFR ≥ 60 or ≥ 80 % of pre-flare), no treatment failure.
    assert pair(b(3.0, 70), b(0.7, 60), pre=100.0)["bliss_ln_perr"] == "Y"  # 0.7 ≤ 0.7, 60 ≥ 60
    assert pair(b(3.0, 70), b(0.71, 60), pre=100.0)["bliss_ln_perr"] == "N"
    assert pair(b(3.0, 70), b(0.5, 59), pre=70.0)["bliss_ln_perr"] == "Y"  # 59 ≥ 0.8 × 70 = 56
    assert pair(b(3.0, 70), b(0.5, 59), pre=75.0)["bliss_ln_perr"] == "N"  # 59 < 60
    assert pair(b(3.0, 70), b(0.5, 60), pre=100.0)["bliss_ln_crr"] == "N"  # CRR needs ≥ 90


def test_bliss_ln_crr_boundaries() -> None:
    # CRR: UPCR < 0.5 and (eGFR ≥ 90 or ≥ 90 % of pre-flare)
    assert pair(b(3.0, 80), b(0.49, 72), pre=80.0)["bliss_ln_crr"] == "Y"  # 72 = 0.9 × 80
    assert pair(b(3.0, 80), b(0.49, 71.9), pre=80.0)["bliss_ln_crr"] == "N"
    assert pair(b(3.0, 80), b(0.5, 95), pre=80.0)["bliss_ln_crr"] == "N"  # 0.5 not < 0.5


def test_bliss_ln_glucocorticoid_cap_from_week_24() -> None:
    # GC ≤ 10 mg/day from day 168: the follow-up is at day 28 here, so 15 mg is allowed.
    assert pair(b(3.0), b(0.3, prednisone_mg_day=15))["bliss_ln_perr"] == "Y"
    rows = [b(3.0), b(0.3, prednisone_mg_day=15, study_day=168)]
    assert score_rows(rows)["bliss_ln_perr"].iat[1] == "N"


# --- AURORA ------------------------------------------------------------------------


def test_aurora_crr() -> None:
    # Rovin 2021: UPCR ≤ 0.5, eGFR ≥ 60 or no decrease > 20 %, prednisone ≤ 10 mg/day.
    assert pair(b(2.0, 50), b(0.5, 40))["aurora_crr"] == "Y"  # 40 = 0.8 × 50: not > 20 %
    assert pair(b(2.0, 50), b(0.5, 39.9))["aurora_crr"] == "N"
    assert pair(b(2.0, 90), b(0.5, 61))["aurora_crr"] == "Y"  # ≥ 60 overrides the drop
    assert pair(b(2.0), b(0.51))["aurora_crr"] == "N"
    assert pair(b(2.0), b(0.4, prednisone_mg_day=12))["aurora_crr"] == "N"


# --- Deng 2017 -----------------------------------------------------------------------


def test_deng_2017_remission() -> None:
    # NCT01539902: baseline ≥ 3 g/day → < 3 and ≥ 50 % reduction; else < 1 g/day;
    # urine RBC < 10/hpf; renal function stable (15 % tolerance).
    assert pair(b(4.0), b(2.0))["renal_deng_2017"] == "complete"  # 2.0 ≤ 2.0 and < 3
    assert pair(b(4.0), b(2.1))["renal_deng_2017"] == "none"
    assert pair(b(2.0), b(0.99))["renal_deng_2017"] == "complete"
    assert pair(b(2.0), b(1.0))["renal_deng_2017"] == "none"  # not < 1
    assert pair(b(2.0), b(0.5, urine_rbc_per_hpf=10))["renal_deng_2017"] == "none"


def test_24h_protein_used_when_upcr_missing() -> None:
    # SPEC §3.1: 24-h protein (g/day) and UPCR (g/g) are interchangeable.
    base = {"protein_24h_g": 4.0, "egfr_ml_min_1_73m2": 100.0}
    follow = {"protein_24h_g": 0.3, "egfr_ml_min_1_73m2": 100.0}
    assert pair(base, follow)["renal_kdigo"] == "complete"


def test_upcr_mg_per_mmol_conventions() -> None:
    # SPEC §3.1: exact 113.12 mg/mmol per g/g; rounded convention 100.
    base = {"upcr_mg_per_mmol": 400.0, "egfr_ml_min_1_73m2": 100.0}
    follow = {"upcr_mg_per_mmol": 55.0, "egfr_ml_min_1_73m2": 100.0}
    # exact: 55/113.12 = 0.486 < 0.5 → complete; rounded: 0.55 → partial
    assert pair(base, follow)["renal_kdigo"] == "complete"
    assert pair(base, follow, upcr_mgmmol_convention="rounded")["renal_kdigo"] == "partial"


def test_proteinuria_only_table_and_missing_baseline_egfr() -> None:
    # No creatinine or eGFR anywhere (e.g. the ACCESS UPCR extract): kidney-function
    # criteria are skipped, so 4.0 → 0.3 is a KDIGO complete response on proteinuria alone.
    s = score_rows([{"upcr_g_per_g": 4.0}, {"upcr_g_per_g": 0.3}])
    assert s["renal_kdigo"].iat[1] == "complete"
    # With kidney data in the table, a subject without a baseline eGFR is not evaluable.
    s = score_rows([{"upcr_g_per_g": 4.0}, b(0.3)], [b(4.0), b(0.3)])
    assert s["renal_kdigo"].tolist() == ["", "", "", "complete"]
