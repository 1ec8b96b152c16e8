"""Virtual patients at baseline: demographics, a disease history, and the state at day 0.

A candidate is drawn from the human model's parameter prior (:func:`sample_parameters`),
given an age, sex and weight (:class:`Demographics`), and simulated from disease-free
onset through a pre-trial history (:class:`DiseaseHistory`: years of disease, the
immunosuppression it was refractory to) to baseline, day 0. What comes out
(:class:`BaselineCohort`) is what a screening visit sees — the baseline observables and
SLEDAI-2K — plus the full model state at day 0, from which every trial arm starts, so
all arms share the same patients (paired counterfactuals).

Time convention: day 0 is baseline (first trial treatment); the history runs at
negative days; the model's ``age_at_start_years`` is the age at day 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from lupusim.engine import simulate
from lupusim.engine._simulate import Backend
from lupusim.model import Preset
from lupusim.observe import ObservationModel, approximate_sledai2k, observe_visits
from lupusim.population._sampling import sample_parameters
from lupusim.treatments import (
    Azathioprine,
    Dose,
    Hydroxychloroquine,
    Mycophenolate,
    Prednisone,
    Regimen,
    nih_cyclophosphamide,
)

DAYS_PER_MONTH = 365.25 / 12.0
#: Drugs a pre-trial refractory history can be simulated with.
REFRACTORY_DRUGS = (
    "cyclophosphamide",
    "mycophenolate",
    "azathioprine",
    "hydroxychloroquine",
    "glucocorticoid",
)
#: Baseline observables recorded for every candidate (plus sledai2k, age, sex, weight).
BASELINE_OBSERVABLES: tuple[str, ...] = (
    "protein_24h_g",
    "upcr_g_per_g",
    "creatinine_mg_dl",
    "egfr_ml_min_1_73m2",
    "albumin_g_l",
    "anti_dsdna_iu_ml",
    "c3_g_l",
    "c4_g_l",
    "platelets_1e9_l",
    "wbc_1e9_l",
    "urine_rbc_per_hpf",
    "urine_wbc_per_hpf",
    "renal_activity",
    "skin_activity",
    "joint_activity",
    "cns_activity",
    "inflammation",
    "host_msc_function",
    "prednisone_mg_day",
)


#: Read on the eve of baseline: the treatment a patient arrives with.
PRE_BASELINE_OBSERVABLES: frozenset[str] = frozenset({"prednisone_mg_day"})


@dataclass(frozen=True)
class Demographics:
    """Prior of age (years, at day 0), sex and body weight of candidates.

    Every value is an assumption (no source in ../shared/science gives a population
    distribution): SLE is mostly a disease of young women, so age ~ Normal(33, 11)
    truncated to [16, 70] years, 90 % women, weight log-normal around 62 kg (women) /
    75 kg (men) with CV 15 %. A target population (:mod:`lupusim.population`
    weighting) corrects age where its source reports it.
    """

    age_mean_years: float = 33.0
    age_sd_years: float = 11.0
    age_min_years: float = 16.0
    age_max_years: float = 70.0
    female_fraction: float = 0.9
    weight_kg_female: float = 62.0
    weight_kg_male: float = 75.0
    weight_cv: float = 0.15

    def sample(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``age_years``, ``female`` (1/0) and ``body_weight_kg`` for ``n`` candidates."""
        age = np.empty(n)
        todo = np.arange(n)
        while todo.size:  # truncated normal by rejection (acceptance > 90 % here)
            draw = rng.normal(self.age_mean_years, self.age_sd_years, size=todo.size)
            good = (draw >= self.age_min_years) & (draw <= self.age_max_years)
            age[todo[good]] = draw[good]
            todo = todo[~good]
        female = (rng.uniform(size=n) < self.female_fraction).astype(float)
        sigma = float(np.sqrt(np.log1p(self.weight_cv**2)))
        median = np.where(female == 1.0, self.weight_kg_female, self.weight_kg_male)
        weight = median * np.exp(rng.normal(0.0, sigma, size=n))
        return {"age_years": age, "female": female, "body_weight_kg": weight}


@dataclass(frozen=True)
class DiseaseHistory:
    """The course before baseline: disease from ``onset_days_before`` days before day 0
    (disease-free state then), with ``doses`` (negative days) given before day 0."""

    name: str
    doses: tuple[Dose, ...] = ()
    onset_days_before: float = 1095.0  # assumption: 3 years of lupus before baseline
    weight: float = 1.0  # relative probability of this history among a cohort's

    def regimen(self) -> Regimen:
        return Regimen(f"history: {self.name}", self.doses)


def refractory_history(
    drug: str, months: float, onset_days_before: float = 1095.0
) -> DiseaseHistory:
    """``months`` of ``drug`` ending at day 0, with prednisone 20 mg/day alongside,
    after standard therapy from disease onset.

    cyclophosphamide: NIH monthly pulses of 0.75 g/m² with prednisone 20 mg/day — the
    regimen the seed patients were refractory to (Sun 2009, ../shared/science §1).
    The other drugs are assumptions (usual doses, no source in ../shared/science):
    mycophenolate 2 g/day (ALMS targeted 2-3 g/day), azathioprine 2 mg/kg/day,
    hydroxychloroquine 400 mg/day, each with prednisone 20 mg/day as for
    cyclophosphamide; glucocorticoid alone is prednisone 20 mg/day.

    Before that course, from onset: ``_refractory_prior_therapy`` (refractory patients
    were treated for most of their disease — Wang 2014 Arthritis Res Ther 16:R79 Table 1
    lists earlier courses of 10-50 months of cyclophosphamide, mycophenolate or
    leflunomide in patients with 15-120 months of disease — not left untreated for years).
    """
    days = months * DAYS_PER_MONTH
    if days >= onset_days_before:
        raise ValueError(
            f"refractory history of {months:g} months does not fit in the "
            f"{onset_days_before / 365.25:g} years of disease before baseline"
        )
    start = -days
    steroid = Prednisone(start, 0.0, 20.0)
    prior = _refractory_prior_therapy(-onset_days_before, start)
    if drug == "cyclophosphamide":
        n_pulses = max(1, int(np.floor(months + 1e-9)))
        doses: tuple[Dose, ...] = (*nih_cyclophosphamide(start, 0.75, monthly=n_pulses), steroid)
    elif drug == "mycophenolate":
        doses = (Mycophenolate(start, 0.0, 2.0), steroid)
    elif drug == "azathioprine":
        doses = (Azathioprine(start, 0.0, 2.0), steroid)
    elif drug == "hydroxychloroquine":
        doses = (Hydroxychloroquine(start, 0.0, 400.0), steroid)
    elif drug == "glucocorticoid":
        doses = (steroid,)
    else:
        raise ValueError(
            f"no refractory history can be simulated for {drug!r} (not in the model); "
            f"known: {', '.join(REFRACTORY_DRUGS)}"
        )
    return DiseaseHistory(f"{months:g} months of {drug}", (*prior, *doses), onset_days_before)


def _refractory_prior_therapy(start: float, stop: float) -> tuple[Dose, ...]:
    """Prednisone 10 mg/day from ``start`` to ``stop`` (days).

    assumption: glucocorticoid maintenance at the ≤ 10 mg/day that standard tapers reach
    (science README §5) from onset until the refractory course. Earlier immunosuppressant
    courses are not simulated: with mycophenolate 2 g/day from onset, only about 1 % of
    virtual candidates were still active at baseline (protein > 1 g/day; measured with
    the control-arm fit), against about 4 % with prednisone alone — the model has too
    little persistent activity under long therapy, a limitation stated in docs/model.md.
    """
    if stop <= start:
        return ()
    return (Prednisone(start, stop, 10.0),)


#: Trial-entrant histories (``trial_entrant_histories``); every number cited or stated.
#: SLE duration at entry: BLISS-LN median 3.3 years (Front Immunol 2022;13:999704 Table 2);
#: assumption: three equally likely durations spanning its spread.
ENTRANT_DURATION_YEARS: tuple[float, ...] = (1.0, 3.3, 8.0)
#: On prednisone at entry: 90 %, median 16 mg/day (active class III/IV LN, n = 47;
#: PMC3674621 Table 1); assumption: started 4 weeks before baseline, at the flare.
ENTRANT_PREDNISONE_SHARE = 0.90
ENTRANT_PREDNISONE_MG_DAY = 16.0
ENTRANT_PREDNISONE_DAYS = 28.0
#: Relapsing (previously treated) nephritis: 33.6 % of BLISS-LN (148 vs 75 newly diagnosed
#: vs relapsed per arm; NDT 2023;38:2733). Assumption: their earlier induction was
#: mycophenolate 2 g/day with prednisone 10 mg/day for 12 months, ending 12 months before
#: baseline; only entrants with ≥ 3 years of disease can have had it.
ENTRANT_RELAPSED_SHARE = 0.336


def trial_entrant_histories() -> list[DiseaseHistory]:
    """Weighted pre-trial histories of lupus-nephritis trial entrants (no refractory
    requirement): disease duration, earlier induction (relapsing nephritis) and
    prednisone at entry, as the module constants state with their sources."""
    out: list[DiseaseHistory] = []
    long_share = sum(1 for y in ENTRANT_DURATION_YEARS if y >= 3.0) / len(ENTRANT_DURATION_YEARS)
    for years in ENTRANT_DURATION_YEARS:
        onset = years * 365.25
        courses: list[tuple[str, tuple[Dose, ...], float]] = [("new", (), 1.0)]
        if years >= 3.0:
            # relapsed share over all entrants = share of long durations × p
            p = min(1.0, ENTRANT_RELAPSED_SHARE / long_share)
            induction = (Mycophenolate(-730.5, -365.25, 2.0), Prednisone(-730.5, -365.25, 10.0))
            courses = [("new", (), 1.0 - p), ("relapsing", induction, p)]
        for label, prior, w in courses:
            for on_pred in (True, False):
                pw = ENTRANT_PREDNISONE_SHARE if on_pred else 1.0 - ENTRANT_PREDNISONE_SHARE
                doses = prior
                if on_pred:
                    doses = (
                        *prior,
                        Prednisone(-ENTRANT_PREDNISONE_DAYS, 0.0, ENTRANT_PREDNISONE_MG_DAY),
                    )
                name = f"{years:g} y lupus, {label} nephritis, " + (
                    f"prednisone {ENTRANT_PREDNISONE_MG_DAY:g} mg/day"
                    if on_pred
                    else "no prednisone"
                )
                weight = w * pw / len(ENTRANT_DURATION_YEARS)
                out.append(DiseaseHistory(name, doses, onset, weight))
    return out


def _screening_visit(
    expected: dict[str, np.ndarray],
    demo: dict[str, np.ndarray],
    ok: np.ndarray,
    observation: ObservationModel,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Baseline values as measured at a screening visit (day 0), SLEDAI-2K scored by
    :mod:`lupusim.clinical`; failed candidates keep NaN."""
    from lupusim.clinical import sledai

    n = len(ok)
    out = {k: np.full(n, np.nan) for k in (*expected, "sledai2k")}
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return out
    obs = {k: v[idx, None] for k, v in expected.items()}
    table = observe_visits(
        obs,
        np.array([0.0]),
        [f"c{i}" for i in idx],
        [0.0],
        rng,
        replace(observation, visit_window_days=0.0),
        age_years=demo["age_years"][idx],
        female=demo["female"][idx] == 1.0,
    )
    for k in expected:
        out[k][idx] = table[k].to_numpy(dtype=float) if k in table.columns else expected[k][idx]
    out["sledai2k"][idx] = np.asarray(sledai(table), dtype=float)
    return out


@dataclass(frozen=True)
class BaselineCohort:
    """Candidates at day 0.

    ``parameters`` ``(N, P)`` and ``state`` ``(N, S)`` (the model state at day 0);
    ``baseline`` maps names to ``(N,)`` arrays: :data:`BASELINE_OBSERVABLES`,
    ``sledai2k`` (points), ``age_years``, ``female``, ``body_weight_kg``;
    ``history`` names each candidate's pre-trial history; ``ok`` marks successful
    integration and ``alive`` survival to day 0 (deaths sampled from the model's
    cumulative hazard). ``candidate_index`` numbers candidates in order of drawing.
    """

    parameters: np.ndarray
    state: np.ndarray
    baseline: dict[str, np.ndarray]
    history: np.ndarray
    ok: np.ndarray
    alive: np.ndarray
    candidate_index: np.ndarray
    parameter_names: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.parameters.shape[0])

    def subset(self, index: np.ndarray) -> BaselineCohort:
        """The candidates at ``index`` (an integer array or boolean mask)."""
        return BaselineCohort(
            self.parameters[index],
            self.state[index],
            {k: v[index] for k, v in self.baseline.items()},
            self.history[index],
            self.ok[index],
            self.alive[index],
            self.candidate_index[index],
            self.parameter_names,
        )

    def frame(self) -> pd.DataFrame:
        """One row per candidate: index, history, status and baseline values."""
        return pd.DataFrame(
            {
                "candidate_index": self.candidate_index,
                "history": self.history,
                "ok": self.ok,
                "alive_at_baseline": self.alive,
                **self.baseline,
            }
        )

    @staticmethod
    def concat(parts: Sequence[BaselineCohort]) -> BaselineCohort:
        first = parts[0]
        return BaselineCohort(
            np.concatenate([p.parameters for p in parts]),
            np.concatenate([p.state for p in parts]),
            {k: np.concatenate([p.baseline[k] for p in parts]) for k in first.baseline},
            np.concatenate([p.history for p in parts]),
            np.concatenate([p.ok for p in parts]),
            np.concatenate([p.alive for p in parts]),
            np.concatenate([p.candidate_index for p in parts]),
            first.parameter_names,
        )


def simulate_baseline(
    preset: Preset,
    n: int,
    rng: np.random.Generator,
    histories: Sequence[DiseaseHistory],
    *,
    demographics: Demographics | None = None,
    first_index: int = 0,
    workers: int = 1,
    backend: Backend = "lsoda",
    observation: ObservationModel | None = None,
) -> BaselineCohort:
    """Draw ``n`` candidates and simulate each through one of ``histories`` (chosen with
    probability proportional to their ``weight`` — e.g. equally between cyclophosphamide-
    and mycophenolate-refractory) to day 0.

    With ``observation`` the baseline values are those of a screening visit at day 0
    measured through that observation model (laboratory noise, descriptor
    probabilities) and SLEDAI-2K is scored from it by :func:`lupusim.clinical.sledai`,
    as a site would screen; without it they are the model's expected values.
    """
    if not histories:
        raise ValueError("at least one disease history is needed")
    demo = (demographics or Demographics()).sample(n, rng)
    params = sample_parameters(preset, n, rng)
    params[:, preset.model.parameter_index("female")] = demo["female"]
    params[:, preset.model.parameter_index("age_at_start_years")] = demo["age_years"]
    params[:, preset.model.parameter_index("body_weight_kg")] = demo["body_weight_kg"]
    weights = np.array([h.weight for h in histories], dtype=float)
    if np.all(weights == weights[0]):
        which = rng.integers(0, len(histories), size=n)
    else:
        which = rng.choice(len(histories), size=n, p=weights / weights.sum())
    death_threshold = rng.exponential(1.0, size=n)
    state = np.full((n, len(preset.model.states)), np.nan)
    ok = np.zeros(n, dtype=bool)
    at_zero: dict[str, np.ndarray] = {k: np.full(n, np.nan) for k in BASELINE_OBSERVABLES}
    died = np.zeros(n, dtype=bool)
    for h, history in enumerate(histories):
        sel = np.flatnonzero(which == h)
        if sel.size == 0:
            continue
        # day -1 gives the treatment on the eve of baseline (histories stop at day 0)
        times = np.array([-history.onset_days_before, -1.0, 0.0])
        y0 = np.array([preset.initial_state(p) for p in params[sel]])
        res = simulate(
            preset.model,
            params[sel],
            y0,
            [history.regimen()] * sel.size,
            times,
            workers=workers,
            backend=backend,
        )
        obs = res.observables()
        state[sel] = res.states[:, -1, :]
        ok[sel] = res.ok & np.all(np.isfinite(res.states[:, -1, :]), axis=1)
        hazard = obs["cum_hazard_death"][:, -1] - obs["cum_hazard_death"][:, 0]
        died[sel] = hazard >= death_threshold[sel]
        for k in BASELINE_OBSERVABLES:
            at_zero[k][sel] = obs[k][:, -2 if k in PRE_BASELINE_OBSERVABLES else -1]
    if observation is None:
        baseline = dict(at_zero)
        baseline["sledai2k"] = approximate_sledai2k(at_zero)
    else:
        baseline = _screening_visit(at_zero, demo, ok, observation, rng)
    baseline.update(demo)
    return BaselineCohort(
        parameters=params,
        state=state,
        baseline=baseline,
        history=np.array([histories[i].name for i in which], dtype=object),
        ok=ok,
        alive=~died & ok,
        candidate_index=np.arange(first_index, first_index + n),
        parameter_names=tuple(preset.model.parameter_names),
    )
