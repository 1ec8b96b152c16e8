"""``human_soc`` as a PEtab v1 problem: ``export_petab(out_dir)`` (``lupusim export petab``).

The design (what to simulate, measure and estimate) is built here from the study's
calibration problem and written by :func:`lupusim.io.write_petab`.

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
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lupusim.errors import LupusimError
from lupusim.io import PetabDesign, PetabMeasurement, PetabParameter, write_petab
from lupusim.model import get_preset
from lupusim.studies.sun2009 import _calibration as cal


def human_soc_design() -> PetabDesign:
    """The ``human_soc`` problem (:func:`~lupusim.studies.sun2009._calibration.
    human_soc_problem`) as one PEtab condition: the median ACCESS patient."""
    preset = get_preset("human")
    spec = preset.model
    problem = cal.human_soc_problem()
    free = tuple(PetabParameter(p.name, p.initial, p.lower, p.upper) for p in problem.free)
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
        PetabMeasurement(tid, label, day, value)
        for tid, label, day, value in cal.ACCESS_UPCR_MEDIANS
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
    return PetabDesign(
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


_DESIGNS: dict[str, Callable[[], PetabDesign]] = {"human_soc": human_soc_design}
EXPORTABLE_PROBLEMS = tuple(_DESIGNS)


def export_petab(out_dir: Path | str, problem: str = "human_soc") -> Path:
    """Write calibration problem ``problem`` as a PEtab v1 problem; return the YAML path."""
    if problem not in _DESIGNS:
        raise LupusimError(
            f"unknown calibration problem {problem!r}; exportable: "
            + ", ".join(EXPORTABLE_PROBLEMS)
        )
    return write_petab(_DESIGNS[problem](), out_dir)
