"""SBML L3 export: valid documents, units, and trajectories reproduced by libRoadRunner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

libsbml = pytest.importorskip("libsbml")
roadrunner = pytest.importorskip("roadrunner")

from lupusim.engine import Bolus, Event, RateChange, SolverOptions, simulate  # noqa: E402
from lupusim.errors import LupusimError  # noqa: E402
from lupusim.io import export_sbml, model_to_sbml, validate_sbml  # noqa: E402
from lupusim.model import get_preset  # noqa: E402
from lupusim.population import sample_parameters  # noqa: E402
from lupusim.treatments import (  # noqa: E402
    Cyclophosphamide,
    GlucocorticoidTaper,
    MSCInfusion,
    Mycophenolate,
    Prednisone,
    Regimen,
    ReinfuseOnRelapse,
    euro_lupus_cyclophosphamide,
    nih_cyclophosphamide,
)

RTOL = 1e-4
OURS = SolverOptions(rtol=1e-9, atol=1e-12)


def _errors(text: str) -> list[str]:
    doc = libsbml.readSBMLFromString(text)
    doc.checkConsistency()
    return [
        doc.getError(i).getMessage()
        for i in range(doc.getNumErrors())
        if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR
    ]


def _roadrunner(text: str, times: np.ndarray, selections: list[str]) -> np.ndarray:
    """Simulate on exactly ``times`` (SBML time) with tight CVODE tolerances."""
    rr = roadrunner.RoadRunner(text)
    rr.setIntegrator("cvode")
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-12
    rr.integrator.variable_step_size = False
    rr.timeCourseSelections = ["time", *selections]
    out = np.asarray(rr.simulate(times=[float(t) for t in times]))
    np.testing.assert_allclose(out[:, 0], times, rtol=0, atol=1e-12)
    return np.asarray(out[:, 1:])


def _grid(t0: float, t_end: float, events: list[Event], step: float) -> np.ndarray:
    """A regular grid plus points just after every dose (and the dose times)."""
    days = [e.time_days for e in events if e.time_days < t_end]
    after = [d + dt for d in days for dt in (1e-3, 0.05, 0.5)]
    grid = np.unique(np.concatenate([np.arange(t0, t_end, step), days, after]))
    return np.asarray(grid[(grid >= t0) & (grid < t_end)])


@dataclass(frozen=True)
class Case:
    preset: str
    subject: int
    t0: float
    t_end: float
    regimen: Regimen


CASES = {
    "human_msc_nih_ctx_taper": Case(
        "human",
        0,
        0.0,
        220.0,
        Regimen(
            "msc+nih+taper",
            (
                MSCInfusion(14.0, cells_per_kg=1e6),
                *nih_cyclophosphamide(0.0, 0.75, monthly=6),
                GlucocorticoidTaper(((0.0, 60.0), (28.0, 40.0), (56.0, 20.0), (84.0, 7.5))),
            ),
        ),
    ),
    "human_t0_pred_eurolupus_mmf": Case(
        "human",
        1,
        10.0,
        260.0,
        Regimen(
            "pred+eurolupus+msc+mmf",
            (
                Prednisone(10.0, 120.0, 30.0),
                Prednisone(40.0, 47.0, 20.0),  # overlaps: inputs compose additively
                MSCInfusion(40.0, cells=6e7, source="uc_allogeneic", viability=0.9),
                *euro_lupus_cyclophosphamide(20.0),
                Mycophenolate(100.0, None, 2.0),
            ),
        ),
    ),
    "mrl_lpr_msc_ctx_pred": Case(
        "mrl_lpr",
        0,
        28.0,
        200.0,
        Regimen(
            "mouse",
            (
                MSCInfusion(63.0, cells=1e6),
                *(Cyclophosphamide(d, dose_mg_per_kg=100.0) for d in (63.0, 70.0, 77.0)),
                Prednisone(70.0, 120.0, 0.5),
                GlucocorticoidTaper(((120.0, 0.3), (140.0, 0.1)), stop_day=160.0),
            ),
        ),
    ),
}


def _subject(case: Case) -> tuple[Any, np.ndarray, np.ndarray]:
    preset = get_preset(case.preset)
    params = sample_parameters(preset, 2, np.random.default_rng(20240611))[case.subject]
    return preset, params, preset.initial_state(params)


@pytest.mark.parametrize("species_preset", ["human", "mrl_lpr"])
def test_export_is_valid_sbml_l3_with_units(species_preset: str) -> None:
    case = next(c for c in CASES.values() if c.preset == species_preset)
    preset, params, y0 = _subject(case)
    events = case.regimen.events(preset.model, params)
    text = model_to_sbml(preset.model, params, y0, events, t0=case.t0)
    assert _errors(text) == []
    validate_sbml(text)
    doc = libsbml.readSBMLFromString(text)
    assert (doc.getLevel(), doc.getVersion()) == (3, 2)
    model = doc.getModel()
    assert model.getTimeUnits() == "day"
    assert model.getNumCompartments() == 1
    assert model.getNumRules() >= len(preset.model.states)
    assert model.getNumEvents() == len(events)
    assert model.getParameter("c3").getUnits() == "g_per_L"
    assert model.getParameter("k_donor_msc_clearance").getUnits() == "per_day"
    assert model.getParameter("gfr_normal").getUnits() == "mL_per_min_per_1_73m2"
    assert model.getUnitDefinition("per_day") is not None
    anti = model.getParameter("anti_dsdna")  # IU/mL has no SI form: annotation only
    assert not anti.isSetUnits()
    assert 'unit="IU/mL"' in anti.getAnnotationString()
    assert model.getRateRule("anti_dsdna") is not None
    assert model.getParameter("anti_dsdna_healthy").getConstant()
    assert model.getAssignmentRule("wbc_1e9_l") is not None


@pytest.mark.parametrize("name", list(CASES))
def test_roadrunner_reproduces_lupusim_trajectories(name: str) -> None:
    case = CASES[name]
    preset, params, y0 = _subject(case)
    spec = preset.model
    events = case.regimen.events(spec, params)
    times = _grid(case.t0, case.t_end, events, 5.0)
    ours = simulate(spec, params[None], y0[None], [case.regimen], times, options=OURS)
    assert ours.ok.all()

    text = model_to_sbml(spec, params, y0, events, t0=case.t0)
    obs_ids = [o.name for o in spec.observables if o.name not in spec.state_names]
    obs_ids = [n for n in obs_ids if n not in spec.input_names]
    selections = [*spec.state_names, *spec.input_names, *obs_ids]
    rr = _roadrunner(text, times - case.t0, selections)
    n_s, n_u = len(spec.states), len(spec.inputs)

    ours_obs = ours.observables()
    expected = np.column_stack([ours.states[0], ours.inputs[0], *(ours_obs[n][0] for n in obs_ids)])
    for j, label in enumerate(selections):
        scale = float(np.max(np.abs(expected[:, j])))
        np.testing.assert_allclose(
            rr[:, j], expected[:, j], rtol=RTOL, atol=1e-7 * scale + 1e-14, err_msg=label
        )
    # The doses did act: drug states/inputs are non-trivial in both simulations.
    assert rr[:, : n_s + n_u].max() > 0
    assert np.max(rr[:, spec.state_index("cyclophosphamide_exposure")]) > 0.01
    assert np.max(rr[:, spec.state_index("donor_msc_lung")]) > 1e4


def test_simultaneous_events_all_fire() -> None:
    preset = get_preset("human")
    spec = preset.model
    p = preset.parameter_vector()
    y0 = preset.initial_state(p)
    events: list[Event] = [
        Bolus(5.0, "cyclophosphamide_exposure", 1.0),
        Bolus(5.0, "cyclophosphamide_exposure", 0.5),
        Bolus(5.0, "inflammation", 0.25),
        RateChange(5.0, "prednisone_mg_day", 40.0),
        RateChange(5.0, "prednisone_mg_day", 20.0),
        RateChange(9.0, "prednisone_mg_day", -60.0),  # taper step: stop one dose ...
        RateChange(9.0, "prednisone_mg_day", 10.0),  # ... and start the next
    ]
    times = np.array([0.0, 5.0 - 1e-9, 5.0 + 1e-9, 5.5, 9.0 + 1e-9, 12.0])
    sel = ["cyclophosphamide_exposure", "inflammation", "prednisone_mg_day"]
    rr = _roadrunner(model_to_sbml(spec, p, y0, events), times, sel)
    assert rr[2, 0] == pytest.approx(rr[1, 0] + 1.5, rel=1e-6)
    assert rr[2, 1] == pytest.approx(rr[1, 1] + 0.25, rel=1e-6)
    np.testing.assert_allclose(rr[:, 2], [0.0, 0.0, 60.0, 60.0, 10.0, 10.0])

    class _Fixed:
        policies = ()

        def events(self, model: object, parameters: np.ndarray) -> list[Event]:
            return events

    ours = simulate(spec, p[None], y0[None], [_Fixed()], times, options=OURS)
    np.testing.assert_allclose(rr[:, 0], ours.state("cyclophosphamide_exposure")[0], rtol=1e-6)
    np.testing.assert_allclose(rr[:, 1], ours.state("inflammation")[0], rtol=1e-6)


def test_export_sbml_writes_a_valid_file(tmp_path: Path) -> None:
    regimen = Regimen("r", (MSCInfusion(0.0, cells_per_kg=1e6), *nih_cyclophosphamide(7.0)))
    out = export_sbml("human", tmp_path / "sub" / "human.xml", regimen)
    assert out.is_file()
    text = out.read_text(encoding="utf-8")
    assert _errors(text) == []
    model = libsbml.readSBMLFromString(text).getModel()
    assert model.getNumEvents() == 2 + 6
    assert model.getId() == "lupusim_sle_human"
    plain = export_sbml("mrl_lpr", tmp_path / "mouse.xml")
    assert libsbml.readSBMLFromFile(str(plain)).getModel().getNumEvents() == 0


def test_export_rejects_what_sbml_cannot_hold(tmp_path: Path) -> None:
    policy = ReinfuseOnRelapse(MSCInfusion(0.0, cells_per_kg=1e6))
    with pytest.raises(LupusimError, match="policies"):
        export_sbml("human", tmp_path / "x.xml", Regimen("p", policies=(policy,)))
    preset = get_preset("human")
    p, y0 = preset.parameter_vector(), preset.initial_state()
    with pytest.raises(LupusimError, match="before the start"):
        model_to_sbml(preset.model, p, y0, [Bolus(1.0, "inflammation", 1.0)], t0=2.0)
    with pytest.raises(LupusimError, match="missing"):
        model_to_sbml(preset.model, {"female": 1.0}, y0)


def test_validate_sbml_raises_on_an_invalid_document() -> None:
    preset = get_preset("mrl_lpr")
    text = model_to_sbml(preset.model, preset.parameter_vector(), preset.initial_state())
    broken = text.replace('<rateRule variable="c3">', '<rateRule variable="no_such_c3">', 1)
    assert broken != text
    with pytest.raises(LupusimError, match="invalid SBML"):
        validate_sbml(broken)
