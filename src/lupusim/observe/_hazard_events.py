"""Discrete events (death, serious infection) sampled from cumulative hazards.

By time rescaling, the event times of a process with cumulative hazard Λ(t) are the
times where Λ crosses E₁, E₁+E₂, … with Eᵢ ~ Exp(1). The model integrates Λ as a
state, so sampling after integration is exact up to the output grid (linear
interpolation between grid points).
"""

from __future__ import annotations

import numpy as np


def first_crossing_times(
    times: np.ndarray, cumulative_hazard: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """Time at which each row of ``cumulative_hazard`` (N, T) first reaches its threshold.

    Returns ``inf`` where it never does within ``times``. Linear interpolation between
    grid points; NaN trajectories (failed subjects) give NaN.
    """
    ch = np.asarray(cumulative_hazard, dtype=float)
    ch = ch - ch[:, :1]  # hazard accrued from the start of the window
    thr = np.asarray(thresholds, dtype=float)
    out = np.full(ch.shape[0], np.inf)
    for i in range(ch.shape[0]):
        row = ch[i]
        if not np.all(np.isfinite(row)):
            out[i] = np.nan
            continue
        k = int(np.searchsorted(row, thr[i], side="left"))
        if k >= len(row):
            continue
        if k == 0:
            out[i] = times[0]
            continue
        lo, hi = row[k - 1], row[k]
        frac = 0.0 if hi == lo else (thr[i] - lo) / (hi - lo)
        out[i] = times[k - 1] + frac * (times[k] - times[k - 1])
    return out


def sample_event_times(
    times: np.ndarray,
    cumulative_hazard: np.ndarray,
    rng: np.random.Generator,
    max_events: int = 50,
) -> list[np.ndarray]:
    """All event times of a recurrent process per subject (e.g. serious infections)."""
    ch = np.asarray(cumulative_hazard, dtype=float)
    ch = ch - ch[:, :1]
    result: list[np.ndarray] = []
    for i in range(ch.shape[0]):
        row = ch[i]
        total = row[-1] if np.all(np.isfinite(row)) else np.nan
        events: list[float] = []
        level = 0.0
        while np.isfinite(total) and len(events) < max_events:
            level += rng.exponential(1.0)
            if level > total:
                break
            k = int(np.searchsorted(row, level, side="left"))
            lo, hi = row[k - 1], row[k]
            frac = 0.0 if hi == lo else (level - lo) / (hi - lo)
            events.append(float(times[k - 1] + frac * (times[k] - times[k - 1])))
        result.append(np.asarray(events))
    return result


def alive_matrix(times: np.ndarray, death_times: np.ndarray) -> np.ndarray:
    """``(N, T)`` 1.0 while alive (t < death time), else 0.0; NaN for failed subjects."""
    alive = (times[None, :] < death_times[:, None]).astype(float)
    alive[np.isnan(death_times)] = np.nan
    return alive
