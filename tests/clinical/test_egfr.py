"""eGFR equations (SPEC §3.4): reference values and hand arithmetic, never capped."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lupusim.clinical import (
    ckd_epi_2009,
    ckd_epi_2021,
    ckd_epi_2021_cys,
    cockcroft_gault,
    egfr,
    mdrd_175,
    mdrd_186,
)

from .conftest import score_rows


@pytest.mark.parametrize(
    ("scr", "age", "sex", "expected"),
    [
        # SPEC §3.4 reference values (Inker 2021 CKD-EPI 2021 creatinine)
        (0.7, 30, "F", 119.2),  # 142 × 1 × 1 × 0.9938^30 × 1.012 = 119.24
        (1.0, 50, "M", 91.7),  # 142 × (1/0.9)^−1.2 × 0.9938^50 = 91.69
        (1.5, 40, "M", 60.0),
        (1.2, 45, "F", 56.9),
    ],
)
def test_ckd_epi_2021_reference_values(scr: float, age: int, sex: str, expected: float) -> None:
    assert round(float(ckd_epi_2021(scr, age, sex)), 1) == expected


def test_ckd_epi_2021_hand_arithmetic() -> None:
    # M 50 y, SCr 1.0: 142 × (1.0/0.9)^−1.200 × 0.9938^50
    hand = 142 * (1.0 / 0.9) ** -1.2 * 0.9938**50
    assert float(ckd_epi_2021(1.0, 50, "M")) == pytest.approx(hand, rel=1e-12)


def test_ckd_epi_2009_and_mdrd_reference_values() -> None:
    # SPEC §3.4: F 45 y SCr 1.2 → 2009: 54.5; MDRD-175: 48.6
    assert round(float(ckd_epi_2009(1.2, 45, "F")), 1) == 54.5
    assert round(float(mdrd_175(1.2, 45, "F")), 1) == 48.6
    # MDRD 186 = MDRD 175 × 186/175 (same exponents, non-IDMS constant)
    assert float(mdrd_186(1.2, 45, "F")) == pytest.approx(float(mdrd_175(1.2, 45, "F")) * 186 / 175)
    # race terms: 1.159 (2009), 1.212 (MDRD 175)
    assert float(ckd_epi_2009(1.2, 45, "F", True)) / float(
        ckd_epi_2009(1.2, 45, "F")
    ) == pytest.approx(1.159)
    assert float(mdrd_175(1.2, 45, "F", True)) / float(mdrd_175(1.2, 45, "F")) == pytest.approx(
        1.212
    )


def test_ckd_epi_2021_cystatin() -> None:
    # F 40 y, SCr 0.7 (ratio 1), cystatin 0.8 (ratio 1): 135 × 0.9961^40 × 0.963
    hand = 135 * 0.9961**40 * 0.963
    assert float(ckd_epi_2021_cys(0.7, 0.8, 40, "F")) == pytest.approx(hand, rel=1e-12)
    # M 60 y, SCr 1.8, cystatin 1.6: 135 × 2^−0.544 × 2^−0.778 × 0.9961^60
    hand = 135 * 2**-0.544 * 2**-0.778 * 0.9961**60
    assert float(ckd_epi_2021_cys(1.8, 1.6, 60, "M")) == pytest.approx(hand, rel=1e-12)


def test_cockcroft_gault() -> None:
    # (140 − 40) × 60 / (72 × 1.0) × 0.85 = 70.83 mL/min
    assert float(cockcroft_gault(1.0, 40, "F", 60)) == pytest.approx(100 * 60 / 72 * 0.85)


def test_never_capped() -> None:
    # SPEC §3.4: a public calculator caps at 140; ours must not.
    assert float(ckd_epi_2021(0.3, 20, "F")) > 140


def test_unknown_sex_or_missing_creatinine_gives_nan() -> None:
    assert math.isnan(float(ckd_epi_2021(1.0, 50, None)))
    assert math.isnan(float(ckd_epi_2021(np.nan, 50, "F")))


def test_unknown_equation_raises() -> None:
    with pytest.raises(ValueError, match="unknown eGFR equation"):
        egfr("cg2", 1.0, 50, "F")


def test_measured_egfr_is_used_and_computed_otherwise() -> None:
    rows = [
        {"sex": "F", "age_years": 30, "creatinine_mg_dl": 0.7, "egfr_ml_min_1_73m2": 80.0},
        {"sex": "F", "age_years": 30, "creatinine_mg_dl": 0.7},
    ]
    s = score_rows(rows)
    assert list(s["egfr_source"]) == ["measured", "ckd_epi_2021"]
    assert s["egfr"].iat[0] == 80.0
    assert round(s["egfr"].iat[1], 1) == 119.2
    # the named column is always the CKD-EPI 2021 creatinine value
    assert round(s["egfr_ckd_epi_2021"].iat[0], 1) == 119.2


def test_egfr_equation_knob() -> None:
    rows = [{"sex": "F", "age_years": 45, "creatinine_mg_dl": 1.2}]
    s = score_rows(rows, egfr_equation="mdrd_175")
    assert round(s["egfr"].iat[0], 1) == 48.6 and s["egfr_source"].iat[0] == "mdrd_175"


def test_creatinine_umol_per_l_is_converted() -> None:
    # 1 mg/dL = 88.4 µmol/L (SPEC §3.1): 61.88 µmol/L = 0.7 mg/dL → 119.2
    s = score_rows([{"sex": "F", "age_years": 30, "creatinine_umol_l": 61.88}])
    assert round(s["egfr_ckd_epi_2021"].iat[0], 1) == 119.2
