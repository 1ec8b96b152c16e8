"""Render ``report.html`` of a finished virtual trial from its outputs alone.

:func:`render_trial_report` reads ``summary.json`` and ``results.duckdb`` of a run
directory (nothing is simulated) and writes one self-contained HTML file: figures are
PNG data URIs drawn with matplotlib's Agg canvas (no pyplot state), so the file can be
mailed or archived on its own. The panels reuse the study report's helpers
(:mod:`lupusim.report`): the same colours, axis labels with units and trajectory panel.

Sections: header (protocol, source, settings, a plain statement that these are model
predictions), population (screening funnel, baseline, target match), arm trajectories
(median and 25–75 % band of living subjects), endpoints (estimates with 95 % CIs,
responder and rate bars, value distributions, Kaplan–Meier curves, comparisons), power
(at the protocol's size and over the sample-size curve), failures and the raw summary.

Every section tolerates what a run may lack: JSON nulls, missing tables or columns,
endpoints without events, a single arm.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from lupusim.errors import LupusimError
from lupusim.report._figures import DPI, FIGSIZE_IN, _to_data_uri, group_colours, plot_panel
from lupusim.report._labels import axis_label, unit_from_name, variable_sort_key
from lupusim.report._render import _fmt, _version
from lupusim.report._stats import ALIVE, PanelStats
from lupusim.trial._run import read_table
from lupusim.trial._stats import kaplan_meier

REPORT_NAME = "report.html"
TEMPLATE = "trial_report.html.j2"

#: Trajectory panels, in this order; those absent from the table are skipped.
TRAJECTORY_VARIABLES: tuple[str, ...] = (
    "protein_24h_g",
    "egfr_ml_min_1_73m2",
    "anti_dsdna_iu_ml",
    "c3_g_l",
    "sledai2k",
    "prednisone_mg_day",
    "host_msc_function",
)
LOG_Y: frozenset[str] = frozenset({"anti_dsdna_iu_ml"})
BAND = (0.25, 0.5, 0.75)
DAYS_PER_WEEK = 7.0
POWER_TARGET = 0.8

#: Baseline columns that are identifiers or bookkeeping, not patient characteristics.
_NOT_BASELINE = frozenset({"subject_id", "candidate_index", "history", "female", "sex"})
_BASELINE_LABELS: dict[str, tuple[str, str]] = {
    "age_years": ("Age", "years"),
    "body_weight_kg": ("Body weight", "kg"),
    "renal_activity": ("Renal activity (model state)", "0–1"),
    "skin_activity": ("Skin activity (model state)", "0–1"),
    "joint_activity": ("Joint activity (model state)", "0–1"),
    "cns_activity": ("CNS activity (model state)", "0–1"),
    "inflammation": ("Inflammation (model state)", "a.u."),
}

_VIEW_COUNTERFACTUAL = "counterfactual (all virtual patients in every arm)"
_VIEW_RANDOMISED = "one randomised trial (protocol size)"

_MEASURES: dict[str, tuple[str, str]] = {
    # measure -> (label, how the two arms are combined)
    "risk_difference": ("risk difference", "−"),
    "mean_difference": ("mean difference", "−"),
    "hazard_ratio": ("hazard ratio", "/"),
    "rate_ratio": ("rate ratio", "/"),
    "log_rank": ("log-rank test", "vs"),
}

_DISCLAIMER = (
    "Everything below is a model prediction. The patients are virtual: each was drawn "
    "from lupusim's mechanistic model of lupus and its treatments, screened by the "
    "protocol's criteria and then simulated in every arm. No real patient was enrolled, "
    "and none of these numbers are trial data. Confidence intervals describe the "
    "sampling uncertainty among the virtual patients only, not the uncertainty of the "
    "model itself; read the results as hypotheses to be tested against real trials."
)


# ------------------------------------------------------------------------------------
# entry point
# ------------------------------------------------------------------------------------


def render_trial_report(out_dir: str | Path) -> Path:
    """Write ``out_dir/report.html`` from ``out_dir/summary.json`` and
    ``out_dir/results.duckdb``; returns the path written.

    Raises :class:`~lupusim.errors.LupusimError` when ``summary.json`` is missing or is
    not a JSON object. A missing database, table or column only removes the figures and
    tables that need it (the report says so). Rendering is deterministic: the same
    inputs give the same bytes.
    """
    out = Path(out_dir)
    summary_path = out / "summary.json"
    if not summary_path.is_file():
        raise LupusimError(
            f"{summary_path}: no summary.json, so there is nothing to report "
            "(run `lupusim trial run` into this directory first)"
        )
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LupusimError(f"{summary_path}: cannot be read as JSON ({exc})") from exc
    if not isinstance(summary, dict):
        raise LupusimError(f"{summary_path}: expected a JSON object, got {type(summary).__name__}")

    data = _RunData(out)
    arms = _arm_names(summary, data)
    colours = group_colours(arms) if arms else {}
    endpoints = _endpoint_specs(summary)
    protocol = str(summary.get("protocol") or out.name)

    context: dict[str, Any] = {
        "title": f"Virtual trial: {protocol}",
        "protocol": protocol,
        "source": _text(summary.get("source")),
        "analysis": _text(summary.get("analysis")),
        "version": _version(),
        "written": _written(summary_path),
        "disclaimer": _DISCLAIMER,
        "key_settings": _key_settings(summary),
        "settings": _all_settings(summary.get("settings")),
        "arms": [{"name": a, "colour": colours[a]} for a in arms],
        "headline": _headline(summary, endpoints),
        "population": _population(summary.get("population"), data),
        "trajectories": _trajectories(data, arms, colours, protocol),
        "endpoints": [
            _endpoint_section(name, spec, summary, data, arms, colours)
            for name, spec in endpoints.items()
        ],
        "power": _power(summary.get("power"), list(endpoints)),
        "failures": _failures(summary.get("failures"), data, arms),
        "data_notes": data.notes,
        "raw_summary": json.dumps(summary, indent=2, ensure_ascii=False, sort_keys=False),
    }
    html = _environment().get_template(TEMPLATE).render(**context)
    path = out / REPORT_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path


# ------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------


class _RunData:
    """The tables of ``results.duckdb``, read lazily; absences become notes."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.notes: list[str] = []
        self._cache: dict[str, pd.DataFrame | None] = {}
        self.has_database = (out / "results.duckdb").is_file()
        if not self.has_database:
            self.notes.append(
                f"{out / 'results.duckdb'} is missing: the figures and tables that need "
                "per-subject data are left out."
            )

    def table(self, name: str) -> pd.DataFrame | None:
        if name not in self._cache:
            self._cache[name] = self._read(name)
        return self._cache[name]

    def _read(self, name: str) -> pd.DataFrame | None:
        if not self.has_database:
            return None
        import duckdb

        try:
            return read_table(self.out, name)
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.notes.append(f"Table '{name}' could not be read from results.duckdb: {first}")
            return None


def _arm_names(summary: Mapping[str, Any], data: _RunData) -> list[str]:
    """Arms in protocol order (summary), then any others found in the trial or tables."""
    names: list[str] = []
    for block in (summary.get("arms"), _get(summary, "trial", "arms")):
        if isinstance(block, Mapping):
            names.extend(str(a) for a in block if str(a) not in names)
    if not names:
        outcomes = data.table("outcomes")
        if outcomes is not None and "arm" in outcomes.columns:
            names.extend(str(a) for a in pd.unique(outcomes["arm"].dropna()))
    return names


def _endpoint_specs(summary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{endpoint: {kind, horizon_weeks, ...}}``; from the arms when ``endpoints`` lacks."""
    raw = summary.get("endpoints")
    out: dict[str, dict[str, Any]] = {}
    if isinstance(raw, Mapping):
        for name, spec in raw.items():
            out[str(name)] = dict(spec) if isinstance(spec, Mapping) else {}
    arms = summary.get("arms")
    if isinstance(arms, Mapping):
        for block in arms.values():
            if isinstance(block, Mapping):
                for key, value in block.items():
                    if isinstance(value, Mapping) and str(key) not in out:
                        out[str(key)] = {}
    return out


def _written(path: Path) -> str:
    """When summary.json was written (its modification time: stable across renders)."""
    stamp = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


# ------------------------------------------------------------------------------------
# formatting
# ------------------------------------------------------------------------------------


def _get(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...`` or None where any level is missing or not a mapping."""
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _float(value: Any) -> float | None:
    """A finite float, or None (JSON null, NaN, text, bool)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _decimals(scale: float) -> int | None:
    """Decimals for numbers of this magnitude; None: use significant digits."""
    if scale == 0 or scale >= 100:
        return 0 if scale >= 100 else 2
    if scale >= 10:
        return 1
    if scale >= 0.01:
        return 2
    return None


def _num(value: Any, decimals: int | None = -1) -> str:
    """One number, compact: ``—`` for a missing one. ``decimals=-1`` picks by magnitude."""
    x = _float(value)
    if x is None:
        return "—"
    if decimals == -1:
        decimals = _decimals(abs(x))
    text = f"{x:.2g}" if decimals is None else f"{x:,.{decimals}f}"
    if text.startswith("-"):
        text = "−" + text[1:]
    return text[1:] if text.startswith("−") and not text.strip("−0.,") else text


def _ci(low: Any, high: Any, decimals: int | None) -> str:
    lo, hi = _num(low, decimals), _num(high, decimals)
    if lo == "—" and hi == "—":
        return "no CI"
    joiner = " to " if lo.startswith("−") or hi.startswith("−") else "–"
    return f"{lo}{joiner}{hi}"


def _estimate_ci(estimate: Any, ci: Any, *, scale: float = 1.0) -> str:
    """``0.64 (0.57–0.70)``: the estimate and its 95 % CI with common decimals."""
    lo, hi = _pair(ci)
    values = [v * scale for v in (_float(estimate), lo, hi) if v is not None]
    if not values:
        return "—"
    decimals = _decimals(max(abs(v) for v in values))
    est = _float(estimate)
    text = _num(None if est is None else est * scale, decimals)
    if lo is None and hi is None:
        return text
    low = None if lo is None else lo * scale
    high = None if hi is None else hi * scale
    return f"{text} ({_ci(low, high, decimals)})"


def _pair(ci: Any) -> tuple[float | None, float | None]:
    if isinstance(ci, Sequence) and not isinstance(ci, str) and len(ci) == 2:
        return _float(ci[0]), _float(ci[1])
    return None, None


def _p(value: Any) -> str:
    p = _float(value)
    if p is None:
        return "—"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}"


def _int(value: Any, *, grouped: bool = True) -> str:
    x = _float(value)
    if x is None:
        return "—"
    return f"{round(x):,d}" if grouped else str(round(x))


def _percent(part: Any, whole: Any) -> str:
    a, b = _float(part), _float(whole)
    if a is None or b is None or b <= 0:
        return ""
    return f"{100.0 * a / b:.1f} %"


def _label(variable: str) -> str:
    """A readable name with unit for baseline and trajectory variables."""
    if variable in _BASELINE_LABELS:
        name, unit = _BASELINE_LABELS[variable]
        return f"{name} ({unit})" if unit else name
    return axis_label(variable)


# ------------------------------------------------------------------------------------
# header
# ------------------------------------------------------------------------------------


def _key_settings(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    settings = summary.get("settings")
    settings = settings if isinstance(settings, Mapping) else {}
    n_pop = _get(summary, "population", "n_subjects")
    backend = _text(settings.get("backend")) or "—"
    workers = _float(settings.get("workers"))
    if workers is not None:
        backend += f" ({_int(workers)} worker{'s' if workers != 1 else ''})"
    rows = [
        (
            "Virtual patients",
            f"{_int(n_pop if n_pop is not None else settings.get('n_subjects'))}"
            " (each simulated in every arm)",
        ),
        ("Seed", _int(settings.get("seed"), grouped=False)),
        ("Backend", backend),
        ("ODE solver", _text(settings.get("solver")) or "—"),
        ("Randomised trials for power", _int(settings.get("n_trials"))),
        ("Chunk size", _int(settings.get("chunk_size"))),
    ]
    step = _float(settings.get("grid_step_days"))
    if step is not None:
        rows.append(("Integration grid step", f"{_fmt(step)} days"))
    return rows


def _all_settings(raw: Any) -> list[tuple[str, str]]:
    if not isinstance(raw, Mapping):
        return []
    return [(str(k), _fmt(v) if not isinstance(v, str) else v) for k, v in raw.items()]


def _headline(summary: Mapping[str, Any], endpoints: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per primary endpoint: arm estimates and the primary comparison."""
    primary = summary.get("primary_endpoints")
    names = [str(p) for p in primary] if isinstance(primary, list) else []
    lines = []
    for name in names:
        spec = endpoints.get(name, {})
        kind = str(spec.get("kind") or "")
        unit = _endpoint_unit(name, kind, spec)
        arms = summary.get("arms")
        parts = []
        if isinstance(arms, Mapping):
            for arm, block in arms.items():
                est = _get(block, name)
                if isinstance(est, Mapping):
                    parts.append(f"{arm} {_estimate_ci(est.get('estimate'), est.get('ci95'))}")
        text = f"Primary endpoint {name} ({unit}): " + ("; ".join(parts) if parts else "—")
        for cmp in _as_list(summary.get("comparisons")):
            if cmp.get("endpoint") == name:
                text += f". {_comparison_phrase(cmp)}"
        lines.append(text + ".")
    return lines


def _comparison_phrase(cmp: Mapping[str, Any]) -> str:
    measure = str(cmp.get("measure") or "difference")
    label, op = _MEASURES.get(measure, (measure.replace("_", " "), "vs"))
    arms = cmp.get("arms") if isinstance(cmp.get("arms"), list) else []
    who = f" ({f' {op} '.join(str(a) for a in arms)})" if arms else ""
    return (
        f"{label.capitalize()}{who} {_estimate_ci(cmp.get('difference'), cmp.get('ci95'))}, "
        f"p {_p_phrase(cmp.get('p_value'))}"
    )


def _p_phrase(value: Any) -> str:
    text = _p(value)
    return text if text.startswith("<") else f"= {text}"


def _as_list(raw: Any) -> list[Mapping[str, Any]]:
    return [x for x in raw if isinstance(x, Mapping)] if isinstance(raw, list) else []


# ------------------------------------------------------------------------------------
# population
# ------------------------------------------------------------------------------------


def _population(raw: Any, data: _RunData) -> dict[str, Any]:
    pop: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    screening: Mapping[str, Any] = _mapping(pop.get("screening"))
    funnel, criteria = _funnel(screening)
    histories = pop.get("histories")
    target = pop.get("target")
    return {
        "n_subjects": _int(pop.get("n_subjects")),
        "funnel": funnel,
        "criteria": criteria,
        "funnel_uri": _funnel_figure(funnel) if funnel else None,
        "eligible_fraction": _num(screening.get("eligible_fraction_of_alive")),
        "histories": [str(h) for h in histories] if isinstance(histories, list) else [],
        "target": _target_text(target),
        "baseline": _baseline(data),
        "match": _match(pop.get("match")),
    }


def _funnel(screening: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Stages (label, count, % of candidates) and the per-criterion failures."""
    if not screening:
        return [], []
    candidates = _float(screening.get("candidates"))
    failed = _float(screening.get("failed_integration")) or 0.0
    died = _float(screening.get("died_before_baseline")) or 0.0
    stages: list[dict[str, Any]] = []

    def stage(label: str, count: float | None, kind: str) -> None:
        if count is None:
            return
        stages.append(
            {
                "label": label,
                "count": count,
                "text": _int(count),
                "pct": _percent(count, candidates),
                "kind": kind,
            }
        )

    stage("Virtual candidates drawn", candidates, "total")
    stage("− failed integration (solver)", _float(screening.get("failed_integration")), "loss")
    stage("− died before baseline", _float(screening.get("died_before_baseline")), "loss")
    if candidates is not None:
        stage("Alive at baseline", candidates - failed - died, "total")
    criteria = []
    raw = screening.get("failed_criterion")
    if isinstance(raw, Mapping):
        for name, count in raw.items():
            criteria.append(
                {
                    "label": str(name),
                    "text": _int(count),
                    "pct": _percent(count, candidates - failed - died if candidates else None),
                }
            )
    stage("Eligible (met every criterion)", _float(screening.get("eligible")), "total")
    stage("Selected for the trial", _float(screening.get("selected")), "total")
    return stages, criteria


def _funnel_figure(stages: Sequence[Mapping[str, Any]]) -> str | None:
    bars = [s for s in stages if s["kind"] == "total"]
    if not bars:
        return None
    fig = Figure(figsize=(FIGSIZE_IN[0], 0.45 * len(bars) + 0.9), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
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
    return _to_data_uri(fig)


def _target_text(target: Any) -> str:
    if target is None:
        return ""
    if isinstance(target, str):
        return target
    return json.dumps(target, ensure_ascii=False, default=str)


def _baseline(data: _RunData) -> dict[str, Any]:
    """Median [IQR] per baseline variable of the selected subjects."""
    subjects = data.table("subjects")
    if subjects is None or subjects.empty:
        return {"rows": [], "n": "0", "histories": []}
    n = len(subjects)
    rows: list[dict[str, str]] = []
    if "female" in subjects.columns:
        female = pd.to_numeric(subjects["female"], errors="coerce")
        k = int((female > 0.5).sum())
        m = int(female.notna().sum())
        rows.append(
            {"label": "Female, n (%)", "value": f"{k} ({_percent(k, m) or '—'})", "n": str(m)}
        )
    numeric = [
        c
        for c in subjects.columns
        if c not in _NOT_BASELINE
        and pd.api.types.is_numeric_dtype(subjects[c])
        and not pd.api.types.is_bool_dtype(subjects[c])
    ]
    for column in sorted(numeric, key=_baseline_order):
        x = pd.to_numeric(subjects[column], errors="coerce").to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        if x.size == 0:
            rows.append({"label": _label(column), "value": "—", "n": "0"})
            continue
        q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75])
        dec = _decimals(float(max(abs(q1), abs(med), abs(q3))))
        value = f"{_num(med, dec)} [{_ci(q1, q3, dec)}]"
        rows.append({"label": _label(column), "value": value, "n": str(int(x.size))})
    histories: list[dict[str, str]] = []
    if "history" in subjects.columns:
        counts = subjects["history"].astype(str).value_counts(sort=False)
        for name in sorted(counts.index):
            histories.append(
                {"label": name, "value": f"{int(counts[name])} ({_percent(counts[name], n)})"}
            )
    return {"rows": rows, "n": str(n), "histories": histories}


def _baseline_order(variable: str) -> tuple[int, int, str]:
    first = ("age_years", "body_weight_kg")
    if variable in first:
        return (0, first.index(variable), "")
    if variable in _BASELINE_LABELS:
        return (2, 0, variable)
    rank, name = variable_sort_key(variable)
    return (1, rank, name)


_MATCH_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (report key, heading, kind)
    ("target_mean", "target mean", "num"),
    ("target_sd", "target SD", "num"),
    ("mean_unweighted", "pool mean (before)", "num"),
    ("mean_weighted", "pool mean (weighted)", "num"),
    ("selected_mean", "selected mean", "num"),
    ("selected_sd", "selected SD", "num"),
    ("ks_unweighted", "KS before", "ks"),
    ("ks_weighted", "KS weighted pool", "ks"),
    ("selected_ks", "KS selected", "ks"),
)


def _match(raw: Any) -> dict[str, Any] | None:
    """The target-population match: per variable target vs pool vs selected, KS, N_eff."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        return {"target": "", "reports": [], "columns": [], "rows": [], "raw": _fmt(raw)}
    reports = []
    per_variable: dict[str, dict[str, Any]] = {}
    for key in ("pool", "selected"):
        rep = raw.get(key)
        if not isinstance(rep, Mapping):
            continue
        reports.append(
            {
                "name": "candidate pool (weighted)" if key == "pool" else "selected subjects",
                "kind": _text(rep.get("kind")),
                "effective_n": _num(rep.get("effective_n")),
                "n_candidates": _int(rep.get("n_candidates")),
                "n_positive": _int(rep.get("n_positive")),
                "max_ks": _num(rep.get("max_ks")),
            }
        )
        for entry in _as_list(rep.get("variables")):
            name = str(entry.get("variable", "?"))
            row = per_variable.setdefault(name, {"target": entry.get("target")})
            if key == "pool":
                for k in (
                    "target_mean",
                    "target_sd",
                    "mean_unweighted",
                    "mean_weighted",
                    "ks_unweighted",
                    "ks_weighted",
                    "n_finite",
                ):
                    row[k] = entry.get(k)
            else:
                row["selected_mean"] = entry.get("mean_weighted")
                row["selected_sd"] = entry.get("sd_weighted")
                row["selected_ks"] = entry.get("ks_weighted")
                row.setdefault("target_mean", entry.get("target_mean"))
                row.setdefault("target_sd", entry.get("target_sd"))
                row.setdefault("ks_unweighted", entry.get("ks_unweighted"))
    present = [
        c for c in _MATCH_COLUMNS if any(r.get(c[0]) is not None for r in per_variable.values())
    ]
    rows = []
    for name, values in per_variable.items():
        cells = []
        for key, _, kind in present:
            v = values.get(key)
            css = "num"
            if kind == "ks":
                x = _float(v)
                css += " bad" if x is not None and x > 0.1 else ""
                cells.append({"text": _num(v, 3) if x is not None else "—", "css": css})
            else:
                cells.append({"text": _num(v), "css": css})
        rows.append({"variable": _label(name), "cells": cells})
    extra = {k: v for k, v in raw.items() if k not in ("pool", "selected", "target")}
    return {
        "target": _text(raw.get("target")),
        "reports": reports,
        "columns": [{"key": k, "label": label} for k, label, _ in present],
        "rows": rows,
        "raw": _fmt(extra) if extra else "",
    }


# ------------------------------------------------------------------------------------
# trajectories
# ------------------------------------------------------------------------------------


def _trajectories(
    data: _RunData, arms: Sequence[str], colours: Mapping[str, str], protocol: str
) -> dict[str, Any]:
    traj = data.table("trajectories")
    out: dict[str, Any] = {"panels": [], "notes": [], "n_subjects": ""}
    if traj is None:
        out["notes"].append("No trajectories table: no time-course figures.")
        return out
    missing = [c for c in ("arm", "day") if c not in traj.columns]
    if missing:
        out["notes"].append(f"The trajectories table lacks {', '.join(missing)}: no figures.")
        return out
    if traj.empty:
        out["notes"].append("The trajectories table is empty: no figures.")
        return out
    if "subject_id" in traj.columns:
        out["n_subjects"] = _int(traj["subject_id"].nunique())
    order = list(arms) + [str(a) for a in pd.unique(traj["arm"].astype(str)) if a not in arms]
    palette = dict(colours)
    extra = [a for a in order if a not in palette]
    if extra:
        palette.update(group_colours(order))
    alive = _alive_mask(traj)
    if alive is None:
        out["notes"].append("No 'alive' column: every subject-time is included.")
    variables = [v for v in TRAJECTORY_VARIABLES if v in traj.columns]
    absent = [v for v in TRAJECTORY_VARIABLES if v not in traj.columns]
    if absent:
        out["notes"].append("Not recorded in the trajectories: " + ", ".join(absent) + ".")
    for variable in variables:
        stats = _panel_stats(traj, variable, order, alive, protocol)
        if stats.table.empty:
            out["notes"].append(f"{variable}: no finite values among living subjects.")
            continue
        uri = plot_panel(
            stats,
            [],
            palette,
            time_label="time (weeks)",
            time_divisor=DAYS_PER_WEEK,
            log_y=variable in LOG_Y,
        )
        out["panels"].append(
            {"uri": uri, "variable": variable, "caption": _panel_caption(variable, stats)}
        )
    if alive is not None and not bool(alive.all()):
        stats = _alive_stats(traj, order, alive, protocol)
        uri = plot_panel(
            stats, [], palette, time_label="time (weeks)", time_divisor=DAYS_PER_WEEK, log_y=False
        )
        out["panels"].append(
            {
                "uri": uri,
                "variable": ALIVE,
                "caption": "Fraction of the plotted subjects alive, per arm and time.",
            }
        )
    return out


def _alive_mask(traj: pd.DataFrame) -> pd.Series | None:
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


def _panel_stats(
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


def _alive_stats(
    traj: pd.DataFrame, order: Sequence[str], alive: pd.Series, protocol: str
) -> PanelStats:
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


def _panel_caption(variable: str, stats: PanelStats) -> str:
    n = stats.table["n"].to_numpy(dtype=np.int64)
    count = f"{int(n.min())}" if n.min() == n.max() else f"{int(n.min())}–{int(n.max())}"
    text = (
        f"{_label(variable)}: median (line) and 25–75 % band (shade) per arm; "
        f"{count} subjects per arm and time"
    )
    if stats.alive_masked:
        text += " (living subjects only)"
    if variable in LOG_Y:
        text += "; log scale"
    return text + "."


# ------------------------------------------------------------------------------------
# endpoints
# ------------------------------------------------------------------------------------


def _endpoint_unit(name: str, kind: str, spec: Mapping[str, Any]) -> str:
    """The unit of an endpoint's estimate (summary.json records none for numeric ones)."""
    if spec.get("unit"):
        return str(spec["unit"])
    if kind == "binary":
        return "proportion of patients responding"
    if kind == "rate":
        return "events per 100 patient-years"
    if kind == "time_to_event":
        horizon = _float(spec.get("horizon_weeks"))
        at = f" at week {_num(horizon)}" if horizon is not None else ""
        return f"event-free probability{at} (Kaplan–Meier)"
    lowered = name.lower()
    if "prednisone" in lowered or "glucocorticoid" in lowered:
        return "g prednisone-equivalent (cumulative)" if "cumulative" in lowered else "mg/day"
    if "sledai" in lowered:
        return "SLEDAI-2K points (mean)"
    unit = unit_from_name(name)
    return f"{unit} (mean)" if unit else "mean (unit not recorded in summary.json)"


def _value_unit(unit: str) -> str:
    """The unit of one patient's value, from the unit of an endpoint's estimate."""
    if unit.startswith("mean (unit not recorded"):
        return ""
    return unit.removesuffix(" (mean)")


def _endpoint_section(
    name: str,
    spec: Mapping[str, Any],
    summary: Mapping[str, Any],
    data: _RunData,
    arms: Sequence[str],
    colours: Mapping[str, str],
) -> dict[str, Any]:
    kind = str(spec.get("kind") or "")
    primary = summary.get("primary_endpoints")
    is_primary = isinstance(primary, list) and name in [str(p) for p in primary]
    unit = _endpoint_unit(name, kind, spec)
    views = [
        (_VIEW_COUNTERFACTUAL, summary.get("arms")),
        (_VIEW_RANDOMISED, _get(summary, "trial", "arms")),
    ]
    rows = []
    methods: list[str] = []
    for view, block in views:
        if not isinstance(block, Mapping):
            continue
        for arm in arms:
            est = _get(block, arm, name)
            if not isinstance(est, Mapping):
                continue
            rows.append(
                {
                    "view": view,
                    "arm": arm,
                    "colour": colours.get(arm, "#555555"),
                    "n": _int(est.get("n") if kind != "rate" else _get(block, arm, "n")),
                    "estimate": _estimate_ci(est.get("estimate"), est.get("ci95")),
                    "details": _estimate_details(kind, est),
                }
            )
            _note_method(methods, est.get("method"))
            median = est.get("median")
            if isinstance(median, Mapping):
                _note_method(methods, median.get("method"))
    figures: list[dict[str, str]] = []
    risk: dict[str, Any] | None = None
    if kind in ("binary", "rate"):
        uri = _estimate_bars(name, kind, unit, summary, arms, colours)
        if uri:
            figures.append({"uri": uri, "caption": _bars_caption(kind)})
    elif kind == "numeric":
        uri = _value_boxes(name, _value_unit(unit), summary, data, arms, colours)
        if uri:
            figures.append(
                {
                    "uri": uri,
                    "caption": "Per-patient values (box: median and IQR, whiskers 1.5 × IQR) "
                    "of every virtual patient in each arm; diamonds: mean with 95 % CI "
                    "(filled: counterfactual; open: the randomised trial).",
                }
            )
    elif kind == "time_to_event":
        km = _km_figure(name, spec, data, arms, colours)
        if km is not None:
            uri, risk = km
            figures.append(
                {
                    "uri": uri,
                    "caption": "Kaplan–Meier event-free probability per arm (every virtual "
                    "patient in every arm), with pointwise 95 % CI (exponential Greenwood); "
                    "ticks: censored.",
                }
            )
    comparisons = []
    for view, raw in (
        (_VIEW_COUNTERFACTUAL, summary.get("comparisons")),
        (_VIEW_RANDOMISED, _get(summary, "trial", "comparisons")),
    ):
        for cmp in _as_list(raw):
            if str(cmp.get("endpoint")) != name:
                continue
            comparisons.append(_comparison_row(view, cmp, kind, unit))
    horizon = _float(spec.get("horizon_weeks"))
    return {
        "name": name,
        "anchor": "ep-" + "".join(ch if ch.isalnum() else "-" for ch in name),
        "kind": kind or "unknown",
        "primary": is_primary,
        "unit": unit,
        "horizon": (
            f"{'horizon' if kind == 'time_to_event' else 'follow-up'} {_fmt(horizon)} weeks"
            if horizon is not None
            else "horizon not recorded"
        ),
        "rows": rows,
        "methods": methods,
        "figures": figures,
        "risk": risk,
        "comparisons": comparisons,
    }


def _note_method(methods: list[str], method: Any) -> None:
    if method and str(method) not in methods:
        methods.append(str(method))


def _estimate_details(kind: str, est: Mapping[str, Any]) -> str:
    parts = []
    if kind == "time_to_event":
        parts.append(f"{_int(est.get('events'))} events")
        median = _float(est.get("median_weeks"))
        parts.append(f"median {_num(median)} weeks" if median is not None else "median not reached")
    elif kind == "rate":
        parts.append(f"{_int(est.get('events'))} events")
        parts.append(f"{_num(est.get('person_years'))} patient-years")
    elif kind == "numeric":
        median = est.get("median")
        if isinstance(median, Mapping):
            parts.append("median " + _estimate_ci(median.get("estimate"), median.get("ci95")))
    elif kind == "binary":
        p, n = _float(est.get("estimate")), _float(est.get("n"))
        if p is not None and n is not None:
            parts.append(f"{round(p * n):d} of {_int(n)} responders")
    return "; ".join(parts)


def _comparison_row(view: str, cmp: Mapping[str, Any], kind: str, unit: str) -> dict[str, str]:
    measure = str(cmp.get("measure") or "")
    label, op = _MEASURES.get(measure, (measure.replace("_", " ") or "—", "vs"))
    arms = cmp.get("arms") if isinstance(cmp.get("arms"), list) else []
    if measure == "risk_difference":
        label += ", proportion"
    elif measure == "mean_difference":
        label += f", {_value_unit(unit) or 'endpoint unit'}"
    return {
        "view": view,
        "arms": f" {op} ".join(str(a) for a in arms) if arms else "—",
        "measure": label,
        "value": _estimate_ci(cmp.get("difference"), cmp.get("ci95")),
        "p": _p(cmp.get("p_value")),
        "paired": "paired" if cmp.get("paired") is True else "unpaired",
        "method": _text(cmp.get("method")),
    }


def _bars_caption(kind: str) -> str:
    what = "Responders" if kind == "binary" else "Event rate"
    return (
        f"{what} per arm with 95 % CI: solid bars all virtual patients in every arm "
        "(counterfactual), hatched bars one randomised trial of the protocol's size."
    )


def _new_axes(size: tuple[float, float] = FIGSIZE_IN) -> tuple[Figure, Axes]:
    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def _estimate_bars(
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
        ("randomised trial", _get(summary, "trial", "arms"), {"alpha": 0.45, "hatch": "//"}),
    ]
    width = 0.38
    fig, ax = _new_axes()
    drawn = False
    top = 0.0
    labels: list[tuple[float, float, str]] = []
    for k, (_, block, style) in enumerate(views):
        for i, arm in enumerate(arms):
            est = _get(block, arm, name)
            if not isinstance(est, Mapping):
                continue
            value = _float(est.get("estimate"))
            if value is None:
                continue
            x = i + (k - 0.5) * width
            y = value * scale
            lo, hi = _pair(est.get("ci95"))
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
            n = _float(est.get("n")) if kind == "binary" else _float(est.get("events"))
            tag = f"{_num(y, 0 if kind == 'binary' else -1)}" + (" %" if kind == "binary" else "")
            if n is not None:
                tag += f"\n{'n' if kind == 'binary' else 'ev'}={_int(n)}"
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
    return _to_data_uri(fig)


def _endpoint_rows(data: _RunData, name: str) -> pd.DataFrame | None:
    outcomes = data.table("outcomes")
    if outcomes is None or not {"endpoint", "arm"}.issubset(outcomes.columns):
        return None
    rows = outcomes[outcomes["endpoint"].astype(str) == name]
    return rows if not rows.empty else None


def _value_boxes(
    name: str,
    unit: str,
    summary: Mapping[str, Any],
    data: _RunData,
    arms: Sequence[str],
    colours: Mapping[str, str],
) -> str | None:
    rows = _endpoint_rows(data, name)
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
    fig, ax = _new_axes()
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
    for k, block in enumerate((summary.get("arms"), _get(summary, "trial", "arms"))):
        for i, arm in enumerate(arms):
            est = _get(block, arm, name)
            if not isinstance(est, Mapping):
                continue
            y = _float(est.get("estimate"))
            if y is None:
                continue
            lo, hi = _pair(est.get("ci95"))
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
    return _to_data_uri(fig)


def _km_figure(
    name: str,
    spec: Mapping[str, Any],
    data: _RunData,
    arms: Sequence[str],
    colours: Mapping[str, str],
) -> tuple[str, dict[str, Any]] | None:
    """Kaplan–Meier step curves with CI bands per arm, and numbers at risk."""
    rows = _endpoint_rows(data, name)
    if rows is None or not {"time_weeks", "event"}.issubset(rows.columns):
        return None
    horizon = _float(spec.get("horizon_weeks"))
    fig, ax = _new_axes()
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
        "times": [_num(x, 0) for x in times],
        "rows": [
            {
                "arm": arm,
                "colour": colours.get(arm, "#555555"),
                "counts": [str(int((t >= x - 1e-9).sum())) for x in times],
            }
            for arm, t in curves.items()
        ],
    }
    return _to_data_uri(fig), risk


# ------------------------------------------------------------------------------------
# power
# ------------------------------------------------------------------------------------


def _power(raw: Any, endpoint_order: Sequence[str]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        return _no_power("No power analysis in summary.json.")
    if "endpoints" not in raw:
        return _no_power(str(raw.get("note") or "No power analysis in summary.json."))
    n_per_arm = raw.get("n_per_arm")
    size = _sizes(n_per_arm)
    rows = []
    for ep, entries in _endpoint_power(raw.get("endpoints")):
        for entry in entries:
            rows.append(
                {
                    "endpoint": ep,
                    "arms": " vs ".join(str(a) for a in entry.get("arms") or []) or "—",
                    "power": _power_text(entry),
                    "low": (_float(entry.get("power")) or 0.0) < POWER_TARGET,
                }
            )
    curve = _power_curve(raw, endpoint_order)
    notes = []
    if raw.get("with_replacement"):
        notes.append(
            "The protocol's trial is larger than the virtual population: subjects were "
            "drawn with replacement, so power at this size is optimistic."
        )
    if raw.get("note"):
        notes.append(str(raw["note"]))
    return {
        "note": "",
        "notes": notes,
        "alpha": _num(raw.get("alpha")),
        "n_trials": _int(raw.get("n_trials")),
        "tests": _text(raw.get("tests")),
        "size": size,
        "rows": rows,
        "curve": curve,
    }


def _no_power(note: str) -> dict[str, Any]:
    return {
        "note": note,
        "notes": [],
        "alpha": "—",
        "n_trials": "—",
        "tests": "",
        "size": "—",
        "rows": [],
        "curve": None,
    }


def _sizes(n_per_arm: Any) -> str:
    if not isinstance(n_per_arm, Mapping) or not n_per_arm:
        return "—"
    total = sum(_float(v) or 0.0 for v in n_per_arm.values())
    parts = ", ".join(f"{a} {_int(v)}" for a, v in n_per_arm.items())
    return f"{_int(total)} patients ({parts})"


def _endpoint_power(raw: Any) -> list[tuple[str, list[Mapping[str, Any]]]]:
    if not isinstance(raw, Mapping):
        return []
    return [(str(ep), _as_list(entries)) for ep, entries in raw.items()]


def _power_text(entry: Mapping[str, Any]) -> str:
    """``54 % (44–63 %)``: power and its CI in whole percent."""
    power = _float(entry.get("power"))
    if power is None:
        return "—"
    lo, hi = _pair(entry.get("ci95"))
    text = f"{100 * power:.0f} %"
    if lo is None and hi is None:
        return text
    return (
        f"{text} ({_ci(None if lo is None else 100 * lo, None if hi is None else 100 * hi, 0)} %)"
    )


def _power_curve(raw: Mapping[str, Any], endpoint_order: Sequence[str]) -> dict[str, Any] | None:
    """Power against total N per endpoint (and arm pair), the protocol size included."""
    points: list[tuple[float, str, Mapping[str, Any], bool, bool]] = []
    for entry in _as_list(raw.get("curve")):
        total = _float(entry.get("total"))
        if total is None:
            total = _float(sum(_float(v) or 0.0 for v in (entry.get("n_per_arm") or {}).values()))
        if total is None:
            continue
        for ep, items in _endpoint_power(entry.get("endpoints")):
            for item in items:
                points.append((total, ep, item, bool(entry.get("with_replacement")), False))
    if not points:
        return None
    n_per_arm = raw.get("n_per_arm")
    protocol_total = (
        sum(_float(v) or 0.0 for v in n_per_arm.values())
        if isinstance(n_per_arm, Mapping)
        else None
    )
    if protocol_total and not any(abs(p[0] - protocol_total) < 1e-9 for p in points):
        for ep, items in _endpoint_power(raw.get("endpoints")):
            for item in items:
                points.append((protocol_total, ep, item, bool(raw.get("with_replacement")), True))
    series: dict[str, list[tuple[float, float, float | None, float | None]]] = {}
    for total, ep, item, _, _ in points:
        arms = item.get("arms") or []
        key = ep if len(_pairs_of(raw, ep)) <= 1 else f"{ep} ({' vs '.join(map(str, arms))})"
        power = _float(item.get("power"))
        if power is None:
            continue
        lo, hi = _pair(item.get("ci95"))
        series.setdefault(key, []).append((total, power, lo, hi))
    if not series:
        return None
    keys = sorted(series, key=lambda k: _rank(k, endpoint_order))
    colours = group_colours(keys)
    fig, ax = _new_axes((FIGSIZE_IN[0] * 1.35, FIGSIZE_IN[1] * 1.15))
    totals = sorted({p[0] for p in points})
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
    ax.set_ylabel(f"power (%), two-sided α = {_num(raw.get('alpha'))}")
    ax.set_title("Power against sample size", fontsize=10)
    ax.grid(True, alpha=0.25, linewidth=0.6)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), framealpha=0.85)
    fig.tight_layout()
    table_rows = []
    for total in totals:
        cells = []
        for key in keys:
            match = [p for p in series[key] if abs(p[0] - total) < 1e-9]
            cells.append(
                _power_text({"power": match[0][1], "ci95": [match[0][2], match[0][3]]})
                if match
                else "—"
            )
        flags = [p for p in points if abs(p[0] - total) < 1e-9]
        table_rows.append(
            {
                "total": _int(total),
                "cells": cells,
                "protocol": any(p[4] for p in flags)
                or (protocol_total is not None and abs(total - protocol_total) < 1e-9),
                "replacement": any(p[3] for p in flags),
            }
        )
    return {"uri": _to_data_uri(fig), "labels": keys, "rows": table_rows}


def _pairs_of(raw: Mapping[str, Any], ep: str) -> list[Mapping[str, Any]]:
    return _as_list(_get(raw, "endpoints", ep))


def _rank(key: str, order: Sequence[str]) -> tuple[int, str]:
    base = key.split(" (")[0]
    return (order.index(base) if base in order else len(order), key)


# ------------------------------------------------------------------------------------
# failures
# ------------------------------------------------------------------------------------


def _failures(raw: Any, data: _RunData, arms: Sequence[str]) -> dict[str, Any]:
    fail: Mapping[str, Any] = _mapping(raw)
    by_arm = _mapping(fail.get("by_arm"))
    out: dict[str, Any] = {
        "excluded": _int(fail.get("subjects_excluded")) if fail else "—",
        "by_arm": [(str(a), _int(v)) for a, v in by_arm.items()],
        "status": [],
        "messages": [],
    }
    status = data.table("status")
    if status is None or "arm" not in status.columns:
        return out
    order = list(arms) + [a for a in pd.unique(status["arm"].astype(str)) if a not in arms]
    for arm in order:
        part = status[status["arm"].astype(str) == arm]
        if part.empty:
            continue
        row = {"arm": arm, "n": _int(len(part))}
        row["failed"] = _int((~part["ok"].astype(bool)).sum()) if "ok" in part.columns else "—"
        for key, column in (("deaths", "death_day"), ("eskd", "eskd_day")):
            # the day of the event; NULL, NaN or +inf when it did not happen
            days = pd.to_numeric(part[column], errors="coerce") if column in part.columns else None
            row[key] = "—" if days is None else _int(np.isfinite(days.to_numpy(float)).sum())
        for key in ("serious_infections", "flare_triggers", "policy_events"):
            row[key] = (
                _int(pd.to_numeric(part[key], errors="coerce").sum())
                if key in part.columns
                else "—"
            )
        out["status"].append(row)
    if "ok" in status.columns and "message" in status.columns:
        bad = status[~status["ok"].astype(bool)]
        if not bad.empty:
            counts = bad["message"].fillna("").astype(str).value_counts()
            out["messages"] = [(m or "(no message)", _int(c)) for m, c in counts.head(20).items()]
    return out


# ------------------------------------------------------------------------------------
# jinja
# ------------------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("lupusim.trial", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
