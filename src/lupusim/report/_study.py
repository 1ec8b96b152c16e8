"""The study report: a reproduction's published targets, comparisons and trajectories.

:func:`render_study_report` writes one self-contained HTML file (template
``study.html.j2``): the headline count of agreeing targets, tables of targets,
comparisons, calibration residuals and settings, per-study trajectory panels with the
published points drawn over them (PNG data URIs), the published points themselves and
every other summary field.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lupusim.report._figures import Picture, group_colours, plot_panel, time_axis
from lupusim.report._format import fmt
from lupusim.report._labels import variable_sort_key
from lupusim.report._page import render_page, utc_stamp, write_page
from lupusim.report._points import PublishedPoint
from lupusim.report._stats import ALIVE, PanelStats, TrajectoryIndex
from lupusim.report._tables import (
    NUM,
    Cell,
    Column,
    Row,
    Table,
    columns,
    key_value_table,
    row,
    value_cell,
)

_COMPARISON_COLUMNS: tuple[tuple[str, str], ...] = (
    ("description", "Description"),
    ("value", "Value"),
    ("unit", "Unit"),
    ("direction_expected", "Expected direction"),
    ("agrees", "Agrees"),
)
_MAX_OTHER_CHARS = 4000


def render_study_report(
    title: str,
    trajectories: pd.DataFrame,
    summary: dict,
    published: Sequence[PublishedPoint],
    out_path: Path,
    *,
    panels: Sequence[tuple[str, str]] | None = None,
    time_unit: Mapping[str, tuple[str, float]] | None = None,
    log_scale: Collection[str] = (),
    notes: Sequence[str] = (),
) -> None:
    """Write one self-contained HTML file (figures inline as PNG) reporting a reproduction.

    ``trajectories`` is long format (``study, group, subject, time_days, variable,
    value``); ``summary`` is the content of ``summary.json`` (``targets``,
    ``comparisons``, optional ``settings`` and anything else); ``published`` points are
    drawn over the matching ``(study, variable)`` panel. ``panels`` chooses and orders
    the panels (default: every pair present); a requested panel without data is skipped
    with a note in the report. ``time_unit`` maps a study to (axis label, days per
    unit); ``log_scale`` names variables plotted on a log y axis; ``notes`` are plain-text
    paragraphs shown under the title.
    """
    index = TrajectoryIndex(trajectories)
    colours = group_colours(index.groups)
    wanted = _choose_panels(index, panels)
    log_vars = set(log_scale)

    studies: list[dict[str, Any]] = []
    plotted: set[tuple[str, str]] = set()
    any_masked = False
    for study, variables in wanted:
        label, divisor = time_axis(study, time_unit)
        section: dict[str, Any] = {"name": study, "panels": [], "notes": [], "groups": []}
        seen_groups: set[str] = set()
        for variable in variables:
            stats = index.panel(study, variable)
            if stats is None:
                section["notes"].append(
                    f"Panel {study} / {variable} skipped: the trajectories hold no "
                    f"'{variable}' values for study '{study}'."
                )
                continue
            section["notes"].extend(stats.notes)
            if stats.table.empty:
                section["notes"].append(
                    f"Panel {study} / {variable} skipped: no finite values"
                    + (" among living subjects." if stats.alive_masked else ".")
                )
                continue
            any_masked = any_masked or stats.alive_masked
            points = [p for p in published if p.study == study and p.variable == variable]
            uri = plot_panel(
                stats,
                points,
                colours,
                time_label=label,
                time_divisor=divisor,
                log_y=variable in log_vars,
            )
            plotted.add((study, variable))
            seen_groups.update(stats.table["group"].astype(str).unique())
            section["panels"].append(
                Picture(uri, f"{study}: {variable}", _caption(variable, stats, points))
            )
        section["groups"] = [
            {"name": g, "colour": colours[g]} for g in index.groups if g in seen_groups
        ]
        n_panels = len(section["panels"])
        section["columns"] = 2 if n_panels in (1, 2, 4) else 3
        studies.append(section)

    general_notes: list[str] = []
    if len(trajectories) == 0:
        general_notes.append("The trajectories are empty: no figures.")
    unplotted = [p for p in published if (p.study, p.variable) not in plotted]
    if unplotted:
        general_notes.append(
            "Published points without a plotted panel: "
            + ", ".join(f"{p.target_id} ({p.study} / {p.variable})" for p in unplotted)
            + "."
        )

    targets, headline = _targets(summary.get("targets"))
    context = {
        "title": title,
        "generated": utc_stamp(),
        "notes": [str(n) for n in notes],
        "headline": headline,
        "targets": targets,
        "comparisons": _comparisons(summary.get("comparisons")),
        "projection_uncertainty": _projection_uncertainty(summary.get("projection_uncertainty")),
        "settings": _settings(summary.get("settings")),
        "calibration": _calibration(summary.get("calibration")),
        "studies": studies,
        "any_alive_masked": any_masked,
        "general_figure_notes": general_notes,
        "published": _published(published, time_unit),
        "other": _other(summary),
    }
    write_page(out_path, render_page("study.html.j2", **context))


# ------------------------------------------------------------------ panels
def _choose_panels(
    index: TrajectoryIndex, panels: Sequence[tuple[str, str]] | None
) -> list[tuple[str, list[str]]]:
    """Panels grouped by study, studies in order of first appearance."""
    by_study: dict[str, list[str]] = {}
    if panels is None:
        for study in index.studies():
            by_study[study] = sorted(index.variables(study), key=variable_sort_key)
    else:
        for study, variable in panels:
            chosen = by_study.setdefault(str(study), [])
            if str(variable) not in chosen:
                chosen.append(str(variable))
    return list(by_study.items())


def _caption(variable: str, stats: PanelStats, points: Sequence[PublishedPoint]) -> str:
    n_min, n_max = int(stats.table["n"].min()), int(stats.table["n"].max())
    what = "fraction alive" if variable == ALIVE else "median and 10–90 % band"
    count = str(n_min) if n_min == n_max else f"{n_min}–{n_max}"
    text = f"{variable}: {what}; {count} subjects per group and time"
    if stats.alive_masked:
        text += " (living subjects only)"
    if points:
        text += "; published: " + ", ".join(p.target_id for p in points)
    return text + "."


# ----------------------------------------------------------------- summary
def _agreement(value: Any) -> Cell:
    """✓ / ✗ / — for an ``agrees`` value (true, false, not assessed)."""
    if isinstance(value, bool | np.bool_):
        if value:
            return Cell("✓", "agree", "agrees")
        return Cell("✗", "disagree", "does not agree")
    return Cell("—", "unknown", "not assessed")


def _targets(raw: Any) -> tuple[Table, str]:
    entries = [t for t in raw if isinstance(t, Mapping)] if isinstance(raw, list) else []
    rows = [
        row(
            fmt(t.get("target_id", "")),
            fmt(t.get("description", "")),
            Cell(fmt(t.get("simulated")), NUM),
            Cell(fmt(t.get("published")), NUM),
            _agreement(t.get("agrees")),
        )
        for t in entries
    ]
    marks = [r.cells[-1].css for r in rows]
    unknown = marks.count("unknown")
    headline = f"{marks.count('agree')} of {len(rows)} published targets agree"
    if unknown:
        headline += f" ({unknown} not assessed)"
    heads = columns("Target", "Description", "Simulated", "Published", "Agrees")
    return Table(heads, tuple(rows), "targets"), headline


def _comparisons(raw: Any) -> Table:
    items: list[tuple[str, Mapping[str, Any]]] = []
    if isinstance(raw, Mapping):
        items = [(str(k), v if isinstance(v, Mapping) else {"value": v}) for k, v in raw.items()]
    elif isinstance(raw, list):
        items = [
            (str(v.get("name", i + 1)), v) for i, v in enumerate(raw) if isinstance(v, Mapping)
        ]
    present = {k for _, v in items for k in v if k != "name"}
    keys = [(k, label) for k, label in _COMPARISON_COLUMNS if k in present]
    known = {k for k, _ in _COMPARISON_COLUMNS}
    keys += [(k, str(k)) for k in sorted(k for k in present if k not in known)]
    rows = []
    for name, entry in items:
        cells = [Cell(name)]
        for key, _ in keys:
            if key == "agrees":
                cells.append(_agreement(entry.get("agrees")))
            else:
                cells.append(value_cell(entry.get(key, "")))
        rows.append(Row(tuple(cells)))
    heads = (Column("Comparison"), *(Column(label) for _, label in keys))
    return Table(heads, tuple(rows), "comparisons")


def _settings(raw: Any) -> Table:
    if not isinstance(raw, Mapping):
        return Table((), ())
    return key_value_table((str(k), fmt(v)) for k, v in raw.items())


def _calibration(raw: Any) -> Table:
    """Rows of a calibration fit: problem, target, simulated, published, residual."""
    heads = columns(
        "Problem", "Target", "Description", "Simulated", "Published", "Scale", "Residual"
    )
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return Table(heads, (), "calibration")
    rows = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            continue
        residual = entry.get("residual")
        bad = isinstance(residual, int | float) and abs(float(residual)) > 1.0
        scale = fmt(entry.get("scale", ""))
        if entry.get("log_scale"):
            scale = f"log, {scale}"
        rows.append(
            row(
                fmt(entry.get("problem", "")),
                fmt(entry.get("target_id", "")),
                fmt(entry.get("description", "")),
                Cell(fmt(entry.get("simulated", "")), NUM),
                Cell(fmt(entry.get("published", "")), NUM),
                Cell(scale, NUM),
                Cell(fmt(residual), f"{NUM} {'bad' if bad else 'ok'}"),
            )
        )
    return Table(heads, tuple(rows), "calibration")


def _projection_uncertainty(raw: Any) -> dict[str, Any] | None:
    """Each projection outcome at the fit beside its model 90 % interval across the
    posterior parameter sets (``lupusim reproduce sun2009 --uncertainty K``)."""
    if not isinstance(raw, Mapping):
        return None
    rows = []
    for arm, block in (raw.get("arms") or {}).items():
        for name, entry in (block or {}).items():
            if not isinstance(entry, Mapping):
                continue
            interval = (entry.get("model") or {}).get("interval90") or [None, None]
            rows.append(
                row(
                    str(arm),
                    str(name).replace("_", " "),
                    Cell(fmt(entry.get("estimate")), NUM),
                    Cell(f"{fmt(interval[0])} – {fmt(interval[1])}", NUM),
                )
            )
    return {
        "method": str(raw.get("method", "")),
        "posterior": str(raw.get("posterior", "")),
        "check": str(raw.get("posterior_check") or ""),
        "table": Table(
            columns("Arm", "Outcome", ("At the fit", NUM), ("Model 90 % interval", NUM)),
            tuple(rows),
        ),
    }


def _other(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    skip = {"targets", "comparisons", "settings", "calibration", "projection_uncertainty"}
    out = []
    for key, value in summary.items():
        if key in skip:
            continue
        try:
            text = json.dumps(value, default=str, ensure_ascii=False, indent=2)
        except (TypeError, ValueError):
            text = repr(value)
        if len(text) > _MAX_OTHER_CHARS:
            text = text[:_MAX_OTHER_CHARS] + "\n… (truncated; see summary.json)"
        out.append((str(key), text))
    return out


def _published(
    points: Sequence[PublishedPoint], time_unit: Mapping[str, tuple[str, float]] | None
) -> Table:
    heads = columns("Target", "Study", "Variable", "Time", "Value", "Spread", "Groups", "Source")
    return Table(heads, tuple(_published_row(p, time_unit) for p in points), "published")


def _published_row(point: PublishedPoint, time_unit: Mapping[str, tuple[str, float]] | None) -> Row:
    label, divisor = time_axis(point.study, time_unit)
    days = f"day {point.time_days:g}"
    time = days if divisor == 1.0 else f"{label}: {point.time_days / divisor:.4g} ({days})"
    low = "" if point.low is None else fmt(point.low)
    high = "" if point.high is None else fmt(point.high)
    if low and high:
        spread = f"{low}–{high}"
    elif low:
        spread = f"≥ {low}"
    elif high:
        spread = f"≤ {high}"
    else:
        spread = ""
    return row(
        point.target_id,
        point.study,
        point.variable,
        time,
        Cell(fmt(point.value), NUM),
        Cell(spread, NUM),
        ", ".join(point.groups) if point.groups else "all",
        point.label,
    )
