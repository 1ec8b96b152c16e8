"""Calibration problems: free parameters, residuals against targets, a fit.

Kept apart as in pyPESTO: the *problem* (free parameters with bounds, a function from
values to residuals), the *optimiser* (:func:`fit`), and the *result* (values, residuals,
history). Residuals are ``(simulated − published) / scale`` with the scale stated, so
goodness of fit is readable per target.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import least_squares, minimize


@dataclass(frozen=True)
class FreeParameter:
    """A parameter to fit, searched on a log scale within ``[lower, upper]``."""

    name: str
    initial: float
    lower: float
    upper: float

    def __post_init__(self) -> None:
        if not 0 < self.lower <= self.initial <= self.upper:
            raise ValueError(f"{self.name}: need 0 < lower <= initial <= upper")


@dataclass(frozen=True)
class Residual:
    """One target's misfit."""

    target_id: str
    description: str
    simulated: float
    published: float
    scale: float
    log: bool = False  # compare on a log scale (ratios)

    @property
    def value(self) -> float:
        if not math.isfinite(self.simulated):
            return 10.0
        if self.log:
            return math.log(max(self.simulated, 1e-12) / self.published) / self.scale
        return (self.simulated - self.published) / self.scale

    def as_record(self) -> dict[str, object]:
        """The row written to calibration.json."""
        return {
            "target_id": self.target_id,
            "description": self.description,
            "simulated": self.simulated,
            "published": self.published,
            "scale": self.scale,
            "log_scale": self.log,
            "residual": self.value,
        }


@dataclass(frozen=True)
class CalibrationProblem:
    """Free parameters and a function from their values to residuals."""

    name: str
    preset: str
    free: tuple[FreeParameter, ...]
    residuals: Callable[[dict[str, float]], Sequence[Residual]]


@dataclass
class CalibrationResult:
    """Fitted values, final residuals and the optimiser's trace."""

    problem: str
    preset: str
    values: dict[str, float]
    initial_values: dict[str, float]
    residuals: list[Residual]
    loss: float
    initial_loss: float
    evaluations: int
    seconds: float
    history: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "problem": self.problem,
            "preset": self.preset,
            "values": self.values,
            "initial_values": self.initial_values,
            "loss": self.loss,
            "initial_loss": self.initial_loss,
            "evaluations": self.evaluations,
            "seconds": round(self.seconds, 1),
            "residuals": [r.as_record() for r in self.residuals],
        }


def _loss(residuals: Sequence[Residual]) -> float:
    return float(sum(r.value**2 for r in residuals))


def _log_box(
    problem: CalibrationProblem,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Callable[[np.ndarray], dict[str, float]]]:
    """Log-parameter bounds and start, and the map from a log-point (clipped into the
    bounds) back to named parameter values."""
    lo = np.log([p.lower for p in problem.free])
    hi = np.log([p.upper for p in problem.free])
    x0 = np.log([p.initial for p in problem.free])

    def values_of(x: np.ndarray) -> dict[str, float]:
        xc = np.clip(x, lo, hi)
        return {p.name: float(np.exp(v)) for p, v in zip(problem.free, xc, strict=True)}

    return lo, hi, x0, values_of


def fit(
    problem: CalibrationProblem,
    max_evaluations: int = 200,
    method: str = "nelder-mead",
    diff_step: float = 0.05,
) -> CalibrationResult:
    """Minimise the sum of squared residuals on log-parameters.

    ``method``: ``"nelder-mead"`` (scipy, adaptive simplex), or ``"least-squares"``
    (scipy's trust-region reflective least squares with a forward-difference Jacobian of
    relative step ``diff_step`` in log-parameters, bounded; it uses the residual
    structure and suits objectives of many targets). Common random numbers make the
    residuals deterministic, but they are step functions of the parameters at the scale
    of one simulated subject, so the difference step must be well above that scale.
    """
    if method == "least-squares":
        return _fit_least_squares(problem, max_evaluations, diff_step)
    if method != "nelder-mead":
        raise ValueError(f"unknown method {method!r}; known: nelder-mead, least-squares")
    lo, hi, x0, values_of = _log_box(problem)
    history: list[float] = []

    def objective(x: np.ndarray) -> float:
        penalty = float(np.sum(np.maximum(lo - x, 0) ** 2 + np.maximum(x - hi, 0) ** 2)) * 100
        loss = _loss(problem.residuals(values_of(x))) + penalty
        history.append(loss)
        return loss

    start = time.perf_counter()
    initial = values_of(x0)
    initial_loss = _loss(problem.residuals(initial))
    res = minimize(
        objective,
        x0,
        method="Nelder-Mead",
        options={"maxfev": max_evaluations, "xatol": 1e-3, "fatol": 1e-4, "adaptive": True},
    )
    best = values_of(res.x)
    final = list(problem.residuals(best))
    return CalibrationResult(
        problem=problem.name,
        preset=problem.preset,
        values=best,
        initial_values=initial,
        residuals=final,
        loss=_loss(final),
        initial_loss=initial_loss,
        evaluations=len(history) + 1,
        seconds=time.perf_counter() - start,
        history=history,
    )


class _BudgetSpent(Exception):
    """Raised inside the objective when the evaluation budget is spent."""


def _fit_least_squares(
    problem: CalibrationProblem, max_evaluations: int, diff_step: float
) -> CalibrationResult:
    lo, hi, x0, values_of = _log_box(problem)
    history: list[float] = []
    best: dict[str, Any] = {"loss": math.inf}

    def vector(x: np.ndarray) -> np.ndarray:
        if len(history) >= max_evaluations:
            raise _BudgetSpent
        values = values_of(x)
        res = list(problem.residuals(values))
        r = np.array([q.value for q in res])
        loss = float(np.sum(r**2))
        history.append(loss)
        if loss < best["loss"]:
            best.update(loss=loss, values=values, residuals=res)
        return r

    start = time.perf_counter()
    initial = values_of(x0)
    initial_res = vector(x0)
    initial_loss = float(np.sum(initial_res**2))
    step = np.full(len(problem.free), diff_step)
    # The evaluation budget (Jacobians included) may be spent: the best point is kept.
    with contextlib.suppress(_BudgetSpent):
        least_squares(
            vector,
            x0,
            bounds=(lo, hi),
            method="trf",
            diff_step=step / np.maximum(np.abs(x0), 1.0),
            x_scale=1.0,
        )
    return CalibrationResult(
        problem=problem.name,
        preset=problem.preset,
        values=best["values"],
        initial_values=initial,
        residuals=best["residuals"],
        loss=best["loss"],
        initial_loss=initial_loss,
        evaluations=len(history),
        seconds=time.perf_counter() - start,
        history=history,
    )
