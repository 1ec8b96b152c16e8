"""An approximate SLEDAI-2K of virtual patients from model observables.

Each SLEDAI-2K descriptor (Gladman 2002; weights as ../shared/clinical/SPEC.md §1.2)
is scored present when the observable it stands for crosses a threshold. Laboratory
thresholds are the instrument's own; the organ-activity thresholds (skin, joints,
CNS, casts, fever) are assumptions of this approximation, listed in ``THRESHOLDS``.
Reported SLEDAI-2K values are scored by ``lupusim.clinical`` from the virtual visit
table (:func:`lupusim.observe.sledai2k`); this vectorised version gives the same numbers
(a test checks it) and serves hot loops such as calibration and patient selection.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

#: (observable, comparison, threshold, weight, descriptor) — lab rules from SPEC §1.2,
#: the others assumptions.
THRESHOLDS: tuple[tuple[str, str, float, int, str], ...] = (
    ("protein_24h_g", ">", 0.5, 4, "proteinuria (>0.5 g/24 h)"),
    ("urine_rbc_per_hpf", ">", 5.0, 4, "haematuria (>5 RBC/HPF)"),
    ("urine_wbc_per_hpf", ">", 5.0, 4, "pyuria (>5 WBC/HPF)"),
    ("renal_activity", ">", 0.8, 4, "urinary casts (assumption: renal activity > 0.8)"),
    ("skin_activity", ">", 0.3, 2, "rash (assumption: skin activity > 0.3)"),
    ("skin_activity", ">", 0.6, 2, "alopecia (assumption: skin activity > 0.6)"),
    ("skin_activity", ">", 0.9, 2, "mucosal ulcers (assumption: skin activity > 0.9)"),
    ("joint_activity", ">", 0.4, 4, "arthritis (assumption: joint activity > 0.4)"),
    ("cns_activity", ">", 0.5, 8, "CNS descriptor (assumption: CNS activity > 0.5)"),
    ("inflammation", ">", 1.5, 1, "fever (assumption: inflammation > 1.5)"),
    ("anti_dsdna_iu_ml", ">", 30.0, 2, "increased DNA binding (ULN 30 IU/mL, assumption)"),
    ("platelets_1e9_l", "<", 100.0, 1, "thrombocytopenia (<100e9/L)"),
    ("wbc_1e9_l", "<", 3.0, 1, "leukopenia (<3e9/L)"),
)
C3_LLN_G_L = 0.9
C4_LLN_G_L = 0.1


def approximate_sledai2k(observables: Mapping[str, np.ndarray]) -> np.ndarray:
    """Approximate SLEDAI-2K (0–105) on arrays of observables of any common shape."""
    shape = np.shape(observables["protein_24h_g"])
    score = np.zeros(shape)
    for name, op, threshold, weight, _ in THRESHOLDS:
        values = np.asarray(observables[name])
        present = values > threshold if op == ">" else values < threshold
        score += weight * present
    low_complement = (np.asarray(observables["c3_g_l"]) < C3_LLN_G_L) | (
        np.asarray(observables["c4_g_l"]) < C4_LLN_G_L
    )
    score += 2 * low_complement
    nan = ~np.isfinite(np.asarray(observables["protein_24h_g"]))
    score[nan] = np.nan
    return score
