"""The figure (PNG) and the small self-contained report.html of a sensitivity run."""

from __future__ import annotations

import base64
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lupusim import __version__
from lupusim.report import Picture, key_value_table, table_from_frame

#: Most factors drawn in the Morris panel (the table has them all).
FIGURE_MAX_FACTORS = 25


def _bars(
    ax: Any,
    labels: list[str],
    series: list[tuple[str, np.ndarray, np.ndarray | None, str]],
    xlabel: str,
) -> None:
    """Horizontal grouped bars, first label on top; ``series``: (name, values, CI
    half-widths or None, colour)."""
    y = np.arange(len(labels))[::-1]
    height = 0.8 / len(series)
    for k, (name, values, err, colour) in enumerate(series):
        offset = (len(series) - 1) / 2 * height - k * height
        vals = np.nan_to_num(values, nan=0.0)
        xerr = None if err is None else np.nan_to_num(err, nan=0.0)
        ax.barh(
            y + offset,
            vals,
            height=height,
            xerr=xerr,
            color=colour,
            label=name,
            error_kw={"elinewidth": 0.8, "capsize": 2},
        )
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.axvline(0, color="0.3", linewidth=0.6)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)


def plot_indices(table: pd.DataFrame, path: Path, title: str, unit: str) -> None:
    """Morris mu* (with its bootstrap 95 % CI) and sigma bars, and Sobol' S1 and ST bars
    with their CIs, for the factors that have them."""
    morris = table[table["mu_star"].notna()].head(FIGURE_MAX_FACTORS)
    sobol = table[table["ST"].notna()]
    panels = [p for p in ("morris", "sobol") if len(morris if p == "morris" else sobol)]
    if not panels:
        panels = ["morris"]
    heights = [max(2.5, 0.28 * len(morris if p == "morris" else sobol) + 1.2) for p in panels]
    fig = Figure(figsize=(8, sum(heights)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        if panel == "morris":
            _bars(
                ax,
                list(morris["name"]),
                [
                    (
                        "mu* (95% CI)",
                        morris["mu_star"].to_numpy(float),
                        morris["mu_star_conf95"].to_numpy(float),
                        "#3b6ea8",
                    ),
                    ("sigma", morris["sigma"].to_numpy(float), None, "#d08c3a"),
                ],
                f"Morris elementary effect per factor range ({unit})",
            )
            ax.set_title("Morris screening", fontsize=10)
        else:
            _bars(
                ax,
                list(sobol["name"]),
                [
                    (
                        "S1 (95% CI)",
                        sobol["S1"].to_numpy(float),
                        sobol["S1_conf95"].to_numpy(float),
                        "#4f9a5a",
                    ),
                    (
                        "ST (95% CI)",
                        sobol["ST"].to_numpy(float),
                        sobol["ST_conf95"].to_numpy(float),
                        "#8a4f9a",
                    ),
                ],
                "Sobol' index (share of output variance)",
            )
            ax.set_title("Sobol' first-order (S1) and total (ST) indices", fontsize=10)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


REPORT_COLUMNS = (
    "name",
    "kind",
    "group",
    "preset_value",
    "low",
    "high",
    "range_source",
    "mu_star",
    "mu_star_conf95",
    "mu",
    "sigma",
    "morris_rank",
    "S1",
    "S1_conf95",
    "ST",
    "ST_conf95",
)


def _fmt(x: Any) -> str:
    if x is None or x is pd.NA:
        return ""
    if isinstance(x, float | np.floating):
        return f"{float(x):.4g}" if math.isfinite(float(x)) else ""
    return str(x)


@cache
def _environment() -> Environment:
    """This package's templates, over the report family's page and macros."""
    return Environment(
        loader=ChoiceLoader(
            [
                PackageLoader("lupusim.sensitivity", "templates"),
                PackageLoader("lupusim.report", "templates"),
            ]
        ),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(path: Path, summary: dict[str, Any], table: pd.DataFrame, png: Path) -> None:
    """Write the self-contained report (the figure embedded as a PNG data URI)."""
    frame = table[[c for c in REPORT_COLUMNS if c in table.columns]]
    settings = summary["settings"]
    items = [
        ("protocol", f"{summary['protocol']} ({summary['protocol_file']})"),
        ("method", summary["method_description"]),
        ("subjects per evaluation", str(settings["subjects"])),
        ("seed", str(settings["seed"])),
        ("population", str(settings["population"])),
        ("ranges", f"{settings['ranges']}, range factor {settings['range_factor']:g}"),
        (
            "evaluations",
            f"{summary['evaluations']['total']} ({summary['evaluations']['failed']} failed)",
        ),
        ("time", f"{summary['seconds']['total']:.0f} s"),
    ]
    key = "mu_star" if table["mu_star"].notna().any() else "ST"
    top = ", ".join(f"{r['name']} ({_fmt(r[key])})" for r in table.head(5).to_dict("records"))
    uri = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")
    html = (
        _environment()
        .get_template("sensitivity.html.j2")
        .render(
            title=f"lupusim sensitivity: {summary['protocol']}, {summary['output']['label']}",
            version=__version__,
            generated=summary["started_utc"],
            s=summary,
            reference=_fmt(float(summary["reference"]["value"])),
            top=top,
            settings=key_value_table(items),
            picture=Picture(uri, "sensitivity indices", css="wide"),
            indices=table_from_frame(frame, formats=dict.fromkeys(frame.columns, _fmt)),
        )
    )
    path.write_text(html, encoding="utf-8")
