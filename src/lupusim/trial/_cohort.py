"""The trial's virtual population: screening candidates and matching a target population.

Candidates come from :func:`lupusim.population.simulate_baseline` (the human prior, a
pre-trial disease history). A protocol's treatment history picks the history: a
refractory requirement of ≥ ``min_months`` of a drug gives that many months of it before
baseline; "without response" is then the inclusion criteria still holding at day 0
(active disease despite the drug). Screening applies inclusion and exclusion criteria to a
screening visit at day 0 measured through the observation model (laboratory noise,
descriptor probabilities) and scored by :mod:`lupusim.clinical`, as a site screens.
With ``population.target`` the eligible pool is matched to the published baseline
distribution by prevalence selection (Allen 2016); the match (KS distance per variable,
effective N) is reported.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lupusim.engine._simulate import Backend
from lupusim.errors import InputError, LupusimError
from lupusim.model import Preset, get_preset
from lupusim.observe import ObservationModel
from lupusim.population._baseline import (
    BaselineCohort,
    Demographics,
    DiseaseHistory,
    refractory_history,
    simulate_baseline,
    trial_entrant_histories,
)
from lupusim.trial._protocol import Criterion, Population, Protocol
from lupusim.trial._simulate import Chunk


class RecruitmentError(LupusimError):
    """Too few virtual candidates met a population's criteria (or its target match)."""


#: Eligible pool relative to the requested number of subjects when matching a target:
#: drawing starts with this many and doubles until one acceptance pass (Allen 2016) can
#: select them all, or the pool reaches ``TARGET_POOL_MAX_FACTOR`` × N, when further
#: passes are allowed (reported as ``single_pass: false`` in the match report).
TARGET_POOL_FACTOR = 4
TARGET_POOL_MAX_FACTOR = 10


def histories_for(population: Population) -> list[DiseaseHistory]:
    """Pre-trial histories implied by the protocol's treatment history.

    Without a refractory requirement the entrants are those of lupus-nephritis trials
    (:func:`lupusim.population.trial_entrant_histories`: disease duration, earlier
    induction in relapsing nephritis, prednisone at entry) — the setting in which the
    human model is calibrated to the control arms (``lupusim calibrate human``). A
    refractory history starts from disease onset three years before baseline, with
    prednisone maintenance from onset until the refractory course
    (:func:`lupusim.population.refractory_history`). With several refractory drugs (e.g.
    "cyclophosphamide or mycophenolate"), each candidate gets one of them with equal
    probability (assumption).
    """
    th = population.treatment_history
    if th is None or th.refractory is None:
        return trial_entrant_histories()
    clash = sorted(set(th.refractory.drugs) & set(th.excluded_prior))
    if clash:
        raise InputError(
            f"population.treatment_history: {clash} are both required (refractory) and "
            "excluded_prior"
        )
    try:
        return [refractory_history(drug, th.refractory.min_months) for drug in th.refractory.drugs]
    except ValueError as err:
        raise InputError(f"population.treatment_history.refractory: {err}") from None


def _label(kind: str, c: Criterion) -> str:
    unit = f" {c.unit}" if c.unit else ""
    return f"{kind}: {c.observable} {c.op} {c.value:g}{unit}"


def screen(
    population: Population, baseline: dict[str, np.ndarray]
) -> tuple[np.ndarray, dict[str, int]]:
    """Eligible mask, and how many candidates each criterion turned away.

    A candidate with a missing (NaN) value for a criterion's observable is not eligible.
    """
    n = len(next(iter(baseline.values())))
    eligible = np.ones(n, dtype=bool)
    failed: dict[str, int] = {}
    for c in population.inclusion:
        x = np.asarray(baseline[c.observable], dtype=float)
        ok = np.asarray(c.holds(x)).astype(bool) & np.isfinite(x)
        failed[_label("inclusion", c)] = int((~ok).sum())
        eligible &= ok
    for c in population.exclusion:
        x = np.asarray(baseline[c.observable], dtype=float)
        hit = np.asarray(c.holds(x)).astype(bool) | ~np.isfinite(x)
        failed[_label("exclusion", c)] = int(hit.sum())
        eligible &= ~hit
    return eligible, failed


@dataclass(frozen=True)
class ScreeningLog:
    """How candidates were screened (counts of virtual patients)."""

    candidates: int
    failed_integration: int
    died_before_baseline: int
    failed_criterion: dict[str, int]
    eligible: int
    selected: int

    @property
    def eligible_fraction(self) -> float:
        alive = self.candidates - self.failed_integration - self.died_before_baseline
        return self.eligible / alive if alive else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidates": self.candidates,
            "failed_integration": self.failed_integration,
            "died_before_baseline": self.died_before_baseline,
            "failed_criterion": dict(self.failed_criterion),
            "eligible": self.eligible,
            "eligible_fraction_of_alive": self.eligible_fraction,
            "selected": self.selected,
        }


@dataclass(frozen=True)
class TrialPopulation:
    """The ``N`` virtual patients every arm is run on, with how they were found."""

    cohort: BaselineCohort
    screening: ScreeningLog
    target: str | None
    match: dict[str, Any] | None

    def __len__(self) -> int:
        return len(self.cohort)

    def subject_ids(self) -> list[str]:
        return [f"V{i:07d}" for i in range(len(self.cohort))]


def build_population(
    population: Population,
    n_subjects: int,
    seed: int,
    *,
    batch: int = 1000,
    max_candidates: int | None = None,
    demographics: Demographics | None = None,
    workers: int = 1,
    solver: Backend = "rodas5p",
    observation: ObservationModel | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    preset: Preset | None = None,
) -> TrialPopulation:
    """Draw candidates in batches until ``n_subjects`` eligible ones (or, with a target
    population, enough to select ``n_subjects`` by prevalence) are found.

    At most ``max_candidates`` (default: max(100 000, 500 per subject)) are drawn.
    Deterministic for a given ``seed`` and ``batch``; ``on_batch(candidates, eligible)`` is
    called after each batch (progress). ``preset`` (default: the calibrated human preset)
    supplies the parameter values, e.g. a calibration's trial values.
    """
    if n_subjects < 1:
        raise ValueError("n_subjects must be positive")
    if max_candidates is None:
        max_candidates = max(100_000, 500 * n_subjects)
    if preset is None:
        preset = get_preset("human")
    histories = histories_for(population)
    rng = np.random.default_rng([seed, 0])
    pool_goal = n_subjects * (TARGET_POOL_FACTOR if population.target else 1)
    parts: list[BaselineCohort] = []
    failed_total: dict[str, int] = {}
    drawn = failed_integration = died = n_eligible = 0
    selection: np.ndarray | None = None
    match: dict[str, Any] | None = None
    while True:
        size = min(batch, max_candidates - drawn)
        cohort = simulate_baseline(
            preset,
            size,
            rng,
            histories,
            demographics=demographics,
            first_index=drawn,
            workers=workers,
            backend=solver,
            observation=ObservationModel() if observation is None else observation,
        )
        drawn += size
        failed_integration += int((~cohort.ok).sum())
        died += int((cohort.ok & ~cohort.alive).sum())
        alive = cohort.subset(np.flatnonzero(cohort.alive))
        eligible, failed = screen(population, alive.baseline)
        for k, v in failed.items():
            failed_total[k] = failed_total.get(k, 0) + v
        parts.append(alive.subset(np.flatnonzero(eligible)))
        n_eligible += int(eligible.sum())
        if on_batch is not None:
            on_batch(drawn, n_eligible)
        exhausted = drawn >= max_candidates or (
            population.target is not None and n_eligible >= TARGET_POOL_MAX_FACTOR * n_subjects
        )
        if n_eligible < pool_goal and not exhausted:
            continue
        pool = BaselineCohort.concat(parts)
        if population.target is None:
            if n_eligible >= n_subjects:
                selection = np.arange(n_subjects)
            break
        selection, match = _select_target(
            pool, population.target, n_subjects, seed, final=exhausted
        )
        if selection is not None or exhausted:
            break
        pool_goal = n_eligible * 2  # not enough effective subjects yet: draw more
    if selection is None:
        raise RecruitmentError(
            f"only {n_eligible} of {drawn} virtual candidates met the criteria"
            + (f" and could be matched to {population.target}" if population.target else "")
            + f"; {n_subjects} were requested (raise max_candidates or relax the criteria)"
        )
    pool = BaselineCohort.concat(parts)
    log = ScreeningLog(
        candidates=drawn,
        failed_integration=failed_integration,
        died_before_baseline=died,
        failed_criterion=failed_total,
        eligible=n_eligible,
        selected=n_subjects,
    )
    return TrialPopulation(pool.subset(selection), log, population.target, match)


def _select_target(
    pool: BaselineCohort, target_name: str, n: int, seed: int, final: bool
) -> tuple[np.ndarray | None, dict[str, Any] | None]:
    """Prevalence selection of ``n`` from ``pool``; None when the pool cannot supply them
    in one acceptance pass (unless ``final``: then further passes are allowed, and the
    match report says so)."""
    from lupusim.population import (
        WeightingWarning,
        match_report,
        match_report_selected,
        prevalence_weights,
        select_by_prevalence,
        target_population,
    )

    target = target_population(target_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeightingWarning)  # counts are in the match report
        weights = prevalence_weights(pool.baseline, target)
    one_pass = float(weights.sum() / weights.max()) if weights.max() > 0 else 0.0
    if one_pass < n and not final:
        return None, None  # Allen 2016 selection in one pass needs a larger pool
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", WeightingWarning)
            chosen = select_by_prevalence(weights, n, np.random.default_rng([seed, 1]))
    except ValueError:
        return None, None
    chosen = np.sort(chosen)
    weighted = match_report(pool.baseline, weights, target).to_dict()
    selected = match_report_selected(pool.baseline, chosen, target).to_dict()
    return chosen, {
        "target": target_name,
        "source": target.source,
        "assumptions": list(target.assumptions),
        "expected_one_pass_selections": one_pass,
        "single_pass": one_pass >= n,
        "pool": weighted,
        "selected": selected,
    }


def make_chunks(pop: TrialPopulation, chunk_size: int) -> list[Chunk]:
    """``pop``'s subjects in chunks of at most ``chunk_size``, in order."""
    ids = pop.subject_ids()
    c = pop.cohort
    out = []
    for k, start in enumerate(range(0, len(c), chunk_size)):
        sl = slice(start, min(start + chunk_size, len(c)))
        out.append(
            Chunk(
                index=k,
                numbers=np.arange(sl.start, sl.stop),
                subject_ids=tuple(ids[sl]),
                parameters=c.parameters[sl],
                state=c.state[sl],
                age_years=c.baseline["age_years"][sl],
                female=c.baseline["female"][sl],
            )
        )
    return out


def randomisation_strata(
    protocol: Protocol, pop: TrialPopulation
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Subject attributes to stratify randomisation by, and the factors virtual subjects
    do not have (race, region, biopsy class: not model quantities).

    ``sex`` is the subject's sex; a numeric observable is split at the population median
    (an assumption where the protocol gives no cut-off).
    """
    out: dict[str, np.ndarray] = {}
    missing: list[str] = []
    base = pop.cohort.baseline
    for name in protocol.allocation.stratify_by:
        if name == "sex":
            out[name] = np.where(base["female"] == 1.0, "female", "male")
        elif name in base:
            x = base[name]
            out[name] = np.where(x >= np.nanmedian(x), "high", "low")
        else:
            missing.append(name)
    return out, missing
