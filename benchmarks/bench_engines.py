"""Side-by-side engines on lupusim's own workload: lupusim vs libRoadRunner vs scipy.

Workload (identical for every engine): N virtual human subjects
(``sample_parameters(get_preset("human"), N, default_rng(seed))``), each given MSC
1e6 cells/kg at day 0 + NIH cyclophosphamide 0.75 g/m² monthly ×6 + prednisone taper
30/20/10/5 mg/day from days 0/30/90/180; two years, weekly output grid.

Engines, each at ``--rtol`` (default 1e-6) and ``--atol`` (1e-9):

* ``lupusim-lsoda``: ``simulate(..., backend="lsoda", workers=W)`` (scipy's ODEPACK
  LSODA per subject with numba RHS/Jacobian, W processes);
* ``lupusim-rodas5p``: ``simulate(..., backend="rodas5p", workers=W)`` (numba Rosenbrock,
  W threads);
* ``libroadrunner``: CVODE on the SBML export (``lupusim.io.model_to_sbml``), looping
  over subjects on one core. One RoadRunner instance is loaded per distinct dose
  schedule (the export of the first subject of that schedule, its load timed as
  warm-up) and reused: per subject ``resetAll()`` then the subject's parameters and
  initial values are written with ``model.setGlobalParameterValues``. Doses at the
  first output time are folded into those initial values (the export keeps only the
  later doses as events), because ``resetAll()`` itself fires the time-0 events, which
  writing the initial values afterwards would undo; writing ``init(x)`` values instead
  costs ~0.3 s per value in libRoadRunner 2.10 (a model regeneration each). The cost of
  exporting + loading one subject's SBML from scratch is measured separately
  (``sbml_export_s``, ``rr_load_s``);
* ``scipy-solve_ivp``: a plain loop of ``scipy.integrate.solve_ivp(method="LSODA")``
  per subject, segment by segment between dose times, with the compiled model's RHS and
  Jacobian (``lupusim.model.compile_model(spec).rhs/jac``), one core;
* ``diffrax``: JAX, ``jax.vmap`` over subjects of ``diffrax.diffeqsolve`` with Kvaerno5
  (ESDIRK 5(4)) and a PID controller (``dtmax`` = lupusim's ``hmax``), the model's sympy
  rates lambdified for JAX; doses by piecewise solves between the union of the
  subjects' event times with jumps between (``benchmarks/_diffrax_vmap.py``, shared with
  ``bench_gpu.py``). Subjects run in vmapped batches of ``--diffrax-batch`` (1,000; the
  last batch padded by repeating subjects, the padding dropped), whose shape is compiled
  in the warm-up; counted as using all cores (XLA's threads). Only if ``import diffrax``
  works (otherwise a skipped row with a note). Not tightened by default (it is slow).

Every engine-size runs in a fresh ``spawn`` subprocess so that its peak resident memory
(``ru_maxrss``) is its own; warm-up (first call on two subjects: compilation/cache
load, SBML export and load, process-pool start) is timed separately from the measured
run. Engines whose estimated time for a size exceeds ``--max-seconds`` (60 s) are run on
the first ``--subset`` (1,000) subjects and their wall time is extrapolated linearly
(``"extrapolated": true``; peak memory is then that of the subset run).

Accuracy: the first ``--ref-n`` (20) subjects of each run against lupusim LSODA at
rtol 1e-10, atol 1e-14: the largest relative error over all outputs whose reference
magnitude exceeds 1e-6 × the largest magnitude of that subject's state over the run.
Equal accuracy: each engine named by ``--tighten`` (libRoadRunner and solve_ivp) that is
less accurate at ``--rtol`` than lupusim Rodas5P is also run at tighter rtols, a decade
at a time (atol scaled alike), until it is at least as accurate (at most
``--max-tighten`` = 3 decades); all its rows are reported.

The machine's speed drifts between runs (on the 2-core VM by ±30 % over minutes), which
makes a ratio of two separate rows unreliable. So the script ends with ``--pair-rounds``
(5) rounds of alternating short runs in one process on the same first ``--pair-n`` (400)
subjects: lupusim Rodas5P at ``--rtol`` with 1 thread and with all workers (5 passes
each, for a timing window like libRoadRunner's), and libRoadRunner at its last two rtols
(the two that bracket equal accuracy, one pass); it reports
each round's subject-years/s per core, each round's ratio to libRoadRunner and the
median ratio (``"paired"`` in the JSON).

Prints a table and a markdown table and writes
``benchmarks/results/<hostname>-<YYYY-MM-DD>-engines.json``.

    python benchmarks/bench_engines.py                          # N = 100 and 10,000
    python benchmarks/bench_engines.py --sizes 100,10000,100000
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

DAYS_PER_YEAR = 365.25
REF_RTOL, REF_ATOL = 1e-10, 1e-14
ENGINES = ("lupusim-lsoda", "lupusim-rodas5p", "libroadrunner", "scipy-solve_ivp", "diffrax")
HMAX_DAYS = 30.0  # lupusim's SolverOptions().hmax, used for solve_ivp's max_step too
RR_KEYS = ("schedules", "sbml_export_s", "rr_load_s")
DIFFRAX_KEYS = (
    "batch",
    "pieces",
    "compile_s",
    "compile_s_in_run",
    "accepted_steps_per_subject_year",
    "rejected_steps_per_subject_year",
    "jax",
    "diffrax",
    "devices",
)


@dataclass(frozen=True)
class Case:
    """One engine at one tolerance on the first ``n_run`` of ``n`` subjects."""

    engine: str
    n: int
    n_run: int
    rtol: float
    atol: float
    workers: int
    ref_n: int
    data: str  # .npz with params, y0, times
    diffrax_batch: int = 1000  # subjects per vmapped diffrax call


def _regimen() -> Any:
    from lupusim.treatments import (
        GlucocorticoidTaper,
        MSCInfusion,
        Regimen,
        nih_cyclophosphamide,
    )

    return Regimen(
        "msc+nih-ctx+pred-taper",
        (
            MSCInfusion(0.0, cells_per_kg=1e6),
            *nih_cyclophosphamide(0.0, 0.75, monthly=6),
            GlucocorticoidTaper(((0.0, 30.0), (30.0, 20.0), (90.0, 10.0), (180.0, 5.0))),
        ),
    )


def _maxrss_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux: KiB


def _cpu_s() -> float:
    """User + system CPU seconds of this process (all threads) and its reaped children."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


# --------------------------------------------------------------------------- engines
# Each engine is a factory: given the workload it returns (warm_up, run); run(n) simulates
# the first n subjects and returns (states (n, T, S), number of failed subjects).

Runner = Callable[[int], tuple[np.ndarray, int]]


def _lupusim_engine(
    backend: str, params: np.ndarray, y0: np.ndarray, times: np.ndarray, case: Case
) -> tuple[Callable[[], None], Runner]:
    from lupusim.engine import SolverOptions, simulate
    from lupusim.model import get_preset

    spec = get_preset("human").model
    reg = _regimen()
    opts = SolverOptions(rtol=case.rtol, atol=case.atol)

    def run(n: int) -> tuple[np.ndarray, int]:
        res = simulate(
            spec,
            params[:n],
            y0[:n],
            [reg] * n,
            times,
            options=opts,
            workers=case.workers,
            backend=backend,
        )
        return np.asarray(res.states), int((~res.ok).sum())

    def warm() -> None:
        run(min(2, len(params)))

    return warm, run


def _roadrunner_engine(
    params: np.ndarray, y0: np.ndarray, times: np.ndarray, case: Case, info: dict[str, Any]
) -> tuple[Callable[[], None], Runner]:
    import roadrunner

    from lupusim.engine import Bolus, Event, RateChange
    from lupusim.io import model_to_sbml
    from lupusim.model import get_preset

    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_FATAL)
    spec = get_preset("human").model
    reg = _regimen()
    t0 = float(times[0])
    tlist = [float(t) - t0 for t in times]
    n_s, n_u = len(spec.states), len(spec.inputs)
    names = [*spec.parameter_names, *spec.state_names, *spec.input_names]
    instances: dict[tuple[Any, ...], tuple[Any, np.ndarray]] = {}
    info.update(schedules=0, sbml_export_s=math.nan, rr_load_s=math.nan)

    def configure(rr: Any) -> Any:
        rr.setIntegrator("cvode")
        rr.integrator.relative_tolerance = case.rtol
        rr.integrator.absolute_tolerance = case.atol
        rr.integrator.variable_step_size = False
        rr.timeCourseSelections = ["time", *spec.state_names]
        return rr

    def split(events: Sequence[Event], i: int) -> tuple[np.ndarray, list[Event]]:
        """The subject's values (params, y0 + doses at t0, inputs at t0), later doses."""
        y = np.array(y0[i], dtype=float)
        u = np.zeros(n_u)
        for ev in events:
            if ev.time_days != t0:
                continue
            if isinstance(ev, Bolus):
                y[spec.state_index(ev.state)] += ev.amount
            elif isinstance(ev, RateChange):
                u[spec.input_index(ev.input)] += ev.delta
        later = [ev for ev in events if ev.time_days != t0]
        return np.concatenate([params[i], y, u]), later

    def instance(i: int, later: list[Event]) -> tuple[Any, np.ndarray]:
        key = tuple((type(e).__name__, e.time_days, *asdict(e).values()) for e in later)
        if key not in instances:
            t = time.perf_counter()
            text = model_to_sbml(spec, params[i], y0[i], later, t0=t0)
            t1 = time.perf_counter()
            rr = configure(roadrunner.RoadRunner(text))
            t2 = time.perf_counter()
            ids = list(rr.model.getGlobalParameterIds())
            idx = np.array([ids.index(nm) for nm in names], dtype=np.int32)
            instances[key] = (rr, idx)
            info["schedules"] = len(instances)
            if math.isnan(info["sbml_export_s"]):
                info["sbml_export_s"], info["rr_load_s"] = t1 - t, t2 - t1
        return instances[key]

    def run(n: int) -> tuple[np.ndarray, int]:
        out = np.full((n, len(times), n_s), np.nan)
        failed = 0
        for i in range(n):
            values, later = split(reg.events(spec, params[i]), i)
            rr, idx = instance(i, later)
            rr.resetAll()
            rr.model.setGlobalParameterValues(idx, values)
            try:
                res = rr.simulate(times=tlist)
            except RuntimeError:
                failed += 1
                continue
            out[i] = np.asarray(res)[:, 1:]
        return out, failed

    def warm() -> None:
        run(min(2, len(params)))

    return warm, run


def _solve_ivp_engine(
    params: np.ndarray, y0: np.ndarray, times: np.ndarray, case: Case
) -> tuple[Callable[[], None], Runner]:
    from scipy.integrate import solve_ivp

    from lupusim.engine import Bolus, Event, RateChange
    from lupusim.model import compile_model, get_preset

    spec = get_preset("human").model
    reg = _regimen()
    n_s, n_u = len(spec.states), len(spec.inputs)
    t0, t_end = float(times[0]), float(times[-1])

    model = compile_model(spec)
    rhs, jac = model.rhs, model.jac

    def subject(i: int) -> np.ndarray | None:
        p = np.asarray(params[i], dtype=float)
        u = np.zeros(n_u)
        y = np.array(y0[i], dtype=float)
        out = np.full((len(times), n_s), np.nan)
        events: list[Event] = sorted(reg.events(spec, p), key=lambda e: e.time_days)

        def f(t: float, yv: np.ndarray) -> np.ndarray:
            return np.asarray(rhs(t, yv, p, u, np.empty(n_s)))

        def jf(t: float, yv: np.ndarray) -> np.ndarray:
            return np.asarray(jac(t, yv, p, u, np.zeros((n_s, n_s))))

        def apply(t: float) -> None:
            for ev in events:
                if ev.time_days != t:
                    continue
                if isinstance(ev, Bolus):
                    y[spec.state_index(ev.state)] += ev.amount
                elif isinstance(ev, RateChange):
                    u[spec.input_index(ev.input)] += ev.delta

        apply(t0)
        out[0] = y
        k = 1
        t_cur = t0
        bounds = sorted({e.time_days for e in events if t0 < e.time_days < t_end} | {t_end})
        for b in bounds:
            hi = int(np.searchsorted(times, b, side="right"))
            grid = times[k:hi]
            on_b = bool(len(grid)) and grid[-1] == b
            t_eval = grid if on_b else np.concatenate((grid, [b]))
            sol = solve_ivp(
                f,
                (t_cur, b),
                y,
                method="LSODA",
                t_eval=t_eval,
                jac=jf,
                rtol=case.rtol,
                atol=case.atol,
                max_step=HMAX_DAYS,
            )
            if not sol.success or not np.all(np.isfinite(sol.y)):
                return None
            out[k:hi] = sol.y[:, : len(grid)].T
            y[:] = sol.y[:, -1]
            apply(b)
            if on_b:
                out[hi - 1] = y  # right-continuous, as lupusim
            k, t_cur = hi, b
        return out

    def run(n: int) -> tuple[np.ndarray, int]:
        out = np.full((n, len(times), n_s), np.nan)
        failed = 0
        for i in range(n):
            s = subject(i)
            if s is None:
                failed += 1
            else:
                out[i] = s
        return out, failed

    def warm() -> None:
        run(min(2, len(params)))

    return warm, run


def _diffrax_engine(
    params: np.ndarray, y0: np.ndarray, times: np.ndarray, case: Case, info: dict[str, Any]
) -> tuple[Callable[[], None], Runner]:
    from _diffrax_vmap import VmappedDiffrax, cut

    from lupusim.engine import SolverOptions
    from lupusim.model import get_preset

    spec = get_preset("human").model
    reg = _regimen()
    opts = SolverOptions()
    solver = VmappedDiffrax(spec, case.rtol, case.atol, opts.hmax, opts.max_steps_per_segment)
    batch = max(1, min(case.n_run, case.diffrax_batch))
    span_years = float(times[-1] - times[0]) / DAYS_PER_YEAR
    info.update(batch=batch, compile_s_in_run=0.0)

    def run(n: int) -> tuple[np.ndarray, int]:
        events = [reg.events(spec, p) for p in params[:n]]
        # cut at the union of all n subjects' event times: one shape for every batch
        pieces = cut(times, events)
        out = np.full((n, len(times), len(spec.states)), np.nan)
        failed = 0
        accepted = rejected = 0.0
        for start in range(0, n, batch):
            # the last batch is padded by repeating its subjects; the padding is dropped
            idx = np.resize(np.arange(start, min(start + batch, n)), batch)
            m = min(batch, n - start)
            res = solver.run(params[idx], y0[idx], times, [events[i] for i in idx], pieces=pieces)
            out[start : start + m] = res.states[:m]
            failed += int((~res.ok[:m]).sum())
            accepted += float(res.accepted_steps[:m].sum())
            rejected += float(res.rejected_steps[:m].sum())
            info["compile_s_in_run"] += res.compile_s
            info["pieces"] = res.pieces
        info["accepted_steps_per_subject_year"] = accepted / (n * span_years)
        info["rejected_steps_per_subject_year"] = rejected / (n * span_years)
        return out, failed

    def warm() -> None:
        # compile the batch shape; the first batch's cuts stand for all (one regimen)
        events = [reg.events(spec, p) for p in params[:batch]]
        info["compile_s"] = solver.compile(batch, cut(times, events))

    info.update(solver.info())
    return warm, run


# --------------------------------------------------------------------------- one case


def _run_case(case: Case) -> dict[str, Any]:
    """Runs in a fresh spawned process: warm-up, then the timed run."""
    t = time.perf_counter()
    info: dict[str, Any] = {}
    try:
        data = np.load(case.data, mmap_mode="r")
        params = np.array(data["params"][: case.n_run])
        y0 = np.array(data["y0"][: case.n_run])
        times = np.array(data["times"])
        if case.engine == "lupusim-lsoda":
            warm, run = _lupusim_engine("lsoda", params, y0, times, case)
        elif case.engine == "lupusim-rodas5p":
            warm, run = _lupusim_engine("rodas5p", params, y0, times, case)
        elif case.engine == "libroadrunner":
            warm, run = _roadrunner_engine(params, y0, times, case, info)
        elif case.engine == "scipy-solve_ivp":
            warm, run = _solve_ivp_engine(params, y0, times, case)
        elif case.engine == "diffrax":
            warm, run = _diffrax_engine(params, y0, times, case, info)
        else:
            raise ValueError(f"unknown engine {case.engine}")
        import_s = time.perf_counter() - t
        base_rss = _maxrss_mib(resource.RUSAGE_SELF)
        t = time.perf_counter()
        warm()
        warmup_s = time.perf_counter() - t
        cpu0 = _cpu_s()
        t = time.perf_counter()
        states, failed = run(case.n_run)
        wall = time.perf_counter() - t
        cpu = _cpu_s() - cpu0
    except Exception:  # report, never hide, a broken engine
        return {"error": traceback.format_exc()}
    return {
        "import_s": import_s,
        "warmup_s": warmup_s,
        "wall_s_run": wall,
        "cpu_s_run": cpu,
        "failed": failed,
        "states": states[: case.ref_n].copy(),
        "rss_self_mib": _maxrss_mib(resource.RUSAGE_SELF),
        "rss_after_imports_mib": base_rss,
        "rss_children_mib": _maxrss_mib(resource.RUSAGE_CHILDREN),
        **info,
    }


def _in_subprocess(case: Case) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(_run_case, case).result()


def _run_pairs(
    data: str,
    rounds: int,
    n: int,
    lupusim_repeats: int,
    rtol: float,
    atol: float,
    rr_tols: list[tuple[float, float]],
    workers: int,
) -> dict[str, Any]:
    """Alternating short runs of lupusim Rodas5P (1 thread, ``workers`` threads) and
    libRoadRunner (at each of ``rr_tols``) on the same first ``n`` subjects in one
    process, so that the machine's drift hits all alike. lupusim runs the subjects
    ``lupusim_repeats`` times per round (a comparable timing window)."""
    d = np.load(data)
    params, y0, times = d["params"], d["y0"], d["times"]
    years = float(times[-1] - times[0]) / DAYS_PER_YEAR
    info: dict[str, Any] = {}
    engines: dict[str, tuple[Runner, int, int]] = {}
    for w in sorted({1, workers}):
        case = Case("lupusim-rodas5p", n, n, rtol, atol, w, 0, data)
        warm, run = _lupusim_engine("rodas5p", params, y0, times, case)
        warm()
        engines[f"lupusim-rodas5p {w} thread(s)"] = (run, lupusim_repeats, w)
    for rr_rtol, rr_atol in rr_tols:
        rr_case = Case("libroadrunner", n, n, rr_rtol, rr_atol, 1, 0, data)
        warm, run = _roadrunner_engine(params, y0, times, rr_case, info)
        warm()
        engines[f"libroadrunner rtol {rr_rtol:g}"] = (run, 1, 1)
    out: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name, (run, repeats, cores) in engines.items():
            t = time.perf_counter()
            for _ in range(repeats):
                run(n)
            out[name].append(repeats * n * years / (time.perf_counter() - t) / cores)
    return {"per_core": out}


# --------------------------------------------------------------------------- reporting


def _max_rel_error(states: np.ndarray, ref: np.ndarray) -> float:
    """Largest relative error where |ref| > 1e-6 × the state's max |ref| (per subject)."""
    scale = np.max(np.abs(ref), axis=1, keepdims=True)  # (n, 1, S)
    mask = np.abs(ref) > 1e-6 * scale
    err = np.abs(states - ref)[mask] / np.abs(ref[mask])
    return float(np.max(err)) if np.all(np.isfinite(err)) else math.nan


def _machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = math.nan
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = int(line.split()[1]) / 1024**2
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for pkg in (
        "lupusim",
        "numpy",
        "scipy",
        "numba",
        "libroadrunner",
        "python-libsbml",
        "jax",
        "jaxlib",
        "diffrax",
    ):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "host": socket.gethostname(),
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0)),
        "memory_gib": mem_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
    }


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def _tables(rows: list[dict[str, Any]]) -> tuple[str, str]:
    cols = [
        ("engine", "engine", "s"),
        ("rtol", "rtol", ".0e"),
        ("N", "n", ",d"),
        ("wall s", "wall_s", ".2f"),
        ("subj-yr/s", "subject_years_per_s", ",.0f"),
        ("cores", "cores", "d"),
        ("subj-yr/s/core", "subject_years_per_s_per_core", ",.0f"),
        ("CPU ms/subj-yr", "cpu_ms_per_subject_year", ".2f"),
        ("warm-up s", "warmup_s", ".2f"),
        ("peak RSS MiB", "peak_rss_mib", ",.0f"),
        ("max rel err", "max_rel_error", ".1e"),
        ("failed", "failed", "d"),
        ("extrap.", "extrapolated", "s"),
    ]

    def cell(r: dict[str, Any], key: str, spec: str) -> str:
        if r.get("skipped"):
            return r["engine"] if key == "engine" else ("skipped" if key == "wall_s" else "")
        v = r.get(key)
        if key == "extrapolated":
            return f"yes ({r['n_run']:,})" if v else ""
        return _fmt(v, spec) if not isinstance(v, str) else v

    body = [[cell(r, k, s) for _, k, s in cols] for r in rows]
    widths = [max(len(h), *(len(b[j]) for b in body)) for j, (h, _, _) in enumerate(cols)]
    plain = "  ".join(h.rjust(w) for (h, _, _), w in zip(cols, widths, strict=True))
    lines = [plain, "-" * len(plain)]
    lines += ["  ".join(c.rjust(w) for c, w in zip(b, widths, strict=True)) for b in body]
    md = ["| " + " | ".join(h for h, _, _ in cols) + " |"]
    md.append("|" + "|".join("---" if j == 0 else "---:" for j in range(len(cols))) + "|")
    md += ["| " + " | ".join(b) + " |" for b in body]
    return "\n".join(lines), "\n".join(md)


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", default="100,10000", help="comma-separated N (default 100,10000)")
    ap.add_argument("--rtol", type=float, default=1e-6)
    ap.add_argument("--atol", type=float, default=1e-9)
    ap.add_argument(
        "--tighten",
        default="libroadrunner,scipy-solve_ivp",
        help="engines brought to lupusim Rodas5P's accuracy by tighter rtols",
    )
    ap.add_argument(
        "--max-tighten",
        type=int,
        default=3,
        help="decades by which a less accurate engine's rtol may be tightened (default 3)",
    )
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--workers", type=int, default=0, help="lupusim workers (0 = all cores)")
    ap.add_argument(
        "--diffrax-batch",
        type=int,
        default=1000,
        help="subjects per vmapped diffrax call (default 1000; fewer if N is smaller)",
    )
    ap.add_argument("--years", type=float, default=2.0)
    ap.add_argument("--ref-n", type=int, default=20)
    ap.add_argument("--subset", type=int, default=1000)
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--pair-rounds",
        type=int,
        default=5,
        help="rounds of alternating lupusim Rodas5P / libRoadRunner runs (0 = none)",
    )
    ap.add_argument(
        "--pair-n", type=int, default=400, help="subjects of the paired runs (default 400)"
    )
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s})
    engines = [e for e in args.engines.split(",") if e]
    cores = len(os.sched_getaffinity(0))
    workers = cores if args.workers == 0 else args.workers
    started = time.perf_counter()
    load_start = os.getloadavg()

    from lupusim.model import get_preset
    from lupusim.population import sample_parameters

    preset = get_preset("human")
    n_max = max(sizes)
    params = sample_parameters(preset, n_max, np.random.default_rng(args.seed))
    y0 = np.array([preset.initial_state(p) for p in params])
    times = np.arange(0.0, args.years * DAYS_PER_YEAR + 1e-9, 7.0)
    span_years = float(times[-1] - times[0]) / DAYS_PER_YEAR
    ref_n = min(args.ref_n, min(sizes))
    tmp = tempfile.TemporaryDirectory(prefix="bench_engines_")
    data = str(Path(tmp.name) / "workload.npz")
    np.savez(data, params=params, y0=y0, times=times)
    print(
        f"human preset, MSC 1e6/kg + NIH CTX 0.75 g/m² ×6 + prednisone taper, "
        f"{span_years:.2f} years, weekly output ({len(times)} points); sizes {sizes}; "
        f"{cores} cores; lupusim workers {workers}",
        flush=True,
    )

    ref_case = Case("lupusim-lsoda", ref_n, ref_n, REF_RTOL, REF_ATOL, workers, ref_n, data)
    ref_out = _in_subprocess(ref_case)
    if "error" in ref_out:
        raise SystemExit(f"reference run failed:\n{ref_out['error']}")
    ref = ref_out["states"]
    print(
        f"reference: lupusim LSODA rtol {REF_RTOL:g} on {ref_n} subjects "
        f"({ref_out['wall_s_run']:.1f} s)",
        flush=True,
    )

    rows: list[dict[str, Any]] = []
    per_subject: dict[tuple[str, float], float] = {}

    def cores_of(engine: str, n_run: int) -> int:
        if engine.startswith("lupusim"):
            return max(1, min(workers, n_run))
        if engine == "diffrax":
            return cores  # XLA's CPU threads
        return 1

    def measure(engine: str, rtol: float, atol: float, n: int) -> dict[str, Any]:
        # Sizes above the subset run the subset first unless the previous size shows
        # the full run fits; a subset that shows it fits is followed by the full run.
        est = per_subject.get((engine, rtol))
        n_run = n
        if n > args.subset and (est is None or est * n > args.max_seconds):
            n_run = args.subset
            est = None
        case = Case(engine, n, n_run, rtol, atol, workers, ref_n, data, args.diffrax_batch)
        t = time.perf_counter()
        out = _in_subprocess(case)
        row: dict[str, Any] = {"engine": engine, "rtol": rtol, "atol": atol, "n": n}
        if "error" in out:
            print(f"  {engine} N={n}: FAILED\n{out['error']}", flush=True)
            return {**row, "error": out["error"]}
        if est is None and n_run < n and out["wall_s_run"] * n / n_run <= args.max_seconds:
            # the subset shows the full size fits the budget: run it
            per_subject[(engine, rtol)] = out["wall_s_run"] / n_run
            return measure(engine, rtol, atol, n)
        per_subject[(engine, rtol)] = out["wall_s_run"] / n_run
        wall = out["wall_s_run"] * n / n_run
        cpu = out["cpu_s_run"] * n / n_run
        n_cores = cores_of(engine, n_run)
        n_procs = n_cores if engine == "lupusim-lsoda" and n_cores > 1 else 0
        sy = n * span_years
        row.update(
            n_run=n_run,
            extrapolated=n_run < n,
            wall_s=wall,
            wall_s_measured=out["wall_s_run"],
            subject_years=sy,
            subject_years_per_s=sy / wall,
            cores=n_cores,
            subject_years_per_s_per_core=sy / wall / n_cores,
            cpu_s=cpu,
            cpu_ms_per_subject_year=1e3 * cpu / sy,
            warmup_s=out["warmup_s"],
            import_s=out["import_s"],
            # worker processes (lupusim LSODA) counted as n_procs × the largest child's
            # peak; forked pages shared with the parent are counted in each, so an upper
            # bound
            peak_rss_mib=out["rss_self_mib"] + n_procs * out["rss_children_mib"],
            rss_self_mib=out["rss_self_mib"],
            rss_after_imports_mib=out["rss_after_imports_mib"],
            rss_largest_child_mib=out["rss_children_mib"],
            failed=out["failed"] if n_run == n else None,
            failed_in_run=out["failed"],
            max_rel_error=_max_rel_error(out["states"], ref),
            case_seconds=time.perf_counter() - t,
            load_average_1min_after=os.getloadavg()[0],
        )
        for k in (*RR_KEYS, *DIFFRAX_KEYS):
            if k in out:
                row[k] = out[k]
        reload = (
            f", one subject's SBML export + load {out['sbml_export_s']:.2f} + "
            f"{out['rr_load_s']:.2f} s, {out['schedules']} schedule(s)"
            if "rr_load_s" in out
            else ""
        )
        if "accepted_steps_per_subject_year" in out:
            reload = (
                f", batch {out['batch']}, compile {out['compile_s']:.1f} s "
                f"(+{out['compile_s_in_run']:.1f} s in run), steps/subj-yr "
                f"{out['accepted_steps_per_subject_year']:.0f} accepted + "
                f"{out['rejected_steps_per_subject_year']:.0f} rejected"
            )
        print(
            f"  {engine:<16} rtol {rtol:.0e} N={n:>7,}: {wall:8.2f} s"
            f"{' (extrapolated from ' + format(n_run, ',') + ')' if n_run < n else ''}, "
            f"CPU {row['cpu_ms_per_subject_year']:.2f} ms/subj-yr, "
            f"warm-up {out['warmup_s']:.2f} s, err {row['max_rel_error']:.1e}, "
            f"failed {out['failed']}/{n_run}{reload} [{row['case_seconds']:.0f} s]",
            flush=True,
        )
        return row

    try:
        import diffrax  # noqa: F401
        from _diffrax_vmap import DOSES, SOLVER

        diffrax_setup = (
            f"{SOLVER}; {DOSES}; vmapped batches of {args.diffrax_batch} subjects (the last "
            "padded by repeating subjects), compiled in the warm-up"
        )
    except ImportError:
        diffrax_setup = "not importable (jax/diffrax not installed)"
    has_diffrax = not diffrax_setup.startswith("not importable")
    variants = [(e, args.rtol, args.atol) for e in engines if e != "diffrax" or has_diffrax]
    for k, n in enumerate(sizes):
        for engine, rtol, atol in variants:
            rows.append(measure(engine, rtol, atol, n))
        if k == 0:
            # equal accuracy: every other engine less accurate at --rtol than lupusim
            # Rodas5P (the engine the goals are about; else lupusim LSODA) is run at
            # tighter rtols, a decade at a time, until it is at least as accurate; every
            # size gets the same rows
            tighten = {e for e in args.tighten.split(",") if e} - {"lupusim-rodas5p"}
            ref_engine = next(
                (e for e in ("lupusim-rodas5p", "lupusim-lsoda") if e in engines), None
            )
            target = next((r.get("max_rel_error") for r in rows if r["engine"] == ref_engine), None)
            tight: list[tuple[str, float, float]] = []
            for r in list(rows):
                err, rtol = r.get("max_rel_error"), float(r["rtol"])
                if target is None or r["engine"] not in tighten or "error" in r:
                    continue
                # NaN (a failed subject) counts as less accurate
                while not err <= target and rtol > args.rtol * 10.0**-args.max_tighten:
                    rtol /= 10.0
                    variant = (r["engine"], rtol, args.atol * rtol / args.rtol)
                    row = measure(*variant, n)
                    rows.append(row)
                    tight.append(variant)
                    err = row.get("max_rel_error")
            variants += tight
    if "diffrax" in engines and not has_diffrax:
        rows.append(
            {"engine": "diffrax", "skipped": True, "note": "jax/diffrax not importable: skipped"}
        )
    rows.sort(key=lambda r: (r.get("n", math.inf), ENGINES.index(r["engine"]), -r.get("rtol", 0)))
    plain, md = _tables([r for r in rows if "error" not in r])
    print()
    print(plain)
    print()
    print(md)
    paired: dict[str, Any] | None = None
    if args.pair_rounds > 0 and {"lupusim-rodas5p", "libroadrunner"} <= set(engines):
        n_pair = min(args.pair_n, n_max)
        rr_tols = sorted({(v[1], v[2]) for v in variants if v[0] == "libroadrunner"}, reverse=True)
        rr_tols = rr_tols[-2:]  # the two that bracket lupusim's accuracy
        with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
            got = pool.submit(
                _run_pairs,
                data,
                args.pair_rounds,
                n_pair,
                5,
                args.rtol,
                args.atol,
                rr_tols,
                workers,
            ).result()
        per_core = got["per_core"]
        rr_names = [name for name in per_core if name.startswith("libroadrunner")]
        ratios = {
            f"{name} / {rr}": [a / b for a, b in zip(vals, per_core[rr], strict=True)]
            for name, vals in per_core.items()
            if not name.startswith("libroadrunner")
            for rr in rr_names
        }
        paired = {
            "what": "subject-years/s per core in alternating runs in one process: "
            f"the first {n_pair} subjects, lupusim Rodas5P rtol {args.rtol:g} with 1 and "
            f"{workers} threads (5 passes per round), libRoadRunner at rtol "
            f"{', '.join(f'{t[0]:g}' for t in rr_tols)} (1 pass); {args.pair_rounds} rounds",
            "per_core": per_core,
            "ratio": ratios,
            "median_ratio": {name: float(np.median(v)) for name, v in ratios.items()},
        }
        print(f"\npaired ({paired['what']}):")
        for name, vals in per_core.items():
            print(f"  {name:<28} {', '.join(f'{v:,.0f}' for v in vals)} subject-years/s/core")
        for name, vals in ratios.items():
            print(
                f"  {name:<48} {', '.join(f'{r:.2f}' for r in vals)} "
                f"(median {paired['median_ratio'][name]:.2f})"
            )
    record = {
        "script": "benchmarks/bench_engines.py",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "load_average_at_start": load_start,
        "load_average_at_end": os.getloadavg(),
        "total_seconds": time.perf_counter() - started,
        "setup": {
            "preset": "human",
            "sampling": f"sample_parameters(human, N, default_rng({args.seed})); prefixes",
            "regimen": "MSCInfusion(0, 1e6 cells/kg) + nih_cyclophosphamide(0, 0.75, "
            "monthly=6) + GlucocorticoidTaper(((0,30),(30,20),(90,10),(180,5)))",
            "years": span_years,
            "output_step_days": 7.0,
            "output_points": len(times),
            "rtol": args.rtol,
            "atol": args.atol,
            "lupusim_workers": workers,
            "reference": {
                "engine": "lupusim-lsoda",
                "rtol": REF_RTOL,
                "atol": REF_ATOL,
                "n": ref_n,
                "wall_s": ref_out["wall_s_run"],
            },
            "error_metric": "max |y-ref|/|ref| over outputs with |ref| > 1e-6 max_t |ref| "
            "(per subject and state), first ref_n subjects",
            "extrapolation": f"runs estimated over {args.max_seconds:g} s use the first "
            f"{args.subset} subjects; wall time scaled by N/{args.subset}",
            "peak_rss": "ru_maxrss of a fresh spawned process per engine-size (+ workers × "
            "largest worker's ru_maxrss for lupusim-lsoda)",
            "diffrax": diffrax_setup,
        },
        "rows": rows,
        "markdown": md,
        "paired": paired,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{socket.gethostname()}-{dt.date.today().isoformat()}-engines.json"

    def _default(o: Any) -> Any:
        if isinstance(o, np.integer | np.floating):
            return o.item()
        raise TypeError(type(o).__name__)

    for r in rows:
        for key, val in r.items():
            if isinstance(val, float) and not math.isfinite(val):
                r[key] = None
    path.write_text(json.dumps(record, indent=2, default=_default) + "\n")
    tmp.cleanup()
    print(f"\nwrote {path} ({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
