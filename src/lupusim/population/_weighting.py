"""Match a virtual population's baseline to a published target population.

Prevalence weighting and selection after Allen, Rieger & Musante 2016, *CPT
Pharmacometrics Syst Pharmacol* 5:140 ("Efficient generation and selection of virtual
populations in quantitative systems pharmacology models"), as implemented in gQSPSim and
QSPToolbox: each candidate ("plausible patient") gets a probability of inclusion
proportional to the ratio of the target (data) density to the candidates' own density at
its baseline values; a virtual population is then drawn by acceptance-rejection with
those probabilities. Weighted samples are summarised by Kish's effective sample size
(Kish 1965, *Survey Sampling*, Wiley): ``(Σw)² / Σw²``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from lupusim.population._targets import EmpiricalTarget, Marginal, TargetPopulation

__all__ = [
    "MatchReport",
    "VariableMatch",
    "WeightingWarning",
    "kish_effective_n",
    "match_report",
    "match_report_selected",
    "prevalence_weights",
    "select_by_prevalence",
    "weighted_ks",
]


class WeightingWarning(UserWarning):
    """Something about weights or selection the caller should know: candidates given
    zero weight for missing values, weights truncated, or a selection that needed more
    than one acceptance-rejection pass."""


def _preview(idx: np.ndarray, k: int = 10) -> str:
    head = ", ".join(str(int(i)) for i in idx[:k])
    return head + (", ..." if idx.size > k else "")


def _columns(baseline: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """``(n, d)`` float array of the named baseline variables (checked)."""
    missing = [v for v in names if v not in baseline]
    if missing:
        raise ValueError(
            f"baseline lacks the target's variables {missing}; it has {sorted(baseline)}"
        )
    cols = [np.asarray(baseline[v], dtype=float) for v in names]
    for v, c in zip(names, cols, strict=True):
        if c.ndim != 1:
            raise ValueError(f"baseline[{v!r}] must be 1-D (one value per subject), got {c.shape}")
    sizes = {c.size for c in cols}
    if len(sizes) != 1:
        raise ValueError(
            "baseline variables differ in length: "
            + ", ".join(f"{v}={c.size}" for v, c in zip(names, cols, strict=True))
        )
    return np.column_stack(cols)


def _check_weights(weights: np.ndarray, n: int | None = None) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1:
        raise ValueError(f"weights must be 1-D, got shape {w.shape}")
    if n is not None and w.size != n:
        raise ValueError(f"{w.size} weights for {n} candidates")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    if not w.sum() > 0:
        raise ValueError("weights are all zero")
    return w


def kish_effective_n(weights: np.ndarray) -> float:
    """Kish's (1965) effective sample size ``(Σw)² / Σw²`` of non-negative weights."""
    w = _check_weights(weights)
    return float(w.sum() ** 2 / np.sum(w * w))


def _check_bandwidth(bandwidth: str | float) -> str | float:
    if isinstance(bandwidth, str):
        if bandwidth not in ("scott", "silverman"):
            raise ValueError(
                f"bandwidth must be 'scott', 'silverman' or a number > 0, got {bandwidth!r}"
            )
        return bandwidth
    bw = float(bandwidth)
    if not (math.isfinite(bw) and bw > 0):
        raise ValueError(f"bandwidth must be > 0, got {bandwidth!r}")
    return bw


def _cap_ratio(w: np.ndarray, ratio: float) -> tuple[np.ndarray, int, float]:
    """Cap the positive weights at ``c`` so that ``max / mean`` (over positive weights,
    after capping) equals ``ratio``; returns the renormalised weights, the number
    capped and the ratio before capping. ``c / mean(min(w, c))`` is non-decreasing in
    ``c`` (from 1 at min w to max/mean at max w), so ``c`` is found by bisection."""
    pos = w[w > 0]
    before = float(pos.max() / pos.mean())
    if before <= ratio:
        return w, 0, before
    if ratio == 1.0:
        out = np.where(w > 0, 1.0, 0.0)
        return out / out.sum(), int(np.sum(pos < pos.max())), before

    def excess(c: float) -> float:
        return c / float(np.mean(np.minimum(pos, c))) - ratio

    c = optimize.brentq(excess, float(pos.min()), float(pos.max()), xtol=1e-15, rtol=1e-14)
    n_capped = int(np.sum(w > c))
    out = np.minimum(w, c)
    return out / out.sum(), n_capped, before


def prevalence_weights(
    baseline: Mapping[str, np.ndarray],
    target: TargetPopulation,
    *,
    bandwidth: str | float = "scott",
    max_weight_ratio: float | None = None,
) -> np.ndarray:
    """Prevalence weights of candidate subjects for a target population.

    ``w_i ∝ p(x_i) / q(x_i)`` (Allen, Rieger & Musante 2016's probability of inclusion)
    on the variables ``target`` names, where

    * ``p`` is the target density, taken as the **product of the target's marginals**:
      the variables are assumed independent in the target population, because the
      published sources give marginal summaries only;
    * ``q`` is the candidates' density, a Gaussian kernel density estimate
      (``scipy.stats.gaussian_kde``; ``bandwidth`` is its ``bw_method``: 'scott',
      'silverman' or a factor multiplying the data covariance) over the same variables.
      A variable whose finite candidate values are all positive enters the KDE as
      ``y = log x``; the density in ``x`` is then ``q_X(x) = q_Y(y) / Π x_j`` (the
      Jacobian of the log transform), so target and candidate densities are both per
      unit of ``x``.

    Candidates with a non-finite value in any target variable get weight 0 and are
    reported with a :class:`WeightingWarning`; they are left out of the KDE. Candidates
    where the target has no density (e.g. outside a truncation) get weight 0 silently,
    as the method intends. Weights are normalised to sum to 1.

    ``max_weight_ratio``: if given (>= 1), weights are capped so that the largest is at
    most this multiple of the mean positive weight (then renormalised); the number
    capped is reported with a :class:`WeightingWarning`. Capping trades fidelity for
    effective sample size.

    Cost: the KDE is evaluated at every candidate, O(n² d); fine to ~10⁴ candidates.
    """
    bw = _check_bandwidth(bandwidth)
    if max_weight_ratio is not None and not max_weight_ratio >= 1.0:
        raise ValueError(f"max_weight_ratio must be >= 1, got {max_weight_ratio}")
    names = target.variables
    x = _columns(baseline, names)
    n, d = x.shape
    finite = np.all(np.isfinite(x), axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        warnings.warn(
            f"prevalence_weights: {bad.size} of {n} candidates have a non-finite value in "
            f"{list(names)} and get weight 0 (indices {_preview(bad)})",
            WeightingWarning,
            stacklevel=2,
        )
    xf = x[finite]
    m = xf.shape[0]
    if m <= d:
        raise ValueError(
            f"only {m} candidates have finite values in {list(names)}: too few for a "
            f"{d}-dimensional density estimate"
        )
    log_p = np.zeros(m)
    for j, v in enumerate(names):
        log_p += target.marginals[v].logpdf(xf[:, j])
    log_vars = np.all(xf > 0, axis=0)
    y = xf.copy()
    y[:, log_vars] = np.log(xf[:, log_vars])
    try:
        kde = stats.gaussian_kde(y.T, bw_method=bw)
    except np.linalg.LinAlgError as exc:
        raise ValueError(
            f"cannot estimate the candidates' density on {list(names)}: the values are "
            "(nearly) collinear or constant"
        ) from exc
    log_q = kde.logpdf(y.T) - np.sum(y[:, log_vars], axis=1)
    log_w = log_p - log_q
    ok = np.isfinite(log_w)
    if not ok.any():
        raise ValueError(
            f"no candidate lies where target {target.name!r} has density; the virtual "
            "population does not cover the target"
        )
    wf = np.zeros(m)
    wf[ok] = np.exp(log_w[ok] - log_w[ok].max())
    w = np.zeros(n)
    w[finite] = wf
    w /= w.sum()
    if max_weight_ratio is not None:
        w, n_capped, before = _cap_ratio(w, float(max_weight_ratio))
        if n_capped:
            warnings.warn(
                f"prevalence_weights: capped {n_capped} of {int(np.sum(w > 0))} positive "
                f"weights (max/mean ratio {before:.3g} -> {max_weight_ratio:g}); effective "
                f"N is now {kish_effective_n(w):.1f}",
                WeightingWarning,
                stacklevel=2,
            )
    return w


def select_by_prevalence(
    weights: np.ndarray,
    n: int,
    rng: np.random.Generator,
    replace: bool = False,
) -> np.ndarray:
    """Indices (sorted) of ``n`` candidates selected according to ``weights``.

    ``replace=False``: acceptance-rejection after Allen, Rieger & Musante 2016 -- in
    random order, each remaining candidate is accepted with probability
    ``w_i / max w`` (the largest scaling of the probabilities of inclusion that keeps
    them <= 1). If one pass yields fewer than ``n``, further passes run over the
    candidates not yet selected (rescaled by their own largest weight) until ``n`` are
    chosen; a :class:`WeightingWarning` then says so, because later passes
    over-represent low-weight candidates relative to the target (check with
    :func:`match_report_selected`). Raises ``ValueError`` if fewer than ``n`` candidates
    have positive weight.

    ``replace=True``: multinomial resampling, ``n`` draws with probabilities ``w``.
    """
    w = _check_weights(weights)
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    n = int(n)
    if replace:
        draws = rng.choice(w.size, size=n, replace=True, p=w / w.sum())
        return np.sort(draws)
    remaining = np.flatnonzero(w > 0)
    if n > remaining.size:
        raise ValueError(
            f"cannot select {n} subjects without replacement: only {remaining.size} of "
            f"{w.size} candidates have positive weight and can be selected (Kish effective "
            f"N = {kish_effective_n(w):.1f}); ask for fewer, use replace=True, or generate "
            "more candidates"
        )
    one_pass = float(w.sum() / w.max())
    chosen: list[np.ndarray] = []
    count = 0
    passes = 0
    while count < n:
        passes += 1
        order = rng.permutation(remaining)
        p = w[order] / w[order].max()
        accepted = order[rng.random(order.size) < p][: n - count]
        chosen.append(accepted)
        count += accepted.size
        remaining = np.setdiff1d(remaining, accepted, assume_unique=True)
    if passes > 1:
        warnings.warn(
            f"select_by_prevalence: {n} subjects needed {passes} acceptance-rejection "
            f"passes (one pass yields ~{one_pass:.0f}); later passes over-represent "
            "low-weight candidates -- check match_report_selected",
            WeightingWarning,
            stacklevel=2,
        )
    out = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.intp)
    return np.sort(out.astype(np.intp))


def weighted_ks(x: np.ndarray, weights: np.ndarray | None, marginal: Marginal) -> float:
    """Kolmogorov-Smirnov distance ``sup_t |F_w(t) - G(t)|`` between the weighted ECDF
    of ``x`` and the marginal's CDF; for an :class:`EmpiricalTarget` this is the
    two-sample distance to the sample's ECDF. Non-finite ``x`` must carry zero weight
    and are ignored. ``weights=None`` means equal weights."""
    x = np.asarray(x, dtype=float)
    w = np.ones(x.size) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != x.shape or x.ndim != 1:
        raise ValueError("x and weights must be 1-D and the same length")
    finite = np.isfinite(x)
    if np.any(w[~finite] > 0):
        raise ValueError("positive weight on a non-finite value")
    x, w = x[finite], w[finite]
    keep = w > 0
    x, w = x[keep], w[keep]
    if x.size == 0:
        raise ValueError("no finite value with positive weight")
    u, inv = np.unique(x, return_inverse=True)
    mass = np.bincount(inv, weights=w) / w.sum()
    after = np.cumsum(mass)
    if isinstance(marginal, EmpiricalTarget):
        t = np.union1d(u, marginal.array)
        idx = np.searchsorted(u, t, side="right")
        fw = np.where(idx > 0, after[np.maximum(idx - 1, 0)], 0.0)
        return float(np.max(np.abs(fw - marginal.cdf(t))))
    g = marginal.cdf(u)
    before = after - mass
    return float(max(np.max(np.abs(after - g)), np.max(np.abs(before - g))))


def _weighted_mean_sd(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    ok = np.isfinite(x) & (w > 0)
    if not ok.any():
        return math.nan, math.nan
    xs, ws = x[ok], w[ok] / w[ok].sum()
    m = float(np.sum(ws * xs))
    return m, float(np.sqrt(np.sum(ws * (xs - m) ** 2)))


def _json_float(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


@dataclass(frozen=True)
class VariableMatch:
    """How one baseline variable matches its target marginal.

    ``ks_weighted``: KS distance of the weighted (or selected) candidates;
    ``ks_unweighted``: the same for all candidates with equal weights, before
    weighting. Means and SDs are weighted population moments (ddof = 0); the target's
    are those of the (truncated) distribution, or of the sample (ddof = 1).
    """

    variable: str
    target: str
    ks_weighted: float
    ks_unweighted: float
    mean_weighted: float
    sd_weighted: float
    mean_unweighted: float
    sd_unweighted: float
    target_mean: float
    target_sd: float
    n_finite: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (NaN and infinities become ``None``)."""
        out: dict[str, Any] = {"variable": self.variable, "target": self.target}
        for k in (
            "ks_weighted",
            "ks_unweighted",
            "mean_weighted",
            "sd_weighted",
            "mean_unweighted",
            "sd_unweighted",
            "target_mean",
            "target_sd",
        ):
            out[k] = _json_float(getattr(self, k))
        out["n_finite"] = int(self.n_finite)
        return out


@dataclass(frozen=True)
class MatchReport:
    """Goodness of match of a weighted or selected virtual population to a target.

    ``kind`` is ``"weights"`` (from :func:`match_report`) or ``"selection"`` (from
    :func:`match_report_selected`, where each selected index counts once per time it
    was drawn). ``effective_n`` is Kish's ``(Σw)²/Σw²``; ``n_candidates`` the number of
    candidates; ``n_positive`` how many carry positive weight (or were selected).
    """

    target: str
    kind: str
    variables: tuple[VariableMatch, ...]
    effective_n: float
    n_candidates: int
    n_positive: int

    @property
    def max_ks(self) -> float:
        """The worst weighted KS distance over the variables."""
        return max(v.ks_weighted for v in self.variables)

    def variable(self, name: str) -> VariableMatch:
        """The entry for one variable."""
        for v in self.variables:
            if v.variable == name:
                return v
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``json.dumps(report.to_dict(), allow_nan=False)`` works."""
        return {
            "target": self.target,
            "kind": self.kind,
            "effective_n": _json_float(self.effective_n),
            "n_candidates": int(self.n_candidates),
            "n_positive": int(self.n_positive),
            "max_ks": _json_float(self.max_ks),
            "variables": [v.to_dict() for v in self.variables],
        }

    def summary(self) -> str:
        """A small text table."""
        lines = [
            f"{self.target} ({self.kind}): effective N {self.effective_n:.1f} of "
            f"{self.n_candidates} candidates ({self.n_positive} used)",
            f"{'variable':<22}{'KS before':>10}{'KS after':>10}"
            f"{'mean':>10}{'target':>10}{'sd':>10}{'target':>10}",
        ]
        for v in self.variables:
            lines.append(
                f"{v.variable:<22}{v.ks_unweighted:>10.3f}{v.ks_weighted:>10.3f}"
                f"{v.mean_weighted:>10.3g}{v.target_mean:>10.3g}"
                f"{v.sd_weighted:>10.3g}{v.target_sd:>10.3g}"
            )
        return "\n".join(lines)


def _report(
    baseline: Mapping[str, np.ndarray], w: np.ndarray, target: TargetPopulation, kind: str
) -> MatchReport:
    names = target.variables
    x = _columns(baseline, names)
    n = x.shape[0]
    w = _check_weights(w, n)
    rows = []
    for j, v in enumerate(names):
        xj = x[:, j]
        finite = np.isfinite(xj)
        if np.any(w[~finite] > 0):
            raise ValueError(
                f"{int(np.sum((w > 0) & ~finite))} candidates with positive weight have a "
                f"non-finite {v!r}"
            )
        if not finite.any():
            raise ValueError(f"no candidate has a finite {v!r}")
        marg = target.marginals[v]
        eq = finite.astype(float)
        tm, ts = marg.moments()
        mw, sw = _weighted_mean_sd(xj, w)
        mu, su = _weighted_mean_sd(xj, eq)
        rows.append(
            VariableMatch(
                variable=v,
                target=marg.describe(),
                ks_weighted=weighted_ks(xj, w, marg),
                ks_unweighted=weighted_ks(np.where(finite, xj, np.nan), eq, marg),
                mean_weighted=mw,
                sd_weighted=sw,
                mean_unweighted=mu,
                sd_unweighted=su,
                target_mean=tm,
                target_sd=ts,
                n_finite=int(finite.sum()),
            )
        )
    return MatchReport(
        target=target.name,
        kind=kind,
        variables=tuple(rows),
        effective_n=kish_effective_n(w),
        n_candidates=n,
        n_positive=int(np.sum(w > 0)),
    )


def match_report(
    baseline: Mapping[str, np.ndarray], weights: np.ndarray, target: TargetPopulation
) -> MatchReport:
    """How well the weighted candidates match ``target``: per variable the weighted and
    unweighted KS distances (:func:`weighted_ks`) and moments against the target's;
    overall Kish's effective N (Kish 1965) and the number of candidates."""
    return _report(baseline, np.asarray(weights, dtype=float), target, "weights")


def match_report_selected(
    baseline: Mapping[str, np.ndarray], indices: np.ndarray, target: TargetPopulation
) -> MatchReport:
    """:func:`match_report` for an already selected subset (equal weights; an index
    drawn k times, as with replacement, counts k times)."""
    idx = np.asarray(indices)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ValueError("indices must be a 1-D integer array")
    n = _columns(baseline, target.variables).shape[0]
    if idx.size == 0:
        raise ValueError("no subject selected")
    if idx.min() < 0 or idx.max() >= n:
        raise ValueError(f"indices out of range for {n} candidates")
    counts = np.bincount(idx, minlength=n).astype(float)
    return _report(baseline, counts, target, "selection")
