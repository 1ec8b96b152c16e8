"""Statistics of virtual trials: published values, other implementations, coverage."""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from lupusim import stats as S


def _json_roundtrip(obj: S.Estimate | S.Comparison) -> dict[str, object]:
    out: dict[str, object] = json.loads(json.dumps(obj.to_dict(), allow_nan=False))
    return out


# --------------------------------------------------------------------------- proportions


@pytest.mark.parametrize(
    ("x", "n", "lo", "hi"),
    [
        # Newcombe 1998 Stat Med 17:857, worked examples for the Wilson score interval.
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_1998_single_proportion_examples(
    x: int, n: int, lo: float, hi: float
) -> None:
    est = S.proportion(x, n)
    assert est.estimate == pytest.approx(x / n)
    assert est.n == n
    assert est.ci95 == pytest.approx((lo, hi), abs=5e-5)


def test_wilson_agrees_with_statsmodels() -> None:
    sp = pytest.importorskip("statsmodels.stats.proportion")
    for x, n in [(0, 1), (1, 1), (3, 7), (0, 50), (50, 50), (17, 40), (999, 1000)]:
        lo, hi = sp.proportion_confint(x, n, alpha=0.05, method="wilson")
        assert S.proportion(x, n).ci95 == pytest.approx((lo, hi), abs=1e-10)


def test_wilson_covers_true_p_in_simulation() -> None:
    rng = np.random.default_rng(20240501)
    p, n = 0.3, 40
    draws = rng.binomial(n, p, size=2000)
    covered = [lo <= p <= hi for lo, hi in (S.proportion(int(k), n).ci95 for k in draws)]
    assert np.mean(covered) >= 0.93


def test_proportion_empty_is_nan_and_invalid_raises() -> None:
    est = S.proportion(0, 0)
    assert math.isnan(est.estimate) and all(math.isnan(v) for v in est.ci95)
    assert _json_roundtrip(est)["estimate"] is None
    with pytest.raises(ValueError):
        S.proportion(5, 4)
    with pytest.raises(ValueError):
        S.proportion(-1, 4)
    with pytest.raises(ValueError):
        S.proportion(1.5, 4)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "d", "lo", "hi"),
    [
        # Newcombe 1998 Stat Med 17:873, Table II, method 10.
        (56, 70, 48, 80, 0.2000, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.6000, 0.1705, 0.8090),
        (5, 56, 0, 29, 0.0893, -0.0381, 0.1926),
        (0, 10, 0, 20, 0.0000, -0.1611, 0.2775),
        (10, 10, 0, 20, 1.0000, 0.6791, 1.0000),
        # Also reproduced by DescTools' BinomDiffCI(method="score") tests.
        (84, 101, 89, 105, -0.0159, -0.1177, 0.0851),
    ],
)
def test_newcombe_difference_matches_published_table(
    x1: int, n1: int, x2: int, n2: int, d: float, lo: float, hi: float
) -> None:
    c = S.proportion_difference(x1, n1, x2, n2)
    assert c.measure == "risk_difference" and not c.paired
    assert c.difference == pytest.approx(d, abs=5e-5)
    assert c.ci95 == pytest.approx((lo, hi), abs=5e-5)
    assert "Fisher" in c.method


def test_newcombe_difference_agrees_with_statsmodels_and_fisher() -> None:
    sp = pytest.importorskip("statsmodels.stats.proportion")
    for x1, n1, x2, n2 in [(56, 70, 48, 80), (3, 25, 11, 24), (0, 15, 4, 15), (40, 40, 1, 3)]:
        c = S.proportion_difference(x1, n1, x2, n2)
        lo, hi = sp.confint_proportions_2indep(x1, n1, x2, n2, method="newcomb")
        assert c.ci95 == pytest.approx((lo, hi), abs=1e-10)
        table = [[x1, n1 - x1], [x2, n2 - x2]]
        assert c.p_value == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-12)


def test_large_trial_difference_uses_uncorrected_chi_square() -> None:
    sp = pytest.importorskip("statsmodels.stats.proportion")
    c = S.proportion_difference(560, 1200, 500, 1200)
    assert "chi-square" in c.method and "Fisher" not in c.method
    # The uncorrected Pearson chi-square equals the pooled two-proportion z test.
    _, p_z = sp.proportions_ztest([560, 500], [1200, 1200])
    assert c.p_value == pytest.approx(p_z, rel=1e-9)
    # ...and differs from Fisher's exact p, so the switch is observable.
    table = [[560, 640], [500, 700]]
    assert c.p_value != pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-3)
    assert S.proportion_difference(0, 1500, 0, 1500).p_value == 1.0


def test_newcombe_difference_covers_truth_in_simulation() -> None:
    rng = np.random.default_rng(7)
    p1, p2, n1, n2 = 0.45, 0.25, 60, 50
    draws = Counter(
        zip(rng.binomial(n1, p1, size=2000), rng.binomial(n2, p2, size=2000), strict=True)
    )
    hits = 0
    for (a, b), times in draws.items():  # each distinct table once
        lo, hi = S.proportion_difference(int(a), n1, int(b), n2).ci95
        hits += times * (lo <= p1 - p2 <= hi)
    assert hits / 2000 >= 0.93


def test_proportion_difference_empty_arm_is_nan() -> None:
    c = S.proportion_difference(0, 0, 3, 10)
    assert math.isnan(c.difference) and math.isnan(c.p_value)
    assert _json_roundtrip(c)["ci95"] == [None, None]


# --------------------------------------------------------------------------- paired proportions


def _paired(n11: int, n10: int, n01: int, n00: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([True] * n11 + [True] * n10 + [False] * n01 + [False] * n00)
    b = np.array([True] * n11 + [False] * n10 + [True] * n01 + [False] * n00)
    return a, b


def test_paired_difference_matches_fagerland_textbook_example() -> None:
    # Fagerland, Lydersen & Laake 2017 "Statistical Analysis of Contingency Tables",
    # ch. 8 (Cavo et al. 2012 complete response): table [[59, 6], [16, 80]].
    # Newcombe square-and-add: -0.0621 (-0.1186 to -0.0046); exact McNemar P = 0.052479.
    a, b = _paired(59, 6, 16, 80)
    c = S.paired_proportion_difference(a, b)
    assert c.paired and c.measure == "risk_difference"
    assert c.difference == pytest.approx(-10 / 161)
    assert c.ci95 == pytest.approx((-0.1186, -0.0046), abs=5e-5)
    assert c.p_value == pytest.approx(0.052479, abs=5e-7)


def test_paired_p_agrees_with_statsmodels_exact_mcnemar() -> None:
    ct = pytest.importorskip("statsmodels.stats.contingency_tables")
    for cells in [(59, 6, 16, 80), (10, 1, 9, 3), (0, 5, 0, 5), (20, 12, 13, 1)]:
        a, b = _paired(*cells)
        ref = ct.mcnemar([[cells[0], cells[1]], [cells[2], cells[3]]], exact=True).pvalue
        assert S.paired_proportion_difference(a, b).p_value == pytest.approx(ref, rel=1e-12)


def test_paired_difference_properties() -> None:
    a, b = _paired(30, 9, 3, 18)
    c = S.paired_proportion_difference(a, b)
    assert c.ci95[0] < c.difference < c.ci95[1]
    big = S.paired_proportion_difference(np.tile(a, 4), np.tile(b, 4))
    assert big.difference == pytest.approx(c.difference)
    assert big.ci95[1] - big.ci95[0] < c.ci95[1] - c.ci95[0]
    # Positive correlation narrows the paired interval below the unpaired one.
    unpaired = S.proportion_difference(int(a.sum()), a.size, int(b.sum()), b.size)
    assert c.ci95[1] - c.ci95[0] < unpaired.ci95[1] - unpaired.ci95[0]
    # No discordant pairs: p = 1 and a zero difference inside its interval.
    same = S.paired_proportion_difference(a, a)
    assert same.p_value == 1.0 and same.difference == 0.0
    assert same.ci95[0] < 0.0 < same.ci95[1]
    # 0/1 numbers are accepted; NaN or other values are refused.
    assert S.paired_proportion_difference(a.astype(int), b.astype(float)) == c
    with pytest.raises(ValueError):
        S.paired_proportion_difference([1.0, np.nan], [1.0, 0.0])
    with pytest.raises(ValueError):
        S.paired_proportion_difference([True], [True, False])


def test_paired_difference_no_pairs_is_nan() -> None:
    c = S.paired_proportion_difference(np.array([], bool), np.array([], bool))
    assert math.isnan(c.difference) and math.isnan(c.p_value)


# --------------------------------------------------------------------------- means


def test_mean_t_interval_agrees_with_statsmodels_and_drops_nan() -> None:
    ws = pytest.importorskip("statsmodels.stats.weightstats")
    x = np.array([3.1, 4.7, 2.2, np.nan, 5.9, 4.4, 3.3])
    est = S.mean(x)
    clean = x[~np.isnan(x)]
    assert est.n == 6
    assert est.estimate == pytest.approx(clean.mean())
    assert est.ci95 == pytest.approx(ws.DescrStatsW(clean).tconfint_mean(), rel=1e-12)
    one = S.mean([2.0, np.nan])
    assert one.estimate == 2.0 and one.n == 1 and math.isnan(one.ci95[0])
    assert math.isnan(S.mean([]).estimate)


def test_welch_difference_agrees_with_scipy_and_statsmodels() -> None:
    ws = pytest.importorskip("statsmodels.stats.weightstats")
    rng = np.random.default_rng(3)
    a = rng.normal(1.0, 1.0, 25)
    b = rng.normal(0.0, 3.0, 60)
    c = S.mean_difference(np.append(a, np.nan), b)
    assert c.measure == "mean_difference" and not c.paired
    assert c.difference == pytest.approx(a.mean() - b.mean())
    assert c.p_value == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-10)
    cm = ws.CompareMeans(ws.DescrStatsW(a), ws.DescrStatsW(b))
    assert c.ci95 == pytest.approx(cm.tconfint_diff(usevar="unequal"), rel=1e-10)


def test_welch_degenerate_cases_are_nan() -> None:
    c = S.mean_difference([1.0, 1.0, 1.0], [2.0, 2.0])
    assert c.difference == -1.0 and math.isnan(c.p_value) and math.isnan(c.ci95[0])
    assert math.isnan(S.mean_difference([1.0], [2.0, 3.0]).p_value)


def test_paired_t_agrees_with_scipy_and_drops_incomplete_pairs() -> None:
    a = np.array([5.1, 6.3, 4.8, 7.2, np.nan, 5.5, 6.0])
    b = np.array([4.9, 5.1, 4.9, 6.0, 3.0, np.nan, 5.2])
    c = S.paired_mean_difference(a, b)
    keep = ~(np.isnan(a) | np.isnan(b))
    res = stats.ttest_rel(a[keep], b[keep])
    assert c.paired
    assert c.difference == pytest.approx(np.mean(a[keep] - b[keep]))
    assert c.p_value == pytest.approx(res.pvalue, rel=1e-10)
    ci = res.confidence_interval(0.95)
    assert c.ci95 == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert math.isnan(S.paired_mean_difference([1.0, 2.0], [0.0, 1.0]).p_value)  # zero sd
    with pytest.raises(ValueError):
        S.paired_mean_difference([1.0, 2.0], [1.0])


# --------------------------------------------------------------------------- medians


@pytest.mark.parametrize(("n", "r", "s"), [(6, 1, 6), (10, 2, 9), (20, 6, 15), (30, 10, 21)])
def test_median_ci_uses_published_ranks(n: int, r: int, s: int) -> None:
    # Ranks of the 95 % distribution-free CI for the median: Campbell & Gardner 1988
    # BMJ 296:1454, Table (n=10: 2nd and 9th; n=20: 6th and 15th; n=30: 10th and 21st).
    x = np.arange(1.0, n + 1) ** 2  # x_(k) = k², so the limits reveal the ranks
    est = S.median(x[::-1])
    assert est.ci95 == (float(r**2), float(s**2))
    assert est.estimate == pytest.approx(np.median(x))


def test_median_ci_agrees_with_scipy_quantile_test() -> None:
    rng = np.random.default_rng(11)
    for n in (7, 15, 31, 100):
        x = rng.lognormal(1.0, 1.2, n)
        ci = stats.quantile_test(x, q=float(np.median(x)), p=0.5).confidence_interval(0.95)
        assert S.median(x).ci95 == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_median_ci_covers_in_simulation_and_small_n_is_nan() -> None:
    rng = np.random.default_rng(5)
    true_median = math.exp(2.0)  # lognormal(2, 1): skewed like cumulative glucocorticoid
    hits = 0
    for _ in range(1500):
        lo, hi = S.median(rng.lognormal(2.0, 1.0, 25)).ci95
        hits += lo <= true_median <= hi
    assert hits / 1500 >= 0.94
    small = S.median([3.0, 1.0, np.nan, 2.0, 5.0, 4.0])
    assert small.n == 5 and small.estimate == 3.0 and math.isnan(small.ci95[0])


# --------------------------------------------------------------------------- rates


@pytest.mark.parametrize(
    ("events", "lo", "hi"),
    # Exact (Garwood 1936) 95 % Poisson limits for the count.
    [(0, 0.0, 3.6889), (1, 0.0253, 5.5716), (2, 0.2422, 7.2247), (10, 4.7954, 18.3904)],
)
def test_garwood_limits_match_tables(events: int, lo: float, hi: float) -> None:
    est = S.rate_per_100py(events, 1.0)
    assert est.estimate == pytest.approx(100.0 * events)
    assert est.ci95 == pytest.approx((100 * lo, 100 * hi), abs=5e-3)
    assert est.n == events


def test_rate_agrees_with_statsmodels_exact() -> None:
    rates = pytest.importorskip("statsmodels.stats.rates")
    for e, py in [(0, 12.5), (3, 40.0), (17, 230.2), (250, 1900.0)]:
        lo, hi = rates.confint_poisson(e, py, method="exact-c")
        assert S.rate_per_100py(e, py).ci95 == pytest.approx((100 * lo, 100 * hi), rel=1e-9)
    assert math.isnan(S.rate_per_100py(2, 0.0).estimate)
    with pytest.raises(ValueError):
        S.rate_per_100py(2, -1.0)


def test_rate_ratio_p_agrees_with_statsmodels_exact_conditional() -> None:
    rates = pytest.importorskip("statsmodels.stats.rates")
    for e1, t1, e2, t2 in [(10, 100.0, 3, 120.0), (4, 50.0, 9, 45.0), (0, 30.0, 6, 31.0)]:
        c = S.rate_ratio(e1, t1, e2, t2)
        ref = rates.test_poisson_2indep(e1, t1, e2, t2, method="exact-cond").pvalue
        assert c.p_value == pytest.approx(ref, rel=1e-10)
        assert c.difference == pytest.approx((e1 / t1) / (e2 / t2))


def test_rate_ratio_ci_inverts_the_exact_conditional_test() -> None:
    e1, t1, e2, t2 = 12, 80.0, 5, 95.0
    lo, hi = S.rate_ratio(e1, t1, e2, t2).ci95
    m = e1 + e2
    pi_lo = lo * t1 / (lo * t1 + t2)
    pi_hi = hi * t1 / (hi * t1 + t2)
    # At each limit the one-sided exact tail is exactly 2.5 %.
    assert stats.binom.sf(e1 - 1, m, pi_lo) == pytest.approx(0.025, rel=1e-8)
    assert stats.binom.cdf(e1, m, pi_hi) == pytest.approx(0.025, rel=1e-8)


def test_rate_ratio_covers_truth_in_simulation() -> None:
    rng = np.random.default_rng(99)
    r1, r2, t1, t2 = 0.3, 0.15, 40.0, 60.0
    draws = Counter(zip(rng.poisson(r1 * t1, 2000), rng.poisson(r2 * t2, 2000), strict=True))
    hits = 0
    for (e1, e2), times in draws.items():
        lo, hi = S.rate_ratio(int(e1), t1, int(e2), t2).ci95
        hits += times * (lo <= r1 / r2 <= hi)
    assert hits / 2000 >= 0.94  # the exact conditional interval is conservative


def test_rate_ratio_edge_cases_are_json_safe() -> None:
    inf = S.rate_ratio(4, 10.0, 0, 10.0)
    assert inf.difference == math.inf and inf.ci95[1] == math.inf and inf.ci95[0] > 0
    assert _json_roundtrip(inf)["ci95"] == [pytest.approx(inf.ci95[0]), None]
    none = S.rate_ratio(0, 10.0, 0, 12.0)
    assert math.isnan(none.difference) and none.p_value == 1.0
    assert math.isnan(S.rate_ratio(1, 0.0, 1, 2.0).p_value)


# --------------------------------------------------------------------------- survival


def test_km_hand_example_median_and_exponential_greenwood() -> None:
    pytest.importorskip("lifelines")
    km = S.kaplan_meier([5.0, 1.0, 3.0, 2.0, 4.0], [True] * 5)
    assert km.median == 3.0  # first time S(t) <= 0.5: S = 0.8, 0.6, 0.4, ...
    est = km.at(2.5)  # S = 0.6 on [2, 3)
    assert est.estimate == pytest.approx(0.6)
    # Exponential Greenwood (Kalbfleisch & Prentice 2002) by hand.
    greenwood = 1 / (5 * 4) + 1 / (4 * 3)
    centre = math.log(-math.log(0.6))
    half = S.Z95 * math.sqrt(greenwood) / abs(math.log(0.6))
    lo, hi = math.exp(-math.exp(centre + half)), math.exp(-math.exp(centre - half))
    assert est.ci95 == pytest.approx((lo, hi), rel=1e-9)
    assert math.isnan(km.at(5.5).estimate)  # beyond follow-up
    assert km.at(0.0).estimate == 1.0


def test_km_median_agrees_with_lifelines_and_unreached_is_inf() -> None:
    lifelines = pytest.importorskip("lifelines")
    from lifelines.utils import median_survival_times

    rng = np.random.default_rng(12)
    t = rng.exponential(10.0, 200)
    c = rng.uniform(0, 30, 200)
    time, event = np.minimum(t, c), t <= c
    km = S.kaplan_meier(time, event)
    ref = lifelines.KaplanMeierFitter().fit(time, event)
    ref_ci = median_survival_times(ref.confidence_interval_)
    assert km.median == ref.median_survival_time_
    assert km.median_ci95 == (ref_ci.iloc[0, 0], ref_ci.iloc[0, 1])
    assert km.median_ci95[0] < km.median < km.median_ci95[1]
    assert abs(km.median - 10.0 * math.log(2)) < 2.0  # true exponential median
    mostly_censored = S.kaplan_meier([1.0, 2.0, 3.0, 4.0], [True, False, False, False])
    assert mostly_censored.median == math.inf


def _exponential_trial(seed: int, n: int, hr: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    group = rng.random(n) < 0.5
    t = rng.exponential(1.0 / np.where(group, hr * 0.1, 0.1))
    c = rng.uniform(0.0, 20.0, n)
    return np.minimum(t, c), t <= c, group


def test_cox_hazard_ratio_recovers_true_ratio() -> None:
    pytest.importorskip("lifelines")
    time, event, group = _exponential_trial(2024, 3000, 2.0)
    c = S.cox_hazard_ratio(time, event, group)
    assert c.measure == "hazard_ratio"
    assert c.ci95[0] < 2.0 < c.ci95[1]
    assert abs(math.log(c.difference / 2.0)) < 0.12
    assert c.p_value < 1e-10
    lr = S.logrank_p(time, event, group)
    assert 0.0 <= lr < 1e-10
    null = S.cox_hazard_ratio(*_exponential_trial(2025, 3000, 1.0))
    assert null.ci95[0] < 1.0 < null.ci95[1]


def test_logrank_agrees_with_lifelines() -> None:
    pytest.importorskip("lifelines")
    from lifelines.statistics import logrank_test

    time, event, group = _exponential_trial(8, 120, 1.5)
    ref = logrank_test(time[group], time[~group], event[group], event[~group]).p_value
    assert S.logrank_p(time, event, group) == pytest.approx(ref, rel=1e-12)


def test_cox_degenerate_inputs_return_nan_without_raising_or_warning() -> None:
    pytest.importorskip("lifelines")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        no_events = S.cox_hazard_ratio([1.0, 2.0, 3.0, 4.0], [0, 0, 0, 0], [1, 0, 1, 0])
        one_group = S.cox_hazard_ratio([1.0, 2.0, 3.0], [1, 1, 1], [True, True, True])
        one_sided = S.cox_hazard_ratio([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 0], [1, 1, 0, 0])
        # Monotone likelihood: every event in group True precedes all of group False.
        separated = S.cox_hazard_ratio(
            [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1] * 8, [1, 1, 1, 0, 0, 0, 0, 0]
        )
    for c in (no_events, one_group):
        assert math.isnan(c.difference) and math.isnan(c.p_value)
        assert "not estimable" in c.method
    for c in (one_sided, separated):
        assert math.isnan(c.difference) and math.isnan(c.ci95[0])
        assert 0.0 < c.p_value < 1.0 and "log-rank" in c.method
    assert not caught, [str(w.message) for w in caught]
    assert "no events in one group" in one_sided.method
    assert "converge" in separated.method
    assert math.isnan(S.logrank_p([1.0, 2.0], [0, 0], [1, 0]))
    assert _json_roundtrip(separated)["difference"] is None


# --------------------------------------------------------------------------- power and results


def test_power_counts_nan_as_not_significant() -> None:
    est = S.power([0.01, 0.2, np.nan, 0.04, 0.05])
    assert est.n == 5
    assert est.estimate == pytest.approx(2 / 5)
    assert est.ci95 == S.proportion(2, 5).ci95
    assert "NaN" in est.method
    assert S.power([0.01, 0.2], alpha=0.25).estimate == 1.0
    with pytest.raises(ValueError):
        S.power([0.1], alpha=0.0)


def test_results_are_frozen_and_json_safe() -> None:
    est = S.proportion(3, 10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        est.estimate = 0.5  # type: ignore[misc]
    d = _json_roundtrip(est)
    assert d == {"estimate": 0.3, "ci95": list(est.ci95), "n": 10, "method": est.method}
    comp = S.proportion_difference(3, 10, 1, 10)
    assert set(_json_roundtrip(comp)) == {
        "measure",
        "difference",
        "ci95",
        "p_value",
        "method",
        "paired",
    }
    for obj in (
        S.proportion(0, 0),
        S.mean([]),
        S.median([1.0]),
        S.rate_ratio(0, 1.0, 0, 1.0),
        S.rate_ratio(3, 1.0, 0, 1.0),
        S.mean_difference([1.0], [2.0]),
        S.power([np.nan]),
    ):
        json.dumps(obj.to_dict(), allow_nan=False)  # raises on NaN or inf


def test_floating_point_dust_is_not_a_difference() -> None:
    """Equal values that differ only by rounding have zero variance, not p ≈ 0."""
    a = np.full(12, 5.255)
    b = np.full(6, 5.255) + np.array([0, 8.9e-16, 0, 0, 0, 0])
    cmp = S.mean_difference(a, b)
    assert np.isnan(cmp.p_value) and "zero variance" in cmp.method
    paired = S.paired_mean_difference(np.full(5, 5.255), np.full(5, 5.255) + 1e-15)
    assert np.isnan(paired.p_value)
