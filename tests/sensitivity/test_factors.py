"""Parameter eligibility, ranges and groups of a sensitivity run."""

from __future__ import annotations

import math

import pytest

from lupusim.errors import LupusimError
from lupusim.model import get_preset
from lupusim.sensitivity import (
    GROUP_NAMES,
    SUBJECT_DEMOGRAPHICS,
    eligible_parameters,
    group_of,
    parameter_factor,
    parameter_groups,
    select_factors,
)
from lupusim.sensitivity._factors import calibration_bounds

PRESET = get_preset("human")


def test_eligible_parameters_exclude_demographics_and_zeros() -> None:
    names = eligible_parameters(PRESET)
    assert not set(SUBJECT_DEMOGRAPHICS) & set(names)
    assert all(PRESET.values[n].value > 0 for n in names)
    assert "flare_trigger_mean_magnitude" in names  # a process parameter of the preset
    assert len(names) == len(set(names))


def test_groups_partition_the_eligible_parameters() -> None:
    groups = parameter_groups(PRESET)
    assert tuple(groups) == GROUP_NAMES
    members = [n for g in groups.values() for n in g]
    assert sorted(members) == sorted(eligible_parameters(PRESET))
    assert group_of("k_msc_niche_repair", PRESET) == "msc"
    assert group_of("b_suppression_tgfb", PRESET) == "msc"
    assert group_of("cyclophosphamide_b_kill", PRESET) == "drug_effects"
    assert group_of("mpa_exposure", PRESET) == "drug_effects"  # drug before heterogeneity
    # heterogeneity: the preset's between-subject variability, data-driven
    for name in PRESET.variability_cv:
        if name in groups["heterogeneity"]:
            assert "msc" not in name and "mpa_" not in name
    assert "b_genetic_drive" in groups["heterogeneity"]
    assert "k_renal_resolution" in groups["heterogeneity"]  # a subgroup factor


def test_ranges_factor_cap_and_calibration_bounds() -> None:
    f = parameter_factor(PRESET, "k_b_loss")
    v = PRESET.values["k_b_loss"].value
    assert (f.low, f.high) == pytest.approx((v / 2, v * 2))
    assert f.range_source == "preset value ×/÷ 2" and f.log
    f = parameter_factor(PRESET, "oral_adherence", range_factor=3)  # a fraction
    assert (f.low, f.high) == pytest.approx((1 / 3, 1.0))
    assert "capped at 1" in f.range_source
    cal = calibration_bounds()["cyclophosphamide_b_kill"]
    f = parameter_factor(PRESET, "cyclophosphamide_b_kill", policy="calibration")
    assert (f.low, f.high) == cal and f.range_source == "calibration bounds"
    f = parameter_factor(PRESET, "cyclophosphamide_b_kill")  # default: the factor
    assert f.range_source.startswith("preset value")
    assert math.log(f.high / f.low) == pytest.approx(2 * math.log(2))


def test_selection_and_its_errors() -> None:
    assert len(select_factors(PRESET)) == len(eligible_parameters(PRESET))
    fs = select_factors(PRESET, groups=["msc", "drug_effects"])
    assert {f.group for f in fs} == {"msc", "drug_effects"}
    with pytest.raises(LupusimError, match=r"unknown parameter\(s\) nope; known: "):
        select_factors(PRESET, parameters=["k_b_loss", "nope"])
    with pytest.raises(LupusimError, match="demographics"):
        select_factors(PRESET, parameters=["female"])
    with pytest.raises(LupusimError, match=r"unknown group\(s\) kidneys; known: msc, "):
        select_factors(PRESET, groups=["kidneys"])
    with pytest.raises(LupusimError, match="not both"):
        select_factors(PRESET, parameters=["k_b_loss"], groups=["msc"])
    with pytest.raises(LupusimError, match="range-factor"):
        select_factors(PRESET, range_factor=1.0)
