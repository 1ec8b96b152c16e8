"""Orchestration: a checked visit table → the scores table (one row per subject-visit).

:func:`score_visits` runs every instrument with one :class:`ScoringConfig` and returns a
:class:`ScoreResult` with the scores table, the ADaM BDS table, a JSON-able summary and
the warnings. Nothing here writes files (see :mod:`lupusim.clinical.cli`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from lupusim.clinical import _common as C
from lupusim.clinical import bilag as B
from lupusim.clinical import damage as D
from lupusim.clinical import renal as R
from lupusim.clinical import renal_flare as RF
from lupusim.clinical import schema as S
from lupusim.clinical._ranges import Ranges
from lupusim.clinical.adam import to_adam
from lupusim.clinical.context import build_context
from lupusim.clinical.doris import doris
from lupusim.clinical.egfr import ckd_epi_2021
from lupusim.clinical.flare import sfi
from lupusim.clinical.lldas import lldas
from lupusim.clinical.load import TableSource, VisitData, load_visits
from lupusim.clinical.responders import bicla, sri
from lupusim.clinical.sledai import sledai_items, total

LEVEL_COLUMNS: tuple[str, ...] = tuple(R.RENAL_LEVEL_RULES)
YN_COLUMNS: tuple[str, ...] = (
    "bliss_ln_perr",
    "bliss_ln_crr",
    "aurora_crr",
    *RF.RENAL_FLARE_RULES,
    "sri4",
    "sri5",
    "sri6",
    "sri7",
    "sri8",
    "bicla",
    "lldas",
    "doris",
)
SCORE_COLUMNS: tuple[str, ...] = (
    "subject_id",
    "visit",
    "study_day",
    "sledai2k",
    "selena_sledai",
    "clinical_sledai",
    "egfr_ckd_epi_2021",
    *LEVEL_COLUMNS,
    *YN_COLUMNS,
    "flare_sfi",
)


@dataclass
class ScoreResult:
    """Scores of one run; the ADaM table and the summary are derived on first use."""

    scores: pd.DataFrame
    config: S.ScoringConfig
    warnings: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    #: empty cells per input column of the visit table (after the subjects join)
    missing: dict[str, int] = field(default_factory=dict)
    #: plausible ranges that replaced the defaults: name -> (low, high)
    ranges_overridden: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)

    @cached_property
    def adam(self) -> pd.DataFrame:
        """ADaM-style BDS table (see :mod:`lupusim.clinical.adam`)."""
        return to_adam(self.scores)

    @cached_property
    def summary(self) -> dict[str, Any]:
        """JSON-able counts per instrument, warnings, configuration and inputs."""
        summary = _summary(self.scores, self.config, self.warnings, self.sources)
        summary["missing_values"] = dict(self.missing)
        summary["ranges_overridden"] = {k: list(v) for k, v in self.ranges_overridden.items()}
        return summary


def order_visits(frame: pd.DataFrame) -> pd.DataFrame:
    """Group rows by subject (in order of first appearance), keeping each subject's order."""
    first = {s: i for i, s in reversed(list(enumerate(frame[S.SUBJECT])))}
    key = frame[S.SUBJECT].map(first)
    out = frame.assign(_subject_order=key.to_numpy(), _pos=np.arange(len(frame)))
    out = out.sort_values(["_subject_order", "_pos"], kind="stable")
    return out.drop(columns=["_subject_order", "_pos"]).reset_index(drop=True)


def impute_missing_visits(frame: pd.DataFrame) -> pd.DataFrame:
    """Add a row for each scheduled visit a subject lacks after its first visit.

    The schedule is the visit labels held by at least half of the subjects (and by at
    least two), placed at their median time since each subject's first visit. Added rows
    carry ``_visit_missing = True`` and make non-responders (SPEC §2.1 item 4).
    """
    subjects = frame[S.SUBJECT].unique()
    if len(subjects) < 2:
        return frame
    t = C.visit_time(frame)
    if np.isnan(t).all():
        return frame
    rel = (
        t
        - pd.Series(t)
        .groupby(frame[S.SUBJECT].to_numpy(), sort=False)
        .transform("first")
        .to_numpy()
    )
    work = frame.assign(_rel=rel)
    held = work.groupby(S.VISIT, sort=False)[S.SUBJECT].nunique()
    schedule = held[(held >= max(2, len(subjects) / 2))].index
    if len(schedule) == 0:
        return frame
    when = work[work[S.VISIT].isin(schedule)].groupby(S.VISIT)["_rel"].median()
    added = []
    have = set(zip(work[S.SUBJECT], work[S.VISIT], strict=True))
    for s in subjects:
        for label in schedule:
            if (s, label) in have or not (when[label] > 0):
                continue
            added.append({S.SUBJECT: s, S.VISIT: label, "_rel": when[label], C.MISSING_VISIT: True})
    if not added:
        return frame
    work[C.MISSING_VISIT] = False
    extra = pd.DataFrame(added)
    subject_cols = [
        c for c in ("sex", "age_years", "weight_kg", "egfr_preflare_ml_min_1_73m2") if c in work
    ]
    for col in subject_cols:
        per = work.groupby(S.SUBJECT, sort=False)[col].first()
        extra[col] = extra[S.SUBJECT].map(per)
    both = pd.concat([work, extra], ignore_index=True)
    both["_first"] = both[S.SUBJECT].map({s: i for i, s in enumerate(subjects)})
    both = both.sort_values(["_first", "_rel"], kind="stable").drop(columns=["_first", "_rel"])
    return both.reset_index(drop=True)


def _study_day(frame: pd.DataFrame, base: C.IntArray) -> np.ndarray:
    """study_day as given, else days since the subject's baseline date (baseline = 0)."""
    if S.STUDY_DAY in frame.columns and frame[S.STUDY_DAY].notna().any():
        return C.num(frame, S.STUDY_DAY)
    t = C.visit_time(frame)
    return t - C.take(t, base)


def _int(values: np.ndarray) -> pd.Series:
    """Whole numbers as a nullable integer column."""
    return pd.Series(np.rint(np.asarray(values, dtype=float))).astype("Int64")


def _input_warnings(frame: pd.DataFrame, cfg: S.ScoringConfig) -> list[str]:
    w: list[str] = []
    cols = set(frame.columns)
    if not B.has_bilag(frame):
        w.append(
            "no BILAG-2004 grades: SRI-k scored without its BILAG component; BICLA not evaluable"
        )
    if "pga" not in cols:
        w.append("no pga column: SRI-k, BICLA, LLDAS and DORIS not evaluable")
    if "prednisone_mg_day" not in cols:
        w.append("no prednisone_mg_day column: LLDAS and DORIS not evaluable; GC caps not applied")
    if "anti_dsdna_iu_ml" in cols and "anti_dsdna_uln_iu_ml" not in cols:
        if cfg.anti_dsdna_uln_default_iu_ml is None:
            w.append(
                "anti_dsdna_iu_ml without anti_dsdna_uln_iu_ml: SLEDAI DNA binding not derived"
            )
        else:
            w.append(f"anti-dsDNA ULN defaulted to {cfg.anti_dsdna_uln_default_iu_ml:g} IU/mL")
    if ("c3_g_l" in cols and "c3_lln_g_l" not in cols) or (
        "c4_g_l" in cols and "c4_lln_g_l" not in cols
    ):
        w.append(
            f"complement LLN defaulted (C3 {cfg.c3_lln_default_g_l:g} g/L, "
            f"C4 {cfg.c4_lln_default_g_l:g} g/L)"
        )
    if not ({"urine_rbc_per_hpf", "urine_wbc_per_hpf", "urinary_casts"} & cols):
        w.append("no urine sediment: read as inactive by ACR 2006, ALMS and Deng 2017")
    if "egfr_preflare_ml_min_1_73m2" not in cols:
        w.append("no egfr_preflare_ml_min_1_73m2: BLISS-LN compares with baseline eGFR")
    chosen = "protein_24h_g" if cfg.proteinuria_source == "24h" else "upcr_g_per_g"
    other = "upcr_g_per_g" if chosen == "protein_24h_g" else "protein_24h_g"
    missing_chosen = chosen not in cols or bool(frame[chosen].isna().any())
    if other in cols and missing_chosen and cfg.proteinuria_fallback:
        w.append(f"SLEDAI proteinuria uses {other} where {chosen} is missing")
    return w


def _counts(values: pd.Series) -> dict[str, int]:
    c = Counter(str(v) for v in values.to_numpy(dtype=object) if isinstance(v, str) and v)
    return {k: c[k] for k in sorted(c)}


def score_visits(
    data: VisitData | TableSource,
    config: S.ScoringConfig | None = None,
    *,
    subjects: TableSource | None = None,
    events: TableSource | None = None,
    ranges: Ranges | None = None,
) -> ScoreResult:
    """Score every subject-visit of a visit table with every instrument.

    A table that is not yet a :class:`VisitData` is loaded with :func:`load_visits`,
    its numbers checked against ``ranges`` (default: the range table).
    """
    cfg = config or S.ScoringConfig()
    if not isinstance(data, VisitData):
        data = load_visits(
            data,
            subjects,
            events,
            upcr_mgmmol_convention=cfg.upcr_mgmmol_convention,
            ranges=ranges,
        )
    frame = order_visits(data.visits)
    if cfg.impute_missing_visits:
        frame = impute_missing_visits(frame)
    ev = data.events
    ctx = build_context(frame, cfg)

    items = {
        v: sledai_items(frame, cfg, v, ev)
        for v in ("SLEDAI-2K", "SELENA-SLEDAI", "SLEDAI-1992", "SLEDAI-S2K")
    }
    totals = {v: total(it) for v, it in items.items()}
    s2k = totals["SLEDAI-2K"]
    csledai = total(items["SLEDAI-2K"], clinical=True)
    primary = totals[cfg.sledai_version]

    out = pd.DataFrame({S.SUBJECT: frame[S.SUBJECT].to_numpy(), S.VISIT: frame[S.VISIT].to_numpy()})
    out[S.STUDY_DAY] = _int(_study_day(frame, ctx.base))
    if S.VISIT_DATE in frame.columns:
        out[S.VISIT_DATE] = pd.to_datetime(frame[S.VISIT_DATE]).dt.strftime("%Y-%m-%d").to_numpy()
    out["baseline"] = np.arange(len(frame)) == ctx.base
    out["visit_missing"] = ~ctx.observed
    out["sledai2k"] = _int(s2k)
    out["selena_sledai"] = _int(totals["SELENA-SLEDAI"])
    out["sledai_1992"] = _int(totals["SLEDAI-1992"])
    out["sledai_s2k"] = _int(totals["SLEDAI-S2K"])
    out["clinical_sledai"] = _int(csledai)
    sex = (
        frame["sex"].to_numpy(dtype=object) if "sex" in frame.columns else np.full(len(frame), None)
    )
    out["egfr_ckd_epi_2021"] = ckd_epi_2021(
        C.num(frame, "creatinine_mg_dl"), C.num(frame, "age_years"), sex
    )
    out["egfr"] = ctx.egfr
    out["egfr_source"] = ctx.egfr_source
    out["proteinuria_g_per_g"] = ctx.upcr
    out["pga"] = C.num(frame, "pga")
    out["prednisone_mg_day"] = C.num(frame, "prednisone_mg_day")

    for col, rule in R.RENAL_LEVEL_RULES.items():
        out[col] = rule(ctx)
    for col, yn_rule in R.RENAL_YN_RULES.items():
        out[col] = yn_rule(ctx)
    for col, flare_rule in RF.RENAL_FLARE_RULES.items():
        out[col] = flare_rule(ctx)
    for k in range(4, 9):
        out[f"sri{k}"] = sri(ctx, primary, k)
    out["bicla"] = bicla(ctx, primary)
    sfi_classic = sfi(ctx, totals["SELENA-SLEDAI"], items["SLEDAI-2K"], "classic")
    sfi_modified = sfi(ctx, totals["SELENA-SLEDAI"], items["SLEDAI-2K"], "modified")
    chosen_sfi = sfi_classic if cfg.sfi_variant == "classic" else sfi_modified
    out["lldas"] = lldas(ctx, s2k, items["SLEDAI-2K"], chosen_sfi)
    out["doris"] = doris(ctx, csledai)
    out["flare_sfi"] = chosen_sfi
    out["flare_sfi_classic"] = sfi_classic
    out["flare_sfi_modified"] = sfi_modified
    if D.has_damage_data(frame):
        out["sdi"] = _int(D.sdi(frame))
    if B.present_columns(frame):
        out["bilag_numeric"] = B.numeric_score(frame)
        mcr, pcr = B.fda_2010_response(frame, ctx.base, ctx.prev, ctx.day, ctx.after)
        out["bilag_mcr"] = mcr
        out["bilag_pcr"] = pcr
    out["nri_reason"] = ctx.nri_reason()
    for name in S.DESCRIPTOR_NAMES:
        out[f"s2k_{name}"] = np.asarray(items["SLEDAI-2K"][name], dtype=bool)

    warnings = [str(w) for w in data.warnings] + _input_warnings(frame, cfg)
    if (~ctx.observed).any():
        warnings.append(
            f"{int((~ctx.observed).sum())} scheduled visit(s) missing: scored as non-responders"
        )
    if not R.has_kidney_function(ctx):
        warnings.append("no creatinine or eGFR: renal responses judged on proteinuria alone")
    no_egfr = ctx.observed & np.isnan(ctx.egfr)
    if no_egfr.any() and (
        "creatinine_mg_dl" in frame.columns or "egfr_ml_min_1_73m2" in frame.columns
    ):
        warnings.append(
            f"eGFR unavailable on {int(no_egfr.sum())} visit(s) (creatinine, age or sex missing)"
        )

    return ScoreResult(
        scores=out,
        config=cfg,
        warnings=warnings,
        sources=dict(data.sources),
        missing=dict(data.missing),
        ranges_overridden=dict(data.ranges_overridden),
    )


def _summary(
    out: pd.DataFrame, cfg: S.ScoringConfig, warnings: list[str], sources: dict[str, str]
) -> dict[str, Any]:
    counts: dict[str, Any] = {}
    for col in (
        *LEVEL_COLUMNS,
        *YN_COLUMNS,
        "flare_sfi",
        "flare_sfi_modified",
        "bilag_mcr",
        "bilag_pcr",
    ):
        if col in out.columns:
            counts[col] = _counts(out[col])
    numeric: dict[str, Any] = {}
    for col in ("sledai2k", "selena_sledai", "clinical_sledai", "egfr_ckd_epi_2021", "sdi"):
        if col in out.columns:
            v = pd.to_numeric(out[col], errors="coerce").dropna()
            numeric[col] = {
                "n": int(v.size),
                "mean": None if v.empty else round(float(v.mean()), 4),
                "min": None if v.empty else float(v.min()),
                "max": None if v.empty else float(v.max()),
            }
    return {
        "n_subjects": int(out[S.SUBJECT].nunique()),
        "n_visits": len(out),
        "n_missing_visits": int(out["visit_missing"].sum()),
        "counts": counts,
        "scores": numeric,
        "primary": {
            "sledai": cfg.sledai_version,
            "sri": f"sri{cfg.sri_k}",
            "renal": R.CRITERION_COLUMN[cfg.renal_criteria],
            "flare": f"SFI {cfg.sfi_variant}",
        },
        "config": cfg.model_dump(),
        "inputs": sources,
        "warnings": warnings,
    }
