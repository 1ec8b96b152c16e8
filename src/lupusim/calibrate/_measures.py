"""Statistics of a virtual trial's tables, as declared by a target's measure.

Computed on the same tables a trial run writes — ``visits`` (what was measured, with
assay noise and visit windows) and ``scores`` (the ``lupusim.clinical`` instruments) —
never on hidden model states, so a virtual statistic is computed as the published one
was. Each returns an :class:`Estimate` with its Monte Carlo standard error (binomial for
proportions, a fixed-seed bootstrap over subjects for quantiles and baseline statistics).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lupusim.calibrate._access import ratio_by_subject
from lupusim.calibrate._spec import (
    SHARE_MEASURES,
    BaselineStatistic,
    Condition,
    EverByWeek,
    Measure,
    ProportionAtWeek,
    QuantileInWindow,
    RatioQuantile,
    RemissionThenRelapse,
    ShareMeeting,
    StatisticAtWeek,
)

BOOTSTRAP_REPLICATES = 200
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Estimate:
    """A simulated statistic with its Monte Carlo standard error and subject count."""

    value: float
    mc_se: float
    n: int


@dataclass(frozen=True)
class ArmTables:
    """One arm's tables: randomised subject ids, visits and scores (``week`` added)."""

    subjects: tuple[str, ...]
    visits: pd.DataFrame
    scores: pd.DataFrame

    @classmethod
    def from_run(
        cls, arm: str, status: pd.DataFrame, visits: pd.DataFrame, scores: pd.DataFrame
    ) -> ArmTables:
        ok = status[(status["arm"] == arm) & status["ok"]]
        v = visits[visits["arm"] == arm].copy()
        s = scores[scores["arm"] == arm].copy()
        for df in (v, s):
            df["week"] = df["visit"].str.removeprefix("week ").astype(float)
        return cls(tuple(ok["subject_id"]), v, s)


def _bootstrap_se(values: np.ndarray, stat: Callable[[np.ndarray], float]) -> float:
    if len(values) < 2:
        return math.nan
    rng = np.random.default_rng(12345)
    idx = rng.integers(0, len(values), size=(BOOTSTRAP_REPLICATES, len(values)))
    return float(np.std([stat(values[i]) for i in idx], ddof=1))


def _flags_at_week(t: ArmTables, table: str, column: str, week: float) -> pd.Series:
    df = t.visits if table == "visits" else t.scores
    return df[df["week"] == week].drop_duplicates("subject_id").set_index("subject_id")[column]


def _holds(cond: Condition, x: Any) -> bool:
    if pd.isna(x):
        return False
    if cond.op == "in":
        assert isinstance(cond.value, tuple)
        return x in cond.value
    return bool(_OPS[cond.op](x, cond.value))


def _meets(t: ArmTables, cond: Condition) -> pd.Series:
    """Per randomised subject: the condition holds at every (``mode: all``) or at any
    (``mode: any``) listed week; a missing visit does not meet it."""
    ids = list(t.subjects)
    per_week = [
        _flags_at_week(t, cond.table, cond.column, week)
        .reindex(ids)
        .map(lambda x: _holds(cond, x))
        .astype(bool)
        for week in cond.weeks
    ]
    frame = pd.concat(per_week, axis=1)
    return frame.all(axis=1) if cond.mode == "all" else frame.any(axis=1)


def _relapsed(t: ArmTables, m: RemissionThenRelapse) -> pd.Series:
    """Per randomised subject: below ``remission_below`` at a visit, then above
    ``relapse_above`` at a later visit, both by ``m.week``."""
    df = t.visits if m.table == "visits" else t.scores
    df = df[df["week"] <= m.week].sort_values(["subject_id", "week"])
    relapsed: set[object] = set()
    for sid, g in df.groupby("subject_id"):
        x = g[m.column].to_numpy(dtype=float)
        remitted = np.flatnonzero(x < m.remission_below)
        if remitted.size and np.any(x[remitted[0] + 1 :] > m.relapse_above):
            relapsed.add(sid)
    ids = list(t.subjects)
    return pd.Series([i in relapsed for i in ids], index=ids)


def _proportion(
    t: ArmTables, m: ProportionAtWeek | EverByWeek | ShareMeeting | RemissionThenRelapse
) -> tuple[float, int]:
    ids = pd.Index(list(t.subjects))
    if isinstance(m, ProportionAtWeek):
        col = _flags_at_week(t, "scores", m.instrument, m.week).reindex(ids)
        hit = col.isin(m.values)
        return float(hit.mean()) if len(ids) else math.nan, len(ids)
    if isinstance(m, ShareMeeting | RemissionThenRelapse):
        if isinstance(m, ShareMeeting):
            met = pd.Series(True, index=ids)
            for cond in m.conditions:
                met &= _meets(t, cond)
        else:
            met = _relapsed(t, m).reindex(ids, fill_value=False)
        return (float(met.mean()) if len(ids) else math.nan), len(ids)
    keep = pd.Series(True, index=ids)
    for cond in m.among:
        keep &= _meets(t, cond)
    chosen = keep[keep].index
    s = t.scores[(t.scores["week"] <= m.week) & t.scores[m.instrument].isin(m.values)]
    ever = pd.Series(chosen.isin(s["subject_id"].unique()), index=chosen)
    return (float(ever.mean()) if len(chosen) else math.nan), len(chosen)


def _per_subject_window(t: ArmTables, observable: str, window: tuple[float, float]) -> np.ndarray:
    v = t.visits[(t.visits["study_day"] >= window[0]) & (t.visits["study_day"] <= window[1])]
    return v.groupby("subject_id")[observable].median().dropna().to_numpy(dtype=float)


def _baseline_values(t: ArmTables, m: BaselineStatistic) -> np.ndarray:
    df = t.visits if m.table == "visits" else t.scores
    col = df[df["week"] == 0.0].drop_duplicates("subject_id")[m.column].dropna()
    if m.statistic == "share":
        if m.op is None or m.value is None:
            raise ValueError("a baseline share needs op and value")
        return np.asarray([bool(_OPS[m.op](x, m.value)) for x in col], dtype=float)
    return col.to_numpy(dtype=float)


def _values_at_week(t: ArmTables, m: StatisticAtWeek) -> np.ndarray:
    col = _flags_at_week(t, m.table, m.column, m.week).reindex(list(t.subjects)).dropna()
    return col.to_numpy(dtype=float) * m.factor


def _baseline_stat(m: BaselineStatistic | StatisticAtWeek) -> Callable[[np.ndarray], float]:
    if m.statistic in ("median", "quantile"):
        q = 0.5 if m.statistic == "median" else float(m.q if m.q is not None else 0.5)
        return lambda x: float(np.quantile(x, q))
    if m.statistic == "sd":
        return lambda x: float(np.std(x, ddof=1))
    return lambda x: float(np.mean(x))  # mean, share


def estimate(
    measure: Measure, arms: Mapping[str, float], tables: Mapping[str, ArmTables]
) -> Estimate:
    """The measure on the (weighted mixture of) arms."""
    if isinstance(measure, SHARE_MEASURES):
        total = sum(arms.values())
        value = var = 0.0
        n_all = 0
        for arm, w in arms.items():
            p, n = _proportion(tables[arm], measure)
            if n == 0 or not math.isfinite(p):
                return Estimate(math.nan, math.nan, 0)
            value += w / total * p
            var += (w / total) ** 2 * p * (1 - p) / n
            n_all += n
        return Estimate(value, math.sqrt(var), n_all)
    (arm,) = arms
    t = tables[arm]
    if isinstance(measure, QuantileInWindow):
        x = _per_subject_window(t, measure.observable, measure.window_days)
        q = measure.q
        stat: Callable[[np.ndarray], float] = lambda a: float(np.quantile(a, q))  # noqa: E731
    elif isinstance(measure, RatioQuantile):
        x = ratio_by_subject(
            t.visits,
            measure.window_days,
            subject="subject_id",
            day="study_day",
            upcr="upcr_g_per_g",
        ).to_numpy(dtype=float)
        q = measure.q
        stat = lambda a: float(np.quantile(a, q))  # noqa: E731
    elif isinstance(measure, StatisticAtWeek):
        x = _values_at_week(t, measure)
        stat = _baseline_stat(measure)
    else:
        x = _baseline_values(t, measure)
        stat = _baseline_stat(measure)
    if len(x) == 0:
        return Estimate(math.nan, math.nan, 0)
    return Estimate(stat(x), _bootstrap_se(x, stat), len(x))
