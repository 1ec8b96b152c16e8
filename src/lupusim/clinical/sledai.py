"""SLEDAI family: SLEDAI-2K, SELENA-SLEDAI, SLEDAI-1992, SLEDAI-S2K, clinical SLEDAI.

Sources: Bombardier 1992 (SLEDAI), Gladman 2002 (SLEDAI-2K), Touma 2010 (30-day window),
Petri 2005 / Buyon 2005 (SELENA-SLEDAI); SPEC §1.1-1.2.

A descriptor is present at a visit when

* its boolean column is true (an explicit judgement of presence *and* attribution), or,
  for the laboratory descriptors when that boolean is absent or empty, the laboratory
  value crosses the SPEC §1.2 threshold (strict inequalities: >5 RBC/hpf, >0.5 g/24 h,
  >5 WBC/hpf, C3/C4 below LLN, anti-dsDNA above ULN, >38 °C, <100 ×10⁹/L, <3 ×10⁹/L); or
* an attributed event of that descriptor is dated within the look-back window:
  ``visit − window_days ≤ event ≤ visit``, inclusive at both ends (SPEC §1.1 [?]).

Exclusions: ``pyuria_infection`` removes pyuria; ``cytopenia_drug`` removes leukopenia
and (SLEDAI-2K only, Gladman 2002) thrombocytopenia.

SLEDAI-1992 and SELENA-SLEDAI score rash, alopecia and mucosal ulcers only when new or
recurrent (present now, absent at the previous visit), and proteinuria only when new or
increased by >0.5 g/24 h since the previous visit; at a subject's first visit everything
present counts as new. SLEDAI-S2K is SELENA-SLEDAI with the 2K proteinuria rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lupusim.clinical import _common as C
from lupusim.clinical import schema as S

VERSIONS: tuple[str, ...] = ("SLEDAI-2K", "SELENA-SLEDAI", "SLEDAI-1992", "SLEDAI-S2K")

# Columns whose presence on a row means the row carries SLEDAI information.
_INPUT_COLUMNS: tuple[str, ...] = (
    *S.DESCRIPTOR_NAMES,
    "arthritis_joints",
    "urine_rbc_per_hpf",
    "urine_wbc_per_hpf",
    "protein_24h_g",
    "upcr_g_per_g",
    "c3_g_l",
    "c4_g_l",
    "ch50_low",
    "anti_dsdna_iu_ml",
    "anti_dsdna_farr_pct",
    "temperature_c",
    "fever_sle",
    "platelets_1e9_l",
    "wbc_1e9_l",
)


def proteinuria_value(
    frame: pd.DataFrame, source: str = "24h", fallback: bool = True
) -> C.FloatArray:
    """Proteinuria in g/24 h (or its UPCR g/g surrogate) per ``proteinuria_source`` (§1.2 [?])."""
    p24, upcr = C.num(frame, "protein_24h_g"), C.num(frame, "upcr_g_per_g")
    first, second = (p24, upcr) if source == "24h" else (upcr, p24)
    if not fallback:
        return first
    return np.where(np.isnan(first), second, first)


def _lab(frame: pd.DataFrame, name: str, derived: C.BoolArray) -> C.BoolArray:
    """Explicit boolean where given, otherwise the laboratory derivation."""
    value, known = C.boolean(frame, name)
    return np.where(known, value, derived)


def _events_in_window(
    frame: pd.DataFrame, events: pd.DataFrame | None, window_days: int
) -> dict[str, C.BoolArray]:
    """For each descriptor, rows with an attributed event inside the window (§1.1)."""
    out: dict[str, C.BoolArray] = {}
    if events is None or len(events) == 0:
        return out
    ev = events[events["attributed_to_sle"].fillna(False).astype(bool)]
    if len(ev) == 0:
        return out
    if "date" in ev.columns and S.VISIT_DATE in frame.columns:
        vt = pd.to_datetime(frame[S.VISIT_DATE])
        v_time = np.asarray((vt - pd.Timestamp("1970-01-01")).dt.days, dtype=float)
        e_time = np.asarray(
            (pd.to_datetime(ev["date"]) - pd.Timestamp("1970-01-01")).dt.days, float
        )
    else:
        v_time = C.num(frame, S.STUDY_DAY)
        e_time = C.num(ev, "study_day")
    left = pd.DataFrame(
        {"_pos": np.arange(len(frame)), "s": frame[S.SUBJECT].to_numpy(), "vt": v_time}
    )
    right = pd.DataFrame(
        {"s": ev[S.SUBJECT].to_numpy(), "d": ev["descriptor"].to_numpy(), "et": e_time}
    )
    m = left.merge(right, on="s", how="inner")
    m = m[(m["et"] <= m["vt"]) & (m["et"] >= m["vt"] - window_days)]
    for name, grp in m.groupby("d"):
        hit = np.zeros(len(frame), dtype=bool)
        hit[grp["_pos"].to_numpy(dtype=int)] = True
        out[str(name)] = hit
    return out


def has_sledai_data(
    frame: pd.DataFrame, events_hits: dict[str, C.BoolArray] | None = None
) -> C.BoolArray:
    """Rows with at least one SLEDAI input (a row without any is a missing assessment)."""
    any_data = np.zeros(len(frame), dtype=bool)
    for col in _INPUT_COLUMNS:
        if col in frame.columns:
            any_data |= np.asarray(frame[col].notna(), dtype=bool)
    for hit in (events_hits or {}).values():
        any_data |= hit
    return any_data & C.observed(frame)


def sledai_items(
    frame: pd.DataFrame,
    config: S.ScoringConfig | None = None,
    version: str = "SLEDAI-2K",
    events: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The 24 descriptors (bool columns, §1.2 order) under ``version``, plus ``_has_data``.

    ``frame`` must be ordered by subject and time (previous-visit rules).
    """
    if version not in VERSIONS:
        raise ValueError(f"unknown SLEDAI version {version!r}; known: {', '.join(VERSIONS)}")
    cfg = config or S.ScoringConfig()
    selena = version in ("SELENA-SLEDAI", "SLEDAI-S2K")
    is_2k = version == "SLEDAI-2K"
    hits = _events_in_window(frame, events, cfg.sledai_window_days)
    items: dict[str, C.BoolArray] = {}
    for d in S.SLEDAI_DESCRIPTORS:
        items[d.name] = C.flag(frame, d.name)

    if selena:  # SPEC §1.2 rows 4-5 [M]: scleritis/episcleritis, vertigo due to lupus
        items["visual_disturbance"] = (
            items["visual_disturbance"] | C.flag(frame, "scleritis") | C.flag(frame, "episcleritis")
        )
        items["cranial_nerve_disorder"] = items["cranial_nerve_disorder"] | C.flag(
            frame, "vertigo_sle"
        )

    joints = C.num(frame, "arthritis_joints")
    items["arthritis"] = np.where(
        np.isnan(joints), items["arthritis"], C.ge(joints, cfg.min_joints(version))
    )
    items["haematuria"] = _lab(frame, "haematuria", C.gt(C.num(frame, "urine_rbc_per_hpf"), 5))
    prot = proteinuria_value(frame, cfg.proteinuria_source, cfg.proteinuria_fallback)
    items["proteinuria"] = _lab(frame, "proteinuria", C.gt(prot, 0.5))
    items["pyuria"] = _lab(frame, "pyuria", C.gt(C.num(frame, "urine_wbc_per_hpf"), 5))
    items["pyuria"] &= ~C.flag(frame, "pyuria_infection")

    c3_lln = C.num(frame, "c3_lln_g_l")
    c3_lln = np.where(np.isnan(c3_lln), cfg.c3_lln_default_g_l, c3_lln)
    c4_lln = C.num(frame, "c4_lln_g_l")
    c4_lln = np.where(np.isnan(c4_lln), cfg.c4_lln_default_g_l, c4_lln)
    low = (
        C.lt(C.num(frame, "c3_g_l"), c3_lln)
        | C.lt(C.num(frame, "c4_g_l"), c4_lln)
        | C.flag(frame, "ch50_low")
    )
    items["low_complement"] = _lab(frame, "low_complement", low)

    uln = C.num(frame, "anti_dsdna_uln_iu_ml")
    default_uln = (
        np.nan if cfg.anti_dsdna_uln_default_iu_ml is None else cfg.anti_dsdna_uln_default_iu_ml
    )
    uln = np.where(np.isnan(uln), default_uln, uln)
    dna = C.gt(C.num(frame, "anti_dsdna_iu_ml"), uln)
    if not is_2k:  # 1992/SELENA: ">25 % binding by Farr assay" (SPEC §1.2 row 21)
        dna |= C.gt(C.num(frame, "anti_dsdna_farr_pct"), 25.0)
    items["increased_dna_binding"] = _lab(frame, "increased_dna_binding", dna)

    fever_sle, fever_known = C.boolean(frame, "fever_sle")
    fever = np.where(fever_known, fever_sle, C.gt(C.num(frame, "temperature_c"), 38.0))
    items["fever"] = _lab(frame, "fever", fever)

    drug = C.flag(frame, "cytopenia_drug")
    items["thrombocytopenia"] = _lab(
        frame, "thrombocytopenia", C.lt(C.num(frame, "platelets_1e9_l"), 100.0)
    )
    if is_2k:
        items["thrombocytopenia"] &= ~drug
    items["leukopenia"] = _lab(frame, "leukopenia", C.lt(C.num(frame, "wbc_1e9_l"), 3.0)) & ~drug

    for name, hit in hits.items():
        target = {"fever_sle": "fever"}.get(name, name)
        if selena and name in ("scleritis", "episcleritis"):
            target = "visual_disturbance"
        elif selena and name == "vertigo_sle":
            target = "cranial_nerve_disorder"
        if target in items:
            items[target] = items[target] | hit

    has = has_sledai_data(frame, hits)
    if not is_2k:
        prev = C.previous_index(frame, has)
        for name in S.NEW_OR_RECURRENT:
            before = C.take(items[name], prev)
            items[name] = items[name] & ~before
        if version != "SLEDAI-S2K":  # new onset or recent increase of >0.5 g/24 h
            before = C.take(items["proteinuria"], prev)
            rise = C.gt(prot - C.take(prot, prev), 0.5)
            items["proteinuria"] = items["proteinuria"] & (~before | rise)

    out = pd.DataFrame({name: items[name] & has for name in S.DESCRIPTOR_NAMES}, index=frame.index)
    out["_has_data"] = has
    return out


def total(items: pd.DataFrame, *, clinical: bool = False) -> C.FloatArray:
    """Weighted sum of present descriptors (0-105; clinical SLEDAI 0-101 without #20-21).

    NaN where the row has no SLEDAI data (a missed assessment).
    """
    score = np.zeros(len(items), dtype=float)
    for name, w in S.WEIGHTS.items():
        if clinical and name in S.SEROLOGICAL:
            continue
        score += w * np.asarray(items[name], dtype=float)
    has = (
        np.asarray(items["_has_data"], dtype=bool)
        if "_has_data" in items
        else np.ones(len(items), bool)
    )
    return np.where(has, score, np.nan)


def sledai(
    frame: pd.DataFrame,
    config: S.ScoringConfig | None = None,
    version: str = "SLEDAI-2K",
    events: pd.DataFrame | None = None,
) -> C.FloatArray:
    """Total score of ``version`` at every row (NaN where no SLEDAI data)."""
    return total(sledai_items(frame, config, version, events))


def clinical_sledai(
    frame: pd.DataFrame, config: S.ScoringConfig | None = None, events: pd.DataFrame | None = None
) -> C.FloatArray:
    """Clinical SLEDAI: SLEDAI-2K without low complement and DNA binding (SPEC §1.2 notes)."""
    return total(sledai_items(frame, config, "SLEDAI-2K", events), clinical=True)


def activity_band(score: float) -> str:
    """Labelled, non-validated SLEDAI-2K activity band (SPEC §1.1): none/low/moderate/high."""
    if np.isnan(score):
        return ""
    if score == 0:
        return "none"
    if score <= 4:
        return "low"
    if score <= 10:
        return "moderate"
    return "high"
