"""Target rows: parsing, intervals and standard errors; the ACCESS ratio targets."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from lupusim.calibrate._access import (
    RATIO_QUANTILES,
    RATIO_WINDOWS,
    access_placebo,
    access_ratio_targets,
    ratio_by_subject,
)
from lupusim.calibrate._targets import package_targets, parse_rows, wilson_interval
from lupusim.errors import InputError

HEADER = (
    "id,species,population,arm,quantity,statistic,unit,time,value,spread,spread_kind,n,source,tag\n"
)


def test_package_targets_hold_the_control_arm_rows() -> None:
    rows = package_targets()
    for rid in ("C1", "C2", "C3", "C4", "C5", "C6", "C7", "S1", "S6"):
        assert rid in rows
    c2 = rows["C2"]
    assert c2.value == pytest.approx(0.225) and c2.n == 178


def test_proportion_interval_is_wilson_at_the_trial_n() -> None:
    lo, hi = package_targets()["C2"].interval()
    assert (lo, hi) == pytest.approx(wilson_interval(0.225, 178))
    assert 0.16 < lo < 0.225 < hi < 0.30


def test_wilson_interval_known_value() -> None:
    # 0.5 of 100 (z = 1.96): 0.4038-0.5962
    assert wilson_interval(0.5, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)


def test_spread_kinds() -> None:
    text = HEADER + (
        "A,human,p,a,q,mean,points,0,12.2,3.3,sd,12,src,V\n"
        "B,human,p,a,q,mean,points,0,10.4,0.9,se,14,src,V\n"
        "C,human,p,a,q,median,g/g,0,3.18,1.46-4.92,iqr,26,src,I\n"
    )
    a, b, c = parse_rows(text, "t.csv")
    assert a.interval() == pytest.approx((8.9, 15.5))
    assert a.standard_error() == pytest.approx(3.3 / math.sqrt(12))
    assert b.interval() == pytest.approx((10.4 - 1.96 * 0.9, 10.4 + 1.96 * 0.9), rel=1e-3)
    assert c.interval() == (1.46, 4.92)
    assert c.standard_error() == pytest.approx(1.2533 * (4.92 - 1.46) / 1.349 / math.sqrt(26))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("A,human,p,a,q,mean,points,0,1,x,sd,12,src,V", "column spread"),
        ("A,human,p,a,q,mean,points,0,1,3-1,iqr,12,src,V", "lower bound above upper"),
        ("A,human,p,a,q,mean,points,0,1,,,twelve,src,V", "column n"),
    ],
)
def test_bad_cells_are_one_line_errors(row: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        parse_rows(HEADER + row + "\n", "bad.csv")
    assert "bad.csv, row 2" in str(err.value)


def test_ratio_by_subject_uses_last_baseline_and_window_median() -> None:
    visits = pd.DataFrame(
        {
            "s": ["a"] * 5 + ["b"] * 2,
            "d": [-20, 0, 130, 150, 400, 0, 500],
            "u": [9.0, 4.0, 2.0, 1.0, 0.5, 2.0, 1.0],
        }
    )
    r = ratio_by_subject(visits, (127, 210), subject="s", day="d", upcr="u")
    assert list(r.index) == ["a"]  # b has no value in the window
    assert r["a"] == pytest.approx(1.5 / 4.0)


def test_access_ratio_targets_match_the_data_and_bracket_it() -> None:
    targets = access_ratio_targets()
    assert len(targets) == len(RATIO_WINDOWS) * len(RATIO_QUANTILES)
    data = access_placebo()
    for window in RATIO_WINDOWS:
        r = ratio_by_subject(data, window, subject="ID", day="day", upcr="uPCR")
        assert len(r) >= 20
        values = [
            targets[f"ACCESS-R{window[0]}-{window[1]}-Q{round(q * 100):02d}"]
            for q in RATIO_QUANTILES
        ]
        assert [t.value for t in values] == pytest.approx(list(np.quantile(r, RATIO_QUANTILES)))
        for t in values:
            lo, hi = t.interval()
            assert lo <= t.value <= hi
        assert all(a.value <= b.value for a, b in itertools.pairwise(values))
