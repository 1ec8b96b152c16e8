"""The trial report: ``report.html`` of a finished virtual trial, from its outputs alone.

:func:`render_trial_report` reads ``summary.json`` and ``results.duckdb`` of a run
directory (nothing is simulated) and writes one self-contained HTML file (template
``trial.html.j2``; figures from :mod:`lupusim.report._trial_figures` as PNG data URIs),
so the file can be mailed or archived on its own.

Sections: header (protocol, source, settings, a plain statement that these are model
predictions), population (screening funnel, baseline, target match), arm trajectories
(median and 25–75 % band of living subjects), endpoints (estimates with 95 % CIs,
responder and rate bars, value distributions, Kaplan–Meier curves, comparisons), power
(at the protocol's size and over the sample-size curve), model uncertainty (when the run
has posterior draws: model intervals and assurance), failures and the raw summary.

Every section tolerates what a run may lack: JSON nulls, missing tables or columns,
endpoints without events, a single arm.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lupusim.errors import LupusimError
from lupusim.report import _format as F
from lupusim.report import _trial_figures as figures
from lupusim.report._figures import Picture, group_colours, plot_panel
from lupusim.report._labels import axis_label, unit_from_name, variable_sort_key
from lupusim.report._page import render_page, utc_stamp, write_page
from lupusim.report._stats import ALIVE, PanelStats
from lupusim.report._tables import (
    NUM,
    Cell,
    Column,
    Row,
    Table,
    columns,
    key_value_table,
    row,
    table_from_frame,
)
from lupusim.report._uncertainty import uncertainty_section
from lupusim.results import RESULTS_DB, read_table

REPORT_NAME = "report.html"
TEMPLATE = "trial.html.j2"

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
DAYS_PER_WEEK = 7.0

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

_DISCLAIMER_MODEL = (
    _DISCLAIMER.split(" Confidence intervals")[0]
    + " Confidence intervals describe the sampling uncertainty among the virtual "
    "patients; the model-uncertainty section adds, for the same numbers, their spread "
    "over parameter sets drawn from the calibration's posterior, which carries only "
    "what the calibration targets say about the parameters, not errors of the model's "
    "structure. Read the results as hypotheses to be tested against real trials."
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
        "source": F.text(summary.get("source")),
        "analysis": F.text(summary.get("analysis")),
        "written": _written(summary_path),
        "disclaimer": _DISCLAIMER if "uncertainty" not in summary else _DISCLAIMER_MODEL,
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
        "uncertainty": uncertainty_section(
            summary.get("uncertainty"),
            summary.get("power"),
            {name: _kind_unit(name, spec) for name, spec in endpoints.items()},
            arms,
            colours,
        ),
        "failures": _failures(summary.get("failures"), data, arms),
        "data_notes": data.notes,
        "raw_summary": json.dumps(summary, indent=2, ensure_ascii=False, sort_keys=False),
    }
    return write_page(out / REPORT_NAME, render_page(TEMPLATE, **context))


# ------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------


class _RunData:
    """The tables of ``results.duckdb``, read lazily; absences become notes."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.notes: list[str] = []
        self._cache: dict[str, pd.DataFrame | None] = {}
        self.has_database = (out / RESULTS_DB).is_file()
        if not self.has_database:
            self.notes.append(
                f"{out / RESULTS_DB} is missing: the figures and tables that need "
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
    for block in (summary.get("arms"), F.get(summary, "trial", "arms")):
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
    return utc_stamp(datetime.fromtimestamp(path.stat().st_mtime, tz=UTC))


def _label(variable: str) -> str:
    """A readable name with unit for baseline and trajectory variables."""
    if variable in _BASELINE_LABELS:
        name, unit = _BASELINE_LABELS[variable]
        return f"{name} ({unit})" if unit else name
    return axis_label(variable)


# ------------------------------------------------------------------------------------
# header
# ------------------------------------------------------------------------------------


def _key_settings(summary: Mapping[str, Any]) -> Table:
    settings = summary.get("settings")
    settings = settings if isinstance(settings, Mapping) else {}
    n_pop = F.get(summary, "population", "n_subjects")
    backend = F.text(settings.get("backend")) or "—"
    workers = F.finite(settings.get("workers"))
    if workers is not None:
        backend += f" ({F.count(workers)} worker{'s' if workers != 1 else ''})"
    rows = [
        (
            "Virtual patients",
            f"{F.count(n_pop if n_pop is not None else settings.get('n_subjects'))}"
            " (each simulated in every arm)",
        ),
        ("Seed", F.count(settings.get("seed"), grouped=False)),
        ("Backend", backend),
        ("ODE solver", F.text(settings.get("solver")) or "—"),
        ("Randomised trials for power", F.count(settings.get("n_trials"))),
        ("Chunk size", F.count(settings.get("chunk_size"))),
    ]
    step = F.finite(settings.get("grid_step_days"))
    if step is not None:
        rows.append(("Integration grid step", f"{F.fmt(step)} days"))
    return key_value_table(rows)


def _all_settings(raw: Any) -> Table:
    if not isinstance(raw, Mapping):
        return Table((), ())
    return key_value_table(
        (str(k), F.fmt(v) if not isinstance(v, str) else v) for k, v in raw.items()
    )


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
                est = F.get(block, name)
                if isinstance(est, Mapping):
                    parts.append(f"{arm} {F.estimate_ci(est.get('estimate'), est.get('ci95'))}")
        text = f"Primary endpoint {name} ({unit}): " + ("; ".join(parts) if parts else "—")
        for cmp in F.mappings(summary.get("comparisons")):
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
        f"{label.capitalize()}{who} {F.estimate_ci(cmp.get('difference'), cmp.get('ci95'))}, "
        f"p {_p_phrase(cmp.get('p_value'))}"
    )


def _p_phrase(value: Any) -> str:
    text = F.p_value(value)
    return text if text.startswith("<") else f"= {text}"


# ------------------------------------------------------------------------------------
# population
# ------------------------------------------------------------------------------------


def _population(raw: Any, data: _RunData) -> dict[str, Any]:
    pop: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    screening: Mapping[str, Any] = F.mapping(pop.get("screening"))
    funnel, criteria = _funnel(screening)
    histories = pop.get("histories")
    target = pop.get("target")
    funnel_uri = figures.funnel_figure(funnel) if funnel else None
    return {
        "n_subjects": F.count(pop.get("n_subjects")),
        "funnel": _funnel_table(funnel, criteria) if funnel else None,
        "funnel_figure": Picture(funnel_uri, "screening funnel", css="single")
        if funnel_uri
        else None,
        "eligible_fraction": F.number(screening.get("eligible_fraction_of_alive")),
        "histories": [str(h) for h in histories] if isinstance(histories, list) else [],
        "target": _target_text(target),
        "baseline": _baseline(data),
        "match": _match(pop.get("match")),
    }


def _funnel(screening: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Stages (label, count, % of candidates) and the per-criterion failures."""
    if not screening:
        return [], []
    candidates = F.finite(screening.get("candidates"))
    failed = F.finite(screening.get("failed_integration")) or 0.0
    died = F.finite(screening.get("died_before_baseline")) or 0.0
    stages: list[dict[str, Any]] = []

    def stage(label: str, count: float | None, kind: str) -> None:
        if count is None:
            return
        stages.append(
            {
                "label": label,
                "count": count,
                "text": F.count(count),
                "pct": F.percent(count, candidates),
                "kind": kind,
            }
        )

    stage("Virtual candidates drawn", candidates, "total")
    stage("− failed integration (solver)", F.finite(screening.get("failed_integration")), "loss")
    stage("− died before baseline", F.finite(screening.get("died_before_baseline")), "loss")
    if candidates is not None:
        stage("Alive at baseline", candidates - failed - died, "total")
    criteria = []
    raw = screening.get("failed_criterion")
    if isinstance(raw, Mapping):
        for name, count in raw.items():
            criteria.append(
                {
                    "label": str(name),
                    "text": F.count(count),
                    "pct": F.percent(count, candidates - failed - died if candidates else None),
                }
            )
    stage("Eligible (met every criterion)", F.finite(screening.get("eligible")), "total")
    stage("Selected for the trial", F.finite(screening.get("selected")), "total")
    return stages, criteria


def _funnel_table(
    stages: Sequence[Mapping[str, Any]], criteria: Sequence[Mapping[str, str]]
) -> Table:
    """The stages, with the per-criterion failures under the count alive at baseline."""
    rows = []
    for s in stages:
        rows.append(row(s["label"], Cell(s["text"], NUM), Cell(s["pct"], NUM), css=s["kind"]))
        if str(s["label"]).startswith("Alive"):
            rows.extend(
                row(
                    Cell(f"failed {c['label']}", "sub"),
                    Cell(c["text"], NUM),
                    Cell(f"{c['pct']} of alive", NUM),
                )
                for c in criteria
            )
    heads = columns("Stage", ("Virtual patients (n)", NUM), ("% of candidates", NUM))
    return Table(heads, tuple(rows), "funnel")


def _target_text(target: Any) -> str:
    if target is None:
        return ""
    if isinstance(target, str):
        return target
    return json.dumps(target, ensure_ascii=False, default=str)


def _baseline(data: _RunData) -> Table:
    """Median [IQR] per baseline variable of the selected subjects, then the histories."""
    heads = columns("Variable", ("Median [IQR]", NUM), ("n", NUM))
    subjects = data.table("subjects")
    if subjects is None or subjects.empty:
        return Table(heads, (), "baseline")
    n = len(subjects)
    rows: list[dict[str, str]] = []
    if "female" in subjects.columns:
        female = pd.to_numeric(subjects["female"], errors="coerce")
        k = int((female > 0.5).sum())
        m = int(female.notna().sum())
        rows.append(
            {"label": "Female, n (%)", "value": f"{k} ({F.percent(k, m) or '—'})", "n": str(m)}
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
        dec = F.decimals_for(float(max(abs(q1), abs(med), abs(q3))))
        value = f"{F.number(med, dec)} [{F.interval(q1, q3, dec)}]"
        rows.append({"label": _label(column), "value": value, "n": str(int(x.size))})
    if "history" in subjects.columns:
        counts = subjects["history"].astype(str).value_counts(sort=False)
        for name in sorted(counts.index):
            rows.append(
                {
                    "label": f"Treatment history: {name}, n (%)",
                    "value": f"{int(counts[name])} ({F.percent(counts[name], n)})",
                    "n": str(n),
                }
            )
    cells = (row(r["label"], Cell(r["value"], NUM), Cell(r["n"], NUM)) for r in rows)
    return Table(heads, tuple(cells), "baseline")


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
        return {"target": "", "reports": None, "table": None, "raw": F.fmt(raw)}
    reports = []
    per_variable: dict[str, dict[str, Any]] = {}
    for key in ("pool", "selected"):
        rep = raw.get(key)
        if not isinstance(rep, Mapping):
            continue
        reports.append(
            row(
                "candidate pool (weighted)" if key == "pool" else "selected subjects",
                F.text(rep.get("kind")),
                Cell(F.number(rep.get("effective_n")), NUM),
                Cell(F.count(rep.get("n_candidates")), NUM),
                Cell(F.count(rep.get("n_positive")), NUM),
                Cell(F.number(rep.get("max_ks")), NUM),
            )
        )
        for entry in F.mappings(rep.get("variables")):
            name = str(entry.get("variable", "?"))
            values = per_variable.setdefault(name, {"target": entry.get("target")})
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
                    values[k] = entry.get(k)
            else:
                values["selected_mean"] = entry.get("mean_weighted")
                values["selected_sd"] = entry.get("sd_weighted")
                values["selected_ks"] = entry.get("ks_weighted")
                values.setdefault("target_mean", entry.get("target_mean"))
                values.setdefault("target_sd", entry.get("target_sd"))
                values.setdefault("ks_unweighted", entry.get("ks_unweighted"))
    present = [
        c for c in _MATCH_COLUMNS if any(r.get(c[0]) is not None for r in per_variable.values())
    ]
    rows = []
    for name, values in per_variable.items():
        cells = [Cell(_label(name))]
        for key, _, kind in present:
            v = values.get(key)
            if kind == "ks":
                x = F.finite(v)
                css = NUM + (" bad" if x is not None and x > 0.1 else "")
                cells.append(Cell(F.number(v, 3) if x is not None else "—", css))
            else:
                cells.append(Cell(F.number(v), NUM))
        rows.append(Row(tuple(cells)))
    extra = {k: v for k, v in raw.items() if k not in ("pool", "selected", "target")}
    summary_heads = columns(
        "Set",
        "Kind",
        ("Effective N", NUM),
        ("Candidates", NUM),
        ("Used", NUM),
        ("Worst KS", NUM),
    )
    heads = (Column("Variable"), *(Column(label, NUM) for _, label, _ in present))
    return {
        "target": F.text(raw.get("target")),
        "reports": Table(summary_heads, tuple(reports), "match-summary") if reports else None,
        "table": Table(heads, tuple(rows), "match") if rows else None,
        "raw": F.fmt(extra) if extra else "",
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
        out["n_subjects"] = F.count(traj["subject_id"].nunique())
    order = list(arms) + [str(a) for a in pd.unique(traj["arm"].astype(str)) if a not in arms]
    palette = dict(colours)
    extra = [a for a in order if a not in palette]
    if extra:
        palette.update(group_colours(order))
    alive = figures.alive_mask(traj)
    if alive is None:
        out["notes"].append("No 'alive' column: every subject-time is included.")
    variables = [v for v in TRAJECTORY_VARIABLES if v in traj.columns]
    absent = [v for v in TRAJECTORY_VARIABLES if v not in traj.columns]
    if absent:
        out["notes"].append("Not recorded in the trajectories: " + ", ".join(absent) + ".")
    for variable in variables:
        stats = figures.panel_stats(traj, variable, order, alive, protocol)
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
            Picture(uri, f"trajectory: {variable}", _panel_caption(variable, stats))
        )
    if alive is not None and not bool(alive.all()):
        stats = figures.alive_stats(traj, order, alive, protocol)
        uri = plot_panel(
            stats, [], palette, time_label="time (weeks)", time_divisor=DAYS_PER_WEEK, log_y=False
        )
        out["panels"].append(
            Picture(
                uri,
                f"trajectory: {ALIVE}",
                "Fraction of the plotted subjects alive, per arm and time.",
            )
        )
    return out


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
        horizon = F.finite(spec.get("horizon_weeks"))
        at = f" at week {F.number(horizon)}" if horizon is not None else ""
        return f"event-free probability{at} (Kaplan–Meier)"
    lowered = name.lower()
    if "prednisone" in lowered or "glucocorticoid" in lowered:
        return "g prednisone-equivalent (cumulative)" if "cumulative" in lowered else "mg/day"
    if "sledai" in lowered:
        return "SLEDAI-2K points (mean)"
    unit = unit_from_name(name)
    return f"{unit} (mean)" if unit else "mean (unit not recorded in summary.json)"


def _kind_unit(name: str, spec: Mapping[str, Any]) -> tuple[str, str]:
    kind = str(spec.get("kind") or "")
    return kind, _endpoint_unit(name, kind, spec)


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
        (_VIEW_RANDOMISED, F.get(summary, "trial", "arms")),
    ]
    rows = []
    methods: list[str] = []
    for view, block in views:
        if not isinstance(block, Mapping):
            continue
        for arm in arms:
            est = F.get(block, arm, name)
            if not isinstance(est, Mapping):
                continue
            rows.append(
                row(
                    view,
                    Cell(arm, colour=colours.get(arm, "#555555")),
                    Cell(F.count(est.get("n") if kind != "rate" else F.get(block, arm, "n")), NUM),
                    Cell(F.estimate_ci(est.get("estimate"), est.get("ci95")), NUM),
                    _estimate_details(kind, est),
                )
            )
            _note_method(methods, est.get("method"))
            median = est.get("median")
            if isinstance(median, Mapping):
                _note_method(methods, median.get("method"))
    pictures: list[Picture] = []
    risk: Table | None = None
    if kind in ("binary", "rate"):
        uri = figures.estimate_bars(name, kind, unit, summary, arms, colours)
        if uri:
            pictures.append(Picture(uri, name, _bars_caption(kind), "single"))
    elif kind == "numeric":
        uri = figures.value_boxes(
            name, _value_unit(unit), summary, _endpoint_rows(data, name), arms, colours
        )
        if uri:
            caption = (
                "Per-patient values (box: median and IQR, whiskers 1.5 × IQR) "
                "of every virtual patient in each arm; diamonds: mean with 95 % CI "
                "(filled: counterfactual; open: the randomised trial)."
            )
            pictures.append(Picture(uri, name, caption, "single"))
    elif kind == "time_to_event":
        km = figures.km_figure(name, spec, _endpoint_rows(data, name), arms, colours)
        if km is not None:
            uri, at_risk = km
            caption = (
                "Kaplan–Meier event-free probability per arm (every virtual "
                "patient in every arm), with pointwise 95 % CI (exponential Greenwood); "
                "ticks: censored."
            )
            pictures.append(Picture(uri, name, caption, "single"))
            risk = _risk_table(at_risk)
    comparisons = []
    for view, raw in (
        (_VIEW_COUNTERFACTUAL, summary.get("comparisons")),
        (_VIEW_RANDOMISED, F.get(summary, "trial", "comparisons")),
    ):
        for cmp in F.mappings(raw):
            if str(cmp.get("endpoint")) != name:
                continue
            comparisons.append(_comparison_row(view, cmp, unit))
    horizon = F.finite(spec.get("horizon_weeks"))
    return {
        "name": name,
        "anchor": "ep-" + "".join(ch if ch.isalnum() else "-" for ch in name),
        "kind": kind or "unknown",
        "primary": is_primary,
        "unit": unit,
        "horizon": (
            f"{'horizon' if kind == 'time_to_event' else 'follow-up'} {F.fmt(horizon)} weeks"
            if horizon is not None
            else "horizon not recorded"
        ),
        "estimates": Table(
            columns("View", "Arm", ("n", NUM), ("Estimate (95 % CI)", NUM), "Details"),
            tuple(rows),
            "estimates",
        ),
        "methods": methods,
        "figures": pictures,
        "risk": risk,
        "comparisons": Table(
            columns("View", "Arms", "Measure", ("Value (95 % CI)", NUM), ("p", NUM), "Design"),
            tuple(r for r, _ in comparisons),
            "comparisons",
        ),
        "comparison_methods": [
            f"{view.split(' (')[0]}: {method}" for (_, (view, method)) in comparisons
        ],
    }


def _risk_table(at_risk: Mapping[str, Any]) -> Table:
    """Numbers at risk per arm at the KM figure's time points."""
    heads = (
        Column("Number at risk / week"),
        *(Column(t, NUM) for t in at_risk["times"]),
    )
    rows = (
        Row(
            (
                Cell(r["arm"], colour=r["colour"]),
                *(Cell(c, NUM) for c in r["counts"]),
            )
        )
        for r in at_risk["rows"]
    )
    return Table(heads, tuple(rows), "at-risk")


def _note_method(methods: list[str], method: Any) -> None:
    if method and str(method) not in methods:
        methods.append(str(method))


def _estimate_details(kind: str, est: Mapping[str, Any]) -> str:
    parts = []
    if kind == "time_to_event":
        parts.append(f"{F.count(est.get('events'))} events")
        median = F.finite(est.get("median_weeks"))
        parts.append(
            f"median {F.number(median)} weeks" if median is not None else "median not reached"
        )
    elif kind == "rate":
        parts.append(f"{F.count(est.get('events'))} events")
        parts.append(f"{F.number(est.get('person_years'))} patient-years")
    elif kind == "numeric":
        median = est.get("median")
        if isinstance(median, Mapping):
            parts.append("median " + F.estimate_ci(median.get("estimate"), median.get("ci95")))
    elif kind == "binary":
        p, n = F.finite(est.get("estimate")), F.finite(est.get("n"))
        if p is not None and n is not None:
            parts.append(f"{round(p * n):d} of {F.count(n)} responders")
    return "; ".join(parts)


def _comparison_row(view: str, cmp: Mapping[str, Any], unit: str) -> tuple[Row, tuple[str, str]]:
    """The comparison's table row, and (view, method) for the methods line under it."""
    measure = str(cmp.get("measure") or "")
    label, op = _MEASURES.get(measure, (measure.replace("_", " ") or "—", "vs"))
    arms = cmp.get("arms") if isinstance(cmp.get("arms"), list) else []
    if measure == "risk_difference":
        label += ", proportion"
    elif measure == "mean_difference":
        label += f", {_value_unit(unit) or 'endpoint unit'}"
    method = F.text(cmp.get("method"))
    cells = row(
        view,
        f" {op} ".join(str(a) for a in arms) if arms else "—",
        label,
        Cell(F.estimate_ci(cmp.get("difference"), cmp.get("ci95")), NUM),
        Cell(F.p_value(cmp.get("p_value")), NUM),
        Cell("paired" if cmp.get("paired") is True else "unpaired", title=method),
    )
    return cells, (view, method)


def _bars_caption(kind: str) -> str:
    what = "Responders" if kind == "binary" else "Event rate"
    return (
        f"{what} per arm with 95 % CI: solid bars all virtual patients in every arm "
        "(counterfactual), hatched bars one randomised trial of the protocol's size."
    )


def _endpoint_rows(data: _RunData, name: str) -> pd.DataFrame | None:
    outcomes = data.table("outcomes")
    if outcomes is None or not {"endpoint", "arm"}.issubset(outcomes.columns):
        return None
    rows = outcomes[outcomes["endpoint"].astype(str) == name]
    return rows if not rows.empty else None


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
            low = (F.finite(entry.get("power")) or 0.0) < figures.POWER_TARGET
            rows.append(
                row(
                    ep,
                    " vs ".join(str(a) for a in entry.get("arms") or []) or "—",
                    Cell(_power_text(entry), f"{NUM} low" if low else NUM),
                )
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
        "alpha": F.number(raw.get("alpha")),
        "n_trials": F.count(raw.get("n_trials")),
        "tests": F.text(raw.get("tests")),
        "size": size,
        "table": Table(columns("Endpoint", "Arms", ("Power (95 % CI)", NUM)), tuple(rows), "power"),
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
        "table": None,
        "curve": None,
    }


def _sizes(n_per_arm: Any) -> str:
    if not isinstance(n_per_arm, Mapping) or not n_per_arm:
        return "—"
    total = sum(F.finite(v) or 0.0 for v in n_per_arm.values())
    parts = ", ".join(f"{a} {F.count(v)}" for a, v in n_per_arm.items())
    return f"{F.count(total)} patients ({parts})"


def _endpoint_power(raw: Any) -> list[tuple[str, list[Mapping[str, Any]]]]:
    if not isinstance(raw, Mapping):
        return []
    return [(str(ep), F.mappings(entries)) for ep, entries in raw.items()]


def _power_text(entry: Mapping[str, Any]) -> str:
    """``54 % (44–63 %)``: power and its CI in whole percent."""
    power = F.finite(entry.get("power"))
    if power is None:
        return "—"
    lo, hi = F.pair(entry.get("ci95"))
    text = f"{100 * power:.0f} %"
    if lo is None and hi is None:
        return text
    low = None if lo is None else 100 * lo
    high = None if hi is None else 100 * hi
    return f"{text} ({F.interval(low, high, 0)} %)"


def _power_curve(raw: Mapping[str, Any], endpoint_order: Sequence[str]) -> dict[str, Any] | None:
    """Power against total N per endpoint (and arm pair), the protocol size included."""
    points: list[tuple[float, str, Mapping[str, Any], bool, bool]] = []
    for entry in F.mappings(raw.get("curve")):
        total = F.finite(entry.get("total"))
        if total is None:
            total = F.finite(
                sum(F.finite(v) or 0.0 for v in (entry.get("n_per_arm") or {}).values())
            )
        if total is None:
            continue
        for ep, items in _endpoint_power(entry.get("endpoints")):
            for item in items:
                points.append((total, ep, item, bool(entry.get("with_replacement")), False))
    if not points:
        return None
    n_per_arm = raw.get("n_per_arm")
    protocol_total = (
        sum(F.finite(v) or 0.0 for v in n_per_arm.values())
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
        power = F.finite(item.get("power"))
        if power is None:
            continue
        lo, hi = F.pair(item.get("ci95"))
        series.setdefault(key, []).append((total, power, lo, hi))
    if not series:
        return None
    keys = sorted(series, key=lambda k: _rank(k, endpoint_order))
    totals = sorted({p[0] for p in points})
    uri = figures.power_curve_figure(
        series, keys, totals, protocol_total, F.number(raw.get("alpha"))
    )
    rows = []
    any_replacement = False
    for total in totals:
        cells = []
        for key in keys:
            match = [p for p in series[key] if abs(p[0] - total) < 1e-9]
            cells.append(
                Cell(
                    _power_text({"power": match[0][1], "ci95": [match[0][2], match[0][3]]})
                    if match
                    else "—",
                    NUM,
                )
            )
        flags = [p for p in points if abs(p[0] - total) < 1e-9]
        protocol = any(p[4] for p in flags) or (
            protocol_total is not None and abs(total - protocol_total) < 1e-9
        )
        replacement = any(p[3] for p in flags)
        any_replacement = any_replacement or replacement
        label = F.count(total) + (" (protocol)" if protocol else "") + (" *" if replacement else "")
        rows.append(Row((Cell(label, NUM), *cells), "protocol" if protocol else ""))
    heads = (Column("Total N (patients)", NUM), *(Column(k, NUM) for k in keys))
    caption = (
        "Power (with 95 % CI over the simulated trials) against the total sample size, split "
        "by the allocation ratio; dashed: 80 %; dotted: the protocol's size."
    )
    return {
        "figure": Picture(uri, "power curve", caption, "wide"),
        "table": Table(heads, tuple(rows), "power-curve"),
        "replacement": any_replacement,
    }


def _pairs_of(raw: Mapping[str, Any], ep: str) -> list[Mapping[str, Any]]:
    return F.mappings(F.get(raw, "endpoints", ep))


def _rank(key: str, order: Sequence[str]) -> tuple[int, str]:
    base = key.split(" (")[0]
    return (order.index(base) if base in order else len(order), key)


# ------------------------------------------------------------------------------------
# failures
# ------------------------------------------------------------------------------------


_STATUS_LABELS: dict[str, str] = {
    "arm": "Arm",
    "n": "Patients",
    "failed": "Failed",
    "deaths": "Deaths",
    "eskd": "ESKD",
    "serious_infections": "Serious infections (events)",
    "flare_triggers": "Flare triggers (events)",
    "policy_events": "Policy actions (events)",
}


def _failures(raw: Any, data: _RunData, arms: Sequence[str]) -> dict[str, Any]:
    fail: Mapping[str, Any] = F.mapping(raw)
    by_arm = F.mapping(fail.get("by_arm"))
    out: dict[str, Any] = {
        "excluded": F.count(fail.get("subjects_excluded")) if fail else "—",
        "by_arm": Table(
            columns("Arm", ("Failed simulations (n)", NUM)),
            tuple(row(str(a), Cell(F.count(v), NUM)) for a, v in by_arm.items()),
            "failures",
        ),
        "status": None,
        "messages": None,
    }
    status = data.table("status")
    if status is None or "arm" not in status.columns:
        return out
    order = list(arms) + [a for a in pd.unique(status["arm"].astype(str)) if a not in arms]
    counts: list[dict[str, Any]] = []
    for arm in order:
        part = status[status["arm"].astype(str) == arm]
        if part.empty:
            continue
        entry: dict[str, Any] = {"arm": arm, "n": len(part)}
        entry["failed"] = (~part["ok"].astype(bool)).sum() if "ok" in part.columns else np.nan
        for key, column in (("deaths", "death_day"), ("eskd", "eskd_day")):
            # the day of the event; NULL, NaN or +inf when it did not happen
            days = pd.to_numeric(part[column], errors="coerce") if column in part.columns else None
            entry[key] = np.nan if days is None else np.isfinite(days.to_numpy(float)).sum()
        for key in ("serious_infections", "flare_triggers", "policy_events"):
            entry[key] = (
                pd.to_numeric(part[key], errors="coerce").sum() if key in part.columns else np.nan
            )
        counts.append(entry)
    if counts:
        frame = pd.DataFrame(counts, columns=list(_STATUS_LABELS))
        numbers = {key: F.count for key in _STATUS_LABELS if key != "arm"}
        out["status"] = table_from_frame(
            frame.astype({key: float for key in numbers}),
            labels=_STATUS_LABELS,
            formats=numbers,
            css="status",
        )
    if "ok" in status.columns and "message" in status.columns:
        bad = status[~status["ok"].astype(bool)]
        if not bad.empty:
            messages = bad["message"].fillna("").astype(str).value_counts()
            out["messages"] = Table(
                columns("Failure message", ("n", NUM)),
                tuple(
                    row(str(m) or "(no message)", Cell(F.count(c), NUM))
                    for m, c in messages.head(20).items()
                ),
                "messages",
            )
    return out
