"""Hypothesis properties: SLEDAI within 0-105, clinical SLEDAI ≤ SLEDAI, damage never
decreasing, eGFR falling as creatinine rises (issue 3, §5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from lupusim.clinical import (
    DESCRIPTOR_NAMES,
    SDI_ITEMS,
    ScoringConfig,
    ckd_epi_2009,
    ckd_epi_2021,
    ckd_epi_2021_cys,
    cockcroft_gault,
    mdrd_175,
    mdrd_186,
    sdi,
    sledai_items,
)
from lupusim.clinical.sledai import VERSIONS, total

FAST = settings(max_examples=60, deadline=None)

maybe_bool = st.one_of(st.none(), st.booleans())
visit_row = st.fixed_dictionaries(
    {name: maybe_bool for name in DESCRIPTOR_NAMES},
    optional={
        "arthritis_joints": st.integers(0, 30),
        "urine_rbc_per_hpf": st.floats(0, 100),
        "urine_wbc_per_hpf": st.floats(0, 100),
        "protein_24h_g": st.floats(0, 10),
        "upcr_g_per_g": st.floats(0, 10),
        "c3_g_l": st.floats(0, 3),
        "c4_g_l": st.floats(0, 1),
        "anti_dsdna_iu_ml": st.floats(0, 1000),
        "anti_dsdna_uln_iu_ml": st.floats(1, 100),
        "temperature_c": st.floats(35, 42),
        "platelets_1e9_l": st.floats(0, 600),
        "wbc_1e9_l": st.floats(0, 20),
        "scleritis": st.booleans(),
        "cytopenia_drug": st.booleans(),
        "pyuria_infection": st.booleans(),
    },
)


def _frame(rows: list[dict]) -> pd.DataFrame:
    f = pd.DataFrame(rows)
    f.insert(0, "subject_id", "S1")
    f.insert(1, "visit", [f"V{i}" for i in range(len(rows))])
    for name in DESCRIPTOR_NAMES:
        f[name] = f[name].astype("boolean")
    return f


@FAST
@given(st.lists(visit_row, min_size=1, max_size=4), st.sampled_from([10, 30]))
def test_sledai_within_range_and_clinical_at_most_total(rows: list[dict], window: int) -> None:
    frame = _frame(rows)
    cfg = ScoringConfig(sledai_window_days=window)
    for version in VERSIONS:
        items = sledai_items(frame, cfg, version)
        score = total(items)
        clinical = total(items, clinical=True)
        ok = ~np.isnan(score)
        assert np.all((score[ok] >= 0) & (score[ok] <= 105))
        assert np.all(clinical[ok] <= score[ok])
        assert np.all(clinical[ok] <= 101)
    # SLEDAI-S2K is SELENA-SLEDAI with 2K proteinuria (scored whenever present), so it can
    # only add the proteinuria points SELENA withholds for persistent proteinuria.
    selena = total(sledai_items(frame, cfg, "SELENA-SLEDAI"))
    s2k = total(sledai_items(frame, cfg, "SLEDAI-S2K"))
    ok = ~np.isnan(selena)
    assert np.all((s2k[ok] - selena[ok] == 0) | (s2k[ok] - selena[ok] == 4))


sdi_row = st.fixed_dictionaries(
    {}, optional={name: st.integers(0, most) for name, most in SDI_ITEMS.items()}
)


@FAST
@given(st.lists(sdi_row, min_size=1, max_size=6))
def test_damage_index_never_decreases(rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)
    frame.insert(0, "subject_id", "S1")
    values = sdi(frame)
    seen = values[~np.isnan(values)]
    assert np.all(np.diff(seen) >= 0)
    assert np.all((seen >= 0) & (seen <= 47))


@FAST
@given(
    st.floats(0.2, 15.0),
    st.floats(0.01, 5.0),
    st.integers(18, 90),
    st.sampled_from(["F", "M"]),
    st.floats(0.5, 3.0),
)
def test_egfr_falls_as_creatinine_rises(
    scr: float, bump: float, age: int, sex: str, cys: float
) -> None:
    higher = scr + bump
    for f in (ckd_epi_2021, ckd_epi_2009, mdrd_175, mdrd_186):
        assert float(f(higher, age, sex)) < float(f(scr, age, sex))
    assert float(ckd_epi_2021_cys(higher, cys, age, sex)) < float(
        ckd_epi_2021_cys(scr, cys, age, sex)
    )
    assert float(cockcroft_gault(higher, age, sex, 70)) < float(cockcroft_gault(scr, age, sex, 70))
    assert float(ckd_epi_2021(scr, age, sex)) > 0


pipeline_row = st.fixed_dictionaries(
    {
        "pga": st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0, 1.3, 2.0, 2.6, 3.0]),
        "prednisone_mg_day": st.sampled_from([0.0, 5.0, 7.5, 10.0, 20.0, 40.0]),
        "upcr_g_per_g": st.floats(0, 6, allow_nan=False).map(lambda x: round(x, 2)),
        "creatinine_mg_dl": st.floats(0.4, 3, allow_nan=False).map(lambda x: round(x, 2)),
        "rash": st.booleans(),
        "arthritis_joints": st.integers(0, 5),
        "seizure": st.booleans(),
        "low_complement": st.booleans(),
        "rescue_therapy": st.booleans(),
    }
)


@settings(max_examples=25, deadline=None)
@given(st.lists(pipeline_row, min_size=1, max_size=5))
def test_pipeline_invariants(rows: list[dict]) -> None:
    from lupusim.clinical import score_visits

    frame = pd.DataFrame(rows)
    frame.insert(0, "subject_id", "S1")
    frame.insert(1, "visit", [f"V{i}" for i in range(len(rows))])
    frame.insert(2, "study_day", [28 * i for i in range(len(rows))])
    frame["sex"], frame["age_years"] = "F", 35
    s = score_visits(frame).scores
    # nothing is evaluated against baseline at the baseline visit
    base = s.iloc[0]
    for col in ("sri4", "renal_kdigo", "bliss_ln_perr", "bicla", "flare_sfi"):
        assert base[col] == ""
    # SRI-k is nested: a responder at k + 1 is a responder at k
    for k in range(4, 8):
        hi, lo = s[f"sri{k + 1}"], s[f"sri{k}"]
        assert not ((hi == "Y") & (lo != "Y")).any()
    assert set(s["renal_kdigo"]) <= {"", "complete", "partial", "none"}
    # KDIGO complete (UPCR < 0.5) always meets the 0.7 UPCR bound of BLISS-LN PERR
    kdigo_cr = s["renal_kdigo"] == "complete"
    assert (s.loc[kdigo_cr, "proteinuria_g_per_g"] < 0.5).all()
    # DORIS remission: clinical SLEDAI 0, PGA < 0.5, prednisone ≤ 5
    doris = s["doris"] == "Y"
    assert (s.loc[doris, "clinical_sledai"] == 0).all()
    assert (s.loc[doris, "pga"] < 0.5).all() and (s.loc[doris, "prednisone_mg_day"] <= 5).all()
    # a rescue visit after baseline is never a responder
    rescued = frame["rescue_therapy"].to_numpy() & (np.arange(len(rows)) > 0)
    assert not (s.loc[rescued, "sri4"] == "Y").any()
