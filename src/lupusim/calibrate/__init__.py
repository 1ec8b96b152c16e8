"""Fitting model parameters to published targets, with goodness of fit."""

from lupusim.calibrate._problem import (
    CalibrationProblem,
    CalibrationResult,
    FreeParameter,
    Residual,
    fit,
)

__all__ = ["CalibrationProblem", "CalibrationResult", "FreeParameter", "Residual", "fit"]
