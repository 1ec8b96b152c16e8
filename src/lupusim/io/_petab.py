"""PEtab v1 export (https://petab.readthedocs.io) of a calibration problem's design.

``write_petab(design, out_dir)`` writes a :class:`PetabDesign` into ``out_dir``:

* ``model.xml`` — the design's model as SBML L3V2 (:func:`lupusim.io.model_to_sbml`)
  with the condition's subject values and its regimen as SBML events;
* ``conditions.tsv``, ``observables.tsv``, ``measurements.tsv``, ``parameters.tsv``;
* ``problem.yaml`` — the PEtab v1 problem file (its header comments list the design's
  notes: what differs from the Python calibration), and ``README.md`` with the same
  account in full.

PEtab v1 is written: the installed ``petab`` library (0.8) still marks its ``petab.v2``
subpackage as not stable. The designs belong to the studies that define the calibration
problems (``human_soc``: :mod:`lupusim.studies.sun2009`, whose ``export_petab`` is what
``lupusim export petab`` runs), so this module imports no study.
"""

from __future__ import annotations

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
class PetabParameter:
    """An estimated parameter: nominal value and bounds (linear scale)."""

    name: str
    nominal: float
    lower: float
    upper: float


@dataclass(frozen=True)
class PetabMeasurement:
    """One published value of the observable at a lupusim day."""

    target_id: str
    label: str
    lupusim_day: float
    value: float


@dataclass(frozen=True)
class PetabDesign:
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
    measurements: tuple[PetabMeasurement, ...]
    free: tuple[PetabParameter, ...]
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


def check_design(design: PetabDesign) -> None:
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


def _yaml_text(design: PetabDesign) -> str:
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


def _readme_text(design: PetabDesign, sbml_obs: str) -> str:
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


def write_petab(design: PetabDesign, out_dir: Path | str) -> Path:
    """Write ``design`` as a PEtab v1 problem into ``out_dir``; return the YAML path.

    Raises :class:`~lupusim.errors.LupusimError` when the SBML could not follow the
    design (:func:`check_design`) or a PEtab id would shadow an SBML id.
    """
    spec = design.spec
    check_design(design)
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
