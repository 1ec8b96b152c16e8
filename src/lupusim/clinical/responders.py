"""SLE Responder Index SRI-k (Furie 2009) and BICLA (Wallace 2014), versus baseline.

PGA is compared in exact integer hundredths (SPEC §2.1 numerics trap): "no worsening"
means ``PGA_t − PGA_0 < 0.30``, so a rise of exactly 0.30 fails.

Returns ``"Y"``/``"N"`` per row, ``""`` at and before baseline and where the baseline
lacks the SLEDAI or PGA (or, for BICLA, BILAG grades) the rule needs. Missing follow-up
values, rescue therapy and missed visits give ``"N"`` (non-responder imputation).
"""

from __future__ import annotations

import numpy as np

from lupusim.clinical import _common as C
from lupusim.clinical import bilag as B
from lupusim.clinical.context import Context, label_yn

PGA_WORSENING_HUNDREDTHS = 30  # 0.30 on the 0-3 scale (10 % of scale)


def _pga_not_worse(ctx: Context) -> C.BoolArray:
    p = C.pga_hundredths(ctx.frame, ctx.config.pga_step_hundredths)
    delta = p - ctx.at_base(p)
    with np.errstate(invalid="ignore"):
        return np.asarray(delta < PGA_WORSENING_HUNDREDTHS, dtype=bool)


def _baseline_known(ctx: Context, sledai: C.FloatArray) -> C.BoolArray:
    p = C.pga_hundredths(ctx.frame)
    return ctx.after & ~np.isnan(ctx.at_base(sledai)) & ~np.isnan(ctx.at_base(p))


def sri(ctx: Context, sledai: C.FloatArray, k: int = 4) -> np.ndarray:
    """SRI-k (Furie 2009; k = 4..8 by SLEDAI reduction).

    All of: SLEDAI_0 − SLEDAI_t ≥ k; no new BILAG A and ≤1 new B versus baseline (only
    when BILAG grades are given; otherwise this component is skipped and ``score`` warns);
    PGA_t − PGA_0 < 0.30.
    """
    drop = ctx.at_base(sledai) - sledai
    met = C.ge(drop, k) & _pga_not_worse(ctx)
    evaluable = _baseline_known(ctx, sledai)
    if B.has_bilag(ctx.frame):
        new_a, new_b = B.new_a_b(ctx.frame, ctx.base)
        complete = B.complete_rows(ctx.frame)
        met &= complete & (new_a == 0) & (new_b <= 1)
        evaluable &= ctx.at_base(complete)
    return label_yn(ctx, met, evaluable)


def bicla(ctx: Context, sledai: C.FloatArray) -> np.ndarray:
    """BICLA (Wallace 2014; SPEC §2.2). Needs BILAG grades: '' everywhere without them.

    All of: every baseline A improves to B-E and every B to C-E; no new A and ≤1 new B;
    SLEDAI_t ≤ SLEDAI_0; PGA_t − PGA_0 < 0.30; no treatment failure. A subject with no
    A or B at baseline meets criterion 1 vacuously.
    """
    if not B.has_bilag(ctx.frame):
        return np.full(ctx.n, "", dtype=object)
    complete = B.complete_rows(ctx.frame)
    new_a, new_b = B.new_a_b(ctx.frame, ctx.base)
    met = (
        complete
        & B.improved(ctx.frame, ctx.base)
        & (new_a == 0)
        & (new_b <= 1)
        & C.le(sledai, ctx.at_base(sledai))
        & _pga_not_worse(ctx)
    )
    evaluable = _baseline_known(ctx, sledai) & ctx.at_base(complete)
    return label_yn(ctx, met, evaluable)
