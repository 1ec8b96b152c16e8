#!/usr/bin/env python
"""Predict the held-out trials (../shared/science/HELD_OUT.md) with the installed model.

Runs the shipped designs of the held-out trials (examples/trials/) on fresh virtual
patients with the human preset as installed, computes each published outcome with the
same measures the calibration uses (lupusim.calibrate._measures, on the trial's visit and
score tables), and writes docs/predictions.md: published value, its 95 % interval where
a size is known, the prediction with its Monte Carlo SE, and whether the interval holds
it. With ``--draws K`` (default 20) each outcome is also predicted under K parameter sets
of the installed posterior (``lupusim calibrate posterior``), on ``--draw-subjects``
patients each (the same patients for every draw), and the 5-95 % range across draws is
printed as the model interval: what the calibration's parameter uncertainty leaves open.
Nothing here feeds back into a fit: the published values below are read only to be
printed beside the predictions.

    python scripts/heldout_predictions.py [--subjects N] [--seed S] [--draws K]
        [--draw-subjects M] [--out docs/predictions.md]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import TypeAdapter

from lupusim.calibrate._measures import ArmTables, Estimate, estimate
from lupusim.calibrate._objective import simulate_arms
from lupusim.calibrate._spec import Measure
from lupusim.calibrate._targets import wilson_interval
from lupusim.model import Preset, get_preset
from lupusim.model._posterior import check_summary
from lupusim.model._presets import installed_human_posterior
from lupusim.trial._protocol import load_protocol

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "trials"
MEASURE: TypeAdapter[Measure] = TypeAdapter(Measure)


@dataclass(frozen=True)
class Outcome:
    """One published held-out outcome and how lupusim computes it."""

    trial: str
    protocol: str
    arm: str
    outcome: str
    measure: dict[str, object]
    published: float
    n: int | None
    source: str
    definition: str


def _share(instrument: str, week: float, values: list[str]) -> dict[str, object]:
    return {"kind": "proportion_at_week", "instrument": instrument, "week": week, "values": values}


def _ever(instrument: str, week: float, values: list[str]) -> dict[str, object]:
    return {"kind": "ever_by_week", "instrument": instrument, "week": week, "values": values}


ALIVE_AT_260: dict[str, object] = {
    "kind": "share_meeting",
    "conditions": [{"column": "protein_24h_g", "op": ">=", "value": 0.0, "weeks": [260]}],
}
ALMS_SRC = "Appel 2009 J Am Soc Nephrol 20:1103 (as summarised at pathway.md/studies/alms)"
DENG_SRC = "Deng 2017 Ann Rheum Dis 76:1436 (abstract and Table 2)"
WANG_SRC = "Wang 2018 Stem Cell Reports 10:933 (abstract, PMID 29478901)"
ELNT_SRC = "Houssiau 2002 Arthritis Rheum 46:2121 (abstract)"

OUTCOMES: tuple[Outcome, ...] = (
    Outcome(
        "ALMS",
        "alms",
        "mycophenolate",
        "renal response, week 24",
        _share("renal_alms", 24, ["complete", "partial"]),
        0.562,
        185,
        ALMS_SRC,
        "ALMS rule (lupusim.clinical renal_alms)",
    ),
    Outcome(
        "ALMS",
        "alms",
        "iv_cyclophosphamide",
        "renal response, week 24",
        _share("renal_alms", 24, ["complete", "partial"]),
        0.530,
        185,
        ALMS_SRC,
        "ALMS rule (lupusim.clinical renal_alms)",
    ),
    Outcome(
        "Deng 2017",
        "deng2017",
        "uc_msc",
        "remission (complete + partial), 6 months",
        _share("renal_deng_2017", 26, ["complete", "partial"]),
        9 / 12,
        12,
        DENG_SRC,
        "Deng 2017 rule (lupusim.clinical renal_deng_2017)",
    ),
    Outcome(
        "Deng 2017",
        "deng2017",
        "placebo",
        "remission (complete + partial), 6 months",
        _share("renal_deng_2017", 26, ["complete", "partial"]),
        5 / 6,
        6,
        DENG_SRC,
        "Deng 2017 rule (lupusim.clinical renal_deng_2017)",
    ),
    Outcome(
        "Deng 2017",
        "deng2017",
        "uc_msc",
        "complete remission, 6 months",
        _share("renal_kdigo", 26, ["complete"]),
        5 / 12,
        12,
        DENG_SRC,
        "KDIGO complete renal response at week 26 (the Deng 2017 rule in "
        "lupusim.clinical is binary remission; its complete level is not specified)",
    ),
    Outcome(
        "Deng 2017",
        "deng2017",
        "placebo",
        "complete remission, 6 months",
        _share("renal_kdigo", 26, ["complete"]),
        3 / 6,
        6,
        DENG_SRC,
        "as above",
    ),
    Outcome(
        "Wang 2018",
        "long_term_msc",
        "single_infusion",
        "overall survival, 5 years",
        ALIVE_AT_260,
        68 / 81,
        81,
        WANG_SRC,
        "alive (measured) at the week-260 visit",
    ),
    Outcome(
        "Wang 2018",
        "long_term_msc",
        "reinfusion_on_relapse",
        "overall survival, 5 years",
        ALIVE_AT_260,
        68 / 81,
        81,
        WANG_SRC,
        "alive (measured) at the week-260 visit; the cohort was re-infused on relapse",
    ),
    Outcome(
        "Wang 2018",
        "long_term_msc",
        "reinfusion_on_relapse",
        "complete remission, 5 years",
        _share("renal_kdigo", 260, ["complete"]),
        22 / 81,
        81,
        WANG_SRC,
        "KDIGO complete renal response at week 260 (the paper's 'complete clinical "
        "remission' is not in lupusim.clinical: a renal reading of it)",
    ),
    Outcome(
        "ELNT",
        "elnt",
        "low_dose",
        "renal flare by ~41 months",
        _ever("renal_flare_lnrv", 180, ["Y"]),
        0.27,
        45,
        ELNT_SRC,
        "LN-RV renal flare rule (lupusim.clinical renal_flare_lnrv) at any visit to week "
        "180; assumption: n = 45 per arm (90 randomised 1:1)",
    ),
    Outcome(
        "ELNT",
        "elnt",
        "high_dose",
        "renal flare by ~41 months",
        _ever("renal_flare_lnrv", 180, ["Y"]),
        0.29,
        45,
        ELNT_SRC,
        "as above",
    ),
    Outcome(
        "ELNT",
        "elnt",
        "low_dose",
        "renal remission by ~41 months",
        _ever("renal_kdigo", 180, ["complete"]),
        0.71,
        45,
        ELNT_SRC,
        "KDIGO complete renal response at any visit to week 180 (the trial's own "
        "remission rule is not in lupusim.clinical)",
    ),
    Outcome(
        "ELNT",
        "elnt",
        "high_dose",
        "renal remission by ~41 months",
        _ever("renal_kdigo", 180, ["complete"]),
        0.54,
        45,
        ELNT_SRC,
        "as above",
    ),
)


def _fmt(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{x:.3g}"


def _simulate_all(
    preset: Preset, subjects: int, seed: int, workers: int
) -> dict[str, Mapping[str, ArmTables]]:
    return {
        name: simulate_arms(
            load_protocol(EXAMPLES / f"{name}.yaml"),
            preset,
            subjects=subjects,
            seed=seed,
            workers=workers,
        )
        for name in dict.fromkeys(o.protocol for o in OUTCOMES)
    }


def _estimate(o: Outcome, tables: Mapping[str, Mapping[str, ArmTables]]) -> Estimate:
    return estimate(MEASURE.validate_python(o.measure), {o.arm: 1.0}, tables[o.protocol])


def model_intervals(
    preset: Preset, draws: int, subjects: int, seed: int, workers: int
) -> tuple[list[tuple[float, float]], int]:
    """5-95 % range of each outcome across the first ``draws`` parameter sets of the
    installed posterior (same virtual patients for every set), and the sets used."""
    posterior = installed_human_posterior()
    if posterior is None or draws <= 0:
        return [(math.nan, math.nan)] * len(OUTCOMES), 0
    sets = posterior["draws"][:draws]
    per_set = []  # one row per parameter set, one column per outcome
    for i, parameters in enumerate(sets):
        tables = _simulate_all(preset.with_numbers(parameters), subjects, seed, workers)
        per_set.append([_estimate(o, tables).value for o in OUTCOMES])
        print(f"posterior draw {i + 1}/{len(sets)}: simulated", flush=True)
    lo = np.nanquantile(per_set, 0.05, axis=0)
    hi = np.nanquantile(per_set, 0.95, axis=0)
    return [(float(a), float(b)) for a, b in zip(lo, hi, strict=True)], len(sets)


def _posterior_check() -> str | None:
    posterior = installed_human_posterior()
    return check_summary(posterior.get("check")) if posterior is not None else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=400)
    parser.add_argument("--seed", type=int, default=9001)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--draw-subjects", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "predictions.md")
    args = parser.parse_args()
    check = _posterior_check()
    preset = get_preset("human")
    start = time.perf_counter()
    tables = _simulate_all(preset, args.subjects, args.seed, args.workers)
    print("installed fit: simulated", flush=True)
    intervals, n_sets = model_intervals(
        preset, args.draws, args.draw_subjects, args.seed, args.workers
    )
    rows = []
    within = 0
    misses: list[str] = []
    for o, (mlo, mhi) in zip(OUTCOMES, intervals, strict=True):
        est = _estimate(o, tables)
        lo, hi = wilson_interval(o.published, o.n) if o.n else (math.nan, math.nan)
        inside = math.isfinite(est.value) and lo <= est.value <= hi
        within += inside
        if not inside and math.isfinite(est.value):
            side = "above" if est.value > hi else "below"
            misses.append(f"{o.trial} {o.arm} {o.outcome} ({_fmt(est.value)}, {side})")
        rows.append(
            f"| {o.trial} | {o.arm} | {o.outcome} | {_fmt(o.published)} (n {o.n}) | "
            f"{_fmt(lo)}–{_fmt(hi)} | {_fmt(est.value)} ± {_fmt(est.mc_se)} | "
            f"{_fmt(mlo)}–{_fmt(mhi)} | {'yes' if inside else '**no**'} | "
            f"{o.definition} | {o.source} |"
        )
    seconds = time.perf_counter() - start
    provenance = preset.values["b_activation_max"].provenance
    fitted = getattr(provenance, "targets", ())
    calibration = f"`{getattr(provenance, 'script', provenance)}`, fitted to {len(fitted)} rows"
    text = "\n".join(
        [
            "# Predictions of held-out trials",
            "",
            "The trials listed in ../shared/science/HELD_OUT.md are never used to fit lupusim. "
            "Their designs are shipped (`examples/trials/`) and run here on fresh virtual "
            "patients with the installed human model; each published outcome is computed on "
            "the trial's visit and score tables with the same measures as the calibration "
            "targets. The interval is the Wilson 95 % interval of the published proportion at "
            "the arm's size: it says how far a real rerun of the trial could land, and *within* "
            "says whether the prediction is inside it. Written by "
            "`python scripts/heldout_predictions.py` "
            f"({args.subjects} virtual patients per protocol, seed {args.seed}, "
            f"{seconds:.0f} s; model calibration: {calibration}).",
            "",
            "*Model 90 %* is the 5-95 % range of the prediction across "
            f"{n_sets} parameter sets drawn from the installed posterior (`lupusim calibrate "
            f"posterior`, a Laplace approximation; {args.draw_subjects} virtual patients per "
            "protocol, the same for every set, so the range also holds that many patients' "
            "sampling noise): how much the calibration's parameter uncertainty leaves open. "
            "*within* is judged on the installed fit's prediction alone."
            + (f" Quality of the posterior approximation: {check}." if check else ""),
            "",
            f"**{within} of {len(OUTCOMES)}** predictions fall within the published interval."
            + (f" Outside: {'; '.join(misses)}." if misses else ""),
            "",
            "| trial | arm | outcome | published | 95 % interval | predicted ± MC SE | model 90 % "
            "| within | how lupusim computes it | source |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Not run: Feldman 2015's serious-infection rate in lupus nephritis (23.9 per 100 "
            "person-years, a prevalent US Medicaid cohort, PMID 25772621) has no shipped "
            "protocol of a comparable population; the Euro-Lupus 10-year outcomes (Houssiau "
            "2010) need a 10-year design. Designs and reading rules are assumptions stated in "
            "the protocol files.",
            "",
        ]
    )
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
