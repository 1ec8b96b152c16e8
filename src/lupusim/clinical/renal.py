"""Lupus-nephritis renal response at each visit versus baseline (SPEC §3).

Every function takes a :class:`~lupusim.clinical.context.Context` and returns, per row,
``"complete"``, ``"partial"``, ``"none"`` or ``""`` (baseline, pre-baseline rows, or a
baseline without the proteinuria the rule needs), except BLISS-LN and AURORA which return
``"Y"``/``"N"``/``""``. Proteinuria is UPCR in g/g, or 24-h protein in g/day where UPCR
is missing (SPEC §3.1). Reductions are relative to the baseline value ("≥50 %" means
``UPCR_t ≤ 0.5 × UPCR_0``). Missing follow-up values and intercurrent events give
``"none"`` / ``"N"`` (non-responder imputation).

Urine sediment ("inactive": ≤5 RBC/hpf, ≤5 WBC/hpf, no casts; ACR 2006 [M]) is taken as
inactive where it is not recorded; ``score`` warns when a rule needed it.
"""

from __future__ import annotations

import numpy as np

from lupusim.clinical import _common as C
from lupusim.clinical.context import Context, confirm, label_level, label_yn


def _reference_egfr(ctx: Context) -> C.FloatArray:
    """Kidney-function reference: study baseline or pre-flare (knob egfr_reference)."""
    base = ctx.at_base(ctx.egfr)
    if ctx.config.egfr_reference == "preflare":
        pre = C.num(ctx.frame, "egfr_preflare_ml_min_1_73m2")
        return np.where(np.isnan(pre), base, pre)
    return base


def _preflare_egfr(ctx: Context) -> C.FloatArray:
    """Pre-flare eGFR column, falling back to the baseline eGFR (BLISS-LN)."""
    pre = C.num(ctx.frame, "egfr_preflare_ml_min_1_73m2")
    return np.where(np.isnan(pre), ctx.at_base(ctx.egfr), pre)


def has_kidney_function(ctx: Context) -> bool:
    """True if the table holds any eGFR (measured or computable from creatinine)."""
    return bool((~np.isnan(ctx.egfr)).any())


def _evaluable(ctx: Context) -> C.BoolArray:
    """After baseline, with baseline proteinuria and (if the table has any) baseline eGFR."""
    ok = ctx.after & ~np.isnan(ctx.at_base(ctx.upcr))
    if has_kidney_function(ctx):
        ok &= ~np.isnan(ctx.at_base(ctx.egfr))
    return ok


def _kidney(ctx: Context, met: C.BoolArray) -> C.BoolArray:
    """A kidney-function criterion; met everywhere when the table has no kidney function
    at all (responses then rest on proteinuria alone and ``score`` warns)."""
    if has_kidney_function(ctx):
        return met
    return np.ones(ctx.n, dtype=bool)


def sediment_inactive(ctx: Context) -> C.BoolArray:
    """≤5 RBC/hpf, ≤5 WBC/hpf and no casts (missing read as inactive)."""
    f = ctx.frame
    active = (
        C.gt(C.num(f, "urine_rbc_per_hpf"), 5)
        | C.gt(C.num(f, "urine_wbc_per_hpf"), 5)
        | C.flag(f, "urinary_casts")
    )
    return ~active


def _creatinine_normal(ctx: Context) -> C.BoolArray:
    """Normal serum creatinine (≤ knob), or eGFR ≥ normal bound where SCr is missing."""
    scr = C.num(ctx.frame, "creatinine_mg_dl")
    return np.where(
        np.isnan(scr),
        C.ge(ctx.egfr, ctx.config.egfr_normal_min),
        C.le(scr, ctx.config.creatinine_normal_max_mg_dl),
    )


def _creatinine_within(ctx: Context, factor: float) -> C.BoolArray:
    """SCr_t ≤ factor × SCr_0 (or eGFR_t ≥ eGFR_0 / factor where SCr is missing)."""
    scr = C.num(ctx.frame, "creatinine_mg_dl")
    scr0 = ctx.at_base(scr)
    by_scr = C.le(scr, factor * scr0)
    by_egfr = C.ge(ctx.egfr, ctx.at_base(ctx.egfr) / factor)
    return np.where(np.isnan(scr) | np.isnan(scr0), by_egfr, by_scr)


def _prednisone_at_most(ctx: Context, cap: float) -> C.BoolArray:
    """Prednisone ≤ cap at the visit; a missing dose is not held against the subject."""
    pred = C.num(ctx.frame, "prednisone_mg_day")
    return np.isnan(pred) | C.le(pred, cap)


def renal_kdigo(ctx: Context) -> np.ndarray:
    """KDIGO 2021/2024 (KDIGO 2024 LN guideline; Parikh 2020).

    Complete: UPCR < 0.5 g/g and eGFR ≥ (1 − tol) × reference. Partial: UPCR reduced
    ≥50 % and < 3 g/g, same kidney-function rule. tol = ``kidney_function_tolerance``
    (15 %, the upper end of KDIGO's "±10-15 %" [M]).
    """
    u0, ut = ctx.at_base(ctx.upcr), ctx.upcr
    kf = _kidney(
        ctx, C.ge(ctx.egfr, (1.0 - ctx.config.kidney_function_tolerance) * _reference_egfr(ctx))
    )
    complete = C.lt(ut, 0.5) & kf
    partial = C.le(ut, 0.5 * u0) & C.lt(ut, 3.0) & kf
    return confirm(ctx, label_level(ctx, complete, partial, _evaluable(ctx)))


def renal_acr_2006(ctx: Context) -> np.ndarray:
    """ACR 2006 renal response criteria (ACR 2006; Parikh 2020 table) [M].

    Complete: UPCR < 0.2, normal SCr (≤ ``creatinine_normal_max_mg_dl``) or — if abnormal
    at baseline — eGFR improved ≥25 %, and inactive sediment. Partial: UPCR reduced ≥50 %
    and ≤ 2.0 g/g, with eGFR not fallen by ≥25 % (eGFR_t > 0.75 × eGFR_0).
    """
    u0, ut = ctx.at_base(ctx.upcr), ctx.upcr
    normal = _creatinine_normal(ctx)
    abnormal_at_base = ~ctx.at_base(normal) & ctx.after
    improved = C.ge(ctx.egfr, 1.25 * ctx.at_base(ctx.egfr)) & abnormal_at_base
    kidney_cr = _kidney(ctx, normal | improved)
    kidney_pr = _kidney(ctx, C.gt(ctx.egfr, 0.75 * ctx.at_base(ctx.egfr)))
    complete = C.lt(ut, 0.2) & kidney_cr & sediment_inactive(ctx)
    partial = C.le(ut, 0.5 * u0) & C.le(ut, 2.0) & kidney_pr
    return confirm(ctx, label_level(ctx, complete, partial, _evaluable(ctx)))


def renal_eular_2019(ctx: Context) -> np.ndarray:
    """EULAR/ERA-EDTA 2019 (Fanouriakis 2020).

    Complete: UPCR < ``eular_cr_upcr_max`` (0.5; the source allows 0.5-0.7) with (near-)
    normal GFR: eGFR ≥ ``egfr_normal_min`` (90) or ≥ 90 % of the reference. Partial: ≥50 %
    reduction to sub-nephrotic (< 3 g/g) with the same GFR rule.
    """
    u0, ut = ctx.at_base(ctx.upcr), ctx.upcr
    kf = _kidney(
        ctx,
        C.ge(ctx.egfr, ctx.config.egfr_normal_min) | C.ge(ctx.egfr, 0.9 * _reference_egfr(ctx)),
    )
    complete = C.lt(ut, ctx.config.eular_cr_upcr_max) & kf
    partial = C.le(ut, 0.5 * u0) & C.lt(ut, 3.0) & kf
    return confirm(ctx, label_level(ctx, complete, partial, _evaluable(ctx)))


def renal_alms(ctx: Context) -> np.ndarray:
    """ALMS (Appel 2009; protocol PMID 18042591) [M].

    Response ("partial"): UPCR < 3 if baseline UPCR ≥ 3, else reduced ≥50 %; and SCr
    within +25 % of baseline or improved. Complete remission: normal SCr, UPCR ≤ 0.5 and
    inactive sediment.
    """
    u0, ut = ctx.at_base(ctx.upcr), ctx.upcr
    prot = np.where(C.ge(u0, 3.0), C.lt(ut, 3.0), C.le(ut, 0.5 * u0))
    response = prot & _kidney(ctx, _creatinine_within(ctx, 1.25))
    complete = _kidney(ctx, _creatinine_normal(ctx)) & C.le(ut, 0.5) & sediment_inactive(ctx)
    return confirm(ctx, label_level(ctx, complete, response, _evaluable(ctx)))


def renal_access(ctx: Context) -> np.ndarray:
    """ACCESS (ACCESS Trial Group 2014; SPEC science §5) [M].

    Complete: UPCR < 0.5, SCr normal or ≤125 % of baseline, prednisone taper done
    (≤ ``access_pred_max_mg`` = 10 mg/day). Partial: UPCR reduced ≥50 % (and < 3 if
    baseline nephrotic), SCr ≤125 % of baseline, taper done.
    """
    u0, ut = ctx.at_base(ctx.upcr), ctx.upcr
    taper = _prednisone_at_most(ctx, ctx.config.access_pred_max_mg)
    within = _kidney(ctx, _creatinine_within(ctx, 1.25))
    complete = C.lt(ut, 0.5) & _kidney(ctx, _creatinine_normal(ctx) | within) & taper
    nephrotic = C.ge(u0, 3.0)
    partial = C.le(ut, 0.5 * u0) & (~nephrotic | C.lt(ut, 3.0)) & within & taper
    return confirm(ctx, label_level(ctx, complete, partial, _evaluable(ctx)))


def renal_deng_2017(ctx: Context) -> np.ndarray:
    """Deng 2017 UC-MSC LN trial remission (NCT01539902; SPEC §3.3).

    Remission ("complete"; the rule is binary, so never "partial"): eGFR stable or
    improved (≥ (1 − ``kidney_function_tolerance``) × baseline), urine RBC < 10/hpf
    (missing read as met), and proteinuria < 3 with ≥50 % reduction if baseline ≥ 3,
    else < 1.
    """
    u0, ut = ctx.at_base(ctx.upcr), ctx.upcr
    kf = _kidney(
        ctx, C.ge(ctx.egfr, (1.0 - ctx.config.kidney_function_tolerance) * ctx.at_base(ctx.egfr))
    )
    rbc = C.num(ctx.frame, "urine_rbc_per_hpf")
    rbc_ok = np.isnan(rbc) | C.lt(rbc, 10.0)
    prot = np.where(C.ge(u0, 3.0), C.lt(ut, 3.0) & C.le(ut, 0.5 * u0), C.lt(ut, 1.0))
    remission = kf & rbc_ok & prot
    none = np.zeros(ctx.n, dtype=bool)
    return confirm(ctx, label_level(ctx, remission, none, _evaluable(ctx)))


def _bliss_gc(ctx: Context) -> C.BoolArray:
    """BLISS-LN: GC ≤ 10 mg/day from week 24 (benlystahcp footnote)."""
    late = C.ge(ctx.day, ctx.config.bliss_ln_pred_from_day)
    return ~late | _prednisone_at_most(ctx, ctx.config.bliss_ln_pred_max_mg)


def bliss_ln_perr(ctx: Context) -> np.ndarray:
    """BLISS-LN primary efficacy renal response (Furie 2020).

    UPCR ≤ 0.7 and eGFR ≥ 60 or ≥ 80 % of pre-flare (``egfr_preflare_ml_min_1_73m2``,
    falling back to baseline), no treatment failure, GC ≤ 10 mg/day from day 168.
    """
    egfr_ok = _kidney(ctx, C.ge(ctx.egfr, 60.0) | C.ge(ctx.egfr, 0.8 * _preflare_egfr(ctx)))
    met = C.le(ctx.upcr, 0.7) & egfr_ok & _bliss_gc(ctx)
    return label_yn(ctx, met, ctx.after)


def bliss_ln_crr(ctx: Context) -> np.ndarray:
    """BLISS-LN complete renal response (Furie 2020).

    UPCR < 0.5 and eGFR ≥ 90 or ≥ 90 % of pre-flare, no treatment failure, GC rule.
    """
    egfr_ok = _kidney(ctx, C.ge(ctx.egfr, 90.0) | C.ge(ctx.egfr, 0.9 * _preflare_egfr(ctx)))
    met = C.lt(ctx.upcr, 0.5) & egfr_ok & _bliss_gc(ctx)
    return label_yn(ctx, met, ctx.after)


def aurora_crr(ctx: Context) -> np.ndarray:
    """AURORA 1 complete renal response (Rovin 2021).

    UPCR ≤ 0.5 mg/mg; eGFR ≥ 60 or no decrease from baseline > 20 % (with
    ``confirmation_rule = "two_consecutive"`` the decrease must be seen at this and the
    previous visit to count); no rescue; prednisone ≤ 10 mg/day at the visit (the
    "≥3 consecutive / ≥7 days" rule needs daily dosing and is approximated by the visit).
    """
    egfr0 = ctx.at_base(ctx.egfr)
    decrease = C.lt(ctx.egfr, 0.8 * egfr0)
    if ctx.config.confirmation_rule == "two_consecutive":
        decrease &= C.lt(ctx.at_prev(ctx.egfr), 0.8 * egfr0) & (ctx.prev > ctx.base)
    egfr_ok = _kidney(ctx, C.ge(ctx.egfr, 60.0) | (~np.isnan(ctx.egfr) & ~decrease))
    met = C.le(ctx.upcr, 0.5) & egfr_ok & _prednisone_at_most(ctx, ctx.config.aurora_pred_max_mg)
    return label_yn(ctx, met, ctx.after)


RENAL_LEVEL_RULES = {
    "renal_kdigo": renal_kdigo,
    "renal_acr_2006": renal_acr_2006,
    "renal_eular_2019": renal_eular_2019,
    "renal_alms": renal_alms,
    "renal_access": renal_access,
    "renal_deng_2017": renal_deng_2017,
}
RENAL_YN_RULES = {
    "bliss_ln_perr": bliss_ln_perr,
    "bliss_ln_crr": bliss_ln_crr,
    "aurora_crr": aurora_crr,
}
CRITERION_COLUMN = {
    "KDIGO-2024": "renal_kdigo",
    "ACR-2006": "renal_acr_2006",
    "EULAR-2019": "renal_eular_2019",
    "ALMS": "renal_alms",
    "ACCESS": "renal_access",
    "DENG-2017": "renal_deng_2017",
    "BLISS-LN-PERR": "bliss_ln_perr",
    "BLISS-LN-CRR": "bliss_ln_crr",
    "AURORA-CRR": "aurora_crr",
}
