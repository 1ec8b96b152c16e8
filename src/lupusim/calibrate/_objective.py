"""The generic trial objective: parameter values → simulated target statistics.

For each shipped protocol a spec names, a virtual trial population is built with the
candidate parameter values and simulated arm by arm with the trial engine
(:func:`lupusim.trial.build_population`, :func:`lupusim.trial._simulate.run_chunk`); the
declared measures are computed on its visit and score tables. A fixed seed gives common
random numbers: the candidate subjects, their variability draws, flare triggers and
assay noise are the same for every parameter set, so the objective is a deterministic
function of the parameters and differences between parameter sets are not sampling noise.

Residuals are ``(simulated − published) / scale`` with ``scale = √(SE_published² +
MC_error²)``: the published statistic's own standard error (binomial at the trial's n
for proportions; :meth:`TargetRow.standard_error`) and the Monte Carlo error of the
virtual estimate. No hand-chosen weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from lupusim.calibrate._access import access_ratio_targets
from lupusim.calibrate._measures import ArmTables, Estimate, estimate
from lupusim.calibrate._problem import Residual
from lupusim.calibrate._spec import CalibrationSpec, TargetSpec, protocol_path
from lupusim.calibrate._targets import TargetRow, package_targets
from lupusim.model import Preset, get_preset
from lupusim.trial._cohort import RecruitmentError, build_population, make_chunks
from lupusim.trial._protocol import Protocol, load_protocol
from lupusim.trial._simulate import RunSettings, run_chunk


@cache
def all_targets() -> dict[str, TargetRow]:
    """Package target rows and the ACCESS ratio-quantile rows, by id."""
    return {**package_targets(), **access_ratio_targets()}


@cache
def _load(path: Path) -> Protocol:
    return load_protocol(path)


def spec_protocol(name: str, protocol_dir: Path | None = None) -> Protocol:
    """Protocol ``name`` from ``protocol_dir`` (default: the shipped protocols)."""
    return _load(protocol_path(name) if protocol_dir is None else protocol_dir / f"{name}.yaml")


@dataclass(frozen=True)
class SimulatedTarget:
    """One declared target: the published row and the virtual estimate."""

    spec: TargetSpec
    row: TargetRow
    estimate: Estimate
    #: The same measure on the twin arm(s) (same patients without the treatment).
    twin: Estimate | None = None

    @property
    def increment(self) -> tuple[float, float]:
        """Arms − twin and its Monte Carlo SE (NaN without a twin). The SE treats the two
        estimates as independent, an upper bound: they share their patients."""
        if self.twin is None:
            return math.nan, math.nan
        se = math.sqrt(self.estimate.mc_se**2 + self.twin.mc_se**2)
        return self.estimate.value - self.twin.value, se

    @property
    def scale(self) -> float:
        mc = self.estimate.mc_se if math.isfinite(self.estimate.mc_se) else 0.0
        return math.sqrt(self.row.standard_error() ** 2 + mc**2)

    @property
    def within(self) -> bool:
        lo, hi = self.row.interval()
        v = self.estimate.value
        return bool(math.isfinite(v) and lo <= v <= hi)

    def residual(self) -> Residual:
        return Residual(
            self.row.id,
            f"{self.row.quantity} ({self.row.statistic}, {self.row.time})",
            self.estimate.value,
            self.row.value,
            self.scale,
        )


def simulate_arms(
    protocol: Protocol, preset: Preset, *, subjects: int, seed: int, workers: int = 1
) -> dict[str, ArmTables]:
    """Every arm of ``protocol`` on the same ``subjects`` virtual patients (built and
    simulated with ``preset``): the arms' visit and score tables."""
    pop = build_population(protocol.population, subjects, seed, preset=preset, workers=workers)
    (chunk,) = make_chunks(pop, subjects)
    result = run_chunk(protocol, chunk, RunSettings(seed=seed), workers=workers, preset=preset)
    return {
        arm.name: ArmTables.from_run(arm.name, result.status, result.visits, result.scores)
        for arm in protocol.arms
    }


#: The estimate of a row whose protocol could not recruit at the parameters tried.
_MISSING = Estimate(math.nan, math.nan, 0)


def _measured(
    target: TargetSpec, arms: Mapping[str, float], tables: dict[str, ArmTables] | None
) -> Estimate:
    """``target``'s measure on ``arms``; missing where the protocol could not recruit."""
    return _MISSING if tables is None else estimate(target.measure, arms, tables)


class TrialObjective:
    """Simulates every protocol of a spec for given parameter values."""

    def __init__(
        self,
        spec: CalibrationSpec,
        *,
        subjects: int,
        seed: int,
        base: Preset | None = None,
        workers: int = 1,
        protocol_dir: Path | None = None,
    ) -> None:
        self.spec = spec
        self.subjects = subjects
        self.seed = seed
        self.base = base if base is not None else get_preset("human")
        self.workers = workers
        self.protocol_dir = protocol_dir
        targets = all_targets()
        missing = [t.row for t in spec.targets if t.row not in targets]
        if missing:
            raise KeyError(f"spec {spec.name}: unknown target rows {missing}")
        self.rows = {t.row: targets[t.row] for t in spec.targets}

    def simulate_protocol(self, name: str, preset: Preset) -> dict[str, ArmTables]:
        return simulate_arms(
            spec_protocol(name, self.protocol_dir),
            preset,
            subjects=self.subjects,
            seed=self.seed,
            workers=self.workers,
        )

    def evaluate(self, values: Mapping[str, float]) -> list[SimulatedTarget]:
        preset = self.base.with_numbers(values)
        out: list[SimulatedTarget] = []
        for name in self.spec.protocols():
            # Parameters under which a protocol cannot recruit its patients leave its rows
            # missing (NaN: never within, residual 10 SE), so that a fit steps back
            # instead of stopping.
            try:
                tables: dict[str, ArmTables] | None = self.simulate_protocol(name, preset)
            except RecruitmentError:
                tables = None
            for t in self.spec.targets:
                if t.protocol == name:
                    twin = _measured(t, t.twin, tables) if t.twin else None
                    out.append(
                        SimulatedTarget(t, self.rows[t.row], _measured(t, t.arms, tables), twin)
                    )
        return out

    def residuals(self, values: Mapping[str, float]) -> Sequence[Residual]:
        return [s.residual() for s in self.evaluate(values) if s.spec.fit]


def gof_records(simulated: Sequence[SimulatedTarget]) -> list[dict[str, object]]:
    """Goodness-of-fit rows: published, interval, simulated ± MC error, within?"""
    rows = []
    for s in simulated:
        lo, hi = s.row.interval()
        rows.append(
            {
                "row": s.row.id,
                "protocol": s.spec.protocol,
                "arms": "+".join(s.spec.arms),
                "quantity": s.row.quantity,
                "statistic": s.row.statistic,
                "time": s.row.time,
                "published": s.row.value,
                "interval_low": lo,
                "interval_high": hi,
                "interval_kind": s.row.spread_kind or f"Wilson 95% at n={s.row.n}",
                "simulated": s.estimate.value,
                "mc_se": s.estimate.mc_se,
                "n_simulated": s.estimate.n,
                "within": s.within,
                "twin_arms": "+".join(s.spec.twin) if s.spec.twin else "",
                "twin_simulated": s.twin.value if s.twin is not None else np.nan,
                "increment": s.increment[0],
                "increment_mc_se": s.increment[1],
                "z": (s.estimate.value - s.row.value) / s.scale if s.scale > 0 else np.nan,
                "fitted": s.spec.fit,
                "source": s.row.source,
            }
        )
    return rows
