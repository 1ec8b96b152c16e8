"""SLICC/ACR Damage Index (Gladman 1996; SPEC §4.1), never decreasing.

Items are columns ``sdi_<item>`` holding points (0..max; "score 2 if >1" items go to
2); see :data:`lupusim.clinical.schema.SDI_ITEMS`. End-stage renal disease (3 points)
replaces GFR < 50 % and proteinuria ≥ 3.5 g/24 h (renal maximum 3). A total ``sdi``
column is used where no item is recorded on the row. Damage is permanent, so each
subject's index is carried forward as the running maximum over visits (range 0-47).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lupusim.clinical import _common as C
from lupusim.clinical import schema as S

MAX_SCORE = 47


def has_damage_data(frame: pd.DataFrame) -> bool:
    """True if the table carries SDI items or an SDI total."""
    return any(c in frame.columns for c in (*S.SDI_ITEMS, "sdi"))


def sdi_raw(frame: pd.DataFrame) -> C.FloatArray:
    """Per-visit SDI from the items recorded on that row (NaN where none)."""
    n = len(frame)
    total = np.zeros(n)
    seen = np.zeros(n, dtype=bool)
    points: dict[str, C.FloatArray] = {}
    for name, most in S.SDI_ITEMS.items():
        v = C.num(frame, name)
        seen |= ~np.isnan(v)
        points[name] = np.clip(np.nan_to_num(v), 0, most)
    renal = points["sdi_gfr_below_50"] + points["sdi_proteinuria_3_5g"]
    renal = np.where(points["sdi_esrd"] > 0, 3.0, renal)
    for name, v in points.items():
        if name not in ("sdi_gfr_below_50", "sdi_proteinuria_3_5g", "sdi_esrd"):
            total += v
    total += renal
    given = C.num(frame, "sdi")
    return np.where(seen, total, given)


def sdi(frame: pd.DataFrame) -> C.FloatArray:
    """SDI per row, as each subject's running maximum (damage never decreases)."""
    raw = pd.Series(sdi_raw(frame))
    subj = frame[S.SUBJECT].to_numpy()
    running = raw.groupby(subj, sort=False).cummax()
    return np.asarray(running.groupby(subj, sort=False).ffill(), dtype=float)
