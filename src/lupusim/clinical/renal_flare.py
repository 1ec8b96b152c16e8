"""Lupus-nephritis renal flare after a response, per visit (SPEC §3.3).

Two proteinuric flare rules, each returning ``"Y"``/``"N"``/``""`` per row:

* ``renal_flare_aurora2`` — AURORA 2 (Lupus Sci Med 2024;11(Suppl 2):A85; AURORA 1:
  Rovin 2021 Lancet 397:2070).
* ``renal_flare_lnrv`` — the "LN response variable" framework (J Clin Trials
  2024;14(4):563, PMC11258879 Table 2; PMC8766607 Table 3).

Common conventions:

* Proteinuria is UPCR in g/g, or 24-h protein in g/day where UPCR is missing (SPEC §3.1,
  as in :mod:`lupusim.clinical.renal`).
* The *nadir* of a row is the lowest proteinuria at the subject's visits strictly after
  baseline and strictly before the row ("best UPCR since baseline"); it is what the
  response — and so the flare threshold — is judged from. At the first follow-up there is
  no nadir yet, so no response and no flare (``"N"``).
* Baseline and pre-baseline rows give ``""``; a visit without proteinuria (including a
  row added for a missed visit) gives ``""`` — it neither shows nor rules out a flare.
* The status is per visit: ``"Y"`` where the flare rule is met at that visit (and stays
  ``"Y"`` at later visits only while it is still met), not cumulative. For the first
  flare of each subject (time-to-event endpoints) use :func:`first_renal_flare_day`.
* A flare is an event, not a response, so non-responder imputation (rescue therapy,
  ``intercurrent_event_rule``) does not apply: rescue therapy neither makes nor removes
  a flare.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np
import pandas as pd

from lupusim.clinical import _common as C
from lupusim.clinical import schema as S
from lupusim.clinical.context import Context

#: "more than 1 week apart" (LN-RV reproducibility, PMC11258879 Table 2 footnote).
LNRV_MIN_GAP_DAYS = 7.0


def proteinuria_nadir(ctx: Context) -> C.FloatArray:
    """Lowest proteinuria at the subject's visits after baseline and before each row.

    NaN where there is none (at and before baseline, at the first follow-up, or when no
    earlier follow-up has a value).
    """
    measured = ctx.after & ~np.isnan(ctx.upcr)
    values = pd.Series(np.where(measured, ctx.upcr, np.inf))
    subj = ctx.frame[S.SUBJECT].to_numpy()
    running = values.groupby(subj, sort=False).cummin()
    before = running.groupby(subj, sort=False).shift(1).to_numpy(dtype=float)
    before[np.isinf(before)] = np.nan
    return np.where(ctx.after, before, np.nan)


def _measured(ctx: Context) -> C.BoolArray:
    """Rows after baseline with a proteinuria value (the rows a flare rule can judge)."""
    return ctx.after & ~np.isnan(ctx.upcr)


def _persistent(
    ctx: Context, met: C.BoolArray, measured: C.BoolArray, min_visits: int, gap_days: float
) -> C.BoolArray:
    """``met`` at this row and throughout the run of measured rows ending here that holds
    at least ``min_visits`` visits, each more than ``gap_days`` after the last one counted.

    Runs are over the subject's measured rows (rows without proteinuria are skipped, not
    breaks); a measured row that does not meet the rule ends the run. Visits are counted
    greedily from the start of the run, which gives the largest count.
    """
    subj = ctx.frame[S.SUBJECT].to_numpy()
    out = np.zeros(ctx.n, dtype=bool)
    current: object = object()
    count, last_day = 0, np.nan
    for i in range(ctx.n):
        if subj[i] != current:
            current, count, last_day = subj[i], 0, np.nan
        if not measured[i]:
            continue
        if not met[i]:
            count, last_day = 0, np.nan
            continue
        day = float(ctx.day[i])
        if count == 0 or np.isnan(last_day) or bool(C.gt(day - last_day, gap_days)):
            count, last_day = count + 1, day
        out[i] = count >= min_visits
    return out


def _label(ctx: Context, flare: C.BoolArray) -> np.ndarray:
    """'Y'/'N' on measured rows after baseline, '' elsewhere (no NRI: a flare is an event)."""
    measured = _measured(ctx)
    out = np.full(ctx.n, "", dtype=object)
    out[measured] = np.where(flare[measured], "Y", "N")
    return out


def aurora2_flare_met(ctx: Context) -> C.BoolArray:
    """The AURORA 2 flare thresholds at each row, without confirmation (see
    :func:`renal_flare_aurora2`)."""
    nadir, u = proteinuria_nadir(ctx), ctx.upcr
    after_complete = C.lt(nadir, 0.2) & C.gt(u, 1.0)
    after_partial = ~C.lt(nadir, 0.2) & C.le(nadir, 1.0) & C.gt(u, 2.0)
    return after_complete | after_partial


def renal_flare_aurora2(ctx: Context) -> np.ndarray:
    """AURORA 2 renal flare (Lupus Sci Med 2024;11(Suppl 2):A85; Rovin 2021 for AURORA 1).

    Source wording [S]: "an increase to UPCR > 1 mg/mg from a post-response UPCR of
    < 0.2 mg/mg or an increase to UPCR > 2 mg/mg from a post-response UPCR of 0.2 to
    1.0 mg/mg", adjudicated by a blinded committee. Here: with nadir = the lowest UPCR at
    an earlier visit after baseline, flare = UPCR > 1.0 if nadir < 0.2, UPCR > 2.0 if
    0.2 ≤ nadir ≤ 1.0; a subject whose nadir is still > 1.0 has had no response to flare
    from (``"N"``). mg/mg and g/g are the same ratio.

    The abstract states no confirmation at a later visit, so by default a single visit
    suffices (``aurora_flare_confirmation = "single"``). With ``"two_consecutive"`` the
    thresholds must also be met at the subject's previous measured follow-up visit, and
    the flare is reported at the confirming (second) visit.
    """
    met = aurora2_flare_met(ctx)
    if ctx.config.aurora_flare_confirmation == "two_consecutive":
        met = _persistent(ctx, met, _measured(ctx), 2, 0.0)
    return _label(ctx, met)


def lnrv_flare_met(ctx: Context) -> C.BoolArray:
    """The LN-RV flare thresholds at each row, before the persistence rule (see
    :func:`renal_flare_lnrv`)."""
    nadir, u = proteinuria_nadir(ctx), ctx.upcr
    complete = C.le(nadir, 0.2)
    partial = ~complete & C.le(nadir, 0.5 * ctx.at_base(ctx.upcr))
    after_complete = complete & C.gt(u, 0.5)
    after_partial = partial & C.ge(u, 2.0 * nadir) & C.gt(u, 1.0)
    return after_complete | after_partial


def renal_flare_lnrv(ctx: Context) -> np.ndarray:
    """LN flare of the LN-response-variable framework (PMC11258879 Table 2 items c-d).

    Source [S]: "persistent increase of UPCR to > 0.5, after CRR"; "persistent doubling
    of UPCR with values > 1.0, after PRR"; reproducible = "presence on > 2 subsequent time
    points > 1 week apart". Operationalised on proteinuria alone (the GFR/haematuria items
    a-b and the physician's attribution to LN are not derived):

    * complete response (CRR) reached = nadir ≤ 0.2 g/g (the UPCR LN-RV's ULN);
      flare criterion UPCR > 0.5.
    * otherwise partial response (PRR) reached = nadir ≤ 50 % of baseline proteinuria
      (the usual ≥ 50 % reduction; the source's "relevant improvement of 2 LN-RVs" is not
      quantified [M]); flare criterion UPCR ≥ 2 × nadir and > 1.0.
    * neither: ``"N"``. Without baseline proteinuria a visit whose nadir is above 0.2 is
      ``""`` (partial response cannot be judged).
    * persistent: the criterion is met at ``lnrv_flare_min_visits`` (default 2, [?]: the
      source says "> 2") consecutive measured visits, each more than 7 days after the
      previous one counted; ``"Y"`` from the visit that completes the count.
    """
    met = lnrv_flare_met(ctx)
    measured = _measured(ctx)
    flare = _persistent(ctx, met, measured, ctx.config.lnrv_flare_min_visits, LNRV_MIN_GAP_DAYS)
    out = _label(ctx, flare)
    nadir = proteinuria_nadir(ctx)
    unknown = measured & ~np.isnan(nadir) & ~C.le(nadir, 0.2) & np.isnan(ctx.at_base(ctx.upcr))
    out[unknown] = ""
    return out


def first_renal_flare_day(
    scores: pd.DataFrame, column: str = "renal_flare_aurora2", values: Collection[str] = ("Y",)
) -> pd.Series:
    """Study day of each subject's first visit whose ``column`` is among ``values``.

    For time-to-first-flare endpoints from the per-visit flare columns (or any categorical
    score column, e.g. ``flare_sfi`` with ``values=("severe",)``). Returns a float Series
    indexed by ``subject_id`` (every subject of ``scores``, in order of first appearance),
    NaN for subjects without such a visit; the subject's follow-up is then censored at its
    last visit, which the caller takes from ``scores``.
    """
    if column not in scores.columns:
        raise KeyError(f"no score column {column!r}")
    subj = scores[S.SUBJECT]
    day = pd.to_numeric(scores[S.STUDY_DAY], errors="coerce").astype(float)
    hit = scores[column].astype(object).isin(list(values)).to_numpy()
    first = day[hit].groupby(subj[hit].to_numpy(), sort=False).min()
    out = pd.Series(np.nan, index=pd.Index(subj.unique(), name=S.SUBJECT), name=column)
    out.loc[first.index] = first.to_numpy()
    return out


RENAL_FLARE_RULES: dict[str, Callable[[Context], np.ndarray]] = {
    "renal_flare_aurora2": renal_flare_aurora2,
    "renal_flare_lnrv": renal_flare_lnrv,
}
