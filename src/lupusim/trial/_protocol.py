"""The trial protocol: a YAML file validated by pydantic (see docs/trials.md).

A protocol names the population (inclusion/exclusion criteria on baseline observables and
treatment history), the arms (regimens built from :mod:`lupusim.treatments`), allocation,
visit schedule, endpoints (instruments of :mod:`lupusim.clinical` at a week, time to event,
rates per 100 patient-years, cumulative glucocorticoid), sample size and follow-up.

Units are in field names (``day``, ``cells_per_kg``, ``g_per_m2``, ``mg_per_day``).
Days count from the first treatment (day 0); weeks are 7 days.
:func:`load_protocol` turns every validation failure into one line of
:class:`~lupusim.errors.InputError` naming the file and the field path.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lupusim._yaml import load_yaml
from lupusim.clinical._ranges import RANGES, Ranges, format_number
from lupusim.clinical.renal import RENAL_LEVEL_RULES
from lupusim.clinical.score import SCORE_COLUMNS, YN_COLUMNS
from lupusim.errors import InputError
from lupusim.treatments import (
    Azathioprine,
    Cyclophosphamide,
    Dose,
    GlucocorticoidTaper,
    Hydroxychloroquine,
    Methylprednisolone,
    MSCInfusion,
    MscSource,
    Mycophenolate,
    Prednisone,
    Regimen,
    ReinfuseOnRelapse,
    TreatOnRelapse,
    euro_lupus_cyclophosphamide,
    nih_cyclophosphamide,
)

DAYS_PER_WEEK = 7.0

# ---------------------------------------------------------------------------------
# Names the protocol may refer to
# ---------------------------------------------------------------------------------

#: Score columns that are instruments (identifiers excluded).
INSTRUMENTS: tuple[str, ...] = tuple(
    c for c in SCORE_COLUMNS if c not in ("subject_id", "visit", "study_day")
)
#: Values each categorical instrument takes; numeric instruments are absent.
INSTRUMENT_VALUES: dict[str, tuple[str, ...]] = {
    **{c: ("complete", "partial", "none") for c in RENAL_LEVEL_RULES},
    **{c: ("Y", "N") for c in YN_COLUMNS},
    "flare_sfi": ("severe", "mild_moderate", "none"),
}
#: Baseline quantities that are not model observables, with their unit.
EXTRA_OBSERVABLES: dict[str, str] = {"sledai2k": "points", "age_years": "years"}
#: Stratification factors that are subject attributes rather than observables.
STRATIFIERS: tuple[str, ...] = ("sex", "race", "region", "ln_class")

Drug = Literal[
    "cyclophosphamide",
    "mycophenolate",
    "azathioprine",
    "glucocorticoid",
    "hydroxychloroquine",
    "calcineurin_inhibitor",
    "rituximab",
]
TimedEvent = Literal["flare", "serious_infection", "death", "eskd"]
Op = Literal[">=", ">", "<=", "<", "=="]


@lru_cache(maxsize=1)
def known_observables() -> dict[str, str]:
    """Observable name → unit: the human model's observables plus ``sledai2k``, age."""
    from lupusim.model import get_preset

    model = get_preset("human").model
    units = {obs.name: obs.unit for obs in model.observables}
    return {**units, **EXTRA_OBSERVABLES}


class _Strict(BaseModel):
    """Unknown keys, wrong types (``true`` or ``"5"`` for a number) and non-finite numbers
    (``.inf``, ``.nan``, ``1e400``) are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _ranges_of(info: ValidationInfo) -> Ranges:
    """The range table of this validation (``context={"ranges": ...}``), else the default."""
    context = info.context if isinstance(info.context, dict) else {}
    table = context.get("ranges")
    return table if isinstance(table, Ranges) else RANGES


def _ranged(name: str) -> AfterValidator:
    """Check a number against range ``name`` of the range table (``clinical._ranges``)."""

    def check(value: float | None, info: ValidationInfo) -> float | None:
        if value is not None:
            why = _ranges_of(info).why(name, float(value))
            if why is not None:
                raise ValueError(f"value {format_number(value)}: {why}")
        return value

    return AfterValidator(check)


# ---------------------------------------------------------------------------------
# Population
# ---------------------------------------------------------------------------------


class Criterion(_Strict):
    """``observable op value`` at baseline, e.g. ``upcr_g_per_g >= 1`` (unit g/g).

    ``value`` is checked against the observable's range where the range table has one.
    """

    observable: str
    op: Op
    value: float
    unit: str | None = None

    @field_validator("observable")
    @classmethod
    def _known(cls, v: str) -> str:
        known = known_observables()
        if v not in known:
            raise ValueError(f"unknown observable {v!r}; known: {', '.join(sorted(known))}")
        return v

    @model_validator(mode="after")
    def _unit_matches(self, info: ValidationInfo) -> Criterion:
        expected = known_observables()[self.observable]
        if self.unit is not None and self.unit != expected:
            raise ValueError(f"unit: {self.observable} is in {expected!r}, not {self.unit!r}")
        why = _ranges_of(info).why(self.observable, self.value)
        if why is not None:
            raise ValueError(f"value: value {format_number(self.value)}: {why}")
        return self

    def holds(self, x: Any) -> Any:
        """Whether baseline value(s) ``x`` (a number or an array) satisfy the criterion."""
        return {
            ">=": x >= self.value,
            ">": x > self.value,
            "<=": x <= self.value,
            "<": x < self.value,
            "==": x == self.value,
        }[self.op]


class Refractory(_Strict):
    """Refractory disease: ≥ ``min_months`` of any of ``drugs`` without response."""

    drugs: list[Drug] = Field(min_length=1)
    min_months: float = Field(gt=0)
    without_response: bool = True


class TreatmentHistory(_Strict):
    """Required or excluded prior treatment."""

    refractory: Refractory | None = None
    excluded_prior: list[Drug] = Field(default_factory=list)


class Population(_Strict):
    """Who enters: all inclusion criteria hold, no exclusion criterion holds."""

    description: str = ""
    inclusion: list[Criterion] = Field(default_factory=list)
    exclusion: list[Criterion] = Field(default_factory=list)
    treatment_history: TreatmentHistory | None = None
    #: A built-in target population (``lupusim.population.TARGET_POPULATIONS``) whose
    #: baseline distribution the eligible virtual patients are matched to by prevalence
    #: weighting; None keeps the model prior restricted by the criteria.
    target: str | None = None

    @field_validator("target")
    @classmethod
    def _known_target(cls, v: str | None) -> str | None:
        from lupusim.population._targets import TARGET_POPULATIONS

        if v is not None and v not in TARGET_POPULATIONS:
            raise ValueError(
                f"unknown target population {v!r}; known: {', '.join(TARGET_POPULATIONS)}"
            )
        return v


# ---------------------------------------------------------------------------------
# Doses: one spec per lupusim.treatments class, discriminated by ``kind``
# ---------------------------------------------------------------------------------


class _DailySpec(_Strict):
    start_day: float = Field(ge=0)
    stop_day: float | None = None

    @model_validator(mode="after")
    def _stop_after_start(self) -> _DailySpec:
        if self.stop_day is not None and self.stop_day <= self.start_day:
            raise ValueError("stop_day: must be after start_day")
        return self

    def start_days(self) -> list[float]:
        return [self.start_day]


class MSCSpec(_Strict):
    """Intravenous MSC infusion: exactly one of ``cells_per_kg`` or ``cells``."""

    kind: Literal["msc"]
    day: float = Field(ge=0)
    cells_per_kg: Annotated[float | None, _ranged("dose_msc_cells_per_kg")] = Field(
        default=None, gt=0
    )
    cells: Annotated[float | None, _ranged("dose_msc_cells")] = Field(default=None, gt=0)
    source: MscSource = "bm_allogeneic"
    viability: float = Field(default=1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _one_amount(self) -> MSCSpec:
        if (self.cells_per_kg is None) == (self.cells is None):
            raise ValueError("give exactly one of cells_per_kg or cells")
        return self

    def start_days(self) -> list[float]:
        return [self.day]

    def build(self) -> tuple[Dose, ...]:
        return (MSCInfusion(self.day, self.cells_per_kg, self.cells, self.source, self.viability),)


class CyclophosphamideSpec(_Strict):
    """One IV pulse: exactly one of ``dose_g_per_m2``, ``dose_mg``, ``dose_mg_per_kg``."""

    kind: Literal["cyclophosphamide"]
    day: float = Field(ge=0)
    dose_g_per_m2: Annotated[float | None, _ranged("dose_cyclophosphamide_g_per_m2")] = Field(
        default=None, gt=0
    )
    dose_mg: Annotated[float | None, _ranged("dose_cyclophosphamide_mg")] = Field(
        default=None, gt=0
    )
    dose_mg_per_kg: Annotated[float | None, _ranged("dose_cyclophosphamide_mg_per_kg")] = Field(
        default=None, gt=0
    )

    @model_validator(mode="after")
    def _one_dose(self) -> CyclophosphamideSpec:
        given = [self.dose_g_per_m2, self.dose_mg, self.dose_mg_per_kg]
        if sum(x is not None for x in given) != 1:
            raise ValueError("give exactly one of dose_g_per_m2, dose_mg, dose_mg_per_kg")
        return self

    def start_days(self) -> list[float]:
        return [self.day]

    def build(self) -> tuple[Dose, ...]:
        return (Cyclophosphamide(self.day, self.dose_g_per_m2, self.dose_mg, self.dose_mg_per_kg),)


class NihCyclophosphamideSpec(_Strict):
    """NIH IV cyclophosphamide: ``monthly`` pulses every 30 days, then every 90 days."""

    kind: Literal["nih_cyclophosphamide"]
    start_day: float = Field(ge=0)
    g_per_m2: Annotated[float, _ranged("dose_cyclophosphamide_g_per_m2")] = Field(
        default=0.75, gt=0
    )
    monthly: int = Field(default=6, ge=1)
    quarterly: int = Field(default=0, ge=0)

    def build(self) -> tuple[Dose, ...]:
        return nih_cyclophosphamide(self.start_day, self.g_per_m2, self.monthly, self.quarterly)

    def start_days(self) -> list[float]:
        return [
            float(d.day)
            for d in nih_cyclophosphamide(self.start_day, 1.0, self.monthly, self.quarterly)
        ]


class EuroLupusCyclophosphamideSpec(_Strict):
    """Euro-Lupus: 500 mg IV every 2 weeks × 6."""

    kind: Literal["euro_lupus_cyclophosphamide"]
    start_day: float = Field(ge=0)

    def build(self) -> tuple[Dose, ...]:
        return euro_lupus_cyclophosphamide(self.start_day)

    def start_days(self) -> list[float]:
        return [float(d.day) for d in euro_lupus_cyclophosphamide(self.start_day)]


class PrednisoneSpec(_DailySpec):
    """Oral prednisone at a constant ``mg_per_day`` over [start_day, stop_day)."""

    kind: Literal["prednisone"]
    mg_per_day: Annotated[float, _ranged("dose_prednisone_mg_per_day")] = Field(gt=0)

    def build(self) -> tuple[Dose, ...]:
        return (Prednisone(self.start_day, self.stop_day, self.mg_per_day),)


class MethylprednisoloneSpec(_Strict):
    """IV methylprednisolone pulses: ``mg_per_day`` on ``days`` consecutive days."""

    kind: Literal["methylprednisolone"]
    day: float = Field(ge=0)
    mg_per_day: Annotated[float, _ranged("dose_methylprednisolone_mg_per_day")] = Field(gt=0)
    days: int = Field(default=3, ge=1)

    def start_days(self) -> list[float]:
        return [self.day]

    def build(self) -> tuple[Dose, ...]:
        return (Methylprednisolone(self.day, self.mg_per_day, self.days),)


class MycophenolateSpec(_DailySpec):
    """Mycophenolate mofetil, ``g_per_day``."""

    kind: Literal["mycophenolate"]
    g_per_day: Annotated[float, _ranged("dose_mycophenolate_g_per_day")] = Field(gt=0)

    def build(self) -> tuple[Dose, ...]:
        return (Mycophenolate(self.start_day, self.stop_day, self.g_per_day),)


class AzathioprineSpec(_DailySpec):
    """Azathioprine, ``mg_per_kg_day``."""

    kind: Literal["azathioprine"]
    mg_per_kg_day: Annotated[float, _ranged("dose_azathioprine_mg_per_kg_day")] = Field(gt=0)

    def build(self) -> tuple[Dose, ...]:
        return (Azathioprine(self.start_day, self.stop_day, self.mg_per_kg_day),)


class HydroxychloroquineSpec(_DailySpec):
    """Hydroxychloroquine, ``mg_per_day``."""

    kind: Literal["hydroxychloroquine"]
    mg_per_day: Annotated[float, _ranged("dose_hydroxychloroquine_mg_per_day")] = Field(gt=0)

    def build(self) -> tuple[Dose, ...]:
        return (Hydroxychloroquine(self.start_day, self.stop_day, self.mg_per_day),)


class TaperStep(_Strict):
    """One step of a taper: ``mg_per_day`` prednisone from ``day`` until the next step."""

    day: float = Field(ge=0)
    mg_per_day: Annotated[float, _ranged("dose_prednisone_mg_per_day")] = Field(ge=0)


class GlucocorticoidTaperSpec(_Strict):
    """Stepwise prednisone; the last step lasts until ``stop_day`` (None = to the end)."""

    kind: Literal["glucocorticoid_taper"]
    steps: list[TaperStep] = Field(min_length=1)
    stop_day: float | None = None

    @model_validator(mode="after")
    def _increasing(self) -> GlucocorticoidTaperSpec:
        days = [s.day for s in self.steps]
        if any(b <= a for a, b in pairwise(days)):
            raise ValueError("steps: step days must increase")
        if self.stop_day is not None and self.stop_day <= days[-1]:
            raise ValueError("stop_day: must be after the last step")
        return self

    def start_days(self) -> list[float]:
        return [s.day for s in self.steps if s.mg_per_day > 0]

    def build(self) -> tuple[Dose, ...]:
        steps = tuple((s.day, s.mg_per_day) for s in self.steps)
        return (GlucocorticoidTaper(steps, self.stop_day),)


DoseSpec = Annotated[
    MSCSpec
    | CyclophosphamideSpec
    | NihCyclophosphamideSpec
    | EuroLupusCyclophosphamideSpec
    | PrednisoneSpec
    | MethylprednisoloneSpec
    | MycophenolateSpec
    | AzathioprineSpec
    | HydroxychloroquineSpec
    | GlucocorticoidTaperSpec,
    Field(discriminator="kind"),
]


# ---------------------------------------------------------------------------------
# Relapse rules
# ---------------------------------------------------------------------------------


class _RelapseRule(_Strict):
    """Proteinuria relapse after remission (Liang 2010), checked every ``check_every_days``."""

    start_day: float = Field(default=0.0, ge=0)
    check_every_days: float = Field(default=30.0, gt=0)
    remission_protein_g: Annotated[float, _ranged("protein_24h_g")] = Field(default=0.5, gt=0)
    relapse_protein_g: Annotated[float, _ranged("protein_24h_g")] = Field(default=1.0, gt=0)
    min_interval_days: float = Field(default=180.0, ge=0)

    @model_validator(mode="after")
    def _thresholds(self) -> _RelapseRule:
        if self.relapse_protein_g < self.remission_protein_g:
            raise ValueError("relapse_protein_g: must be at least remission_protein_g")
        return self


class ReinfusionInfusion(_Strict):
    """The MSC infusion given at each relapse (its day is the relapse visit)."""

    cells_per_kg: Annotated[float | None, _ranged("dose_msc_cells_per_kg")] = Field(
        default=None, gt=0
    )
    cells: Annotated[float | None, _ranged("dose_msc_cells")] = Field(default=None, gt=0)
    source: MscSource = "bm_allogeneic"
    viability: float = Field(default=1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _one_amount(self) -> ReinfusionInfusion:
        if (self.cells_per_kg is None) == (self.cells is None):
            raise ValueError("give exactly one of cells_per_kg or cells")
        return self


class ReinfuseOnRelapseSpec(_RelapseRule):
    """Re-infuse MSC at each relapse, at most ``max_reinfusions`` times."""

    kind: Literal["reinfuse_on_relapse"]
    infusion: ReinfusionInfusion
    max_reinfusions: int = Field(default=10, ge=1)

    def build(self) -> TreatOnRelapse:
        i = self.infusion
        return ReinfuseOnRelapse(
            MSCInfusion(0.0, i.cells_per_kg, i.cells, i.source, i.viability),
            start_day=self.start_day,
            check_every_days=self.check_every_days,
            remission_protein_g=self.remission_protein_g,
            relapse_protein_g=self.relapse_protein_g,
            min_interval_days=self.min_interval_days,
            max_reinfusions=self.max_reinfusions,
        )


class TreatOnRelapseSpec(_RelapseRule):
    """Give ``doses`` (days relative to the relapse visit) at each relapse."""

    kind: Literal["treat_on_relapse"]
    doses: list[DoseSpec] = Field(min_length=1)
    label: str = "treat on relapse"
    max_treatments: int = Field(default=10, ge=1)

    def build(self) -> TreatOnRelapse:
        doses = tuple(d for spec in self.doses for d in spec.build())
        return TreatOnRelapse(
            doses,
            self.label,
            self.start_day,
            self.check_every_days,
            self.remission_protein_g,
            self.relapse_protein_g,
            self.min_interval_days,
            self.max_treatments,
        )


PolicySpec = Annotated[ReinfuseOnRelapseSpec | TreatOnRelapseSpec, Field(discriminator="kind")]


class Arm(_Strict):
    """A named regimen: doses from day 0 and optional relapse rules.

    Immunosuppression withdrawal is a ``stop_day`` on the drug's dose.
    """

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    description: str = ""
    doses: list[DoseSpec] = Field(default_factory=list)
    policies: list[PolicySpec] = Field(default_factory=list)

    def to_regimen(self) -> Regimen:
        """The :class:`lupusim.treatments.Regimen` this arm gives."""
        doses = tuple(d for spec in self.doses for d in spec.build())
        return Regimen(self.name, doses, tuple(p.build() for p in self.policies))


# ---------------------------------------------------------------------------------
# Allocation, visits, endpoints, sample size
# ---------------------------------------------------------------------------------


class Allocation(_Strict):
    """Randomisation ratio per arm (e.g. ``{msc: 2, placebo: 1}``) and strata."""

    ratio: dict[str, int]
    stratify_by: list[str] = Field(default_factory=list)

    @field_validator("ratio")
    @classmethod
    def _positive(cls, v: dict[str, int]) -> dict[str, int]:
        bad = [k for k, n in v.items() if n < 1]
        if not v or bad:
            raise ValueError(f"ratio needs a positive integer per arm (bad: {bad})")
        return v

    @field_validator("stratify_by")
    @classmethod
    def _known_strata(cls, v: list[str]) -> list[str]:
        known = set(known_observables()) | set(STRATIFIERS)
        for name in v:
            if name not in known:
                raise ValueError(f"unknown stratifier {name!r}; known: {', '.join(sorted(known))}")
        return v


class Visits(_Strict):
    """Scheduled visits: every ``every_weeks`` or at the listed ``weeks`` (week 0 = baseline)."""

    every_weeks: float | None = Field(default=None, gt=0)
    weeks: list[float] | None = None
    window_days: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _one_schedule(self) -> Visits:
        if (self.every_weeks is None) == (self.weeks is None):
            raise ValueError("give exactly one of every_weeks or weeks")
        weeks = self.weeks
        if weeks is not None and (any(w < 0 for w in weeks) or sorted(set(weeks)) != weeks):
            raise ValueError("weeks: must be non-negative and strictly increasing")
        return self

    def schedule(self, follow_up_weeks: float) -> list[float]:
        """Visit weeks from baseline (0) to the end of follow-up."""
        if self.weeks is not None:
            return sorted({0.0, *self.weeks})
        assert self.every_weeks is not None
        out, k = [], 0
        while k * self.every_weeks <= follow_up_weeks + 1e-9:
            out.append(k * self.every_weeks)
            k += 1
        return out


class _Endpoint(_Strict):
    name: str = Field(min_length=1)
    primary: bool = False
    description: str = ""


class InstrumentAtWeek(_Endpoint):
    """An instrument of :mod:`lupusim.clinical` at one visit week.

    With ``responder_values`` the endpoint is the proportion whose value is among them
    (e.g. ``[complete, partial]``, ``[Y]``); numeric instruments (``sledai2k``…) take
    none and give the mean.
    """

    kind: Literal["instrument_at_week"]
    instrument: str
    week: float = Field(gt=0)
    responder_values: list[str] | None = None

    @field_validator("instrument")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in INSTRUMENTS:
            raise ValueError(f"unknown instrument {v!r}; known: {', '.join(INSTRUMENTS)}")
        return v

    @model_validator(mode="after")
    def _values(self) -> InstrumentAtWeek:
        allowed = INSTRUMENT_VALUES.get(self.instrument)
        if self.responder_values is None:
            if allowed is not None:
                raise ValueError(
                    f"responder_values: {self.instrument} is categorical, "
                    f"give values among {allowed}"
                )
            return self
        if allowed is None:
            raise ValueError(f"responder_values: {self.instrument} is numeric, it takes none")
        bad = [x for x in self.responder_values if x not in allowed]
        if bad or not self.responder_values:
            raise ValueError(
                f"responder_values: values of {self.instrument} must be among {allowed}"
            )
        return self


class TimeToEvent(_Endpoint):
    """Time to the first ``event`` (censored at ``within_weeks`` or end of follow-up)."""

    kind: Literal["time_to_event"]
    event: TimedEvent
    within_weeks: float | None = Field(default=None, gt=0)


class RatePer100PY(_Endpoint):
    """Events per 100 patient-years (all occurrences, not only the first)."""

    kind: Literal["rate_per_100py"]
    event: TimedEvent
    within_weeks: float | None = Field(default=None, gt=0)


class CumulativeGlucocorticoid(_Endpoint):
    """Cumulative prednisone-equivalent dose from day 0 to ``at_week``."""

    kind: Literal["cumulative_glucocorticoid"]
    at_week: float = Field(gt=0)
    unit: Literal["g"] = "g"


Endpoint = Annotated[
    InstrumentAtWeek | TimeToEvent | RatePer100PY | CumulativeGlucocorticoid,
    Field(discriminator="kind"),
]


class SampleSize(_Strict):
    """Either ``total`` (split by the allocation ratio) or ``per_arm``."""

    total: Annotated[int | None, _ranged("sample_size")] = Field(default=None, ge=1)
    per_arm: dict[str, Annotated[int, _ranged("sample_size")]] | None = None

    @model_validator(mode="after")
    def _one(self) -> SampleSize:
        if (self.total is None) == (self.per_arm is None):
            raise ValueError("give exactly one of total or per_arm")
        if self.per_arm is not None and any(n < 1 for n in self.per_arm.values()):
            raise ValueError("per_arm: sizes must be positive")
        return self


def _time_field(dose: BaseModel) -> str:
    """The name of the field that times a dose spec (for error messages)."""
    for name in ("day", "start_day"):
        if name in type(dose).model_fields:
            return name
    return "steps"


def _endpoint_week(
    ep: InstrumentAtWeek | TimeToEvent | RatePer100PY | CumulativeGlucocorticoid,
) -> tuple[str, float | None]:
    if isinstance(ep, InstrumentAtWeek):
        return "week", ep.week
    if isinstance(ep, CumulativeGlucocorticoid):
        return "at_week", ep.at_week
    return "within_weeks", ep.within_weeks


def split_by_ratio(total: int, ratio: dict[str, int], arms: list[str]) -> dict[str, int]:
    """``total`` subjects split over ``arms`` by ``ratio`` (largest remainder)."""
    units = sum(ratio.values())
    exact = {a: total * ratio[a] / units for a in arms}
    out = {k: int(v) for k, v in exact.items()}
    rest = total - sum(out.values())
    for k in sorted(exact, key=lambda k: out[k] - exact[k])[:rest]:
        out[k] += 1
    return out


class Discontinuation(_Strict):
    """Patients leaving the study before its end, as a constant hazard: after a
    subject's discontinuation day no visit is observed, so endpoints read at a visit
    count them as non-responders (non-responder imputation, as the trials did). Events
    (death, infection) are still followed. ``source``: where the rate comes from."""

    per_year: Annotated[float, _ranged("discontinuation_per_year")] = Field(
        ge=0, description="discontinuation hazard, 1/year"
    )
    source: str = Field(min_length=1)


class Protocol(_Strict):
    """A whole trial design."""

    name: str = Field(min_length=1)
    description: str = ""
    source: str = Field(min_length=1, description="citation of the published design")
    population: Population
    arms: list[Arm] = Field(min_length=1)
    allocation: Allocation
    visits: Visits
    endpoints: list[Endpoint] = Field(min_length=1)
    sample_size: SampleSize
    follow_up_weeks: Annotated[float, _ranged("follow_up_weeks")] = Field(gt=0)
    seed: int | None = None
    discontinuation: Discontinuation | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Protocol:
        names = [a.name for a in self.arms]
        dup = [n for n, c in Counter(names).items() if c > 1]
        if dup:
            raise ValueError(f"arms: duplicate arm names {dup}")
        if set(self.allocation.ratio) != set(names):
            raise ValueError(
                f"allocation.ratio: arms {sorted(self.allocation.ratio)} "
                f"do not match the protocol's arms {sorted(names)}"
            )
        per_arm = self.sample_size.per_arm
        if per_arm is not None and set(per_arm) != set(names):
            raise ValueError(
                f"sample_size.per_arm: arms {sorted(per_arm)} do not match {sorted(names)}"
            )
        end_day = self.follow_up_weeks * DAYS_PER_WEEK
        for i, arm in enumerate(self.arms):
            for j, dose in enumerate(arm.doses):
                late = [d for d in dose.start_days() if d > end_day]
                if late:
                    raise ValueError(
                        f"arms[{i}].doses[{j}].{_time_field(dose)}: dose on day "
                        f"{late[0]:g} is after follow-up (day {end_day:g})"
                    )
            for j, pol in enumerate(arm.policies):
                if pol.start_day > end_day:
                    raise ValueError(
                        f"arms[{i}].policies[{j}].start_day: day {pol.start_day:g} is after "
                        f"follow-up (day {end_day:g})"
                    )
        if self.visits.weeks is not None and self.visits.weeks[-1] > self.follow_up_weeks:
            raise ValueError(
                f"visits.weeks: week {self.visits.weeks[-1]:g} is after follow-up "
                f"(week {self.follow_up_weeks:g})"
            )
        ep_names = [e.name for e in self.endpoints]
        dup = [n for n, c in Counter(ep_names).items() if c > 1]
        if dup:
            raise ValueError(f"endpoints: duplicate endpoint names {dup}")
        schedule = self.visits.schedule(self.follow_up_weeks)
        for i, ep in enumerate(self.endpoints):
            field, week = _endpoint_week(ep)
            if week is not None and week > self.follow_up_weeks:
                raise ValueError(
                    f"endpoints[{i}].{field}: week {week:g} is after follow-up "
                    f"(week {self.follow_up_weeks:g})"
                )
            if isinstance(ep, InstrumentAtWeek) and not any(
                abs(ep.week - w) < 1e-9 for w in schedule
            ):
                raise ValueError(f"endpoints[{i}].week: week {ep.week:g} is not a scheduled visit")
        return self

    def arm(self, name: str) -> Arm:
        """The arm called ``name``."""
        for a in self.arms:
            if a.name == name:
                return a
        raise KeyError(name)

    def regimens(self) -> dict[str, Regimen]:
        """Arm name → regimen."""
        return {a.name: a.to_regimen() for a in self.arms}

    def n_per_arm(self) -> dict[str, int]:
        """Subjects per arm: ``per_arm``, or ``total`` split by the ratio (largest remainder)."""
        if self.sample_size.per_arm is not None:
            return dict(self.sample_size.per_arm)
        total = self.sample_size.total
        assert total is not None
        return split_by_ratio(total, self.allocation.ratio, [a.name for a in self.arms])

    def visit_weeks(self) -> list[float]:
        """Scheduled visit weeks, baseline (0) included."""
        return self.visits.schedule(self.follow_up_weeks)


# ---------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------


def _path(loc: tuple[int | str, ...]) -> str:
    """``('arms', 1, 'doses', 0, 'msc', 'cells_per_kg')`` → ``arms[1].doses[0].cells_per_kg``.

    Discriminator tags (the union member's ``kind``) are dropped from the path.
    """
    out = ""
    tags = _UNION_TAGS
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("function-") or (
            part in tags and i > 0 and isinstance(loc[i - 1], int)
        ):
            continue
        else:
            # a key as written where it is plain text, else quoted with escapes (a key
            # with control or line-break characters must not break the message)
            shown = part if part.isprintable() and part.strip() == part and part else repr(part)
            out += f".{shown}" if out else shown
    return out


_UNION_TAGS: frozenset[str] = frozenset(
    {
        "msc",
        "cyclophosphamide",
        "nih_cyclophosphamide",
        "euro_lupus_cyclophosphamide",
        "prednisone",
        "methylprednisolone",
        "mycophenolate",
        "azathioprine",
        "hydroxychloroquine",
        "glucocorticoid_taper",
        "reinfuse_on_relapse",
        "treat_on_relapse",
        "instrument_at_week",
        "time_to_event",
        "rate_per_100py",
        "cumulative_glucocorticoid",
    }
)


_FIELD_PREFIX = re.compile(r"^([A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*): (.*)$")


def _shown(value: object) -> str:
    """A rejected scalar as written in a message (numbers bare, text quoted)."""
    if isinstance(value, float):
        return format_number(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def format_validation_error(err: ValidationError) -> str:
    """The first error as one line: ``field.path: value V: message``.

    A model validator names the offending field by starting its message with
    ``field: ``; that field is appended to the location pydantic reports. The rejected
    value is shown where it is a single number, text or boolean.
    """
    first = err.errors(include_url=False)[0]
    where = _path(tuple(first["loc"]))
    msg = " ".join(str(first["msg"]).removeprefix("Value error, ").split())
    m = _FIELD_PREFIX.match(msg)
    if m:
        where = f"{where}.{m[1]}" if where else m[1]
        msg = m[2]
    if first["type"] == "finite_number":
        msg = "not a finite number"
    value = first.get("input")
    if (
        not msg.startswith("value ")
        and isinstance(value, str | int | float | bool)
        and first["type"] != "missing"
    ):
        msg = f"value {_shown(value)}: {msg}"
    return f"{where}: {msg}" if where else msg


def protocol_from_dict(
    data: Any, *, file: str | None = None, ranges: Ranges | None = None
) -> Protocol:
    """Validate a mapping (as read from YAML); errors become one-line InputError.

    Doses, thresholds and weeks are checked against ``ranges`` (default: the range
    table of :mod:`lupusim.clinical._ranges`).
    """
    if not isinstance(data, dict):
        raise InputError("a protocol must be a YAML mapping", file=file)
    try:
        table = RANGES if ranges is None else ranges
        return Protocol.model_validate(data, context={"ranges": table})
    except ValidationError as err:
        raise InputError(format_validation_error(err), file=file) from None


def load_protocol(path: str | Path, *, ranges: Ranges | None = None) -> Protocol:
    """Read and validate a protocol YAML file.

    UTF-8 (or UTF-16 with a byte-order mark); a key given twice is an error.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read protocol: {err.strerror}", file=str(p)) from None
    utf16 = raw[:2] in (b"\xff\xfe", b"\xfe\xff")
    try:
        text = raw.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(
            f"cannot read protocol: not UTF-8 text (byte {err.start})", file=str(p)
        ) from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as err:
        raise InputError(f"invalid YAML: {' '.join(str(err).split())}", file=str(p)) from None
    except RecursionError:
        raise InputError("invalid YAML: nested too deeply", file=str(p)) from None
    return protocol_from_dict(data, file=str(p), ranges=ranges)
