"""The scoring report of ``lupusim score``: counts, scores, warnings and per-subject timelines.

:func:`render_score_report` returns one self-contained HTML page (template
``score.html.j2``, no scripts, no external files). Each subject gets two small inline-SVG
panels over study day: SLEDAI-2K (markers filled where SRI-k is met) and proteinuria
(UPCR g/g; marker colour = primary renal response). At most ``max_subjects`` subjects
are drawn; the summary tables cover all.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from lupusim.report._page import render_page
from lupusim.report._tables import Table, columns, row

TEMPLATE = "score.html.j2"

RENAL_COLOURS = {"complete": "#1a9850", "partial": "#fdae61", "none": "#d73027", "": "#777777"}
WIDTH, HEIGHT, PAD = 420, 120, 34


def _scale(values: np.ndarray, lo: float, hi: float, a: float, b: float) -> np.ndarray:
    if hi <= lo:
        hi = lo + 1.0
    return a + (values - lo) / (hi - lo) * (b - a)


def _panel(
    days: np.ndarray,
    values: np.ndarray,
    title: str,
    colours: list[str],
    filled: list[bool],
    labels: list[str],
) -> str:
    ok = ~np.isnan(values) & ~np.isnan(days)
    parts = [
        f'<svg width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="4" y="12" font-size="11">{html.escape(title)}</text>',
        f'<line x1="{PAD}" y1="{HEIGHT - 18}" x2="{WIDTH - 8}" y2="{HEIGHT - 18}" stroke="#999"/>',
    ]
    if ok.any():
        d, v = days[ok], values[ok]
        top = float(max(np.max(v), 1.0))
        xs = _scale(d, float(np.min(d)), float(np.max(d)), PAD + 6, WIDTH - 14)
        ys = _scale(v, 0.0, top, HEIGHT - 20, 20)
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#4575b4" stroke-width="1.5"/>')
        idx = np.flatnonzero(ok)
        for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
            i = int(idx[k])
            fill = colours[i] if filled[i] else "white"
            tip = html.escape(labels[i])
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{fill}" stroke="{colours[i]}">'
                f"<title>{tip}</title></circle>"
            )
        parts.append(f'<text x="2" y="24" font-size="9">{top:g}</text>')
        parts.append(f'<text x="2" y="{HEIGHT - 20}" font-size="9">0</text>')
        parts.append(
            f'<text x="{PAD}" y="{HEIGHT - 4}" font-size="9">day {float(np.min(d)):g}</text>'
            f'<text x="{WIDTH - 70}" y="{HEIGHT - 4}" font-size="9">day {float(np.max(d)):g}</text>'
        )
    else:
        parts.append(f'<text x="{PAD}" y="{HEIGHT / 2}" font-size="10">no data</text>')
    parts.append("</svg>")
    return "".join(parts)


def _subject_panels(sub: pd.DataFrame, sri_col: str, renal_col: str) -> dict[str, Any]:
    """One subject's name and its two SVG panels (SLEDAI-2K, UPCR)."""
    days = pd.to_numeric(sub["study_day"], errors="coerce").to_numpy(dtype=float)
    if np.isnan(days).all():
        days = np.arange(len(sub), dtype=float)
    s2k = pd.to_numeric(sub["sledai2k"], errors="coerce").to_numpy(dtype=float)
    upcr = pd.to_numeric(sub["proteinuria_g_per_g"], errors="coerce").to_numpy(dtype=float)
    sri_v = sub[sri_col].fillna("").astype(str).tolist()
    renal_v = sub[renal_col].fillna("").astype(str).tolist()
    visits = sub["visit"].astype(str).tolist()
    s_labels = [
        f"{v}: SLEDAI-2K {s:g}, {sri_col} {r or '-'}"
        for v, s, r in zip(visits, s2k, sri_v, strict=True)
    ]
    u_labels = [
        f"{v}: UPCR {u:g}, {renal_col} {r or '-'}"
        for v, u, r in zip(visits, upcr, renal_v, strict=True)
    ]
    s_colour = ["#1a9850" if r == "Y" else "#4575b4" for r in sri_v]
    u_colour = [RENAL_COLOURS.get(r, "#777777") for r in renal_v]
    left = _panel(
        days,
        s2k,
        f"SLEDAI-2K (filled: {sri_col} met)",
        s_colour,
        [r == "Y" for r in sri_v],
        s_labels,
    )
    right = _panel(
        days, upcr, f"UPCR g/g (colour: {renal_col})", u_colour, [True] * len(sub), u_labels
    )
    # the panels are built from escaped text only
    return {"name": str(sub["subject_id"].iat[0]), "panels": [Markup(left), Markup(right)]}


def _counts_table(counts: dict[str, dict[str, int]]) -> Table:
    rows = (
        row(str(name), ", ".join(f"{k}: {v}" for k, v in c.items()) or "—")
        for name, c in counts.items()
    )
    return Table(columns("instrument", "counts"), tuple(rows))


def render_score_report(
    scores: pd.DataFrame, summary: dict[str, Any], max_subjects: int = 60
) -> str:
    """The scoring report of ``scores`` (one row per visit) and ``summary`` as HTML."""
    primary = summary.get("primary", {})
    sri_col = str(primary.get("sri", "sri4"))
    renal_col = str(primary.get("renal", "renal_kdigo"))
    subjects = list(dict.fromkeys(scores["subject_id"]))
    blocks = [
        _subject_panels(scores[scores["subject_id"] == s], sri_col, renal_col)
        for s in subjects[:max_subjects]
    ]
    numeric = json.dumps(
        summary.get("scores", {}),
        indent=1,
        default=lambda o: None if isinstance(o, float) and math.isnan(o) else o,
    )
    return render_page(
        TEMPLATE,
        title="lupusim score report",
        heading="Clinical instruments: scores",
        n_subjects=summary.get("n_subjects", 0),
        n_visits=summary.get("n_visits", 0),
        n_missing=summary.get("n_missing_visits", 0),
        sledai=str(primary.get("sledai", "")),
        sri=sri_col,
        renal=renal_col,
        counts=_counts_table(summary.get("counts", {})),
        scores=numeric,
        warnings=[str(w) for w in summary.get("warnings", [])],
        legend=[{"name": k or "not evaluable", "colour": c} for k, c in RENAL_COLOURS.items()],
        subjects=blocks,
        not_drawn=max(len(subjects) - max_subjects, 0),
    )
