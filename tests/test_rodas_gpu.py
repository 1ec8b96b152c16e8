"""The CUDA Rosenbrock engine (one GPU thread per subject) against the CPU engine.

No GPU is needed: the kernel runs under numba's CUDA simulator, in a subprocess started
with ``NUMBA_ENABLE_CUDASIM=1`` (the flag is read when ``numba.cuda`` is first imported,
so it cannot be switched on inside this process). The parent computes the CPU engine's
results and compares.

* Given the CPU engine's own compiled ``rhs``/``jac``, the simulated kernel reproduces
  ``integrate_batch_rodas`` bit for bit (step, LU, step control, events, outputs).
* With the device code generated for CUDA (the deployed path), the only difference is
  how Python and numba round integer powers in the model's Jacobian; states agree to
  ~1e-12 relative unless a step decision flips, then to about the tolerance.
"""

from __future__ import annotations

import itertools
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lupusim.engine import (
    STATUS_NON_FINITE,
    STATUS_OK,
    STATUS_SOLVER_FAILED,
    Bolus,
    Event,
    SolverOptions,
)
from lupusim.engine._rodas import integrate_batch_rodas
from lupusim.engine._rodas_gpu import (
    AUTO_CHUNK_SUBJECTS,
    _chunk_bounds,
    _cuda_module_source,
    integrate_batch_rodas_cuda,
)
from lupusim.engine._solver import SubjectOutcome
from lupusim.model import compile_model, get_preset
from lupusim.population import sample_parameters
from lupusim.treatments import (
    GlucocorticoidTaper,
    MSCInfusion,
    Regimen,
    nih_cyclophosphamide,
)

# Runs every case of the parent's pickle under the simulator; pickles the outcomes.
_SCRIPT = r"""
import os
import pickle
import sys

os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
import numpy as np

from lupusim.engine._rodas_gpu import (
    _cuda_kernel_for, _model_source, cuda_available, integrate_batch_rodas_cuda,
    simulator_enabled,
)
from lupusim.model import compile_model, get_preset

model = compile_model(get_preset("human").model)
n_s = model.n_states
_, pattern = _model_source(model)
rows = np.array([i for i, _ in pattern])
cols = np.array([j for _, j in pattern])


def cpu_rhs(t, y, p, u, out):
    f = np.empty(n_s)
    model.rhs(float(t), np.array(y), np.array(p), np.array(u), f)
    out[:] = f


def cpu_jac(t, y, p, u, out):
    jm = np.zeros((n_s, n_s))
    model.jac(float(t), np.array(y), np.array(p), np.array(u), jm)
    out[:] = jm[rows, cols]


with open(sys.argv[1], "rb") as fh:
    cases = pickle.load(fh)
results = {"_cuda_available": cuda_available(), "_simulator": simulator_enabled()}
for name, case in cases.items():
    scope = _cuda_kernel_for(model, case["method"]).py_func.__globals__
    generated = scope["_model_rhs"], scope["_model_jac"]
    if case["cpu_model_functions"]:
        scope["_model_rhs"], scope["_model_jac"] = cpu_rhs, cpu_jac
    timings = {}
    try:
        results[name] = integrate_batch_rodas_cuda(
            model, case["params"], case["y0"], case["times"], case["events"],
            case["options"], method=case["method"],
            chunk_subjects=case.get("chunk_subjects"), timings=timings,
        )
        results["_timings_" + name] = timings
    finally:
        scope["_model_rhs"], scope["_model_jac"] = generated
with open(sys.argv[2], "wb") as fh:
    pickle.dump(results, fh)
"""

HORIZON_DAYS = 112.0  # 16 weeks: doses at 0, 30, 60, 90 (between outputs) and taper steps


def _regimen() -> Regimen:
    taper = GlucocorticoidTaper(((0.0, 40.0), (14.0, 30.0), (28.0, 20.0), (56.0, 10.0)))
    return Regimen(
        "msc+nih+taper",
        (MSCInfusion(0.0, cells_per_kg=1e6), *nih_cyclophosphamide(0.0), taper),
    )


def _cases() -> dict[str, dict[str, Any]]:
    preset = get_preset("human")
    spec = preset.model
    params = sample_parameters(preset, 4, np.random.default_rng(7))
    y0 = np.array([preset.initial_state(p) for p in params])
    weekly = np.arange(0.0, HORIZON_DAYS + 1e-9, 7.0)
    events: list[list[Event]] = [_regimen().events(spec, p) for p in params]
    # an extra dose exactly at an output time and one after the end (never applied)
    events[3] = [
        *events[3],
        Bolus(49.0, "cyclophosphamide_exposure", 0.5),
        Bolus(HORIZON_DAYS + 5.0, "cyclophosphamide_exposure", 1.0),
    ]
    opts = SolverOptions(rtol=1e-6)
    regimen = {"params": params, "y0": y0, "times": weekly, "events": events, "options": opts}
    cases: dict[str, dict[str, Any]] = {}
    for method in ("rodas5p", "rodas4"):
        for exact in (True, False):
            name = f"{method}-{'cpu-model' if exact else 'device-model'}"
            cases[name] = {**regimen, "method": method, "cpu_model_functions": exact}
    short = np.arange(0.0, 60.0, 7.0)
    cases["step-limit"] = {
        "params": params[:2],
        "y0": y0[:2],
        "times": short,
        "events": [[], events[1]],
        "options": SolverOptions(max_steps_per_segment=20),
        "method": "rodas5p",
        "cpu_model_functions": False,
    }
    bad = sample_parameters(preset, 3, np.random.default_rng(11))
    bad[1, spec.parameter_index("k_donor_msc_clearance")] = -1e4
    late = Regimen("late msc", (*nih_cyclophosphamide(0.0), MSCInfusion(20.0, cells_per_kg=1e6)))
    cases["non-finite"] = {
        "params": bad,
        "y0": np.array([preset.initial_state(p) for p in bad]),
        "times": np.arange(0.0, 120.0, 7.0),
        "events": [late.events(spec, p) for p in bad],
        "options": SolverOptions(),
        "method": "rodas5p",
        "cpu_model_functions": False,
    }
    # the same subjects launched in several chunks on alternating streams
    cases["rodas5p-device-model-chunked"] = {
        **cases["rodas5p-device-model"],
        "chunk_subjects": 3,
    }
    cases["non-finite-chunked"] = {**cases["non-finite"], "chunk_subjects": 1}
    return cases


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``{case: (cpu outcomes, simulated CUDA outcomes)}`` plus the simulator's flags."""
    folder = tmp_path_factory.mktemp("cudasim")
    cases = _cases()
    src, dst = folder / "cases.pkl", folder / "outcomes.pkl"
    src.write_bytes(pickle.dumps(cases))
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(src), str(dst)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"simulator subprocess failed:\n{proc.stderr[-4000:]}")
    sim = pickle.loads(Path(dst).read_bytes())
    model = compile_model(get_preset("human").model)
    out: dict[str, Any] = {k: v for k, v in sim.items() if k.startswith("_")}
    for name, case in cases.items():
        if name.endswith("-chunked"):
            out[name] = (None, sim[name])
            out["_timings_" + name] = sim["_timings_" + name]
            continue
        cpu = integrate_batch_rodas(
            model,
            case["params"],
            case["y0"],
            case["times"],
            case["events"],
            case["options"],
            method=case["method"],
        )
        out[name] = (cpu, sim[name])
    return out


def _same_outcome_but_states(a: SubjectOutcome, b: SubjectOutcome) -> None:
    """Same status, events and failure (the day of a failure, which ends the message, may
    differ in the last digits: the device code rounds integer powers differently)."""
    assert a.status == b.status
    assert a.message.split(" day ")[0] == b.message.split(" day ")[0]
    assert a.failed_at_day == pytest.approx(b.failed_at_day, rel=1e-6, nan_ok=True)
    assert a.applied_events == b.applied_events
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(np.isnan(a.states), np.isnan(b.states))


def test_runs_in_the_simulator_not_on_a_gpu(runs: dict[str, Any]) -> None:
    assert runs["_simulator"] is True
    assert runs["_cuda_available"] is False


@pytest.mark.parametrize("method", ["rodas5p", "rodas4"])
def test_kernel_reproduces_the_cpu_engine_bit_for_bit(runs: dict[str, Any], method: str) -> None:
    """Same model functions in, same numbers out: step, LU, control, events, outputs."""
    cpu, gpu = runs[f"{method}-cpu-model"]
    assert len(cpu) == len(gpu) == 4
    for a, b in zip(cpu, gpu, strict=True):
        assert a.status == STATUS_OK, a.message
        _same_outcome_but_states(a, b)
        np.testing.assert_array_equal(a.states, b.states)


@pytest.mark.parametrize("method", ["rodas5p", "rodas4"])
def test_generated_device_code_agrees_with_the_cpu_engine(
    runs: dict[str, Any], method: str
) -> None:
    """The deployed path: the model's rhs/jac compiled for CUDA from the same source."""
    cpu, gpu = runs[f"{method}-device-model"]
    for a, b in zip(cpu, gpu, strict=True):
        assert b.status == STATUS_OK, b.message
        _same_outcome_but_states(a, b)
        scale = np.abs(a.states).max(axis=0)
        np.testing.assert_allclose(b.states, a.states, rtol=1e-6, atol=1e-12 * scale.max())
        assert np.all(np.abs(b.states - a.states) <= 1e-6 * np.abs(a.states) + 1e-9 * scale)
    # the extra dose at day 49 (an output time) shows in that output; the late one is dropped
    extra = gpu[3].applied_events
    assert len(extra) == len(cpu[3].applied_events) == len(gpu[2].applied_events) + 1
    assert all(e.time_days <= HORIZON_DAYS for e in extra)


def test_step_limit_fails_like_the_cpu_engine(runs: dict[str, Any]) -> None:
    cpu, gpu = runs["step-limit"]
    for a, b in zip(cpu, gpu, strict=True):
        assert b.status == STATUS_SOLVER_FAILED
        assert "step-count limit (20 per segment)" in b.message
        _same_outcome_but_states(a, b)
        assert np.all(np.isnan(b.states[1:]))
    assert gpu[0].failed_at_day == 0.0


def test_non_finite_subject_fails_like_the_cpu_engine(runs: dict[str, Any]) -> None:
    cpu, gpu = runs["non-finite"]
    assert [o.status for o in gpu] == [STATUS_OK, STATUS_NON_FINITE, STATUS_OK]
    for a, b in zip(cpu, gpu, strict=True):
        _same_outcome_but_states(a, b)
    assert gpu[1].failed_at_day == 20.0
    assert "non-finite" in gpu[1].message


@pytest.mark.parametrize(
    ("chunked", "whole", "chunks"),
    [
        ("rodas5p-device-model-chunked", "rodas5p-device-model", 2),
        ("non-finite-chunked", "non-finite", 3),
    ],
)
def test_chunked_launches_give_the_same_outcomes(
    runs: dict[str, Any], chunked: str, whole: str, chunks: int
) -> None:
    """Splitting a batch over launches and streams changes nothing, failures included."""
    _, split = runs[chunked]
    _, single = runs[whole]
    assert len(split) == len(single)
    for a, b in zip(single, split, strict=True):
        assert (a.status, a.message, a.applied_events) == (b.status, b.message, b.applied_events)
        np.testing.assert_array_equal(a.failed_at_day, b.failed_at_day)
        np.testing.assert_array_equal(a.states, b.states)
        np.testing.assert_array_equal(a.inputs, b.inputs)
    timings = runs["_timings_" + chunked]
    assert timings["chunks"] == chunks
    assert {"prepare", "to_device", "launch", "kernel", "wait", "to_host", "outcomes"} <= set(
        timings
    )
    assert timings["accepted_steps"] > 0


def test_chunk_bounds_cover_every_subject_once() -> None:
    auto = AUTO_CHUNK_SUBJECTS
    assert _chunk_bounds(10, None) == [(0, 10)]
    assert _chunk_bounds(2 * auto, None) == [(0, 2 * auto)]
    bounds = _chunk_bounds(100_000, None)
    sizes = [hi - lo for lo, hi in bounds]
    assert len(bounds) == 4 and max(sizes) - min(sizes) <= 1 and max(sizes) <= auto
    assert bounds[0][0] == 0 and bounds[-1][1] == 100_000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert _chunk_bounds(7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert _chunk_bounds(0, None) == []
    with pytest.raises(ValueError, match="chunk_subjects"):
        _chunk_bounds(7, 0)


@pytest.mark.parametrize("method", ["rodas5p", "rodas4"])
def test_kernel_source_allocates_nothing_and_compiles(method: str) -> None:
    """Work arrays are fixed-size ``cuda.local.array`` in the kernel; no numpy inside."""
    model = compile_model(get_preset("human").model)
    source = _cuda_module_source(model, method)
    compile(source, "<cuda kernel>", "exec")
    assert "np." not in source and "numpy" not in source
    kernel = source[source.index("def _cuda_kernel(") :]
    locals_ = [ln for ln in source.splitlines() if "cuda.local.array" in ln]
    assert locals_ and all(ln in kernel for ln in locals_)
    assert f"N_STATES = {model.n_states}" in source and "N_JAC = " in source


@pytest.mark.parametrize("method", ["rodas5p", "rodas4"])
def test_kernel_calls_the_model_from_few_sites(method: str) -> None:
    """NVVM inlines every call: each call site of the model is another copy of it in the
    kernel (the stage-by-stage step made a 41,000-line PTX kernel that took 67-97 s to
    build on the H100 machine). Stages loop; f, the initial step and J have one site."""
    model = compile_model(get_preset("human").model)
    source = _cuda_module_source(model, method)

    def calls(name: str) -> int:
        return source.count(f"{name}(") - source.count(f"def {name}(")

    assert calls("_model_rhs") == 4  # f(t, y); the initial step; a stage; ∂f/∂t
    assert calls("_model_jac") == 1
    assert calls("_model_solve") == 1
    assert calls("_cuda_initial_step") == 1
    assert "for st in range(N_STAGES):" in source


def test_bad_arguments_raise_before_any_launch() -> None:
    model = compile_model(get_preset("human").model)
    preset = get_preset("human")
    p = preset.parameter_vector()
    y0 = preset.initial_state(p)
    times = np.arange(0.0, 28.0, 7.0)
    early = [Bolus(-1.0, "cyclophosphamide_exposure", 1.0)]
    with pytest.raises(ValueError, match="before the start"):
        integrate_batch_rodas_cuda(model, p[None], y0[None], times, [early])
    with pytest.raises(ValueError, match="y0 must have shape"):
        integrate_batch_rodas_cuda(model, p[None], y0[None, :5], times, [[]])
    with pytest.raises(ValueError, match="unknown method"):
        integrate_batch_rodas_cuda(model, p[None], y0[None], times, [[]], method="euler")
    with pytest.raises(ValueError, match="strictly increasing"):
        integrate_batch_rodas_cuda(model, p[None], y0[None], times[::-1], [[]])
