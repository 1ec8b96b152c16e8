"""Per-row context shared by the longitudinal instruments.

Built once from an ordered visit table: links to the baseline and previous visits, the
rows that can be evaluated against baseline, and the intercurrent events that make a
non-responder under the default ``intercurrent_event_rule = "nri"`` (SPEC §2.1 item 4):
rescue therapy (sticky by default: every later visit fails too) and a missed visit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lupusim.clinical import _common as C
from lupusim.clinical import egfr as E
from lupusim.clinical import schema as S

OUTCOME_ORDER = {"none": 0, "partial": 1, "complete": 2}


@dataclass
class Context:
    """Links and derived values of an ordered visit table."""

    frame: pd.DataFrame
    config: S.ScoringConfig
    base: C.IntArray
    prev: C.IntArray
    observed: C.BoolArray
    after: C.BoolArray
    rescue: C.BoolArray
    failure: C.BoolArray
    day: C.FloatArray
    upcr: C.FloatArray
    egfr: C.FloatArray
    egfr_source: np.ndarray

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(self.frame)

    def at_base(self, values: np.ndarray) -> np.ndarray:
        """Each row's baseline value."""
        return C.take(values, self.base)

    def at_prev(self, values: np.ndarray) -> np.ndarray:
        """Each row's previous observed visit's value."""
        return C.take(values, self.prev)

    def nri_reason(self) -> np.ndarray:
        """Why a row is a non-responder regardless of its values ('' if not)."""
        out = np.full(self.n, "", dtype=object)
        if self.config.intercurrent_event_rule == "ignore":
            return out
        out[~self.observed & self.after] = "missing_visit"
        out[self.rescue & self.after] = "rescue_therapy"
        return out


def renal_proteinuria(frame: pd.DataFrame) -> C.FloatArray:
    """UPCR in g/g, falling back to 24-h protein in g/day (numerically interchangeable, §3.1)."""
    upcr = C.num(frame, "upcr_g_per_g")
    return np.where(np.isnan(upcr), C.num(frame, "protein_24h_g"), upcr)


def egfr_used(frame: pd.DataFrame, equation: str) -> tuple[C.FloatArray, np.ndarray]:
    """eGFR used by the rules: measured where given, else computed (issue 3, §1)."""
    measured = C.num(frame, "egfr_ml_min_1_73m2")
    sex = (
        frame["sex"].to_numpy(dtype=object) if "sex" in frame.columns else np.full(len(frame), None)
    )
    computed = E.egfr(
        equation,
        C.num(frame, "creatinine_mg_dl"),
        C.num(frame, "age_years"),
        sex,
        cystatin_c_mg_l=C.num(frame, "cystatin_c_mg_l"),
        weight_kg=C.num(frame, "weight_kg"),
        black=C.flag(frame, "race_black"),
    )
    use_measured = ~np.isnan(measured)
    value = np.where(use_measured, measured, computed)
    source = np.where(use_measured, "measured", np.where(np.isnan(computed), "", equation))
    return value, source.astype(object)


def build_context(frame: pd.DataFrame, config: S.ScoringConfig) -> Context:
    """Context of an ordered visit table."""
    obs = C.observed(frame)
    base = C.baseline_index(frame)
    prev = C.previous_index(frame, obs)
    after = C.after_baseline(frame, base)
    rescue = C.flag(frame, "rescue_therapy")
    if config.treatment_failure_sticky:
        subj = frame[S.SUBJECT].to_numpy()
        sticky = pd.Series(rescue.astype(int)).groupby(subj, sort=False).cummax().to_numpy() > 0
        rescue = sticky
    failure = np.zeros(len(frame), dtype=bool)
    if config.intercurrent_event_rule == "nri":
        failure = after & (rescue | ~obs)
    value, source = egfr_used(frame, config.egfr_equation)
    return Context(
        frame=frame,
        config=config,
        base=base,
        prev=prev,
        observed=obs,
        after=after,
        rescue=rescue,
        failure=failure,
        day=C.visit_time(frame),
        upcr=renal_proteinuria(frame),
        egfr=value,
        egfr_source=source,
    )


def label_yn(ctx: Context, met: C.BoolArray, evaluable: C.BoolArray) -> np.ndarray:
    """'Y'/'N' where evaluable, '' elsewhere; failures are 'N' (NRI)."""
    out = np.full(ctx.n, "", dtype=object)
    out[evaluable] = np.where(met[evaluable] & ~ctx.failure[evaluable], "Y", "N")
    return out


def label_level(
    ctx: Context, complete: C.BoolArray, partial: C.BoolArray, evaluable: C.BoolArray
) -> np.ndarray:
    """'complete'/'partial'/'none' where evaluable, '' elsewhere; failures are 'none'."""
    out = np.full(ctx.n, "", dtype=object)
    level = np.where(complete, "complete", np.where(partial, "partial", "none"))
    level = np.where(ctx.failure, "none", level)
    out[evaluable] = level[evaluable]
    return out


def confirm(ctx: Context, labels: np.ndarray) -> np.ndarray:
    """Two-consecutive-visit confirmation (SPEC §3.3 notes): a level holds at a visit
    only if the subject's previous row after baseline reached at least that level."""
    if ctx.config.confirmation_rule == "single":
        return labels
    rank = np.array([OUTCOME_ORDER.get(str(v), -1) for v in labels])
    pos = np.arange(ctx.n)
    subj = ctx.frame[S.SUBJECT].to_numpy()
    prev_row = np.where((pos > 0) & (np.roll(subj, 1) == subj), pos - 1, -1)
    prev_rank = np.where(prev_row >= 0, rank[np.maximum(prev_row, 0)], -1)
    prev_rank = np.where(prev_rank < 0, 0, prev_rank)  # baseline cannot confirm
    names = {0: "none", 1: "partial", 2: "complete"}
    out = labels.copy()
    for i in np.flatnonzero(rank >= 0):
        out[i] = names[int(min(rank[i], prev_rank[i]))]
    return out
