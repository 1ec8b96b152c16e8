"""One chunk of a virtual trial: every arm on the same subjects, observed and scored.

For each arm the chunk's subjects are simulated from their baseline state (day 0) with
the arm's regimen plus the subject's own background flare triggers; deaths, serious
infections and end-stage kidney disease are sampled from the model's hazards with the
subject's own random numbers, so that arms differ only by treatment (paired
counterfactuals with common random numbers). Trajectories become visit tables through
:func:`lupusim.observe.observe_visits` (laboratory noise, descriptor probabilities,
visit windows) and are scored by :func:`lupusim.clinical.score_visits` — the code used
for real trial data. Their numbers are checked for finiteness and the *possible* ranges
only (:data:`SIMULATED_RANGES`): a physiologically implausible value of a virtual patient
is a model output to look at, not a typing error to refuse. Endpoints are derived from
the scores and events.

Random numbers depend only on the run seed, the subject's number and the chunk's
number, never on the process that runs the chunk: local and Ray runs agree exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from lupusim.clinical import RANGES, score_visits
from lupusim.engine import SimulationResult, simulate
from lupusim.engine._events import RateChange
from lupusim.engine._simulate import Backend
from lupusim.model import Preset, get_preset
from lupusim.observe import (
    ObservationModel,
    approximate_sledai2k,
    first_crossing_times,
    observe_visits,
)
from lupusim.treatments import Regimen, poisson_flare_triggers
from lupusim.trial._protocol import (
    DAYS_PER_WEEK,
    CumulativeGlucocorticoid,
    InstrumentAtWeek,
    Protocol,
    RatePer100PY,
    TimeToEvent,
)

DAYS_PER_YEAR = 365.25
#: The range table for simulated visit tables: finite and possible, not plausibility.
SIMULATED_RANGES = RANGES.possible_only()
#: End-stage kidney disease: eGFR below 15 mL/min/1.73 m² (KDIGO stage G5). The model has
#: no dialysis; the first output time below the threshold is the event (assumption).
ESKD_EGFR_ML_MIN = 15.0
#: SELENA Flare Index values that count as a flare (lupusim.clinical ``flare_sfi``).
FLARE_VALUES = ("severe", "mild_moderate")
#: Most serious infections sampled per subject and arm.
MAX_INFECTIONS = 200
TRAJECTORY_VARIABLES: tuple[str, ...] = (
    "protein_24h_g",
    "egfr_ml_min_1_73m2",
    "anti_dsdna_iu_ml",
    "c3_g_l",
    "host_msc_function",
    "prednisone_mg_day",
    "sledai2k",
)


@dataclass(frozen=True)
class RunSettings:
    """How a trial is simulated and observed (part of the run's identity)."""

    seed: int
    solver: Backend = "rodas5p"
    grid_step_days: float = 7.0
    background_flares: bool = True
    observation: ObservationModel = field(default_factory=ObservationModel)
    trajectory_step_days: float = 28.0
    max_trajectory_subjects: int = 2000

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "solver": self.solver,
            "grid_step_days": self.grid_step_days,
            "background_flares": self.background_flares,
            "observation": {
                "lab_cv": dict(self.observation.lab_cv),
                "descriptor_scale": dict(self.observation.descriptor_scale),
                "visit_window_days": "the protocol's visits.window_days",
            },
            "trajectory_step_days": self.trajectory_step_days,
            "max_trajectory_subjects": self.max_trajectory_subjects,
        }


@dataclass(frozen=True)
class Chunk:
    """Subjects ``numbers`` (positions in the trial population) with their baseline."""

    index: int
    numbers: np.ndarray
    subject_ids: tuple[str, ...]
    parameters: np.ndarray
    state: np.ndarray
    age_years: np.ndarray
    female: np.ndarray


@dataclass
class ChunkResult:
    """Tables of one chunk (all arms); written to disk, then merged."""

    index: int
    outcomes: pd.DataFrame
    status: pd.DataFrame
    visits: pd.DataFrame
    scores: pd.DataFrame
    trajectories: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "outcomes": self.outcomes,
            "status": self.status,
            "visits": self.visits,
            "scores": self.scores,
            "trajectories": self.trajectories,
        }


@dataclass(frozen=True)
class _SubjectDraws:
    triggers: list[tuple[Any, ...]]
    death_threshold: np.ndarray
    infection_levels: np.ndarray  # (n, MAX_INFECTIONS) cumulative Exp(1) sums
    discontinuation_day: np.ndarray  # inf: stays in the study


def _discontinuation_days(protocol: Protocol, seed: int, numbers: np.ndarray) -> np.ndarray:
    """Day each subject leaves the study (own stream, so other draws do not move)."""
    rate = protocol.discontinuation.per_year if protocol.discontinuation else 0.0
    if rate <= 0:
        return np.full(len(numbers), np.inf)
    return np.array(
        [np.random.default_rng([seed, 4, int(k)]).exponential(365.25 / rate) for k in numbers]
    )


def _subject_draws(
    settings: RunSettings,
    numbers: np.ndarray,
    end_day: float,
    preset: Preset,
    protocol: Protocol,
) -> _SubjectDraws:
    rate = preset.values["flare_trigger_rate_per_year"].value
    magnitude = preset.values["flare_trigger_mean_magnitude"].value
    triggers: list[tuple[Any, ...]] = []
    death = np.empty(len(numbers))
    levels = np.empty((len(numbers), MAX_INFECTIONS))
    for k, number in enumerate(numbers):
        rng = np.random.default_rng([settings.seed, 2, int(number)])
        death[k] = rng.exponential(1.0)
        levels[k] = np.cumsum(rng.exponential(1.0, size=MAX_INFECTIONS))
        triggers.append(
            poisson_flare_triggers(rng, 0.0, end_day, rate, magnitude)
            if settings.background_flares
            else ()
        )
    return _SubjectDraws(
        triggers, death, levels, _discontinuation_days(protocol, settings.seed, numbers)
    )


def output_grid(protocol: Protocol, step_days: float) -> np.ndarray:
    end = protocol.follow_up_weeks * DAYS_PER_WEEK
    visits = [w * DAYS_PER_WEEK for w in protocol.visit_weeks()]
    return np.unique(np.concatenate([np.arange(0.0, end, step_days), visits, [end]]))


def _recurrent_times(times: np.ndarray, hazard: np.ndarray, levels: np.ndarray) -> list[np.ndarray]:
    """Event times of a recurrent process per subject by time rescaling."""
    ch = hazard - hazard[:, :1]
    out: list[np.ndarray] = []
    for row, lv in zip(ch, levels, strict=True):
        if not np.all(np.isfinite(row)):
            out.append(np.array([]))
            continue
        lv = lv[lv <= row[-1]]
        k = np.searchsorted(row, lv, side="left")
        k = np.clip(k, 1, len(row) - 1)
        lo, hi = row[k - 1], row[k]
        frac = np.where(hi > lo, (lv - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)
        out.append(times[k - 1] + frac * (times[k] - times[k - 1]))
    return out


def cumulative_prednisone_g(
    events: Sequence[Any], until_day: float, input_name: str = "prednisone_mg_day"
) -> float:
    """Prednisone-equivalent grams given over ``[0, until_day]`` from the applied events
    (scheduled doses and those added by relapse rules): the input is piecewise constant."""
    mg = 0.0
    for ev in events:
        if isinstance(ev, RateChange) and ev.input == input_name:
            start = max(ev.time_days, 0.0)
            mg += ev.delta * max(0.0, until_day - start)
    return round(mg / 1000.0, 9)  # grams; rounding drops floating-point dust


def _first_eskd(times: np.ndarray, egfr: np.ndarray) -> np.ndarray:
    below = egfr < ESKD_EGFR_ML_MIN
    first = np.where(below.any(axis=1), times[np.argmax(below, axis=1)], np.inf)
    return np.where(np.isfinite(egfr).all(axis=1), first, np.nan)


def _visit_label(week: float) -> str:
    return f"week {week:g}"


def run_chunk(
    protocol: Protocol,
    chunk: Chunk,
    settings: RunSettings,
    workers: int = 1,
    preset: Preset | None = None,
) -> ChunkResult:
    """Simulate, observe and score every arm for the chunk's subjects.

    The chunk's parameters carry the model values; ``preset`` (default: the calibrated
    human preset) supplies the process parameters (background flare triggers)."""
    if preset is None:
        preset = get_preset("human")
    model = preset.model
    end_day = protocol.follow_up_weeks * DAYS_PER_WEEK
    times = output_grid(protocol, settings.grid_step_days)
    visit_weeks = protocol.visit_weeks()
    visit_days = [w * DAYS_PER_WEEK for w in visit_weeks]
    labels = [_visit_label(w) for w in visit_weeks]
    draws = _subject_draws(settings, chunk.numbers, end_day, preset, protocol)
    traj_days = np.unique(
        np.append(np.arange(0.0, end_day, settings.trajectory_step_days), end_day)
    )
    traj_idx = np.searchsorted(times, traj_days)
    keep_traj = chunk.numbers < settings.max_trajectory_subjects
    ids = list(chunk.subject_ids)
    tables: dict[str, list[pd.DataFrame]] = {
        k: [] for k in ("outcomes", "status", "visits", "scores", "trajectories")
    }
    for arm in protocol.arms:
        base = arm.to_regimen()
        regimens = [base.plus(*trig) if trig else base for trig in draws.triggers]
        res = simulate(
            model,
            chunk.parameters,
            chunk.state,
            regimens,
            times,
            workers=workers,
            backend=settings.solver,
        )
        obs = res.observables()
        obs["sledai2k"] = approximate_sledai2k(obs)
        death = first_crossing_times(times, obs["cum_hazard_death"], draws.death_threshold)
        death = np.where(res.ok, death, np.nan)
        eskd = _first_eskd(times, obs["egfr_ml_min_1_73m2"])
        infections = _recurrent_times(times, obs["cum_hazard_infection"], draws.infection_levels)
        infections = [
            inf[inf < d] if np.isfinite(d) else inf
            for inf, d in zip(infections, death, strict=True)
        ]
        ok = res.ok
        obs_rng = np.random.default_rng([settings.seed, 3, chunk.index])
        oki = np.flatnonzero(ok)
        visits = observe_visits(
            {k: v[oki] for k, v in obs.items()},
            times,
            [ids[i] for i in oki],
            visit_days,
            obs_rng,
            replace(settings.observation, visit_window_days=protocol.visits.window_days),
            visit_labels=labels,
            last_day=np.minimum(death, draws.discontinuation_day)[oki],
            age_years=chunk.age_years[oki],
            female=chunk.female[oki] == 1.0,
        )
        scores = (
            score_visits(visits, ranges=SIMULATED_RANGES).scores if len(visits) else pd.DataFrame()
        )
        outcomes = _outcomes(protocol, arm.name, ids, ok, res, scores, death, eskd, infections)
        tables["outcomes"].append(outcomes)
        tables["status"].append(
            pd.DataFrame(
                {
                    "subject_id": ids,
                    "arm": arm.name,
                    "ok": ok,
                    "message": list(res.messages),
                    "died": death < np.inf,
                    "death_day": np.where(np.isfinite(death), death, np.nan),
                    "eskd": eskd < np.inf,
                    "eskd_day": np.where(np.isfinite(eskd), eskd, np.nan),
                    "serious_infections": [len(x) for x in infections],
                    "flare_triggers": [len(t) for t in draws.triggers],
                    "discontinued_day": np.where(
                        np.isfinite(draws.discontinuation_day)
                        & (draws.discontinuation_day < end_day),
                        draws.discontinuation_day,
                        np.nan,
                    ),
                    "policy_events": _policy_event_counts(res, regimens),
                }
            )
        )
        tables["visits"].append(visits.assign(arm=arm.name))
        tables["scores"].append(scores.assign(arm=arm.name))
        tables["trajectories"].append(
            _trajectories(arm.name, ids, keep_traj, traj_days, traj_idx, obs, death)
        )
    return ChunkResult(
        chunk.index, **{k: pd.concat(v, ignore_index=True) for k, v in tables.items()}
    )


def _policy_event_counts(res: SimulationResult, regimens: Sequence[Regimen]) -> list[int]:
    """Events a relapse rule added, per subject: applied events that are not among the
    regimen's scheduled doses and flare triggers (multiset difference)."""
    out = []
    for i, applied in enumerate(res.applied_events):
        scheduled = Counter(regimens[i].events(res.model, res.parameters[i]))
        added = 0
        for ev in applied:
            if scheduled[ev] > 0:
                scheduled[ev] -= 1
            else:
                added += 1
        out.append(added)
    return out


def _trajectories(
    arm: str,
    ids: list[str],
    keep: np.ndarray,
    days: np.ndarray,
    idx: np.ndarray,
    obs: dict[str, np.ndarray],
    death: np.ndarray,
) -> pd.DataFrame:
    rows = np.flatnonzero(keep)
    n, t = len(rows), len(days)
    frame: dict[str, Any] = {
        "subject_id": np.repeat(np.asarray(ids, dtype=object)[rows], t),
        "arm": arm,
        "day": np.tile(days, n),
        "alive": (days[None, :] < death[rows, None]).reshape(-1),
    }
    for name in TRAJECTORY_VARIABLES:
        frame[name] = obs[name][rows][:, idx].reshape(-1).astype(np.float32)
    return pd.DataFrame(frame)


def _at_visit(scores: pd.DataFrame, column: str, week: float) -> pd.Series:
    if scores.empty or column not in scores.columns:
        return pd.Series(dtype=object)
    rows = scores[scores["visit"] == _visit_label(week)]
    return rows.drop_duplicates("subject_id").set_index("subject_id")[column]


def _first_flare_day(scores: pd.DataFrame, ids: list[str]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {s: [] for s in ids}
    if scores.empty or "flare_sfi" not in scores.columns:
        return out
    hit = scores[scores["flare_sfi"].isin(FLARE_VALUES)]
    for sid, day in zip(hit["subject_id"], hit["study_day"], strict=True):
        if sid in out and pd.notna(day):
            out[sid].append(float(day))
    return out


def _outcomes(
    protocol: Protocol,
    arm: str,
    ids: list[str],
    ok: np.ndarray,
    res: SimulationResult,
    scores: pd.DataFrame,
    death: np.ndarray,
    eskd: np.ndarray,
    infections: list[np.ndarray],
) -> pd.DataFrame:
    """Long table: one row per subject and endpoint (failed integrations excluded)."""
    end_day = protocol.follow_up_weeks * DAYS_PER_WEEK
    flares = _first_flare_day(scores, ids)
    rows: list[dict[str, Any]] = []
    for ep in protocol.endpoints:
        if isinstance(ep, InstrumentAtWeek):
            series = _at_visit(scores, ep.instrument, ep.week)
        for i, sid in enumerate(ids):
            if not ok[i]:
                continue
            row: dict[str, Any] = {
                "subject_id": sid,
                "arm": arm,
                "endpoint": ep.name,
                "value": np.nan,
                "time_weeks": np.nan,
                "event": np.nan,
                "person_years": np.nan,
            }
            if isinstance(ep, InstrumentAtWeek):
                v = series.get(sid, None)
                if ep.responder_values is not None:
                    # Non-responder imputation: a missing visit (death, dropout) fails.
                    row["value"] = float(isinstance(v, str) and v in ep.responder_values)
                else:
                    row["value"] = float(v) if v is not None and pd.notna(v) else np.nan
            elif isinstance(ep, TimeToEvent | RatePer100PY):
                horizon = (ep.within_weeks or protocol.follow_up_weeks) * DAYS_PER_WEEK
                horizon = min(horizon, end_day)
                times = _event_days(ep.event, i, sid, death, eskd, infections, flares)
                stop = min(horizon, death[i]) if ep.event != "death" else horizon
                times = times[times <= stop]
                if isinstance(ep, TimeToEvent):
                    first = float(times[0]) if times.size else stop
                    row["time_weeks"] = first / DAYS_PER_WEEK
                    row["event"] = float(times.size > 0)
                    row["value"] = row["event"]
                else:
                    at_risk = min(horizon, death[i])
                    row["value"] = float(times.size)
                    row["person_years"] = at_risk / DAYS_PER_YEAR
            elif isinstance(ep, CumulativeGlucocorticoid):
                until = min(ep.at_week * DAYS_PER_WEEK, death[i])
                row["value"] = cumulative_prednisone_g(res.applied_events[i], until)
            rows.append(row)
    return pd.DataFrame(
        rows,
        columns=["subject_id", "arm", "endpoint", "value", "time_weeks", "event", "person_years"],
    )


def _event_days(
    event: str,
    i: int,
    sid: str,
    death: np.ndarray,
    eskd: np.ndarray,
    infections: list[np.ndarray],
    flares: dict[str, list[float]],
) -> np.ndarray:
    if event == "death":
        return np.array([death[i]]) if np.isfinite(death[i]) else np.array([])
    if event == "eskd":
        return np.array([eskd[i]]) if np.isfinite(eskd[i]) else np.array([])
    if event == "serious_infection":
        return np.sort(infections[i])
    return np.sort(np.asarray(flares[sid], dtype=float))
