"""Doses compile to the right events; conversions are the documented ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lupusim.engine import Bolus, RateChange
from lupusim.model import get_preset
from lupusim.treatments import (
    CTX_REFERENCE_HED_MG_PER_KG,
    Cyclophosphamide,
    GlucocorticoidTaper,
    Methylprednisolone,
    MSCInfusion,
    Regimen,
    ReinfuseOnRelapse,
    body_surface_area_m2,
    euro_lupus_cyclophosphamide,
    nih_cyclophosphamide,
)


def test_body_surface_area_mosteller() -> None:
    # sqrt(170 × 70 / 3600) = 1.818 m²
    assert body_surface_area_m2(70.0, 170.0) == pytest.approx(math.sqrt(170 * 70 / 3600))


def test_cyclophosphamide_mouse_dose_is_converted_to_human_equivalent() -> None:
    mouse = get_preset("mrl_lpr")
    ev = Cyclophosphamide(63.0, dose_mg_per_kg=200.0).events(mouse.model, mouse.parameter_vector())
    # 200 mg/kg ÷ 12.3 = 16.26 mg/kg HED = 0.813 reference doses of 20 mg/kg
    assert ev == [Bolus(63.0, "cyclophosphamide_exposure", pytest.approx(200 / 12.3 / 20.0))]


def test_cyclophosphamide_g_per_m2_uses_body_surface_area() -> None:
    human = get_preset("human")
    p = human.parameter_vector()
    (ev,) = Cyclophosphamide(0.0, dose_g_per_m2=0.75).events(human.model, p)
    weight = human.values["body_weight_kg"].value
    expected = 750.0 * body_surface_area_m2(weight) / weight / CTX_REFERENCE_HED_MG_PER_KG
    assert isinstance(ev, Bolus) and ev.amount == pytest.approx(expected)


def test_cyclophosphamide_needs_exactly_one_dose() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Cyclophosphamide(0.0, dose_mg=500.0, dose_g_per_m2=0.5)


def test_schedules() -> None:
    nih = nih_cyclophosphamide(10.0, 0.75, monthly=6, quarterly=2)
    assert [c.day for c in nih] == [10, 40, 70, 100, 130, 160, 250, 340]
    assert [c.day for c in euro_lupus_cyclophosphamide(0.0)] == [0, 14, 28, 42, 56, 70]
    assert all(c.dose_mg == 500.0 for c in euro_lupus_cyclophosphamide(0.0))


def test_taper_steps_are_additive_rate_changes() -> None:
    human = get_preset("human")
    taper = GlucocorticoidTaper(((0.0, 60.0), (14.0, 40.0), (28.0, 0.0)), stop_day=None)
    ev = taper.events(human.model, human.parameter_vector())
    # 60 on [0,14), 40 on [14,28): +60@0, −60@14, +40@14, −40@28
    changes = sorted((e.time_days, e.delta) for e in ev if isinstance(e, RateChange))
    assert changes == [(0.0, 60.0), (14.0, -60.0), (14.0, 40.0), (28.0, -40.0)]


def test_methylprednisolone_is_counted_as_prednisone_equivalent() -> None:
    human = get_preset("human")
    ev = Methylprednisolone(5.0, 500.0, days=3).events(human.model, human.parameter_vector())
    assert ev[0] == RateChange(5.0, "prednisone_mg_day", 625.0)
    assert ev[1] == RateChange(8.0, "prednisone_mg_day", -625.0)


def test_msc_infusion_cells_per_kg_and_autologous_potency() -> None:
    human = get_preset("human")
    p = human.parameter_vector()
    lung, potency = MSCInfusion(0.0, cells_per_kg=1e6, viability=0.9).events(human.model, p)
    assert isinstance(lung, Bolus) and lung.amount == pytest.approx(0.9e6)
    assert isinstance(potency, Bolus) and potency.amount == pytest.approx(0.9e6)
    _, auto = MSCInfusion(0.0, cells_per_kg=1e6, source="autologous_sle").events(human.model, p)
    assert isinstance(auto, Bolus)
    assert auto.amount == pytest.approx(1e6 * human.values["msc_intrinsic_function"].value)
    with pytest.raises(ValueError):
        MSCInfusion(0.0)


def test_reinfusion_policy_needs_remission_then_relapse() -> None:
    human = get_preset("human")
    p = human.parameter_vector()
    policy = ReinfuseOnRelapse(MSCInfusion(0.0, cells_per_kg=1e6), min_interval_days=100)
    mem = policy.initial_memory()
    decide = lambda t, prot: policy.decide(t, {"protein_24h_g": prot}, mem, human.model, p)  # noqa: E731
    assert decide(30.0, 2.0) == []  # active but never remitted: no re-infusion
    assert decide(60.0, 0.3) == []  # remission
    new = decide(90.0, 1.5)  # relapse
    assert [e.time_days for e in new] == [90.0, 90.0]
    assert decide(120.0, 0.2) == []
    assert decide(150.0, 1.5) == []  # relapse again, but within min_interval_days
    assert list(np.arange(0, 91, 30)) == list(policy.check_times(0.0, 90.0))


def test_regimen_plus_keeps_everything() -> None:
    base = Regimen("a", (MSCInfusion(0.0, cells_per_kg=1.0),))
    more = base.plus(Cyclophosphamide(3.0, dose_mg=100.0), name="b")
    assert more.name == "b" and len(more.doses) == 2 and base.doses != more.doses


def test_shifted_moves_every_time_field() -> None:
    from lupusim.treatments import Mycophenolate, Prednisone, shifted

    taper = GlucocorticoidTaper(((0.0, 30.0), (30.0, 10.0)), stop_day=90.0)
    moved = shifted(taper, 100.0)
    assert isinstance(moved, GlucocorticoidTaper)
    assert moved.steps == ((100.0, 30.0), (130.0, 10.0)) and moved.stop_day == 190.0
    mmf = shifted(Mycophenolate(0.0, 730.0, 2.0), 50.0)
    assert (mmf.start_day, mmf.stop_day, mmf.amount) == (50.0, 780.0, 2.0)  # type: ignore[union-attr]
    open_ended = shifted(Prednisone(0.0, None, 5.0), 10.0)
    assert open_ended.stop_day is None  # type: ignore[union-attr]
    assert shifted(MSCInfusion(0.0, cells_per_kg=1.0), 7.0).day == 7.0  # type: ignore[union-attr]


def test_treat_on_relapse_gives_the_rescue_at_the_relapse_visit() -> None:
    from lupusim.treatments import Mycophenolate, TreatOnRelapse

    human = get_preset("human")
    p = human.parameter_vector()
    policy = TreatOnRelapse((Mycophenolate(0.0, 730.0, 2.0),), max_treatments=1)
    mem = policy.initial_memory()
    obs = lambda prot: {"protein_24h_g": prot}  # noqa: E731
    assert policy.decide(30.0, obs(0.2), mem, human.model, p) == []
    events = policy.decide(60.0, obs(1.4), mem, human.model, p)
    assert events == [
        RateChange(60.0, "mycophenolate_g_day", 2.0, events[0].label),
        RateChange(790.0, "mycophenolate_g_day", -2.0, events[1].label),
    ]
    policy.decide(90.0, obs(0.2), mem, human.model, p)
    assert policy.decide(400.0, obs(1.4), mem, human.model, p) == []  # max_treatments reached


def test_flare_trigger_activates_b_cells_then_kidney_and_maintenance_blunts_it() -> None:
    from lupusim.engine import simulate
    from lupusim.treatments import FlareTrigger, Mycophenolate, Prednisone

    preset = get_preset("human")
    p = preset.parameter_vector()
    # A patient in remission: two years of disease under mycophenolate and prednisone.
    history = Regimen("h", (Mycophenolate(0.0, 2000.0, 2.0), Prednisone(0.0, 2000.0, 10.0)))
    y = simulate(
        preset.model, p[None, :], preset.initial_state()[None, :], [history], np.array([0.0, 730.0])
    ).states[0, -1]
    burst = FlareTrigger(760.0, 0.1)
    assert burst.events(preset.model, p)[0].state == "flare_drive"
    times = np.array([730.0, 750.0, 790.0, 850.0])
    on_mmf = (Mycophenolate(730.0, 2000.0, 2.0), Prednisone(730.0, 2000.0, 10.0))
    off = (Prednisone(730.0, 2000.0, 10.0),)
    regimens = [
        Regimen("mmf", on_mmf),
        Regimen("mmf+flare", (*on_mmf, burst)),
        Regimen("off", off),
        Regimen("off+flare", (*off, burst)),
    ]
    res = simulate(
        preset.model, np.repeat(p[None, :], 4, 0), np.repeat(y[None, :], 4, 0), regimens, times
    )
    obs = res.observables()
    b = res.states[:, :, preset.model.state_index("autoreactive_b")]
    renal = obs["renal_activity"]
    # The burst raises autoreactive B cells within weeks, then renal activity later.
    assert b[1, 2] > 1.05 * b[0, 2] and b[3, 2] > 1.05 * b[2, 2]
    assert renal[1, 3] > renal[0, 3] and renal[3, 3] > renal[2, 3]
    # Maintenance mycophenolate blunts the same burst: a lower B-cell peak, less renal rise.
    assert b[1, 2] < b[3, 2]
    assert renal[1, 3] - renal[0, 3] < renal[3, 3] - renal[2, 3]
