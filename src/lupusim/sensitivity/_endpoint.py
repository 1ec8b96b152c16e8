"""One evaluation: parameter values → a trial endpoint's estimate (common random numbers).

A parameter set is the human preset with some values replaced, as the calibration
applies one (:meth:`lupusim.model.Preset.with_numbers`). The protocol's virtual
population is built and every arm simulated as
:func:`lupusim.calibrate._objective.simulate_arms` does (``build_population`` →
``make_chunks`` → ``run_chunk``, one chunk, the run seed; screening batches sized to the
population, :func:`candidate_batch`), keeping the outcome table that ``simulate_arms``
does not return. The endpoint's per-arm estimate is then the trial analysis's own
(:mod:`lupusim.trial._analysis`: outcome table → ``Outcomes`` → the arm estimate over
every subject whose integration succeeded in every arm), so no endpoint logic is
written twice.

Two ways to apply a parameter set (``population``):

* ``fixed`` (default): the trial population is built once with the preset's values and
  the parameter set applies to those enrolled patients from day 0 on (their parameter
  vectors rescaled; their baseline state is the one their pre-trial history reached
  under the preset). Every evaluation runs the same patients.
* ``rebuild``: every evaluation rebuilds the population with the new values (pre-trial
  history and screening under them), as the calibration does. Screening then decides
  anew who is enrolled, which is part of the parameter's effect; where too few
  candidates become eligible the output is undefined (NaN). With every parameter
  varied ×/÷ 2 at once, about half of the points of a Morris design leave no ALMS
  candidate with UPCR ≥ 1 g/g, so ``rebuild`` suits a few named parameters only.

Common random numbers, in both: every evaluation uses the same seed, and every random
stream is keyed by the seed and the subject's number, never by parameter values, so the
candidates' draws (demographics, variability deviates, histories, screening noise),
their flare triggers, death and infection thresholds, dropout days and assay noise are
the same for every parameter set. The output is a deterministic function of the
parameters, and the indices measure the parameters, not Monte Carlo noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from lupusim.errors import LupusimError
from lupusim.model import Preset, get_preset, rescaled_parameters
from lupusim.trial._analysis import Outcomes, _estimate, _horizon_weeks, endpoint_kind
from lupusim.trial._cohort import build_population, make_chunks
from lupusim.trial._protocol import Protocol
from lupusim.trial._simulate import Chunk, ChunkResult, RunSettings, run_chunk

#: Candidates an evaluation may screen, as a multiple of what the preset's own
#: population needed (at least ``MIN_CANDIDATE_BATCHES`` batches): a parameter set under
#: which too few candidates are eligible fails quickly instead of screening up to the
#: population builder's 100 000.
CANDIDATE_CAP_FACTOR = 4
MIN_CANDIDATE_BATCHES = 5


def candidate_batch(subjects: int) -> int:
    """Candidates drawn per screening batch: twice the subjects (100 to 1000, the
    population builder's default). About three in four candidates of the shipped
    protocols are eligible, so one batch usually suffices; the default 1000 would
    simulate the pre-trial history of up to ten times more candidates than needed.
    Fixed for a run (the population is deterministic for a given seed and batch)."""
    return min(1000, max(100, 2 * subjects))


@dataclass(frozen=True)
class EndpointOutput:
    """The output of one evaluation: ``endpoint``'s estimate in ``arm``, or ``arm``'s
    minus ``minus``'s (the difference of the two per-arm estimates)."""

    endpoint: str
    arm: str
    minus: str | None = None

    @property
    def label(self) -> str:
        what = f"{self.arm} − {self.minus}" if self.minus else self.arm
        return f"{self.endpoint} ({what})"


def resolve_output(
    protocol: Protocol,
    endpoint: str | None = None,
    arm: str | None = None,
    contrast: str | None = None,
) -> EndpointOutput:
    """Check the names against the protocol: unknown endpoint or arm, or a malformed
    contrast, is a one-line :class:`LupusimError` naming the valid choices. Defaults:
    the protocol's (first) primary endpoint, its first arm."""
    endpoints = [e.name for e in protocol.endpoints]
    arms = [a.name for a in protocol.arms]
    if endpoint is None:
        primary = [e.name for e in protocol.endpoints if e.primary]
        endpoint = primary[0] if primary else endpoints[0]
    if endpoint not in endpoints:
        raise LupusimError(
            f"--endpoint: unknown endpoint {endpoint!r} of protocol {protocol.name}; "
            f"known: {', '.join(endpoints)}"
        )
    if arm is not None and contrast is not None:
        raise LupusimError("give either --arm or --contrast, not both")
    if contrast is not None:
        pairs = [
            (contrast[:i], contrast[i + 1 :])
            for i, ch in enumerate(contrast)
            if ch == "-" and contrast[:i] in arms and contrast[i + 1 :] in arms
        ]
        if not pairs or pairs[0][0] == pairs[0][1]:
            raise LupusimError(
                f"--contrast: expected ARM_A-ARM_B with two different arms of protocol "
                f"{protocol.name}, got {contrast!r}; arms: {', '.join(arms)}"
            )
        return EndpointOutput(endpoint, pairs[0][0], pairs[0][1])
    if arm is None:
        arm = arms[0]
    if arm not in arms:
        raise LupusimError(
            f"--arm: unknown arm {arm!r} of protocol {protocol.name}; known: {', '.join(arms)}"
        )
    return EndpointOutput(endpoint, arm)


def arm_estimates(protocol: Protocol, result: ChunkResult, endpoint: str) -> dict[str, float]:
    """Each arm's estimate of ``endpoint`` over the subjects whose integration succeeded
    in every arm (as :func:`lupusim.trial.analyse` counts them); NaN when none did."""
    ep = next(e for e in protocol.endpoints if e.name == endpoint)
    ok_all = result.status.groupby("subject_id", sort=False)["ok"].all()
    ids = np.asarray(sorted(ok_all.index[ok_all.to_numpy()]))
    out: dict[str, float] = {}
    if len(ids) == 0:
        return {a.name: math.nan for a in protocol.arms}
    outcomes = Outcomes.from_table(protocol, result.outcomes, ids)
    idx = np.arange(len(ids))
    kind = endpoint_kind(ep)
    for arm in protocol.arms:
        est = _estimate(kind, outcomes, ep.name, arm.name, idx, _horizon_weeks(protocol, ep))
        value = est.get("estimate")
        out[arm.name] = float(value) if value is not None else math.nan
    return out


PopulationMode = Literal["fixed", "rebuild"]
POPULATION_MODES: tuple[str, ...] = ("fixed", "rebuild")


def with_parameters(preset: Preset, chunk: Chunk, values: Mapping[str, float]) -> Chunk:
    """``chunk``'s subjects with ``values`` applied: each named model parameter's column
    is multiplied by ``value / preset value``, so a between-subject-variable parameter
    keeps every patient's own deviate (and subgroup factor) around the new median and a
    fixed one takes the new value. Process parameters (not in the model's vector) are
    applied through the preset."""
    return replace(chunk, parameters=rescaled_parameters(preset, chunk.parameters, values))


@dataclass
class EndpointEvaluator:
    """Parameter values → the output's value, on the same virtual patients every time.

    Call it with a mapping of parameter values (the others stay at ``base``'s).

    ``population="fixed"`` (default): the trial population is built once, with the
    preset's values (:meth:`reference`), and a parameter set applies to those enrolled
    patients from day 0 (randomisation) on: their parameter vectors are rescaled
    (:func:`with_parameters`), their baseline state is the one their pre-trial history
    reached under the preset. ``population="rebuild"``: every evaluation rebuilds the
    population with the new values, as the calibration does (pre-trial history and
    screening under the new values); a parameter set under which it cannot be recruited
    (too few eligible candidates) gives NaN and is counted in ``failures``.
    """

    protocol: Protocol
    output: EndpointOutput
    subjects: int
    seed: int
    workers: int = 1
    base: Preset = field(default_factory=lambda: get_preset("human"))
    population: PopulationMode = "fixed"
    max_candidates: int | None = None
    batch: int | None = None
    evaluations: int = 0
    failures: list[str] = field(default_factory=list)
    base_candidates: int | None = None
    _chunk: Chunk | None = None

    def __post_init__(self) -> None:
        if self.population not in POPULATION_MODES:
            raise LupusimError(
                f"--population: unknown {self.population!r}; known: {', '.join(POPULATION_MODES)}"
            )
        if self.batch is None:
            self.batch = candidate_batch(self.subjects)

    def build(self, preset: Preset) -> Chunk:
        """The protocol's virtual population built with ``preset``, as one chunk."""
        assert self.batch is not None
        pop = build_population(
            self.protocol.population,
            self.subjects,
            self.seed,
            batch=self.batch,
            preset=preset,
            workers=self.workers,
            max_candidates=self.max_candidates,
        )
        if self.base_candidates is None:
            self.base_candidates = pop.screening.candidates
        (chunk,) = make_chunks(pop, self.subjects)
        return chunk

    def run(self, chunk: Chunk, preset: Preset) -> ChunkResult:
        """Every arm on ``chunk``'s subjects (process parameters from ``preset``)."""
        return run_chunk(
            self.protocol, chunk, RunSettings(seed=self.seed), workers=self.workers, preset=preset
        )

    def simulate(self, values: Mapping[str, float]) -> ChunkResult:
        """Every arm under ``values`` (on the fixed or a rebuilt population)."""
        preset = self.base.with_numbers(values)
        if self.population == "rebuild":
            return self.run(self.build(preset), preset)
        if self._chunk is None:
            self._chunk = self.build(self.base)
        return self.run(with_parameters(self.base, self._chunk, values), preset)

    def estimates(self, values: Mapping[str, float]) -> dict[str, float]:
        """Every arm's estimate of the endpoint under ``values``."""
        return arm_estimates(self.protocol, self.simulate(values), self.output.endpoint)

    def reference(self) -> dict[str, float]:
        """Every arm's estimate at the preset's values. Builds the fixed population;
        with ``rebuild``, fixes the candidate cap of the later evaluations
        (:data:`CANDIDATE_CAP_FACTOR` × the candidates it screened)."""
        self.base_candidates = None
        self._chunk = None
        est = self.estimates({})
        assert self.base_candidates is not None and self.batch is not None
        default_max = max(100_000, 500 * self.subjects)  # build_population's default
        self.max_candidates = min(
            default_max,
            max(
                CANDIDATE_CAP_FACTOR * self.base_candidates,
                MIN_CANDIDATE_BATCHES * self.batch,
            ),
        )
        return est

    def value_of(self, estimates: Mapping[str, float]) -> float:
        a = estimates[self.output.arm]
        return a - estimates[self.output.minus] if self.output.minus else a

    def __call__(self, values: Mapping[str, float]) -> float:
        self.evaluations += 1
        try:
            value = self.value_of(self.estimates(values))
        except LupusimError as err:
            self.failures.append(str(err))
            return math.nan
        if not math.isfinite(value):
            self.failures.append("no subject with a result in the output's arm(s)")
        return value
