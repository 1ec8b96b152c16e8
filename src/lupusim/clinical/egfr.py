"""Estimated glomerular filtration rate (SPEC §3.4), vectorised over numpy arrays.

Every function takes serum creatinine in mg/dL, age in years and sex ("F"/"M") and
returns mL/min/1.73 m² (Cockcroft–Gault: mL/min, not indexed). Results are **never
capped** (SPEC §3.4: a cap breaks ratio-based rules); a missing input gives NaN.

Sources: Inker 2021 (CKD-EPI 2021, CDISC C209577 / C204632); Levey 2009 (CKD-EPI 2009,
CDISC C161338); Levey 2006 / 1999 (MDRD 175 / 186, CDISC C161346 / C161343);
Cockcroft & Gault 1976 (CDISC C161342).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ArrayLike = Any


def _f(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=float)


def _female(sex: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return (is_female, is_known) as floats; unknown sex gives NaN downstream."""
    s = np.asarray(sex, dtype=object)
    female = np.array([v == "F" for v in s.ravel()], dtype=float).reshape(s.shape)
    known = np.array([v in ("F", "M") for v in s.ravel()], dtype=float).reshape(s.shape)
    return female, known


def _nan_unknown(value: FloatArray, known: FloatArray) -> FloatArray:
    return np.where(known > 0, value, np.nan)


def ckd_epi_2021(creatinine_mg_dl: ArrayLike, age_years: ArrayLike, sex: ArrayLike) -> FloatArray:
    """CKD-EPI 2021 creatinine equation, race-free (Inker 2021; CDISC C209577).

    eGFR = 142 × min(SCr/κ,1)^α × max(SCr/κ,1)^−1.200 × 0.9938^age × 1.012 [F],
    κ = 0.7 (F) / 0.9 (M), α = −0.241 (F) / −0.302 (M).
    """
    scr, age = _f(creatinine_mg_dl), _f(age_years)
    fem, known = _female(sex)
    kappa = np.where(fem > 0, 0.7, 0.9)
    alpha = np.where(fem > 0, -0.241, -0.302)
    r = scr / kappa
    with np.errstate(divide="ignore", invalid="ignore"):
        e = (
            142.0
            * np.minimum(r, 1.0) ** alpha
            * np.maximum(r, 1.0) ** -1.200
            * 0.9938**age
            * np.where(fem > 0, 1.012, 1.0)
        )
    return _nan_unknown(e, known)


def ckd_epi_2021_cys(
    creatinine_mg_dl: ArrayLike, cystatin_c_mg_l: ArrayLike, age_years: ArrayLike, sex: ArrayLike
) -> FloatArray:
    """CKD-EPI 2021 creatinine–cystatin C equation (Inker 2021; CDISC C204632).

    135 × min(SCr/κ,1)^α × max(SCr/κ,1)^−0.544 × min(Scys/0.8,1)^−0.323 ×
    max(Scys/0.8,1)^−0.778 × 0.9961^age × 0.963 [F]; κ 0.7/0.9; α −0.219 (F) / −0.144 (M).
    """
    scr, cys, age = _f(creatinine_mg_dl), _f(cystatin_c_mg_l), _f(age_years)
    fem, known = _female(sex)
    kappa = np.where(fem > 0, 0.7, 0.9)
    alpha = np.where(fem > 0, -0.219, -0.144)
    r = scr / kappa
    c = cys / 0.8
    with np.errstate(divide="ignore", invalid="ignore"):
        e = (
            135.0
            * np.minimum(r, 1.0) ** alpha
            * np.maximum(r, 1.0) ** -0.544
            * np.minimum(c, 1.0) ** -0.323
            * np.maximum(c, 1.0) ** -0.778
            * 0.9961**age
            * np.where(fem > 0, 0.963, 1.0)
        )
    return _nan_unknown(e, known)


def ckd_epi_2009(
    creatinine_mg_dl: ArrayLike, age_years: ArrayLike, sex: ArrayLike, black: ArrayLike = False
) -> FloatArray:
    """CKD-EPI 2009 creatinine equation with race term (Levey 2009; CDISC C161338).

    141 × min(SCr/κ,1)^α × max(SCr/κ,1)^−1.209 × 0.993^age × 1.018 [F] × 1.159 [Black];
    κ 0.7/0.9; α −0.329 (F) / −0.411 (M). Superseded by the 2021 equation.
    """
    scr, age = _f(creatinine_mg_dl), _f(age_years)
    fem, known = _female(sex)
    blk = np.asarray(black, dtype=bool)
    kappa = np.where(fem > 0, 0.7, 0.9)
    alpha = np.where(fem > 0, -0.329, -0.411)
    r = scr / kappa
    with np.errstate(divide="ignore", invalid="ignore"):
        e = (
            141.0
            * np.minimum(r, 1.0) ** alpha
            * np.maximum(r, 1.0) ** -1.209
            * 0.993**age
            * np.where(fem > 0, 1.018, 1.0)
            * np.where(blk, 1.159, 1.0)
        )
    return _nan_unknown(e, known)


def _mdrd(constant: float, black_factor: float) -> Callable[..., FloatArray]:
    def mdrd(
        creatinine_mg_dl: ArrayLike, age_years: ArrayLike, sex: ArrayLike, black: ArrayLike = False
    ) -> FloatArray:
        scr, age = _f(creatinine_mg_dl), _f(age_years)
        fem, known = _female(sex)
        blk = np.asarray(black, dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            e = (
                constant
                * scr**-1.154
                * age**-0.203
                * np.where(fem > 0, 0.742, 1.0)
                * np.where(blk, black_factor, 1.0)
            )
        return _nan_unknown(e, known)

    return mdrd


mdrd_175 = _mdrd(175.0, 1.212)
mdrd_175.__doc__ = (
    "MDRD 4-variable, IDMS-traceable (Levey 2006; CDISC C161346): "
    "175 × SCr^−1.154 × age^−0.203 × 0.742 [F] × 1.212 [Black]."
)
mdrd_186 = _mdrd(186.0, 1.210)
mdrd_186.__doc__ = (
    "MDRD 4-variable, original non-IDMS (Levey 1999; CDISC C161343): "
    "186 × SCr^−1.154 × age^−0.203 × 0.742 [F] × 1.210 [Black]."
)


def cockcroft_gault(
    creatinine_mg_dl: ArrayLike, age_years: ArrayLike, sex: ArrayLike, weight_kg: ArrayLike
) -> FloatArray:
    """Cockcroft–Gault creatinine clearance, mL/min (Cockcroft 1976; CDISC C161342).

    (140 − age) × weight / (72 × SCr) × 0.85 [F]. Not BSA-indexed.
    """
    scr, age, wt = _f(creatinine_mg_dl), _f(age_years), _f(weight_kg)
    fem, known = _female(sex)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = (140.0 - age) * wt / (72.0 * scr) * np.where(fem > 0, 0.85, 1.0)
    return _nan_unknown(e, known)


EQUATIONS: tuple[str, ...] = (
    "ckd_epi_2021",
    "ckd_epi_2021_cys",
    "ckd_epi_2009",
    "mdrd_175",
    "mdrd_186",
    "cockcroft_gault",
)


def egfr(
    equation: str,
    creatinine_mg_dl: ArrayLike,
    age_years: ArrayLike,
    sex: ArrayLike,
    *,
    cystatin_c_mg_l: ArrayLike = np.nan,
    weight_kg: ArrayLike = np.nan,
    black: ArrayLike = False,
) -> FloatArray:
    """eGFR by the named equation (one of :data:`EQUATIONS`)."""
    if equation == "ckd_epi_2021":
        return ckd_epi_2021(creatinine_mg_dl, age_years, sex)
    if equation == "ckd_epi_2021_cys":
        return ckd_epi_2021_cys(creatinine_mg_dl, cystatin_c_mg_l, age_years, sex)
    if equation == "ckd_epi_2009":
        return ckd_epi_2009(creatinine_mg_dl, age_years, sex, black)
    if equation == "mdrd_175":
        return mdrd_175(creatinine_mg_dl, age_years, sex, black)
    if equation == "mdrd_186":
        return mdrd_186(creatinine_mg_dl, age_years, sex, black)
    if equation == "cockcroft_gault":
        return cockcroft_gault(creatinine_mg_dl, age_years, sex, weight_kg)
    raise ValueError(f"unknown eGFR equation {equation!r}; known: {', '.join(EQUATIONS)}")
