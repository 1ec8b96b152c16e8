"""Global sensitivity methods over any function of named factors (SALib underneath).

:func:`morris_screen` (elementary effects, Morris 1991 with the absolute mean ``mu*`` of
Campolongo et al. 2007 and SALib's bootstrap confidence interval of ``mu*``) and
:func:`sobol_indices` (first-order and total Sobol' indices from Saltelli's sampling
scheme, Jansen's total-effect estimator, with bootstrap confidence intervals) take a
list of :class:`~lupusim.sensitivity._factors.Factor` and a function from a mapping
``name → value`` to one number. lupusim passes the trial endpoint
(:class:`~lupusim.sensitivity._endpoint.EndpointEvaluator`); the tests pass the
Ishigami function through the same code.

Each factor is sampled uniformly on its ``bounds()`` (the log of the range for a log
factor, so a parameter is varied by multiples), and ``mu*`` is in the output's units
per the factor's whole (log) range: SALib divides each output change by the Morris step
Δ = ``levels`` / (2 (``levels`` − 1)) of the unit interval.

An evaluation returning NaN (e.g. no population could be recruited under those values)
removes its whole Morris trajectory, or its whole Saltelli block of ``D + 2`` rows,
from the analysis, so every index is computed on complete designs; the counts are
reported.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample

from lupusim.errors import LupusimError
from lupusim.sensitivity._factors import Factor

Evaluate = Callable[[Mapping[str, float]], float]
Progress = Callable[[int, int], None]
#: Bootstrap resamples of the confidence intervals (SALib's default is 100).
BOOTSTRAP_RESAMPLES = 1000
CONF_LEVEL = 0.95
MORRIS_LEVELS = 4


class IncompleteDesign(LupusimError):
    """Too few complete trajectories or samples; carries what was evaluated."""

    def __init__(self, message: str, X: np.ndarray, y: np.ndarray) -> None:
        super().__init__(message)
        self.X = X
        self.y = y


def problem_of(factors: Sequence[Factor], grouped: bool = False) -> dict[str, Any]:
    """The SALib problem: names, bounds and, with ``grouped``, each factor's group."""
    if not factors:
        raise LupusimError("no factors to analyse")
    names = [f.name for f in factors]
    if len(set(names)) != len(names):
        raise ValueError("factor names must be unique")
    problem: dict[str, Any] = {
        "num_vars": len(factors),
        "names": names,
        "bounds": [list(f.bounds()) for f in factors],
    }
    if grouped:
        if any(not f.group for f in factors):
            raise ValueError("grouped analysis needs every factor's group")
        problem["groups"] = [f.group for f in factors]
    return problem


def factor_names(factors: Sequence[Factor], grouped: bool) -> list[str]:
    """The analysed names: factors, or their groups in first-seen order."""
    return list(dict.fromkeys(f.group for f in factors)) if grouped else [f.name for f in factors]


def evaluate_rows(
    factors: Sequence[Factor], X: np.ndarray, evaluate: Evaluate, on_progress: Progress | None
) -> np.ndarray:
    """The function at every row of the design (rows in sampled coordinates)."""
    y = np.empty(len(X))
    for i, row in enumerate(X):
        values = {f.name: f.value(float(x)) for f, x in zip(factors, row, strict=True)}
        y[i] = float(evaluate(values))
        if on_progress is not None:
            on_progress(i + 1, len(X))
    return y


def _complete_blocks(y: np.ndarray, size: int) -> np.ndarray:
    """Mask of the rows whose block of ``size`` consecutive rows is all finite."""
    blocks = np.isfinite(y).reshape(-1, size).all(axis=1)
    return np.repeat(blocks, size)


@dataclass(frozen=True)
class MorrisResult:
    """Morris indices per analysed name (factor or group), best first."""

    table: pd.DataFrame  # name, mu, mu_star, mu_star_conf95, sigma, morris_rank
    X: np.ndarray
    y: np.ndarray
    trajectories: int
    trajectories_used: int
    levels: int

    @property
    def evaluations(self) -> int:
        return len(self.y)

    def ranked(self) -> list[str]:
        return list(self.table["name"])


def morris_screen(
    factors: Sequence[Factor],
    evaluate: Evaluate,
    *,
    trajectories: int,
    seed: int,
    grouped: bool = False,
    levels: int = MORRIS_LEVELS,
    on_progress: Progress | None = None,
) -> MorrisResult:
    """Morris screening: ``trajectories`` × (factors + 1) evaluations (groups: × (groups
    + 1)). Returns mu (signed mean), mu* (mean absolute effect) with the half-width of
    its bootstrap 95 % CI, and sigma (spread of the effects: interaction or
    non-linearity; SALib leaves it undefined, NaN, for a group of several)."""
    if trajectories < 2:
        raise LupusimError("--trajectories: Morris needs at least 2")
    names = factor_names(factors, grouped)
    if len(names) < 2:
        raise LupusimError("Morris screening needs at least 2 factors (parameters or groups)")
    problem = problem_of(factors, grouped)
    X = morris_sample.sample(problem, trajectories, num_levels=levels, seed=seed)
    y = evaluate_rows(factors, X, evaluate, on_progress)
    keep = _complete_blocks(y, len(names) + 1)
    used = int(keep.sum()) // (len(names) + 1)
    if used < 2:
        raise IncompleteDesign(
            f"Morris: only {used} of {trajectories} trajectories had every evaluation "
            "succeed; narrow the ranges (--range-factor) or use --population fixed",
            X,
            y,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant effects: zero spread
        si = morris_analyze.analyze(
            problem,
            X[keep],
            y[keep],
            num_resamples=BOOTSTRAP_RESAMPLES,
            conf_level=CONF_LEVEL,
            num_levels=levels,
            seed=seed,
        )
    table = pd.DataFrame(
        {
            "name": list(si["names"]),
            "mu": np.asarray(si["mu"], dtype=float),
            "mu_star": np.asarray(si["mu_star"], dtype=float),
            "mu_star_conf95": np.asarray(si["mu_star_conf"], dtype=float),
            "sigma": np.asarray(si["sigma"], dtype=float),
        }
    )
    table = table.sort_values("mu_star", ascending=False, kind="stable").reset_index(drop=True)
    table["morris_rank"] = np.arange(1, len(table) + 1)
    return MorrisResult(table, X, y, trajectories, used, levels)


@dataclass(frozen=True)
class SobolResult:
    """First-order and total Sobol' indices per analysed name, in factor order."""

    table: pd.DataFrame  # name, S1, S1_conf95, ST, ST_conf95
    X: np.ndarray
    y: np.ndarray
    samples: int
    samples_used: int

    @property
    def evaluations(self) -> int:
        return len(self.y)


def sobol_indices(
    factors: Sequence[Factor],
    evaluate: Evaluate,
    *,
    samples: int,
    seed: int,
    grouped: bool = False,
    on_progress: Progress | None = None,
) -> SobolResult:
    """Sobol' S1 and ST with the half-widths of their bootstrap 95 % CIs from
    ``samples`` × (D + 2) evaluations (D factors or groups; Saltelli's scheme without
    second-order indices, a scrambled Sobol' sequence). ``samples`` must be a power of 2."""
    if samples < 2 or samples & (samples - 1):
        raise LupusimError(f"--samples: Sobol' needs a power of 2 (e.g. 64), got {samples}")
    names = factor_names(factors, grouped)
    problem = problem_of(factors, grouped)
    X = sobol_sample.sample(problem, samples, calc_second_order=False, seed=seed)
    y = evaluate_rows(factors, X, evaluate, on_progress)
    keep = _complete_blocks(y, len(names) + 2)
    used = int(keep.sum()) // (len(names) + 2)
    if used < 2:
        raise IncompleteDesign(
            f"Sobol': only {used} of {samples} samples had every evaluation succeed; "
            "narrow the ranges (--range-factor) or use --population fixed",
            X,
            y,
        )
    if np.ptp(y[keep]) == 0:
        zeros = np.zeros(len(names))
        s1 = st = s1c = stc = zeros
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)  # constant bootstrap resamples
            si = sobol_analyze.analyze(
                problem,
                y[keep],
                calc_second_order=False,
                num_resamples=BOOTSTRAP_RESAMPLES,
                conf_level=CONF_LEVEL,
                seed=seed,
            )
        s1, s1c = np.asarray(si["S1"], float), np.asarray(si["S1_conf"], float)
        st, stc = np.asarray(si["ST"], float), np.asarray(si["ST_conf"], float)
    table = pd.DataFrame({"name": names, "S1": s1, "S1_conf95": s1c, "ST": st, "ST_conf95": stc})
    return SobolResult(table, X, y, samples, used)


def top(names: Sequence[str], k: int) -> list[str]:
    """The first ``k`` names (Morris order), all when ``k`` is at least their number."""
    if k < 1:
        raise LupusimError("--top: must be at least 1")
    return list(names[: min(k, len(names))])
