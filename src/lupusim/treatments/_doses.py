"""Treatments as data: each dose compiles to the engine's low-level events.

Units are in every field name. Conversions are documented where they are made:

* Cyclophosphamide exposure is counted in *reference doses*: one reference dose is the
  human-equivalent dose (HED) of 20 mg/kg, i.e. 0.75 g/m² (the seed patients' monthly
  dose, Sun 2009) for a 60 kg adult of 1.6 m². Mouse doses in mg/kg are converted to
  HED by dividing by 12.3 (FDA 2005 body-surface-area guidance, Km 3 vs 37) [M].
* Methylprednisolone counts as 1.25 × prednisone (standard equivalence) [M].
* Donor MSC lodge in the lung: a dose adds ``cells/kg × viability`` to the lung pool and
  the same weighted by the source's potency to the potency pool.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Literal

import numpy as np

from lupusim.engine._events import Bolus, Event, RateChange
from lupusim.model._spec import ModelSpec

CTX_REFERENCE_HED_MG_PER_KG = 20.0
MOUSE_TO_HUMAN_DOSE_DIVISOR = 12.3
METHYLPREDNISOLONE_TO_PREDNISONE = 1.25
DEFAULT_HEIGHT_CM = 165.0

MscSource = Literal["bm_allogeneic", "uc_allogeneic", "autologous_sle"]

#: Potency of one viable donor cell relative to healthy allogeneic bone-marrow MSC.
#: UC-MSC: assumption (equal; the Nanjing cohorts pooled BM and UC, Wang 2013).
#: Autologous lupus MSC: the patient's own host MSC function (defective; Carrión 2010).
MSC_SOURCE_POTENCY: dict[str, float | None] = {
    "bm_allogeneic": 1.0,
    "uc_allogeneic": 1.0,
    "autologous_sle": None,  # = subject's host_msc_function at baseline
}


def _param(model: ModelSpec, parameters: np.ndarray, name: str) -> float:
    return float(parameters[model.parameter_index(name)])


def _is_mouse(model: ModelSpec) -> bool:
    return model.name.endswith("mouse")


def body_surface_area_m2(weight_kg: float, height_cm: float = DEFAULT_HEIGHT_CM) -> float:
    """Mosteller body-surface area: sqrt(height_cm × weight_kg / 3600)."""
    return math.sqrt(height_cm * weight_kg / 3600.0)


@dataclass(frozen=True)
class MSCInfusion:
    """Intravenous MSC infusion at ``day``: give either cells/kg or total cells."""

    day: float
    cells_per_kg: float | None = None
    cells: float | None = None
    source: MscSource = "bm_allogeneic"
    viability: float = 1.0

    def __post_init__(self) -> None:
        if (self.cells_per_kg is None) == (self.cells is None):
            raise ValueError("MSCInfusion needs exactly one of cells_per_kg or cells")
        if self.source not in MSC_SOURCE_POTENCY:
            raise ValueError(f"unknown MSC source {self.source!r}")
        if not 0.0 < self.viability <= 1.0:
            raise ValueError("viability must be in (0, 1]")

    def events(self, model: ModelSpec, parameters: np.ndarray) -> list[Event]:
        weight = _param(model, parameters, "body_weight_kg")
        per_kg = self.cells_per_kg if self.cells_per_kg is not None else self.cells / weight  # type: ignore[operator]
        viable = per_kg * self.viability
        potency = MSC_SOURCE_POTENCY[self.source]
        if potency is None:
            potency = _param(model, parameters, "msc_intrinsic_function")
        label = f"MSC {self.source} {per_kg:.3g} cells/kg"
        return [
            Bolus(self.day, "donor_msc_lung", viable, label),
            Bolus(self.day, "donor_msc_potency", viable * potency, label),
        ]


@dataclass(frozen=True)
class Cyclophosphamide:
    """One cyclophosphamide pulse: human g/m², fixed mg (Euro-Lupus) or mouse mg/kg."""

    day: float
    dose_g_per_m2: float | None = None
    dose_mg: float | None = None
    dose_mg_per_kg: float | None = None

    def __post_init__(self) -> None:
        given = [
            x for x in (self.dose_g_per_m2, self.dose_mg, self.dose_mg_per_kg) if x is not None
        ]
        if len(given) != 1:
            raise ValueError("Cyclophosphamide needs exactly one dose field")
        if given[0] < 0:
            raise ValueError("dose must be non-negative")

    def human_equivalent_mg_per_kg(self, model: ModelSpec, parameters: np.ndarray) -> float:
        weight = _param(model, parameters, "body_weight_kg")
        if self.dose_mg_per_kg is not None:
            per_kg = self.dose_mg_per_kg
        elif self.dose_mg is not None:
            per_kg = self.dose_mg / weight
        else:
            per_kg = self.dose_g_per_m2 * 1000.0 * body_surface_area_m2(weight) / weight  # type: ignore[operator]
        return per_kg / MOUSE_TO_HUMAN_DOSE_DIVISOR if _is_mouse(model) else per_kg

    def events(self, model: ModelSpec, parameters: np.ndarray) -> list[Event]:
        hed = self.human_equivalent_mg_per_kg(model, parameters)
        return [
            Bolus(
                self.day,
                "cyclophosphamide_exposure",
                hed / CTX_REFERENCE_HED_MG_PER_KG,
                f"cyclophosphamide {hed:.3g} mg/kg HED",
            )
        ]


@dataclass(frozen=True)
class _DailyDrug:
    """A constant daily dose over ``[start_day, stop_day)`` (stop None = to the end)."""

    start_day: float
    stop_day: float | None
    amount: float
    input_name: str = ""
    label: str = ""

    def events(self, model: ModelSpec, parameters: np.ndarray) -> list[Event]:
        return list(_daily_drug_events(self))


@lru_cache(maxsize=4096)
def _daily_drug_events(drug: _DailyDrug) -> tuple[Event, ...]:
    """A daily drug's events (the same for every subject: built once per dose object)."""
    if drug.amount < 0:
        raise ValueError(f"{drug.label}: negative dose")
    if drug.stop_day is not None and drug.stop_day <= drug.start_day:
        raise ValueError(f"{drug.label}: stop_day must be after start_day")
    out: list[Event] = [RateChange(drug.start_day, drug.input_name, drug.amount, drug.label)]
    if drug.stop_day is not None:
        out.append(RateChange(drug.stop_day, drug.input_name, -drug.amount, drug.label))
    return tuple(out)


def Prednisone(start_day: float, stop_day: float | None, mg_per_day: float) -> _DailyDrug:
    """Oral prednisone (or equivalent) at a constant daily dose."""
    return _DailyDrug(
        start_day, stop_day, mg_per_day, "prednisone_mg_day", f"prednisone {mg_per_day} mg/day"
    )


def Methylprednisolone(day: float, mg_per_day: float, days: int = 3) -> _DailyDrug:
    """IV methylprednisolone pulses on ``days`` consecutive days, as prednisone-equivalent."""
    pred = mg_per_day * METHYLPREDNISOLONE_TO_PREDNISONE
    return _DailyDrug(
        day,
        day + days,
        pred,
        "prednisone_mg_day",
        f"methylprednisolone {mg_per_day} mg/day ×{days}",
    )


def Mycophenolate(start_day: float, stop_day: float | None, g_per_day: float) -> _DailyDrug:
    """Mycophenolate mofetil, g/day."""
    return _DailyDrug(
        start_day, stop_day, g_per_day, "mycophenolate_g_day", f"mycophenolate {g_per_day} g/day"
    )


def Azathioprine(start_day: float, stop_day: float | None, mg_per_kg_day: float) -> _DailyDrug:
    """Azathioprine, mg/kg/day."""
    return _DailyDrug(
        start_day,
        stop_day,
        mg_per_kg_day,
        "azathioprine_mg_kg_day",
        f"azathioprine {mg_per_kg_day} mg/kg/day",
    )


def Hydroxychloroquine(start_day: float, stop_day: float | None, mg_per_day: float) -> _DailyDrug:
    """Hydroxychloroquine, mg/day."""
    return _DailyDrug(
        start_day,
        stop_day,
        mg_per_day,
        "hydroxychloroquine_mg_day",
        f"hydroxychloroquine {mg_per_day} mg/day",
    )


@dataclass(frozen=True)
class GlucocorticoidTaper:
    """Prednisone at stepwise doses: ``steps`` are ``(start_day, mg_per_day)`` pairs.

    Each step lasts until the next; the last lasts until ``stop_day`` (None = to the end).
    """

    steps: tuple[tuple[float, float], ...]
    stop_day: float | None = None

    def __post_init__(self) -> None:
        days = [d for d, _ in self.steps]
        if not self.steps or any(b <= a for a, b in pairwise(days)):
            raise ValueError("taper steps must be non-empty with increasing days")

    def events(self, model: ModelSpec, parameters: np.ndarray) -> list[Event]:
        return list(_taper_events(self))


@lru_cache(maxsize=4096)
def _taper_events(taper: GlucocorticoidTaper) -> tuple[Event, ...]:
    """A taper's events (the same for every subject: built once per taper object)."""
    out: list[Event] = []
    ends = [d for d, _ in taper.steps[1:]] + [taper.stop_day]
    for (start, mg), stop in zip(taper.steps, ends, strict=True):
        if mg > 0:
            out += _daily_drug_events(Prednisone(start, stop, mg))
    return tuple(out)


@dataclass(frozen=True)
class FlareTrigger:
    """An extrinsic trigger of disease activity (infection, UV, non-adherence) at ``day``.

    Adds ``magnitude`` (1/day) to the model's ``flare_drive``: a burst of autoreactive
    B-cell activation that decays over weeks; used to sample relapses stochastically.
    """

    day: float
    magnitude: float

    def events(self, model: ModelSpec, parameters: np.ndarray) -> list[Event]:
        return [
            Bolus(self.day, "flare_drive", self.magnitude, f"flare trigger {self.magnitude:.2g}")
        ]


#: Background flare triggers (assumption, as in the Sun 2009 projection): extrinsic
#: bursts arrive as a Poisson process, 0.5 per year, each of size ~ Exp(mean) in units of
#: B-cell activation (1/day). No source in ../shared/science gives the rate; it is the
#: model's stand-in for infections, UV exposure and non-adherence. The human preset holds
#: the values trials use (``flare_trigger_rate_per_year``, ``flare_trigger_mean_magnitude``).
FLARE_TRIGGER_RATE_PER_YEAR = 0.5
FLARE_TRIGGER_MEAN_MAGNITUDE = 0.05


def poisson_flare_triggers(
    rng: np.random.Generator,
    start_day: float,
    end_day: float,
    rate_per_year: float = FLARE_TRIGGER_RATE_PER_YEAR,
    mean_magnitude: float = FLARE_TRIGGER_MEAN_MAGNITUDE,
) -> tuple[FlareTrigger, ...]:
    """Flare triggers over ``[start_day, end_day)``: a Poisson count, uniform sorted days,
    exponential magnitudes (in that order of draws from ``rng``)."""
    years = (end_day - start_day) / 365.25
    n = rng.poisson(rate_per_year * years)
    days = np.sort(rng.uniform(start_day, end_day, size=n))
    mags = rng.exponential(mean_magnitude, size=n)
    return tuple(FlareTrigger(float(d), float(m)) for d, m in zip(days, mags, strict=True))
