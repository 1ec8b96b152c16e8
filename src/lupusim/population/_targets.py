"""Published baseline distributions that a virtual population can be matched to.

A *target population* is a set of marginal distributions, one per baseline variable,
named by lupusim observable (``sledai2k`` in points, ``protein_24h_g`` in g/day,
``egfr_ml_min_1_73m2``, ``upcr_g_per_g``, ``age_years``). The built-in targets are built
from the package's copy of the science reference (``lupusim/data/targets.csv``, read by
row id, and ``lupusim/data/access_upcr.csv``); no number is typed in here. Every choice
the data do not make (distribution family, truncation, reading of a unit, independence
of variables) is written in the target's ``assumptions``.

Methods cited: Hozo, Djulbegovic & Hozo 2005 *BMC Med Res Methodol* 5:13 and Wan, Wang,
Liu & Tong 2014 *BMC Med Res Methodol* 14:135 (mean and SD from median and range; used
here only as a cross-check of the Wen 2019 construction); Blom 1958 (plotting position of
the sample maximum).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import optimize, stats

__all__ = [
    "TARGET_POPULATIONS",
    "EmpiricalTarget",
    "LogNormalTarget",
    "Marginal",
    "NormalTarget",
    "TargetPopulation",
    "target_population",
]

_INF = math.inf


def _bounds(lower: float | None, upper: float | None) -> tuple[float, float]:
    lo = -_INF if lower is None else float(lower)
    hi = _INF if upper is None else float(upper)
    if not lo < hi:
        raise ValueError(f"lower bound {lo} must be below upper bound {hi}")
    return lo, hi


def _fmt_bounds(lower: float | None, upper: float | None) -> str:
    if lower is None and upper is None:
        return ""
    lo = "-inf" if lower is None else f"{lower:g}"
    hi = "inf" if upper is None else f"{upper:g}"
    return f" truncated to [{lo}, {hi}]"


@dataclass(frozen=True)
class NormalTarget:
    """Normal distribution ``N(mean, sd²)``, truncated to ``[lower, upper]`` when bounds
    are given (``mean`` and ``sd`` are then the parent normal's location and scale; the
    truncated distribution's own moments are :meth:`moments`)."""

    mean: float
    sd: float
    lower: float | None = None
    upper: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mean) and math.isfinite(self.sd) and self.sd > 0):
            raise ValueError(f"NormalTarget needs a finite mean and sd > 0, got {self}")
        _bounds(self.lower, self.upper)

    def _dist(self) -> Any:
        lo, hi = _bounds(self.lower, self.upper)
        a, b = (lo - self.mean) / self.sd, (hi - self.mean) / self.sd
        return stats.truncnorm(a, b, loc=self.mean, scale=self.sd)

    def pdf(self, x: np.ndarray | float) -> np.ndarray:
        """Probability density at ``x`` (0 outside the bounds)."""
        return np.asarray(self._dist().pdf(np.asarray(x, dtype=float)), dtype=float)

    def logpdf(self, x: np.ndarray | float) -> np.ndarray:
        """Log density at ``x`` (-inf outside the bounds)."""
        return np.asarray(self._dist().logpdf(np.asarray(x, dtype=float)), dtype=float)

    def cdf(self, x: np.ndarray | float) -> np.ndarray:
        """Cumulative distribution function at ``x``."""
        return np.asarray(self._dist().cdf(np.asarray(x, dtype=float)), dtype=float)

    def moments(self) -> tuple[float, float]:
        """Mean and SD of the (truncated) distribution."""
        m, v = self._dist().stats(moments="mv")
        return float(m), float(np.sqrt(v))

    def describe(self) -> str:
        """One line: family, parameters and truncation."""
        return f"normal(mean={self.mean:g}, sd={self.sd:g}){_fmt_bounds(self.lower, self.upper)}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "family": "normal",
            "mean": self.mean,
            "sd": self.sd,
            "lower": self.lower,
            "upper": self.upper,
            "description": self.describe(),
        }


@dataclass(frozen=True)
class LogNormalTarget:
    """Log-normal distribution: ``log X ~ N(mu, sigma²)``, truncated to
    ``[lower, upper]`` when bounds are given. :meth:`from_mean_sd` moment-matches the
    (untruncated) distribution to a published mean and SD."""

    mu: float
    sigma: float
    lower: float | None = None
    upper: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mu) and math.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"LogNormalTarget needs a finite mu and sigma > 0, got {self}")
        _bounds(self.lower, self.upper)

    @classmethod
    def from_mean_sd(cls, mean: float, sd: float) -> LogNormalTarget:
        """The log-normal with this arithmetic mean and SD (method of moments):
        ``sigma² = log(1 + (sd/mean)²)``, ``mu = log(mean) - sigma²/2``."""
        if not (mean > 0 and sd > 0 and math.isfinite(mean) and math.isfinite(sd)):
            raise ValueError(
                f"log-normal moment matching needs mean > 0 and sd > 0, got {mean}, {sd}"
            )
        s2 = math.log1p((sd / mean) ** 2)
        return cls(mu=math.log(mean) - s2 / 2.0, sigma=math.sqrt(s2))

    def _log_bounds(self) -> tuple[float, float]:
        lo, hi = _bounds(self.lower, self.upper)
        llo = -_INF if lo <= 0 else math.log(lo)
        lhi = _INF if hi == _INF else (-_INF if hi <= 0 else math.log(hi))
        return llo, lhi

    def _mass(self) -> tuple[float, float, float]:
        """Parent-normal CDF at the log bounds and the mass kept by the truncation."""
        llo, lhi = self._log_bounds()
        plo = float(stats.norm.cdf((llo - self.mu) / self.sigma))
        phi = float(stats.norm.cdf((lhi - self.mu) / self.sigma))
        if phi - plo <= 0:
            raise ValueError(f"{self.describe()} keeps no probability mass")
        return plo, phi, phi - plo

    def pdf(self, x: np.ndarray | float) -> np.ndarray:
        """Probability density at ``x`` (0 for ``x <= 0`` and outside the bounds)."""
        return np.exp(self.logpdf(x))

    def logpdf(self, x: np.ndarray | float) -> np.ndarray:
        """Log density at ``x``."""
        x = np.asarray(x, dtype=float)
        lo, hi = _bounds(self.lower, self.upper)
        _, _, mass = self._mass()
        out = np.full(x.shape, -np.inf)
        ok = (x > 0) & (x >= lo) & (x <= hi)
        lx = np.log(x[ok])
        out[ok] = stats.norm.logpdf(lx, self.mu, self.sigma) - lx - math.log(mass)
        return out

    def cdf(self, x: np.ndarray | float) -> np.ndarray:
        """Cumulative distribution function at ``x``."""
        x = np.asarray(x, dtype=float)
        plo, _, mass = self._mass()
        with np.errstate(divide="ignore"):
            lx = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), -np.inf)
        p = (stats.norm.cdf((lx - self.mu) / self.sigma) - plo) / mass
        p = np.where(np.isnan(x), np.nan, p)
        return np.asarray(np.clip(p, 0.0, 1.0), dtype=float)

    def ppf(self, q: np.ndarray | float) -> np.ndarray:
        """Quantile function."""
        q = np.asarray(q, dtype=float)
        plo, _, mass = self._mass()
        z = stats.norm.ppf(plo + q * mass)
        return np.asarray(np.exp(self.mu + self.sigma * z), dtype=float)

    def moments(self) -> tuple[float, float]:
        """Mean and SD of the (truncated) distribution, in closed form:
        ``E[X^k] = exp(k mu + k² sigma²/2) [Φ(β - kσ) - Φ(α - kσ)] / [Φ(β) - Φ(α)]``."""
        llo, lhi = self._log_bounds()
        _, _, mass = self._mass()
        a, b = (llo - self.mu) / self.sigma, (lhi - self.mu) / self.sigma

        def raw(k: int) -> float:
            s = k * self.sigma
            kept = float(stats.norm.cdf(b - s) - stats.norm.cdf(a - s))
            return math.exp(k * self.mu + 0.5 * s * s) * kept / mass

        m1, m2 = raw(1), raw(2)
        return m1, math.sqrt(max(m2 - m1 * m1, 0.0))

    def describe(self) -> str:
        """One line: family, parameters, implied mean/SD and truncation."""
        m, s = self.moments()
        return (
            f"log-normal(mu={self.mu:.4g}, sigma={self.sigma:.4g}; median of parent "
            f"{math.exp(self.mu):.4g}, mean {m:.4g}, sd {s:.4g})"
            f"{_fmt_bounds(self.lower, self.upper)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        m, s = self.moments()
        return {
            "family": "lognormal",
            "mu": self.mu,
            "sigma": self.sigma,
            "lower": self.lower,
            "upper": self.upper,
            "mean": m,
            "sd": s,
            "description": self.describe(),
        }


@dataclass(frozen=True)
class EmpiricalTarget:
    """A sample of observed values (e.g. ACCESS baseline UPCR).

    :meth:`cdf` is the sample's empirical CDF (right-continuous), used for the
    two-sample KS distance. :meth:`pdf` is a Gaussian kernel density estimate of the
    sample (``bandwidth``: scipy's ``bw_method``), needed only for density ratios; for
    an all-positive sample the KDE is built on ``log x`` and mapped back with the
    Jacobian ``1/x``, so it puts no mass at ``x <= 0``. With ``variance_corrected``
    (default) the sample is first shrunk toward its mean by ``1/sqrt(1 + factor²)``
    so that the KDE keeps the sample's variance instead of inflating it by the kernel's
    (Silverman 1986, *Density Estimation for Statistics and Data Analysis*, §6.4.1);
    with small samples (n ≈ 50) the uncorrected KDE visibly widens the target.
    """

    values: tuple[float, ...]
    bandwidth: str | float = "scott"
    variance_corrected: bool = True
    _kde: Any = field(init=False, repr=False, compare=False, hash=False)
    _log: bool = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        v = np.asarray(self.values, dtype=float).ravel()
        if v.size < 2 or not np.all(np.isfinite(v)):
            raise ValueError("EmpiricalTarget needs at least 2 values, all finite")
        if np.ptp(v) == 0:
            raise ValueError("EmpiricalTarget needs values that are not all equal")
        v = np.sort(v)
        object.__setattr__(self, "values", tuple(float(x) for x in v))
        log = bool(np.all(v > 0))
        object.__setattr__(self, "_log", log)
        y = np.log(v) if log else v
        kde = stats.gaussian_kde(y, bw_method=self.bandwidth)
        if self.variance_corrected:
            factor = float(kde.factor)
            shrunk = y.mean() + (y - y.mean()) / math.sqrt(1.0 + factor * factor)
            kde = stats.gaussian_kde(shrunk, bw_method=factor)
        object.__setattr__(self, "_kde", kde)

    @property
    def array(self) -> np.ndarray:
        """The sorted sample as an array."""
        return np.asarray(self.values, dtype=float)

    def pdf(self, x: np.ndarray | float) -> np.ndarray:
        """Kernel density estimate at ``x``."""
        return np.exp(self.logpdf(x))

    def logpdf(self, x: np.ndarray | float) -> np.ndarray:
        """Log of the kernel density estimate at ``x``."""
        x = np.asarray(x, dtype=float)
        flat = x.ravel()
        out = np.full(flat.shape, -np.inf)
        if self._log:
            ok = flat > 0
            lx = np.log(flat[ok])
            out[ok] = self._kde.logpdf(lx) - lx
        else:
            out[:] = self._kde.logpdf(flat)
        return out.reshape(x.shape)

    def cdf(self, x: np.ndarray | float) -> np.ndarray:
        """Empirical CDF of the sample at ``x`` (fraction of values <= x)."""
        x = np.asarray(x, dtype=float)
        p = np.searchsorted(self.array, x, side="right") / len(self.values)
        return np.where(np.isnan(x), np.nan, p)

    def moments(self) -> tuple[float, float]:
        """Sample mean and SD (ddof = 1)."""
        a = self.array
        return float(np.mean(a)), float(np.std(a, ddof=1))

    def describe(self) -> str:
        """One line: size, median and range of the sample."""
        a = self.array
        return f"empirical(n={a.size}, median {np.median(a):.4g}, range {a[0]:.4g}-{a[-1]:.4g})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (with the sample)."""
        m, s = self.moments()
        return {
            "family": "empirical",
            "n": len(self.values),
            "bandwidth": self.bandwidth,
            "variance_corrected": self.variance_corrected,
            "mean": m,
            "sd": s,
            "values": list(self.values),
            "description": self.describe(),
        }


Marginal = NormalTarget | LogNormalTarget | EmpiricalTarget


@dataclass(frozen=True)
class TargetPopulation:
    """Marginal baseline distributions of a published population.

    ``marginals`` maps lupusim observable names to distributions. Used jointly (e.g. by
    :func:`lupusim.population.prevalence_weights`) the variables are taken as
    independent; that is itself an assumption and is listed in ``assumptions`` of every
    built-in target with more than one variable.
    """

    name: str
    description: str
    source: str
    marginals: Mapping[str, Marginal] = field(hash=False)
    assumptions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.marginals:
            raise ValueError(f"target population {self.name!r} has no marginals")
        object.__setattr__(self, "marginals", MappingProxyType(dict(self.marginals)))
        object.__setattr__(self, "assumptions", tuple(self.assumptions))

    @property
    def variables(self) -> tuple[str, ...]:
        """The observable names the target constrains."""
        return tuple(self.marginals)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "marginals": {k: m.to_dict() for k, m in self.marginals.items()},
            "assumptions": list(self.assumptions),
        }


# ---------------------------------------------------------------------------------------
# Built-in targets, read from the package's science reference files.

TARGET_POPULATIONS: tuple[str, ...] = (
    "liang2010_refractory_ln",
    "gu2014_refractory_ln",
    "wen2019_refractory_sle",
    "access_ln",
)

_INDEPENDENCE = (
    "The marginals are combined as if independent (no correlation between them is published)."
)


def _read_data(name: str) -> str:
    return resources.files("lupusim.data").joinpath(name).read_text(encoding="utf-8")


@cache
def _target_rows() -> dict[str, dict[str, str]]:
    rows = csv.DictReader(io.StringIO(_read_data("targets.csv")))
    return {r["id"]: r for r in rows}


def _row(row_id: str, **expect: str) -> dict[str, str]:
    """Row ``row_id`` of targets.csv, checked against the columns we rely on."""
    rows = _target_rows()
    if row_id not in rows:
        raise ValueError(f"targets.csv has no row {row_id!r}")
    row = rows[row_id]
    for col, want in expect.items():
        if row[col].strip() != want:
            raise ValueError(
                f"targets.csv row {row_id}: column {col!r} is {row[col]!r}, expected {want!r}"
            )
    return row


def _range(row: dict[str, str]) -> tuple[float, float]:
    lo, hi = row["spread"].split("-")
    return float(lo), float(hi)


def _liang2010() -> TargetPopulation:
    h1 = _row(
        "H1", quantity="SLEDAI", statistic="mean", unit="points", time="0 months", spread_kind="sd"
    )
    h3 = _row(
        "H3",
        quantity="24-h urine protein",
        statistic="mean",
        unit="mg/day",
        time="0 months",
        spread_kind="sd",
    )
    mg_per_g = 1000.0
    sledai = NormalTarget(float(h1["value"]), float(h1["spread"]), lower=0.0)
    protein = LogNormalTarget.from_mean_sd(
        float(h3["value"]) / mg_per_g, float(h3["spread"]) / mg_per_g
    )
    if h1["source"] != h3["source"]:
        raise ValueError("targets.csv rows H1 and H3 no longer share a source")
    return TargetPopulation(
        name="liang2010_refractory_ln",
        description=(
            f"Baseline of {h1['population']} given {h1['arm']} (rows H1, H3; "
            f"n = {h1['n']} reported at 12 months)."
        ),
        source=h1["source"],
        marginals={"sledai2k": sledai, "protein_24h_g": protein},
        assumptions=(
            f"SLEDAI: normal with the published mean {h1['value']} and SD {h1['spread']} "
            "as its location and scale, truncated at 0 (the score's floor); the study's "
            "inclusion threshold is left to the trial protocol.",
            "SLEDAI (an integer score) is treated as continuous.",
            f"24-h urine protein: {h3['value']} ± {h3['spread']} mg/day converted to g/day "
            "and modelled as log-normal moment-matched to that mean and SD (positive, "
            "right-skewed: SD/mean = "
            f"{float(h3['spread']) / float(h3['value']):.2f}).",
            f"The mean ± SD are those of the n = {h1['n']} patients followed 12 months, "
            "not necessarily of all patients enrolled.",
            _INDEPENDENCE + " SLEDAI contains a proteinuria item, so the two are "
            "positively related in reality.",
        ),
    )


def _gu2014() -> TargetPopulation:
    h18 = _row(
        "H18", quantity="GFR", statistic="mean", unit="mL/min", time="0 months", spread_kind="sd"
    )
    gfr = NormalTarget(float(h18["value"]), float(h18["spread"]), lower=0.0)
    return TargetPopulation(
        name="gu2014_refractory_ln",
        description=(
            f"Baseline GFR of {h18['population']} given {h18['arm']} (row H18, n = {h18['n']})."
        ),
        source=h18["source"],
        marginals={"egfr_ml_min_1_73m2": gfr},
        assumptions=(
            "The paper's 'GFR' in mL/min is read as eGFR per 1.73 m² "
            "(lupusim's egfr_ml_min_1_73m2).",
            f"Normal with the published mean {h18['value']} and SD {h18['spread']} as "
            "location and scale, truncated at 0.",
        ),
    )


def _fit_truncated_lognormal(
    lower: float, median: float, q_value: float, q_prob: float
) -> LogNormalTarget:
    """Log-normal truncated below at ``lower`` whose median is ``median`` and whose
    ``q_prob`` quantile is ``q_value`` (two equations, two unknowns ``mu``, ``sigma``)."""
    if not lower < median < q_value or not 0.5 < q_prob < 1.0:
        raise ValueError("need lower < median < q_value and 0.5 < q_prob < 1")
    la, lm, lq = math.log(lower), math.log(median), math.log(q_value)

    def residual(theta: np.ndarray) -> list[float]:
        mu, sigma = float(theta[0]), math.exp(float(theta[1]))
        a = float(stats.norm.cdf((la - mu) / sigma))

        def f(lx: float) -> float:
            return (float(stats.norm.cdf((lx - mu) / sigma)) - a) / (1.0 - a)

        return [f(lm) - 0.5, f(lq) - q_prob]

    start = np.array([lm, math.log((lq - lm) / float(stats.norm.ppf(q_prob)))])
    sol, _info, ier, msg = optimize.fsolve(residual, start, full_output=True, xtol=1e-12)
    if ier != 1 or max(abs(r) for r in residual(sol)) > 1e-9:
        raise ValueError(f"truncated log-normal fit did not converge: {msg}")
    return LogNormalTarget(mu=float(sol[0]), sigma=math.exp(float(sol[1])), lower=lower)


def _blom_max_position(n: int) -> float:
    """Blom (1958) plotting position of the largest of ``n`` values,
    ``(n - 0.375) / (n + 0.25)``."""
    return (n - 0.375) / (n + 0.25)


def _wen2019() -> TargetPopulation:
    h6 = _row(
        "H6",
        quantity="SLEDAI",
        statistic="median",
        unit="points",
        time="0 months",
        spread_kind="range",
    )
    median = float(h6["value"])
    lo, hi = _range(h6)
    n = int(h6["n"])
    p_max = _blom_max_position(n)
    sledai = _fit_truncated_lognormal(lo, median, hi, p_max)
    mean, sd = sledai.moments()
    hozo_mean = (lo + 2 * median + hi) / 4.0
    wan_sd = (hi - lo) / (2.0 * float(stats.norm.ppf(p_max)))
    return TargetPopulation(
        name="wen2019_refractory_sle",
        description=(
            f"Baseline SLEDAI of {h6['population']} given {h6['arm']} "
            f"(row H6: median {h6['value']}, range {h6['spread']}, n = {n})."
        ),
        source=h6["source"],
        marginals={"sledai2k": sledai},
        assumptions=(
            f"Only median {h6['value']} and range {h6['spread']} are published. The "
            f"minimum {lo:g} equals the inclusion threshold (SLEDAI >= {lo:g}), so it is "
            "taken as a truncation point, not as a tail quantile.",
            f"Log-normal truncated below at {lo:g}, with (mu, sigma) solved so that the "
            f"truncated median is {median:g} and the maximum {hi:g} sits at the Blom "
            f"(1958) plotting position (n - 0.375)/(n + 0.25) = {p_max:.4f} for n = {n} "
            "(a log-normal because the range is right-skewed about the median).",
            f"Implied mean {mean:.2f} and SD {sd:.2f}. Cross-check: Hozo 2005 gives mean "
            f"~ median = {median:g} for n > 25 (or (a + 2m + b)/4 = {hozo_mean:.2f}) and "
            f"SD ~ range/4 = {(hi - lo) / 4:.2f} for 15 < n <= 70; Wan 2014 gives SD ~ "
            f"range/(2 Φ⁻¹({p_max:.4f})) = {wan_sd:.2f}.",
            "The single largest value fixes the upper tail: the spread is uncertain.",
            "SLEDAI (an integer score) is treated as continuous.",
        ),
    )


@cache
def _access_baseline() -> tuple[tuple[float, ...], tuple[float, ...], int, int]:
    """Per subject: the last UPCR at study day <= 0, and the age (one per ID)."""
    reader = csv.DictReader(io.StringIO(_read_data("access_upcr.csv")))
    best: dict[str, tuple[int, float]] = {}
    ages: dict[str, float] = {}
    ids: set[str] = set()
    for r in reader:
        sid = r["ID"]
        ids.add(sid)
        age = float(r["Age (years)"])
        if ages.setdefault(sid, age) != age:
            raise ValueError(f"access_upcr.csv: subject {sid} has more than one age")
        day, upcr = int(r["day"]), float(r["uPCR"])
        if day <= 0 and (sid not in best or day > best[sid][0]):
            best[sid] = (day, upcr)
    missing = sorted(ids - set(best))
    if missing:
        raise ValueError(f"access_upcr.csv: no measurement at day <= 0 for {missing}")
    order = sorted(ids)
    n_below_1 = sum(1 for s in order if best[s][1] <= 1.0)
    return (
        tuple(best[s][1] for s in order),
        tuple(ages[s] for s in order),
        len(order),
        n_below_1,
    )


def _access() -> TargetPopulation:
    s1 = _row("S1", population="class III/IV LN UPCR>1")
    upcr, ages, n, n_below_1 = _access_baseline()
    return TargetPopulation(
        name="access_ln",
        description=(
            f"Baseline UPCR and age of {n} ACCESS (ITN034AI) patients with class III/IV "
            "lupus nephritis, from access_upcr.csv (both arms)."
        ),
        source=(
            f"{s1['source']}; patient-level data: ITN TrialShare study ITN034AI as "
            "redistributed in pascoesean/lupus-model (data/upc_data.csv)"
        ),
        marginals={
            "upcr_g_per_g": EmpiricalTarget(upcr),
            "age_years": EmpiricalTarget(ages),
        },
        assumptions=(
            "Baseline UPCR = each subject's last measurement at study day <= 0 (the one "
            "nearest the first dose); subjects with two pre-dose values keep the later.",
            "Both arms pooled: baseline is before randomised treatment.",
            "The file keeps only patients with more than 14 measurements, so it leans "
            "toward completers; it is not the whole ACCESS trial population.",
            f"{n_below_1} of {n} baseline values are <= 1 g/g although ACCESS required "
            "UPCR > 1 (screening values may differ); kept as recorded.",
            "Density ratios use a variance-corrected Gaussian KDE of each sample (on the "
            "log scale); the KS distance uses the sample's ECDF.",
            "UPCR and age are matched as independent marginals, although the file pairs "
            "them per subject (their joint distribution is not used).",
        ),
    )


_BUILDERS = {
    "liang2010_refractory_ln": _liang2010,
    "gu2014_refractory_ln": _gu2014,
    "wen2019_refractory_sle": _wen2019,
    "access_ln": _access,
}


@cache
def target_population(name: str) -> TargetPopulation:
    """A built-in target population by name (one of :data:`TARGET_POPULATIONS`)."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ValueError(
            f"unknown target population {name!r}; known: {', '.join(TARGET_POPULATIONS)}"
        ) from None
    return builder()
