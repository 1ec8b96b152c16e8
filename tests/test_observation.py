"""The observation model: noisy, windowed virtual visit tables scored by lupusim.clinical."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from lupusim.clinical import ckd_epi_2021
from lupusim.observe import (
    DEFAULT_DESCRIPTOR_SCALE,
    DEFAULT_LAB_CV,
    LAB_CV_PROVENANCE,
    NOISED_LABS,
    ObservationModel,
    observe_visits,
    visit_table,
)
from lupusim.observe._visits import _BOOLEAN_DESCRIPTORS

ACTIVITIES = ("renal_activity", "skin_activity", "joint_activity", "cns_activity", "inflammation")


def _synthetic(n: int, times: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Every observable visit_table reads, varying over subjects and time."""
    rng = np.random.default_rng(seed)
    shape = (n, len(times))

    def pos(low: float, high: float) -> np.ndarray:
        return rng.uniform(low, high, shape)

    obs = {
        "protein_24h_g": pos(0.05, 4.0),
        "upcr_g_per_g": pos(0.05, 4.0),
        "creatinine_mg_dl": pos(0.6, 2.5),
        "egfr_ml_min_1_73m2": pos(20.0, 110.0),
        "albumin_g_l": pos(20.0, 45.0),
        "urine_rbc_per_hpf": pos(1.0, 20.0),
        "urine_wbc_per_hpf": pos(1.0, 20.0),
        "c3_g_l": pos(0.4, 1.4),
        "c4_g_l": pos(0.05, 0.4),
        "anti_dsdna_iu_ml": pos(5.0, 300.0),
        "platelets_1e9_l": pos(50.0, 350.0),
        "wbc_1e9_l": pos(2.0, 10.0),
        "lymphocytes_1e9_l": pos(0.5, 3.0),
        "prednisone_mg_day": rng.choice([0.0, 5.0, 10.0, 30.0], shape),
    }
    for name in ACTIVITIES:
        obs[name] = pos(0.0, 2.0)
    # each descriptor's activity exactly at its threshold once (subject 0, time index k):
    # the deterministic rule is strict (>)
    for k, (obs_name, thr) in enumerate(_BOOLEAN_DESCRIPTORS.values()):
        obs[obs_name][0, k] = thr
    return obs


def _const(n: int, times: np.ndarray, **values: float) -> dict[str, np.ndarray]:
    return {k: np.full((n, len(times)), v) for k, v in values.items()}


def _quiet(**over: float) -> ObservationModel:
    """Noiseless except for the named lab CVs."""
    base = ObservationModel.noiseless()
    return dataclasses.replace(base, lab_cv={**base.lab_cv, **over})


def test_noiseless_model_reproduces_visit_table() -> None:
    times = np.arange(0.0, 200.0, 7.0)
    ids = [f"s{i}" for i in range(6)]
    obs = _synthetic(6, times)
    days = np.array([0.0, 7.0, 14.0, 21.0, 28.0, 35.0, 42.0, 56.0, 84.0, 196.0])
    expected = visit_table(obs, times, ids, days)
    got = observe_visits(
        obs, times, ids, days, np.random.default_rng(1), ObservationModel.noiseless()
    )
    common = [c for c in expected.columns if c in got.columns and c != "visit"]
    assert set(expected.columns) - set(common) == {"visit"}
    for column in common:
        assert np.array_equal(got[column].to_numpy(), expected[column].to_numpy()), column
    assert got["visit"].tolist()[:3] == ["week 0", "week 1", "week 2"]
    assert got["visit"].tolist()[7:10] == ["week 8", "week 12", "week 28"]
    # an activity equal to its threshold (subject 0, visit k) is absent, as in visit_table
    for k, column in enumerate(_BOOLEAN_DESCRIPTORS):
        assert not got.loc[k, column], column
    assert got[list(_BOOLEAN_DESCRIPTORS)].to_numpy().any()  # but present elsewhere


def test_lab_noise_is_lognormal_with_the_given_cv() -> None:
    times = np.array([0.0, 10.0, 20.0])
    n = 4000
    obs = _const(n, times, protein_24h_g=2.0, c3_g_l=1.0, prednisone_mg_day=12.5)
    model = ObservationModel()
    table = observe_visits(
        obs, times, [f"s{i}" for i in range(n)], [0.0, 10.0, 20.0], np.random.default_rng(4), model
    )
    cv = model.lab_cv["protein_24h_g"]
    assert cv == DEFAULT_LAB_CV["protein_24h_g"] > 0
    ratio = table["protein_24h_g"].to_numpy() / 2.0
    assert (ratio > 0).all()
    sigma = np.sqrt(np.log1p(cv * cv))
    # 12000 draws: the SD of the sample SD is ~0.6 %
    assert np.std(np.log(ratio)) == pytest.approx(sigma, rel=0.03)
    assert np.mean(ratio) == pytest.approx(1.0, abs=0.01)  # mean-preserving
    c3 = np.log(table["c3_g_l"].to_numpy())
    assert np.std(c3) == pytest.approx(np.sqrt(np.log1p(model.lab_cv["c3_g_l"] ** 2)), rel=0.03)
    assert (table["prednisone_mg_day"] == 12.5).all()  # a prescribed dose is never noised


def test_descriptor_probability_is_logistic_in_activity() -> None:
    times = np.array([0.0, 10.0])
    n = 4000
    ids = [f"s{i}" for i in range(n)]
    model = ObservationModel()
    noiseless = ObservationModel.noiseless()

    def frequency(column: str, activity: float, m: ObservationModel, seed: int) -> float:
        obs_name = _BOOLEAN_DESCRIPTORS[column][0]
        arrays = {obs_name: np.full((n, 2), activity)}
        table = observe_visits(arrays, times, ids, [0.0], np.random.default_rng(seed), m)
        return float(table[column].mean())

    for column, (_, thr) in _BOOLEAN_DESCRIPTORS.items():
        scale = DEFAULT_DESCRIPTOR_SCALE[column]
        assert scale > 0
        # 4000 draws at p = 1/2: SD 0.008
        assert frequency(column, thr, model, 5) == pytest.approx(0.5, abs=0.03), column
        assert frequency(column, thr + 8.0 * scale, model, 6) > 0.99, column
        assert frequency(column, thr - 8.0 * scale, model, 7) < 0.01, column
        assert frequency(column, thr + scale, model, 8) == pytest.approx(
            1.0 / (1.0 + np.exp(-1.0)), abs=0.03
        ), column
        # scale 0: the deterministic, strict threshold rule
        assert frequency(column, thr, noiseless, 5) == 0.0, column
        assert frequency(column, thr + 1e-9, noiseless, 5) == 1.0, column


def test_visit_days_stay_in_their_window_and_values_follow_the_day() -> None:
    times = np.arange(0.0, 91.0)
    n = 300
    ids = [f"s{i}" for i in range(n)]
    obs = _const(n, times, c3_g_l=1.0)
    obs["protein_24h_g"] = np.tile(0.1 + 0.01 * times, (n, 1))
    days = np.array([0.0, 28.0, 56.0, 90.0])
    w = 5.0
    model = dataclasses.replace(ObservationModel.noiseless(), visit_window_days=w)
    table = observe_visits(obs, times, ids, days, np.random.default_rng(8), model)
    day = table["study_day"].to_numpy().reshape(n, len(days))
    assert (day[:, 0] == 0).all()  # baseline exact
    assert (day >= 0).all() and (day <= times[-1]).all()
    assert (np.abs(day - days) <= w).all()
    assert (np.diff(day, axis=1) > 0).all()
    assert len(np.unique(day[:, 1])) >= 8  # the window is used, not ignored
    assert (day[:, 1] != 28).mean() > 0.5
    # values are taken at the actual (unrounded) day: within half a day of study_day
    assert np.abs(table["protein_24h_g"] - (0.1 + 0.01 * table["study_day"])).max() <= 0.005 + 1e-12


def test_tight_schedules_keep_visits_in_order() -> None:
    times = np.arange(0.0, 15.0)
    n = 500
    obs = _const(n, times, c3_g_l=1.0)
    model = dataclasses.replace(ObservationModel.noiseless(), visit_window_days=10.0)
    table = observe_visits(
        obs, times, [f"s{i}" for i in range(n)], [0.0, 7.0, 14.0], np.random.default_rng(9), model
    )
    day = table["study_day"].to_numpy().reshape(n, 3)
    assert (np.diff(day, axis=1) >= 1).all()
    assert (np.abs(day - [0, 7, 14]) <= 3).all()  # half of (gap − 1)
    with pytest.raises(ValueError, match="at least one day"):
        observe_visits(obs, times, ["a"] * n, [0.0, 7.0, 7.5], np.random.default_rng(0), model)
    with pytest.raises(ValueError, match="output times"):
        observe_visits(obs, times, ["a"] * n, [0.0, 7.0, 30.0], np.random.default_rng(0), model)


def test_visits_after_last_day_are_missing() -> None:
    times = np.arange(0.0, 85.0)
    obs = _const(4, times, c3_g_l=1.0)
    ids = ["alive", "died_day_30", "died_before", "unknown"]
    last = np.array([np.inf, 30.0, -1.0, np.nan])
    table = observe_visits(
        obs,
        times,
        ids,
        [0.0, 28.0, 56.0, 84.0],
        np.random.default_rng(10),
        ObservationModel(),
        last_day=last,
    )
    per = table.groupby("subject_id")["visit"].apply(list).to_dict()
    assert per["alive"] == ["week 0", "week 4", "week 8", "week 12"]
    assert per["unknown"] == per["alive"]
    assert per["died_day_30"][0] == "week 0" and "week 8" not in per["died_day_30"]
    assert "died_before" not in per
    assert (table.loc[table["subject_id"] == "died_day_30", "study_day"] <= 30).all()


def test_egfr_follows_the_noisy_creatinine() -> None:
    times = np.arange(0.0, 366.0, 7.0)
    n = 200
    ids = [f"s{i}" for i in range(n)]
    rng = np.random.default_rng(11)
    female = rng.random(n) < 0.8
    age0 = rng.uniform(18.0, 60.0, n)
    cr = rng.uniform(0.5, 3.0, (n, 1)) * (1.0 + times / 1000.0)
    sex = np.where(female, "F", "M")[:, None]
    age_t = age0[:, None] + times / 365.25
    obs = {"creatinine_mg_dl": cr, "egfr_ml_min_1_73m2": ckd_epi_2021(cr, age_t, sex)}
    days = [0.0, 28.0, 84.0, 182.0, 364.0]
    model = _quiet(creatinine_mg_dl=0.08)
    table = observe_visits(
        obs, times, ids, days, np.random.default_rng(12), model, age_years=age0, female=female
    )
    assert {"sex", "age_years"} <= set(table.columns)
    recomputed = ckd_epi_2021(table["creatinine_mg_dl"], table["age_years"], table["sex"])
    assert np.allclose(table["egfr_ml_min_1_73m2"], recomputed, rtol=1e-12)
    truth = obs["egfr_ml_min_1_73m2"][:, np.searchsorted(times, days)].reshape(-1)
    rel = table["egfr_ml_min_1_73m2"].to_numpy() / truth - 1.0
    assert 0.04 < np.std(rel) < 0.15  # noise reached eGFR through creatinine
    # without age: the model's eGFR scaled by the CKD-EPI ratio, exact given the sex
    scaled = observe_visits(obs, times, ids, days, np.random.default_rng(12), model, female=female)
    assert "age_years" not in scaled.columns
    assert np.array_equal(scaled["creatinine_mg_dl"], table["creatinine_mg_dl"])
    assert np.allclose(scaled["egfr_ml_min_1_73m2"], table["egfr_ml_min_1_73m2"], rtol=1e-9)
    # without sex either: female κ and α are assumed, exact for the women
    unsexed = observe_visits(obs, times, ids, days, np.random.default_rng(12), model)
    women = np.repeat(female, len(days))
    assert "sex" not in unsexed.columns
    got, want = unsexed["egfr_ml_min_1_73m2"], table["egfr_ml_min_1_73m2"]
    assert np.allclose(got[women], want[women], rtol=1e-9)
    assert not np.allclose(got[~women], want[~women], rtol=1e-9)


def test_same_seed_same_table_and_streams_are_separate() -> None:
    times = np.arange(0.0, 120.0, 7.0)
    ids = [f"s{i}" for i in range(20)]
    obs = _synthetic(20, times, seed=3)
    days = [0.0, 28.0, 56.0, 112.0]
    model = ObservationModel()
    a = observe_visits(obs, times, ids, days, np.random.default_rng(13), model)
    b = observe_visits(obs, times, ids, days, np.random.default_rng(13), model)
    pd.testing.assert_frame_equal(a, b)
    c = observe_visits(obs, times, ids, days, np.random.default_rng(14), model)
    assert not np.array_equal(a["protein_24h_g"], c["protein_24h_g"])
    # another lab's CV, or a missing observable, leaves protein's noise unchanged
    other = dataclasses.replace(model, lab_cv={**model.lab_cv, "c3_g_l": 0.0})
    d = observe_visits(obs, times, ids, days, np.random.default_rng(13), other)
    fewer = {k: v for k, v in obs.items() if k != "c4_g_l"}
    e = observe_visits(fewer, times, ids, days, np.random.default_rng(13), model)
    assert np.array_equal(a["protein_24h_g"], d["protein_24h_g"])
    assert not np.array_equal(a["c3_g_l"], d["c3_g_l"])
    assert np.array_equal(a["protein_24h_g"], e["protein_24h_g"])
    assert "c4_g_l" not in e.columns


def test_model_validation_and_provenance() -> None:
    assert set(LAB_CV_PROVENANCE) == set(DEFAULT_LAB_CV) == set(NOISED_LABS)
    assert all(v.startswith("assumption:") for v in LAB_CV_PROVENANCE.values())
    assert "egfr_ml_min_1_73m2" not in NOISED_LABS and "prednisone_mg_day" not in NOISED_LABS
    with pytest.raises(ValueError, match="eGFR follows creatinine"):
        ObservationModel(lab_cv={**DEFAULT_LAB_CV, "egfr_ml_min_1_73m2": 0.1})
    with pytest.raises(ValueError, match="missing"):
        ObservationModel(lab_cv={"c3_g_l": 0.1})
    with pytest.raises(ValueError, match=">= 0"):
        ObservationModel(lab_cv={**DEFAULT_LAB_CV, "c3_g_l": -0.1})
    with pytest.raises(ValueError, match="visit_window_days"):
        ObservationModel(visit_window_days=-1.0)
    assert ObservationModel() == ObservationModel() != ObservationModel.noiseless()
    assert hash(ObservationModel()) == hash(ObservationModel(lab_cv=dict(DEFAULT_LAB_CV)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ObservationModel().visit_window_days = 1.0  # type: ignore[misc]


def test_clinical_scorer_scores_the_virtual_visit_table() -> None:
    from lupusim.clinical import score_visits
    from lupusim.engine import simulate
    from lupusim.model import get_preset
    from lupusim.population import sample_parameters
    from lupusim.treatments import Prednisone, Regimen, nih_cyclophosphamide

    human = get_preset("human")
    n = 10
    p = sample_parameters(human, n, np.random.default_rng(2))
    y0 = np.array([human.initial_state(r) for r in p])
    reg = Regimen("x", (*nih_cyclophosphamide(0.0, 0.75, 6), Prednisone(0.0, 364.0, 30.0)))
    times = np.arange(0.0, 365.0, 1.0)
    obs = simulate(human.model, p, y0, [reg] * n, times).observables()
    ids = [f"s{i}" for i in range(n)]
    female = p[:, human.model.parameter_index("female")]
    age = p[:, human.model.parameter_index("age_at_start_years")]
    days = [0.0, 28.0, 84.0, 168.0, 252.0, 364.0]
    table = observe_visits(
        obs,
        times,
        ids,
        days,
        np.random.default_rng(15),
        ObservationModel(),
        last_day=np.where(np.arange(n) == 0, 100.0, np.inf),
        age_years=age,
        female=female,
    )
    assert "pga" not in table.columns  # the model has no physician global assessment
    result = score_visits(table)
    scores = result.scores
    assert len(scores) == n * len(days)  # the dead subject's missed visits are imputed
    assert scores["visit_missing"].sum() == 3
    s2k = scores.loc[~scores["visit_missing"].astype(bool), "sledai2k"].to_numpy(dtype=float)
    assert np.isfinite(s2k).all() and s2k.max() > 0
    observed = ~scores["visit_missing"].astype(bool)
    egfr = scores.loc[observed, "egfr_ckd_epi_2021"].to_numpy(dtype=float)
    assert np.allclose(egfr, table["egfr_ml_min_1_73m2"].to_numpy(), rtol=1e-9)
    assert set(scores["renal_kdigo"].dropna()) - {""} <= {"complete", "partial", "none"}
    assert (scores.loc[scores["study_day"] > 0, "renal_kdigo"] != "").any()
