"""The human calibration: a spec's free parameters fitted to its target rows.

``calibrate_human(out)`` builds the :class:`TrialObjective` of the shipped spec
(``lupusim/calibrate/data/human.yaml``), minimises the sum of squared residuals over the
spec's free parameters (the spec's ``method``, on log-parameters,
:func:`lupusim.calibrate.fit`), and writes to ``out``: ``calibration_human.json`` (fitted
values, the rows they were fitted to, bounds, parameters at a bound, the goodness of fit),
``gof.csv`` and ``gof.png`` (every declared row, fitted or check-only, at the fitted
values, simulated with a fresh seed so the table is not scored on the patients the fit
saw).

``human_posterior(out)`` is the Laplace posterior of the same objective around the
installed fit (:mod:`lupusim.calibrate._laplace`): ``posterior_human.json`` (marginal
widths, 90 % intervals, identifiability labels, covariance and an ensemble of parameter
sets drawn from it) and ``identifiability.png``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from lupusim.calibrate._gof import gof_frame, plot_gof
from lupusim.calibrate._importance import importance_check
from lupusim.calibrate._laplace import PRACTICAL_WIDTH_RATIO, LaplacePosterior, laplace_posterior
from lupusim.calibrate._objective import TrialObjective, gof_records
from lupusim.calibrate._problem import CalibrationProblem, FreeParameter, fit
from lupusim.calibrate._spec import CalibrationSpec, human_spec
from lupusim.model import get_preset
from lupusim.model._presets import HUMAN_CALIBRATION_FILE, HUMAN_POSTERIOR_FILE

#: Seed offset of the goodness-of-fit run (fresh patients, not those of the fit).
GOF_SEED_OFFSET = 1000


@dataclass(frozen=True)
class HumanCalibration:
    """What a run wrote and found."""

    values: dict[str, float]
    gof_path: Path
    within: int
    rows: int
    seconds: float
    evaluations: int  # objective evaluations the fit used
    budget: int  # the most it was allowed


def free_parameters(spec: CalibrationSpec) -> tuple[FreeParameter, ...]:
    """The spec's free parameters, started at the spec's ``start`` (else the preset's
    current value), clipped into the bounds."""
    preset = get_preset("human")
    out = []
    for f in spec.free:
        start = f.start if f.start is not None else preset.values[f.name].value
        out.append(FreeParameter(f.name, min(max(start, f.lower), f.upper), f.lower, f.upper))
    return tuple(out)


def counted_problem(
    spec: CalibrationSpec,
    objective: TrialObjective,
    free: tuple[FreeParameter, ...],
    on_evaluation: Callable[[int, float], None] | None,
) -> CalibrationProblem:
    """The calibration problem of ``objective``'s fitted rows over ``free``, calling
    ``on_evaluation(count, loss)`` after each evaluation (a progress bar)."""
    count = 0

    def residuals(values: dict[str, float]) -> Any:
        nonlocal count
        res = objective.residuals(values)
        count += 1
        if on_evaluation is not None:
            on_evaluation(count, float(sum(r.value**2 for r in res)))
        return res

    return CalibrationProblem(spec.name, "human", free, residuals)


def calibrate_human(
    out: Path,
    *,
    quick: bool = False,
    max_evaluations: int | None = None,
    workers: int = 1,
    install: bool = False,
    spec: CalibrationSpec | None = None,
    protocol_dir: Path | None = None,
    on_evaluation: Callable[[int, float], None] | None = None,
) -> HumanCalibration:
    """Fit the human model to the spec's rows; write the outputs to ``out``."""
    spec = human_spec() if spec is None else spec
    n = spec.quick_subjects if quick else spec.subjects
    evaluations = (
        max_evaluations
        if max_evaluations is not None
        else (spec.quick_evaluations if quick else spec.evaluations)
    )
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    objective = TrialObjective(
        spec, subjects=n, seed=spec.seed, workers=workers, protocol_dir=protocol_dir
    )
    free = free_parameters(spec)
    problem = counted_problem(spec, objective, free, on_evaluation)
    result = (
        fit(problem, max_evaluations=evaluations, method=spec.method)
        if free and evaluations > 0
        else None
    )
    values = result.values if result is not None else {f.name: f.initial for f in free}
    check = TrialObjective(
        spec,
        subjects=n,
        seed=spec.seed + GOF_SEED_OFFSET,
        workers=workers,
        protocol_dir=protocol_dir,
    )
    table = gof_frame(gof_records(check.evaluate(values)))
    gof_path = out / "gof.csv"
    table.to_csv(gof_path, index=False)
    plot_gof(table, out / "gof.png", f"{spec.name} goodness of fit")
    at_bound = [
        f.name
        for f in free
        if math.isclose(values[f.name], f.lower, rel_tol=1e-3)
        or math.isclose(values[f.name], f.upper, rel_tol=1e-3)
    ]
    fitted_rows = [t.row for t in spec.targets if t.fit]
    payload: dict[str, Any] = {
        "spec": spec.name,
        "subjects": n,
        "seed": spec.seed,
        "quick": quick,
        "values": values,
        "targets": fitted_rows,
        "bounds": {f.name: [f.lower, f.upper] for f in free},
        "at_bound": at_bound,
        "loss": result.loss if result is not None else None,
        "initial_loss": result.initial_loss if result is not None else None,
        "evaluations": result.evaluations if result is not None else 0,
        "seconds": round(time.perf_counter() - start, 1),
        "within": int(table["within"].sum()),
        "rows": len(table),
        "gof_seed": spec.seed + GOF_SEED_OFFSET,
        "gof": json.loads(table.to_json(orient="records")),
    }
    (out / "calibration_human.json").write_text(json.dumps(payload, indent=2) + "\n")
    if install:
        target = resources.files("lupusim.model").joinpath(HUMAN_CALIBRATION_FILE)
        Path(str(target)).write_text(json.dumps(payload, indent=2) + "\n")
    return HumanCalibration(
        values,
        gof_path,
        payload["within"],
        payload["rows"],
        payload["seconds"],
        payload["evaluations"],
        evaluations if free else 0,
    )


@dataclass(frozen=True)
class HumanPosterior:
    """What :func:`human_posterior` wrote and found."""

    posterior: LaplacePosterior
    path: Path
    seconds: float


def human_posterior(
    out: Path,
    *,
    draws: int = 200,
    quick: bool = False,
    workers: int = 1,
    install: bool = False,
    spec: CalibrationSpec | None = None,
    seed: int = 0,
    check: int = 0,
    on_evaluation: Callable[[int, float], None] | None = None,
) -> HumanPosterior:
    """Laplace posterior of the spec's objective around the installed human fit (the
    preset's current values of the free parameters, clipped into their bounds), on the
    fit's own virtual patients (its seed and subject count); ``draws`` parameter sets
    from it, drawn with ``seed``. Costs one objective evaluation per free parameter,
    plus one; ``check`` > 0 adds the importance-sampling diagnostic of the approximation
    (:mod:`lupusim.calibrate._importance`) at that many further draws, one evaluation
    each (draws outside the box cost none)."""
    spec = human_spec() if spec is None else spec
    n = spec.quick_subjects if quick else spec.subjects
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    objective = TrialObjective(spec, subjects=n, seed=spec.seed, workers=workers)
    free = free_parameters(spec)
    preset = get_preset("human")
    at = {f.name: min(max(preset.values[f.name].value, f.lower), f.upper) for f in free}
    problem = counted_problem(spec, objective, free, on_evaluation)
    posterior = laplace_posterior(problem, at)
    ensemble = posterior.draws(draws, np.random.default_rng(seed))
    checked = (
        importance_check(problem, posterior, check, np.random.default_rng([seed, 1]))
        if check
        else None
    )
    payload = {
        "spec": spec.name,
        "subjects": n,
        "seed": spec.seed,
        "draw_seed": seed,
        "quick": quick,
        "targets": [t.row for t in spec.targets if t.fit],
        **posterior.to_json(ensemble),
        **({"check": checked.to_json()} if checked is not None else {}),
        "seconds": round(time.perf_counter() - start, 1),
    }
    path = out / "posterior_human.json"
    text = json.dumps(payload, indent=2) + "\n"
    path.write_text(text)
    plot_identifiability(posterior, out / "identifiability.png")
    if install:
        target = resources.files("lupusim.model").joinpath(HUMAN_POSTERIOR_FILE)
        Path(str(target)).write_text(text)
    return HumanPosterior(posterior, path, payload["seconds"])


def plot_identifiability(posterior: LaplacePosterior, path: Path) -> None:
    """Bars of posterior/prior width per parameter, coloured by identifiability."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colour = {
        "identifiable": "#2b7a3d",
        "practically non-identifiable": "#d08c00",
        "structurally non-identifiable": "#b23a3a",
    }
    labels = posterior.labels()
    order = np.argsort(posterior.width_ratio)
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(order) + 1.4))
    names = [posterior.names[i] for i in order]
    ax.barh(
        names,
        posterior.width_ratio[order],
        color=[colour[labels[n]] for n in names],
    )
    ax.axvline(PRACTICAL_WIDTH_RATIO, color="grey", ls="--", lw=1)
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("posterior sd / prior sd of the log-parameter (1 = the targets say nothing)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colour.values()]
    ax.legend(handles, list(colour), loc="lower right", fontsize=8)
    ax.set_title("Human calibration: identifiability (Laplace approximation at the fit)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
