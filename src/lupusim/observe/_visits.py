"""Virtual visit tables: model observables in the clinical visit-table schema.

The same table a trial site would send (../shared/DESIGN.md, "Visit table"), so that
virtual patients are scored by :mod:`lupusim.clinical` — the code used for real data.
Laboratory values are passed as numbers (the instruments apply their own thresholds);
organ descriptors the model has no laboratory read-out for are booleans from the
organ-activity thresholds in :data:`lupusim.observe.THRESHOLDS` (assumptions).
No measurement noise is added here (expected values); issue 4's observation model adds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from lupusim.observe._sledai_approx import C3_LLN_G_L, C4_LLN_G_L, THRESHOLDS

ANTI_DSDNA_ULN_IU_ML = 30.0  # assumption (assay-dependent), as in THRESHOLDS

#: visit-table boolean column ← (observable, threshold) from THRESHOLDS
_BOOLEAN_DESCRIPTORS: dict[str, tuple[str, float]] = {
    "urinary_casts": ("renal_activity", 0.8),
    "rash": ("skin_activity", 0.3),
    "alopecia": ("skin_activity", 0.6),
    "mucosal_ulcers": ("skin_activity", 0.9),
    "arthritis": ("joint_activity", 0.4),
    "lupus_headache": ("cns_activity", 0.5),
    "fever_sle": ("inflammation", 1.5),
}
_LABS = (
    "protein_24h_g",
    "upcr_g_per_g",
    "creatinine_mg_dl",
    "egfr_ml_min_1_73m2",
    "albumin_g_l",
    "urine_rbc_per_hpf",
    "urine_wbc_per_hpf",
    "c3_g_l",
    "c4_g_l",
    "anti_dsdna_iu_ml",
    "platelets_1e9_l",
    "wbc_1e9_l",
    "lymphocytes_1e9_l",
    "prednisone_mg_day",
)


def _check_thresholds() -> None:
    known = {(obs, thr) for obs, _, thr, _, _ in THRESHOLDS}
    missing = [v for v in _BOOLEAN_DESCRIPTORS.values() if v not in known]
    if missing:  # pragma: no cover - guards the two tables against drifting apart
        raise RuntimeError(f"descriptor thresholds not in THRESHOLDS: {missing}")


_check_thresholds()


def visit_table(
    observables: Mapping[str, np.ndarray],
    times: np.ndarray,
    subject_ids: Sequence[str],
    visit_days: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per subject and visit day (default: every output time).

    ``observables`` are ``(N, T)`` arrays on ``times``; visits are taken at the nearest
    output time. ``study_day`` is the (rounded) day; ``visit`` is ``"day <d>"``.
    """
    days = np.asarray(times if visit_days is None else visit_days, dtype=float)
    idx = np.clip(np.searchsorted(times, days), 0, len(times) - 1)
    n, v = len(subject_ids), len(idx)
    frame: dict[str, np.ndarray | list[str]] = {
        "subject_id": np.repeat(np.asarray(subject_ids, dtype=object), v),
        "visit": np.tile([f"day {d:g}" for d in times[idx]], n),
        "study_day": np.tile(np.round(times[idx]).astype(int), n),
    }
    for name in _LABS:
        if name in observables:
            frame[name] = np.asarray(observables[name])[:, idx].reshape(-1)
    for column, (obs, threshold) in _BOOLEAN_DESCRIPTORS.items():
        frame[column] = (np.asarray(observables[obs])[:, idx] > threshold).reshape(-1)
    frame["c3_lln_g_l"] = np.full(n * v, C3_LLN_G_L)
    frame["c4_lln_g_l"] = np.full(n * v, C4_LLN_G_L)
    frame["anti_dsdna_uln_iu_ml"] = np.full(n * v, ANTI_DSDNA_ULN_IU_ML)
    return pd.DataFrame(frame)


def sledai2k(
    observables: Mapping[str, np.ndarray], times: np.ndarray, subject_ids: Sequence[str]
) -> np.ndarray:
    """SLEDAI-2K of virtual patients scored by :func:`lupusim.clinical.sledai`, ``(N, T)``."""
    from lupusim.clinical import sledai

    table = visit_table(observables, times, subject_ids)
    scores = sledai(table)
    return np.asarray(scores, dtype=float).reshape(len(subject_ids), len(times))
