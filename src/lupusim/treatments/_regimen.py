"""Regimens: a named list of doses plus rules evaluated during the simulation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from lupusim.engine._events import Event, Policy
from lupusim.model._spec import ModelSpec
from lupusim.treatments._doses import Cyclophosphamide, MSCInfusion


class Dose(Protocol):
    """Anything that compiles to engine events for one subject."""

    def events(self, model: ModelSpec, parameters: np.ndarray) -> list[Event]: ...


@dataclass(frozen=True)
class Regimen:
    """A treatment regimen: doses (data) and policies (rules checked at times)."""

    name: str
    doses: tuple[Dose, ...] = ()
    policies: tuple[Policy, ...] = ()

    def events(self, model: ModelSpec, parameters: np.ndarray) -> list[Event]:
        out: list[Event] = []
        for dose in self.doses:
            out.extend(dose.events(model, parameters))
        return out

    def plus(
        self, *doses: Dose, policies: Sequence[Policy] = (), name: str | None = None
    ) -> Regimen:
        """A new regimen with more doses/policies."""
        return Regimen(
            name or self.name, self.doses + tuple(doses), self.policies + tuple(policies)
        )


def nih_cyclophosphamide(
    start_day: float, g_per_m2: float = 0.75, monthly: int = 6, quarterly: int = 0
) -> tuple[Cyclophosphamide, ...]:
    """NIH regimen: IV pulses monthly (every 30 days), then every 90 days."""
    pulses = [
        Cyclophosphamide(start_day + 30.0 * i, dose_g_per_m2=g_per_m2) for i in range(monthly)
    ]
    last = start_day + 30.0 * (monthly - 1)
    pulses += [
        Cyclophosphamide(last + 90.0 * (i + 1), dose_g_per_m2=g_per_m2) for i in range(quarterly)
    ]
    return tuple(pulses)


def euro_lupus_cyclophosphamide(start_day: float) -> tuple[Cyclophosphamide, ...]:
    """Euro-Lupus: 500 mg IV every 2 weeks × 6 (ACCESS, ../shared/science §5)."""
    return tuple(Cyclophosphamide(start_day + 14.0 * i, dose_mg=500.0) for i in range(6))


@dataclass(frozen=True)
class ReinfuseOnRelapse:
    """Re-infuse MSC at a visit where a patient in remission has relapsed.

    Checked every ``check_every_days`` from ``start_day``. Remission is reached when
    24-h protein < ``remission_protein_g`` (0.5 g/day); a relapse is 24-h protein above
    ``relapse_protein_g`` (1.0 g/day) after remission — the proteinuria relapse of Liang
    2010 (../shared/science §4). At most one infusion per ``min_interval_days``.
    """

    infusion: MSCInfusion
    start_day: float = 0.0
    check_every_days: float = 30.0
    remission_protein_g: float = 0.5
    relapse_protein_g: float = 1.0
    min_interval_days: float = 180.0
    max_reinfusions: int = 10

    def check_times(self, t0: float, t_end: float) -> Sequence[float]:
        first = max(t0, self.start_day)
        return list(np.arange(first, t_end + 1e-9, self.check_every_days))

    def initial_memory(self) -> dict[str, Any]:
        return {"in_remission": False, "last_infusion": -np.inf, "count": 0}

    def decide(
        self,
        t: float,
        observables: Mapping[str, float],
        memory: dict[str, Any],
        model: ModelSpec,
        parameters: np.ndarray,
    ) -> list[Event]:
        protein = observables["protein_24h_g"]
        if protein < self.remission_protein_g:
            memory["in_remission"] = True
            return []
        relapsed = memory["in_remission"] and protein > self.relapse_protein_g
        allowed = (
            t - memory["last_infusion"] >= self.min_interval_days
            and memory["count"] < self.max_reinfusions
        )
        if relapsed and allowed:
            memory["in_remission"] = False
            memory["last_infusion"] = t
            memory["count"] += 1
            return replace(self.infusion, day=t).events(model, parameters)
        return []
