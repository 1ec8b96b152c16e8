"""Per-patient UPCR-ratio quantiles of the ACCESS placebo arm, as calibration targets.

From the patient-level data of access_upcr.csv (ACCESS Trial Group, Arthritis Rheumatol
2014;66:3096; ITN TrialShare), placebo arm (Euro-Lupus cyclophosphamide → azathioprine,
prednisone taper). For each patient: the baseline UPCR is the last value on or before
day 0; the window value is the median of the patient's values within the window; the
ratio is window / baseline. The 10/25/50/75/90 % quantiles of the ratios across patients
are the targets, each with a percentile-bootstrap 95 % interval (resampling patients,
``BOOTSTRAP_REPLICATES`` replicates, fixed seed). The same function computes the
simulated statistic from a virtual trial's visit table (:func:`ratio_by_subject`).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from lupusim.calibrate._targets import TargetRow

#: Windows (days, inclusive) of targets S5 and S6.
RATIO_WINDOWS: tuple[tuple[int, int], ...] = ((127, 210), (301, 420))
RATIO_QUANTILES: tuple[float, ...] = (0.10, 0.25, 0.50, 0.75, 0.90)
BOOTSTRAP_REPLICATES = 4000
BOOTSTRAP_SEED = 20140601
ACCESS_SOURCE = "access_upcr.csv placebo arm (ACCESS Trial Group, Arthritis Rheumatol 2014;66:3096)"


def ratio_by_subject(
    visits: pd.DataFrame, window: tuple[float, float], *, subject: str, day: str, upcr: str
) -> pd.Series:
    """Window / baseline UPCR per subject (subjects lacking either value are absent)."""
    v = visits[[subject, day, upcr]].dropna()
    base = v[v[day] <= 0].sort_values(day).groupby(subject)[upcr].last()
    lo, hi = window
    inside = v[(v[day] >= lo) & (v[day] <= hi)].groupby(subject)[upcr].median()
    ratio = (inside / base).dropna()
    return ratio[np.isfinite(ratio)]


def access_placebo() -> pd.DataFrame:
    """The placebo arm's rows of access_upcr.csv (ID, day, uPCR)."""
    path = resources.files("lupusim").joinpath("data/access_upcr.csv")
    with resources.as_file(path) as p:
        df = pd.read_csv(p)
    return df[df["group"] == "Placebo"]


def ratio_target_id(window: tuple[int, int], q: float) -> str:
    """E.g. ``ACCESS-R127-210-Q10``."""
    return f"ACCESS-R{window[0]}-{window[1]}-Q{round(q * 100):02d}"


@cache
def access_ratio_targets() -> dict[str, TargetRow]:
    """The ratio-quantile targets with their bootstrap intervals."""
    df = access_placebo()
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    out: dict[str, TargetRow] = {}
    for window in RATIO_WINDOWS:
        ratio = ratio_by_subject(df, window, subject="ID", day="day", upcr="uPCR")
        r = ratio.to_numpy(dtype=float)
        boots = rng.choice(r, size=(BOOTSTRAP_REPLICATES, len(r)), replace=True)
        for q in RATIO_QUANTILES:
            bq = np.quantile(boots, q, axis=1)
            lo, hi = (float(x) for x in np.quantile(bq, [0.025, 0.975]))
            rid = ratio_target_id(window, q)
            out[rid] = TargetRow(
                id=rid,
                species="human",
                population="class III/IV LN UPCR>1 (ACCESS placebo arm)",
                arm="Euro-Lupus CYC + prednisone taper, then AZA",
                quantity=f"UPCR ratio days {window[0]}-{window[1]} / baseline",
                statistic=f"quantile {q:g}",
                unit="1",
                time=f"days {window[0]}-{window[1]}",
                value=float(np.quantile(r, q)),
                spread=(lo, hi),
                spread_kind="bootstrap95",
                n=len(r),
                source=ACCESS_SOURCE,
                tag="I",
                file="access_upcr.csv",
            )
    return out
