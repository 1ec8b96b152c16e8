"""Shared helpers of the calibration tests: synthetic problems with known answers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lupusim.calibrate import CalibrationProblem, FreeParameter, Residual


def linear_problem(
    design: np.ndarray,
    data: np.ndarray,
    sigma: float,
    names: Sequence[str],
    log_box: float = 10.0,
) -> CalibrationProblem:
    """Targets linear in the log-parameters: ``data ≈ design · log θ`` with noise sd
    ``sigma``, residuals scaled by it (as the calibration objective scales by the SE);
    each parameter searched in ``[e^−log_box, e^log_box]``."""
    free = tuple(FreeParameter(n, 1.0, math.exp(-log_box), math.exp(log_box)) for n in names)

    def residuals(values: dict[str, float]) -> list[Residual]:
        x = np.log([values[n] for n in names])
        sim = design @ x
        return [
            Residual(f"T{i}", "synthetic", float(s), float(d), sigma)
            for i, (s, d) in enumerate(zip(sim, data, strict=True))
        ]

    return CalibrationProblem("synthetic", "none", free, residuals)
