"""From model states to what a clinic observes: events, visit tables, SLEDAI-2K."""

from lupusim.observe._hazard_events import alive_matrix, first_crossing_times, sample_event_times
from lupusim.observe._sledai_approx import THRESHOLDS, approximate_sledai2k
from lupusim.observe._visits import sledai2k, visit_table

__all__ = [
    "THRESHOLDS",
    "alive_matrix",
    "approximate_sledai2k",
    "first_crossing_times",
    "sample_event_times",
    "sledai2k",
    "visit_table",
]
