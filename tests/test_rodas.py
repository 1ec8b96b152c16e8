"""Rosenbrock backend (Rodas5P, Rodas4): tableaus, stiff reference problems, the model
against LSODA, exact event semantics, failure reporting, batch = single subject exactly."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from lupusim.engine import (
    STATUS_NON_FINITE,
    STATUS_OK,
    STATUS_SOLVER_FAILED,
    Bolus,
    Event,
    RateChange,
    SolverOptions,
    integrate_subject,
)
from lupusim.engine._rodas import (
    METHODS,
    _model_linear_solver,
    integrate_batch_rodas,
    integrate_subject_rodas,
    rates_are_autonomous,
    solve_rodas,
)
from lupusim.model import compile_model, get_preset
from lupusim.population import sample_parameters
from lupusim.treatments import MSCInfusion, Prednisone, Regimen, nih_cyclophosphamide

TIGHT = SolverOptions(rtol=1e-9, atol=1e-12)
RODAS_TIGHT = SolverOptions(rtol=1e-9, atol=1e-12)


def _max_threads() -> int:
    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


def _regimen() -> Regimen:
    return Regimen(
        "msc+nih+pred",
        (MSCInfusion(0.0, cells_per_kg=1e6), *nih_cyclophosphamide(0.0), Prednisone(0, 180, 20.0)),
    )


def _assert_close_to_reference(ours: np.ndarray, ref: np.ndarray, rtol: float = 1e-4) -> None:
    """rtol on every entry, with an absolute floor scaled to each state's own size."""
    assert np.all(np.isfinite(ours))
    scale = np.abs(ref).max(axis=0)
    atol = rtol * 1e-3 * np.maximum(scale, 1e-9)
    np.testing.assert_array_less(np.abs(ours - ref), rtol * np.abs(ref) + atol)


# ----------------------------------------------------------------------------------------
# (a) the tableau and a stiff reference problem
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "order", "embedded"), [("rodas4", 4, 3), ("rodas5p", 5, 4)])
def test_tableau_satisfies_rosenbrock_order_conditions(
    method: str, order: int, embedded: int
) -> None:
    """Hairer & Wanner II, Table IV.7.1 (conditions up to order 4), on the table as the
    kernel uses it: the solution has order >= 4; Rodas4's embedded solution has order 3."""
    table, g, q = METHODS[method]
    assert q == embedded
    s = table.shape[0]
    a = np.zeros((s, s))
    c = np.zeros((s, s))
    a[:, : s - 1] = table[:, 2 : s + 1]
    c[:, : s - 1] = table[:, s + 1 : 2 * s]
    gam = np.linalg.inv(np.eye(s) / g - c)  # transformed form: C = diag(1/γ) − Γ⁻¹
    alpha = a @ gam
    beta = alpha + gam - np.diag(np.diag(gam))  # β_ij = α_ij + γ_ij, j < i
    b = np.r_[table[-1, 2 : s + 1], 1.0] @ gam  # y_{n+1} = Y_s + k_s
    b_hat = np.r_[table[-1, 2 : s + 1], 0.0] @ gam  # embedded: Y_s
    al, bp = alpha.sum(axis=1), beta.sum(axis=1)
    np.testing.assert_allclose(al, table[:, 0], atol=1e-13)  # stage times c_i
    np.testing.assert_allclose(gam.sum(axis=1), table[:, 1], atol=1e-13)  # d_i = γ_i

    def conditions(w: np.ndarray) -> np.ndarray:
        return np.array(
            [
                w.sum() - 1,
                w @ bp - (0.5 - g),
                w @ al**2 - 1 / 3,
                w @ beta @ bp - (1 / 6 - g + g * g),
                w @ al**3 - 1 / 4,
                w @ (al * (alpha @ bp)) - (1 / 8 - g / 3),
                w @ beta @ al**2 - (1 / 12 - g / 3),
                w @ beta @ beta @ bp - (1 / 24 - g / 2 + 1.5 * g * g - g**3),
            ]
        )

    assert np.abs(conditions(b)).max() < 1e-13
    assert np.abs(conditions(b_hat)[:4]).max() < 1e-13
    if embedded == 3:
        assert np.abs(conditions(b_hat)[4:]).max() > 1e-3
    else:
        assert np.abs(conditions(b_hat)[4:]).max() < 1e-13


@numba.njit(cache=True)
def _robertson_rhs(
    t: float, y: np.ndarray, p: np.ndarray, u: np.ndarray, out: np.ndarray
) -> np.ndarray:
    out[0] = -p[0] * y[0] + p[1] * y[1] * y[2]
    out[1] = p[0] * y[0] - p[1] * y[1] * y[2] - p[2] * y[1] * y[1]
    out[2] = p[2] * y[1] * y[1]
    return out


@numba.njit(cache=True)
def _robertson_jac(
    t: float, y: np.ndarray, p: np.ndarray, u: np.ndarray, out: np.ndarray
) -> np.ndarray:
    out[0, 0] = -p[0]
    out[0, 1] = p[1] * y[2]
    out[0, 2] = p[1] * y[1]
    out[1, 0] = p[0]
    out[1, 1] = -p[1] * y[2] - 2.0 * p[2] * y[1]
    out[1, 2] = -p[1] * y[1]
    out[2, 1] = 2.0 * p[2] * y[1]
    return out


def test_robertson_matches_radau() -> None:
    p = np.array([0.04, 1e4, 3e7])
    y0 = np.array([1.0, 0.0, 0.0])
    times = np.concatenate(([0.0], np.logspace(-5, 5, 31)))
    opts = SolverOptions(rtol=1e-9, atol=1e-14, hmax=np.inf)
    ours, status, message, stats = solve_rodas(_robertson_rhs, _robertson_jac, p, y0, times, opts)
    assert status == STATUS_OK, message
    assert stats.accepted > 0
    ref = solve_ivp(
        lambda t, y: _robertson_rhs(t, y, p, p, np.empty(3)),
        (0.0, times[-1]),
        y0,
        method="Radau",
        t_eval=times,
        rtol=1e-10,
        atol=1e-12,
        jac=lambda t, y: _robertson_jac(t, y, p, p, np.zeros((3, 3))),
    )
    assert ref.success
    np.testing.assert_allclose(ours, ref.y.T, rtol=1e-4, atol=1e-11)


@numba.njit(cache=True)
def _forced_rhs(
    t: float, y: np.ndarray, p: np.ndarray, u: np.ndarray, out: np.ndarray
) -> np.ndarray:
    out[0] = y[1]
    out[1] = -p[0] * (y[0] - np.cos(t)) - p[1] * y[1]
    return out


@numba.njit(cache=True)
def _forced_jac(
    t: float, y: np.ndarray, p: np.ndarray, u: np.ndarray, out: np.ndarray
) -> np.ndarray:
    out[0, 1] = 1.0
    out[1, 0] = -p[0]
    out[1, 1] = -p[1]
    return out


def test_non_autonomous_problem_with_pivoted_lu_matches_radau() -> None:
    """A forced, critically damped stiff oscillator: the rhs depends on t (finite-difference
    ∂f/∂t), and ``W`` has multipliers ~1e6·h·γ, so large steps take the pivoted LU path."""
    p = np.array([1e6, 2e3])
    y0 = np.array([0.0, 0.0])
    times = np.linspace(0.0, 20.0, 41)
    opts = SolverOptions(rtol=1e-9, atol=1e-12, hmax=np.inf)
    ours, status, message, _ = solve_rodas(
        _forced_rhs, _forced_jac, p, y0, times, opts, autonomous=False
    )
    assert status == STATUS_OK, message
    ref = solve_ivp(
        lambda t, y: _forced_rhs(t, y, p, p, np.empty(2)),
        (0.0, times[-1]),
        y0,
        method="Radau",
        t_eval=times,
        rtol=1e-10,
        atol=1e-12,
        jac=lambda t, y: _forced_jac(t, y, p, p, np.zeros((2, 2))),
    )
    assert ref.success
    np.testing.assert_allclose(ours[:, 0], ref.y[0], rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(ours[:, 1], ref.y[1], rtol=1e-4, atol=1e-8)


def test_static_lu_takes_its_pivot_test_in_error_norm_units() -> None:
    """At a month-long step the human model's ``W`` has an unscaled multiplier > 10 (anti-
    dsDNA in IU/mL fed by B cells), which sent every long step to the dense pivoting LU;
    in the units of the error norm the same elimination passes and solves ``W x = b``."""
    preset = get_preset("human")
    spec = preset.model
    model = compile_model(spec)
    p = preset.parameter_vector()
    run = integrate_subject_rodas(model, p, preset.initial_state(p), np.arange(0.0, 365.0, 7.0), [])
    y = run.states[-1]
    n = len(y)
    jm = np.zeros((n, n))
    model.jac(0.0, y, p, np.zeros(len(spec.inputs)), jm)
    build, lu, solve = _model_linear_solver(spec)
    gh = 1.0 / (30.0 * METHODS["rodas5p"][1])
    a = np.zeros((n, n))
    build(jm, gh, a)
    dinv = np.zeros(n)
    assert not lu(a.copy(), dinv, np.ones(n))
    assert lu(a, dinv, 1e-9 + 1e-6 * np.abs(y))
    rhs = np.linspace(1.0, 2.0, n)
    x = solve(a, dinv, rhs.copy())
    w = gh * np.eye(n) - jm
    np.testing.assert_allclose(w @ x, rhs, rtol=1e-9, atol=1e-9 * np.abs(rhs).max())


# ----------------------------------------------------------------------------------------
# (b) lupusim's model against the LSODA backend
# ----------------------------------------------------------------------------------------
def test_rates_do_not_depend_on_time() -> None:
    """The ∂f/∂t = 0 claim the kernel relies on for the presets."""
    for name in ("mrl_lpr", "human"):
        assert rates_are_autonomous(get_preset(name).model)


def test_mouse_untreated_matches_lsoda() -> None:
    preset = get_preset("mrl_lpr")
    model = compile_model(preset.model)
    params = sample_parameters(preset, 2, np.random.default_rng(3))
    times = np.arange(28.0, 281.0, 7.0)
    for p in params:
        y0 = preset.initial_state(p)
        ref = integrate_subject(model, p, y0, times, (), (), TIGHT)
        ours = integrate_subject_rodas(model, p, y0, times, (), RODAS_TIGHT)
        assert ref.status == STATUS_OK and ours.status == STATUS_OK, ours.message
        _assert_close_to_reference(ours.states, ref.states)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_human_regimen_on_coarse_grid_matches_lsoda(method: str) -> None:
    preset = get_preset("human")
    model = compile_model(preset.model)
    params = sample_parameters(preset, 2, np.random.default_rng(5))
    times = np.arange(0.0, 731.0, 45.0)  # doses at 30, 60, ... fall between output points
    for p in params:
        y0 = preset.initial_state(p)
        events = _regimen().events(preset.model, p)
        ref = integrate_subject(model, p, y0, times, events, (), TIGHT)
        ours = integrate_subject_rodas(model, p, y0, times, events, RODAS_TIGHT, method=method)
        assert ref.status == STATUS_OK and ours.status == STATUS_OK, ours.message
        _assert_close_to_reference(ours.states, ref.states)
        np.testing.assert_array_equal(ours.inputs, ref.inputs)
        assert ours.applied_events == ref.applied_events


# ----------------------------------------------------------------------------------------
# (c) event semantics exactly as the LSODA backend
# ----------------------------------------------------------------------------------------
def test_event_semantics_match_lsoda() -> None:
    preset = get_preset("human")
    model = compile_model(preset.model)
    p = preset.parameter_vector()
    y0 = preset.initial_state(p)
    times = np.array([0.0, 5.0, 10.0, 10.001, 20.0, 40.0])
    events: list[Event] = [
        RateChange(10.0, "prednisone_mg_day", 20.0),
        Bolus(10.0, "cyclophosphamide_exposure", 1.0),
        Bolus(0.0, "cyclophosphamide_exposure", 0.5),  # a dose at t = 0
        Bolus(10.0, "cyclophosphamide_exposure", 2.0),  # two doses at the same time
        Bolus(17.3, "cyclophosphamide_exposure", 1.0),  # between output points
        Bolus(40.0, "cyclophosphamide_exposure", 1.0),  # at the last output time
        Bolus(50.0, "cyclophosphamide_exposure", 1.0),  # after the end: never applied
    ]
    ref = integrate_subject(model, p, y0, times, events, (), TIGHT)
    ours = integrate_subject_rodas(model, p, y0, times, events, RODAS_TIGHT)
    assert ours.status == STATUS_OK, ours.message
    assert ours.applied_events == ref.applied_events
    assert len(ours.applied_events) == 6
    np.testing.assert_array_equal(ours.inputs, ref.inputs)
    _assert_close_to_reference(ours.states, ref.states)
    cx = preset.model.state_index("cyclophosphamide_exposure")
    assert ours.states[0, cx] == y0[cx] + 0.5  # output at t = 0 shows the dose at t = 0
    assert ours.inputs[2, 0] == 20.0  # output at the event time shows the new input
    # output at t = 10 shows both doses at t = 10 (right-continuous)
    np.testing.assert_allclose(ours.states[2, cx] - ours.states[1, cx], 3.0, rtol=0.05)
    with pytest.raises(ValueError, match="before the start"):
        integrate_subject_rodas(model, p, y0, times[1:], events)


# ----------------------------------------------------------------------------------------
# (d) failures are reported per subject
# ----------------------------------------------------------------------------------------
def test_absurd_subject_fails_and_others_are_unaffected() -> None:
    preset = get_preset("human")
    model = compile_model(preset.model)
    params = sample_parameters(preset, 3, np.random.default_rng(11))
    params[1, preset.model.parameter_index("k_donor_msc_clearance")] = -1e4
    y0 = np.array([preset.initial_state(p) for p in params])
    times = np.arange(0.0, 120.0, 7.0)
    reg = Regimen("late msc", (*nih_cyclophosphamide(0.0), MSCInfusion(20.0, cells_per_kg=1e6)))
    events = [reg.events(preset.model, p) for p in params]
    outs = integrate_batch_rodas(model, params, y0, times, events)
    assert [o.status for o in outs] == [STATUS_OK, STATUS_NON_FINITE, STATUS_OK]
    bad = outs[1]
    assert "non-finite" in bad.message
    assert bad.failed_at_day == 20.0  # the failed segment starts at the infusion
    assert np.all(np.isfinite(bad.states[times <= 20.0]))
    assert np.all(np.isnan(bad.states[times > 20.0]))
    ref = integrate_subject(model, params[1], y0[1], times, events[1], (), None)
    assert ref.status != STATUS_OK and ref.failed_at_day == bad.failed_at_day
    assert bad.applied_events == ref.applied_events
    np.testing.assert_array_equal(np.isnan(bad.states), np.isnan(ref.states))
    for i in (0, 2):
        single = integrate_subject_rodas(model, params[i], y0[i], times, events[i])
        np.testing.assert_array_equal(outs[i].states, single.states)


def test_step_limit_gives_solver_failure() -> None:
    preset = get_preset("human")
    model = compile_model(preset.model)
    p = preset.parameter_vector()
    times = np.arange(0.0, 60.0, 7.0)
    opts = SolverOptions(max_steps_per_segment=20)
    out = integrate_subject_rodas(model, p, preset.initial_state(p), times, [], opts)
    assert out.status == STATUS_SOLVER_FAILED
    assert "step-count limit" in out.message
    assert out.failed_at_day == 0.0
    assert np.all(np.isnan(out.states[1:]))


# ----------------------------------------------------------------------------------------
# (e) batch = single subject, bit for bit, whatever the thread count
# ----------------------------------------------------------------------------------------
def test_batch_equals_single_subject_bit_for_bit() -> None:
    preset = get_preset("human")
    model = compile_model(preset.model)
    params = sample_parameters(preset, 6, np.random.default_rng(2))
    y0 = np.array([preset.initial_state(p) for p in params])
    times = np.arange(0.0, 365.0, 7.0)
    events = [_regimen().events(preset.model, p) if i % 2 else [] for i, p in enumerate(params)]
    opts = SolverOptions(rtol=1e-6)
    before = numba.get_num_threads()
    try:
        runs = []
        for threads in sorted({1, _max_threads()}):
            numba.set_num_threads(threads)  # the default of ``threads``
            runs.append(integrate_batch_rodas(model, params, y0, times, events, opts))
    finally:
        numba.set_num_threads(before)
    # more threads than subjects: one-subject chunks, run concurrently
    runs.append(integrate_batch_rodas(model, params, y0, times, events, opts, threads=8))
    for i in range(len(params)):
        single = integrate_subject_rodas(model, params[i], y0[i], times, events[i], opts)
        for run in runs:
            assert run[i].status == single.status == STATUS_OK
            np.testing.assert_array_equal(run[i].states, single.states)
            np.testing.assert_array_equal(run[i].inputs, single.inputs)
            assert run[i].applied_events == single.applied_events


def test_dense_output_interpolates_without_changing_the_steps() -> None:
    """With ``dense_output`` the steps do not depend on the output grid (outputs are
    interpolated by Rodas5P's continuous extension), at a cost in accuracy."""
    from dataclasses import replace

    preset = get_preset("human")
    model = compile_model(preset.model)
    p = sample_parameters(preset, 3, np.random.default_rng(11))
    y0 = np.array([preset.initial_state(r) for r in p])
    regimen = Regimen(
        "r", (MSCInfusion(0.0, cells_per_kg=1e6), *nih_cyclophosphamide(3.5, 0.75, 3))
    )
    events = [regimen.events(preset.model, r) for r in p]
    dense = replace(SolverOptions(), dense_output=True)
    weekly, daily = np.arange(0.0, 120.0, 7.0), np.arange(0.0, 120.0, 1.0)
    a = integrate_batch_rodas(model, p, y0, weekly, events, dense)
    b = integrate_batch_rodas(model, p, y0, daily, events, dense)
    on_weeks = np.searchsorted(daily, weekly)
    for oa, ob in zip(a, b, strict=True):
        np.testing.assert_array_equal(oa.states, ob.states[on_weeks])
    ref = integrate_batch_rodas(model, p, y0, daily, events, SolverOptions(rtol=1e-10, atol=1e-14))
    for ob, orf in zip(b, ref, strict=True):
        scale = np.abs(orf.states).max(axis=0)
        keep = np.abs(orf.states) > 1e-6 * scale
        rel = np.abs(ob.states - orf.states)[keep] / np.abs(orf.states)[keep]
        # interpolation costs accuracy: ~2e-4 here against ~1e-6 when stepping to outputs
        assert rel.max() < 1e-3
