"""Helpers for the clinical tests: build small visit tables and score them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from lupusim.clinical import ScoringConfig, score_visits
from lupusim.clinical.load import load_visits

Row = dict[str, Any]


def make_visits(*subjects: list[Row], step: int = 28) -> pd.DataFrame:
    """A visit table from per-subject row lists; fills subject_id, visit and study_day."""
    rows = []
    for s, visits in enumerate(subjects, start=1):
        for v, row in enumerate(visits):
            base = {"subject_id": f"S{s}", "visit": f"V{v}", "study_day": v * step}
            base.update(row)
            rows.append(base)
    return pd.DataFrame(rows)


def score_rows(
    *subjects: list[Row], events: pd.DataFrame | None = None, **config: Any
) -> pd.DataFrame:
    """Score per-subject row lists with the given configuration knobs."""
    config.setdefault("impute_missing_visits", False)
    cfg = ScoringConfig(**config)
    frame = make_visits(*subjects)
    data = load_visits(frame, events=events, upcr_mgmmol_convention=cfg.upcr_mgmmol_convention)
    return score_visits(data, cfg).scores


@pytest.fixture
def score() -> Callable[..., pd.DataFrame]:
    """The ``score_rows`` helper as a fixture."""
    return score_rows
