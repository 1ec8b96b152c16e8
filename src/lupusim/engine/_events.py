"""Low-level events the engine applies at exact times.

Treatments compile to these; the engine knows nothing else about drugs.
``Bolus`` adds an amount to a state; ``RateChange`` adds to a piecewise-constant input
(inputs compose additively, so a pulse on top of a maintenance dose is two changes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lupusim.model._spec import ModelSpec


@dataclass(frozen=True, order=True)
class Bolus:
    """Add ``amount`` (in the state's unit) to ``state`` at ``time_days``."""

    time_days: float
    state: str
    amount: float
    label: str = field(default="", compare=False)


@dataclass(frozen=True, order=True)
class RateChange:
    """Add ``delta`` to the piecewise-constant input ``input`` from ``time_days`` on."""

    time_days: float
    input: str
    delta: float
    label: str = field(default="", compare=False)


Event = Bolus | RateChange


@runtime_checkable
class Policy(Protocol):
    """A rule evaluated at check times that may add events (e.g. re-infuse on relapse).

    ``decide`` sees the subject's observables at time ``t`` (after that time's scheduled
    events), a private memory, the model and the subject's parameters, and returns new
    events at ``t`` or later.
    Policies must be picklable (plain frozen dataclasses) for multi-process runs. A
    policy may list the observables it reads in a ``needs`` attribute (a tuple of
    names); then only those are computed at each check, which is much faster.
    """

    def check_times(self, t0: float, t_end: float) -> Sequence[float]: ...

    def initial_memory(self) -> dict[str, Any]: ...

    def decide(
        self,
        t: float,
        observables: Mapping[str, float],
        memory: dict[str, Any],
        model: ModelSpec,
        parameters: np.ndarray,
    ) -> list[Event]: ...
