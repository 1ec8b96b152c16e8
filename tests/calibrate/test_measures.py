"""Measures on hand-built visit and score tables; spec validation."""

from __future__ import annotations

import pandas as pd
import pytest

from lupusim.calibrate._measures import ArmTables, estimate
from lupusim.calibrate._spec import load_spec_text
from lupusim.errors import InputError


def _tables(arm: str, rows: list[tuple[str, float, float, str, str]]) -> ArmTables:
    """rows: (subject, week, upcr, crr, flare)."""
    df = pd.DataFrame(rows, columns=["subject_id", "week", "upcr_g_per_g", "aurora_crr", "flare"])
    df["visit"] = [f"week {w:g}" for w in df["week"]]
    df["study_day"] = df["week"] * 7.0
    df["arm"] = arm
    status = pd.DataFrame({"subject_id": sorted(set(df["subject_id"])), "arm": arm, "ok": True})
    visits = df[["subject_id", "visit", "study_day", "upcr_g_per_g", "arm"]]
    scores = df[["subject_id", "visit", "study_day", "aurora_crr", "flare", "arm"]]
    return ArmTables.from_run(arm, status, visits, scores)


ROWS = [
    ("a", 0, 3.0, "", ""),
    ("a", 4, 1.0, "N", "N"),
    ("a", 8, 0.3, "Y", "N"),
    ("a", 12, 2.5, "N", "Y"),
    ("b", 0, 2.0, "", ""),
    ("b", 4, 1.8, "N", "N"),
    ("b", 8, 1.5, "N", "N"),
    ("b", 12, 1.5, "N", "N"),
    ("c", 0, 4.0, "", ""),
    ("c", 4, 0.4, "Y", "N"),
    ("c", 8, 0.2, "Y", "N"),  # c missed week 12
    ("d", 0, 5.0, "", ""),
    ("d", 4, 5.0, "N", "N"),
    ("d", 8, 0.6, "Y", "N"),
    ("d", 12, 0.5, "Y", "N"),
]


def _spec(measure: str, arms: str = "{x: 1}") -> str:
    return (
        "name: t\ndescription: t\nsubjects: 10\nquick_subjects: 10\nevaluations: 0\n"
        f"quick_evaluations: 0\nseed: 1\ntargets:\n  - {{row: C2, protocol: p, arms: {arms}, "
        f"measure: {measure}}}\n"
    )


def _measure(text: str):  # type: ignore[no-untyped-def]
    return load_spec_text(_spec(text), "t.yaml").targets[0].measure


def test_proportion_at_week_counts_missing_visits_as_non_response() -> None:
    t = {"x": _tables("x", ROWS)}
    m = _measure("{kind: proportion_at_week, instrument: aurora_crr, week: 12, values: ['Y']}")
    est = estimate(m, {"x": 1.0}, t)
    assert est.value == pytest.approx(1 / 4) and est.n == 4  # c missed week 12
    assert est.mc_se == pytest.approx((0.25 * 0.75 / 4) ** 0.5)


def test_mixture_of_arms_weights_the_arm_proportions() -> None:
    t = {"x": _tables("x", ROWS), "y": _tables("y", [r for r in ROWS if r[0] == "d"])}
    m = _measure("{kind: proportion_at_week, instrument: aurora_crr, week: 12, values: ['Y']}")
    est = estimate(m, {"x": 3.0, "y": 1.0}, t)
    assert est.value == pytest.approx(0.75 * 0.25 + 0.25 * 1.0)


def test_ever_by_week_among_responders() -> None:
    t = {"x": _tables("x", ROWS)}
    m = _measure(
        "{kind: ever_by_week, instrument: flare, week: 12, values: ['Y'], among: "
        "[{column: upcr_g_per_g, op: '<=', value: 0.7, weeks: [8]}]}"
    )
    est = estimate(m, {"x": 1.0}, t)
    # responders at week 8: a, c, d; a flared by week 12
    assert est.n == 3 and est.value == pytest.approx(1 / 3)


def test_quantile_in_window_and_ratio_quantile() -> None:
    t = {"x": _tables("x", ROWS)}
    m = _measure(
        "{kind: quantile_in_window, observable: upcr_g_per_g, window_days: [50, 90], q: 0.5}"
    )
    # per-subject medians over weeks 8 and 12 (days 56, 84): a 1.4, b 1.5, c 0.2, d 0.55
    assert estimate(m, {"x": 1.0}, t).value == pytest.approx(0.975)
    r = _measure("{kind: ratio_quantile, window_days: [50, 90], q: 0.5}")
    # ratios: a 1.4/3, b 1.5/2, c 0.2/4, d 0.55/5
    expected = pd.Series([1.4 / 3, 0.75, 0.05, 0.11]).median()
    assert estimate(r, {"x": 1.0}, t).value == pytest.approx(expected)


def test_baseline_statistics() -> None:
    t = {"x": _tables("x", ROWS)}
    med = _measure("{kind: baseline, column: upcr_g_per_g, statistic: median}")
    assert estimate(med, {"x": 1.0}, t).value == pytest.approx(3.5)
    share = _measure(
        "{kind: baseline, column: upcr_g_per_g, statistic: share, op: '>=', value: 3.5}"
    )
    assert estimate(share, {"x": 1.0}, t).value == pytest.approx(0.5)


def test_spec_errors_name_the_field() -> None:
    with pytest.raises(InputError, match=r"targets\.0\.measure"):
        load_spec_text(_spec("{kind: nonsense}"), "bad.yaml")
    with pytest.raises(InputError, match="mixture of arms"):
        load_spec_text(
            _spec("{kind: ratio_quantile, window_days: [1, 2], q: 0.5}", "{x: 1, y: 1}"), "bad.yaml"
        )


def test_statistic_at_week_uses_subjects_measured_then_and_converts_units() -> None:
    t = {"x": _tables("x", ROWS)}
    mean = _measure(
        "{kind: statistic_at_week, column: upcr_g_per_g, week: 12, statistic: mean, factor: 1000}"
    )
    est = estimate(mean, {"x": 1.0}, t)
    # a 2.5, b 1.5, d 0.5 (c missed week 12): observed cases, g → mg
    assert est.n == 3 and est.value == pytest.approx(1500.0)
    median = _measure("{kind: statistic_at_week, column: upcr_g_per_g, week: 8, statistic: median}")
    assert estimate(median, {"x": 1.0}, t).value == pytest.approx((0.3 + 0.6) / 2)


def test_share_meeting_every_condition_with_any_week_and_in() -> None:
    t = {"x": _tables("x", ROWS)}
    m = _measure(
        "{kind: share_meeting, conditions: ["
        "{column: upcr_g_per_g, op: '<', value: 0.5, weeks: [4, 8], mode: any}, "
        "{column: aurora_crr, table: scores, op: in, value: ['Y'], weeks: [12]}]}"
    )
    # UPCR < 0.5 at week 4 or 8: a (0.3), c (0.4, 0.2); CRR Y at week 12: d only
    est = estimate(m, {"x": 1.0}, t)
    assert est.n == 4 and est.value == pytest.approx(0.0)
    all_weeks = _measure(
        "{kind: share_meeting, conditions: ["
        "{column: upcr_g_per_g, op: '<', value: 0.5, weeks: [4, 8]}]}"
    )
    assert estimate(all_weeks, {"x": 1.0}, t).value == pytest.approx(1 / 4)  # c only


def test_remission_then_relapse_needs_the_rise_after_the_remission() -> None:
    t = {"x": _tables("x", ROWS)}
    m = _measure(
        "{kind: remission_then_relapse, column: upcr_g_per_g, remission_below: 0.5, "
        "relapse_above: 1.0, week: 12}"
    )
    # a: 0.3 at week 8, 2.5 at week 12 → relapse; c, d never rise again; b never remits
    assert estimate(m, {"x": 1.0}, t).value == pytest.approx(1 / 4)
    by_week_8 = _measure(
        "{kind: remission_then_relapse, column: upcr_g_per_g, remission_below: 0.5, "
        "relapse_above: 1.0, week: 8}"
    )
    assert estimate(by_week_8, {"x": 1.0}, t).value == pytest.approx(0.0)


def test_in_takes_a_list_and_twin_arms_are_checked() -> None:
    with pytest.raises(InputError, match="'in' takes a list"):
        load_spec_text(
            _spec(
                "{kind: share_meeting, conditions: "
                "[{column: aurora_crr, op: in, value: 'Y', weeks: [4]}]}"
            ),
            "bad.yaml",
        )
    text = _spec("{kind: statistic_at_week, column: upcr_g_per_g, week: 4, statistic: mean}")
    twin = text.replace("arms: {x: 1},", "arms: {x: 1}, twin: {y: 1, z: 1},")
    with pytest.raises(InputError, match="mixture of arms"):
        load_spec_text(twin, "bad.yaml")


def test_a_protocol_that_cannot_recruit_gives_missing_rows_not_a_crash() -> None:
    from lupusim.calibrate._objective import TrialObjective, gof_records
    from lupusim.trial._cohort import RecruitmentError

    measure = "{kind: proportion_at_week, instrument: aurora_crr, week: 8, values: ['Y']}"
    text = (
        "name: t\ndescription: t\nsubjects: 10\nquick_subjects: 10\nevaluations: 0\n"
        "quick_evaluations: 0\nseed: 1\ntargets:\n"
        f"  - {{row: C1, protocol: recruits, arms: {{x: 1}}, measure: {measure}}}\n"
        f"  - {{row: C2, protocol: cannot, arms: {{x: 1}}, measure: {measure}}}\n"
    )
    objective = TrialObjective(load_spec_text(text, "t.yaml"), subjects=10, seed=1)

    def simulate_protocol(name: str, preset: object) -> dict[str, ArmTables]:
        if name == "cannot":
            raise RecruitmentError("only 3 of 100000 virtual candidates met the criteria")
        return {"x": _tables("x", ROWS)}

    objective.simulate_protocol = simulate_protocol  # type: ignore[method-assign,assignment]
    residuals = {r.target_id: r for r in objective.residuals({})}
    # 3 of 4 subjects respond at week 8; the row that could not recruit is missing.
    assert residuals["C1"].simulated == pytest.approx(0.75)
    assert residuals["C2"].value == 10.0
    gof = {r["row"]: r for r in gof_records(objective.evaluate({}))}
    assert gof["C1"]["n_simulated"] == 4
    assert gof["C2"]["within"] is False and gof["C2"]["n_simulated"] == 0
