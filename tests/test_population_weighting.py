"""Prevalence weighting / selection of virtual populations (Allen et al. 2016) and the
built-in target populations."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import lupusim
from lupusim.population import (
    TARGET_POPULATIONS,
    EmpiricalTarget,
    LogNormalTarget,
    NormalTarget,
    TargetPopulation,
    WeightingWarning,
    kish_effective_n,
    match_report,
    match_report_selected,
    prevalence_weights,
    select_by_prevalence,
    target_population,
    weighted_ks,
)

DATA = Path(lupusim.__file__).parent / "data"
SLEDAI = TargetPopulation(
    name="test_normal",
    description="synthetic",
    source="test",
    marginals={"sledai2k": NormalTarget(12.2, 3.3, lower=0.0)},
)


@pytest.mark.parametrize("shape", ["uniform", "lognormal"])
def test_weighting_brings_candidates_to_a_normal_target(shape: str) -> None:
    rng = np.random.default_rng(11)
    n = 5000
    uniform = shape == "uniform"
    x = rng.uniform(0.0, 30.0, n) if uniform else rng.lognormal(math.log(15.0), 0.6, n)
    base = {"sledai2k": x}
    with warnings.catch_warnings():
        warnings.simplefilter("error", WeightingWarning)
        w = prevalence_weights(base, SLEDAI)
    assert w.shape == (n,)
    assert w.sum() == pytest.approx(1.0)
    assert np.all(w >= 0)
    rep = match_report(base, w, SLEDAI)
    v = rep.variable("sledai2k")
    # measured (seed 11): uniform 0.36 -> ~0.01, lognormal 0.35 -> ~0.01
    assert v.ks_unweighted > 0.25
    assert v.ks_weighted < 0.05
    assert v.ks_weighted < v.ks_unweighted / 5
    tm, ts = NormalTarget(12.2, 3.3, lower=0.0).moments()
    assert v.mean_weighted == pytest.approx(tm, abs=0.3)
    assert v.sd_weighted == pytest.approx(ts, rel=0.08)
    assert rep.n_candidates == n
    assert rep.effective_n == pytest.approx(kish_effective_n(w))
    assert 200 < rep.effective_n < n


def test_two_variable_builtin_target_is_matched_on_both_variables() -> None:
    rng = np.random.default_rng(5)
    n = 5000
    base = {
        "sledai2k": rng.uniform(0.0, 30.0, n),
        "protein_24h_g": rng.lognormal(0.5, 1.0, n),
        "unused": rng.normal(size=n),
    }
    target = target_population("liang2010_refractory_ln")
    w = prevalence_weights(base, target)
    rep = match_report(base, w, target)
    assert [v.variable for v in rep.variables] == ["sledai2k", "protein_24h_g"]
    # measured (seed 5): SLEDAI 0.35 -> 0.04, protein 0.27 -> 0.02; effective N ~1300
    for v in rep.variables:
        assert v.ks_weighted < 0.05 < v.ks_unweighted
    assert rep.variable("protein_24h_g").mean_weighted == pytest.approx(2.505, rel=0.05)


def test_kish_effective_n_formula() -> None:
    assert kish_effective_n(np.array([1.0, 1.0, 2.0, 4.0])) == pytest.approx(64.0 / 22.0)
    assert kish_effective_n(np.full(7, 0.3)) == pytest.approx(7.0)
    assert kish_effective_n(np.array([0.0, 5.0, 0.0])) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        kish_effective_n(np.array([1.0, -1.0]))


def test_selection_without_replacement_is_unique_and_matches() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    x = rng.uniform(0.0, 30.0, n)
    base = {"sledai2k": x}
    w = prevalence_weights(base, SLEDAI)
    assert 1.0 / w.max() > 1000  # one acceptance-rejection pass yields > 1000 subjects
    with warnings.catch_warnings():
        warnings.simplefilter("error", WeightingWarning)
        idx = select_by_prevalence(w, 800, np.random.default_rng(4))
    assert idx.size == 800
    assert np.unique(idx).size == 800
    assert idx.min() >= 0 and idx.max() < n
    rep = match_report_selected(base, idx, SLEDAI)
    assert rep.kind == "selection"
    assert rep.effective_n == pytest.approx(800.0)
    v = rep.variable("sledai2k")
    # measured (seeds 3/4): 0.045; over 100 selection seeds mean 0.028, 95th centile 0.042
    # (i.i.d. draws of 800 from the target: mean 0.031); unweighted candidates: 0.36
    assert v.ks_weighted < 0.06
    assert v.ks_unweighted > 0.25
    # same seed, same selection
    assert np.array_equal(idx, select_by_prevalence(w, 800, np.random.default_rng(4)))


def test_selection_needing_several_passes_warns_and_stays_unique() -> None:
    w = np.array([1.0, 0.01, 0.01, 0.01, 0.0])
    with pytest.warns(WeightingWarning, match="passes"):
        idx = select_by_prevalence(w, 4, np.random.default_rng(0))
    assert idx.tolist() == [0, 1, 2, 3]


def test_asking_for_more_than_possible_raises_with_the_count() -> None:
    w = np.array([0.2, 0.0, 0.3, 0.0, 0.5, 0.0, 0.1, 0.1, 0.0, 0.2])
    with pytest.raises(ValueError, match=r"only 6 of 10 candidates") as err:
        select_by_prevalence(w, 7, np.random.default_rng(0))
    assert f"effective N = {kish_effective_n(w):.1f}" in str(err.value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeightingWarning)  # needs several passes
        every = select_by_prevalence(w, 6, np.random.default_rng(0))
    assert every.tolist() == [0, 2, 4, 6, 7, 9]


def test_multinomial_resampling_with_replacement() -> None:
    w = np.array([0.0, 0.7, 0.3])
    idx = select_by_prevalence(w, 2000, np.random.default_rng(9), replace=True)
    assert idx.size == 2000
    assert not np.any(idx == 0)
    assert np.mean(idx == 1) == pytest.approx(0.7, abs=0.04)
    base = {"sledai2k": np.array([1.0, 10.0, 14.0])}
    rep = match_report_selected(base, idx, SLEDAI)
    counts = np.bincount(idx, minlength=3)
    assert rep.effective_n == pytest.approx(counts.sum() ** 2 / np.sum(counts**2))


def test_empirical_target_is_matched() -> None:
    rng = np.random.default_rng(21)
    sample = rng.lognormal(0.8, 0.6, 300)
    target = TargetPopulation(
        name="test_empirical",
        description="synthetic",
        source="test",
        marginals={"upcr_g_per_g": EmpiricalTarget(tuple(sample))},
    )
    x = rng.lognormal(1.2, 1.0, 4000)
    base = {"upcr_g_per_g": x}
    w = prevalence_weights(base, target)
    v = match_report(base, w, target).variable("upcr_g_per_g")
    # measured (seed 21): 0.28 -> ~0.03
    assert v.ks_unweighted > 0.2
    assert v.ks_weighted < 0.06
    assert v.mean_weighted == pytest.approx(np.mean(sample), rel=0.05)
    assert v.sd_weighted == pytest.approx(np.std(sample, ddof=1), rel=0.1)


def test_weighted_ks_exact_values() -> None:
    e = EmpiricalTarget((1.0, 2.0))
    assert weighted_ks(np.array([1.0, 2.0]), None, e) == pytest.approx(0.0)
    assert weighted_ks(np.array([3.0, 4.0]), None, e) == pytest.approx(1.0)
    assert weighted_ks(np.array([1.0, 2.0]), np.array([0.75, 0.25]), e) == pytest.approx(0.25)
    n = NormalTarget(0.0, 1.0)
    # a single point at 0: the ECDF jumps 0 -> 1 where the CDF is 0.5
    assert weighted_ks(np.array([0.0]), None, n) == pytest.approx(0.5)
    # a large normal sample agrees with scipy's one-sample KS
    x = np.random.default_rng(0).normal(size=500)
    assert weighted_ks(x, None, n) == pytest.approx(stats.kstest(x, "norm").statistic)


def test_nan_rows_get_zero_weight_and_are_reported() -> None:
    rng = np.random.default_rng(7)
    x = rng.uniform(0.0, 30.0, 2000)
    x[[3, 50, 51]] = [np.nan, np.inf, -np.inf]
    base = {"sledai2k": x}
    with pytest.warns(WeightingWarning, match=r"3 of 2000 candidates .* \(indices 3, 50, 51\)"):
        w = prevalence_weights(base, SLEDAI)
    assert np.all(w[[3, 50, 51]] == 0.0)
    assert np.all(w[np.isfinite(x)] > 0)
    assert w.sum() == pytest.approx(1.0)
    rep = match_report(base, w, SLEDAI)
    assert rep.variable("sledai2k").n_finite == 1997
    assert rep.n_positive == 1997
    bad = w.copy()
    bad[3] = 0.01
    with pytest.raises(ValueError, match="non-finite"):
        match_report(base, bad, SLEDAI)


def test_max_weight_ratio_caps_and_reports() -> None:
    rng = np.random.default_rng(8)
    base = {"sledai2k": rng.uniform(0.0, 30.0, 2000)}
    w0 = prevalence_weights(base, SLEDAI)
    assert w0.max() / w0[w0 > 0].mean() > 2.5
    with pytest.warns(WeightingWarning, match="capped"):
        w = prevalence_weights(base, SLEDAI, max_weight_ratio=2.0)
    assert w.sum() == pytest.approx(1.0)
    assert w.max() / w[w > 0].mean() == pytest.approx(2.0, rel=1e-8)
    assert kish_effective_n(w) > kish_effective_n(w0)
    with pytest.raises(ValueError):
        prevalence_weights(base, SLEDAI, max_weight_ratio=0.5)


def test_candidates_outside_target_support_and_missing_variables() -> None:
    target = target_population("wen2019_refractory_sle")  # truncated below at 8
    x = np.random.default_rng(1).uniform(0.0, 40.0, 1500)
    w = prevalence_weights({"sledai2k": x}, target)
    assert np.all(w[x < 8.0] == 0.0)
    assert np.all(w[x > 8.0] > 0.0)
    with pytest.raises(ValueError, match="lacks"):
        prevalence_weights({"age_years": x}, target)
    with pytest.raises(ValueError, match="does not cover"):
        prevalence_weights({"sledai2k": np.linspace(1.0, 7.0, 50)}, target)


def test_reports_are_json_safe() -> None:
    rng = np.random.default_rng(2)
    base = {"upcr_g_per_g": rng.lognormal(1.0, 1.0, 1500), "age_years": rng.uniform(15, 70, 1500)}
    target = target_population("access_ln")
    w = prevalence_weights(base, target)
    rep = match_report(base, w, target)
    text = json.dumps(rep.to_dict(), allow_nan=False)
    assert json.loads(text)["target"] == "access_ln"
    idx = select_by_prevalence(w, 1, np.random.default_rng(0))
    one = match_report_selected(base, idx, target)  # one subject: weighted SD is 0
    json.dumps(one.to_dict(), allow_nan=False)
    for name in TARGET_POPULATIONS:
        json.dumps(target_population(name).to_dict(), allow_nan=False)


# --- built-in targets against the CSV, read independently here -------------------------


def _csv_row(row_id: str) -> pd.Series:
    rows = pd.read_csv(DATA / "targets.csv", dtype=str).set_index("id")
    return rows.loc[row_id]


def test_every_builtin_target_loads_with_sources_and_assumptions() -> None:
    assert set(TARGET_POPULATIONS) == {
        "liang2010_refractory_ln",
        "gu2014_refractory_ln",
        "wen2019_refractory_sle",
        "access_ln",
    }
    for name in TARGET_POPULATIONS:
        t = target_population(name)
        assert t.name == name
        assert t.source and t.description
        assert len(t.assumptions) >= 2
        for m in t.marginals.values():
            mean, sd = m.moments()
            assert math.isfinite(mean) and sd > 0
            assert m.describe()
    with pytest.raises(ValueError, match="known"):
        target_population("nope")


def test_liang2010_equals_rows_h1_h3() -> None:
    t = target_population("liang2010_refractory_ln")
    h1, h3 = _csv_row("H1"), _csv_row("H3")
    assert t.source == h1["source"] == h3["source"]
    s = t.marginals["sledai2k"]
    assert isinstance(s, NormalTarget)
    assert (s.mean, s.sd, s.lower) == (float(h1["value"]), float(h1["spread"]), 0.0)
    p = t.marginals["protein_24h_g"]
    assert isinstance(p, LogNormalTarget)
    assert h3["unit"] == "mg/day"
    mean, sd = p.moments()
    assert mean == pytest.approx(float(h3["value"]) / 1000.0, rel=1e-12)
    assert sd == pytest.approx(float(h3["spread"]) / 1000.0, rel=1e-12)


def test_gu2014_equals_row_h18() -> None:
    t = target_population("gu2014_refractory_ln")
    h18 = _csv_row("H18")
    assert t.source == h18["source"]
    g = t.marginals["egfr_ml_min_1_73m2"]
    assert isinstance(g, NormalTarget)
    assert (g.mean, g.sd, g.lower) == (float(h18["value"]), float(h18["spread"]), 0.0)
    assert any("1.73" in a for a in t.assumptions)


def test_wen2019_reproduces_median_and_range_of_row_h6() -> None:
    t = target_population("wen2019_refractory_sle")
    h6 = _csv_row("H6")
    assert t.source == h6["source"]
    lo, hi = (float(v) for v in h6["spread"].split("-"))
    n = int(h6["n"])
    s = t.marginals["sledai2k"]
    assert isinstance(s, LogNormalTarget)
    assert s.lower == lo
    assert float(s.cdf(lo)) == 0.0
    assert float(s.cdf(float(h6["value"]))) == pytest.approx(0.5, abs=1e-9)
    assert float(s.cdf(hi)) == pytest.approx((n - 0.375) / (n + 0.25), abs=1e-9)
    # density integrates to 1 over the support
    grid = np.linspace(lo, 400.0, 200_001)
    assert np.trapezoid(s.pdf(grid), grid) == pytest.approx(1.0, abs=1e-4)
    assert any("Hozo" in a for a in t.assumptions)


def test_access_equals_the_csv_baselines_and_ages() -> None:
    t = target_population("access_ln")
    d = pd.read_csv(DATA / "access_upcr.csv")
    pre = d[d["day"] <= 0].sort_values(["ID", "day"])
    baseline = pre.groupby("ID")["uPCR"].last()
    ages = d.groupby("ID")["Age (years)"].first()
    assert d.groupby("ID")["Age (years)"].nunique().max() == 1
    assert baseline.size == d["ID"].nunique() == 46
    u = t.marginals["upcr_g_per_g"]
    a = t.marginals["age_years"]
    assert isinstance(u, EmpiricalTarget) and isinstance(a, EmpiricalTarget)
    np.testing.assert_array_equal(u.array, np.sort(baseline.to_numpy(dtype=float)))
    np.testing.assert_array_equal(a.array, np.sort(ages.to_numpy(dtype=float)))
    assert _csv_row("S1")["source"] in t.source
    # cross-check with row S3 (placebo-arm baseline median, 2 decimals): 3.175 vs 3.18
    placebo = set(d.loc[d["group"] == "Placebo", "ID"])
    med = float(np.median(baseline[baseline.index.isin(placebo)]))
    assert med == pytest.approx(float(_csv_row("S3")["value"]), abs=0.0051)


def test_marginal_distributions_are_consistent() -> None:
    ln = LogNormalTarget.from_mean_sd(2.0, 1.0)
    m, s = ln.moments()
    assert (m, s) == (pytest.approx(2.0), pytest.approx(1.0))
    x = np.linspace(0.01, 30.0, 300_001)
    for marg in (ln, NormalTarget(5.0, 2.0, lower=0.0, upper=9.0), LogNormalTarget(0.5, 0.4, 1.5)):
        assert np.trapezoid(marg.pdf(x), x) == pytest.approx(1.0, abs=1e-3)
        c = marg.cdf(np.array([3.0]))
        assert c[0] == pytest.approx(np.trapezoid(marg.pdf(x[x <= 3.0]), x[x <= 3.0]), abs=1e-3)
        mean = np.trapezoid(x * marg.pdf(x), x)
        assert marg.moments()[0] == pytest.approx(mean, abs=1e-3)
    e = EmpiricalTarget((3.0, 1.0, 2.0, 2.0))
    assert e.values == (1.0, 2.0, 2.0, 3.0)
    assert e.cdf(np.array([0.5, 2.0, 3.0])).tolist() == [0.0, 0.75, 1.0]
    assert float(e.pdf(np.array([-1.0]))[0]) == 0.0
    with pytest.raises(ValueError):
        NormalTarget(1.0, 0.0)
    with pytest.raises(ValueError):
        NormalTarget(1.0, 1.0, lower=2.0, upper=1.0)
