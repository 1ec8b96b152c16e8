"""Batched simulation with exact dose times and per-subject solver status.

One entry point, :func:`simulate`; backends sit behind it: scipy's LSODA per subject
with the model's analytic Jacobian compiled by numba (the reference), and numba-compiled
Rosenbrock methods (Rodas5P, Rodas4) running subjects on threads.
"""

from lupusim.engine._events import Bolus, Event, Policy, RateChange
from lupusim.engine._result import SimulationResult
from lupusim.engine._simulate import BACKENDS, Backend, Regimen, default_workers, simulate
from lupusim.engine._solver import (
    STATUS_NON_FINITE,
    STATUS_OK,
    STATUS_SOLVER_FAILED,
    SolverOptions,
    integrate_subject,
)
from lupusim.engine._stream import ChunkSink, simulate_streaming

__all__ = [
    "BACKENDS",
    "STATUS_NON_FINITE",
    "STATUS_OK",
    "STATUS_SOLVER_FAILED",
    "Backend",
    "Bolus",
    "ChunkSink",
    "Event",
    "Policy",
    "RateChange",
    "Regimen",
    "SimulationResult",
    "SolverOptions",
    "default_workers",
    "integrate_subject",
    "simulate",
    "simulate_streaming",
]
