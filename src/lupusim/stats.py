"""Statistics of virtual trials: estimates, two-arm comparisons, survival and power.

The trial analysis (:mod:`lupusim.trial`) computes its estimates with these, and the trial
report (:mod:`lupusim.report`) draws its Kaplan–Meier curves with them; the module imports
nothing else of lupusim, so both can use it.

Pure functions on numpy arrays and counts. Each returns a frozen :class:`Estimate` (one
arm) or :class:`Comparison` (two arms, or paired measurements), whose ``to_dict()`` is
JSON-safe: every non-finite float (NaN, and ±inf, e.g. an unreached median or an
unbounded ratio) is written as ``None``.

All intervals are two-sided 95 %. Degenerate input (empty arms, no events, zero
variance) never raises: the affected numbers are NaN and the ``method`` string says why.
Invalid input (negative counts, successes above n, arrays of different lengths) raises
:class:`ValueError`.

The survival functions need ``lifelines``, imported when they are called.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = [
    "Comparison",
    "Estimate",
    "KaplanMeier",
    "cox_hazard_ratio",
    "kaplan_meier",
    "logrank_p",
    "mean",
    "mean_difference",
    "median",
    "paired_mean_difference",
    "paired_proportion_difference",
    "power",
    "proportion",
    "proportion_difference",
    "rate_per_100py",
    "rate_ratio",
]

#: Two-sided 95 % standard normal quantile.
Z95 = float(stats.norm.ppf(0.975))
_ALPHA = 0.05
#: Above this total sample size the risk-difference p-value is the chi-square test.
FISHER_MAX_N = 2000

_NAN = float("nan")
_NAN_CI = (_NAN, _NAN)


# ---------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------


def _json_float(x: float) -> float | None:
    """``x`` as a float, or None when it is NaN or infinite (JSON has neither)."""
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95 % confidence interval.

    Attributes
    ----------
    estimate : float
        The point estimate (NaN when undefined).
    ci95 : tuple of float
        Lower and upper 95 % confidence limits (NaN when undefined).
    n : int
        The count the estimate rests on; each function's docstring says which.
    method : str
        How it was computed, with the source.
    """

    estimate: float
    ci95: tuple[float, float]
    n: int
    method: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; NaN and ±inf become None."""
        return {
            "estimate": _json_float(self.estimate),
            "ci95": [_json_float(self.ci95[0]), _json_float(self.ci95[1])],
            "n": int(self.n),
            "method": self.method,
        }


@dataclass(frozen=True)
class Comparison:
    """A between-arm (or paired) effect with its 95 % CI and two-sided p-value.

    Attributes
    ----------
    measure : str
        What ``difference`` holds: "risk_difference", "mean_difference", "median",
        "rate_ratio", "hazard_ratio".
    difference : float
        The effect (a difference or a ratio, per ``measure``); NaN when undefined.
    ci95 : tuple of float
        Its 95 % confidence limits.
    p_value : float
        Two-sided p-value (NaN when no test is defined).
    method : str
        Estimator, interval and test, with sources.
    paired : bool
        Whether the arms are the same subjects.
    """

    measure: str
    difference: float
    ci95: tuple[float, float]
    p_value: float
    method: str
    paired: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; NaN and ±inf become None."""
        return {
            "measure": self.measure,
            "difference": _json_float(self.difference),
            "ci95": [_json_float(self.ci95[0]), _json_float(self.ci95[1])],
            "p_value": _json_float(self.p_value),
            "method": self.method,
            "paired": bool(self.paired),
        }


# ---------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------


def _count(x: float, name: str) -> int:
    """A non-negative whole number as int, or ValueError."""
    xf = float(x)
    if not math.isfinite(xf) or xf < 0 or xf != math.floor(xf):
        raise ValueError(f"{name} must be a non-negative whole number, got {x!r}")
    return int(xf)


def _exposure(x: float, name: str) -> float:
    """A finite non-negative float, or ValueError."""
    xf = float(x)
    if not math.isfinite(xf) or xf < 0:
        raise ValueError(f"{name} must be finite and non-negative, got {x!r}")
    return xf


def _floats(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """A 1-D float array, or ValueError."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _bools(values: ArrayLike, name: str) -> NDArray[np.bool_]:
    """A 1-D bool array from bools or 0/1 numbers, or ValueError (NaN is not allowed)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr
    num = arr.astype(float)
    if not np.all((num == 0.0) | (num == 1.0)):
        raise ValueError(f"{name} must hold booleans or 0/1 values only")
    return num == 1.0


# ---------------------------------------------------------------------------------
# Proportions
# ---------------------------------------------------------------------------------


def _wilson(x: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval limits for x/n, n > 0 (Wilson 1927 JASA 22:209)."""
    p = x / n
    centre = (2 * n * p + z * z) / (2 * (n + z * z))
    half = z * math.sqrt(z * z + 4 * n * p * (1 - p)) / (2 * (n + z * z))
    lo = 0.0 if x == 0 else max(0.0, centre - half)
    hi = 1.0 if x == n else min(1.0, centre + half)
    return lo, hi


def proportion(successes: int, n: int) -> Estimate:
    """Proportion with the Wilson score 95 % CI.

    Wilson 1927 JASA 22:209; Newcombe 1998 Stat Med 17:857, method 3.
    ``n`` is the denominator; n = 0 gives NaN estimate and CI.
    """
    x, m = _count(successes, "successes"), _count(n, "n")
    if x > m:
        raise ValueError(f"successes ({x}) exceed n ({m})")
    method = "proportion; Wilson score CI (Wilson 1927 JASA 22:209)"
    if m == 0:
        return Estimate(_NAN, _NAN_CI, 0, method + "; n = 0: undefined")
    return Estimate(x / m, _wilson(x, m), m, method)


def proportion_difference(x1: int, n1: int, x2: int, n2: int) -> Comparison:
    """Risk difference p1 − p2 of independent arms with Newcombe's hybrid score CI.

    CI: Newcombe 1998 Stat Med 17:873, method 10 (square-and-add of Wilson limits).
    p: two-sided Fisher exact test (Fisher 1935 JRSS 98:39; scipy.stats.fisher_exact); when
    n1 + n2 > 2000, Pearson's chi-square test without continuity correction.
    An empty arm gives NaN difference, CI and p.
    """
    a, m1, b, m2 = _count(x1, "x1"), _count(n1, "n1"), _count(x2, "x2"), _count(n2, "n2")
    if a > m1 or b > m2:
        raise ValueError(f"successes exceed n: {a}/{m1}, {b}/{m2}")
    ci_method = "Newcombe hybrid score CI (Newcombe 1998 Stat Med 17:873, method 10)"
    if m1 == 0 or m2 == 0:
        return Comparison("risk_difference", _NAN, _NAN_CI, _NAN, ci_method + "; an arm is empty")
    p1, p2 = a / m1, b / m2
    l1, u1 = _wilson(a, m1)
    l2, u2 = _wilson(b, m2)
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    table = [[a, m1 - a], [b, m2 - b]]
    if m1 + m2 <= FISHER_MAX_N:
        p = float(stats.fisher_exact(table).pvalue)
        test = "two-sided Fisher exact p"
    else:
        test = f"Pearson chi-square p without continuity correction (n1 + n2 > {FISHER_MAX_N})"
        if a + b in (0, m1 + m2):  # a zero margin: no association is observable
            p = 1.0
        else:
            p = float(stats.chi2_contingency(table, correction=False).pvalue)
    return Comparison("risk_difference", d, (lo, hi), p, f"{ci_method}; {test}")


def paired_proportion_difference(a: ArrayLike, b: ArrayLike) -> Comparison:
    """Difference p_a − p_b of paired binary outcomes (same subjects).

    CI: Newcombe 1998 Stat Med 17:2635, method 10 (square-and-add of Wilson limits
    with the continuity-corrected phi correlation). p: exact McNemar test, the
    two-sided binomial test of the discordant pairs against 1/2 (McNemar 1947
    Psychometrika 12:153; scipy.stats.binomtest); p = 1 with no discordant pairs.
    No pairs gives NaN difference, CI and p.
    """
    xa, xb = _bools(a, "a"), _bools(b, "b")
    if xa.shape != xb.shape:
        raise ValueError(f"a and b differ in length: {xa.size} vs {xb.size}")
    n = int(xa.size)
    ci_method = "Newcombe paired square-and-add CI (Newcombe 1998 Stat Med 17:2635, method 10)"
    test = "exact McNemar p (binomial test on discordant pairs)"
    if n == 0:
        return Comparison(
            "risk_difference", _NAN, _NAN_CI, _NAN, ci_method + "; no pairs", paired=True
        )
    n11 = int(np.sum(xa & xb))
    n10 = int(np.sum(xa & ~xb))
    n01 = int(np.sum(~xa & xb))
    n00 = n - n11 - n10 - n01
    row1, row2, col1, col2 = n11 + n10, n01 + n00, n11 + n01, n10 + n00
    pa, pb = row1 / n, col1 / n
    la, ua = _wilson(row1, n)
    lb, ub = _wilson(col1, n)
    if 0 in (row1, row2, col1, col2):
        phi = 0.0
    else:
        cross = n11 * n00 - n10 * n01
        denom = math.sqrt(row1 * row2 * col1 * col2)
        if cross > n / 2:
            phi = (cross - n / 2) / denom
        elif cross >= 0:
            phi = 0.0
        else:
            phi = cross / denom
    d = pa - pb
    da, db = pa - la, ub - pb
    lo = d - math.sqrt(max(0.0, da * da + db * db - 2 * phi * da * db))
    ea, eb = ua - pa, pb - lb
    hi = d + math.sqrt(max(0.0, ea * ea + eb * eb - 2 * phi * ea * eb))
    discordant = n10 + n01
    p = 1.0 if discordant == 0 else float(stats.binomtest(n10, discordant, 0.5).pvalue)
    return Comparison("risk_difference", d, (lo, hi), p, f"{ci_method}; {test}", paired=True)


# ---------------------------------------------------------------------------------
# Means and medians
# ---------------------------------------------------------------------------------


def _finite(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """1-D float array with NaNs dropped (±inf is an error)."""
    arr = _floats(values, name)
    arr = arr[~np.isnan(arr)]
    if np.any(np.isinf(arr)):
        raise ValueError(f"{name} holds infinite values")
    return arr


def mean(values: ArrayLike) -> Estimate:
    """Arithmetic mean with the Student t 95 % CI (Student 1908 Biometrika 6:1).

    NaNs are dropped; ``n`` counts the non-NaN values. n < 2 gives a NaN CI
    (n = 0 also a NaN mean).
    """
    x = _finite(values, "values")
    n = int(x.size)
    method = "mean; Student t CI (Student 1908 Biometrika 6:1)"
    if n == 0:
        return Estimate(_NAN, _NAN_CI, 0, method + "; no values")
    m = float(np.mean(x))
    if n < 2:
        return Estimate(m, _NAN_CI, n, method + "; n < 2: no CI")
    half = float(stats.t.ppf(0.975, n - 1)) * float(np.std(x, ddof=1)) / math.sqrt(n)
    return Estimate(m, (m - half, m + half), n, method)


def _constant(x: NDArray[np.float64]) -> bool:
    """All values equal up to floating-point rounding (relative 1e-12)."""
    if x.size == 0:
        return True
    scale = max(float(np.max(np.abs(x))), np.finfo(float).tiny)
    return float(np.ptp(x)) <= 1e-12 * scale


def mean_difference(a: ArrayLike, b: ArrayLike) -> Comparison:
    """Difference of means a − b of independent arms: Welch t test and CI.

    Welch 1947 Biometrika 34:28; degrees of freedom by Satterthwaite 1946 Biometrics
    Bull 2:110. NaNs are dropped. An arm with < 2 values, or zero variance in both,
    gives NaN CI and p.
    """
    x, y = _finite(a, "a"), _finite(b, "b")
    n1, n2 = int(x.size), int(y.size)
    method = (
        "Welch t test and Welch-Satterthwaite CI (Welch 1947 Biometrika 34:28; "
        "Satterthwaite 1946 Biometrics Bull 2:110)"
    )
    d = float(np.mean(x) - np.mean(y)) if n1 and n2 else _NAN
    if n1 < 2 or n2 < 2:
        return Comparison("mean_difference", d, _NAN_CI, _NAN, method + "; an arm has n < 2")
    v1, v2 = float(np.var(x, ddof=1)) / n1, float(np.var(y, ddof=1)) / n2
    se2 = v1 + v2
    if se2 == 0.0 or (_constant(x) and _constant(y)):
        return Comparison("mean_difference", d, _NAN_CI, _NAN, method + "; zero variance")
    df = se2**2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    se = math.sqrt(se2)
    half = float(stats.t.ppf(0.975, df)) * se
    p = float(2 * stats.t.sf(abs(d) / se, df))
    return Comparison("mean_difference", d, (d - half, d + half), p, method)


def paired_mean_difference(a: ArrayLike, b: ArrayLike) -> Comparison:
    """Mean of paired differences a − b: paired t test and Student t CI.

    Student 1908 Biometrika 6:1 applied to the differences. Pairs with a NaN in
    either member are dropped. Fewer than 2 pairs, or differences with zero variance,
    give NaN CI and p.
    """
    x, y = _floats(a, "a"), _floats(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"a and b differ in length: {x.size} vs {y.size}")
    keep = ~(np.isnan(x) | np.isnan(y))
    diff = x[keep] - y[keep]
    if np.any(np.isinf(diff)):
        raise ValueError("a or b holds infinite values")
    n = int(diff.size)
    method = "paired t test and t CI of the differences (Student 1908 Biometrika 6:1)"
    if n == 0:
        return Comparison(
            "mean_difference", _NAN, _NAN_CI, _NAN, method + "; no complete pairs", True
        )
    d = float(np.mean(diff))
    if n < 2:
        return Comparison("mean_difference", d, _NAN_CI, _NAN, method + "; n < 2", True)
    sd = float(np.std(diff, ddof=1))
    x_all = np.concatenate([np.asarray(a, dtype=float), np.asarray(b, dtype=float)])
    scale = float(np.nanmax(np.abs(x_all))) if np.isfinite(x_all).any() else 0.0
    if sd == 0.0 or float(np.ptp(diff)) <= 1e-12 * max(scale, np.finfo(float).tiny):
        return Comparison("mean_difference", d, _NAN_CI, _NAN, method + "; zero variance", True)
    se = sd / math.sqrt(n)
    half = float(stats.t.ppf(0.975, n - 1)) * se
    p = float(2 * stats.t.sf(abs(d) / se, n - 1))
    return Comparison("mean_difference", d, (d - half, d + half), p, method, True)


def median(values: ArrayLike) -> Estimate:
    """Sample median with the distribution-free order-statistic 95 % CI.

    The CI is [x_(r), x_(n−r+1)] with r the largest rank such that
    P(B ≤ r − 1) ≤ 0.025 for B ~ Binomial(n, 1/2), so coverage is ≥ 95 % for any
    continuous distribution (Conover 1999 Practical Nonparametric Statistics §3.2;
    Campbell & Gardner 1988 BMJ 296:1454). NaNs are dropped; ``n`` counts the rest.
    For n ≤ 5 no such interval exists and the CI is NaN.
    """
    x = np.sort(_finite(values, "values"))
    n = int(x.size)
    method = (
        "median; distribution-free binomial order-statistic CI "
        "(Conover 1999 Practical Nonparametric Statistics §3.2)"
    )
    if n == 0:
        return Estimate(_NAN, _NAN_CI, 0, method + "; no values")
    med = float(np.median(x))
    cdf = stats.binom.cdf(np.arange(n + 1), n, 0.5)
    r = int(np.sum(cdf <= _ALPHA / 2))  # ranks 1..r have P(B <= r - 1) <= 0.025
    if r == 0:
        return Estimate(med, _NAN_CI, n, method + "; n <= 5: no 95 % interval")
    return Estimate(med, (float(x[r - 1]), float(x[n - r])), n, method)


# ---------------------------------------------------------------------------------
# Rates
# ---------------------------------------------------------------------------------


def rate_per_100py(events: int, person_years: float) -> Estimate:
    """Event rate per 100 person-years with the exact Poisson 95 % CI.

    Garwood 1936 Biometrika 28:437 (chi-square form of the exact Poisson limits).
    ``n`` is the number of events. Zero person-years gives NaN rate and CI.
    """
    e = _count(events, "events")
    py = _exposure(person_years, "person_years")
    method = "rate per 100 person-years; exact Poisson CI (Garwood 1936 Biometrika 28:437)"
    if py == 0.0:
        return Estimate(_NAN, _NAN_CI, e, method + "; zero person-years")
    lo = 0.0 if e == 0 else float(stats.chi2.ppf(_ALPHA / 2, 2 * e)) / 2
    hi = float(stats.chi2.ppf(1 - _ALPHA / 2, 2 * e + 2)) / 2
    scale = 100.0 / py
    return Estimate(e * scale, (lo * scale, hi * scale), e, method)


def rate_ratio(events1: int, py1: float, events2: int, py2: float) -> Comparison:
    """Rate ratio (events1/py1) / (events2/py2) with exact conditional CI and p.

    Given the total count, events1 ~ Binomial(events1 + events2, π) with
    π = R·py1 / (R·py1 + py2). The CI maps the Clopper-Pearson limits of π to R;
    p is the two-sided exact binomial test of π = py1 / (py1 + py2) (Breslow & Day
    1987 Statistical Methods in Cancer Research vol II, IARC Sci Publ 82;
    Clopper & Pearson 1934 Biometrika 26:404). events2 = 0 gives an infinite
    ratio and upper limit; no events at all gives NaN ratio and CI with p = 1;
    zero person-years in an arm gives NaN everywhere.
    """
    e1, e2 = _count(events1, "events1"), _count(events2, "events2")
    t1, t2 = _exposure(py1, "py1"), _exposure(py2, "py2")
    method = (
        "rate ratio; exact conditional binomial CI and p (Breslow & Day 1987 vol II; "
        "Clopper & Pearson 1934 Biometrika 26:404)"
    )
    if t1 == 0.0 or t2 == 0.0:
        return Comparison("rate_ratio", _NAN, _NAN_CI, _NAN, method + "; zero person-years")
    m = e1 + e2
    if m == 0:
        return Comparison(
            "rate_ratio", _NAN, _NAN_CI, 1.0, method + "; no events: ratio undefined, p = 1"
        )
    ratio = math.inf if e2 == 0 else (e1 / t1) / (e2 / t2)
    pi_lo = 0.0 if e1 == 0 else float(stats.beta.ppf(_ALPHA / 2, e1, m - e1 + 1))
    pi_hi = 1.0 if e1 == m else float(stats.beta.ppf(1 - _ALPHA / 2, e1 + 1, m - e1))

    def to_ratio(pi: float) -> float:
        return math.inf if pi >= 1.0 else pi / (1.0 - pi) * t2 / t1

    p = float(stats.binomtest(e1, m, t1 / (t1 + t2)).pvalue)
    return Comparison("rate_ratio", ratio, (to_ratio(pi_lo), to_ratio(pi_hi)), p, method)


# ---------------------------------------------------------------------------------
# Survival
# ---------------------------------------------------------------------------------


def _survival_input(
    time: ArrayLike, event: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Validated (time, event) arrays: equal length, times finite and ≥ 0."""
    t = _floats(time, "time")
    e = _bools(event, "event")
    if t.shape != e.shape:
        raise ValueError(f"time and event differ in length: {t.size} vs {e.size}")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("time must be finite and non-negative")
    return t, e


@dataclass(frozen=True, eq=False)
class KaplanMeier:
    """A Kaplan-Meier curve with pointwise 95 % CI (exponential Greenwood).

    Attributes
    ----------
    timeline : ndarray
        Times (0 and every observed time), ascending.
    survival, ci_lower, ci_upper : ndarray
        Survival and its pointwise 95 % limits on ``timeline`` (right-continuous steps).
    median : float
        Median survival time; inf when the curve does not reach 0.5.
    median_ci95 : tuple of float
        Times at which the pointwise limits reach 0.5 (inf when they do not).
    n : int
        Number of subjects.
    last_time : float
        Largest observed time; the curve is undefined beyond it.
    """

    timeline: NDArray[np.float64]
    survival: NDArray[np.float64]
    ci_lower: NDArray[np.float64]
    ci_upper: NDArray[np.float64]
    median: float
    median_ci95: tuple[float, float]
    n: int
    last_time: float

    def at(self, t: float) -> Estimate:
        """Survival probability at time ``t`` with its pointwise 95 % CI.

        Kaplan & Meier 1958 JASA 53:457; CI by the exponential Greenwood formula
        (Kalbfleisch & Prentice 2002 The Statistical Analysis of Failure
        Time Data, 2nd ed., as in lifelines). ``n`` is the number of
        subjects. NaN for t beyond the last observed time; t < 0 is an error.
        """
        tf = float(t)
        if not math.isfinite(tf) or tf < 0:
            raise ValueError(f"t must be finite and non-negative, got {t!r}")
        method = (
            "Kaplan-Meier (Kaplan & Meier 1958 JASA 53:457); exponential Greenwood CI "
            "(Kalbfleisch & Prentice 2002)"
        )
        if self.n == 0 or tf > self.last_time:
            return Estimate(_NAN, _NAN_CI, self.n, method + "; beyond follow-up")
        i = int(np.searchsorted(self.timeline, tf, side="right")) - 1
        return Estimate(
            float(self.survival[i]),
            (float(self.ci_lower[i]), float(self.ci_upper[i])),
            self.n,
            method,
        )


def kaplan_meier(time: ArrayLike, event: ArrayLike) -> KaplanMeier:
    """Kaplan-Meier estimate via lifelines' KaplanMeierFitter.

    Kaplan & Meier 1958 JASA 53:457; pointwise CI by the exponential ("log-log")
    Greenwood formula (Kalbfleisch & Prentice 2002); median CI where the
    pointwise limits cross 0.5 (lifelines.utils.median_survival_times; cf. Brookmeyer &
    Crowley 1982 Biometrics 38:29). ``event`` is True for an event, False for censoring.
    """
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    t, e = _survival_input(time, event)
    if t.size == 0:
        empty = np.array([], dtype=float)
        return KaplanMeier(empty, empty, empty, empty, _NAN, _NAN_CI, 0, _NAN)
    kmf = KaplanMeierFitter(alpha=_ALPHA).fit(t, event_observed=e)
    ci = kmf.confidence_interval_
    med_ci = median_survival_times(ci)
    return KaplanMeier(
        timeline=np.asarray(kmf.timeline, dtype=float),
        survival=kmf.survival_function_.iloc[:, 0].to_numpy(dtype=float),
        ci_lower=ci.iloc[:, 0].to_numpy(dtype=float),
        ci_upper=ci.iloc[:, 1].to_numpy(dtype=float),
        median=float(kmf.median_survival_time_),
        median_ci95=(float(med_ci.iloc[0, 0]), float(med_ci.iloc[0, 1])),
        n=int(t.size),
        last_time=float(np.max(t)),
    )


def _two_groups(
    time: ArrayLike, event: ArrayLike, group: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_], str | None]:
    """Validated arrays and, when no two-group test is defined, the reason."""
    t, e = _survival_input(time, event)
    g = _bools(group, "group")
    if g.shape != t.shape:
        raise ValueError(f"group and time differ in length: {g.size} vs {t.size}")
    if g.all() or not g.any():
        return t, e, g, "one group is empty"
    if not e.any():
        return t, e, g, "no events"
    return t, e, g, None


def logrank_p(time: ArrayLike, event: ArrayLike, group: ArrayLike) -> float:
    """Two-sided log-rank p-value, group True vs False (NaN when undefined).

    Mantel 1966 Cancer Chemother Rep 50:163; Peto & Peto 1972 JRSS A 135:185;
    computed by lifelines.statistics.logrank_test. NaN when a group is empty or
    there are no events.
    """
    from lifelines.statistics import logrank_test

    t, e, g, why = _two_groups(time, event, group)
    if why is not None:
        return _NAN
    res = logrank_test(t[g], t[~g], event_observed_A=e[g], event_observed_B=e[~g])
    return float(res.p_value)


def cox_hazard_ratio(time: ArrayLike, event: ArrayLike, group: ArrayLike) -> Comparison:
    """Hazard ratio group True vs False from a Cox model, Wald CI and p.

    Cox 1972 JRSS B 34:187, Efron 1977 JASA 72:557 ties, fitted by lifelines'
    CoxPHFitter. When the ratio is not estimable (an empty group, no events, no
    events in one group, or a fit that does not converge, e.g. separation) the ratio
    and CI are NaN and p is the log-rank p (:func:`logrank_p`) where that is defined,
    else NaN; the method string says which.
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning

    method = "Cox proportional hazards (Cox 1972 JRSS B 34:187), Efron ties; Wald CI and p"
    t, e, g, why = _two_groups(time, event, group)
    if why is not None:
        return Comparison("hazard_ratio", _NAN, _NAN_CI, _NAN, f"{method}; {why}: not estimable")
    if not e[g].any() or not e[~g].any():
        why = "no events in one group"
    else:
        import pandas as pd

        df = pd.DataFrame({"time": t, "event": e.astype(int), "group": g.astype(float)})
        try:
            with warnings.catch_warnings():
                # Convergence trouble (separation, low variance) is handled below.
                warnings.simplefilter("error", ConvergenceWarning)
                cph = CoxPHFitter().fit(df, duration_col="time", event_col="event")
            coef = float(cph.params_["group"])
            se = float(cph.standard_errors_["group"])
            p = float(cph.summary.loc["group", "p"])
        except (ConvergenceWarning, ConvergenceError) as exc:
            why = f"Cox fit failed to converge ({type(exc).__name__})"
        else:
            if math.isfinite(coef) and math.isfinite(se) and math.isfinite(p):
                ci = (math.exp(coef - Z95 * se), math.exp(coef + Z95 * se))
                return Comparison("hazard_ratio", math.exp(coef), ci, p, method)
            why = "Cox fit gave a non-finite estimate"
    p_lr = logrank_p(t, e, g)
    return Comparison(
        "hazard_ratio",
        _NAN,
        _NAN_CI,
        p_lr,
        f"{method}; {why}: ratio not estimable, log-rank p (Mantel 1966)",
    )


# ---------------------------------------------------------------------------------
# Power
# ---------------------------------------------------------------------------------


def power(p_values: ArrayLike, alpha: float = _ALPHA) -> Estimate:
    """Empirical power: the share of simulated trials with p < alpha, Wilson 95 % CI.

    Wilson 1927 JASA 22:209. A NaN p-value (no test defined, e.g. no events) counts
    as not significant; ``n`` is the number of trials, NaNs included.
    """
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    p = _floats(p_values, "p_values")
    significant = int(np.sum(np.nan_to_num(p, nan=1.0) < alpha))
    est = proportion(significant, int(p.size))
    method = (
        f"share of p < {alpha:g} (NaN p counted as not significant); "
        "Wilson score CI (Wilson 1927 JASA 22:209)"
    )
    return Estimate(est.estimate, est.ci95, est.n, method)
