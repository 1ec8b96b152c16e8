"""BILAG-2004 system grades: new A/B counts, improvement, numeric score, FDA 2010 responses.

Grades are given per visit in ``bilag_<system>`` (A-E); this module never derives them
from other data (SPEC §4.2: "do not invent a SLEDAI→BILAG mapping").

Conventions (Isenberg/Yee; Furie 2009; SPEC §2.1 [M]): a *new A* is a system graded A
now and not A at the reference; a *new B* is a system graded B now and C, D or E at the
reference (A→B is an improvement, B→B is not new). Improvement (BICLA, Wallace 2014):
every baseline A becomes B-E, every baseline B becomes C-E.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lupusim.clinical import _common as C
from lupusim.clinical import schema as S

NUMERIC = {"A": 12, "B": 8, "C": 1, "D": 0, "E": 0}  # Yee 2010
FDA_MONTH6_DAY = 168  # "6 months" assessed at week 24, the usual trial visit


def present_columns(frame: pd.DataFrame) -> list[str]:
    """The BILAG system columns present in the table."""
    return [c for c in S.BILAG_COLUMNS if c in frame.columns]


def has_bilag(frame: pd.DataFrame) -> bool:
    """True when at least one BILAG system column holds a grade."""
    return any(frame[c].notna().any() for c in present_columns(frame))


def _grades(frame: pd.DataFrame) -> np.ndarray:
    cols = present_columns(frame)
    if not cols:
        return np.empty((len(frame), 0), dtype=object)
    return frame[cols].astype(object).where(frame[cols].notna(), None).to_numpy(dtype=object)


def complete_rows(frame: pd.DataFrame) -> C.BoolArray:
    """Rows where every present BILAG column holds a grade."""
    g = _grades(frame)
    if g.shape[1] == 0:
        return np.zeros(len(frame), dtype=bool)
    return np.asarray([all(v is not None for v in row) for row in g], dtype=bool)


def new_a_b(frame: pd.DataFrame, ref: C.IntArray) -> tuple[C.IntArray, C.IntArray]:
    """Counts of new A and new B systems of each row versus row ``ref`` (-1: none)."""
    g = _grades(frame)
    n = len(frame)
    new_a = np.zeros(n, dtype=np.int64)
    new_b = np.zeros(n, dtype=np.int64)
    for j in range(g.shape[1]):
        now = g[:, j]
        then = C.take(g[:, j], ref)
        new_a += np.array(
            [a == "A" and b is not None and b != "A" for a, b in zip(now, then, strict=True)]
        )
        new_b += np.array(
            [a == "B" and b in ("C", "D", "E") for a, b in zip(now, then, strict=True)]
        )
    return new_a, new_b


def improved(frame: pd.DataFrame, ref: C.IntArray) -> C.BoolArray:
    """Every system A at ``ref`` is now B-E and every B is now C-E (BICLA criterion 1)."""
    g = _grades(frame)
    ok = np.ones(len(frame), dtype=bool)
    for j in range(g.shape[1]):
        now = g[:, j]
        then = C.take(g[:, j], ref)
        ok &= np.array(
            [
                not (
                    (b == "A" and a not in ("B", "C", "D", "E"))
                    or (b == "B" and a not in ("C", "D", "E"))
                )
                for a, b in zip(now, then, strict=True)
            ]
        )
    return ok


def numeric_score(frame: pd.DataFrame) -> C.FloatArray:
    """Additive BILAG-2004 score A=12, B=8, C=1, D=E=0 (Yee 2010); NaN if incomplete."""
    g = _grades(frame)
    if g.shape[1] == 0:
        return np.full(len(frame), np.nan)
    total = np.array([sum(NUMERIC.get(v, 0) for v in row if v is not None) for row in g], float)
    return np.where(complete_rows(frame), total, np.nan)


def _count(g: np.ndarray, grade: str) -> C.IntArray:
    return np.array([sum(v == grade for v in row) for row in g], dtype=np.int64)


def fda_2010_response(
    frame: pd.DataFrame, base: C.IntArray, prev: C.IntArray, day: C.FloatArray, after: C.BoolArray
) -> tuple[np.ndarray, np.ndarray]:
    """FDA 2010 guidance major (MCR) and partial (PCR) clinical response, 'Y'/'N'/''.

    Evaluated at visits at least ``FDA_MONTH6_DAY`` days after baseline. The 6-month
    visit is the subject's first such visit. MCR: at month 6 every system C or better
    (no A or B) and no A or B at any visit from month 6 to now. PCR (not MCR): at month 6
    no A and ≤1 B (≤2 B when baseline had ≥2 A: "very high baseline activity" [?]) and no
    flare (≥1 new A or ≥2 new B versus the previous visit) from month 6 to now.
    """
    n = len(frame)
    mcr = np.full(n, "", dtype=object)
    pcr = np.full(n, "", dtype=object)
    if not present_columns(frame):
        return mcr, pcr
    g = _grades(frame)
    nA, nB = _count(g, "A"), _count(g, "B")
    fa, fb = new_a_b(frame, prev)
    flare = (fa >= 1) | (fb >= 2)
    since = day - C.take(day, base)
    subj = frame[S.SUBJECT].to_numpy()
    complete = complete_rows(frame)
    state: dict[object, dict[str, object]] = {}
    for i in range(n):
        if not after[i] or not (since[i] >= FDA_MONTH6_DAY):
            continue
        s = state.setdefault(subj[i], {"m6": None, "clean": True, "noflare": True})
        if s["m6"] is None:
            s["m6"] = i
        m6 = int(s["m6"])  # type: ignore[call-overload]
        if not complete[i]:
            s["clean"] = False
            s["noflare"] = False
        else:
            s["clean"] = bool(s["clean"]) and nA[i] == 0 and nB[i] == 0
            if i != m6:
                s["noflare"] = bool(s["noflare"]) and not flare[i]
        major = bool(s["clean"])
        b0 = int(base[i])
        allowed_b = 2 if b0 >= 0 and nA[b0] >= 2 else 1
        partial = (
            complete[m6]
            and nA[m6] == 0
            and nB[m6] <= allowed_b
            and bool(s["noflare"])
            and not major
        )
        mcr[i] = "Y" if major else "N"
        pcr[i] = "Y" if partial else "N"
    return mcr, pcr
