"""DORIS 2021 definition of remission in SLE (van Vollenhoven 2021; SPEC §2.4).

Remission at a visit iff clinical SLEDAI = 0 (serology ignored), PGA < 0.5 (exact
hundredths; ``doris_pga_max``), prednisone ≤ 5 mg/day (``doris_pred_max_mg``; the
boundary is inclusive by default, ``doris_pred_inclusive = False`` gives < 5 [?]).
Antimalarials and stable immunosuppressives are allowed; rescue therapy (an unstable
regimen) fails remission under ``intercurrent_event_rule = "nri"``. No duration is
required. ``""`` where the table has no PGA or prednisone column.
"""

from __future__ import annotations

import numpy as np

from lupusim.clinical import _common as C
from lupusim.clinical.context import Context
from lupusim.clinical.lldas import evaluable_state


def doris(ctx: Context, clinical_sledai: C.FloatArray) -> np.ndarray:
    """DORIS remission 'Y'/'N'/'' per row."""
    f, cfg = ctx.frame, ctx.config
    c1 = np.asarray(clinical_sledai == 0, dtype=bool)
    p = C.pga_hundredths(f, cfg.pga_step_hundredths)
    with np.errstate(invalid="ignore"):
        c2 = np.asarray(p < round(cfg.doris_pga_max * 100), dtype=bool)
    pred = C.num(f, "prednisone_mg_day")
    c3 = (
        C.le(pred, cfg.doris_pred_max_mg)
        if cfg.doris_pred_inclusive
        else C.lt(pred, cfg.doris_pred_max_mg)
    )
    rescue = ctx.rescue & (cfg.intercurrent_event_rule == "nri")
    met = c1 & c2 & c3 & ~rescue & ctx.observed
    out = np.full(ctx.n, "", dtype=object)
    ev = evaluable_state(ctx)
    out[ev] = np.where(met[ev] & ~ctx.failure[ev], "Y", "N")
    return out
