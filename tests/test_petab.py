"""PEtab v1 export of the human_soc calibration problem: valid files, the Python problem's
free parameters and targets, and the SBML model reproducing lupusim's simulation."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

libsbml = pytest.importorskip("libsbml")
roadrunner = pytest.importorskip("roadrunner")
petab = pytest.importorskip("petab.v1")

from lupusim.calibrate import Residual  # noqa: E402
from lupusim.engine import Bolus  # noqa: E402
from lupusim.errors import LupusimError  # noqa: E402
from lupusim.io import check_design  # noqa: E402
from lupusim.model import get_preset  # noqa: E402
from lupusim.studies.sun2009 import _calibration as cal  # noqa: E402
from lupusim.studies.sun2009 import export_petab  # noqa: E402
from lupusim.studies.sun2009._petab import human_soc_design  # noqa: E402

RTOL = 1e-3
Problem = Any  # petab.v1.Problem (petab is an optional test dependency)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_petab(tmp_path_factory.mktemp("petab") / "human_soc")


@pytest.fixture(scope="module")
def problem(exported: Path) -> Problem:
    return petab.Problem.from_yaml(str(exported))


def test_files_exist_and_pass_petab_lint(exported: Path, problem: Problem) -> None:
    out = exported.parent
    names = {"problem.yaml", "model.xml", "README.md"}
    names |= {f"{t}.tsv" for t in ("conditions", "observables", "measurements", "parameters")}
    assert {p.name for p in out.iterdir()} == names
    assert exported.name == "problem.yaml"
    assert problem.model is not None and problem.model.is_valid()
    assert petab.lint_problem(problem) is False  # False: no errors
    text = exported.read_text(encoding="utf-8")
    assert "format_version: 1" in text
    # The differences from the Python calibration are stated, not silent.
    readme = (out / "README.md").read_text(encoding="utf-8")
    for key in ("S1", "median patient", "lupusim day -365", "log-normal"):
        assert key in readme
        assert key in text


def test_tables_go_through_the_csv_escaping_unchanged(exported: Path) -> None:
    """The PEtab tables are written by lupusim.safe_csv; PEtab ids and formulas never
    start like a spreadsheet formula, so nothing is escaped and the files stay PEtab."""
    from lupusim.safe_csv import is_formula

    for path in sorted(exported.parent.glob("*.tsv")):
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        for col in table.columns:
            assert not is_formula(col) and not col.startswith("'"), (path.name, col)
            for cell in table[col]:
                assert not is_formula(cell) and not cell.startswith("'"), (path.name, cell)


def test_measurements_reference_existing_conditions_observables_parameters(
    problem: Problem,
) -> None:
    m, c, o = problem.measurement_df, problem.condition_df, problem.observable_df
    assert len(m) > 0
    assert set(m["simulationConditionId"]) <= set(c.index)
    assert set(m["observableId"]) <= set(o.index)
    assert set(m["noiseParameters"]) <= set(problem.parameter_df.index)
    sbml = problem.model.sbml_model
    for formula in o["observableFormula"]:
        for sym in petab.math.sympify_petab(formula).free_symbols:
            assert sbml.getElementBySId(str(sym)) is not None, sym
    for column in c.columns.drop("conditionName"):
        prm = sbml.getParameter(column)
        assert prm is not None and prm.getConstant(), column


def test_free_parameters_are_those_of_the_python_problem(problem: Problem) -> None:
    python = {p.name: p for p in cal.human_soc_problem().free}
    df = problem.parameter_df
    free = df[df["estimate"] == 1]
    assert set(free.index) == set(python)
    assert set(problem.get_optimization_parameters()) == set(python)
    preset = get_preset("human")
    for name, row in free.iterrows():
        p = python[str(name)]
        assert row["parameterScale"] == "log10"
        assert (row["lowerBound"], row["upperBound"]) == (p.lower, p.upper)
        assert row["nominalValue"] == p.initial == preset.values[str(name)].value
    fixed = df[df["estimate"] == 0]
    assert list(fixed.index) == ["sigma_log_upcr"]
    assert fixed.loc["sigma_log_upcr", "nominalValue"] == pytest.approx(math.log(1.3))


def test_measurements_are_the_python_targets_on_the_sbml_time_axis(
    problem: Problem,
) -> None:
    m = problem.measurement_df
    expected = {published: day for _, _, day, published in cal.ACCESS_UPCR_MEDIANS}
    assert sorted(m["measurement"]) == sorted(expected)
    for _, row in m.iterrows():
        assert row["time"] == expected[row["measurement"]] + cal.SOC_HISTORY_DAYS
    (cond,) = problem.condition_df.to_dict("records")
    flare_age = float(np.median(cal.access_ages()))
    assert cond["age_at_start_years"] == pytest.approx(flare_age, abs=1e-12)
    assert cond["female"] == 1.0
    sbml = problem.model.sbml_model
    assert sbml.getParameter("body_weight_kg").getValue() == cal.DEFAULT_WEIGHT_KG
    regimen_events = cal.access_regimen().events(
        get_preset("human").model, human_soc_design().parameters
    )
    assert sbml.getNumEvents() == len(regimen_events) > 0


def _python_condition(problem: Problem) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """lupusim's own simulation of the exported condition, through the calibration code."""
    preset = get_preset("human")
    idx = preset.model.parameter_index
    base = preset.parameter_vector()
    (cond,) = problem.condition_df.to_dict("records")
    mult = np.ones((1, len(base)))
    flare_age = cond["age_at_start_years"]
    mult[0, idx("age_at_start_years")] = flare_age / base[idx("age_at_start_years")]
    mult[0, idx("female")] = cond["female"] / base[idx("female")]
    mult[0, idx("body_weight_kg")] = cal.DEFAULT_WEIGHT_KG / base[idx("body_weight_kg")]
    df = problem.parameter_df
    values = {str(k): float(v) for k, v in df.loc[df["estimate"] == 1, "nominalValue"].items()}
    times, obs, ok = cal._soc_run(preset, values, mult, 420.0)
    assert ok.all()
    return times, obs


def _roadrunner(problem: Problem, times: np.ndarray, selections: list[str]) -> np.ndarray:
    """The SBML model with the condition's overrides and the nominal parameters."""
    rr = roadrunner.RoadRunner(
        libsbml.writeSBMLToString(problem.model.sbml_model.getSBMLDocument())
    )
    (cond,) = problem.condition_df.to_dict("records")
    for name, value in cond.items():
        if name != "conditionName":
            rr[name] = float(value)
    df = problem.parameter_df
    for name, value in df.loc[df["estimate"] == 1, "nominalValue"].items():
        rr[str(name)] = float(value)
    rr.setIntegrator("cvode")
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-12
    rr.integrator.variable_step_size = False
    rr.timeCourseSelections = ["time", *selections]
    out = np.asarray(rr.simulate(times=[0.0, *(float(t) for t in times)]))
    np.testing.assert_allclose(out[1:, 0], times, rtol=0, atol=1e-9)
    return np.asarray(out[1:, 1:])


def test_roadrunner_reproduces_lupusim_at_the_measurement_times(problem: Problem) -> None:
    m = problem.measurement_df.sort_values("time")
    (formula,) = problem.observable_df["observableFormula"]
    expr = petab.math.sympify_petab(formula)
    symbols = sorted(expr.free_symbols, key=str)
    rr = _roadrunner(
        problem, m["time"].to_numpy(), [*(str(s) for s in symbols), "creatinine_mg_dl"]
    )
    observable = np.array([float(expr.subs(dict(zip(symbols, row, strict=False)))) for row in rr])

    times, obs = _python_condition(problem)
    days = m["time"].to_numpy() - cal.SOC_HISTORY_DAYS  # PEtab time 0 = lupusim day -365
    at = np.searchsorted(times, days)
    np.testing.assert_array_equal(times[at], days)
    ours = obs["upcr_g_per_g"][0, at]
    np.testing.assert_allclose(observable, ours, rtol=RTOL)
    # Age and sex (condition overrides, on the shifted time axis) enter creatinine.
    np.testing.assert_allclose(rr[:, -1], obs["creatinine_mg_dl"][0, at], rtol=RTOL)
    assert ours[0] > 1.0  # the median patient meets the ACCESS inclusion criterion

    # PEtab's residuals are the Python residuals (log scale, sd ln 1.3) up to sign.
    sim = m.rename(columns={"measurement": "simulation"}).assign(simulation=observable)
    (res,) = petab.calculate_residuals(m, sim, problem.observable_df, problem.parameter_df)
    for simulated, published, value in zip(
        observable, m["measurement"], res["residual"], strict=True
    ):
        py = Residual("S", "", float(simulated), float(published), math.log(1.3), log=True)
        assert value == pytest.approx(-py.value, rel=1e-9)


def test_export_refuses_what_the_sbml_cannot_follow() -> None:
    design = human_soc_design()
    check_design(design)  # the real design passes
    j = design.spec.parameter_index("k_renal_injury")
    dependent = dataclasses.replace(
        design, events_of=lambda p: [*design.events_of(p), Bolus(1.0, "inflammation", p[j])]
    )
    dependent = dataclasses.replace(dependent, events=tuple(dependent.events_of(design.parameters)))
    with pytest.raises(LupusimError, match="events depend on k_renal_injury"):
        check_design(dependent)
    with pytest.raises(LupusimError, match="unknown calibration problem"):
        export_petab(Path("unused"), "mouse")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lupusim.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_export_petab(tmp_path: Path) -> None:
    res = _cli("export", "petab", "--out", str(tmp_path / "p"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "p" / "problem.yaml").is_file()
    assert pd.read_csv(tmp_path / "p" / "measurements.tsv", sep="\t").shape[0] == len(
        cal.ACCESS_UPCR_MEDIANS
    )
    bad = _cli("export", "petab", "--out", str(tmp_path / "q"), "--problem", "mouse")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "lupusim: error: unknown calibration problem 'mouse'; exportable: human_soc"
    ]
    assert not (tmp_path / "q").exists()
