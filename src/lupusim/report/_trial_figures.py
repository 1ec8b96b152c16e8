"""The trial report's figures: screening funnel, arm trajectories, endpoints, power and
model uncertainty.

Each function draws one matplotlib figure from a run's numbers (``summary.json`` blocks
or rows of ``results.duckdb`` tables) and returns it as a PNG data URI, or None when
there is nothing to draw. Trajectory panels summarise per arm and day the values of the
living virtual patients (median and 25–75 % band) and reuse the study report's panel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from lupusim.report import _format as F
from lupusim.report._figures import FIGSIZE_IN, data_uri, group_colours, new_axes
from lupusim.report._stats import ALIVE, PanelStats

#: The band of the trajectory panels (low, mid, high quantile).
BAND = (0.25, 0.5, 0.75)
#: Power below this is flagged.
POWER_TARGET = 0.8


def funnel_figure(stages: Sequence[Mapping[str, Any]]) -> str | None:
    """Horizontal bars of the screening stages that are totals (not losses)."""
    bars = [s for s in stages if s["kind"] == "total"]
    if not bars:
        return None
    fig, ax = new_axes((FIGSIZE_IN[0], 0.45 * len(bars) + 0.9))
    y = np.arange(len(bars))[::-1]
    counts = np.array([float(s["count"]) for s in bars])
    ax.barh(y, counts, color="#4a78b5", height=0.6)
    top = max(float(counts.max()), 1.0)
    for yi, s in zip(y, bars, strict=True):
        ax.text(float(s["count"]) + 0.01 * top, yi, f" {s['text']}", va="center", fontsize=8)
    ax.set_yticks(y, [str(s["label"]) for s in bars], fontsize=8)
    ax.set_xlim(0, top * 1.18)
    ax.set_xlabel("virtual patients (n)")
    ax.set_title("Screening funnel", fontsize=10)
    ax.grid(True, axis="x", alpha=0.25, linewidth=0.6)
    fig.tight_layout()
    return data_uri(fig)


def alive_mask(traj: pd.DataFrame) -> pd.Series | None:
    """Which trajectory rows are of living subjects (None: no ``alive`` column)."""
    if "alive" not in traj.columns:
        return None
    alive = traj["alive"]
    if pd.api.types.is_bool_dtype(alive):
        return alive.fillna(False).astype(bool)
    return pd.to_numeric(alive, errors="coerce").gt(0.5)


def _ordered_table(frame: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    rank = {a: i for i, a in enumerate(order)}
    frame = frame.assign(_rank=frame["group"].map(rank).fillna(len(rank)))
    frame = frame.sort_values(["_rank", "time_days"], kind="stable")
    return frame.drop(columns="_rank").reset_index(drop=True)


def panel_stats(
    traj: pd.DataFrame,
    variable: str,
    order: Sequence[str],
    alive: pd.Series | None,
    protocol: str,
) -> PanelStats:
    """Median and 25–75 % band per arm and day of living subjects (PanelStats table)."""
    values = pd.to_numeric(traj[variable], errors="coerce")
    keep = np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if alive is not None:
        keep &= alive.to_numpy(dtype=bool)
    frame = pd.DataFrame(
        {
            "group": traj["arm"].astype(str).to_numpy()[keep],
            "time_days": pd.to_numeric(traj["day"], errors="coerce").to_numpy(dtype=float)[keep],
            "value": values.to_numpy(dtype=float, na_value=np.nan)[keep],
        }
    )
    frame = frame[np.isfinite(frame["time_days"])]
    if frame.empty:
        empty = pd.DataFrame(columns=["group", "time_days", "low", "mid", "high", "n"])
        return PanelStats(protocol, variable, empty, alive_masked=alive is not None)
    grouped = frame.groupby(["group", "time_days"], sort=True)["value"]
    q = grouped.quantile(list(BAND)).unstack()
    table = pd.DataFrame(
        {
            "low": q[BAND[0]].to_numpy(dtype=float),
            "mid": q[BAND[1]].to_numpy(dtype=float),
            "high": q[BAND[2]].to_numpy(dtype=float),
            "n": grouped.size().reindex(q.index).to_numpy(dtype=np.int64),
        },
        index=q.index,
    ).reset_index()
    return PanelStats(
        protocol, variable, _ordered_table(table, order), alive_masked=alive is not None
    )


def alive_stats(
    traj: pd.DataFrame, order: Sequence[str], alive: pd.Series, protocol: str
) -> PanelStats:
    """The fraction of subjects alive per arm and day (PanelStats table, ``mid``)."""
    frame = pd.DataFrame(
        {
            "group": traj["arm"].astype(str).to_numpy(),
            "time_days": pd.to_numeric(traj["day"], errors="coerce").to_numpy(dtype=float),
            "alive": alive.to_numpy(dtype=float),
        }
    )
    grouped = frame.groupby(["group", "time_days"], sort=True)["alive"]
    table = pd.DataFrame({"mid": grouped.mean(), "n": grouped.size()}).reset_index()
    table["low"] = np.nan
    table["high"] = np.nan
    table = table[["group", "time_days", "low", "mid", "high", "n"]]
    return PanelStats(protocol, ALIVE, _ordered_table(table, order), alive_masked=False)


def estimate_bars(
    name: str,
    kind: str,
    unit: str,
    summary: Mapping[str, Any],
    arms: Sequence[str],
    colours: Mapping[str, str],
) -> str | None:
    """Bars of the arms' estimates with CI error bars: counterfactual and randomised."""
    scale = 100.0 if kind == "binary" else 1.0
    views: list[tuple[str, Any, dict[str, Any]]] = [
        ("all virtual patients", summary.get("arms"), {"alpha": 0.9}),
        ("randomised trial", F.get(summary, "trial", "arms"), {"alpha": 0.45, "hatch": "//"}),
    ]
    width = 0.38
    fig, ax = new_axes()
    drawn = False
    top = 0.0
    labels: list[tuple[float, float, str]] = []
    for k, (_, block, style) in enumerate(views):
        for i, arm in enumerate(arms):
            est = F.get(block, arm, name)
            if not isinstance(est, Mapping):
                continue
            value = F.finite(est.get("estimate"))
            if value is None:
                continue
            x = i + (k - 0.5) * width
            y = value * scale
            lo, hi = F.pair(est.get("ci95"))
            colour = colours.get(arm, "#555555")
            ax.bar(x, y, width=width * 0.95, color=colour, edgecolor=colour, **style)
            if lo is not None and hi is not None:
                ax.errorbar(
                    [x],
                    [y],
                    yerr=[[max(y - lo * scale, 0.0)], [max(hi * scale - y, 0.0)]],
                    fmt="none",
                    ecolor="black",
                    capsize=3,
                    elinewidth=1.0,
                )
                top = max(top, hi * scale)
            top = max(top, y)
            n = F.finite(est.get("n")) if kind == "binary" else F.finite(est.get("events"))
            tag = f"{F.number(y, 0 if kind == 'binary' else -1)}" + (
                " %" if kind == "binary" else ""
            )
            if n is not None:
                tag += f"\n{'n' if kind == 'binary' else 'ev'}={F.count(n)}"
            labels.append((x, max(y, hi * scale if hi is not None else y), tag))
            drawn = True
    if not drawn:
        return None
    for x, y, tag in labels:  # value above the CI whisker
        ax.annotate(
            tag,
            (x, y),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=6.5,
        )
    ax.set_xticks(range(len(arms)), list(arms), fontsize=8)
    ax.set_xlim(-0.7, len(arms) - 0.3)
    if kind == "binary":
        ax.set_ylim(0, 119)
        ax.set_yticks(np.arange(0, 101, 20))
        ax.set_ylabel("responders (%)")
    else:
        ax.set_ylim(0, max(top * 1.25, 1.0))
        ax.set_ylabel(unit)
    ax.set_title(name, fontsize=10)
    ax.grid(True, axis="y", alpha=0.25, linewidth=0.6)
    ax.legend(
        handles=[
            Patch(facecolor="#777777", alpha=0.9, label="all virtual patients (counterfactual)"),
            Patch(facecolor="#777777", alpha=0.45, hatch="//", label="one randomised trial"),
        ],
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.1),
        ncol=2,
        frameon=False,
    )
    fig.tight_layout()
    return data_uri(fig)


def value_boxes(
    name: str,
    unit: str,
    summary: Mapping[str, Any],
    rows: pd.DataFrame | None,
    arms: Sequence[str],
    colours: Mapping[str, str],
) -> str | None:
    """Per-arm box plots of one numeric endpoint's per-patient values, arm means over them."""
    if rows is None or "value" not in rows.columns:
        return None
    series: list[np.ndarray] = []
    positions: list[int] = []
    for i, arm in enumerate(arms):
        values = pd.to_numeric(rows.loc[rows["arm"].astype(str) == arm, "value"], errors="coerce")
        v = values.to_numpy(dtype=float, na_value=np.nan)
        v = v[np.isfinite(v)]
        if v.size:
            series.append(v)
            positions.append(i)
    if not series:
        return None
    fig, ax = new_axes()
    parts = ax.boxplot(
        series,
        positions=positions,
        widths=0.5,
        patch_artist=True,
        showfliers=True,
        flierprops={"markersize": 2.5, "alpha": 0.5},
        medianprops={"color": "black", "linewidth": 1.2},
    )
    for box, i in zip(parts["boxes"], positions, strict=True):
        colour = colours.get(arms[i], "#555555")
        box.set_facecolor(colour)
        box.set_alpha(0.35)
        box.set_edgecolor(colour)
    for k, block in enumerate((summary.get("arms"), F.get(summary, "trial", "arms"))):
        for i, arm in enumerate(arms):
            est = F.get(block, arm, name)
            if not isinstance(est, Mapping):
                continue
            y = F.finite(est.get("estimate"))
            if y is None:
                continue
            lo, hi = F.pair(est.get("ci95"))
            colour = colours.get(arm, "#555555")
            xpos = i + 0.32 + 0.1 * k
            yerr = (
                [[max(y - lo, 0.0)], [max(hi - y, 0.0)]]
                if lo is not None and hi is not None
                else None
            )
            ax.errorbar(
                [xpos],
                [y],
                yerr=yerr,
                fmt="D",
                markersize=4.5,
                capsize=2.5,
                color=colour,
                markerfacecolor=colour if k == 0 else "white",
                markeredgecolor=colour,
                elinewidth=1.0,
            )
    ax.set_xticks(range(len(arms)), list(arms), fontsize=8)
    ax.set_xlim(-0.7, len(arms) - 0.3)
    ax.set_ylabel(unit or name)
    ax.set_title(name, fontsize=10)
    ax.grid(True, axis="y", alpha=0.25, linewidth=0.6)
    fig.tight_layout()
    return data_uri(fig)


def km_figure(
    name: str,
    spec: Mapping[str, Any],
    rows: pd.DataFrame | None,
    arms: Sequence[str],
    colours: Mapping[str, str],
) -> tuple[str, dict[str, Any]] | None:
    """Kaplan–Meier step curves with CI bands per arm, and numbers at risk."""
    # imported here: scipy.stats takes about a second to import, and the other reports
    # (the scoring report of lupusim.clinical above all) never draw a survival curve
    from lupusim.stats import kaplan_meier

    if rows is None or not {"time_weeks", "event"}.issubset(rows.columns):
        return None
    horizon = F.finite(spec.get("horizon_weeks"))
    fig, ax = new_axes()
    curves: dict[str, np.ndarray] = {}
    last = 0.0
    for arm in arms:
        part = rows[rows["arm"].astype(str) == arm]
        t = pd.to_numeric(part["time_weeks"], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        e = pd.to_numeric(part["event"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        ok = np.isfinite(t) & np.isfinite(e) & (t >= 0)
        t, e = t[ok], e[ok] > 0.5
        if t.size == 0:
            continue
        km = kaplan_meier(t, e)
        colour = colours.get(arm, "#555555")
        timeline = np.concatenate([km.timeline, [float(t.max())]])
        surv = np.concatenate([km.survival, km.survival[-1:]])
        ax.step(
            timeline,
            surv,
            where="post",
            color=colour,
            lw=1.6,
            label=f"{arm} (n={t.size}, events={int(e.sum())})",
        )
        lower = np.concatenate([km.ci_lower, km.ci_lower[-1:]])
        upper = np.concatenate([km.ci_upper, km.ci_upper[-1:]])
        if np.isfinite(lower).any() and np.isfinite(upper).any():
            ax.fill_between(timeline, lower, upper, step="post", color=colour, alpha=0.15, lw=0)
        censored = np.unique(t[~e])
        if censored.size:
            at = np.searchsorted(km.timeline, censored, side="right") - 1
            ax.plot(censored, km.survival[np.clip(at, 0, None)], "|", color=colour, ms=5, mew=0.8)
        curves[arm] = t
        last = max(last, float(t.max()))
    if not curves:
        return None
    end = horizon if horizon is not None else last
    ax.set_xlim(0, max(end, last, 1.0) * 1.02)
    ax.set_ylim(-0.02, 1.03)
    ax.set_xlabel("time (weeks)")
    ax.set_ylabel("event-free probability")
    ax.set_title(name, fontsize=10)
    ax.grid(True, alpha=0.25, linewidth=0.6)
    ax.legend(fontsize=7, loc="lower left", framealpha=0.85)
    fig.tight_layout()
    times = np.linspace(0.0, max(end, last), 6)
    risk = {
        "times": [F.number(x, 0) for x in times],
        "rows": [
            {
                "arm": arm,
                "colour": colours.get(arm, "#555555"),
                "counts": [str(int((t >= x - 1e-9).sum())) for x in times],
            }
            for arm, t in curves.items()
        ],
    }
    return data_uri(fig), risk


def power_curve_figure(
    series: Mapping[str, Sequence[tuple[float, float, float | None, float | None]]],
    keys: Sequence[str],
    totals: Sequence[float],
    protocol_total: float | None,
    alpha: str,
) -> str:
    """Power (%) with its CI against the total sample size, one line per key (endpoint
    and arm pair, points ``(total, power, low, high)``); 80 % and the protocol's size
    marked."""
    colours = group_colours(keys)
    fig, ax = new_axes((FIGSIZE_IN[0] * 1.35, FIGSIZE_IN[1] * 1.15))
    offsets = np.linspace(-0.012, 0.012, len(keys)) if len(keys) > 1 else np.zeros(1)
    span = max(totals) - min(totals) if len(totals) > 1 else max(totals[0], 1.0)
    for key, off in zip(keys, offsets, strict=True):
        pts = sorted(series[key])
        x = np.array([p[0] for p in pts]) + off * span
        y = np.array([100.0 * p[1] for p in pts])
        low = np.array([100.0 * (p[1] - p[2]) if p[2] is not None else 0.0 for p in pts])
        high = np.array([100.0 * (p[3] - p[1]) if p[3] is not None else 0.0 for p in pts])
        ax.errorbar(
            x,
            y,
            yerr=[np.maximum(low, 0), np.maximum(high, 0)],
            fmt="-o",
            ms=3.5,
            capsize=2.5,
            lw=1.4,
            elinewidth=0.9,
            color=colours[key],
            label=key,
        )
    ax.axhline(100 * POWER_TARGET, color="black", ls="--", lw=0.9, label="80 % power")
    if protocol_total:
        ax.axvline(protocol_total, color="#888888", ls=":", lw=1.0, label="protocol size")
    ax.set_ylim(-3, 103)
    ax.set_xlabel("total sample size (patients, all arms)")
    ax.set_ylabel(f"power (%), two-sided α = {alpha}")
    ax.set_title("Power against sample size", fontsize=10)
    ax.grid(True, alpha=0.25, linewidth=0.6)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), framealpha=0.85)
    fig.tight_layout()
    return data_uri(fig)


def uncertainty_figure(
    name: str,
    kind: str,
    unit: str,
    block: Mapping[str, Any],
    arms: Sequence[str],
    colours: Mapping[str, str],
) -> str | None:
    """One endpoint's arm estimates with both intervals: the 95 % sampling CI of the main
    run (black whisker) and the model interval across posterior draws (shaded box), the
    draws themselves as small dots. ``block``: summary.json's ``uncertainty.arms``."""
    scale = 100.0 if kind == "binary" else 1.0
    fig, ax = new_axes()
    drawn = False
    for i, arm in enumerate(arms):
        entry = F.get(block, arm, name)
        if not isinstance(entry, Mapping):
            continue
        colour = colours.get(arm, "#555555")
        lo, hi = F.pair(F.get(entry, "model", "interval90"))
        if lo is not None and hi is not None:
            ax.add_patch(
                Rectangle(
                    (i - 0.3, lo * scale),
                    0.6,
                    max((hi - lo) * scale, 1e-9),
                    facecolor=colour,
                    alpha=0.25,
                    edgecolor=colour,
                )
            )
        raw = entry.get("centred_draws", entry.get("draws")) or []
        draws = np.array(
            [F.finite(v) for v in raw if F.finite(v) is not None],
            dtype=float,
        )
        if draws.size:
            jitter = np.linspace(-0.22, 0.22, draws.size)
            ax.plot(i + jitter, draws * scale, ".", color=colour, ms=3, alpha=0.7)
        y = F.finite(entry.get("estimate"))
        if y is None:
            continue
        slo, shi = F.pair(entry.get("sampling_ci95"))
        yerr = (
            [[max(y - slo, 0.0) * scale], [max(shi - y, 0.0) * scale]]
            if slo is not None and shi is not None
            else None
        )
        ax.errorbar([i], [y * scale], yerr=yerr, fmt="D", color="black", capsize=4, ms=5)
        drawn = True
    if not drawn:
        return None
    ax.set_xticks(range(len(arms)), list(arms), fontsize=8)
    ax.set_xlim(-0.7, len(arms) - 0.3)
    ax.set_ylabel("responders (%)" if kind == "binary" else unit)
    ax.set_title(name, fontsize=10)
    ax.grid(True, axis="y", alpha=0.25, linewidth=0.6)
    ax.legend(
        handles=[
            Line2D([], [], color="black", marker="D", ms=5, label="fit, 95 % sampling CI"),
            Patch(facecolor="#777777", alpha=0.25, label="model 90 % interval"),
            Line2D([], [], color="#777777", marker=".", ls="none", label="posterior draws"),
        ],
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.1),
        ncol=3,
        frameon=False,
    )
    fig.tight_layout()
    return data_uri(fig)


def assurance_figure(
    series: Mapping[str, Sequence[tuple[float, float, float | None, float | None, float | None]]],
    keys: Sequence[str],
    protocol_total: float | None,
    alpha: str,
) -> str | None:
    """Power at the fit (solid), its model 90 % band across posterior draws (shaded) and
    the assurance (dashed) against total sample size, one colour per key; points
    ``(total, power, model low, model high, assurance)``."""
    if not keys:
        return None
    colours = group_colours(keys)
    fig, ax = new_axes((FIGSIZE_IN[0] * 1.35, FIGSIZE_IN[1] * 1.15))
    for key in keys:
        pts = sorted(series[key])
        x = np.array([p[0] for p in pts])
        ax.plot(x, [100 * p[1] for p in pts], "-o", ms=3.5, color=colours[key], label=key)
        lows = [p[2] for p in pts]
        highs = [p[3] for p in pts]
        if all(v is not None for v in lows + highs):
            ax.fill_between(
                x,
                [100 * float(v) for v in lows if v is not None],
                [100 * float(v) for v in highs if v is not None],
                color=colours[key],
                alpha=0.18,
                lw=0,
            )
        assured = [(p[0], p[4]) for p in pts if p[4] is not None]
        if assured:
            ax.plot(
                [a for a, _ in assured],
                [100 * float(b) for _, b in assured],
                "--",
                color=colours[key],
                lw=1.2,
            )
    ax.axhline(100 * POWER_TARGET, color="black", ls=":", lw=0.9)
    if protocol_total:
        ax.axvline(protocol_total, color="#888888", ls=":", lw=1.0)
    ax.set_ylim(-3, 103)
    ax.set_xlabel("total sample size (patients, all arms)")
    ax.set_ylabel(f"power (%), two-sided α = {alpha}")
    ax.set_title("Power and assurance", fontsize=10)
    ax.grid(True, alpha=0.25, linewidth=0.6)
    handles: list[Artist] = [
        Line2D([], [], color=colours[k], marker="o", ms=3.5, label=k) for k in keys
    ]
    handles += [
        Line2D([], [], color="#555555", label="power at the fit"),
        Patch(facecolor="#555555", alpha=0.18, label="model 90 % band"),
        Line2D([], [], color="#555555", ls="--", label="assurance"),
    ]
    ax.legend(
        handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), framealpha=0.85
    )
    fig.tight_layout()
    return data_uri(fig)
