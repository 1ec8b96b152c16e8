"""``report.html``: per-subject timelines of SLEDAI-2K and UPCR with responses marked.

Self-contained HTML with inline SVG (no scripts, no external files). Each subject gets
two small panels over study day: SLEDAI-2K (markers filled where SRI-k is met) and
proteinuria (UPCR g/g; marker colour = primary renal response). At most
``max_subjects`` subjects are drawn; the summary tables cover all.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

import numpy as np
import pandas as pd

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


def _subject_block(sub: pd.DataFrame, sri_col: str, renal_col: str) -> str:
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
    name = html.escape(str(sub["subject_id"].iat[0]))
    return f'<div class="subj"><h3>{name}</h3>{left}{right}</div>'


def _table(counts: dict[str, dict[str, int]]) -> str:
    rows = []
    for name, c in counts.items():
        cells = ", ".join(f"{html.escape(k)}: {v}" for k, v in c.items()) or "—"
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{cells}</td></tr>")
    return "<table><tr><th>instrument</th><th>counts</th></tr>" + "".join(rows) + "</table>"


def render_report(scores: pd.DataFrame, summary: dict[str, Any], max_subjects: int = 60) -> str:
    """The HTML report as a string."""
    sri_col = str(summary.get("primary", {}).get("sri", "sri4"))
    renal_col = str(summary.get("primary", {}).get("renal", "renal_kdigo"))
    warnings = "".join(f"<li>{html.escape(str(w))}</li>" for w in summary.get("warnings", []))
    subjects = list(dict.fromkeys(scores["subject_id"]))
    blocks = [
        _subject_block(scores[scores["subject_id"] == s], sri_col, renal_col)
        for s in subjects[:max_subjects]
    ]
    more = (
        f"<p>{len(subjects) - max_subjects} more subject(s) not drawn.</p>"
        if len(subjects) > max_subjects
        else ""
    )
    numeric = json.dumps(
        summary.get("scores", {}),
        indent=1,
        default=lambda o: None if isinstance(o, float) and math.isnan(o) else o,
    )
    legend = " ".join(
        f'<span style="color:{c}">&#9679; {html.escape(k or "not evaluable")}</span>'
        for k, c in RENAL_COLOURS.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lupusim score report</title>
<style>body{{font-family:sans-serif;margin:2em}}
.subj{{display:inline-block;margin:6px;border:1px solid #ddd;padding:4px}}
h3{{margin:2px 0;font-size:13px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:12px;text-align:left}}</style></head>
<body><h1>Clinical instruments: scores</h1>
<p>{summary.get("n_subjects", 0)} subject(s), {summary.get("n_visits", 0)} visit(s),
{summary.get("n_missing_visits", 0)} missed scheduled visit(s).
Primary: SLEDAI {html.escape(str(summary.get("primary", {}).get("sledai", "")))},
{html.escape(sri_col)}, renal {html.escape(renal_col)}.</p>
<h2>Counts per instrument</h2>{_table(summary.get("counts", {}))}
<h2>Scores</h2><pre>{html.escape(numeric)}</pre>
<h2>Warnings</h2><ul>{warnings or "<li>none</li>"}</ul>
<h2>Timelines</h2><p>Renal response colours: {legend}</p>
{"".join(blocks)}{more}
</body></html>
"""
