"""Per-panel summaries of long-format trajectories: median and 10-90 % band over time.

The long frame (``study, group, subject, time_days, variable, value``) may hold millions
of rows, so it is indexed once (:class:`TrajectoryIndex`): study, variable, group, subject
and time are factorised to integer codes, the rows of every ``(study, variable)`` pair are
located with one stable sort, the ``alive`` mask is a join on an integer (study, group,
subject, time) key through a dense lookup table, and each panel is summarised with a
single groupby over integer codes. No Python loop runs over subjects or time points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lupusim.errors import InputError

REQUIRED_COLUMNS: tuple[str, ...] = ("study", "group", "subject", "time_days", "variable", "value")
ALIVE = "alive"
QUANTILES: tuple[float, float, float] = (0.1, 0.5, 0.9)
MAX_TIME_POINTS = 400


@dataclass
class PanelStats:
    """Summary of one ``(study, variable)`` panel.

    ``table`` has one row per group and time point with columns ``group``,
    ``time_days``, ``low`` / ``mid`` / ``high`` (10th percentile / median / 90th
    percentile across subjects; for ``alive`` ``mid`` is the mean, i.e. the fraction alive,
    and ``low``/``high`` are NaN) and ``n`` (values that entered the statistic). Rows are
    ordered by group (order of first appearance in the trajectories) and then time.
    """

    study: str
    variable: str
    table: pd.DataFrame
    alive_masked: bool
    notes: list[str] = field(default_factory=list)


class TrajectoryIndex:
    """Index a long-format trajectory frame once, then summarise panels cheaply."""

    def __init__(self, trajectories: pd.DataFrame) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in trajectories.columns]
        if missing:
            raise InputError(
                "trajectories lack required column(s) "
                + ", ".join(repr(c) for c in missing)
                + f"; expected {', '.join(REQUIRED_COLUMNS)}"
            )
        self._values = pd.to_numeric(trajectories["value"], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        st_codes, st_uniques = _factorize(trajectories["study"])
        v_codes, v_uniques = _factorize(trajectories["variable"])
        g_codes, g_uniques = _factorize(trajectories["group"])
        s_codes, s_uniques = _factorize(trajectories["subject"])
        t_codes, t_uniques = _factorize(trajectories["time_days"])
        #: group labels in order of first appearance (colours follow this order)
        self.groups: list[str] = [str(g) for g in g_uniques]
        self._times = pd.to_numeric(pd.Series(t_uniques), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        self._n_times = max(len(t_uniques), 1)
        self._g_codes = g_codes
        self._t_codes = t_codes
        # The alive join key: one integer per (study, group, subject, time), compact
        # (subjects are numbered jointly), so that a dense lookup table can hold it.
        n_g, n_s = max(len(g_uniques), 1), max(len(s_uniques), 1)
        who, who_uniques = pd.factorize((st_codes * n_g + g_codes) * n_s + s_codes)
        del s_codes
        self._keys = who.astype(np.int64, copy=False) * self._n_times + t_codes
        self._key_space = max(len(who_uniques), 1) * self._n_times
        del who

        # Rows of each (study, variable) pair: one stable (radix for small codes) sort.
        self._rows: dict[tuple[str, str], np.ndarray] = {}
        n_v = max(len(v_uniques), 1)
        pair = st_codes * n_v + v_codes
        n_pairs = max(len(st_uniques), 1) * n_v
        if n_pairs < np.iinfo(np.int16).max:
            pair = pair.astype(np.int16)
        order = np.argsort(pair, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(pair, minlength=n_pairs))])
        del pair
        for code in np.flatnonzero(np.diff(bounds)):
            study, variable = divmod(int(code), n_v)
            key = (str(st_uniques[study]), str(v_uniques[variable]))
            rows = order[bounds[code] : bounds[code + 1]]
            if key in self._rows:  # e.g. 1 and "1" both present: merge
                rows = np.sort(np.concatenate([self._rows[key], rows]))
            self._rows[key] = rows.astype(np.int64, copy=False)
        self._alive_status: dict[str, np.ndarray | None] = {}

    # ------------------------------------------------------------------ queries
    def studies(self) -> list[str]:
        """Studies in order of first appearance."""
        return list(dict.fromkeys(s for s, _ in self._rows))

    def variables(self, study: str) -> list[str]:
        """Variables present for ``study``, in order of first appearance."""
        return [v for s, v in self._rows if s == study]

    def has_panel(self, study: str, variable: str) -> bool:
        return (study, variable) in self._rows

    def _alive_lookup(self, study: str) -> np.ndarray | None:
        """Status per join key for ``study``: 0 no record, 1 dead, 2 alive; None if none."""
        if study not in self._alive_status:
            rows = self._rows.get((study, ALIVE))
            status: np.ndarray | None = None
            if rows is not None and len(rows):
                with np.errstate(invalid="ignore"):
                    alive = self._values[rows] > 0.5
                status = np.zeros(self._key_space, dtype=np.int8)
                status[self._keys[rows]] = np.where(alive, 2, 1).astype(np.int8)
            self._alive_status[study] = status
        return self._alive_status[study]

    # ------------------------------------------------------------ summarising
    def panel(
        self, study: str, variable: str, *, max_time_points: int | None = MAX_TIME_POINTS
    ) -> PanelStats | None:
        """Summarise one panel; None when the trajectories hold no rows for it.

        For every variable but ``alive``, when the study has ``alive`` records only rows
        whose subject is alive (``alive > 0.5``; NaN counts as not alive) at the same time
        point are used; if none
        of the panel's rows has a matching ``alive`` record, all rows are used and a note
        says so. NaN values are ignored. ``max_time_points`` thins each group's time axis
        (evenly, keeping first and last) for plotting; None keeps every point.
        """
        rows = self._rows.get((study, variable))
        if rows is None:
            return None
        notes: list[str] = []
        masked = False
        if variable != ALIVE:
            lookup = self._alive_lookup(study)
            if lookup is not None:
                status = lookup[self._keys[rows]]
                if status.any():
                    rows = rows[status == 2]
                    masked = True
                else:
                    notes.append(
                        f"{study} / {variable}: no 'alive' record matches these rows "
                        "(different time grid?); all subjects were used."
                    )
        table = self._summarise(rows, mean_only=variable == ALIVE)
        if max_time_points is not None:
            table = thin_time_points(table, max_time_points)
        return PanelStats(study, variable, table, alive_masked=masked, notes=notes)

    def _summarise(self, rows: np.ndarray, *, mean_only: bool) -> pd.DataFrame:
        values = self._values[rows]
        finite = np.isfinite(values)
        rows, values = rows[finite], values[finite]
        if len(values) == 0:
            return _empty_summary()
        cell = self._g_codes[rows] * self._n_times + self._t_codes[rows]
        by_cell = pd.Series(values).groupby(cell, sort=True)
        if mean_only:
            stats = pd.DataFrame({"mid": by_cell.mean()})
            stats["low"] = np.nan
            stats["high"] = np.nan
        else:
            stats = by_cell.quantile(np.asarray(QUANTILES)).unstack()
            stats.columns = pd.Index(["low", "mid", "high"])
        stats["n"] = by_cell.size()
        cells = stats.index.to_numpy(dtype=np.int64)
        group_code, time_code = np.divmod(cells, self._n_times)
        out = pd.DataFrame(
            {
                "group_code": group_code,
                "group": np.asarray(self.groups, dtype=object)[group_code]
                if len(self.groups)
                else np.array([], dtype=object),
                "time_days": self._times[time_code],
                "low": stats["low"].to_numpy(dtype=float),
                "mid": stats["mid"].to_numpy(dtype=float),
                "high": stats["high"].to_numpy(dtype=float),
                "n": stats["n"].to_numpy(dtype=np.int64),
            }
        )
        out = out.sort_values(["group_code", "time_days"], kind="stable")
        return out.drop(columns="group_code").reset_index(drop=True)


def _empty_summary() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "group": pd.Series(dtype=object),
            "time_days": pd.Series(dtype=float),
            "low": pd.Series(dtype=float),
            "mid": pd.Series(dtype=float),
            "high": pd.Series(dtype=float),
            "n": pd.Series(dtype=np.int64),
        }
    )


def _factorize(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (int64, NaN kept as a value) and uniques in order of appearance."""
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    return np.asarray(codes, dtype=np.int64), pd.Index(uniques)


def thin_time_points(table: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """Keep at most ``max_points`` evenly spaced time points per group (first and last kept).

    ``table`` must be ordered by group then time (as :meth:`TrajectoryIndex.panel` returns).
    """
    if max_points < 2 or table.empty:
        return table
    sizes = table.groupby("group", sort=False).size()
    if int(sizes.max()) <= max_points:
        return table
    keep: list[np.ndarray] = []
    start = 0
    for size in sizes.to_numpy():  # one iteration per group
        n = int(size)
        if n > max_points:
            picked = np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))
            keep.append(start + picked)
        else:
            keep.append(start + np.arange(n))
        start += n
    return table.iloc[np.concatenate(keep)].reset_index(drop=True)


def summarise_panel(
    trajectories: pd.DataFrame,
    study: str,
    variable: str,
    *,
    max_time_points: int | None = MAX_TIME_POINTS,
) -> pd.DataFrame:
    """One-off convenience: :meth:`TrajectoryIndex.panel`'s table (empty if absent)."""
    stats = TrajectoryIndex(trajectories).panel(study, variable, max_time_points=max_time_points)
    if stats is None:
        return _empty_summary()
    return stats.table
