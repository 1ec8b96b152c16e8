"""GPU throughput of the CUDA Rosenbrock engine, with diffrax (JAX, vmapped) beside it.

Human model, MSC infusion (1e6 cells/kg) + NIH cyclophosphamide + prednisone taper from
day 0, weekly output, rtol 1e-6 (atol 1e-9), Rodas5P, on a CUDA GPU (H100/H200). Stages,
each written to the JSON as soon as it is done (a run cut short keeps what it measured):

1. compile: the first call of ``integrate_batch_rodas_cuda`` (64 subjects, 4 weeks):
   code generation, numba → NVVM → PTX, driver JIT; then a threads-per-block sweep.
2. throughput: N = 10³, 10⁴, 10⁵ subjects × ``--years`` (1): wall time end to end
   (events to arrays, copies, kernel, outcome objects) and of the kernel alone;
   subject-years/s for both.
3. accuracy: the first ``--ref-n`` (20) subjects against a tight CPU reference, the CPU
   engine's Rodas5P at rtol 1e-10, atol 1e-14 (itself checked against LSODA/Radau in
   tests/test_rodas.py): the largest relative error over entries with ``|ref| > 1e-6``,
   for the GPU, for the CPU engine at the same tolerances, and GPU − CPU. Also the CPU
   engine's throughput with all cores on this host (same subjects, N = ``--cpu-n``).
4. 10⁶ subject-years in one call: ``--big-n`` (10⁵) × ``--big-years`` (10), weekly
   output (~13 GB of states on host and device); N is cut to what the remaining time
   budget allows, from stage 2's kernel rate (recorded). Run twice: as the engine runs
   by default (chunked launches on two streams, page-locked results) and as one launch
   with pageable results (the engine before chunking), for the comparison.
4b. a fresh process: the same call as the first of a new Python process, whose kernel
   comes from numba-cuda's disk cache written by this process (``--cached-run``): the
   time a user pays for 10⁶ subject-years once the machine has compiled the model once.
5. diffrax (optional; skipped when jax/diffrax are missing): the same model and
   regimen, ``jax.vmap`` over subjects of ``diffeqsolve`` with Kvaerno5 (ESDIRK, order 5;
   diffrax has no Rosenbrock method of order > 3) and a PID controller at the same
   rtol/atol, ``dtmax`` = the engine's ``hmax``. The JAX right-hand side is the model's
   sympy rates lambdified for JAX (checked against the numba ``rhs``). Doses: the
   horizon is cut at the union of all subjects' event times; each piece is one
   ``diffeqsolve`` (the same jitted function for every piece: traced ``t0, t1`` and the
   piece's output times padded to a fixed length with ``t1``), and between pieces each
   subject's boluses are added to its states and its rate changes to its inputs; output
   at an event time shows the state after the event, as in lupusim. Compile time (AOT
   ``lower().compile()``) and run time are reported apart; N = ``--diffrax-n``; then
   once more at N = 10³ with 100× tighter tolerances (``--diffrax-tight``), to see what
   accuracy diffrax reaches and at what speed. The solver is ``_diffrax_vmap.py``'s
   (shared with ``bench_engines.py``); a subject whose solve fails has NaN states.

The whole run keeps to ``--budget-s`` (420 s by default; stages that would not fit are
skipped and say so). Nothing is installed or downloaded.

    python benchmarks/bench_gpu.py --out "$OUT"     # on the GPU machine
    python benchmarks/bench_gpu.py --dry-run --out /tmp/bench   # CPU: numba's CUDA
                                                                 # simulator, tiny N

JSON: ``$OUT/gpu-bench.json`` when ``--out``/``$OUT`` is given, else
``benchmarks/results/<host>-<date>-gpu.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

DAYS_PER_YEAR = 365.25
_START = time.perf_counter()


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU simulator")
    ap.add_argument("--n", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    ap.add_argument("--years", type=float, default=1.0)
    ap.add_argument("--big-n", type=int, default=100_000)
    ap.add_argument("--big-years", type=float, default=10.0)
    ap.add_argument("--rtol", type=float, default=1e-6)
    ap.add_argument("--atol", type=float, default=1e-9)
    ap.add_argument("--method", default="rodas5p")
    ap.add_argument("--tpb", type=int, default=64, help="threads per block")
    ap.add_argument("--tpb-sweep", type=int, nargs="*", default=[32, 64, 128, 256])
    ap.add_argument("--ref-n", type=int, default=20)
    ap.add_argument("--cpu-n", type=int, default=10_000)
    ap.add_argument("--diffrax-n", type=int, nargs="*", default=[1_000, 10_000])
    ap.add_argument("--no-diffrax", action="store_true")
    ap.add_argument("--budget-s", type=float, default=420.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=None, help="subjects per launch (auto)")
    ap.add_argument("--no-diffrax-tight", action="store_true")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="setup, compile, and 10^6 subject-years chunked and in one "
        "launch only (regimens of the first 1,000 subjects reused cyclically)",
    )
    ap.add_argument(
        "--cached-run",
        type=float,
        nargs=2,
        metavar=("N", "YEARS"),
        default=None,
        help="internal: time one first call in this new process and print JSON",
    )
    ap.add_argument("--out", type=Path, default=None, help="folder for gpu-bench.json")
    args = ap.parse_args()
    args.fast_cohort = args.quick
    args.no_accuracy = args.no_fresh = args.quick
    if args.quick:
        args.n = []
        args.tpb_sweep = []
        args.tpb = 32  # the best of the sweep on the H100, 2026-11-26
        args.no_diffrax = True
    if args.dry_run:
        args.n = [4, 8]
        args.years = 0.1
        args.big_n, args.big_years = 8, 0.2
        args.ref_n = 4
        args.cpu_n = 8
        args.diffrax_n = [4]
        args.tpb_sweep = [4, 8]
        args.tpb = 8
    return args


ARGS = _parse()
if ARGS.dry_run:  # must precede the first import of numba.cuda
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import numba  # noqa: E402
import numpy as np  # noqa: E402

from lupusim.engine import SolverOptions  # noqa: E402
from lupusim.engine._events import Event  # noqa: E402
from lupusim.engine._rodas import integrate_batch_rodas  # noqa: E402
from lupusim.engine._rodas_gpu import (  # noqa: E402
    cuda_available,
    integrate_batch_rodas_cuda,
    simulator_enabled,
)
from lupusim.model import CompiledModel, ModelSpec, compile_model, get_preset  # noqa: E402
from lupusim.population import sample_parameters  # noqa: E402
from lupusim.treatments import (  # noqa: E402
    GlucocorticoidTaper,
    MSCInfusion,
    Regimen,
    nih_cyclophosphamide,
)


def _elapsed() -> float:
    return time.perf_counter() - _START


def _left() -> float:
    return ARGS.budget_s - _elapsed()


def _regimen() -> Regimen:
    taper = GlucocorticoidTaper(
        ((0.0, 40.0), (14.0, 30.0), (28.0, 20.0), (56.0, 15.0), (84.0, 10.0), (140.0, 7.5))
    )
    return Regimen(
        "msc+nih+taper", (MSCInfusion(0.0, cells_per_kg=1e6), *nih_cyclophosphamide(0.0), taper)
    )


def _grid(years: float) -> np.ndarray:
    return np.arange(0.0, years * DAYS_PER_YEAR + 1e-9, 7.0)


def _max_rel_error(states: np.ndarray, ref: np.ndarray) -> float:
    mask = (np.abs(ref) > 1e-6) & np.isfinite(ref)
    if not mask.any():
        return float("nan")
    return float(np.max(np.abs(states[mask] - ref[mask]) / np.abs(ref[mask])))


def _stack(outcomes: Sequence[Any]) -> np.ndarray:
    return np.stack([o.states for o in outcomes])


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _gpu_info() -> dict[str, Any]:
    info: dict[str, Any] = {"simulator": simulator_enabled(), "cuda_available": cuda_available()}
    if info["cuda_available"]:
        from numba import cuda

        dev = cuda.get_current_device()
        name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
        free, total = cuda.current_context().get_memory_info()
        info |= {
            "name": name,
            "compute_capability": list(dev.compute_capability),
            "multiprocessors": int(dev.MULTIPROCESSOR_COUNT),
            "memory_total_gb": total / 1e9,
            "memory_free_gb": free / 1e9,
        }
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        info["nvidia_smi"] = smi.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        info["nvidia_smi"] = None
    return info


class Report:
    """The JSON document, rewritten after every stage."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.doc: dict[str, Any] = {}

    def save(self) -> None:
        self.doc["elapsed_s"] = _elapsed()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.doc, indent=2, default=_json_default))
        tmp.replace(self.path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _stage(report: Report, name: str, fn: Callable[[], Any]) -> Any:
    """Run one stage; its result (or error) goes to the report, which is saved."""
    t = time.perf_counter()
    print(f"[{_elapsed():7.1f}s] {name} ...", flush=True)
    try:
        result = fn()
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        print(result["traceback"], file=sys.stderr, flush=True)
    if isinstance(result, dict):
        result.setdefault("stage_s", time.perf_counter() - t)
    report.doc[name] = result
    report.save()
    print(f"[{_elapsed():7.1f}s] {name}: {_summary(result)}", flush=True)
    return result


def _summary(result: Any) -> str:
    text = json.dumps(result, default=_json_default)
    return text if len(text) < 400 else text[:400] + " ..."


# --------------------------------------------------------------------------------------
# Subjects
# --------------------------------------------------------------------------------------
class Cohort:
    def __init__(self, n: int, seed: int) -> None:
        t = time.perf_counter()
        self.preset = get_preset("human")
        self.spec: ModelSpec = self.preset.model
        self.model: CompiledModel = compile_model(self.spec)
        self.params = sample_parameters(self.preset, n, np.random.default_rng(seed))
        self.y0 = np.array([self.preset.initial_state(p) for p in self.params])
        regimen = _regimen()
        built = min(n, 1_000) if ARGS.fast_cohort else n
        distinct = [regimen.events(self.spec, p) for p in self.params[:built]]
        self.events: list[list[Event]] = [distinct[i % built] for i in range(n)]
        self.setup_s = time.perf_counter() - t

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray, list[list[Event]]]:
        return self.params[:n], self.y0[:n], self.events[:n]


def _options() -> SolverOptions:
    return SolverOptions(rtol=ARGS.rtol, atol=ARGS.atol)


def _gpu_run(
    cohort: Cohort,
    n: int,
    years: float,
    tpb: int | None = None,
    *,
    chunk: int | None = None,
    pinned: bool = False,
) -> tuple[dict[str, Any], list[Any]]:
    params, y0, events = cohort.take(n)
    times = _grid(years)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    outs = integrate_batch_rodas_cuda(
        cohort.model,
        params,
        y0,
        times,
        events,
        _options(),
        method=ARGS.method,
        threads_per_block=tpb or ARGS.tpb,
        chunk_subjects=chunk if chunk is not None else ARGS.chunk,
        pinned=pinned,
        timings=timings,
    )
    wall = time.perf_counter() - t
    span_years = (times[-1] - times[0]) / DAYS_PER_YEAR
    sy = n * span_years
    row = {
        "n": n,
        "years": span_years,
        "outputs": len(times),
        "threads_per_block": tpb or ARGS.tpb,
        "subject_years": sy,
        "wall_s": wall,
        "subject_years_per_s": sy / wall,
        "kernel_subject_years_per_s": sy / timings["kernel"] if timings["kernel"] > 0 else None,
        "failed": sum(o.status != 0 for o in outs),
        "accepted_steps_per_subject_year": timings["accepted_steps"] / sy,
        "rejected_steps_per_subject_year": timings["rejected_steps"] / sy,
        "chunks": int(timings.get("chunks", 1)),
        "pinned": pinned,
        "phases_s": {k: v for k, v in timings.items() if not k.endswith("steps") and k != "chunks"},
    }
    return row, outs


def _cached_run(n: int, years: float) -> None:
    """``--cached-run``: one call as a new process's first; one JSON line on stdout."""
    t = time.perf_counter()
    cohort = Cohort(n, ARGS.seed)
    setup_s = time.perf_counter() - t
    row, outs = _gpu_run(cohort, n, years, ARGS.tpb)
    del outs
    row["cohort_setup_s_not_counted"] = setup_s
    row["process_start_to_result_s"] = time.perf_counter() - _START
    print("CACHED-RUN " + json.dumps(row, default=_json_default), flush=True)


def _fresh_process_stage(n: int, years: float, tpb: int) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--cached-run",
        str(n),
        str(years),
        "--tpb",
        str(tpb),
        "--seed",
        str(ARGS.seed),
        "--rtol",
        str(ARGS.rtol),
        "--atol",
        str(ARGS.atol),
        "--method",
        ARGS.method,
    ]
    if ARGS.chunk is not None:
        cmd += ["--chunk", str(ARGS.chunk)]
    if ARGS.dry_run:
        cmd.append("--dry-run")
    timeout = max(30.0, _left() - 60.0)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("CACHED-RUN ")]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}", "stderr_tail": proc.stderr[-3000:]}
    row: dict[str, Any] = json.loads(lines[-1][len("CACHED-RUN ") :])
    row["note"] = (
        "first call of a new process: the kernel is loaded from numba-cuda's disk cache "
        "(launch phase); cohort setup (building 10^5 regimens in Python) is not counted"
    )
    return row


# --------------------------------------------------------------------------------------
# diffrax
# --------------------------------------------------------------------------------------
def _diffrax_stage(cohort: Cohort, reference: np.ndarray | None) -> dict[str, Any]:
    try:
        import diffrax  # noqa: F401  (imported here: build_s leaves the import out)
        from _diffrax_vmap import VmappedDiffrax
    except ImportError as exc:
        return {"skipped": f"jax/diffrax not importable: {exc}"}
    t = time.perf_counter()
    opts = SolverOptions(rtol=ARGS.rtol, atol=ARGS.atol)
    base = VmappedDiffrax(cohort.spec, opts.rtol, opts.atol, opts.hmax, opts.max_steps_per_segment)
    out: dict[str, Any] = {**base.info(), "rows": []}
    # the lambdified rates against the numba rhs
    p0, y00 = cohort.params[0], cohort.y0[0]
    u0 = np.full(len(cohort.spec.inputs), 5.0)
    f_numba = np.empty(len(cohort.spec.states))
    cohort.model.rhs(0.0, y00, p0, u0, f_numba)
    f_jax = base.rhs(y00, p0, u0)
    out["rhs_max_rel_diff_vs_numba"] = float(
        np.max(np.abs(f_jax - f_numba) / np.maximum(np.abs(f_numba), 1e-300))
    )
    out["build_s"] = time.perf_counter() - t

    times = _grid(ARGS.years)
    t0, t_end = float(times[0]), float(times[-1])
    need = 90.0  # before the first compile: a guess; later from what the last N took
    configs = [(n, opts.rtol, opts.atol) for n in ARGS.diffrax_n]
    if not ARGS.no_diffrax_tight and ARGS.diffrax_n:
        configs.append((min(ARGS.diffrax_n), opts.rtol / 100, opts.atol / 100))
    for n, rtol, atol in configs:
        if _left() < need:
            out["rows"].append(
                {"n": n, "rtol": rtol, "skipped": f"time budget ({_left():.0f} s left)"}
            )
            continue
        solver = base.with_tolerances(rtol, atol)
        params, y0, events = cohort.take(n)
        res = solver.run(params, y0, times, events)  # compiles first: res.compile_s
        compile_s, run_s = res.compile_s, res.run_s
        span = (t_end - t0) / DAYS_PER_YEAR
        row: dict[str, Any] = {
            "n": n,
            "rtol": rtol,
            "atol": atol,
            "years": span,
            "pieces": res.pieces,
            "compile_s": compile_s,
            "run_s": run_s,
            "subject_years_per_s": n * span / run_s,
            "failed": res.failed,
            "accepted_steps_per_subject_year": float(res.accepted_steps.mean() / span),
            "rejected_steps_per_subject_year": float(res.rejected_steps.mean() / span),
        }
        # the next config: from this one's compile and per-subject run time (x3 in case
        # it is the tighter tolerance); guessed before the first
        run_per_subject = run_s / n
        following = configs[configs.index((n, rtol, atol)) + 1 :]
        if following:
            n_next = following[0][0]
            need = 1.3 * (compile_s + 3.0 * run_per_subject * n_next) + 10.0
        if reference is not None:
            m = min(n, len(reference))
            row["max_rel_error_vs_reference"] = _max_rel_error(res.states[:m], reference[:m])
        out["rows"].append(row)
    return out


# --------------------------------------------------------------------------------------
def main() -> None:
    stamp = dt.datetime.now(dt.UTC)
    out_dir = ARGS.out or (Path(os.environ["OUT"]) if os.environ.get("OUT") else None)
    if out_dir is not None:
        path = out_dir / "gpu-bench.json"
    else:
        suffix = "gpu-dryrun" if ARGS.dry_run else "gpu"
        path = (
            Path(__file__).parent
            / "results"
            / f"{socket.gethostname()}-{stamp:%Y-%m-%d}-{suffix}.json"
        )
    report = Report(path)
    report.doc = {
        "host": socket.gethostname(),
        "date": stamp.isoformat(timespec="seconds"),
        "dry_run": ARGS.dry_run,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "numba_threads": int(numba.config.NUMBA_NUM_THREADS),  # type: ignore[attr-defined]
        "versions": {
            k: _version(k) for k in ("numpy", "numba", "numba-cuda", "jax", "diffrax", "scipy")
        },
        "setup": {
            "preset": "human",
            "regimen": "MSCInfusion(0, 1e6/kg) + nih_cyclophosphamide(0) + GlucocorticoidTaper"
            "(40→30→20→15→10→7.5 mg/day at days 0, 14, 28, 56, 84, 140)",
            "output_step_days": 7.0,
            "method": ARGS.method,
            "rtol": ARGS.rtol,
            "atol": ARGS.atol,
            "budget_s": ARGS.budget_s,
        },
    }
    report.doc["gpu"] = _gpu_info()
    report.save()
    if not ARGS.dry_run and not cuda_available():
        report.doc["error"] = "no CUDA GPU visible to numba (use --dry-run on a CPU machine)"
        report.save()
        print(report.doc["error"], file=sys.stderr)
        sys.exit(2)

    n_all = max([*ARGS.n, ARGS.big_n, ARGS.cpu_n, ARGS.ref_n, *ARGS.diffrax_n, 64])
    cohort_box: dict[str, Cohort] = {}

    def setup() -> dict[str, Any]:
        cohort_box["c"] = Cohort(n_all, ARGS.seed)
        c = cohort_box["c"]
        return {
            "subjects": n_all,
            "events_per_subject": len(c.events[0]),
            "setup_s": c.setup_s,
            "regimens": "first 1,000 subjects' doses reused cyclically"
            if ARGS.fast_cohort
            else "one per subject",
        }

    _stage(report, "setup", setup)
    cohort = cohort_box["c"]

    # 1. compile + warm-up, then threads per block
    def compile_stage() -> dict[str, Any]:
        n = min(8 if ARGS.dry_run else 64, n_all)
        t = time.perf_counter()
        row, _ = _gpu_run(cohort, n, 28.0 / DAYS_PER_YEAR)
        result: dict[str, Any] = {"first_call_s": time.perf_counter() - t, "first_call": row}
        row2, _ = _gpu_run(cohort, n, 28.0 / DAYS_PER_YEAR)
        result["second_call_s"] = row2["wall_s"]
        result["compile_s_estimate"] = result["first_call_s"] - row2["wall_s"]
        return result

    _stage(report, "compile", compile_stage)

    def tpb_stage() -> dict[str, Any]:
        n = min(10_000, n_all) if not ARGS.dry_run else ARGS.n[0]
        rows = []
        for tpb in ARGS.tpb_sweep:
            try:
                row, _ = _gpu_run(cohort, n, ARGS.years, tpb)
                rows.append({"tpb": tpb, "kernel_s": row["phases_s"]["kernel"]})
            except Exception as exc:  # e.g. too many resources requested for launch
                rows.append({"tpb": tpb, "error": f"{type(exc).__name__}: {exc}"})
        good = [r for r in rows if "kernel_s" in r]
        best = min(good, key=lambda r: r["kernel_s"])["tpb"] if good else ARGS.tpb
        return {"n": n, "rows": rows, "best_tpb": best}

    tpb_result = _stage(report, "threads_per_block", tpb_stage)
    best_tpb = tpb_result.get("best_tpb", ARGS.tpb) if isinstance(tpb_result, dict) else ARGS.tpb

    # 2. throughput
    gpu_first: dict[str, list[Any]] = {}

    def throughput_stage() -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        rate = None
        for n in sorted(ARGS.n):
            sy = n * ARGS.years
            if rate is not None and sy / rate * 1.5 + 30 > _left():
                rows.append({"n": n, "skipped": f"time budget ({_left():.0f} s left)"})
                continue
            row, outs = _gpu_run(cohort, n, ARGS.years, best_tpb)
            rate = row["subject_years_per_s"]
            rows.append(row)
            if "outs" not in gpu_first:
                gpu_first["outs"] = outs[: ARGS.ref_n]
        return {"rows": rows}

    thr = _stage(report, "throughput", throughput_stage)

    # 3. accuracy against a tight CPU reference; CPU throughput on this host
    reference_box: dict[str, np.ndarray] = {}

    def accuracy_stage() -> dict[str, Any]:
        m = ARGS.ref_n
        params, y0, events = cohort.take(m)
        times = _grid(ARGS.years)
        tight = SolverOptions(rtol=1e-10, atol=1e-14)
        t = time.perf_counter()
        ref_outs = integrate_batch_rodas(cohort.model, params, y0, times, events, tight)
        ref_s = time.perf_counter() - t
        ref = _stack(ref_outs)
        reference_box["ref"] = ref
        cpu_outs = integrate_batch_rodas(
            cohort.model, params, y0, times, events, _options(), method=ARGS.method
        )
        cpu = _stack(cpu_outs)
        result: dict[str, Any] = {
            "reference": "CPU Rodas5P, rtol 1e-10, atol 1e-14",
            "n": m,
            "reference_failed": sum(o.status != 0 for o in ref_outs),
            "reference_s_incl_cpu_compile": ref_s,
            "cpu_max_rel_error": _max_rel_error(cpu, ref),
        }
        if "outs" in gpu_first:
            gpu = _stack(gpu_first["outs"])
            result["gpu_max_rel_error"] = _max_rel_error(gpu, ref)
            result["gpu_vs_cpu_same_tol_max_rel_diff"] = _max_rel_error(gpu, cpu)
            result["gpu_bitwise_equal_cpu"] = bool(np.array_equal(gpu, cpu, equal_nan=True))
        n_cpu = ARGS.cpu_n
        p2, y2, e2 = cohort.take(n_cpu)
        t = time.perf_counter()
        outs = integrate_batch_rodas(cohort.model, p2, y2, times, e2, _options())
        wall = time.perf_counter() - t
        sy = n_cpu * (times[-1] - times[0]) / DAYS_PER_YEAR
        result["cpu_throughput"] = {
            "n": n_cpu,
            "threads": int(numba.get_num_threads()),
            "wall_s": wall,
            "subject_years_per_s": sy / wall,
            "failed": sum(o.status != 0 for o in outs),
        }
        return result

    if ARGS.no_accuracy:
        report.doc["accuracy"] = {"skipped": "--quick"}
    else:
        _stage(report, "accuracy", accuracy_stage)

    # 4. 10^6 subject-years in one call
    def big_stage() -> dict[str, Any]:
        rows = [r for r in thr.get("rows", []) if "kernel_subject_years_per_s" in r]
        want = ARGS.big_n
        note = None
        if rows and not ARGS.dry_run:
            rate = max(r["subject_years_per_s"] for r in rows)
            reserve = 30.0 if ARGS.no_diffrax else 150.0  # for the diffrax stage
            affordable = int(max(0.0, _left() - reserve) * rate / ARGS.big_years)
            if affordable < want:
                note = f"N cut from {want} to {affordable} to fit the time budget"
                want = affordable
        if want < 1:
            return {"skipped": "time budget", "note": note}
        row, outs = _gpu_run(cohort, want, ARGS.big_years, best_tpb)
        del outs
        row["note"] = note
        big_n["n"] = want
        big_n["wall_s"] = row["wall_s"]
        return row

    big_n: dict[str, float] = {}
    _stage(report, "million_subject_years", big_stage)

    def big_baseline_stage() -> dict[str, Any]:
        n = int(big_n.get("n", 0))
        if n < 1 or _left() < 1.5 * big_n["wall_s"] + (0 if ARGS.no_diffrax else 120.0):
            return {"skipped": f"time budget ({_left():.0f} s left) or no N"}
        row, outs = _gpu_run(cohort, n, ARGS.big_years, best_tpb, chunk=n, pinned=False)
        del outs
        row["note"] = "one launch, pageable host memory (the engine before chunking)"
        return row

    _stage(report, "million_subject_years_one_launch", big_baseline_stage)

    def fresh_stage() -> dict[str, Any]:
        n = int(big_n.get("n", 0))
        if n < 1 or _left() < 120.0:
            return {"skipped": f"time budget ({_left():.0f} s left) or no N"}
        return _fresh_process_stage(n, ARGS.big_years, best_tpb)

    if ARGS.no_fresh:
        report.doc["million_subject_years_fresh_process"] = {"skipped": "--quick"}
    else:
        _stage(report, "million_subject_years_fresh_process", fresh_stage)

    # 5. diffrax
    if ARGS.no_diffrax:
        report.doc["diffrax"] = {"skipped": "--no-diffrax"}
        report.save()
    else:
        _stage(report, "diffrax", lambda: _diffrax_stage(cohort, reference_box.get("ref")))
    print(f"wrote {path}")


if __name__ == "__main__":
    if ARGS.cached_run is not None:
        _cached_run(int(ARGS.cached_run[0]), float(ARGS.cached_run[1]))
    else:
        main()
