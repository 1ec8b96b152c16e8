"""Regimens: a named list of doses plus rules evaluated during the simulation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
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


def shifted(dose: Dose, offset_days: float) -> Dose:
    """The same dose ``offset_days`` later (every time field of a dose dataclass moves)."""
    if not is_dataclass(dose):
        raise TypeError(f"cannot shift {dose!r}: not a dose dataclass")
    changes: dict[str, Any] = {}
    for f in fields(dose):
        value = getattr(dose, f.name)
        if f.name in ("day", "start_day", "stop_day") and value is not None:
            changes[f.name] = value + offset_days
        elif f.name == "steps":
            changes[f.name] = tuple((d + offset_days, mg) for d, mg in value)
    return replace(dose, **changes)


@dataclass(frozen=True)
class TreatOnRelapse:
    """Give ``doses`` (timed relative to the relapse visit) when a patient relapses.

    Checked every ``check_every_days`` from ``start_day``. Remission is reached when
    24-h protein < ``remission_protein_g`` (0.5 g/day); a relapse is 24-h protein above
    ``relapse_protein_g`` (1.0 g/day) after remission — the proteinuria relapse of Liang
    2010 (../shared/science §4). At most one treatment per ``min_interval_days``, and at
    most ``max_treatments`` in all.
    """

    doses: tuple[Dose, ...]
    label: str = "treat on relapse"
    start_day: float = 0.0
    check_every_days: float = 30.0
    remission_protein_g: float = 0.5
    relapse_protein_g: float = 1.0
    min_interval_days: float = 180.0
    max_treatments: int = 10
    needs: tuple[str, ...] = ("protein_24h_g",)

    def check_times(self, t0: float, t_end: float) -> Sequence[float]:
        first = max(t0, self.start_day)
        return list(np.arange(first, t_end + 1e-9, self.check_every_days))

    def initial_memory(self) -> dict[str, Any]:
        return {"in_remission": False, "last_treatment": -np.inf, "count": 0}

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
            t - memory["last_treatment"] >= self.min_interval_days
            and memory["count"] < self.max_treatments
        )
        if not (relapsed and allowed):
            return []
        memory["in_remission"] = False
        memory["last_treatment"] = t
        memory["count"] += 1
        events: list[Event] = []
        for dose in self.doses:
            events.extend(shifted(dose, t).events(model, parameters))
        return events


def ReinfuseOnRelapse(
    infusion: MSCInfusion,
    *,
    start_day: float = 0.0,
    check_every_days: float = 30.0,
    remission_protein_g: float = 0.5,
    relapse_protein_g: float = 1.0,
    min_interval_days: float = 180.0,
    max_reinfusions: int = 10,
) -> TreatOnRelapse:
    """Re-infuse MSC (``infusion``, its day taken as 0) at each relapse."""
    return TreatOnRelapse(
        (replace(infusion, day=0.0),),
        "re-infuse MSC on relapse",
        start_day,
        check_every_days,
        remission_protein_g,
        relapse_protein_g,
        min_interval_days,
        max_reinfusions,
    )
