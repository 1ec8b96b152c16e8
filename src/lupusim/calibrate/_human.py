"""The human calibration: a spec's free parameters fitted to its target rows.

``calibrate_human(out)`` builds the :class:`TrialObjective` of the shipped spec
(``lupusim/calibrate/data/human.yaml``), minimises the sum of squared residuals over the
spec's free parameters (the spec's ``method``, on log-parameters,
:func:`lupusim.calibrate.fit`), and writes to ``out``: ``calibration_human.json`` (fitted
values, the rows they were fitted to, bounds, parameters at a bound, the goodness of fit),
``gof.csv`` and ``gof.png`` (every declared row, fitted or check-only, at the fitted
values, simulated with a fresh seed so the table is not scored on the patients the fit
saw).
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

from lupusim.calibrate._gof import gof_frame, plot_gof
from lupusim.calibrate._objective import TrialObjective, gof_records
from lupusim.calibrate._problem import CalibrationProblem, FreeParameter, fit
from lupusim.calibrate._spec import CalibrationSpec, human_spec
from lupusim.model import get_preset
from lupusim.model._presets import HUMAN_CALIBRATION_FILE

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


def free_parameters(spec: CalibrationSpec) -> tuple[FreeParameter, ...]:
    """The spec's free parameters, started at the spec's ``start`` (else the preset's
    current value), clipped into the bounds."""
    preset = get_preset("human")
    out = []
    for f in spec.free:
        start = f.start if f.start is not None else preset.values[f.name].value
        out.append(FreeParameter(f.name, min(max(start, f.lower), f.upper), f.lower, f.upper))
    return tuple(out)


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
    count = 0

    def residuals(values: dict[str, float]) -> Any:
        nonlocal count
        res = objective.residuals(values)
        count += 1
        if on_evaluation is not None:
            on_evaluation(count, float(sum(r.value**2 for r in res)))
        return res

    problem = CalibrationProblem(spec.name, "human", free, residuals)
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
        values, gof_path, payload["within"], payload["rows"], payload["seconds"]
    )
