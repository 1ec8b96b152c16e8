"""Engine: invariants, exact dose timing on coarse grids, determinism, failures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from lupusim.engine import Bolus, SolverOptions, simulate
from lupusim.engine._events import RateChange
from lupusim.model import compile_model, get_preset
from lupusim.population import sample_parameters
from lupusim.treatments import (
    Cyclophosphamide,
    MSCInfusion,
    Mycophenolate,
    Prednisone,
    Regimen,
    nih_cyclophosphamide,
)

WEEK = 7.0


def _run(
    preset_name: str,
    regimens: list[Regimen],
    times: np.ndarray,
    n: int = 1,
    seed: int = 0,
    workers: int = 1,
    params: np.ndarray | None = None,
):
    preset = get_preset(preset_name)
    p = sample_parameters(preset, n, np.random.default_rng(seed)) if params is None else params
    y0 = np.array([preset.initial_state(row) for row in p])
    return simulate(preset.model, p, y0, regimens * (n // len(regimens)), times, workers=workers)


def test_states_stay_non_negative_under_every_treatment() -> None:
    times = np.arange(28.0, 40 * WEEK, 1.0)
    regimens = [
        Regimen("none"),
        Regimen("msc", (MSCInfusion(9 * WEEK, cells=1e6), MSCInfusion(16 * WEEK, cells=1e6))),
        Regimen("ctx", tuple(Cyclophosphamide(w * WEEK, dose_mg_per_kg=200) for w in range(9, 30))),
    ]
    res = _run("mrl_lpr", regimens, times, n=12)
    assert res.ok.all()
    assert res.states.min() > -1e-6
    human = get_preset("human")
    reg = Regimen(
        "is",
        (
            *nih_cyclophosphamide(0.0, 1.0, 6, 4),
            Prednisone(0, 400, 60.0),
            Mycophenolate(200, None, 3.0),
            MSCInfusion(100, cells_per_kg=2e6),
        ),
    )
    hres = simulate(
        human.model,
        human.parameter_vector()[None],
        human.initial_state()[None],
        [reg],
        np.arange(0.0, 2000.0, 5.0),
    )
    assert hres.ok.all()
    assert hres.states.min() > -1e-6


def test_healthy_msc_subject_without_disease_stays_without_it() -> None:
    times = np.arange(28.0, 80 * WEEK, 7.0)
    res = _run("healthy_strain", [Regimen("none")], times, n=8)
    obs = res.observables()
    assert res.ok.all()
    assert res.state("autoreactive_b").max() < 0.05
    assert obs["urine_acr_mg_g"].max() < 100.0
    assert obs["anti_dsdna_iu_ml"].max() < 30.0


def test_mrl_lpr_without_treatment_develops_nephritis() -> None:
    res = _run("mrl_lpr", [Regimen("none")], np.arange(28.0, 20 * WEEK + 1, 7.0), n=8)
    acr = res.observables()["urine_acr_mg_g"]
    assert np.median(acr[:, -1]) > 300.0  # the comparison above could fail


def test_msc_in_lung_halve_in_about_24_hours() -> None:
    preset = get_preset("human")
    times = np.arange(0.0, 3.0 + 1e-9, 1.0 / 24.0)
    res = simulate(
        preset.model,
        preset.parameter_vector()[None],
        preset.initial_state()[None],
        [Regimen("msc", (MSCInfusion(0.0, cells_per_kg=1e6),))],
        times,
    )
    cells = res.observables()["donor_msc_cells"][0]
    weight = preset.values["body_weight_kg"].value
    assert cells[0] == pytest.approx(1e6 * weight)
    assert cells[24] / cells[0] == pytest.approx(0.5, abs=0.01)
    assert cells[48] / cells[0] == pytest.approx(0.25, abs=0.01)


def test_dose_at_time_zero_is_in_the_first_output() -> None:
    res = _run(
        "human",
        [Regimen("ctx", (Cyclophosphamide(0.0, dose_g_per_m2=0.75),))],
        np.array([0.0, 30.0]),
        params=get_preset("human").parameter_vector()[None],
    )
    assert res.state("cyclophosphamide_exposure")[0, 0] > 0.9


def test_dose_between_output_points_matches_a_fine_grid() -> None:
    preset = get_preset("human")
    reg = [
        Regimen(
            "ctx",
            (Cyclophosphamide(13.37, dose_g_per_m2=0.75), MSCInfusion(41.5, cells_per_kg=1e6)),
        )
    ]
    coarse = np.array([0.0, 60.0, 120.0])
    fine = np.arange(0.0, 120.0 + 1e-9, 0.5)
    p = preset.parameter_vector()[None]
    y0 = preset.initial_state()[None]
    a = simulate(preset.model, p, y0, reg, coarse)
    b = simulate(preset.model, p, y0, reg, fine)
    idx = [0, 120, 240]
    np.testing.assert_allclose(a.states[0], b.states[0, idx], rtol=1e-4, atol=1e-7)
    # the pulse did act although no output point is near it
    assert b.state("cyclophosphamide_exposure")[0, 27] > 0.9  # day 13.5


def test_two_doses_at_the_same_time_equal_one_double_dose() -> None:
    preset = get_preset("human")
    p, y0 = preset.parameter_vector()[None], preset.initial_state()[None]
    times = np.arange(0.0, 100.0, 10.0)
    two = [
        Regimen("two", (MSCInfusion(20.0, cells_per_kg=1e6), MSCInfusion(20.0, cells_per_kg=1e6)))
    ]
    one = [Regimen("one", (MSCInfusion(20.0, cells_per_kg=2e6),))]
    a = simulate(preset.model, p, y0, two, times)
    b = simulate(preset.model, p, y0, one, times)
    np.testing.assert_allclose(a.states, b.states, rtol=1e-9, atol=1e-12)
    # output at the dose time shows the state after the dose (right-continuous)
    assert a.state("donor_msc_lung")[0, 2] == pytest.approx(2e6)


def test_same_seed_same_numbers_whatever_the_worker_count() -> None:
    times = np.arange(28.0, 20 * WEEK, 2.0)
    regs = [Regimen("msc", (MSCInfusion(16 * WEEK, cells=1e6),))]
    a = _run("mrl_lpr", regs, times, n=6, seed=7, workers=1)
    b = _run("mrl_lpr", regs, times, n=6, seed=7, workers=2)
    c = _run("mrl_lpr", regs, times, n=6, seed=8, workers=1)
    np.testing.assert_array_equal(a.states, b.states)
    assert not np.array_equal(a.states, c.states)


def test_lsoda_matches_a_tight_radau_reference() -> None:
    preset = get_preset("mrl_lpr")
    compiled = compile_model(preset.model)
    p = preset.parameter_vector()
    u = np.zeros(len(preset.model.inputs))
    times = np.arange(28.0, 20 * WEEK + 1, 7.0)
    res = simulate(
        preset.model,
        p[None],
        preset.initial_state()[None],
        [Regimen("none")],
        times,
        options=SolverOptions(rtol=1e-8, atol=1e-11),
    )
    ref = solve_ivp(
        lambda t, y: compiled.rhs(t, y, p, u, np.empty(len(y))),
        (times[0], times[-1]),
        preset.initial_state(),
        method="Radau",
        t_eval=times,
        jac=lambda t, y: compiled.jac(t, y, p, u, np.zeros((len(y), len(y)))),
        rtol=1e-10,
        atol=1e-13,
    )
    np.testing.assert_allclose(res.states[0], ref.y.T, rtol=1e-5, atol=1e-8)


def test_failed_subject_is_reported_not_dropped() -> None:
    preset = get_preset("human")
    p = np.tile(preset.parameter_vector(), (3, 1))
    p[1, preset.model.parameter_index("k_donor_msc_clearance")] = np.nan
    y0 = np.tile(preset.initial_state(), (3, 1))
    with pytest.raises(ValueError, match="non-finite parameter for subject 1"):
        simulate(preset.model, p, y0, [Regimen("x")] * 3, np.array([0.0, 10.0]))
    p[1, preset.model.parameter_index("k_donor_msc_clearance")] = -1e4  # explodes
    regs = [Regimen("msc", (MSCInfusion(1.0, cells_per_kg=1e6),))] * 3
    res = simulate(
        preset.model,
        p,
        y0,
        regs,
        np.array([0.0, 5.0, 10.0]),
        options=SolverOptions(max_steps_per_segment=2000),
    )
    assert res.n_subjects == 3
    assert list(res.ok) == [True, False, True]
    failures = res.failures()
    assert list(failures["subject_index"]) == [1]
    assert failures["message"].iloc[0] != "ok"


def test_bad_arguments_are_clear_errors() -> None:
    preset = get_preset("human")
    p, y0 = preset.parameter_vector()[None], preset.initial_state()[None]
    with pytest.raises(ValueError, match="strictly increasing"):
        simulate(preset.model, p, y0, [Regimen("x")], np.array([0.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="one regimen per subject"):
        simulate(preset.model, p, y0, [], np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="event before the start"):
        simulate(
            preset.model,
            p,
            y0,
            [Regimen("x", (MSCInfusion(-1.0, cells_per_kg=1.0),))],
            np.array([0.0, 1.0]),
        )


def test_bolus_event_is_exact() -> None:
    """A Bolus on a state with no dynamics of its own shows exactly its amount."""
    preset = get_preset("human")
    p, y0 = preset.parameter_vector()[None], preset.initial_state()[None]

    class _Raw:
        name = "raw"
        policies = ()

        def events(self, model, parameters):  # type: ignore[no-untyped-def]
            return [Bolus(2.5, "cum_prednisone", 1.25)]

    res = simulate(preset.model, p, y0, [_Raw()], np.array([0.0, 2.0, 3.0]))
    assert res.state("cum_prednisone")[0].tolist() == pytest.approx([0.0, 0.0, 1.25])


@pytest.mark.parametrize("backend", ["rodas5p"])
def test_rosenbrock_backend_agrees_with_lsoda_and_handles_policies(backend: str) -> None:
    from lupusim.treatments import ReinfuseOnRelapse

    preset = get_preset("human")
    p = sample_parameters(preset, 4, np.random.default_rng(5))
    y0 = np.array([preset.initial_state(r) for r in p])
    base = Regimen("x", (*nih_cyclophosphamide(10.0, 0.75, 6), MSCInfusion(35.5, cells_per_kg=1e6)))
    with_policy = base.plus(policies=(ReinfuseOnRelapse(MSCInfusion(0.0, cells_per_kg=1e6)),))
    regs = [base, with_policy, base, with_policy]
    times = np.arange(0.0, 400.0, 20.0)
    tight = SolverOptions(rtol=1e-9, atol=1e-12)
    ref = simulate(preset.model, p, y0, regs, times, options=tight)
    fast = simulate(preset.model, p, y0, regs, times, options=tight, backend=backend, workers=2)
    assert fast.ok.all()
    scale = np.abs(ref.states).max(axis=(0, 1))
    np.testing.assert_allclose(fast.states, ref.states, rtol=1e-4, atol=1e-7 * scale.max())
    with pytest.raises(ValueError, match="unknown backend"):
        simulate(preset.model, p, y0, regs, times, backend="euler")  # type: ignore[arg-type]


def test_streaming_in_chunks_equals_one_call(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    from lupusim.engine import simulate_streaming
    from lupusim.io import ParquetTrajectorySink

    preset = get_preset("mrl_lpr")
    p = sample_parameters(preset, 7, np.random.default_rng(4))
    y0 = np.array([preset.initial_state(r) for r in p])
    regs = [Regimen("msc", (MSCInfusion(100.0, cells=1e6),))] * 7
    times = np.arange(28.0, 141.0, 7.0)
    whole = simulate(preset.model, p, y0, regs, times).observables()
    ids = [f"m{i}" for i in range(7)]
    path = tmp_path / "t.parquet"
    with ParquetTrajectorySink(path, ["urine_acr_mg_g", "treg_pct_cd4"], ids, "g") as sink:
        counts = simulate_streaming(preset.model, p, y0, regs, times, sink, chunk_size=3)
    assert counts == {"subjects": 7, "failed": 0}
    frame = pd.read_parquet(path)
    assert len(frame) == 7 * len(times) * 2
    acr = (
        frame[frame["variable"] == "urine_acr_mg_g"]
        .pivot(index="subject", columns="time_days", values="value")
        .loc[ids]
    )
    np.testing.assert_array_equal(acr.to_numpy(), whole["urine_acr_mg_g"])
    with pytest.raises(ValueError, match="chunk_size"):
        simulate_streaming(preset.model, p, y0, regs, times, sink, chunk_size=0)


@dataclass(frozen=True)
class _BoostEveryCheck:
    """A policy that fires at every check: adds inflammation, then raises prednisone once
    protein is below a level (exercises boluses, rate changes and memory)."""

    every: float = 45.0
    needs: tuple[str, ...] = ("protein_24h_g",)

    def check_times(self, t0: float, t_end: float) -> list[float]:
        return list(np.arange(t0, t_end + 1e-9, self.every))

    def initial_memory(self) -> dict[str, object]:
        return {"steroid": False}

    def decide(self, t, observables, memory, model, parameters):  # type: ignore[no-untyped-def]
        out = [Bolus(t, "inflammation", 0.3, "boost")]
        if not memory["steroid"] and observables["protein_24h_g"] < 5.0:
            memory["steroid"] = True
            out.append(RateChange(t + 3.0, "prednisone_mg_day", 15.0, "steroid"))
        return out


def test_rosenbrock_policies_fire_like_lsoda() -> None:
    """Policy subjects on the Rosenbrock backend: same events, same trajectories."""
    preset = get_preset("human")
    p = sample_parameters(preset, 3, np.random.default_rng(8))
    y0 = np.array([preset.initial_state(r) for r in p])
    regs = [Regimen("b", (MSCInfusion(10.0, cells_per_kg=1e6),), (_BoostEveryCheck(),))] * 3
    times = np.arange(0.0, 300.0, 9.0)
    tight = SolverOptions(rtol=1e-9, atol=1e-12)
    ref = simulate(preset.model, p, y0, regs, times, options=tight)
    fast = simulate(preset.model, p, y0, regs, times, options=tight, backend="rodas5p")
    assert fast.ok.all()
    for a, b in zip(ref.applied_events, fast.applied_events, strict=True):
        assert [(e.time_days, e.label) for e in a] == [(e.time_days, e.label) for e in b]
        assert sum(e.label == "boost" for e in a) == 7  # days 0, 45, ..., 270
        assert any(e.label == "steroid" for e in a)
    scale = np.abs(ref.states).max(axis=(0, 1))
    np.testing.assert_allclose(fast.states, ref.states, rtol=1e-4, atol=1e-7 * scale.max())
    np.testing.assert_array_equal(fast.inputs, ref.inputs)


def test_cuda_backend_without_a_gpu_is_a_clear_error() -> None:
    from lupusim.engine._rodas_gpu import cuda_available, simulator_enabled
    from lupusim.errors import SimulationError

    if cuda_available() or simulator_enabled():
        pytest.skip("a CUDA device (or the simulator) is present")
    preset = get_preset("human")
    p, y0 = preset.parameter_vector()[None], preset.initial_state()[None]
    regimen = Regimen("m", (MSCInfusion(0.0, cells_per_kg=1e6),))
    with pytest.raises(SimulationError, match="needs a CUDA GPU"):
        simulate(preset.model, p, y0, [regimen], np.array([0.0, 7.0]), backend="rodas5p-cuda")
