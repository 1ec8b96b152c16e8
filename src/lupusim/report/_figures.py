"""Report figures: matplotlib on the Agg canvas (no pyplot state), embedded or saved as PNG.

:func:`new_axes` starts a figure, :func:`data_uri` embeds it in a page (a
``data:image/png;base64,...`` URI, so a report is one self-contained file) and
:func:`save_png` writes it to a file instead; a :class:`Picture` is what a template's
``figure`` macro draws. The trajectory panel shared by the study and trial reports
(:func:`plot_panel`: per-group median line and band, published points over it) and the
fixed group colours (:func:`group_colours`) live here too.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from lupusim.report._labels import axis_label
from lupusim.report._points import PublishedPoint
from lupusim.report._stats import ALIVE, PanelStats

FIGSIZE_IN = (5.4, 3.7)
DPI = 100
DEFAULT_TIME_UNIT = ("time (days)", 1.0)


@dataclass(frozen=True)
class Picture:
    """An image on a page: its source (a data URI), alt text, caption and CSS class."""

    uri: str
    alt: str
    caption: str = ""
    css: str = ""


def new_axes(size: tuple[float, float] = FIGSIZE_IN) -> tuple[Figure, Axes]:
    """A figure of ``size`` inches on its own Agg canvas, and its one axes."""
    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def data_uri(fig: Figure) -> str:
    """``fig`` as a ``data:image/png;base64,...`` URI (PNG without a timestamp)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG file (parents created); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out


def group_colours(groups: Sequence[str]) -> dict[str, str]:
    """A fixed colour per group (hex), stable across panels."""
    n = len(groups)
    if n <= 10:
        cmap = colormaps["tab10"]
        colours = [cmap(i) for i in range(n)]
    elif n <= 20:
        cmap = colormaps["tab20"]
        colours = [cmap(i) for i in range(n)]
    else:
        cmap = colormaps["turbo"]
        colours = [cmap(x) for x in np.linspace(0.05, 0.95, n)]
    return {g: to_hex(c) for g, c in zip(groups, colours, strict=True)}


def time_axis(study: str, time_unit: Mapping[str, tuple[str, float]] | None) -> tuple[str, float]:
    """(axis label, divisor of days) for ``study``."""
    if time_unit and study in time_unit:
        label, divisor = time_unit[study]
        divisor = float(divisor)
        if divisor > 0 and np.isfinite(divisor):
            return str(label), divisor
    return DEFAULT_TIME_UNIT


def plot_panel(
    stats: PanelStats,
    points: Sequence[PublishedPoint],
    colours: Mapping[str, str],
    *,
    time_label: str,
    time_divisor: float,
    log_y: bool,
) -> str:
    """Draw one panel and return it as a ``data:image/png;base64,...`` URI."""
    fig, ax = new_axes()
    _draw_groups(ax, stats, colours, time_divisor)
    _draw_points(ax, points, time_divisor)
    ax.set_xlabel(time_label)
    ax.set_ylabel(axis_label(stats.variable))
    ax.set_title(f"{stats.study}: {stats.variable}", fontsize=10)
    if stats.variable == ALIVE:
        ax.set_ylim(-0.03, 1.03)
    if log_y:
        ax.set_yscale("log", nonpositive="mask")
    ax.grid(True, alpha=0.25, linewidth=0.6)
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=7, loc="best", framealpha=0.8)
    fig.tight_layout()
    return data_uri(fig)


def _draw_groups(
    ax: Axes, stats: PanelStats, colours: Mapping[str, str], time_divisor: float
) -> None:
    table = stats.table
    if table.empty:
        return
    for group, part in table.groupby("group", sort=False):  # one iteration per group
        colour = colours.get(str(group), "#555555")
        x = part["time_days"].to_numpy(dtype=float) / time_divisor
        ax.plot(x, part["mid"].to_numpy(dtype=float), color=colour, lw=1.6, label=str(group))
        low, high = part["low"].to_numpy(dtype=float), part["high"].to_numpy(dtype=float)
        if np.isfinite(low).any() and np.isfinite(high).any():
            ax.fill_between(x, low, high, color=colour, alpha=0.18, linewidth=0)


def _draw_points(ax: Axes, points: Sequence[PublishedPoint], time_divisor: float) -> None:
    first = True
    for point in points:  # a handful of published targets
        x = float(point.time_days) / time_divisor
        below, above = point.error_bar()
        ax.errorbar(
            [x],
            [float(point.value)],
            yerr=[[below], [above]],
            fmt="D",
            color="black",
            markersize=5,
            capsize=3,
            elinewidth=1.0,
            zorder=5,
            label="published" if first else "_nolegend_",
        )
        first = False
        ax.annotate(
            point.target_id,
            (x, float(point.value)),
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=7,
            fontweight="bold",
            zorder=6,
        )
