"""The symbolic model, its presets, generated code and generated documentation."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lupusim.model import (
    PRESET_NAMES,
    Assumption,
    Calibrated,
    Citation,
    build_model,
    compile_model,
    get_preset,
)
from lupusim.model._docs import render_model_markdown
from lupusim.model._presets import PROCESS_PARAMETERS

ROOT = Path(__file__).resolve().parents[1]


def _target_ids() -> set[str]:
    from lupusim.calibrate._objective import all_targets

    path = resources.files("lupusim").joinpath("data/targets.csv")
    with resources.as_file(path) as p:
        return set(pd.read_csv(p)["id"]) | set(all_targets())


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_every_parameter_has_unit_value_and_provenance(name: str) -> None:
    preset = get_preset(name)
    targets = _target_ids()
    process = set(PROCESS_PARAMETERS) if preset.species == "human" else set()
    assert set(preset.values) == set(preset.model.parameter_names) | process
    for name in process:
        assert isinstance(preset.values[name].provenance, Calibrated | Assumption | Citation)
    for prm in preset.model.parameters:
        assert prm.unit, prm.name
        pv = preset.values[prm.name]
        assert np.isfinite(pv.value), prm.name
        assert isinstance(pv.provenance, Citation | Calibrated | Assumption)
        if isinstance(pv.provenance, Calibrated):
            assert pv.provenance.targets
            assert set(pv.provenance.targets) <= targets, prm.name
        if isinstance(pv.provenance, Assumption):
            assert len(pv.provenance.why) > 10, prm.name


@pytest.mark.parametrize("species", ["mouse", "human"])
def test_analytic_jacobian_matches_finite_differences(species: str) -> None:
    preset = get_preset("mrl_lpr" if species == "mouse" else "human")
    model = compile_model(build_model(species))
    rng = np.random.default_rng(0)
    y = preset.initial_state() + rng.uniform(0.05, 0.5, size=model.n_states)
    p = preset.parameter_vector()
    u = np.array([10.0, 1.0, 0.5, 200.0])
    jac = model.jac(3.0, y, p, u, np.zeros((model.n_states, model.n_states)))
    numeric = np.zeros_like(jac)
    for j in range(model.n_states):
        h = 1e-6 * max(1.0, abs(y[j]))
        yp, ym = y.copy(), y.copy()
        yp[j] += h
        ym[j] -= h
        fp = model.rhs(3.0, yp, p, u, np.empty(model.n_states))
        fm = model.rhs(3.0, ym, p, u, np.empty(model.n_states))
        numeric[:, j] = (fp - fm) / (2 * h)
    np.testing.assert_allclose(jac, numeric, rtol=1e-4, atol=1e-8)


def test_docs_model_md_is_generated_from_the_model() -> None:
    committed = (ROOT / "docs" / "model.md").read_text()
    assert committed == render_model_markdown(), (
        "docs/model.md is stale: run python scripts/generate_model_docs.py"
    )


def test_unknown_preset_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="unknown preset"):
        get_preset("nzb_w")


@pytest.mark.parametrize("preset_name", ["mrl_lpr", "human"])
def test_scalar_observables_match_the_vectorised_ones(preset_name: str) -> None:
    preset = get_preset(preset_name)
    model = compile_model(preset.model)
    rng = np.random.default_rng(1)
    y = preset.initial_state() + rng.uniform(0.0, 0.8, size=model.n_states)
    p, u = preset.parameter_vector(), np.array([12.0, 1.0, 0.0, 200.0])
    vec = model.observables(np.asarray(40.0), y[None], p[None], u[None])
    for name in preset.model.observable_names:
        assert model.observable_at(name, 40.0, y, p, u) == pytest.approx(float(vec[name][0]))
    with pytest.raises(KeyError, match="unknown observable"):
        model.observable_at("nope", 0.0, y, p, u)


@pytest.mark.parametrize("species", ["mouse", "human"])
def test_generated_rhs_matches_the_symbolic_rates(species: str) -> None:
    """The compiled right-hand side (printer rewrites included) equals sympy's own
    evaluation of the rates, with the infection hazard ratios at their values and at 0."""
    import sympy as sp

    preset = get_preset("mrl_lpr" if species == "mouse" else "human")
    spec = build_model(species)
    model = compile_model(spec)
    rng = np.random.default_rng(1)
    y = preset.initial_state() + rng.uniform(0.05, 0.5, size=model.n_states)
    u = np.array([10.0, 1.0, 0.5, 200.0])
    symbols = [s.symbol for s in spec.states] + [q.symbol for q in spec.parameters]
    symbols += [i.symbol for i in spec.inputs]
    exact = sp.lambdify([spec.time, *symbols], list(spec.rates), modules="mpmath")
    base = preset.parameter_vector()
    hr = [j for j, name in enumerate(spec.parameter_names) if "_hr_" in name]
    variants = [(base, u)]
    if hr:
        # hazard ratios of 0 and no hydroxychloroquine (exponent 0): 0 ** 0 = 1, where
        # the exp-of-sum form would give exp(0 · log 0) = NaN without its fallback
        zero = base.copy()
        zero[hr] = 0.0
        variants.append((zero, np.array([10.0, 1.0, 0.5, 0.0])))
    for p, uv in variants:
        got = model.rhs(3.0, y, p, uv, np.empty(model.n_states))
        want = np.array([float(v) for v in exact(3.0, *y, *p, *uv)])
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)


def test_product_of_powers_prints_as_exp_of_sum_with_fallback() -> None:
    import math

    import sympy as sp

    from lupusim.model._codegen import _ScalarPrinter

    a, b, x, z = sp.symbols("a b x z", real=True)
    expr = 3 * a**x * b ** (z / (z + 1))
    code = _ScalarPrinter({"fully_qualified_modules": True}).doprint(expr)
    assert "math.exp(" in code and "math.log(" in code

    def run(av: float, bv: float, xv: float, zv: float) -> float:
        return float(eval(code, {"math": math, "a": av, "b": bv, "x": xv, "z": zv}))

    assert run(1.5, 0.7, 0.3, 2.0) == pytest.approx(3 * 1.5**0.3 * 0.7 ** (2 / 3), rel=1e-14)
    assert run(0.0, 0.7, 0.0, 2.0) == pytest.approx(3 * 0.7 ** (2 / 3), rel=1e-14)  # 0**0 = 1
    assert run(-2.0, 0.7, 2.0, 2.0) == pytest.approx(3 * 4.0 * 0.7 ** (2 / 3), rel=1e-14)
    single = _ScalarPrinter({"fully_qualified_modules": True}).doprint(3 * a**x)
    assert "math.exp" not in single  # one power stays a power
