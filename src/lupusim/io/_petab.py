"""PEtab v1 export of a calibration problem (https://petab.readthedocs.io).

``export_petab(out_dir, "human_soc")`` writes into ``out_dir``:

* ``model.xml`` — the human model as SBML L3V2 (:func:`lupusim.io.model_to_sbml`) with
  the problem's subject values and its standard-of-care regimen as SBML events;
* ``conditions.tsv``, ``observables.tsv``, ``measurements.tsv``, ``parameters.tsv``;
* ``problem.yaml`` — the PEtab v1 problem file (its header comments say what differs
  from the Python calibration), and ``README.md`` with the same account in full.

PEtab v1 is written: the installed ``petab`` library (0.8) still marks its ``petab.v2``
subpackage as not stable.

What maps exactly and what does not (also written to README.md):

* The Python problem ``human_soc`` (:func:`lupusim.studies.sun2009._calibration.
  human_soc_problem`) fits *published summary statistics* of the ACCESS placebo arm —
  median UPCR at days 0, 53, 168 and 360 (targets S3–S6) and the complete-response
  fraction at week 24 (S1) — computed over a virtual population of 200 patients with
  between-subject variability and an inclusion filter (UPCR > 1 g/g at day 0). It uses
  no individual UPCR value of ``data/access_upcr.csv``; from that file it takes only the
  patients' ages (both arms), which it resamples for the virtual patients.
* PEtab describes one deterministic simulation per condition, so the export has one
  condition, the *median patient* (every varied parameter at its median, the preset
  value; age the median ACCESS age; female; 65 kg as in Python), and the four medians
  as that patient's measurements. This is the usual "typical individual" reduction of
  a population median; it is not identical to the median of a simulated population.
  S1 (a population fraction) has no PEtab form and is left out.
* The residual of S3–S6 in Python is ``ln(sim / published) / ln(1.3)``; PEtab's
  ``observableTransformation=log`` with normal noise of standard deviation
  ``sigma_log_upcr = ln(1.3)`` (fixed) gives the same residuals, so the negative
  log-likelihood is half the Python loss for these targets plus a constant. Reading the
  weighting as log-normal measurement noise is an assumption.
* Time: SBML/PEtab time 0 is lupusim day ``-SOC_HISTORY_DAYS`` (-365), where the Python
  simulation starts (a year of untreated disease before the flare); a measurement at
  lupusim day ``d`` has PEtab time ``d + 365``. The age parameter is the age at lupusim
  day 0 (the flare), as in Python (the model's age is ``age_at_start_years + day/365.25``).
* Free parameters are those of the Python problem, with its bounds and the preset's
  value (calibration.json applied) as nominal value, on ``log10`` scale (Python searches
  on the natural log: same bounds, same optimum). All other parameters stay in the SBML.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import sympy as sp

from lupusim.engine._events import Event
from lupusim.errors import LupusimError
from lupusim.io._sbml import model_to_sbml, validate_sbml
from lupusim.model._spec import ModelSpec
from lupusim.safe_csv import write_csv

PETAB_FORMAT_VERSION = 1
EXPORTABLE_PROBLEMS = ("human_soc",)

MODEL_FILE = "model.xml"
CONDITION_FILE = "conditions.tsv"
OBSERVABLE_FILE = "observables.tsv"
MEASUREMENT_FILE = "measurements.tsv"
PARAMETER_FILE = "parameters.tsv"
YAML_FILE = "problem.yaml"
README_FILE = "README.md"

#: demographic covariates written to the condition table (parameter overrides)
CONDITION_COVARIATES = ("age_at_start_years", "female")


@dataclass(frozen=True)
class _FreeParameter:
    name: str
    nominal: float
    lower: float
    upper: float


@dataclass(frozen=True)
class _Measurement:
    target_id: str
    label: str
    lupusim_day: float
    value: float


@dataclass(frozen=True)
class _Design:
    """Everything one PEtab problem needs, in lupusim terms."""

    name: str
    spec: ModelSpec
    parameters: np.ndarray  # the condition's subject, in model order (SBML values)
    events: tuple[Event, ...]
    t0: float  # lupusim day that is SBML/PEtab time 0
    condition_id: str
    condition_name: str
    covariates: dict[str, float]  # condition-table overrides (equal to the SBML values)
    observable_id: str
    observable_name: str
    model_observable: str  # lupusim observable name the PEtab observable reports
    noise_parameter: str
    noise_sd: float
    measurements: tuple[_Measurement, ...]
    free: tuple[_FreeParameter, ...]
    notes: tuple[str, ...]  # differences from the Python calibration
    initial_state: Callable[[np.ndarray], np.ndarray]  # parameters -> y0 at t0
    events_of: Callable[[np.ndarray], list[Event]]  # parameters -> the regimen's events


def sbml_observable_id(spec: ModelSpec, name: str) -> str:
    """The SBML id under which :func:`model_to_sbml` reports observable ``name``."""
    obs = next((o for o in spec.observables if o.name == name), None)
    if obs is None:
        raise LupusimError(f"PEtab export: model {spec.name} has no observable {name!r}")
    taken = {*spec.state_names, *spec.parameter_names, *spec.input_names}
    if name in taken:
        return name if obs.expression == sp.Symbol(name, real=True) else f"obs_{name}"
    return name


def _human_soc() -> _Design:
    from lupusim.model import get_preset
    from lupusim.studies.sun2009 import _calibration as cal

    preset = get_preset("human")
    spec = preset.model
    problem = cal.human_soc_problem()
    free = tuple(_FreeParameter(p.name, p.initial, p.lower, p.upper) for p in problem.free)
    flare_age = float(np.median(cal.access_ages()))
    # age_at_start_years is the age at lupusim day 0 (the flare): the model's age is
    # age_at_start_years + (lupusim day)/365.25, and the SBML writes time as lupusim time.
    covariates = {"age_at_start_years": flare_age, "female": 1.0}
    params = preset.parameter_vector()
    for p in free:
        params[spec.parameter_index(p.name)] = p.nominal
    for name, value in covariates.items():
        params[spec.parameter_index(name)] = value
    params[spec.parameter_index("body_weight_kg")] = cal.DEFAULT_WEIGHT_KG
    regimen = cal.access_regimen()
    events = tuple(regimen.events(spec, params))
    measurements = tuple(
        _Measurement(tid, label, day, value) for tid, label, day, value in cal.ACCESS_UPCR_MEDIANS
    )
    notes = (
        "The Python problem fits published population summaries of the ACCESS placebo arm "
        "(median UPCR at days 0, 53, 168, 360: targets S3-S6; complete renal response at "
        "week 24: S1) over 200 virtual patients (seed 2) with between-subject variability "
        "and the inclusion filter UPCR > 1 g/g at day 0. It uses no individual UPCR value "
        "of data/access_upcr.csv, only the ages of its patients (both arms, one per "
        "patient), which it resamples for the virtual patients.",
        "PEtab has one deterministic simulation per condition: the export has one "
        "condition, the median patient (varied parameters at their medians = preset "
        f"values; age {flare_age:g} years at the flare, lupusim day 0 = median ACCESS age; "
        "female; "
        f"{cal.DEFAULT_WEIGHT_KG:g} kg), whose UPCR is compared with the published "
        "medians. The median patient's trajectory is not the population median, and the "
        "inclusion filter is not applied.",
        "S1 (complete renal response fraction, a population statistic) is not exported.",
        "The Python residual ln(sim/published)/ln(1.3) equals PEtab's residual with "
        "observableTransformation=log and normal noise of sd ln(1.3) (fixed), so the "
        "negative log-likelihood is half the Python loss of S3-S6 plus a constant; "
        "interpreting that weighting as log-normal measurement noise is an assumption.",
        f"Time 0 of the SBML model and of the measurements is lupusim day "
        f"{-cal.SOC_HISTORY_DAYS:g} (a year of untreated disease before the flare, as in "
        f"Python); PEtab time = lupusim day + {cal.SOC_HISTORY_DAYS:g}. "
        "age_at_start_years is the age at lupusim day 0 (the flare).",
        "Free parameters: the Python problem's, same bounds, preset (calibrated) value as "
        "nominal value, log10 scale (Python searches on the natural log; same optimum). "
        "Python clips to the bounds and adds a penalty outside them; PEtab bounds are hard. "
        "Nominal values are the preset's at export time (data/calibration.json applied "
        "unless LUPUSIM_IGNORE_CALIBRATION is set). Python scores a failed simulation or "
        "fewer than 20 included patients with fixed residuals; PEtab has no such rule.",
        f"body_weight_kg is {cal.DEFAULT_WEIGHT_KG:g} in the SBML; the dose amounts of the "
        "events (Euro-Lupus cyclophosphamide 500 mg as mg/kg) were computed for it, so it is "
        "not a condition-table override: changing it would not rescale the doses.",
    )
    return _Design(
        name="human_soc",
        spec=spec,
        parameters=params,
        events=events,
        t0=-float(cal.SOC_HISTORY_DAYS),
        condition_id="access_soc_median_patient",
        condition_name=f"ACCESS placebo arm regimen ({regimen.name}), median patient",
        covariates=covariates,
        observable_id="upcr",
        observable_name="urine protein:creatinine ratio, g/g",
        model_observable="upcr_g_per_g",
        noise_parameter="sigma_log_upcr",
        noise_sd=math.log(1.3),
        measurements=measurements,
        free=free,
        notes=notes,
        initial_state=preset.initial_state,
        events_of=lambda p: list(regimen.events(spec, p)),
    )


_DESIGNS = {"human_soc": _human_soc}


def _check_design(design: _Design) -> None:
    """Refuse what the SBML could not follow: the initial state and the dose amounts are
    numbers in the file, so they must not depend on what PEtab may change (the
    estimated parameters and the condition-table covariates)."""
    spec = design.spec
    y0 = design.initial_state(design.parameters)
    for name in [p.name for p in design.free] + list(design.covariates):
        probe = design.parameters.copy()
        j = spec.parameter_index(name)
        probe[j] = probe[j] * 0.5 + 0.25
        if not np.array_equal(design.initial_state(probe), y0):
            raise LupusimError(
                f"PEtab export: the initial state depends on {name}, which PEtab may change"
            )
        if design.events_of(probe) != list(design.events):
            raise LupusimError(
                f"PEtab export: the dose events depend on {name}, which PEtab may change"
            )


def _tsv(df: pd.DataFrame, path: Path) -> None:
    """A PEtab table, through the CSV-injection escaping of every lupusim table.

    PEtab ids cannot start with ``= + - @``, so only free text could ever be escaped.
    """
    write_csv(df, path, sep="\t", float_format=None, lineterminator="\n")


def _yaml_text(design: _Design) -> str:
    header = [
        f"# PEtab v{PETAB_FORMAT_VERSION} problem exported by lupusim: calibration problem "
        f"{design.name!r}.",
        "# Differences from the Python calibration (details in README.md):",
    ]
    for note in design.notes:
        words, line = note.split(), "#  -"
        for w in words:
            if len(line) + 1 + len(w) > 88:
                header.append(line)
                line = "#   "
            line += " " + w
        header.append(line)
    body = [
        f"format_version: {PETAB_FORMAT_VERSION}",
        f"parameter_file: {PARAMETER_FILE}",
        "problems:",
        f"  - sbml_files: [{MODEL_FILE}]",
        f"    condition_files: [{CONDITION_FILE}]",
        f"    measurement_files: [{MEASUREMENT_FILE}]",
        f"    observable_files: [{OBSERVABLE_FILE}]",
    ]
    return "\n".join([*header, *body]) + "\n"


def _readme_text(design: _Design, sbml_obs: str) -> str:
    rows = "\n".join(
        f"| {m.target_id} | median UPCR {m.label} | {m.lupusim_day:g} | "
        f"{m.lupusim_day - design.t0:g} | {m.value:g} |"
        for m in design.measurements
    )
    free = "\n".join(
        f"| {p.name} | {p.lower:g} | {p.upper:g} | {p.nominal:.6g} |" for p in design.free
    )
    notes = "\n".join(f"- {n}" for n in design.notes)
    covs = ", ".join(f"{k} = {v:.6g}" for k, v in design.covariates.items())
    return f"""# PEtab problem `{design.name}` (exported by lupusim)

PEtab format version {PETAB_FORMAT_VERSION}. Entry point: `{YAML_FILE}`.

| file | content |
| --- | --- |
| `{MODEL_FILE}` | model `{design.spec.name}` as SBML L3V2; states are parameters with rate \
rules; the regimen's {len(design.events)} dose changes are SBML events |
| `{CONDITION_FILE}` | one condition, `{design.condition_id}` ({covs}) |
| `{OBSERVABLE_FILE}` | `{design.observable_id}` = `{sbml_obs}` (SBML assignment rule), \
log-transformed, normal noise with sd `{design.noise_parameter}` |
| `{MEASUREMENT_FILE}` | the {len(design.measurements)} published medians below |
| `{PARAMETER_FILE}` | {len(design.free)} estimated parameters and the fixed noise \
parameter; every other parameter keeps its SBML value |

Time unit: day. **PEtab time 0 = lupusim day {design.t0:g}.**

| target | quantity | lupusim day | PEtab time | value (g/g) |
| --- | --- | --- | --- | --- |
{rows}

| estimated parameter | lower | upper | nominal |
| --- | --- | --- | --- |
{free}

Noise: `{design.noise_parameter}` = ln(1.3) = {design.noise_sd:.6g}, fixed (estimate 0).

## Differences from the Python calibration

{notes}
"""


def export_petab(out_dir: Path | str, problem: str = "human_soc") -> Path:
    """Write calibration problem ``problem`` as a PEtab v1 problem; return the YAML path."""
    if problem not in _DESIGNS:
        raise LupusimError(
            f"unknown calibration problem {problem!r}; exportable: "
            + ", ".join(EXPORTABLE_PROBLEMS)
        )
    design = _DESIGNS[problem]()
    spec = design.spec
    _check_design(design)
    y0 = design.initial_state(design.parameters)

    text = model_to_sbml(spec, design.parameters, y0, design.events, t0=design.t0)
    validate_sbml(text)
    sbml_obs = sbml_observable_id(spec, design.model_observable)
    sbml_ids = {*spec.state_names, *spec.parameter_names, *spec.input_names, sbml_obs}
    petab_ids = [design.observable_id, design.noise_parameter, design.condition_id]
    clash = [i for i in petab_ids if i in sbml_ids]
    if clash:
        raise LupusimError(f"PEtab export: ids {clash} shadow SBML ids")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / MODEL_FILE).write_text(text, encoding="utf-8")

    conditions = pd.DataFrame(
        [
            {
                "conditionId": design.condition_id,
                "conditionName": design.condition_name,
                **design.covariates,
            }
        ]
    )
    _tsv(conditions, out / CONDITION_FILE)

    observables = pd.DataFrame(
        [
            {
                "observableId": design.observable_id,
                "observableName": design.observable_name,
                "observableFormula": sbml_obs,
                "observableTransformation": "log",
                "noiseFormula": f"noiseParameter1_{design.observable_id}",
                "noiseDistribution": "normal",
            }
        ]
    )
    _tsv(observables, out / OBSERVABLE_FILE)

    measurements = pd.DataFrame(
        [
            {
                "observableId": design.observable_id,
                "simulationConditionId": design.condition_id,
                "measurement": m.value,
                "time": m.lupusim_day - design.t0,
                "noiseParameters": design.noise_parameter,
                "datasetId": f"{design.name}_{m.target_id}",
            }
            for m in design.measurements
        ]
    )
    _tsv(measurements, out / MEASUREMENT_FILE)

    rows: list[Mapping[str, object]] = [
        {
            "parameterId": p.name,
            "parameterName": p.name,
            "parameterScale": "log10",
            "lowerBound": p.lower,
            "upperBound": p.upper,
            "nominalValue": p.nominal,
            "estimate": 1,
        }
        for p in design.free
    ]
    rows.append(
        {
            "parameterId": design.noise_parameter,
            "parameterName": "sd of ln(UPCR) (Python residual scale ln 1.3)",
            "parameterScale": "lin",
            "lowerBound": design.noise_sd,
            "upperBound": design.noise_sd,
            "nominalValue": design.noise_sd,
            "estimate": 0,
        }
    )
    _tsv(pd.DataFrame(rows), out / PARAMETER_FILE)

    (out / README_FILE).write_text(_readme_text(design, sbml_obs), encoding="utf-8")
    yaml_path = out / YAML_FILE
    yaml_path.write_text(_yaml_text(design), encoding="utf-8")
    return yaml_path
