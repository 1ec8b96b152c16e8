"""Goodness-of-fit outputs: a table (CSV) and a figure of every target row."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

GOF_COLUMNS = (
    "row",
    "published",
    "interval_low",
    "interval_high",
    "interval_kind",
    "simulated",
    "mc_se",
    "within",
    "z",
    "fitted",
)


def gof_frame(records: Sequence[dict[str, object]]) -> pd.DataFrame:
    """The goodness-of-fit table, one row per target."""
    return pd.DataFrame.from_records(list(records))


def plot_gof(table: pd.DataFrame, path: Path, title: str) -> None:
    """One line per target: the published interval (bar), the published value (black
    tick), the simulated value ± 2 Monte Carlo SE (dot; green when within) and, for rows
    with a twin arm, the twin's value (open circle): the gap is the treatment's share."""
    n = len(table)
    fig = Figure(figsize=(7.5, 0.32 * n + 1.4), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    # Each row on its own scale: positions relative to the published interval.
    lo = table["interval_low"].to_numpy(dtype=float)
    hi = table["interval_high"].to_numpy(dtype=float)
    width = np.where(hi > lo, hi - lo, 1.0)

    def rel(v: np.ndarray) -> np.ndarray:
        return (v - lo) / width

    sim = table["simulated"].to_numpy(dtype=float)
    mc = np.nan_to_num(table["mc_se"].to_numpy(dtype=float))
    ax.barh(y, 1.0, left=0.0, height=0.5, color="#dde6f0", label="published interval")
    ax.scatter(
        rel(table["published"].to_numpy(dtype=float)),
        y,
        marker="|",
        s=120,
        color="black",
        label="published value",
    )
    within = table["within"].to_numpy(dtype=bool)
    colours = np.where(within, "#2a9d3a", "#c0392b")
    ax.errorbar(rel(sim), y, xerr=2 * mc / width, fmt="none", ecolor="#555555", lw=1)
    ax.scatter(rel(sim), y, c=list(colours), s=22, zorder=3, label="simulated ± 2 MC SE")
    if "twin_simulated" in table and table["twin_simulated"].notna().any():
        twin = table["twin_simulated"].to_numpy(dtype=float)
        ax.scatter(
            rel(twin),
            y,
            facecolors="none",
            edgecolors="#555555",
            s=22,
            zorder=3,
            label="twin arm (same patients, no MSC)",
        )
    ax.set_yticks(
        y,
        [
            f"{r} ({v:.3g} vs {p:.3g})"
            for r, v, p in zip(table["row"], sim, table["published"], strict=True)
        ],
        fontsize=7,
    )
    ax.set_xlabel("position relative to the published interval (0 = low, 1 = high)")
    ax.set_xlim(-1.5, 2.5)
    ax.axvline(0, color="#aaaaaa", lw=0.5)
    ax.axvline(1, color="#aaaaaa", lw=0.5)
    ax.set_title(f"{title}: {int(within.sum())} of {n} within", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
