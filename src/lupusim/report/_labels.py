"""Human-readable names and units for trajectory variables (axis labels)."""

from __future__ import annotations

# name -> (readable name, unit); unit "" = dimensionless / none shown.
VARIABLE_LABELS: dict[str, tuple[str, str]] = {
    "urine_acr_mg_g": ("Urine albumin:creatinine", "mg/g"),
    "protein_24h_g": ("24-h urine protein", "g/day"),
    "creatinine_mg_dl": ("Serum creatinine", "mg/dL"),
    "egfr_ml_min_1_73m2": ("eGFR", "mL/min/1.73 m²"),
    "anti_dsdna_iu_ml": ("Anti-dsDNA", "IU/mL"),
    "c3_g_l": ("Complement C3", "g/L"),
    "c4_g_l": ("Complement C4", "g/L"),
    "treg_pct_cd4": ("Treg", "% of CD4⁺"),
    "th17_pct_cd4": ("Th17", "% of CD4⁺"),
    "alive": ("Fraction alive", ""),
    "sledai2k": ("SLEDAI-2K", "score"),
    "bone_bv_tv_pct": ("Trabecular BV/TV", "%"),
    "host_msc_function": ("Host MSC function", "0–1"),
    "donor_msc_cells": ("Donor MSC", "cells"),
    "upcr_g_per_g": ("Urine protein:creatinine", "g/g"),
    "albumin_g_l": ("Serum albumin", "g/L"),
    "prednisone_mg_day": ("Prednisone-equivalent dose", "mg/day"),
    "platelets_1e9_l": ("Platelets", "10⁹/L"),
    "wbc_1e9_l": ("White blood cells", "10⁹/L"),
    "lymphocytes_1e9_l": ("Lymphocytes", "10⁹/L"),
    "urine_rbc_per_hpf": ("Urine red cells", "/HPF"),
    "urine_wbc_per_hpf": ("Urine white cells", "/HPF"),
}

# Unit suffixes of snake_case observable names, longest first.
_SUFFIX_UNITS: tuple[tuple[str, str], ...] = (
    ("_ml_min_1_73m2", "mL/min/1.73 m²"),
    ("_mg_per_mmol", "mg/mmol"),
    ("_g_per_g", "g/g"),
    ("_mg_day", "mg/day"),
    ("_umol_l", "µmol/L"),
    ("_iu_ml", "IU/mL"),
    ("_mg_dl", "mg/dL"),
    ("_mg_g", "mg/g"),
    ("_1e9_l", "10⁹/L"),
    ("_per_hpf", "/HPF"),
    ("_g_l", "g/L"),
    ("_pct", "%"),
    ("_kg", "kg"),
    ("_g", "g"),
)


def unit_from_name(variable: str) -> str:
    """The unit encoded in a variable name's suffix (``_mg_g`` -> "mg/g"); "" if none."""
    if variable in VARIABLE_LABELS:
        return VARIABLE_LABELS[variable][1]
    for suffix, unit in _SUFFIX_UNITS:
        if variable.endswith(suffix) and len(variable) > len(suffix):
            return unit
    return ""


def axis_label(variable: str) -> str:
    """Y-axis label: readable name and unit for known names, else the raw name (+ unit)."""
    if variable in VARIABLE_LABELS:
        name, unit = VARIABLE_LABELS[variable]
    else:
        name, unit = variable, unit_from_name(variable)
    return f"{name} ({unit})" if unit else name


def variable_sort_key(variable: str) -> tuple[int, str]:
    """Known variables in the order above (``alive`` last), then others by name."""
    order = list(VARIABLE_LABELS)
    if variable == "alive":
        return (len(order), "")
    if variable in VARIABLE_LABELS:
        return (order.index(variable), "")
    return (len(order) + 1, variable)
