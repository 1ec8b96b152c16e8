"""Every HTML report of lupusim, from shared tables, figures and one template family.

* :func:`render_study_report` — a study reproduction (``lupusim reproduce``): published
  targets, comparisons, trajectory panels with the published points over them;
* :func:`render_trial_report` — a virtual trial's run directory (``lupusim trial run``,
  ``lupusim trial report``): population, trajectories, endpoints, power, failures;
* :func:`render_score_report` — scored visit tables (``lupusim score``): counts, scores,
  warnings, per-subject timelines.

Each report is one self-contained HTML file (figures embedded as PNG data URIs or inline
SVG, no scripts, nothing fetched). The pages extend one template
(``templates/_page.html.j2``) and draw tables and figures with shared macros; the Python
side builds :class:`Table` and :class:`Picture` values for them. The package reads
results (``summary.json``, ``results.duckdb`` through :mod:`lupusim.results`) and imports
neither the simulator nor the instruments, so :mod:`lupusim.clinical` can use it.
"""

from lupusim.report._clinical import render_score_report
from lupusim.report._figures import Picture, data_uri, new_axes, save_png
from lupusim.report._points import PublishedPoint
from lupusim.report._study import render_study_report
from lupusim.report._tables import Cell, Column, Row, Table, key_value_table, table_from_frame
from lupusim.report._trial import render_trial_report

__all__ = [
    "Cell",
    "Column",
    "Picture",
    "PublishedPoint",
    "Row",
    "Table",
    "data_uri",
    "key_value_table",
    "new_axes",
    "render_score_report",
    "render_study_report",
    "render_trial_report",
    "save_png",
    "table_from_frame",
]
