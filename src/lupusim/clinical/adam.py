"""ADaM-style BDS table (ADaMIG v1.3; SPEC §6.5) from the scores table.

One record per subject, visit and parameter: USUBJID, PARAMCD, PARAM, AVISIT, AVISITN,
ADY, AVAL, AVALC, BASE, CHG, ABLFL, DTYPE. Responder parameters have AVAL 1/0 and AVALC
Y/N; renal levels AVAL 2/1/0 for complete/partial/none; SFI AVAL 2/1/0 for
severe/mild_moderate/none. BASE and CHG are given for numeric parameters after baseline.
DTYPE is "NRI" where a non-responder was imputed (rescue therapy, missed visit). Records
with neither AVAL nor AVALC are left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ADAM_COLUMNS: tuple[str, ...] = (
    "USUBJID",
    "PARAMCD",
    "PARAM",
    "AVISIT",
    "AVISITN",
    "ADY",
    "AVAL",
    "AVALC",
    "BASE",
    "CHG",
    "ABLFL",
    "DTYPE",
)

NUMERIC_PARAMS: tuple[tuple[str, str, str], ...] = (
    ("sledai2k", "S2KTOT", "SLEDAI-2K Total Score"),
    ("selena_sledai", "SSLDTOT", "SELENA-SLEDAI Total Score"),
    ("clinical_sledai", "CSLEDAI", "Clinical SLEDAI-2K Score"),
    ("pga", "PGA", "Physician Global Assessment (0-3)"),
    ("proteinuria_g_per_g", "UPCR", "Urine Protein/Creatinine Ratio (g/g)"),
    ("egfr", "EGFR", "eGFR (mL/min/1.73 m2)"),
    ("sdi", "SDI", "SLICC/ACR Damage Index"),
    ("bilag_numeric", "BILAGNUM", "BILAG-2004 Numeric Score (Yee 2010)"),
)
CATEGORY_PARAMS: tuple[tuple[str, str, str], ...] = (
    ("sri4", "SRI4", "SLE Responder Index 4"),
    ("sri5", "SRI5", "SLE Responder Index 5"),
    ("sri6", "SRI6", "SLE Responder Index 6"),
    ("sri7", "SRI7", "SLE Responder Index 7"),
    ("sri8", "SRI8", "SLE Responder Index 8"),
    ("bicla", "BICLA", "BILAG-based Combined Lupus Assessment"),
    ("lldas", "LLDAS", "Lupus Low Disease Activity State"),
    ("doris", "DORIS", "DORIS 2021 Remission"),
    ("renal_kdigo", "RRKDIGO", "Renal Response KDIGO 2024"),
    ("renal_acr_2006", "RRACR06", "Renal Response ACR 2006"),
    ("renal_eular_2019", "RREULA19", "Renal Response EULAR/ERA-EDTA 2019"),
    ("renal_alms", "RRALMS", "Renal Response ALMS"),
    ("renal_access", "RRACCESS", "Renal Response ACCESS"),
    ("renal_deng_2017", "RRDENG17", "Renal Remission Deng 2017"),
    ("bliss_ln_perr", "PERR", "BLISS-LN Primary Efficacy Renal Response"),
    ("bliss_ln_crr", "BLNCRR", "BLISS-LN Complete Renal Response"),
    ("aurora_crr", "AURCRR", "AURORA Complete Renal Response"),
    ("renal_flare_aurora2", "RFAUR2", "Renal Flare AURORA 2"),
    ("renal_flare_lnrv", "RFLNRV", "Renal Flare LN Response Variables"),
    ("flare_sfi", "SFI", "SELENA Flare Index"),
    ("bilag_mcr", "BILAGMCR", "FDA 2010 BILAG Major Clinical Response"),
    ("bilag_pcr", "BILAGPCR", "FDA 2010 BILAG Partial Clinical Response"),
)
CODES = {
    "Y": 1.0,
    "N": 0.0,
    "complete": 2.0,
    "partial": 1.0,
    "none": 0.0,
    "severe": 2.0,
    "mild_moderate": 1.0,
}


def to_adam(scores: pd.DataFrame) -> pd.DataFrame:
    """Long BDS table of every parameter present in ``scores``."""
    n = len(scores)
    usubjid = scores["subject_id"].astype(str).to_numpy()
    avisit = scores["visit"].astype(str).to_numpy()
    avisitn = scores.groupby("subject_id", sort=False).cumcount().to_numpy() + 1
    ady = pd.to_numeric(scores["study_day"], errors="coerce").to_numpy(dtype=float)
    ablfl = np.where(scores["baseline"].to_numpy(dtype=bool), "Y", "")
    nri = scores["nri_reason"].astype(str).to_numpy() if "nri_reason" in scores else np.full(n, "")
    base_pos = _baseline_positions(scores)
    parts = []
    for col, code, label in NUMERIC_PARAMS:
        if col not in scores.columns:
            continue
        aval = pd.to_numeric(scores[col], errors="coerce").to_numpy(dtype=float)
        base = np.where(base_pos >= 0, aval[np.maximum(base_pos, 0)], np.nan)
        after = (base_pos >= 0) & (np.arange(n) > base_pos)
        base = np.where(after | (ablfl == "Y"), base, np.nan)
        chg = np.where(after, aval - base, np.nan)
        parts.append(
            _frame(
                usubjid,
                code,
                label,
                avisit,
                avisitn,
                ady,
                aval,
                np.full(n, ""),
                base,
                chg,
                ablfl,
                np.full(n, ""),
            )
        )
    for col, code, label in CATEGORY_PARAMS:
        if col not in scores.columns:
            continue
        avalc = scores[col].fillna("").astype(str).to_numpy()
        aval = np.array([CODES.get(v, np.nan) for v in avalc], dtype=float)
        dtype = np.where((nri != "") & np.isin(avalc, ["N", "none"]), "NRI", "")
        parts.append(
            _frame(
                usubjid,
                code,
                label,
                avisit,
                avisitn,
                ady,
                aval,
                avalc,
                np.full(n, np.nan),
                np.full(n, np.nan),
                ablfl,
                dtype,
            )
        )
    if not parts:
        return pd.DataFrame(columns=list(ADAM_COLUMNS))
    out = pd.concat(parts, ignore_index=True)
    keep = out["AVAL"].notna() | (out["AVALC"] != "")
    out = out[keep]
    order = {code: i for i, (_, code, _) in enumerate((*NUMERIC_PARAMS, *CATEGORY_PARAMS))}
    out = out.assign(_p=out["PARAMCD"].map(order))
    out = out.sort_values(["USUBJID", "_p", "AVISITN"], kind="stable").drop(columns="_p")
    out["ADY"] = out["ADY"].astype("Int64")
    return out.reset_index(drop=True)


def _baseline_positions(scores: pd.DataFrame) -> np.ndarray:
    flags = scores["baseline"].to_numpy(dtype=bool)
    subj = scores["subject_id"].to_numpy()
    where = {s: i for i, s in enumerate(subj) if flags[i]}
    return np.array([where.get(s, -1) for s in subj], dtype=np.int64)


def _frame(*cols: object) -> pd.DataFrame:
    return pd.DataFrame(dict(zip(ADAM_COLUMNS, cols, strict=True)))
