"""Lupus Low Disease Activity State (Franklyn 2016; SPEC §2.3), at every visit.

Operationalisation (explicit choices, docs/clinical.md):

1. SLEDAI-2K ≤ 4 with no CNS (#1-7), vasculitis (#8), renal (#11-14), serosal (#18-19)
   or fever (#22) descriptor; no haemolytic anaemia (``haemolytic_anaemia``) and no
   gastrointestinal activity (``gastrointestinal_activity``, or BILAG GI grade A/B);
2. no new features versus the previous visit (knob ``lldas_no_new_features``):
   ``"sledai"`` no SLEDAI-2K descriptor present now and absent then (Oon); met at a
   subject's first visit (nothing to compare with);
   ``"sledai_bilag"`` also no new BILAG A/B versus the previous visit;
   ``"sfi"`` no SFI flare versus the previous visit (Parodis-like);
3. PGA ≤ 1.00 (``lldas_pga_max``), compared in exact hundredths;
4. prednisone ≤ 7.5 mg/day (``lldas_pred_max_mg``);
5. no investigational drug (``investigational_drug``) and no non-standard
   immunosuppression (``nonstandard_immunosuppression``); rescue therapy fails it.

``""`` where the table lacks a PGA or prednisone column (not evaluable); a missing value
at a visit gives ``"N"``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lupusim.clinical import _common as C
from lupusim.clinical import bilag as B
from lupusim.clinical.context import Context

FORBIDDEN = (
    "seizure",
    "psychosis",
    "organic_brain_syndrome",
    "visual_disturbance",
    "cranial_nerve_disorder",
    "lupus_headache",
    "cva",
    "vasculitis",
    "urinary_casts",
    "haematuria",
    "proteinuria",
    "pyuria",
    "pleurisy",
    "pericarditis",
    "fever",
)


def evaluable_state(ctx: Context) -> C.BoolArray:
    """Rows where a visit-state definition (LLDAS, DORIS) can be evaluated."""
    f = ctx.frame
    if "pga" not in f.columns or "prednisone_mg_day" not in f.columns:
        return np.zeros(ctx.n, dtype=bool)
    return ctx.observed | ctx.after


def lldas(
    ctx: Context, s2k: C.FloatArray, items: pd.DataFrame, sfi: np.ndarray | None = None
) -> np.ndarray:
    """LLDAS 'Y'/'N'/'' per row; ``items`` are SLEDAI-2K descriptor presences."""
    f, cfg = ctx.frame, ctx.config
    item = {name: np.asarray(items[name], dtype=bool) for name in items.columns}
    c1 = C.le(s2k, 4.0)
    for name in FORBIDDEN:
        c1 &= ~item[name]
    c1 &= ~C.flag(f, "haemolytic_anaemia") & ~C.flag(f, "gastrointestinal_activity")
    if "bilag_gastrointestinal" in f.columns:
        c1 &= ~f["bilag_gastrointestinal"].isin(["A", "B"]).to_numpy(dtype=bool)

    c2 = np.ones(ctx.n, dtype=bool)
    for name in items.columns:
        if name.startswith("_"):
            continue
        c2 &= ~(item[name] & ~C.take(item[name], ctx.prev) & (ctx.prev >= 0))
    if cfg.lldas_no_new_features == "sledai_bilag" and B.present_columns(f):
        new_a, new_b = B.new_a_b(f, ctx.prev)
        c2 &= ((new_a == 0) & (new_b == 0)) | (ctx.prev < 0)
    elif cfg.lldas_no_new_features == "sfi" and sfi is not None:
        c2 &= ~np.isin(sfi, ["mild_moderate", "severe"])

    p = C.pga_hundredths(f, cfg.pga_step_hundredths)
    with np.errstate(invalid="ignore"):
        c3 = np.asarray(p <= round(cfg.lldas_pga_max * 100), dtype=bool)
    c4 = C.le(C.num(f, "prednisone_mg_day"), cfg.lldas_pred_max_mg)
    c5 = ~C.flag(f, "investigational_drug") & ~C.flag(f, "nonstandard_immunosuppression")
    c5 &= ~(ctx.rescue & (cfg.intercurrent_event_rule == "nri"))
    met = c1 & c2 & c3 & c4 & c5 & ctx.observed
    out = np.full(ctx.n, "", dtype=object)
    ev = evaluable_state(ctx)
    out[ev] = np.where(met[ev] & ~ctx.failure[ev], "Y", "N")
    return out
