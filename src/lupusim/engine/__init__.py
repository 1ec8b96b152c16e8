"""Batched simulation with exact dose times and per-subject solver status.

One entry point, :func:`simulate`; the backend (scipy LSODA, per subject, with the
model's analytic Jacobian compiled by numba) sits behind it.
"""

from lupusim.engine._events import Bolus, Event, Policy, RateChange
from lupusim.engine._result import SimulationResult
from lupusim.engine._simulate import Regimen, default_workers, simulate
from lupusim.engine._solver import (
    STATUS_NON_FINITE,
    STATUS_OK,
    STATUS_SOLVER_FAILED,
    SolverOptions,
    integrate_subject,
)

__all__ = [
    "STATUS_NON_FINITE",
    "STATUS_OK",
    "STATUS_SOLVER_FAILED",
    "Bolus",
    "Event",
    "Policy",
    "RateChange",
    "Regimen",
    "SimulationResult",
    "SolverOptions",
    "default_workers",
    "integrate_subject",
    "simulate",
]
