"""Parameter uncertainty and identifiability around a fit: a Laplace approximation.

The residuals of a calibration problem are ``(simulated − published) / scale`` with the
scale the published standard error combined with the Monte Carlo error
(:mod:`lupusim.calibrate._objective`), so ``exp(−½ Σ r²)`` is a Gaussian likelihood of
the targets. Around the fitted point, on the log-parameters ``x`` the fit searches, the
Gauss–Newton Hessian of ``½ Σ r²`` is ``JᵀJ`` (``J`` the forward-difference Jacobian of
the residuals, the same step the least-squares fit uses). The prior is the fit's search
box, uniform on each log-parameter. Flat inside the box, it leaves the mode at the fit;
its width enters as the precision of a Gaussian of the same standard deviation,
``(log upper − log lower) / √12``, so the posterior precision is
``JᵀJ / s² + diag(1 / prior_sd²)`` and always proper. ``s² = max(1, Σ r² / (n − p))``
(n fitted rows, p free parameters) widens the likelihood when the model misses the
targets by more than their spreads allow — the usual least-squares covariance
``s² (JᵀJ)⁻¹``: a model that cannot fit its targets must not claim the precision of
one that can.

Identifiability of each parameter (rules stated in :func:`label`):

* *structurally non-identifiable* — no declared target moves when the parameter moves
  by the difference step (its column of ``J`` is zero): the targets cannot tell its value;
* *practically non-identifiable* — the targets respond, but the posterior is at least
  half as wide as the prior (alone, or through its correlation with other parameters);
* *identifiable* — the posterior is less than half as wide as the prior.

Limits, stated where the results are shown: the approximation is local (one Gaussian at
the optimum); the residuals are step functions of the parameters at the scale of one
simulated subject (common random numbers), so ``J`` is a secant over the step, not a
derivative; and MCMC, at about 9 s per evaluation of the human objective, would take
days. :func:`laplace_posterior` is checked on synthetic problems with known parameters
(tests/calibrate/test_laplace.py), and on the real objective by importance sampling
(:mod:`lupusim.calibrate._importance`, ``lupusim calibrate posterior --check N``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from lupusim.calibrate._problem import CalibrationProblem

Identifiability = Literal[
    "identifiable", "practically non-identifiable", "structurally non-identifiable"
]

#: Posterior/prior width ratio at or above which a parameter is practically
#: non-identifiable (the data remove less than half of the prior's width).
PRACTICAL_WIDTH_RATIO = 0.5
#: At most this many Gaussian draws per parameter set kept when truncating to the box.
MAX_REJECTION_FACTOR = 1000


@dataclass(frozen=True)
class LaplacePosterior:
    """A Gaussian posterior over the log-parameters of a calibration problem."""

    names: tuple[str, ...]
    mode: np.ndarray  # log-parameters at the fit
    covariance: np.ndarray  # of the log-parameters
    prior_sd: np.ndarray  # of the log-parameters (uniform box as a Gaussian)
    lower: np.ndarray  # log bounds
    upper: np.ndarray
    jacobian: np.ndarray  # residuals × parameters, at the mode
    residuals: np.ndarray
    diff_step: float
    misfit_factor: float  # s², the residual variance factor (≥ 1)

    @property
    def sd(self) -> np.ndarray:
        """Marginal posterior standard deviations of the log-parameters."""
        return np.sqrt(np.diag(self.covariance))

    @property
    def width_ratio(self) -> np.ndarray:
        """Marginal posterior sd / prior sd (1 = the targets say nothing)."""
        return self.sd / self.prior_sd

    def labels(self) -> dict[str, Identifiability]:
        return {
            n: label(float(r), bool(np.any(self.jacobian[:, i] != 0.0)))
            for i, (n, r) in enumerate(zip(self.names, self.width_ratio, strict=True))
        }

    def interval(self, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """Central ``level`` interval of each parameter (natural scale, not clipped)."""
        from scipy.stats import norm

        z = float(norm.ppf(0.5 + level / 2))
        return np.exp(self.mode - z * self.sd), np.exp(self.mode + z * self.sd)

    def draws(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """``(k, P)`` parameter sets (natural scale) from the posterior truncated to the
        fit's bounds: Gaussian draws outside the box are rejected and redrawn (the prior
        has no mass there; clipping would pile them up on the bounds)."""
        kept: list[np.ndarray] = []
        drawn = 0
        while sum(len(b) for b in kept) < k:
            batch = rng.multivariate_normal(self.mode, self.covariance, size=4 * k, method="eigh")
            drawn += len(batch)
            inside = np.all((batch >= self.lower) & (batch <= self.upper), axis=1)
            kept.append(batch[inside])
            if drawn >= MAX_REJECTION_FACTOR * k and sum(len(b) for b in kept) < k:
                raise ValueError(
                    f"fewer than {k} of {drawn} posterior draws fall inside the bounds"
                )
        return np.exp(np.concatenate(kept)[:k])

    def to_json(self, draws: np.ndarray) -> dict[str, Any]:
        """The posterior as JSON; the 90 % intervals are clipped to the bounds (the prior
        has no mass outside them)."""
        lo90, hi90 = self.interval(0.9)
        lo90 = np.maximum(lo90, np.exp(self.lower))
        hi90 = np.minimum(hi90, np.exp(self.upper))
        labels = self.labels()
        return {
            "method": "laplace-gauss-newton",
            "diff_step": self.diff_step,
            "loss_at_mode": float(np.sum(self.residuals**2)),
            "fitted_rows": len(self.residuals),
            "misfit_factor": self.misfit_factor,
            "parameters": [
                {
                    "name": n,
                    "value": float(math.exp(self.mode[i])),
                    "log_sd": float(self.sd[i]),
                    "prior_log_sd": float(self.prior_sd[i]),
                    "width_ratio": float(self.width_ratio[i]),
                    "interval90": [float(lo90[i]), float(hi90[i])],
                    "bounds": [float(math.exp(self.lower[i])), float(math.exp(self.upper[i]))],
                    "identifiability": labels[n],
                }
                for i, n in enumerate(self.names)
            ],
            "log_covariance": self.covariance.tolist(),
            "jacobian": self.jacobian.tolist(),
            "residuals_at_mode": self.residuals.tolist(),
            "draws": [dict(zip(self.names, map(float, row), strict=True)) for row in draws],
        }


def label(width_ratio: float, responds: bool) -> Identifiability:
    """The identifiability label of one parameter (module docstring)."""
    if not responds:
        return "structurally non-identifiable"
    if width_ratio >= PRACTICAL_WIDTH_RATIO:
        return "practically non-identifiable"
    return "identifiable"


def laplace_posterior(
    problem: CalibrationProblem,
    at: dict[str, float],
    diff_step: float = 0.05,
) -> LaplacePosterior:
    """The Laplace posterior of ``problem`` around the point ``at`` (its fit).

    Costs one evaluation of the residuals plus one per free parameter. ``diff_step`` is
    the forward-difference step in log-parameters (0.05 = a 5 % change), as in
    :func:`lupusim.calibrate.fit`; a step that leaves the box is taken backwards.
    """
    names = tuple(p.name for p in problem.free)
    missing = [n for n in names if n not in at]
    if missing:
        raise KeyError(f"{problem.name}: no value for free parameters {missing}")
    lower = np.log([p.lower for p in problem.free])
    upper = np.log([p.upper for p in problem.free])
    x0 = np.log([at[n] for n in names])
    if np.any(x0 < lower - 1e-12) or np.any(x0 > upper + 1e-12):
        raise ValueError(f"{problem.name}: the point lies outside the fit's bounds")

    def residuals(x: np.ndarray) -> np.ndarray:
        values = {n: float(math.exp(v)) for n, v in zip(names, x, strict=True)}
        return np.array([r.value for r in problem.residuals(values)], dtype=float)

    r0 = residuals(x0)
    jac = np.zeros((len(r0), len(names)))
    for j in range(len(names)):
        h = diff_step if x0[j] + diff_step <= upper[j] else -diff_step
        x = x0.copy()
        x[j] += h
        jac[:, j] = (residuals(x) - r0) / h
    prior_sd = (upper - lower) / math.sqrt(12.0)
    dof = len(r0) - len(names)
    misfit = max(1.0, float(np.sum(r0**2)) / dof) if dof > 0 else 1.0
    precision = jac.T @ jac / misfit + np.diag(1.0 / prior_sd**2)
    covariance = np.linalg.inv(precision)
    covariance = (covariance + covariance.T) / 2
    return LaplacePosterior(
        names, x0, covariance, prior_sd, lower, upper, jac, r0, diff_step, misfit
    )
