"""From model states to what a clinic observes: events, approximate scores."""

from lupusim.observe._hazard_events import alive_matrix, first_crossing_times, sample_event_times
from lupusim.observe._sledai_approx import THRESHOLDS, approximate_sledai2k

__all__ = [
    "THRESHOLDS",
    "alive_matrix",
    "approximate_sledai2k",
    "first_crossing_times",
    "sample_event_times",
]
