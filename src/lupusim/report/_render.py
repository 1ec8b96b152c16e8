"""Render a self-contained HTML report of a study reproduction."""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from lupusim.report._figures import group_colours, plot_panel, time_axis
from lupusim.report._labels import variable_sort_key
from lupusim.report._points import PublishedPoint
from lupusim.report._stats import ALIVE, PanelStats, TrajectoryIndex

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
                {"uri": uri, "variable": variable, "caption": _caption(variable, stats, points)}
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
        "version": _version(),
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "notes": [str(n) for n in notes],
        "headline": headline,
        "targets": targets,
        "comparisons": _comparisons(summary.get("comparisons")),
        "settings": _settings(summary.get("settings")),
        "calibration": _calibration(summary.get("calibration")),
        "studies": studies,
        "any_alive_masked": any_masked,
        "general_figure_notes": general_notes,
        "published": [_published_row(p, time_unit) for p in published],
        "other": _other(summary),
    }
    html = _environment().get_template("report.html.j2").render(**context)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(html, encoding="utf-8")


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
def _fmt(value: Any) -> str:
    """A compact, human-readable rendering of a summary value."""
    if value is None:
        return "—"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        x = float(value)
        if math.isnan(x):
            return "—"
        return f"{x:.4g}"
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(
        v is None or isinstance(v, str | int | float | bool) for v in value
    ):
        return ", ".join(_fmt(v) for v in value)
    return _json(value, limit=300)


def _json(value: Any, *, limit: int) -> str:
    try:
        text = json.dumps(value, default=str, ensure_ascii=False, indent=None)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _agreement(value: Any) -> dict[str, str]:
    if isinstance(value, bool | np.bool_):
        if value:
            return {"symbol": "✓", "css": "agree", "title": "agrees"}
        return {"symbol": "✗", "css": "disagree", "title": "does not agree"}
    return {"symbol": "—", "css": "unknown", "title": "not assessed"}


def _targets(raw: Any) -> tuple[list[dict[str, str]], str]:
    entries = [t for t in raw if isinstance(t, Mapping)] if isinstance(raw, list) else []
    rows = []
    for t in entries:
        row = {
            "target_id": _fmt(t.get("target_id", "")),
            "description": _fmt(t.get("description", "")),
            "simulated": _fmt(t.get("simulated")),
            "published": _fmt(t.get("published")),
        }
        row.update(_agreement(t.get("agrees")))
        rows.append(row)
    agree = sum(1 for r in rows if r["css"] == "agree")
    unknown = sum(1 for r in rows if r["css"] == "unknown")
    headline = f"{agree} of {len(rows)} published targets agree"
    if unknown:
        headline += f" ({unknown} not assessed)"
    return rows, headline


def _comparisons(raw: Any) -> dict[str, list[Any]]:
    items: list[tuple[str, Mapping[str, Any]]] = []
    if isinstance(raw, Mapping):
        items = [(str(k), v if isinstance(v, Mapping) else {"value": v}) for k, v in raw.items()]
    elif isinstance(raw, list):
        items = [
            (str(v.get("name", i + 1)), v) for i, v in enumerate(raw) if isinstance(v, Mapping)
        ]
    present = {k for _, v in items for k in v if k != "name"}
    columns = [(k, label) for k, label in _COMPARISON_COLUMNS if k in present]
    known = {k for k, _ in _COMPARISON_COLUMNS}
    extra = sorted(k for k in present if k not in known)
    columns += [(k, str(k)) for k in extra]
    rows = []
    for name, entry in items:
        cells = []
        for key, _ in columns:
            if key == "agrees":
                mark = _agreement(entry.get("agrees"))
                cells.append({"text": mark["symbol"], "css": mark["css"], "title": mark["title"]})
            else:
                value = entry.get(key, "")
                numeric = isinstance(value, int | float | np.number) and not isinstance(value, bool)
                cells.append({"text": _fmt(value), "css": "num" if numeric else "", "title": ""})
        rows.append({"name": name, "cells": cells})
    return {"columns": [{"key": k, "label": label} for k, label in columns], "rows": rows}


def _settings(raw: Any) -> list[tuple[str, str]]:
    if not isinstance(raw, Mapping):
        return []
    return [(str(k), _fmt(v)) for k, v in raw.items()]


def _calibration(raw: Any) -> list[dict[str, str]]:
    """Rows of a calibration fit: problem, target, simulated, published, residual."""
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return []
    rows = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            continue
        residual = entry.get("residual")
        bad = isinstance(residual, int | float) and abs(float(residual)) > 1.0
        scale = _fmt(entry.get("scale", ""))
        if entry.get("log_scale"):
            scale = f"log, {scale}"
        rows.append(
            {
                "problem": _fmt(entry.get("problem", "")),
                "target_id": _fmt(entry.get("target_id", "")),
                "description": _fmt(entry.get("description", "")),
                "simulated": _fmt(entry.get("simulated", "")),
                "published": _fmt(entry.get("published", "")),
                "scale": scale,
                "residual": _fmt(residual),
                "css": "bad" if bad else "ok",
            }
        )
    return rows


def _other(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    skip = {"targets", "comparisons", "settings", "calibration"}
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


def _published_row(
    point: PublishedPoint, time_unit: Mapping[str, tuple[str, float]] | None
) -> dict[str, str]:
    label, divisor = time_axis(point.study, time_unit)
    days = f"day {point.time_days:g}"
    time = days if divisor == 1.0 else f"{label}: {point.time_days / divisor:.4g} ({days})"
    low = "" if point.low is None else _fmt(point.low)
    high = "" if point.high is None else _fmt(point.high)
    if low and high:
        spread = f"{low}–{high}"
    elif low:
        spread = f"≥ {low}"
    elif high:
        spread = f"≤ {high}"
    else:
        spread = ""
    return {
        "target_id": point.target_id,
        "study": point.study,
        "variable": point.variable,
        "time": time,
        "value": _fmt(point.value),
        "spread": spread,
        "groups": ", ".join(point.groups) if point.groups else "all",
        "label": point.label,
    }


# ------------------------------------------------------------------ jinja
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("lupusim.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _version() -> str:
    try:
        from lupusim import __version__
    except ImportError:  # pragma: no cover
        return "unknown"
    return str(__version__)
