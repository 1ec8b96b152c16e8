"""Self-contained HTML reports of study reproductions.

:func:`render_study_report` writes one HTML file (tables of published targets and
comparisons, and per-study trajectory figures with published points overlaid, embedded
as PNG) from long-format trajectories and the ``summary.json`` content.
"""

from lupusim.report._points import PublishedPoint
from lupusim.report._render import render_study_report

__all__ = ["PublishedPoint", "render_study_report"]
