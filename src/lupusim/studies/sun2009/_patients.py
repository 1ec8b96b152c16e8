"""Sun 2009, patient part: four refractory patients, one MSC infusion, 18 months,
then a 10-year projection with relapses (the follow-up the seed says is still due).

Published (../shared/science/README.md §1): ages 16, 17, 20, 23; three women, one man;
refractory after > 6 months of cyclophosphamide 0.75 g/m² monthly + prednisone
20 mg/day; SLEDAI > 8; 24-h protein > 1 g or creatinine > 1.5 mg/dL; no end-stage
renal disease; prednisone 20-30 mg, then 1×10⁶ donor BMMSC/kg once; afterwards two
lowered immunosuppression to low maintenance and two stopped it.

Assumptions (no source gives them), each stated where it is used:
* which patient was the man (P4); body weights (women 52 kg, man 62 kg); heights;
* disease history: lupus from 3 years before infusion, NIH cyclophosphamide monthly
  for the 9 months before infusion with prednisone 20 mg/day;
* after infusion: prednisone 25 mg/day for 1 month, then tapered; cyclophosphamide
  stopped; P1/P2 keep prednisone 5 mg/day, P3/P4 stop at 12 months;
* comparator ``pilot_is_only``: NIH quarterly cyclophosphamide 0.75 g/m² to month 24
  and prednisone 20 mg/day to month 6, then 10 mg/day;
* per-patient parameters: drawn from the human prior with the patient's demographics,
  meeting the published inclusion criteria at day 0 and (by default) conditioned on the
  published 18-month course (see ``draw_seed_patient``);
* projection: a relapse (24-h protein > 1 g after remission, monthly visits) is treated
  with prednisone 30 mg/day tapered to 5 mg over 6 months plus mycophenolate 2 g/day for
  2 years; with ``--reinfuse-on-relapse`` a further arm re-infuses MSC (with the same
  prednisone) instead;
* projection uncertainty: extrinsic flare triggers (Poisson, 0.5/year, inflammation
  burst ~ Exp(mean 1)) and the host-MSC relaxation rate varied (CV 50 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lupusim.engine import SimulationResult, simulate
from lupusim.model import Preset, get_preset
from lupusim.observe import (
    alive_matrix,
    approximate_sledai2k,
    first_crossing_times,
)
from lupusim.observe import sledai2k as visit_sledai2k
from lupusim.population import sample_parameters, set_parameter
from lupusim.treatments import (
    Dose,
    FlareTrigger,
    GlucocorticoidTaper,
    MSCInfusion,
    Mycophenolate,
    Prednisone,
    Regimen,
    TreatOnRelapse,
    nih_cyclophosphamide,
    poisson_flare_triggers,
)

HISTORY_START_DAY = -1095.0
IS_START_DAY = -270.0
PILOT_END_DAY = 548.0  # 18 months
PROJECTION_END_DAY = PILOT_END_DAY + 3652.5  # + 10 years
MSC_CELLS_PER_KG = 1.0e6
MSC_RECOVERY_CV = 0.5
REMISSION_PROTEIN_G = 0.5
RELAPSE_PROTEIN_G = 1.0
VISIT_EVERY_DAYS = 30.0
#: Relapse treatment in the projection (assumption, standard of care for a renal flare):
#: prednisone 0.5 mg/kg-like 30 mg/day tapered over 6 months to 5 mg/day, with
#: mycophenolate 2 g/day for 2 years (ALMS-style induction/maintenance).
RESCUE_PREDNISONE = (
    GlucocorticoidTaper(
        ((0.0, 30.0), (30.0, 20.0), (60.0, 15.0), (90.0, 10.0), (180.0, 5.0)), 365.0
    ),
)
RESCUE_THERAPY = (*RESCUE_PREDNISONE, Mycophenolate(0.0, 730.0, 2.0))

PATIENT_VARIABLES = (
    "protein_24h_g",
    "upcr_g_per_g",
    "creatinine_mg_dl",
    "egfr_ml_min_1_73m2",
    "albumin_g_l",
    "anti_dsdna_iu_ml",
    "c3_g_l",
    "treg_pct_cd4",
    "th17_pct_cd4",
    "host_msc_function",
    "donor_msc_cells",
    "prednisone_mg_day",
)
PROJECTION_VARIABLES = (
    "protein_24h_g",
    "egfr_ml_min_1_73m2",
    "anti_dsdna_iu_ml",
    "c3_g_l",
    "host_msc_function",
    "prednisone_mg_day",
)


@dataclass(frozen=True)
class PublishedPatient:
    """Demographics of one seed patient (Sun 2009) plus stated assumptions."""

    patient_id: str
    age_years: float
    female: bool
    weight_kg: float
    stops_immunosuppression: bool


SEED_PATIENTS = (
    PublishedPatient("P1", 16.0, True, 52.0, False),
    PublishedPatient("P2", 17.0, True, 52.0, False),
    PublishedPatient("P3", 20.0, True, 52.0, True),
    PublishedPatient("P4", 23.0, False, 62.0, True),
)


def history_regimen() -> tuple[Dose, ...]:
    """Refractory history: prednisone 10 mg/day from onset, then NIH CYC 0.75 g/m² monthly
    × 9 + prednisone 20 mg/day (the prior maintenance as in
    :func:`lupusim.population.refractory_history`)."""
    return (
        Prednisone(HISTORY_START_DAY, IS_START_DAY, 10.0),
        *nih_cyclophosphamide(IS_START_DAY, 0.75, monthly=9),
        Prednisone(IS_START_DAY, 0.0, 20.0),
    )


def pilot_msc_regimen(patient: PublishedPatient) -> Regimen:
    """Prednisone 25 mg, one infusion of 1e6 BMMSC/kg at day 0, then taper."""
    stop = 365.0 if patient.stops_immunosuppression else None
    taper = GlucocorticoidTaper(((30.0, 15.0), (90.0, 10.0), (180.0, 7.5), (270.0, 5.0)), stop)
    return Regimen(
        "pilot_msc",
        (
            *history_regimen(),
            Prednisone(0.0, 30.0, 25.0),
            taper,
            MSCInfusion(0.0, cells_per_kg=MSC_CELLS_PER_KG, source="bm_allogeneic"),
        ),
    )


def pilot_is_only_regimen() -> Regimen:
    """The same patients continuing immunosuppression without MSC."""
    quarterly = nih_cyclophosphamide(90.0, 0.75, monthly=1, quarterly=7)
    return Regimen(
        "pilot_is_only",
        (
            *history_regimen(),
            *quarterly,
            Prednisone(0.0, 180.0, 20.0),
            Prednisone(180.0, None, 10.0),
        ),
    )


def _grid(fine_until: float, end: float, fine_step: float, coarse_step: float) -> np.ndarray:
    history = np.arange(HISTORY_START_DAY, -30.0, 30.0)
    fine = np.arange(-30.0, fine_until, fine_step)
    coarse = np.arange(fine_until, end + 1e-9, coarse_step)
    return np.unique(np.concatenate([history, fine, coarse, [0.0, end]]))


@dataclass(frozen=True)
class PatientDraw:
    """The virtual patient chosen for one seed patient, and what the prior predicts.

    ``included`` candidates (drawn from the human prior with the patient's demographics)
    met the published inclusion criteria at day 0; of them, ``stable_msc`` /
    ``stable_is_only`` were in stable renal remission at 12 and 18 months under the
    pilot_msc / pilot_is_only regimens — the model's prediction for such a patient.
    """

    patient_id: str
    parameters: np.ndarray
    conditioned_on_course: bool
    included: int
    stable_msc: int
    stable_is_only: int


def _meets_inclusion(obs: dict[str, np.ndarray], ok: np.ndarray) -> np.ndarray:
    sledai = approximate_sledai2k(obs)
    return np.asarray(
        ok
        & (sledai > 8)
        & ((obs["protein_24h_g"] > 1.0) | (obs["creatinine_mg_dl"] > 1.5))
        & (obs["egfr_ml_min_1_73m2"] >= 15.0)
    )


def _stable_remission(obs: dict[str, np.ndarray], times: np.ndarray) -> np.ndarray:
    i0, i12, i18 = (int(np.searchsorted(times, d)) for d in (0.0, 365.0, PILOT_END_DAY))
    protein, sledai = obs["protein_24h_g"], approximate_sledai2k(obs)
    return np.asarray(
        (protein[:, i12] < REMISSION_PROTEIN_G)
        & (protein[:, i18] < REMISSION_PROTEIN_G)
        & (sledai[:, i12] < sledai[:, i0])
    )


def draw_seed_patient(
    patient: PublishedPatient,
    rng: np.random.Generator,
    condition_on_course: bool = True,
    included_target: int = 100,
    batch: int = 256,
    max_candidates: int = 20000,
    workers: int = 1,
) -> PatientDraw:
    """Draw candidates until ``included_target`` meet the inclusion criteria.

    Without conditioning, the patient is the first included candidate (a prior draw).
    With it, the patient is the first included candidate whose simulated course matches
    the published one (stable renal remission at 12 and 18 months after the infusion);
    that choice uses the seed's reported outcome, so outcomes of conditioned patients are
    not tests of the model — the prior-predictive counts are.
    """
    preset = get_preset("human")
    times = np.array([HISTORY_START_DAY, 0.0, 365.0, PILOT_END_DAY])
    msc, iso = pilot_msc_regimen(patient), pilot_is_only_regimen()
    chosen: np.ndarray | None = None
    first_included: np.ndarray | None = None
    included = stable_msc = stable_iso = tried = 0
    while included < included_target and tried < max_candidates:
        params = sample_parameters(preset, batch, rng)
        set_parameter(preset, params, "age_at_start_years", patient.age_years)  # at day 0
        set_parameter(preset, params, "female", 1.0 if patient.female else 0.0)
        set_parameter(preset, params, "body_weight_kg", patient.weight_kg)
        y0 = np.array([preset.initial_state(p) for p in params])
        tried += batch
        # Screen on the history alone (to day 0, where the MSC regimen's own doses begin),
        # then follow only the included candidates to 18 months: most candidates are not
        # included, and the day-0 state does not depend on what follows it.
        screen = simulate(preset.model, params, y0, [msc] * batch, times[:2], workers=workers)
        inc = _meets_inclusion({k: v[:, 1] for k, v in screen.observables().items()}, screen.ok)
        if not inc.any():
            continue
        res_m = simulate(
            preset.model, params[inc], y0[inc], [msc] * int(inc.sum()), times, workers=workers
        )
        params_inc, y0_inc = params[inc][res_m.ok], y0[inc][res_m.ok]
        obs_m = {k: v[res_m.ok] for k, v in res_m.observables().items()}
        if len(params_inc) == 0:
            continue
        res_i = simulate(
            preset.model, params_inc, y0_inc, [iso] * len(params_inc), times, workers=workers
        )
        good_m = _stable_remission(obs_m, times)
        good_i = _stable_remission(res_i.observables(), times)
        included += len(params_inc)
        stable_msc += int(good_m.sum())
        stable_iso += int(good_i.sum())
        if first_included is None:
            first_included = params_inc[0]
        if chosen is None and good_m.any():
            chosen = params_inc[int(np.argmax(good_m))]
    if first_included is None:
        raise RuntimeError(
            f"no virtual patient met the inclusion criteria for {patient.patient_id}"
        )
    use_condition = condition_on_course and chosen is not None
    return PatientDraw(
        patient.patient_id,
        chosen if use_condition and chosen is not None else first_included,
        use_condition,
        included,
        stable_msc,
        stable_iso,
    )


def flare_triggers(
    rng: np.random.Generator, start: float, end: float, preset: Preset | None = None
) -> tuple[FlareTrigger, ...]:
    """Poisson extrinsic flare triggers over [start, end) (``poisson_flare_triggers``), at
    the rate and mean burst size of ``preset`` (default: the human preset)."""
    values = (preset or get_preset("human")).values
    return poisson_flare_triggers(
        rng,
        start,
        end,
        values["flare_trigger_rate_per_year"].value,
        values["flare_trigger_mean_magnitude"].value,
    )


@dataclass(frozen=True)
class PatientRun:
    """Simulated patients of one arm, with sampled deaths and derived observables."""

    arm: str
    subject_ids: tuple[str, ...]
    patient_ids: tuple[str, ...]
    result: SimulationResult
    observables: dict[str, np.ndarray]
    alive: np.ndarray

    @property
    def times(self) -> np.ndarray:
        return self.result.times


def _run_arm(
    arm: str,
    subject_ids: list[str],
    patient_ids: list[str],
    params: np.ndarray,
    regimens: list[Regimen],
    times: np.ndarray,
    rng: np.random.Generator,
    workers: int,
    preset: Preset | None = None,
) -> PatientRun:
    preset = preset or get_preset("human")
    y0 = np.array([preset.initial_state(p) for p in params])
    res = simulate(
        preset.model,
        params,
        y0,
        regimens,
        times,
        workers=workers,
        progress=f"patients {arm}" if len(subject_ids) >= 20 else False,
    )
    obs = res.observables()
    # SLEDAI-2K scored by lupusim.clinical from the virtual visit table.
    obs["sledai2k"] = visit_sledai2k(obs, times, subject_ids)
    window = times >= 0.0
    death = np.full(len(subject_ids), np.inf)
    death_in_window = first_crossing_times(
        times[window],
        obs["cum_hazard_death"][:, window],
        rng.exponential(1.0, size=len(subject_ids)),
    )
    death[:] = death_in_window
    return PatientRun(
        arm, tuple(subject_ids), tuple(patient_ids), res, obs, alive_matrix(times, death)
    )


def rescue_policy() -> TreatOnRelapse:
    """Standard-of-care treatment of a renal relapse at a monthly visit (assumption)."""
    return TreatOnRelapse(
        RESCUE_THERAPY,
        "standard-of-care rescue on relapse",
        start_day=VISIT_EVERY_DAYS,
        check_every_days=VISIT_EVERY_DAYS,
        remission_protein_g=REMISSION_PROTEIN_G,
        relapse_protein_g=RELAPSE_PROTEIN_G,
    )


def run_pilot(
    patients: dict[str, np.ndarray], rng: np.random.Generator, workers: int = 1
) -> dict[str, PatientRun]:
    """The four nominal patients, with and without MSC, to 18 months + 10 years.

    No extrinsic flare triggers (the nominal course); relapses are treated as standard of
    care, as in the projection."""
    times = _grid(PILOT_END_DAY, PROJECTION_END_DAY, 1.0, 7.0)
    ids = [p.patient_id for p in SEED_PATIENTS]
    params = np.array([patients[i] for i in ids])
    return {
        "pilot_msc": _run_arm(
            "pilot_msc",
            ids,
            ids,
            params,
            [pilot_msc_regimen(p).plus(policies=(rescue_policy(),)) for p in SEED_PATIENTS],
            times,
            rng,
            workers,
        ),
        "pilot_is_only": _run_arm(
            "pilot_is_only",
            ids,
            ids,
            params,
            [pilot_is_only_regimen().plus(policies=(rescue_policy(),))] * len(ids),
            times,
            rng,
            workers,
        ),
    }


def run_projection(
    patients: dict[str, np.ndarray],
    replicates: int,
    rng: np.random.Generator,
    reinfuse_on_relapse: bool,
    workers: int = 1,
    preset: Preset | None = None,
) -> dict[str, PatientRun]:
    """Stochastic replicates per patient: MSC, MSC with re-infusion (option), IS only.

    ``preset`` (default: the human preset) supplies the process parameters (flare
    triggers); the patients' parameter vectors carry the model's."""
    preset = preset or get_preset("human")
    times = _grid(0.0, PROJECTION_END_DAY, 1.0, 30.0)
    j = preset.model.parameter_index("k_msc_recovery")
    sigma = float(np.sqrt(np.log1p(MSC_RECOVERY_CV**2)))
    rows, subj, pids, triggers = [], [], [], []
    for patient in SEED_PATIENTS:
        base = patients[patient.patient_id]
        for r in range(replicates):
            p = base.copy()
            p[j] = base[j] * float(np.exp(rng.normal(0.0, sigma)))
            rows.append(p)
            subj.append(f"{patient.patient_id}-r{r + 1:03d}")
            pids.append(patient.patient_id)
            triggers.append(flare_triggers(rng, 0.0, PROJECTION_END_DAY, preset))
    params = np.array(rows)
    by_id = {p.patient_id: p for p in SEED_PATIENTS}
    rescue = rescue_policy()
    arms: dict[str, list[Regimen]] = {
        "projection_msc": [
            pilot_msc_regimen(by_id[pid]).plus(*trig, policies=(rescue,))
            for pid, trig in zip(pids, triggers, strict=True)
        ],
        "projection_is_only": [
            pilot_is_only_regimen().plus(*trig, policies=(rescue,)) for trig in triggers
        ],
    }
    if reinfuse_on_relapse:
        reinfuse = TreatOnRelapse(
            (MSCInfusion(0.0, cells_per_kg=MSC_CELLS_PER_KG), *RESCUE_PREDNISONE),
            "re-infuse MSC (+ prednisone) on relapse",
            start_day=VISIT_EVERY_DAYS,
            check_every_days=VISIT_EVERY_DAYS,
            remission_protein_g=REMISSION_PROTEIN_G,
            relapse_protein_g=RELAPSE_PROTEIN_G,
        )
        arms["projection_msc_reinfuse"] = [
            pilot_msc_regimen(by_id[pid]).plus(*trig, policies=(reinfuse,))
            for pid, trig in zip(pids, triggers, strict=True)
        ]
    return {
        arm: _run_arm(arm, subj, pids, params, regs, times, rng, workers, preset)
        for arm, regs in arms.items()
    }


def relapse_table(run: PatientRun) -> pd.DataFrame:
    """Per subject: first remission day, first relapse day (monthly visits from day 30)."""
    visits = np.arange(VISIT_EVERY_DAYS, run.times[-1] + 1e-9, VISIT_EVERY_DAYS)
    idx = np.searchsorted(run.times, visits)
    idx = idx[idx < len(run.times)]
    protein = run.observables["protein_24h_g"][:, idx]
    alive = run.alive[:, idx] == 1.0
    vt = run.times[idx]
    rows = []
    for i, sid in enumerate(run.subject_ids):
        rem = np.flatnonzero((protein[i] < REMISSION_PROTEIN_G) & alive[i])
        first_rem = float(vt[rem[0]]) if len(rem) else np.nan
        relapse = np.nan
        if len(rem):
            later = np.flatnonzero((protein[i] > RELAPSE_PROTEIN_G) & alive[i] & (vt > first_rem))
            relapse = float(vt[later[0]]) if len(later) else np.nan
        rows.append(
            {
                "subject": sid,
                "patient": run.patient_ids[i],
                "first_remission_day": first_rem,
                "first_relapse_day": relapse,
            }
        )
    return pd.DataFrame(rows)


def patient_trajectories(
    runs: dict[str, PatientRun], variables: tuple[str, ...], from_day: float = -30.0
) -> pd.DataFrame:
    """Long-format trajectories (``time_days`` = days since the infusion)."""
    frames = []
    for arm, run in runs.items():
        keep = run.times >= from_day
        t = run.times[keep]
        n = len(run.subject_ids)
        series = {v: run.observables[v][:, keep] for v in (*variables, "sledai2k")}
        series["alive"] = run.alive[:, keep]
        for var, values in series.items():
            frames.append(
                pd.DataFrame(
                    {
                        "study": "patients",
                        "group": arm,
                        "subject": np.repeat(run.subject_ids, len(t)),
                        "time_days": np.tile(t, n),
                        "variable": var,
                        "value": values.reshape(-1),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


__all__ = [
    "PATIENT_VARIABLES",
    "PROJECTION_VARIABLES",
    "SEED_PATIENTS",
    "PatientDraw",
    "PatientRun",
    "PublishedPatient",
    "draw_seed_patient",
    "patient_trajectories",
    "relapse_table",
    "run_pilot",
    "run_projection",
]
