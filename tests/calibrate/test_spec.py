"""The shipped human calibration spec and its protocols are consistent with each other."""

from __future__ import annotations

import pytest

from lupusim.calibrate._measures import estimate
from lupusim.calibrate._objective import all_targets, simulate_arms, spec_protocol
from lupusim.calibrate._spec import (
    EverByWeek,
    ProportionAtWeek,
    QuantileInWindow,
    RemissionThenRelapse,
    StatisticAtWeek,
    human_spec,
    load_spec_text,
)
from lupusim.clinical.score import SCORE_COLUMNS
from lupusim.errors import InputError
from lupusim.model import get_preset
from lupusim.trial import known_observables
from lupusim.trial._protocol import Allocation

HELD_OUT_WORDS = ("ALMS", "Deng", "Wang 2018", "Euro-Lupus Nephritis Trial", "Feldman")


def test_every_row_is_a_package_target_and_every_arm_is_in_its_protocol() -> None:
    spec = human_spec()
    targets = all_targets()
    for t in spec.targets:
        assert t.row in targets, t.row
        protocol = spec_protocol(t.protocol)
        assert set(t.arms) <= {a.name for a in protocol.arms}, (t.row, t.arms)
        assert set(t.twin or {}) <= {a.name for a in protocol.arms}, (t.row, t.twin)


def test_every_fitted_msc_row_has_a_no_msc_twin_without_an_infusion() -> None:
    msc_rows = [t for t in human_spec().targets if t.protocol.endswith("_msc")]
    assert {t.row for t in msc_rows if t.fit} >= {"H2", "H4", "H11", "H16", "H17"}
    for t in msc_rows:
        if not t.fit:
            continue
        assert t.twin is not None, t.row
        protocol = spec_protocol(t.protocol)
        arms = {a.name: a for a in protocol.arms}
        kinds = {d.kind for d in arms[next(iter(t.twin))].doses}
        assert "msc" not in kinds, t.row
        treated = {d.kind for d in arms[next(iter(t.arms))].doses}
        assert "msc" in treated and treated - {"msc"} == kinds, t.row


def test_measures_name_columns_the_trial_tables_have() -> None:
    for t in human_spec().targets:
        m = t.measure
        if isinstance(m, ProportionAtWeek | EverByWeek):
            assert m.instrument in SCORE_COLUMNS, (t.row, m.instrument)
            protocol = spec_protocol(t.protocol)
            assert m.week <= protocol.follow_up_weeks
        if isinstance(m, QuantileInWindow):
            assert m.observable in known_observables()
        if isinstance(m, StatisticAtWeek | RemissionThenRelapse):
            known = SCORE_COLUMNS if m.table == "scores" else known_observables()
            assert m.column in known, (t.row, m.column)
            assert m.week <= spec_protocol(t.protocol).follow_up_weeks


def test_no_held_out_trial_is_a_calibration_target() -> None:
    spec = human_spec()
    targets = all_targets()
    for t in spec.targets:
        source = targets[t.row].source
        assert not any(w in source for w in HELD_OUT_WORDS), (t.row, source)
        assert not any(w in spec_protocol(t.protocol).source for w in HELD_OUT_WORDS)


def test_rows_c1_to_c7_and_the_access_quantiles_are_fitted() -> None:
    fitted = {t.row for t in human_spec().targets if t.fit}
    assert {f"C{i}" for i in range(1, 8)} <= fitted
    assert sum(r.startswith("ACCESS-R") for r in fitted) == 10


def test_a_bad_spec_names_the_file_and_the_field() -> None:
    text = "name: x\ndescription: y\nsubjects: 5\nquick_subjects: 20\nevaluations: 1\n"
    text += "quick_evaluations: 0\nseed: 1\ntargets: []\n"
    with pytest.raises(InputError, match=r"spec\.yaml.*subjects"):
        load_spec_text(text, "spec.yaml")


def test_steroids_alone_do_not_carry_a_renal_response() -> None:
    """Issue 12: glucocorticoids must not produce a complete renal response on their own.

    The AURORA 1 control protocol with a second arm that has its mycophenolate removed: on
    the same virtual patients, the week-52 complete renal response without the
    immunosuppressant is well below that with it.
    """
    protocol = spec_protocol("aurora1_control")
    control = protocol.arms[0]
    steroids = [d for d in control.doses if d.kind != "mycophenolate"]
    assert len(steroids) == len(control.doses) - 1
    two_arm = protocol.model_copy(
        update={
            "arms": [control, control.model_copy(update={"name": "steroids", "doses": steroids})],
            "allocation": Allocation(ratio={"control": 1, "steroids": 1}),
        }
    )
    tables = simulate_arms(two_arm, get_preset("human"), subjects=150, seed=5)
    crr = ProportionAtWeek(
        kind="proportion_at_week", instrument="aurora_crr", week=52, values=("Y",)
    )
    with_mmf = estimate(crr, {"control": 1.0}, tables).value
    steroids_only = estimate(crr, {"steroids": 1.0}, tables).value
    assert with_mmf > 0.1
    assert steroids_only < 0.5 * with_mmf
