"""Model uncertainty of a virtual trial: the same protocol under K posterior parameter sets.

A trial's confidence intervals describe the *sampling* uncertainty of a finite number of
virtual patients. The *model* uncertainty — the calibrated parameters are only as well
known as the published targets pin them — comes from the posterior ensemble that
``lupusim calibrate posterior`` ships (a Laplace approximation around the installed human
fit; :mod:`lupusim.calibrate._laplace`). For each of the first ``K`` parameter sets of
that ensemble the protocol is rerun from scratch: the virtual population is drawn,
given its pre-trial history and screened under that parameter set (as the calibration
builds its populations), then every arm is simulated and analysed exactly as the main
run. The fitted parameters are rerun the same way (the *reference*). All of them use the
run's seed and the same number of patients, so every parameter set meets the same
candidates (common random numbers). Those shared patients carry one subsample's sampling
luck, so what is kept of each draw is its change from the reference, applied to the main
run's estimate (``estimate + draw − reference``; ratios on the log scale; proportions and
power clipped to 0–1): the spread then measures the parameters, placed at the main run's
larger sample (it still contains some sampling noise of ``subjects`` patients per draw,
where a parameter change moves individual patients across a threshold).

For every arm estimate, paired arm difference and power the summary gives

* the estimate of the main run (the fitted parameters) with its 95 % sampling CI;
* the model interval: the 5th–95th percentile of the same quantity across the draws
  (centred as above; the raw draws and the reference are kept beside it);
* for power, the **assurance**: power averaged over the draws — the probability that
  the trial succeeds (two-sided p < 0.05, the power analysis's test) when the parameter
  uncertainty is integrated out (O'Hagan, Stevens & Campbell, Pharm Stat 2005;4:187).

A draw whose protocol cannot be recruited or simulated is listed with its error, not
silently dropped; the intervals are then over the draws that ran.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lupusim.errors import LupusimError
from lupusim.io import write_json
from lupusim.model import (
    MODEL_INTERVAL,
    UNBOUNDED,
    UNIT_INTERVAL,
    Bounds,
    PosteriorEnsemble,
    Preset,
    centred,
    finite_values,
    get_preset,
    model_interval,
)
from lupusim.trial._analysis import analyse
from lupusim.trial._cohort import build_population, make_chunks, randomisation_strata
from lupusim.trial._protocol import Protocol
from lupusim.trial._simulate import RunSettings, run_chunk

#: Default virtual patients per draw: the protocol's size, at least this many.
MIN_DRAW_SUBJECTS = 200


def draw_subjects(protocol: Protocol, n_main: int, requested: int | None) -> int:
    """Virtual patients per draw: ``requested``, else the protocol's size (at least
    :data:`MIN_DRAW_SUBJECTS`), never more than the main run's."""
    if requested is not None:
        return requested
    return min(n_main, max(MIN_DRAW_SUBJECTS, sum(protocol.n_per_arm().values())))


@dataclass(frozen=True)
class DrawPlan:
    """How each parameter set reruns the protocol: the same patients (``subjects`` and
    ``seed``), settings, chunking and analysis as one another."""

    protocol: Protocol
    subjects: int
    seed: int
    settings: RunSettings
    chunk_size: int
    workers: int
    n_trials: int
    power_curve: tuple[int, ...]

    def run(self, preset: Preset) -> dict[str, Any]:
        """The protocol under one parameter set: population, every arm, the analysis."""
        protocol = self.protocol
        pop = build_population(
            protocol.population,
            self.subjects,
            self.seed,
            workers=self.workers,
            solver=self.settings.solver,
            observation=self.settings.observation,
            preset=preset,
        )
        outcomes: list[pd.DataFrame] = []
        status: list[pd.DataFrame] = []
        for chunk in make_chunks(pop, self.chunk_size):
            result = run_chunk(protocol, chunk, self.settings, workers=self.workers, preset=preset)
            outcomes.append(result.outcomes)
            status.append(result.status)
        strata, _ = randomisation_strata(protocol, pop)
        return analyse(
            protocol,
            pd.concat(outcomes, ignore_index=True),
            pd.concat(status, ignore_index=True),
            seed=self.seed,
            n_trials=self.n_trials,
            power_curve=self.power_curve,
            strata=strata,
        )


def draw_record(analysis: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers of one draw's analysis that the uncertainty summary uses."""
    arms = {
        arm: {
            ep: est.get("estimate")
            for ep, est in block.items()
            if isinstance(est, Mapping) and "estimate" in est
        }
        for arm, block in analysis["arms"].items()
    }
    comparisons = [
        {"endpoint": c["endpoint"], "arms": list(c["arms"]), "difference": c.get("difference")}
        for c in analysis["comparisons"]
    ]
    power = analysis.get("power", {})
    powers = {
        ep: [{"arms": list(e["arms"]), "power": e["power"]} for e in entries]
        for ep, entries in power.get("endpoints", {}).items()
    }
    curve = [
        {
            "total": c["total"],
            "endpoints": {
                ep: [{"arms": list(e["arms"]), "power": e["power"]} for e in entries]
                for ep, entries in c["endpoints"].items()
            },
        }
        for c in power.get("curve", [])
    ]
    return {
        "arms": arms,
        "comparisons": comparisons,
        "power": powers,
        "power_curve": curve,
    }


def assurance(powers: Sequence[Any], n_trials: int) -> dict[str, Any]:
    """Power averaged over the draws, with its standard error: the draws' spread over
    √K plus each draw's binomial error over its ``n_trials`` simulated trials."""
    x = finite_values(powers)
    if x.size == 0:
        return {"estimate": None, "se": None}
    between = float(np.var(x, ddof=1)) / x.size if x.size > 1 else 0.0
    within = float(np.mean(x * (1 - x))) / max(n_trials, 1) / x.size
    return {"estimate": float(x.mean()), "se": math.sqrt(between + within)}


def _pair_power(block: Mapping[str, Any], ep: str, arms: Sequence[str]) -> Any:
    for entry in block.get(ep, []):
        if list(entry["arms"]) == list(arms):
            return entry["power"]
    return None


#: Comparison measures shifted on the log scale (ratios).
RATIO_MEASURES = frozenset({"rate_ratio", "hazard_ratio"})


def _uncertain(
    estimate: Any,
    sampling: Any,
    reference: Any,
    draws: list[Any],
    *,
    ratio: bool = False,
    bounds: Bounds = UNBOUNDED,
) -> dict[str, Any]:
    shifted = centred(estimate, reference, draws, ratio=ratio, bounds=bounds)
    return {
        "estimate": estimate,
        "sampling_ci95": sampling,
        "model": model_interval(shifted),
        "reference": reference,
        "draws": draws,
        "centred_draws": shifted,
    }


def _power_entries(
    main: Mapping[str, Any],
    reference: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    n_trials: int,
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for ep, entries in main.items():
        for entry in entries:
            arms = entry["arms"]
            across = [_pair_power(r, ep, arms) for r in records]
            block = _uncertain(
                entry["power"],
                entry.get("ci95"),
                _pair_power(reference, ep, arms),
                across,
                bounds=UNIT_INTERVAL,
            )
            out.setdefault(ep, []).append(
                {
                    "arms": list(arms),
                    "power": block.pop("estimate"),
                    **block,
                    "assurance": assurance(block["centred_draws"], n_trials),
                }
            )
    return out


def _arm_bounds(kind: str) -> Bounds:
    if kind in ("binary", "time_to_event"):
        return UNIT_INTERVAL
    if kind == "rate":
        return (0.0, None)
    return UNBOUNDED


def _difference(record: Mapping[str, Any], endpoint: str, arms: Sequence[str]) -> Any:
    for d in record["comparisons"]:
        if d["endpoint"] == endpoint and d["arms"] == list(arms):
            return d["difference"]
    return None


def _curve_block(record: Mapping[str, Any], k: int) -> Mapping[str, Any]:
    curve = record.get("power_curve", [])
    return curve[k]["endpoints"] if k < len(curve) else {}


def summarise(
    main: Mapping[str, Any],
    reference: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    failures: Sequence[Mapping[str, Any]],
    *,
    ensemble: PosteriorEnsemble,
    requested: int,
    subjects: int,
) -> dict[str, Any]:
    """The ``uncertainty`` block of summary.json from the main analysis, the reference
    (:func:`draw_record` of the fitted parameters on the draws' patients) and the draws'
    records."""
    kinds = {ep: str(d.get("kind", "")) for ep, d in main.get("endpoints", {}).items()}
    arms: dict[str, dict[str, Any]] = {}
    for arm, block in main["arms"].items():
        arms[arm] = {}
        for ep, est in block.items():
            if not isinstance(est, Mapping) or "estimate" not in est:
                continue
            arms[arm][ep] = _uncertain(
                est.get("estimate"),
                est.get("ci95"),
                reference["arms"].get(arm, {}).get(ep),
                [r["arms"].get(arm, {}).get(ep) for r in records],
                bounds=_arm_bounds(kinds.get(ep, "")),
            )
    comparisons = []
    for c in main["comparisons"]:
        measure = c.get("measure")
        comparisons.append(
            {
                "endpoint": c["endpoint"],
                "arms": list(c["arms"]),
                "measure": measure,
                "primary": c.get("primary"),
                **_uncertain(
                    c.get("difference"),
                    c.get("ci95"),
                    _difference(reference, c["endpoint"], c["arms"]),
                    [_difference(r, c["endpoint"], c["arms"]) for r in records],
                    ratio=measure in RATIO_MEASURES,
                    bounds=(-1.0, 1.0) if measure == "risk_difference" else UNBOUNDED,
                ),
            }
        )
    out: dict[str, Any] = {
        "method": (
            f"the protocol rerun under each of {len(records)} parameter sets of the "
            f"posterior ({ensemble.method}) and under the fitted parameters (reference), "
            f"{subjects} virtual patients each, drawn, given their history and screened "
            "under each set with the run's seed (common random numbers); each set's change "
            "from the reference is applied to the main run's estimate (ratios on the log "
            "scale, proportions kept in 0-1)"
        ),
        "posterior": ensemble.source,
        "posterior_check": ensemble.check,
        "draws_requested": requested,
        "draws_used": len(records),
        "failed_draws": list(failures),
        "subjects_per_draw": subjects,
        "model_interval": MODEL_INTERVAL,
        "arms": arms,
        "comparisons": comparisons,
    }
    power = main.get("power", {})
    if "endpoints" in power:
        n_trials = int(power["n_trials"])
        out["power"] = _power_entries(
            power["endpoints"], reference["power"], [r["power"] for r in records], n_trials
        )
        out["power_curve"] = [
            {
                "total": point["total"],
                "endpoints": _power_entries(
                    point["endpoints"],
                    _curve_block(reference, k),
                    [_curve_block(r, k) for r in records],
                    n_trials,
                ),
            }
            for k, point in enumerate(power.get("curve", []))
        ]
    return out


def run_uncertainty(
    plan: DrawPlan,
    main: Mapping[str, Any],
    *,
    ensemble: PosteriorEnsemble,
    n_draws: int,
    work: Path,
    on_draw: Callable[[int], None] | None = None,
    base: Preset | None = None,
) -> dict[str, Any]:
    """Run the fitted parameters (the reference) and the first ``n_draws`` parameter sets
    on ``subjects`` patients each (each kept in ``work`` as it finishes, so a killed run
    resumes at the next one) and summarise them against ``main``. ``on_draw(done)`` after
    each of the ``n_draws + 1`` runs."""
    sets = ensemble.first(n_draws)
    preset = base or get_preset("human")
    work.mkdir(parents=True, exist_ok=True)

    def saved_run(path: Path, values: Mapping[str, float]) -> dict[str, Any]:
        if path.is_file():
            saved: dict[str, Any] = json.loads(path.read_text())
            return saved
        try:
            analysis = plan.run(preset.with_numbers(values))
            saved = {"ok": True, "record": draw_record(analysis)}
        except LupusimError as exc:
            saved = {"ok": False, "error": str(exc)}
        write_json(path, saved)
        return saved

    ref = saved_run(work / "reference.json", {})
    if not ref["ok"]:
        raise LupusimError(
            f"--uncertainty: the fitted parameters on {plan.subjects} virtual patients per draw "
            f"failed: {ref['error']}"
        )
    if on_draw is not None:
        on_draw(1)
    records: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for k, values in enumerate(sets):
        saved = saved_run(work / f"draw_{k:04d}.json", values)
        if saved["ok"]:
            records.append(saved["record"])
        else:
            failures.append({"draw": k, "error": saved["error"]})
        if on_draw is not None:
            on_draw(k + 2)
    return summarise(
        main,
        ref["record"],
        records,
        failures,
        ensemble=ensemble,
        requested=n_draws,
        subjects=plan.subjects,
    )
