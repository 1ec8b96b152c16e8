"""From model states to what a clinic observes: events, visit tables, SLEDAI-2K."""

from lupusim.observe._hazard_events import alive_matrix, first_crossing_times, sample_event_times
from lupusim.observe._observation import (
    DEFAULT_DESCRIPTOR_SCALE,
    DEFAULT_LAB_CV,
    DEFAULT_VISIT_WINDOW_DAYS,
    DESCRIPTOR_SCALE_PROVENANCE,
    LAB_CV_PROVENANCE,
    NOISED_LABS,
    VISIT_WINDOW_PROVENANCE,
    ObservationModel,
    observe_visits,
)
from lupusim.observe._sledai_approx import THRESHOLDS, approximate_sledai2k
from lupusim.observe._visits import sledai2k, visit_table

__all__ = [
    "DEFAULT_DESCRIPTOR_SCALE",
    "DEFAULT_LAB_CV",
    "DEFAULT_VISIT_WINDOW_DAYS",
    "DESCRIPTOR_SCALE_PROVENANCE",
    "LAB_CV_PROVENANCE",
    "NOISED_LABS",
    "THRESHOLDS",
    "VISIT_WINDOW_PROVENANCE",
    "ObservationModel",
    "alive_matrix",
    "approximate_sledai2k",
    "first_crossing_times",
    "observe_visits",
    "sample_event_times",
    "sledai2k",
    "visit_table",
]
