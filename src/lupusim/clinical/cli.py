"""``lupusim score`` (issue 3): placeholder, replaced by the clinical module."""

from __future__ import annotations

from lupusim.errors import LupusimError


def score_command() -> None:
    """Score visit data with the clinical instruments (not yet available)."""
    raise LupusimError("lupusim score is not available yet (issue 3)")
