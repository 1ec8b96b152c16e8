"""Factors of a sensitivity analysis: which parameters, over which ranges, in which groups.

A factor is a model parameter of the human preset (or a group of them) varied uniformly
in log space over a range around its preset value: ``[value / f, value × f]`` (the
``range factor`` ``f``, default 2; policy ``factor``, the default), or, with policy
``calibration``, the calibration bounds of ``lupusim/calibrate/data/human.yaml``
(``free:``) where the parameter is calibrated. Parameters whose description says they
are a share, a fraction or a probability are capped at 1. The default gives every
parameter the same relative perturbation, so mu* is comparable between them; the
calibration boxes are search boxes (up to 1000-fold wide) that reach regions where a
protocol's population cannot be recruited.

Not varied: the demographics that every virtual patient carries as its own value
(``female``, ``age_at_start_years``, ``body_weight_kg``: drawn per subject by the
population sampler, which overwrites the preset's), and parameters whose preset value
is 0 (a log range around 0 is empty).

Groups are derived from the parameters' names and the preset's own metadata, first
matching rule wins (the order of :data:`GROUP_RULES`): ``msc`` (names with ``msc`` or
``tgfb``), ``drug_effects`` (names of the drugs and their exposure: cyclophosphamide,
antimetabolite, glucocorticoid, mycophenolate/MPA, azathioprine, hydroxychloroquine,
immunosuppressant, oral adherence), ``heterogeneity`` (the preset's between-subject
``variability_cv`` and ``subgroups`` keys: parameters that differ between patients),
``outcomes`` (death and infection hazards), ``renal``, ``autoimmunity`` and ``other``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from lupusim.errors import LupusimError
from lupusim.model import Preset

#: Parameters drawn per subject by the population sampler (its demographics overwrite
#: the preset's value: lupusim.population._baseline.simulate_baseline).
SUBJECT_DEMOGRAPHICS = ("female", "age_at_start_years", "body_weight_kg")
DEFAULT_RANGE_FACTOR = 2.0
RangePolicy = Literal["calibration", "factor"]
RANGE_POLICIES: tuple[str, ...] = ("factor", "calibration")

_FRACTION = re.compile(r"\b(share|fraction|fractional|probability)\b|\(1 healthy\)", re.I)


@dataclass(frozen=True)
class Factor:
    """One varied input: sampled uniformly in ``[low, high]`` (in log space if ``log``)."""

    name: str
    low: float
    high: float
    log: bool = True
    group: str = ""
    preset_value: float = math.nan
    range_source: str = ""

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"{self.name}: low must be below high")
        if self.log and self.low <= 0:
            raise ValueError(f"{self.name}: a log range needs positive bounds")

    def bounds(self) -> tuple[float, float]:
        """The sampled interval (log of the bounds for a log factor)."""
        if self.log:
            return math.log(self.low), math.log(self.high)
        return self.low, self.high

    def value(self, x: float) -> float:
        """The parameter value at the sampled coordinate ``x``."""
        return math.exp(x) if self.log else x


def _has(*tokens: str) -> Callable[[str, Preset], bool]:
    return lambda name, _preset: any(t in name for t in tokens)


def _starts(*prefixes: str) -> Callable[[str, Preset], bool]:
    return lambda name, _preset: name.startswith(prefixes)


def _varies_between_subjects(name: str, preset: Preset) -> bool:
    return name in preset.variability_cv or name in preset.subgroups


#: Group name → (label, rule); the first matching rule gives a parameter its group.
GROUP_RULES: dict[str, tuple[str, Callable[[str, Preset], bool]]] = {
    "msc": ("MSC", _has("msc", "tgfb")),
    "drug_effects": (
        "drug effects",
        _has(
            "cyclophosphamide",
            "antimetabolite",
            "glucocorticoid",
            "mpa_",
            "mycophenolate",
            "azathioprine",
            "hydroxychloroquine",
            "immunosuppressant",
            "oral_adherence",
        ),
    ),
    "heterogeneity": ("heterogeneity", _varies_between_subjects),
    "outcomes": ("outcomes", _starts("hazard_", "infection_")),
    "renal": ("renal", _has("renal", "upcr", "gfr", "urine", "albumin", "creatinine")),
    "autoimmunity": (
        "autoimmunity",
        _starts(
            "b_",
            "k_b_",
            "treg",
            "k_treg",
            "th17",
            "k_th17",
            "anti_dsdna",
            "k_antibody",
            "k_ic",
            "ic_",
            "c3",
            "c4",
            "k_c3",
            "k_c4",
            "inflammation",
            "k_inflammation",
            "flare",
            "k_flare",
        ),
    ),
    "other": ("other", lambda _name, _preset: True),
}
GROUP_NAMES: tuple[str, ...] = tuple(GROUP_RULES)


def group_of(name: str, preset: Preset) -> str:
    """The group of parameter ``name`` (first matching rule of :data:`GROUP_RULES`)."""
    for group, (_label, rule) in GROUP_RULES.items():
        if rule(name, preset):
            return group
    return "other"  # pragma: no cover - the last rule always matches


def eligible_parameters(preset: Preset) -> list[str]:
    """Parameters a sensitivity analysis can vary: the model's parameters and the
    preset's process parameters (background flare triggers), less the per-subject
    demographics and those whose value is not positive."""
    names = list(preset.model.parameter_names)
    names += [n for n in preset.values if n not in names]
    return [n for n in names if n not in SUBJECT_DEMOGRAPHICS and preset.values[n].value > 0.0]


def parameter_groups(preset: Preset, names: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Group → its eligible parameters (every group of :data:`GROUP_NAMES`, possibly empty)."""
    out: dict[str, list[str]] = {g: [] for g in GROUP_NAMES}
    for n in eligible_parameters(preset) if names is None else names:
        out[group_of(n, preset)].append(n)
    return out


def _description(preset: Preset, name: str) -> str:
    model = preset.model
    if name in model.parameter_names:
        return model.parameters[model.parameter_index(name)].description
    return ""


def is_fraction(preset: Preset, name: str) -> bool:
    """Whether the parameter's description says it is a share, fraction or probability."""
    return bool(_FRACTION.search(_description(preset, name)))


def calibration_bounds() -> dict[str, tuple[float, float]]:
    """The calibrated parameters' bounds (``free:`` of calibrate/data/human.yaml)."""
    from lupusim.calibrate._spec import human_spec

    return {f.name: (f.lower, f.upper) for f in human_spec().free}


def parameter_factor(
    preset: Preset,
    name: str,
    *,
    range_factor: float = DEFAULT_RANGE_FACTOR,
    policy: RangePolicy = "factor",
    bounds: dict[str, tuple[float, float]] | None = None,
) -> Factor:
    """The factor of parameter ``name``: its calibration bounds (``policy="calibration"``
    and the parameter is calibrated, with the preset value inside them), else
    ``value ×/÷ range_factor`` (capped at 1 for a share, fraction or probability)."""
    value = preset.values[name].value
    group = group_of(name, preset)
    cal = (calibration_bounds() if bounds is None else bounds).get(name)
    if policy == "calibration" and cal is not None and cal[0] <= value <= cal[1]:
        return Factor(name, cal[0], cal[1], True, group, value, "calibration bounds")
    low, high = value / range_factor, value * range_factor
    source = f"preset value ×/÷ {range_factor:g}"
    if is_fraction(preset, name) and high > 1.0:
        high = max(1.0, value)
        source += ", capped at 1"
    return Factor(name, low, high, True, group, value, source)


def select_factors(
    preset: Preset,
    *,
    parameters: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    range_factor: float = DEFAULT_RANGE_FACTOR,
    policy: RangePolicy = "factor",
) -> list[Factor]:
    """The factors of a run: the named ``parameters``, the members of the named
    ``groups`` (each factor carries its group), or every eligible parameter.

    Unknown or ineligible names are a one-line :class:`LupusimError` naming the choices.
    """
    if range_factor <= 1.0 or not math.isfinite(range_factor):
        raise LupusimError(f"--range-factor: must be a number above 1, got {range_factor:g}")
    if policy not in RANGE_POLICIES:
        raise LupusimError(f"--ranges: unknown {policy!r}; known: {', '.join(RANGE_POLICIES)}")
    if parameters and groups:
        raise LupusimError("give either --parameters or --groups, not both")
    eligible = eligible_parameters(preset)
    if parameters:
        unknown = [p for p in parameters if p not in eligible]
        if unknown:
            why = (
                " (per-subject demographics or zero-valued, not varied)"
                if all(p in preset.values for p in unknown)
                else ""
            )
            raise LupusimError(
                f"--parameters: unknown parameter(s) {', '.join(unknown)}{why}; "
                f"known: {', '.join(eligible)}"
            )
        dup = sorted({p for p in parameters if list(parameters).count(p) > 1})
        if dup:
            raise LupusimError(f"--parameters: named more than once: {', '.join(dup)}")
        names = list(parameters)
    elif groups:
        unknown = [g for g in groups if g not in GROUP_NAMES]
        if unknown:
            raise LupusimError(
                f"--groups: unknown group(s) {', '.join(unknown)}; known: {', '.join(GROUP_NAMES)}"
            )
        members = parameter_groups(preset, eligible)
        empty = [g for g in groups if not members[g]]
        if empty:
            raise LupusimError(f"--groups: no parameters in group(s) {', '.join(empty)}")
        names = [n for g in dict.fromkeys(groups) for n in members[g]]
    else:
        names = eligible
    bounds = calibration_bounds()
    return [
        parameter_factor(preset, n, range_factor=range_factor, policy=policy, bounds=bounds)
        for n in names
    ]
