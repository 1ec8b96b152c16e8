"""Simulation results: states, inputs, per-subject status, observables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lupusim.engine._events import Event
from lupusim.engine._solver import STATUS_OK, SubjectOutcome
from lupusim.model._codegen import compile_model
from lupusim.model._spec import ModelSpec


@dataclass(frozen=True)
class SimulationResult:
    """States ``(N, T, S)`` and inputs ``(N, T, U)`` on the output grid ``times``."""

    model: ModelSpec
    times: np.ndarray
    parameters: np.ndarray
    states: np.ndarray
    inputs: np.ndarray
    status: np.ndarray  # (N,) int, 0 = ok
    messages: tuple[str, ...]
    failed_at_day: np.ndarray
    applied_events: tuple[tuple[Event, ...], ...]

    @classmethod
    def from_outcomes(
        cls,
        model: ModelSpec,
        times: np.ndarray,
        parameters: np.ndarray,
        outcomes: Sequence[SubjectOutcome],
    ) -> SimulationResult:
        return cls(
            model=model,
            times=times,
            parameters=parameters,
            states=np.stack([o.states for o in outcomes]),
            inputs=np.stack([o.inputs for o in outcomes]),
            status=np.array([o.status for o in outcomes], dtype=int),
            messages=tuple(o.message for o in outcomes),
            failed_at_day=np.array([o.failed_at_day for o in outcomes]),
            applied_events=tuple(tuple(o.applied_events) for o in outcomes),
        )

    @property
    def n_subjects(self) -> int:
        return int(self.states.shape[0])

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of subjects whose integration succeeded."""
        return np.asarray(self.status == STATUS_OK)

    def state(self, name: str) -> np.ndarray:
        """``(N, T)`` trajectory of one state."""
        return np.asarray(self.states[:, :, self.model.state_index(name)])

    def observables(self) -> dict[str, np.ndarray]:
        """Every observable of the model as an ``(N, T)`` array."""
        compiled = compile_model(self.model)
        return compiled.observables(
            self.times[None, :], self.states, self.parameters[:, None, :], self.inputs
        )

    def failures(self) -> pd.DataFrame:
        """One row per failed subject: index, status code, message, day of failure."""
        idx = np.flatnonzero(~self.ok)
        return pd.DataFrame(
            {
                "subject_index": idx,
                "status": self.status[idx],
                "message": [self.messages[i] for i in idx],
                "failed_at_day": self.failed_at_day[idx],
            }
        )
