"""Tests of lupusim.report: HTML study report and the per-panel statistics."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lupusim.errors import InputError
from lupusim.report import PublishedPoint, render_study_report
from lupusim.report._labels import axis_label, unit_from_name
from lupusim.report._stats import TrajectoryIndex, summarise_panel, thin_time_points

GROUPS = {
    "mouse": ("grp_saline", "grp_msc", "grp_cyclophosphamide"),
    "patients": ("grp_msc_single", "grp_msc_double", "grp_standard_care"),
}
VARIABLES = {
    "mouse": ("urine_acr_mg_g", "anti_dsdna_iu_ml"),
    "patients": ("sledai2k", "egfr_ml_min_1_73m2"),
}
IMG = "data:image/png;base64,"


def _frame(n_subjects: int = 3, n_times: int = 12, seed: int = 0) -> pd.DataFrame:
    """Long-format trajectories: 2 studies x 3 groups x a few subjects, plus ``alive``."""
    rng = np.random.default_rng(seed)
    parts = []
    times = np.linspace(0.0, 120.0, n_times)
    for study, groups in GROUPS.items():
        for gi, group in enumerate(groups):
            for s in range(n_subjects):
                subject = f"{study}-{group}-{s}"
                for variable in (*VARIABLES[study], "alive"):
                    if variable == "alive":
                        values = np.ones_like(times)
                    else:
                        values = 10.0 * (gi + 1) + times / 10 + rng.normal(0, 1, n_times)
                    parts.append(
                        pd.DataFrame(
                            {
                                "study": study,
                                "group": group,
                                "subject": subject,
                                "time_days": times,
                                "variable": variable,
                                "value": values,
                            }
                        )
                    )
    return pd.concat(parts, ignore_index=True)


def _summary() -> dict[str, object]:
    return {
        "targets": [
            {
                "target_id": "M1",
                "description": "ACR falls",
                "simulated": 12.5,
                "published": "10 (5-20)",
                "agrees": True,
            },
            {
                "target_id": "M2",
                "description": "dsDNA falls",
                "simulated": 300.0,
                "published": 150,
                "agrees": False,
            },
            {
                "target_id": "P1",
                "description": "SLEDAI drops",
                "simulated": "n/a",
                "published": 4,
                "agrees": None,
            },
        ],
        "comparisons": {
            "msc_vs_saline_acr": {
                "description": "MSC lowers ACR vs saline",
                "value": -0.42,
                "unit": "log ratio",
                "direction_expected": "negative",
                "agrees": True,
            },
            "survival": {"value": 0.9},
        },
        "settings": {"seed": 1, "per_group": 3},
        "warnings": ["something mild"],
    }


def _published() -> list[PublishedPoint]:
    return [
        PublishedPoint("M1", "mouse", "urine_acr_mg_g", 60.0, 15.0, 10.0, 20.0, "median (range)"),
        PublishedPoint("M2", "mouse", "anti_dsdna_iu_ml", 90.0, 20.0, label="mean"),
        PublishedPoint("P1", "patients", "sledai2k", 30.0, 12.0, 8.0, None, groups=("grp_msc",)),
    ]


def _render(
    tmp_path: Path,
    *,
    trajectories: pd.DataFrame | None = None,
    summary: dict[str, object] | None = None,
    published: list[PublishedPoint] | None = None,
    panels: list[tuple[str, str]] | None = None,
    time_unit: dict[str, tuple[str, float]] | None = None,
    log_scale: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
) -> str:
    out = tmp_path / "sub" / "report.html"
    render_study_report(
        "Sun 2009 reproduction",
        _frame() if trajectories is None else trajectories,
        _summary() if summary is None else summary,
        _published() if published is None else published,
        out,
        panels=panels,
        time_unit=time_unit,
        log_scale=log_scale,
        notes=notes,
    )
    assert out.exists()
    return out.read_text(encoding="utf-8")


def test_report_contents(tmp_path: Path) -> None:
    html = _render(
        tmp_path,
        time_unit={"mouse": ("age (weeks)", 7.0), "patients": ("months since infusion", 30.44)},
        log_scale=("anti_dsdna_iu_ml",),
        notes=("Shorter run <b>than</b> the paper.",),
    )
    for groups in GROUPS.values():
        for group in groups:
            assert group in html
    for target in ("M1", "M2", "P1"):
        assert target in html
    assert "1 of 3 published targets agree" in html
    assert "(1 not assessed)" in html
    # all (study, variable) pairs present, alive included: 3 panels per study
    assert html.count(IMG) == 6
    assert "Study: mouse" in html and "Study: patients" in html
    assert "✓" in html and "✗" in html
    assert "MSC lowers ACR vs saline" in html and "log ratio" in html
    assert "per_group" in html  # settings table
    assert "something mild" in html  # other summary keys
    assert "&lt;b&gt;than&lt;/b&gt;" in html  # notes are escaped
    assert "<b>than</b>" not in html
    # self-contained: nothing fetched from elsewhere
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert "<script" not in html


def test_empty_published_list(tmp_path: Path) -> None:
    html = _render(tmp_path, published=[])
    assert html.count(IMG) == 6
    assert "Published data points" not in html


def test_absent_panel_is_skipped_with_note(tmp_path: Path) -> None:
    html = _render(
        tmp_path,
        panels=[
            ("mouse", "urine_acr_mg_g"),
            ("mouse", "bone_bv_tv_pct"),
            ("patients", "sledai2k"),
            ("nowhere", "c3_g_l"),
        ],
    )
    assert html.count(IMG) == 2
    assert "Panel mouse / bone_bv_tv_pct skipped" in html
    assert "Panel nowhere / c3_g_l skipped" in html
    # M2's panel was not requested, so it is listed as unplotted
    assert "M2 (mouse / anti_dsdna_iu_ml)" in html


def test_summary_without_targets_or_comparisons(tmp_path: Path) -> None:
    html = _render(tmp_path, summary={})
    assert "0 of 0 published targets agree" in html
    assert "No comparisons in the summary." in html


def test_empty_trajectories(tmp_path: Path) -> None:
    html = _render(tmp_path, trajectories=_frame().iloc[:0])
    assert IMG not in html
    assert "The trajectories are empty" in html


def test_missing_column_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="subject"):
        _render(tmp_path, trajectories=_frame().drop(columns="subject"))


def _at(table: pd.DataFrame, time: float, column: str) -> float:
    """Value of ``column`` at ``time`` in a one-group summary table."""
    return float(table.loc[table["time_days"] == time, column].iloc[0])


def _three_subjects() -> pd.DataFrame:
    """Three subjects at t=0,1; subject c dies at t=1 and then reports a huge value."""
    rows = []
    for subject, (v0, v1), (a0, a1) in (
        ("a", (1.0, 1.0), (1, 1)),
        ("b", (2.0, 2.0), (1, 1)),
        ("c", (3.0, 1000.0), (1, 0)),
    ):
        for t, v, a in ((0.0, v0, a0), (1.0, v1, a1)):
            rows.append(("mouse", "g", subject, t, "acr", v))
            rows.append(("mouse", "g", subject, t, "alive", float(a)))
    return pd.DataFrame(
        rows, columns=["study", "group", "subject", "time_days", "variable", "value"]
    )


def test_quantiles_exclude_dead_subjects() -> None:
    table = summarise_panel(_three_subjects(), "mouse", "acr")
    assert _at(table, 0.0, "n") == 3
    assert _at(table, 0.0, "mid") == pytest.approx(2.0)
    # at t=1 subject c is dead: only a (1) and b (2) count
    assert _at(table, 1.0, "n") == 2
    assert _at(table, 1.0, "mid") == pytest.approx(1.5)
    assert _at(table, 1.0, "high") < 2.0


def test_alive_panel_is_fraction_alive() -> None:
    table = summarise_panel(_three_subjects(), "mouse", "alive")
    assert _at(table, 0.0, "mid") == pytest.approx(1.0)
    assert _at(table, 1.0, "mid") == pytest.approx(2 / 3)
    assert table["low"].isna().all()


def test_without_alive_all_rows_are_used() -> None:
    frame = _three_subjects()
    frame = frame[frame["variable"] != "alive"]
    table = summarise_panel(frame, "mouse", "acr")
    assert _at(table, 1.0, "n") == 3
    assert _at(table, 1.0, "mid") == pytest.approx(2.0)


def test_alive_on_another_time_grid_falls_back_with_note() -> None:
    frame = _three_subjects()
    is_alive = frame["variable"] == "alive"
    frame.loc[is_alive, "time_days"] += 0.5
    stats = TrajectoryIndex(frame).panel("mouse", "acr")
    assert stats is not None
    assert not stats.alive_masked
    assert stats.notes and "all subjects were used" in stats.notes[0]
    assert _at(stats.table, 1.0, "n") == 3


def test_nan_values_are_ignored() -> None:
    frame = _three_subjects()
    frame.loc[(frame["subject"] == "a") & (frame["variable"] == "acr"), "value"] = np.nan
    table = summarise_panel(frame, "mouse", "acr")
    assert _at(table, 0.0, "n") == 2
    assert _at(table, 0.0, "mid") == pytest.approx(2.5)


def test_thin_time_points_keeps_ends() -> None:
    table = pd.DataFrame(
        {
            "group": ["a"] * 1000 + ["b"] * 10,
            "time_days": np.r_[np.arange(1000.0), np.arange(10.0)],
            "low": 0.0,
            "mid": 1.0,
            "high": 2.0,
            "n": 1,
        }
    )
    thinned = thin_time_points(table, 400)
    a = thinned[thinned["group"] == "a"]["time_days"]
    assert len(a) == 400
    assert a.iloc[0] == 0.0 and a.iloc[-1] == 999.0
    assert (thinned["group"] == "b").sum() == 10


def test_axis_labels() -> None:
    assert unit_from_name("urine_acr_mg_g") == "mg/g"
    assert axis_label("c3_g_l") == "Complement C3 (g/L)"
    assert axis_label("ferritin_ng_ml") == "ferritin_ng_ml"
    assert axis_label("ldh_iu_ml") == "ldh_iu_ml (IU/mL)"


def test_published_point_error_bar() -> None:
    point = PublishedPoint("X", "mouse", "acr", 1.0, 10.0, low=7.0, high=None)
    assert point.error_bar() == (3.0, 0.0)
    assert PublishedPoint("X", "mouse", "acr", 1.0, 10.0, 12.0, 8.0).error_bar() == (0.0, 0.0)


def test_panel_without_finite_values_is_skipped_with_note(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[frame["variable"] == "sledai2k", "value"] = np.nan
    html = _render(tmp_path, trajectories=frame, published=[])
    assert "Panel patients / sledai2k skipped: no finite values" in html
    assert html.count(IMG) == 5


def test_summarise_absent_panel_is_empty() -> None:
    table = summarise_panel(_three_subjects(), "mouse", "c3_g_l")
    assert table.empty
    assert list(table.columns) == ["group", "time_days", "low", "mid", "high", "n"]


def test_calibration_fit_is_rendered_as_a_table(tmp_path: Path) -> None:
    """summary['calibration'] rows become a goodness-of-fit table with flagged misfits."""
    import pandas as pd

    from lupusim.report import render_study_report

    frame = pd.DataFrame(
        {
            "study": ["s"] * 2,
            "group": ["g"] * 2,
            "subject": ["a"] * 2,
            "time_days": [0.0, 1.0],
            "variable": ["x"] * 2,
            "value": [1.0, 2.0],
        }
    )
    summary = {
        "targets": [],
        "calibration": [
            {
                "problem": "mouse",
                "target_id": "M5",
                "description": "median ACR",
                "simulated": 1200.0,
                "published": 623.0,
                "scale": 0.405,
                "log_scale": True,
                "residual": 1.62,
            },
            {
                "problem": "human_soc",
                "target_id": "S4",
                "description": "median UPCR",
                "simulated": 1.32,
                "published": 1.30,
                "scale": 0.26,
                "log_scale": True,
                "residual": 0.06,
            },
        ],
    }
    out = tmp_path / "r.html"
    render_study_report("t", frame, summary, [], out)
    html = out.read_text()
    assert "Calibration: goodness of fit" in html
    assert 'class="num bad">1.62' in html and 'class="num ok">0.06' in html
