#!/usr/bin/env python
"""Fit the free parameters of the Sun 2009 reproduction to targets.csv.

Runs four problems in order (see lupusim.studies.sun2009._calibration): mouse (M1–M6),
human standard of care (ACCESS S1–S6), human hazards (S7, S9), human MSC response over
24 months (Liang 2010 H1–H5, Wen 2019 H6–H11, Wang 2013 H12–H15, Gu 2014 H16, H17, H19,
Wang 2014 H20–H22, Liu 2011 H24 and H26 — on refractory virtual patients weighted to
Liang 2010's baseline 24-h protein by prevalence weighting; definitions not in the sources
are stated assumptions, _calibration.MSC_DEFINITIONS). Rows in _calibration.MSC_UNFITTED
are computed at the fitted values and written as "unfitted_residuals" (shown, not fitted,
with the reason). Then the direction check of H27 (autologous MSC, Carrión 2010) runs on
the calibrated model and is written under "checks". Always starts from
the values in the code (calibration.json is ignored while fitting), so the output is a
function of the code and the seed alone. Writes src/lupusim/model/data/calibration.json,
which the presets then load.

``--only mouse`` refits the mouse problem alone (on its pooled cohort of 1,000 virtual
MRL/lpr, _calibration.MOUSE_FIT_SEEDS) and replaces only the ``mrl_lpr`` section of the
existing calibration.json; the human sections, checks and the rest are kept as they are.

    python scripts/calibrate_sun2009.py [--max-evals N] [--only mouse] [--workers W]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ["LUPUSIM_IGNORE_CALIBRATION"] = "1"

from lupusim.calibrate import CalibrationResult, Residual, fit
from lupusim.studies.sun2009 import _calibration as cal

OUT = (
    Path(__file__).resolve().parents[1] / "src" / "lupusim" / "model" / "data" / "calibration.json"
)


def _print(result: CalibrationResult) -> None:
    print(
        f"\n== {result.problem} ({result.preset}): loss {result.initial_loss:.3g} → "
        f"{result.loss:.3g} in {result.evaluations} evaluations, {result.seconds:.0f} s"
    )
    for name, value in result.values.items():
        print(f"   {name:32s} {result.initial_values[name]:.4g} → {value:.4g}")
    for r in result.residuals:
        print(
            f"   {r.target_id:4s} {r.description:55s} sim {r.simulated:9.4g}  "
            f"pub {r.published:9.4g}  residual {r.value:+.2f}"
        )


def _residual_rows(residuals: list[Residual]) -> list[dict[str, object]]:
    return [r.as_record() for r in residuals]


def _mouse_problem_json(result: CalibrationResult) -> dict[str, object]:
    problem = result.to_json()
    problem["cohort"] = {
        "seeds": list(cal.MOUSE_FIT_SEEDS),
        "animals_per_seed": cal.MOUSE_FIT_PER_SEED,
        "note": "virtual untreated MRL/lpr pooled over the seeds (common random numbers)",
    }
    return problem


def refit_mouse_only(max_evals: int, out: Path, workers: int) -> int:
    """Fit the mouse problem and replace the ``mrl_lpr`` section of ``out`` with it."""
    if not out.is_file():
        raise SystemExit(f"{out} does not exist: run the full calibration first")
    payload = json.loads(out.read_text())
    mouse = fit(cal.mouse_problem(workers=workers), max_evals)
    _print(mouse)
    payload["presets"]["mrl_lpr"] = {
        "values": dict(mouse.values),
        "problems": [
            {
                **_mouse_problem_json(mouse),
                "script": f"scripts/calibrate_sun2009.py --only mouse --max-evals {max_evals}",
            }
        ],
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote the mrl_lpr section of {out} (other sections unchanged)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-evals", type=int, default=150)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--only",
        choices=("mouse",),
        help="refit this problem alone and update only its section of --out",
    )
    parser.add_argument(
        "--workers", type=int, default=cal.WORKERS, help="mouse fit processes (0: one per core)"
    )
    args = parser.parse_args()
    if args.only == "mouse":
        return refit_mouse_only(args.max_evals, args.out, args.workers)
    start = time.perf_counter()
    results: list[CalibrationResult] = []

    mouse = fit(cal.mouse_problem(workers=args.workers), args.max_evals)
    _print(mouse)
    results.append(mouse)
    soc = fit(cal.human_soc_problem(), args.max_evals)
    _print(soc)
    results.append(soc)
    hazards = fit(cal.human_hazards_problem(soc.values), max(40, args.max_evals // 3))
    _print(hazards)
    results.append(hazards)
    base = {**soc.values, **hazards.values}
    msc = fit(cal.human_msc_problem(base), args.max_evals)
    _print(msc)
    results.append(msc)
    unfitted = [
        r
        for r in cal.human_msc_problem(base, include_unfitted=True).residuals(msc.values)
        if r.target_id in cal.MSC_UNFITTED
    ]
    for r in unfitted:
        print(
            f"   {r.target_id:4s} (not fitted) sim {r.simulated:9.4g}  pub {r.published:9.4g}  "
            f"residual {r.value:+.2f}"
        )

    presets: dict[str, dict[str, object]] = {}
    for r in results:
        entry = presets.setdefault(r.preset, {"values": {}, "problems": []})
        entry["values"].update(r.values)  # type: ignore[union-attr]
        problem = _mouse_problem_json(r) if r is mouse else r.to_json()
        if r is msc:
            problem["definitions"] = dict(cal.MSC_DEFINITIONS)
            problem["unfitted_residuals"] = [
                {**row, "fitted": False, "reason": cal.MSC_UNFITTED[row["target_id"]]}
                for row in _residual_rows(unfitted)
            ]
        entry["problems"].append(problem)  # type: ignore[union-attr]
    seconds = round(time.perf_counter() - start, 1)
    payload: dict[str, object] = {
        "script": "scripts/calibrate_sun2009.py",
        "max_evaluations": args.max_evals,
        "seconds": seconds,
        "presets": presets,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    check = cal.carrion_autologous_check({**base, **msc.values})
    print(f"\nH27 (direction only): {json.dumps(check, indent=1)}")
    payload["checks"] = {"H27": check}
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
