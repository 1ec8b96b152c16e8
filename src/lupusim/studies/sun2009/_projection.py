"""Sun 2009 patients: the 10-year projection's outcomes, and their model uncertainty.

:func:`projection_values` summarises one projection arm over its stochastic replicates
(protein, eGFR and SLEDAI-2K quantiles, remission, relapse, survival, infections).
:func:`projection_uncertainty` reruns the projection under parameter sets of the
calibration's posterior (``lupusim reproduce sun2009 --uncertainty K``): each seed
patient keeps its own deviates around the new fitted values
(:func:`lupusim.model.rescaled_parameters`), the flare triggers follow each set's
process parameters, and every set meets the same random numbers (one fresh generator
from the run's seed per set), so the spread across sets is the parameters'.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from lupusim.model import (
    UNIT_INTERVAL,
    PosteriorEnsemble,
    Preset,
    centred,
    get_preset,
    model_interval,
    rescaled_parameters,
)
from lupusim.observe import sample_event_times
from lupusim.studies.sun2009 import _patients

YEAR = 365.25

#: Scalar outcomes of :func:`projection_values` summarised across parameter sets
#: (key, and the quantile field for the protein/eGFR/SLEDAI summaries).
UNCERTAIN_OUTCOMES: tuple[tuple[str, str | None], ...] = (
    ("protein_24h_g_at_5y", "median"),
    ("protein_24h_g_at_end", "median"),
    ("egfr_at_end", "median"),
    ("sledai2k_at_end", "median"),
    ("reached_remission", None),
    ("relapsed_after_remission", None),
    ("alive_at_end", None),
    ("serious_infections_per_100_patient_years", None),
    ("reinfusions_per_patient", None),
)


#: Outcomes that are shares of replicates (kept in 0-1 when centred).
_SHARES = frozenset({"reached_remission", "relapsed_after_remission", "alive_at_end"})


def quantiles(values: np.ndarray) -> dict[str, float]:
    v = values[np.isfinite(values)]
    if not len(v):
        return {"median": float("nan"), "p10": float("nan"), "p90": float("nan")}
    return {
        "median": float(np.median(v)),
        "p10": float(np.quantile(v, 0.1)),
        "p90": float(np.quantile(v, 0.9)),
    }


def value_at(run: _patients.PatientRun, name: str, day: float) -> np.ndarray:
    i = int(np.argmin(np.abs(run.times - day)))
    return np.asarray(run.observables[name][:, i])


def infection_rate(run: _patients.PatientRun, rng: np.random.Generator) -> float:
    """Serious infections per 100 patient-years from day 0, sampled as events from the
    cumulative infection hazard (time rescaling), counted while alive."""
    window = run.times >= 0.0
    t = run.times[window]
    events = sample_event_times(t, run.observables["cum_hazard_infection"][:, window], rng)
    alive = np.nan_to_num(run.alive[:, window])
    years = float(np.sum(np.trapezoid(alive, t, axis=1))) / YEAR
    death = [t[np.argmax(a < 1)] if (a < 1).any() else np.inf for a in alive]
    count = sum(int(np.sum(ev < d)) for ev, d in zip(events, death, strict=True))
    return 100.0 * count / years if years > 0 else float("nan")


def projection_values(
    arm: str, run: _patients.PatientRun, rng: np.random.Generator
) -> dict[str, Any]:
    """One projection arm's outcomes over its replicates (median [10–90 %] or shares)."""
    rel = _patients.relapse_table(run)
    end = run.times[-1]
    return {
        "protein_24h_g_at_5y": quantiles(
            value_at(run, "protein_24h_g", _patients.PILOT_END_DAY + 5 * YEAR)
        ),
        "protein_24h_g_at_end": quantiles(value_at(run, "protein_24h_g", end)),
        "egfr_at_end": quantiles(value_at(run, "egfr_ml_min_1_73m2", end)),
        "sledai2k_at_end": quantiles(value_at(run, "sledai2k", end)),
        "reached_remission": float(np.mean(np.isfinite(rel["first_remission_day"]))),
        "relapsed_after_remission": float(np.mean(np.isfinite(rel["first_relapse_day"]))),
        "alive_at_end": float(np.nanmean(run.alive[:, -1])),
        "serious_infections_per_100_patient_years": infection_rate(run, rng),
        "reinfusions_per_patient": float(
            np.mean(
                [
                    sum(1 for e in evs if getattr(e, "state", "") == "donor_msc_lung") - 1
                    for evs in run.result.applied_events
                ]
            )
        )
        if "msc" in arm
        else 0.0,
        "solver_failures": int((~run.result.ok).sum()),
    }


def _scalar(values: Mapping[str, Any], key: str, field: str | None) -> float | None:
    v = values.get(key)
    if field is not None:
        v = v.get(field) if isinstance(v, Mapping) else None
    return None if v is None else float(v)


def projection_uncertainty(
    patients: Mapping[str, np.ndarray],
    main: Mapping[str, Mapping[str, Any]],
    *,
    ensemble: PosteriorEnsemble,
    n_draws: int,
    replicates: int,
    seed: int,
    reinfuse_on_relapse: bool,
    workers: int = 1,
    on_draw: Callable[[int], None] | None = None,
    base: Preset | None = None,
) -> dict[str, Any]:
    """The projection under the first ``n_draws`` parameter sets of ``ensemble``
    (``replicates`` per patient each); ``main``: :func:`projection_values` of the main
    projection per arm. Returns the ``projection_uncertainty`` block of summary.json."""
    sets = ensemble.first(n_draws)
    preset = base or get_preset("human")

    def outcomes(values: Mapping[str, float]) -> dict[str, dict[str, Any]]:
        rng = np.random.default_rng([seed, 7, 2009])  # the same numbers for every set
        scaled = {pid: rescaled_parameters(preset, p, values) for pid, p in patients.items()}
        runs = _patients.run_projection(
            scaled,
            replicates,
            rng,
            reinfuse_on_relapse,
            workers,
            preset=preset.with_numbers(values),
        )
        return {arm: projection_values(arm, run, rng) for arm, run in runs.items()}

    reference = outcomes({})
    per_draw: list[dict[str, dict[str, Any]]] = []
    for k, values in enumerate(sets):
        per_draw.append(outcomes(values))
        if on_draw is not None:
            on_draw(k + 1)
    arms: dict[str, dict[str, Any]] = {}
    for arm, fitted in main.items():
        arms[arm] = {}
        for key, field in UNCERTAIN_OUTCOMES:
            estimate = _scalar(fitted, key, field)
            ref = _scalar(reference.get(arm, {}), key, field)
            across = [_scalar(d.get(arm, {}), key, field) for d in per_draw]
            bounds = UNIT_INTERVAL if key in _SHARES else (0.0, None)
            shifted = centred(estimate, ref, across, bounds=bounds)
            arms[arm][key if field is None else f"{key}_{field}"] = {
                "estimate": estimate,
                "model": model_interval(shifted),
                "reference": ref,
                "draws": across,
                "centred_draws": shifted,
            }
    return {
        "method": (
            f"the 10-year projection rerun under each of {len(per_draw)} parameter sets of "
            f"the posterior ({ensemble.method}) and under the fitted parameters "
            f"(reference), {replicates} replicates per patient each, the same random "
            "numbers in every run; each set's change from the reference is added to the "
            "main projection's value (shares kept in 0-1, the rest non-negative)"
        ),
        "posterior": ensemble.source,
        "posterior_check": ensemble.check,
        "draws_used": len(per_draw),
        "replicates_per_draw": replicates,
        "arms": arms,
    }
