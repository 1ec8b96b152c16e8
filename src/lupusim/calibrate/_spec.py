"""Calibration targets declared as data: row → protocol → arm(s) → measure → statistic.

A calibration spec (``lupusim/calibrate/data/human.yaml``) lists, for each target row,
the shipped protocol it is simulated with (``lupusim/calibrate/protocols/NAME.yaml``),
the arm or the weighted mixture of arms whose patients the row describes, and the
measure computed on the trial's visit and score tables (:mod:`lupusim.calibrate._measures`).
Validated by pydantic; every failure is one line naming the file and the field.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lupusim.errors import InputError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    """``column op value`` on a visit or score table at the listed visit weeks: at every
    one of them (``mode: all``) or at any (``mode: any``). ``op: in`` takes a list of
    values (e.g. ``renal_kdigo in [complete, partial]``)."""

    column: str
    op: Literal["<=", "<", ">=", ">", "==", "in"]
    value: float | str | tuple[str, ...]
    weeks: tuple[float, ...] = Field(min_length=1)
    table: Literal["visits", "scores"] = "visits"
    mode: Literal["all", "any"] = "all"

    @model_validator(mode="after")
    def _in_takes_a_list(self) -> Condition:
        if (self.op == "in") != isinstance(self.value, tuple):
            raise ValueError("op 'in' takes a list of values; the other ops one value")
        return self


class ProportionAtWeek(_Strict):
    """Share of the arm's subjects whose ``instrument`` at ``week`` is in ``values``
    (missing visits count as not meeting it: non-responder imputation)."""

    kind: Literal["proportion_at_week"]
    instrument: str
    week: float
    values: tuple[str, ...] = Field(min_length=1)


class QuantileInWindow(_Strict):
    """Quantile ``q`` across subjects of each subject's median ``observable`` over
    visits with study day in ``[window_days[0], window_days[1]]``."""

    kind: Literal["quantile_in_window"]
    observable: str
    window_days: tuple[float, float]
    q: float = Field(ge=0, le=1)


class RatioQuantile(_Strict):
    """Quantile ``q`` across subjects of window / baseline UPCR (as access_upcr.csv)."""

    kind: Literal["ratio_quantile"]
    window_days: tuple[float, float]
    q: float = Field(ge=0, le=1)


class EverByWeek(_Strict):
    """Share of subjects (optionally only those meeting every ``among`` condition) with
    ``instrument`` in ``values`` at any visit up to ``week``."""

    kind: Literal["ever_by_week"]
    instrument: str
    week: float
    values: tuple[str, ...] = ("Y",)
    among: tuple[Condition, ...] = ()


class BaselineStatistic(_Strict):
    """A baseline (Table 1) statistic of the enrolled subjects: ``median``, ``mean``,
    ``sd``, ``quantile`` (with ``q``) or ``share`` (of ``op value``) of ``column``."""

    kind: Literal["baseline"]
    column: str
    table: Literal["visits", "scores"] = "visits"
    statistic: Literal["median", "mean", "sd", "quantile", "share"]
    q: float | None = None
    op: Literal["<=", "<", ">=", ">", "=="] | None = None
    value: float | str | None = None


class StatisticAtWeek(_Strict):
    """``mean``, ``median``, ``sd`` or ``quantile`` (with ``q``) of ``column`` across the
    subjects measured at visit ``week`` (observed cases, as cohorts report the patients
    followed to that visit), times ``factor`` (a unit conversion to the row's unit, e.g.
    1000 for g/day → mg/day)."""

    kind: Literal["statistic_at_week"]
    column: str
    table: Literal["visits", "scores"] = "visits"
    week: float
    statistic: Literal["mean", "median", "sd", "quantile"]
    q: float | None = Field(default=None, ge=0, le=1)
    factor: float = Field(default=1.0, gt=0)


class ShareMeeting(_Strict):
    """Share of the arm's subjects meeting every condition (a missing visit does not
    meet it: non-responder imputation)."""

    kind: Literal["share_meeting"]
    conditions: tuple[Condition, ...] = Field(min_length=1)


class RemissionThenRelapse(_Strict):
    """Share of the arm's subjects whose ``column`` fell below ``remission_below`` at a
    visit and rose above ``relapse_above`` at a later visit, both by ``week``."""

    kind: Literal["remission_then_relapse"]
    column: str
    table: Literal["visits", "scores"] = "visits"
    remission_below: float
    relapse_above: float
    week: float


Measure = Annotated[
    ProportionAtWeek
    | QuantileInWindow
    | RatioQuantile
    | EverByWeek
    | BaselineStatistic
    | StatisticAtWeek
    | ShareMeeting
    | RemissionThenRelapse,
    Field(discriminator="kind"),
]

#: Measures that are shares of subjects, so a mixture of arms can weight them.
SHARE_MEASURES = (ProportionAtWeek, EverByWeek, ShareMeeting, RemissionThenRelapse)


class TargetSpec(_Strict):
    """How one target row is simulated."""

    row: str
    protocol: str
    arms: dict[str, float] = Field(min_length=1)
    measure: Measure
    #: The twin arm(s): the same virtual patients without the treatment the row is
    #: about (e.g. MSC); the measure is also computed on them and the increment
    #: (arms − twin) reported.
    twin: dict[str, float] | None = None
    fit: bool = True  # False: reported in the goodness of fit, not in the objective
    note: str = ""

    @model_validator(mode="after")
    def _weights(self) -> TargetSpec:
        for arms in (self.arms, self.twin or {}):
            if any(w <= 0 for w in arms.values()):
                raise ValueError("arm weights must be positive")
            if len(arms) > 1 and not isinstance(self.measure, SHARE_MEASURES):
                raise ValueError("a mixture of arms is only supported for shares of subjects")
        if self.twin is not None and not self.twin:
            raise ValueError("twin: name at least one arm")
        return self


class FreeSpec(_Strict):
    """A parameter the fit varies, on a log scale within ``[lower, upper]``."""

    name: str
    lower: float = Field(gt=0)
    upper: float = Field(gt=0)
    start: float | None = Field(default=None, gt=0, description="default: preset value")
    why: str = ""

    @model_validator(mode="after")
    def _order(self) -> FreeSpec:
        if self.lower >= self.upper:
            raise ValueError(f"{self.name}: lower must be below upper")
        if self.start is not None and not self.lower <= self.start <= self.upper:
            raise ValueError(f"{self.name}: start must lie within [lower, upper]")
        return self


class CalibrationSpec(_Strict):
    """Target declarations, free parameters and the simulation sizes of a fit."""

    name: str
    description: str
    subjects: int = Field(ge=10)
    quick_subjects: int = Field(ge=10)
    evaluations: int = Field(ge=0)
    quick_evaluations: int = Field(ge=0)
    seed: int
    method: Literal["nelder-mead", "least-squares"] = "least-squares"
    free: tuple[FreeSpec, ...] = ()
    targets: tuple[TargetSpec, ...] = Field(min_length=1)

    def protocols(self) -> list[str]:
        """Protocol names in first-use order."""
        return list(dict.fromkeys(t.protocol for t in self.targets))


def protocol_path(name: str) -> Path:
    """The shipped protocol ``name`` (``lupusim/calibrate/protocols/NAME.yaml``)."""
    ref = resources.files("lupusim.calibrate").joinpath(f"protocols/{name}.yaml")
    return Path(str(ref))


def load_spec_text(text: str, file: str) -> CalibrationSpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InputError(f"invalid YAML: {' '.join(str(err).split())}", file=file) from None
    try:
        return CalibrationSpec.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise InputError(f"{loc}: {first['msg']}", file=file) from None


@cache
def human_spec() -> CalibrationSpec:
    """The shipped human calibration spec."""
    ref = resources.files("lupusim.calibrate").joinpath("data/human.yaml")
    return load_spec_text(ref.read_text(encoding="utf-8"), "lupusim/calibrate/data/human.yaml")
