"""``lupusim reproduce sun2009``: both parts in one run, all outputs in one folder."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

from lupusim.engine import simulate
from lupusim.errors import LupusimError
from lupusim.io import build_manifest, write_json
from lupusim.model import compile_model, get_preset, load_ensemble, model_hash
from lupusim.studies.sun2009 import _calibration, _mouse, _patients, _targets
from lupusim.studies.sun2009._projection import (
    projection_uncertainty,
    projection_values,
    value_at,
)
from lupusim.treatments import MSCInfusion, Regimen


@dataclass(frozen=True)
class Sun2009Options:
    """Options of the reproduction (the CLI's flags)."""

    out_dir: Path
    seed: int = 20090601
    per_group: int = _mouse.DEFAULT_PER_GROUP
    replicates: int = 200
    reinfuse_on_relapse: bool = False
    condition_on_course: bool = True
    workers: int = 0
    write_report: bool = True
    #: parameter sets of the calibration's posterior to rerun the projection under
    uncertainty: int = 0
    #: replicates per patient in each of those reruns
    uncertainty_replicates: int = 25
    #: posterior file with the parameter sets (None: the installed one)
    posterior: Path | None = None


def mouse_part(
    rng: np.random.Generator, per_group: int = _mouse.DEFAULT_PER_GROUP, workers: int = 0
) -> tuple[dict[str, _mouse.MouseGroupResult], list[dict[str, Any]]]:
    """The six mouse groups of ``per_group`` animals (drawn from ``rng`` in the order of
    :func:`_mouse.mouse_groups`) and the mouse targets M1–M15 evaluated on them."""
    groups = {
        g.name: _mouse.simulate_mouse_group(g, per_group, rng, workers)
        for g in _mouse.mouse_groups()
    }
    return groups, _targets.evaluate_mouse_targets(groups) + _msc_kinetics()


def _msc_kinetics() -> list[dict[str, Any]]:
    preset = get_preset("mrl_lpr")
    params = preset.parameter_vector()[None]
    times = np.arange(0.0, 96.0 + 1e-9, 1.0) / 24.0 + 16 * _mouse.DAYS_PER_WEEK
    reg = Regimen("msc", (MSCInfusion(float(times[0]), cells=_mouse.MSC_CELLS_PER_MOUSE),))
    res = simulate(preset.model, params, preset.initial_state()[None], [reg], times)
    cells = res.observables()["donor_msc_cells"][0]
    return _targets.evaluate_msc_kinetics(
        (times - times[0]) * 24.0, cells, _mouse.MSC_CELLS_PER_MOUSE
    )


def _prior_predictive(draws: dict[str, _patients.PatientDraw]) -> dict[str, dict[str, Any]]:
    included = sum(d.included for d in draws.values())
    msc = sum(d.stable_msc for d in draws.values()) / max(included, 1)
    iso = sum(d.stable_is_only for d in draws.values()) / max(included, 1)
    return {
        "patients_prior_predictive_stable_remission": {
            "description": "model prediction: share of virtual patients meeting the seed's "
            "inclusion criteria (P1–P4 demographics) in stable renal remission at 12 and 18 "
            "months, after one MSC infusion with immunosuppression tapered/stopped as "
            "published, versus continuing immunosuppression without MSC",
            "value": {
                "pilot_msc": round(msc, 4),
                "pilot_is_only": round(iso, 4),
                "included_candidates": included,
                "per_patient": {
                    pid: {
                        "included": d.included,
                        "stable_msc": d.stable_msc,
                        "stable_is_only": d.stable_is_only,
                    }
                    for pid, d in draws.items()
                },
            },
            "unit": "fraction",
            "direction_expected": "pilot_msc higher (Sun 2009: remission after MSC)",
            "agrees": bool(msc > iso),
        }
    }


def _patient_comparisons(
    pilot: dict[str, _patients.PatientRun],
    projection: dict[str, _patients.PatientRun],
    conditioned: bool,
    rng: np.random.Generator,
) -> dict[str, dict[str, Any]]:
    msc, iso = pilot["pilot_msc"], pilot["pilot_is_only"]
    out: dict[str, dict[str, Any]] = {}
    p0, p12 = value_at(msc, "protein_24h_g", 0.0), value_at(msc, "protein_24h_g", 365.0)
    s0, s12 = value_at(msc, "sledai2k", 0.0), value_at(msc, "sledai2k", 365.0)
    e0, e12 = value_at(msc, "egfr_ml_min_1_73m2", 0.0), value_at(msc, "egfr_ml_min_1_73m2", 365.0)
    improved = (p12 < p0) & (s12 < s0) & (e12 >= e0)
    out["patients_all_improved_at_12_months"] = {
        "description": "pilot_msc: 24-h protein and SLEDAI-2K (approx.) lower, eGFR not lower, "
        "at 12 months than at day 0, in every patient",
        "value": {
            "improved": int(improved.sum()),
            "of": len(improved),
            "protein_g_day0": p0.round(2).tolist(),
            "protein_g_month12": p12.round(2).tolist(),
            "sledai_day0": s0.tolist(),
            "sledai_month12": s12.tolist(),
            "egfr_day0": e0.round(1).tolist(),
            "egfr_month12": e12.round(1).tolist(),
        },
        "unit": "patients",
        "direction_expected": "all four improve (Sun 2009)",
        # Conditioned patients were chosen for their published course: not a test.
        "agrees": None if conditioned else bool(improved.all()),
    }
    rem12 = value_at(msc, "protein_24h_g", 365.0) < _patients.REMISSION_PROTEIN_G
    rem18 = value_at(msc, "protein_24h_g", _patients.PILOT_END_DAY) < _patients.REMISSION_PROTEIN_G
    out["patients_remission_stable_12_to_18_months"] = {
        "description": "pilot_msc: renal remission (24-h protein < 0.5 g) at both 12 and 18 months",
        "value": int((rem12 & rem18).sum()),
        "unit": "patients of 4",
        "direction_expected": "4 (stable 12–18 month remission, Sun 2009)",
        "agrees": None if conditioned else bool((rem12 & rem18).all()),
    }
    out["pilot_protein_18m_msc_vs_is_only"] = {
        "description": "mean 24-h protein at 18 months, pilot_msc minus pilot_is_only",
        "value": float(
            np.mean(value_at(msc, "protein_24h_g", _patients.PILOT_END_DAY))
            - np.mean(value_at(iso, "protein_24h_g", _patients.PILOT_END_DAY))
        ),
        "unit": "g/day",
        "direction_expected": "negative (MSC better)",
        "agrees": None,
    }
    for arm, run in projection.items():
        out[f"{arm}_10y"] = {
            "description": f"{arm}: 10-year projection after the 18-month pilot "
            "(median [10–90 %] over replicates)",
            "value": projection_values(arm, run, rng),
            "unit": "mixed (see keys)",
            "direction_expected": "projection (no published value yet)",
            "agrees": None,
        }
    return out


def _mouse_comparisons(groups: dict[str, _mouse.MouseGroupResult]) -> dict[str, dict[str, Any]]:
    day20 = 20 * _mouse.DAYS_PER_WEEK
    out: dict[str, dict[str, Any]] = {}

    def med(g: str, v: str) -> float:
        vals = groups[g].at_age(v, day20)
        return float(np.median(vals)) if len(vals) else float("nan")

    def add(name: str, desc: str, a: str, b: str, var: str, unit: str, lower_better: bool) -> None:
        va, vb = med(a, var), med(b, var)
        out[name] = {
            "description": desc,
            "value": {a: round(va, 4), b: round(vb, 4)},
            "unit": unit,
            "direction_expected": f"{a} {'lower' if lower_better else 'higher'}",
            "agrees": bool(va < vb) if lower_better else bool(va > vb),
        }

    add(
        "mouse_week20_upcr_msct_vs_ctx",
        "week-20 urine ACR (kidney), MSCT week 9 vs CTX",
        "msct_week9",
        "ctx",
        "urine_acr_mg_g",
        "mg/g",
        True,
    )
    add(
        "mouse_week20_anti_dsdna_msct_vs_ctx",
        "week-20 anti-dsDNA, MSCT week 9 vs CTX",
        "msct_week9",
        "ctx",
        "anti_dsdna_iu_ml",
        "IU/mL",
        True,
    )
    add(
        "mouse_week20_treg_msct_vs_ctx",
        "week-20 Treg, MSCT week 9 vs CTX",
        "msct_week9",
        "ctx",
        "treg_pct_cd4",
        "% CD4",
        False,
    )
    add(
        "mouse_week20_upcr_ctx_vs_untreated",
        "week-20 urine ACR, CTX vs untreated",
        "ctx",
        "untreated",
        "urine_acr_mg_g",
        "mg/g",
        True,
    )
    add(
        "mouse_week20_upcr_msc_restored_vs_untreated",
        "week-20 urine ACR, MSC function normal from birth vs untreated MRL/lpr",
        "msc_restored",
        "untreated",
        "urine_acr_mg_g",
        "mg/g",
        True,
    )
    h = groups["healthy_strain"]
    acr_max = float(np.nanmax(h.observables["urine_acr_mg_g"]))
    out["mouse_healthy_strain_stays_healthy"] = {
        "description": "healthy_strain: highest urine ACR of any animal up to 20 weeks",
        "value": round(acr_max, 1),
        "unit": "mg/g",
        "direction_expected": f"below the nephritis threshold {_targets.NEPHRITIS_ACR_MG_G} mg/g",
        "agrees": bool(acr_max < _targets.NEPHRITIS_ACR_MG_G),
    }
    return out


def _access_points(table: pd.DataFrame) -> list[Any]:
    """Observed ACCESS UPCR median [IQR] per visit window, drawn over the check panel."""
    from lupusim.report import PublishedPoint

    return [
        PublishedPoint(
            "ACCESS",
            "access_calibration",
            "upcr_g_per_g",
            float(row["day"]),
            float(row["observed_median"]),
            float(row["observed_q25"]),
            float(row["observed_q75"]),
            f"access_upcr.csv median [IQR], {row['n_values']} values {row['window_days']}",
        )
        for row in table.to_dict(orient="records")
    ]


def _published_points() -> list[Any]:
    from lupusim.report import PublishedPoint

    wk = _mouse.DAYS_PER_WEEK
    return [
        PublishedPoint(
            "M5",
            "mouse",
            "urine_acr_mg_g",
            18 * wk,
            623.0,
            1.0,
            22806.0,
            "JAX median (range), n=163",
            ("untreated",),
        ),
        PublishedPoint(
            "M1",
            "mouse",
            "alive",
            20 * wk,
            0.5,
            None,
            None,
            "50 % mortality by 5 months",
            ("untreated",),
        ),
        PublishedPoint(
            "H3",
            "patients",
            "protein_24h_g",
            0.0,
            2.505,
            2.505 - 1.324,
            2.505 + 1.324,
            "Liang 2010 cohort mean ± SD (same programme)",
            ("pilot_msc",),
        ),
        PublishedPoint(
            "H4",
            "patients",
            "protein_24h_g",
            365.0,
            0.858,
            0.057,
            0.858 + 0.801,
            "Liang 2010 cohort mean ± SD",
            ("pilot_msc",),
        ),
        PublishedPoint(
            "H1",
            "patients",
            "sledai2k",
            0.0,
            12.2,
            12.2 - 3.3,
            12.2 + 3.3,
            "Liang 2010 cohort mean ± SD",
            ("pilot_msc",),
        ),
        PublishedPoint(
            "H2",
            "patients",
            "sledai2k",
            365.0,
            3.2,
            0.4,
            6.0,
            "Liang 2010 cohort mean ± SD",
            ("pilot_msc",),
        ),
    ]


def _calibration_payload() -> dict[str, Any]:
    path = resources.files("lupusim.model").joinpath("data/calibration.json")
    if not path.is_file():
        return {}
    payload: dict[str, Any] = json.loads(path.read_text())
    return payload


def calibration_fit() -> list[dict[str, Any]]:
    """Residuals of every target in the packaged calibration (calibration.json), the
    fitted ones first, then per problem those shown but not fitted (``fitted: False``)."""
    payload = _calibration_payload()
    rows = []
    for preset in payload.get("presets", {}).values():
        for problem in preset["problems"]:
            for r in problem["residuals"]:
                rows.append({"problem": problem["problem"], **r})
            for r in problem.get("unfitted_residuals", []):
                rows.append({"problem": f"{problem['problem']} (not fitted)", **r})
    return rows


def calibration_checks() -> dict[str, Any]:
    """Direction checks run on the calibrated model by the calibration script (H27)."""
    checks: dict[str, Any] = _calibration_payload().get("checks", {})
    return checks


def reproduce(options: Sun2009Options) -> dict[str, Any]:
    """Run both parts and write summary.json, trajectories.parquet, report.html, manifest."""
    if options.per_group < 1 or options.replicates < 1:
        raise LupusimError("--per-group and --replicates must be at least 1")
    out_dir = Path(options.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise LupusimError(f"--out {out_dir} exists and is not a folder")
    ensemble = load_ensemble(options.posterior) if options.uncertainty else None
    rng = np.random.default_rng(options.seed)
    timings: dict[str, float] = {}
    console = Console(stderr=True)
    t0 = time.perf_counter()
    with console.status("compiling the model (cached after the first run)"):
        compile_model(get_preset("mrl_lpr").model)
        compile_model(get_preset("human").model)
    with console.status(f"mouse: six groups of {options.per_group} animals"):
        groups, targets = mouse_part(rng, options.per_group, options.workers)
    timings["mouse"] = time.perf_counter() - t0
    console.log(f"mouse part done ({timings['mouse']:.1f} s)")

    t1 = time.perf_counter()
    with console.status("patients: drawing P1–P4 and simulating the 18-month pilot"):
        draws = {
            p.patient_id: _patients.draw_seed_patient(
                p, rng, options.condition_on_course, workers=options.workers
            )
            for p in _patients.SEED_PATIENTS
        }
        patients = {pid: d.parameters for pid, d in draws.items()}
        pilot = _patients.run_pilot(patients, rng, options.workers)
    timings["patients_pilot"] = time.perf_counter() - t1
    console.log(f"patients: pilot done ({timings['patients_pilot']:.1f} s)")
    t2 = time.perf_counter()
    projection = _patients.run_projection(
        patients, options.replicates, rng, options.reinfuse_on_relapse, options.workers
    )
    timings["patients_projection"] = time.perf_counter() - t2
    console.log(f"patients: 10-year projection done ({timings['patients_projection']:.1f} s)")

    comparisons = {
        **_mouse_comparisons(groups),
        **_prior_predictive(draws),
        **_patient_comparisons(pilot, projection, options.condition_on_course, rng),
    }
    projection_model = None
    if ensemble is not None:
        t3 = time.perf_counter()
        with console.status("patients: projection under posterior parameter sets") as status:
            projection_model = projection_uncertainty(
                patients,
                {arm: comparisons[f"{arm}_10y"]["value"] for arm in projection},
                ensemble=ensemble,
                n_draws=options.uncertainty,
                replicates=options.uncertainty_replicates,
                seed=options.seed,
                reinfuse_on_relapse=options.reinfuse_on_relapse,
                workers=options.workers,
                on_draw=lambda k: status.update(
                    f"patients: projection under posterior parameter sets ({k} of "
                    f"{options.uncertainty} done)"
                ),
            )
        timings["patients_projection_uncertainty"] = time.perf_counter() - t3
        console.log(
            f"patients: projection under {options.uncertainty} posterior parameter sets done "
            f"({timings['patients_projection_uncertainty']:.1f} s)"
        )
    failures = {
        "mouse": int(sum((~g.result.ok).sum() for g in groups.values())),
        "patients": int(sum((~r.result.ok).sum() for r in [*pilot.values(), *projection.values()])),
    }
    summary: dict[str, Any] = {
        "study": "sun2009",
        "calibration": calibration_fit(),
        "calibration_checks": calibration_checks(),
        "targets": targets,
        "comparisons": comparisons,
        "solver_failures": failures,
        **({"projection_uncertainty": projection_model} if projection_model else {}),
        "settings": {k: str(v) for k, v in asdict(options).items()},
        "notes": [
            "sledai2k is scored by lupusim.clinical (SLEDAI-2K) from virtual visit tables; "
            "laboratory descriptors use the instrument's thresholds, organ descriptors "
            "(rash, arthritis, CNS, casts, fever) organ-activity thresholds (assumptions, "
            "docs/model.md).",
            "Per-patient values of the four seed patients were not published; P1–P4 are "
            "virtual patients with the published demographics meeting the inclusion criteria"
            + (
                ", chosen among those whose simulated 18-month course matches the published "
                "one (stable remission); their 18-month outcomes are therefore not tests of "
                "the model — the prior-predictive comparison is, and the 10-year projection "
                "is conditional on the published course."
                if options.condition_on_course
                else " (first prior draw; outcomes are model predictions)."
            ),
        ],
    }
    access_traj, access_table = _calibration.access_trajectory_check()
    summary["access_trajectory_check"] = {
        "note": "Calibrated standard-of-care population (ACCESS placebo regimen, ACCESS "
        "ages, UPCR > 1 g/g at day 0) against the individual ACCESS UPCR values of "
        "data/access_upcr.csv (both arms) per visit window; only the medians at days 0, "
        "53, 168 and 360 (S3-S6) were fitted.",
        "windows": access_table.to_dict(orient="records"),
    }
    trajectories = pd.concat(
        [
            access_traj,
            _mouse.mouse_trajectories(groups),
            _patients.patient_trajectories(pilot, _patients.PATIENT_VARIABLES),
            _patients.patient_trajectories(
                projection, _patients.PROJECTION_VARIABLES, from_day=0.0
            ),
        ],
        ignore_index=True,
    )
    trajectories["study"] = trajectories["study"].astype("category")
    trajectories["group"] = trajectories["group"].astype("category")
    trajectories["variable"] = trajectories["variable"].astype("category")

    tmp = Path(
        tempfile.mkdtemp(
            prefix=".sun2009-", dir=out_dir.parent if out_dir.parent.exists() else None
        )
    )
    try:
        write_json(tmp / "summary.json", summary)
        trajectories.to_parquet(tmp / "trajectories.parquet", index=False)
        if options.write_report:
            from lupusim.report import render_study_report

            render_study_report(
                "lupusim — Sun et al. 2009 reproduced (mice and patients)",
                trajectories[
                    trajectories["group"].isin([*groups, *pilot, *projection, "access_soc"])
                ],
                summary,
                [*_published_points(), *_access_points(access_table)],
                tmp / "report.html",
                time_unit={
                    "access_calibration": ("days since the flare (ACCESS regimen)", 1.0),
                    "mouse": ("age (weeks)", 7.0),
                    "patients": ("months since infusion", 30.44),
                },
                log_scale=(
                    "urine_acr_mg_g",
                    "anti_dsdna_iu_ml",
                    "protein_24h_g",
                    "upcr_g_per_g",
                ),
                notes=summary["notes"],
            )
        timings["total"] = time.perf_counter() - t0
        manifest = build_manifest(
            "lupusim reproduce sun2009",
            options.seed,
            summary["settings"],
            {name: model_hash(get_preset(name).model) for name in ("mrl_lpr", "human")},
            {
                "summary": "summary.json",
                "trajectories": "trajectories.parquet",
                "report": "report.html" if options.write_report else "",
            },
            timings,
        )
        write_json(tmp / "manifest.json", manifest)
        out_dir.mkdir(parents=True, exist_ok=True)
        for f in tmp.iterdir():
            shutil.move(str(f), out_dir / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    agree = sum(1 for t in targets if t["agrees"])
    print(
        f"sun2009: {agree}/{len(targets)} targets agree; outputs in {out_dir} "
        f"({timings['total']:.1f} s)"
    )
    return summary
