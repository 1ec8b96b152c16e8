"""SELENA-SLEDAI Flare Index, classic and BLISS-modified (Petri 2005 / Buyon 2005; SPEC §1.4).

Each visit is compared with the subject's previous observed visit; ``severe`` overrides
``mild_moderate``; the first visit (nothing to compare with) and missed visits give
``""``. Criteria, each met alone:

Mild/moderate: SELENA-SLEDAI rise ≥ ``sfi_mild_min_increase`` (3) to ≤ 12; new/worse
discoid, photosensitive, profundus, cutaneous-vasculitis or bullous lupus, rash,
nasopharyngeal (mucosal) ulcers, pleuritis, pericarditis, arthritis (or more joints),
fever; prednisone increased but not to > 0.5 mg/kg/day; added NSAID or HCQ
(``new_nsaid_or_hcq``); PGA rise ≥ 1.00 to ≤ 2.50.

Severe: SELENA-SLEDAI rise (≥1) to > 12; new/worse CNS descriptor (#1-7), vasculitis,
nephritis (``nephritis``; with ``sfi_nephritis_from_sledai`` also new proteinuria or
urinary casts), myositis; platelets
newly < 60 ×10⁹/L; haemolytic anaemia (``haemolytic_anaemia``, Hb newly < 7 g/dL or a
fall > 3 g/dL); prednisone increased to > 0.5 mg/kg/day (or, with
``sfi_doubling_is_severe``, doubled from > 0: off by default, because the SFI ties
"requiring doubling" to a severe manifestation and its prednisone row grades a plain
increase by the 0.5 mg/kg/day bound); new cyclophosphamide/azathioprine/methotrexate/MMF
(``new_immunosuppressant``); hospitalisation for SLE (``hospitalisation_sle``); PGA rise
to > 2.50.

Modified SFI (BLISS [M]): a severe flare triggered only by the SELENA-SLEDAI rise to > 12
is not severe; it is mild/moderate when the rise is ≥ 3.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lupusim.clinical import _common as C
from lupusim.clinical.context import Context

_MILD_ITEMS = ("rash", "mucosal_ulcers", "pleurisy", "pericarditis", "arthritis", "fever")
_MILD_COLUMNS = (
    "discoid_rash",
    "photosensitive_rash",
    "lupus_profundus",
    "cutaneous_vasculitis",
    "bullous_lupus",
)
_SEVERE_ITEMS = (
    "seizure",
    "psychosis",
    "organic_brain_syndrome",
    "visual_disturbance",
    "cranial_nerve_disorder",
    "lupus_headache",
    "cva",
    "vasculitis",
    "myositis",
)


def _new(now: C.BoolArray, ctx: Context) -> C.BoolArray:
    return now & ~C.take(now, ctx.prev)


def sfi(
    ctx: Context, selena: C.FloatArray, items: pd.DataFrame, variant: str = "classic"
) -> np.ndarray:
    """SFI category per row; ``items`` are SLEDAI-2K descriptor presences (bool columns)."""
    f, cfg = ctx.frame, ctx.config
    evaluable = ctx.observed & (ctx.prev >= 0)
    d_sledai = selena - ctx.at_prev(selena)
    sledai_severe = C.gt(selena, 12.0) & C.ge(d_sledai, 1.0)
    sledai_mild = C.ge(d_sledai, cfg.sfi_mild_min_increase) & C.le(selena, 12.0)

    item = {name: np.asarray(items[name], dtype=bool) for name in items.columns}
    mild = sledai_mild.copy()
    for name in _MILD_ITEMS:
        mild |= _new(item[name], ctx)
    for col in _MILD_COLUMNS:
        mild |= _new(C.flag(f, col), ctx)
    joints = C.num(f, "arthritis_joints")
    mild |= item["arthritis"] & C.gt(joints, ctx.at_prev(joints))
    mild |= C.flag(f, "new_nsaid_or_hcq")

    other_severe = np.zeros(ctx.n, dtype=bool)
    for name in _SEVERE_ITEMS:
        other_severe |= _new(item[name], ctx)
    neph, neph_known = C.boolean(f, "nephritis")
    from_sledai = _new(item["proteinuria"], ctx) | _new(item["urinary_casts"], ctx)
    if not cfg.sfi_nephritis_from_sledai:
        from_sledai = np.zeros(ctx.n, dtype=bool)
    other_severe |= np.where(neph_known, _new(neph, ctx), from_sledai)
    plt_ = C.num(f, "platelets_1e9_l")
    other_severe |= C.lt(plt_, 60.0) & ~C.lt(ctx.at_prev(plt_), 60.0)
    hb = C.num(f, "haemoglobin_g_dl")
    hb_prev = ctx.at_prev(hb)
    other_severe |= _new(C.flag(f, "haemolytic_anaemia"), ctx)
    other_severe |= (C.lt(hb, 7.0) & ~C.lt(hb_prev, 7.0)) | C.gt(hb_prev - hb, 3.0)
    other_severe |= C.flag(f, "new_immunosuppressant") | C.flag(f, "hospitalisation_sle")

    pred = C.num(f, "prednisone_mg_day")
    pred_prev = ctx.at_prev(pred)
    increased = C.gt(pred, pred_prev)
    per_kg = pred / C.num(f, "weight_kg")
    high = C.gt(per_kg, 0.5)
    other_severe |= increased & high
    if cfg.sfi_doubling_is_severe:
        other_severe |= C.gt(pred_prev, 0.0) & C.ge(pred, 2.0 * pred_prev)
    mild |= increased & ~high

    p = C.pga_hundredths(f, cfg.pga_step_hundredths)
    dp = p - ctx.at_prev(p)
    with np.errstate(invalid="ignore"):
        mild |= (dp >= 100) & (p <= 250)
        other_severe |= (dp > 0) & (p > 250)

    if variant == "modified":
        severe = other_severe
        mild = mild | (sledai_severe & C.ge(d_sledai, cfg.sfi_mild_min_increase))
    else:
        severe = other_severe | sledai_severe
    out = np.full(ctx.n, "", dtype=object)
    cat = np.where(severe, "severe", np.where(mild, "mild_moderate", "none"))
    out[evaluable] = cat[evaluable]
    return out
