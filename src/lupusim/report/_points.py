"""Published data points drawn over the simulated trajectories."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedPoint:
    """One published value to compare with a simulated trajectory panel.

    ``time_days`` is on the trajectories' time axis; ``low``/``high`` bound the published
    spread (mean - sd, range, IQR, ...) and become the error bar; ``groups`` names the
    groups the point applies to (empty = all groups).
    """

    target_id: str
    study: str
    variable: str
    time_days: float
    value: float
    low: float | None = None
    high: float | None = None
    label: str = ""
    groups: tuple[str, ...] = ()

    def error_bar(self) -> tuple[float, float]:
        """Non-negative (below, above) distances from ``value`` for an error bar."""
        low, high = _finite(self.low), _finite(self.high)
        below = 0.0 if low is None else max(0.0, self.value - low)
        above = 0.0 if high is None else max(0.0, high - self.value)
        return below, above


def _finite(x: float | None) -> float | None:
    """``x`` as a float, or None when it is missing or not finite."""
    if x is None:
        return None
    value = float(x)
    return value if math.isfinite(value) else None
