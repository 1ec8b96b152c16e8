"""Throughput and accuracy of the LSODA and Rosenbrock backends on human subjects.

For each N: N virtual human subjects (``sample_parameters``), each with MSC infusion +
NIH cyclophosphamide + prednisone, two years, weekly output, at ``--rtol``. Timed:

* LSODA  ``simulate(..., workers=1)`` (one process);
* Rodas5P (default) and Rodas4 ``integrate_batch_rodas`` with ``numba.set_num_threads(1)``
  and with all threads.

Accuracy: each backend's first ``--ref-n`` subjects against LSODA at rtol 1e-10: the
largest relative error over states with ``|y_ref| > 1e-6``.

Compilation is done before timing. Prints a table and writes
``benchmarks/results/<hostname>-<date>.json``.

    python benchmarks/bench_backends.py            # N = 100 and 1000
    python benchmarks/bench_backends.py --n 100    # quicker
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import socket
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np
import scipy

from lupusim.engine import SolverOptions, simulate
from lupusim.engine._rodas import METHODS, integrate_batch_rodas
from lupusim.model import compile_model, get_preset
from lupusim.population import sample_parameters
from lupusim.treatments import MSCInfusion, Prednisone, Regimen, nih_cyclophosphamide

LIBROADRUNNER_MS_PER_SUBJECT_YEAR = 3.7  # one core, comparable model (issue 5)
DAYS_PER_YEAR = 365.25


def _regimen() -> Regimen:
    return Regimen(
        "msc+nih+pred",
        (MSCInfusion(0.0, cells_per_kg=1e6), *nih_cyclophosphamide(0.0), Prednisone(0, 180, 20.0)),
    )


def _max_rel_error(states: np.ndarray, ref: np.ndarray) -> float:
    mask = np.abs(ref) > 1e-6
    return float(np.max(np.abs(states[mask] - ref[mask]) / np.abs(ref[mask])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--rtol", type=float, default=1e-6)
    ap.add_argument("--atol", type=float, default=SolverOptions().atol)
    ap.add_argument("--years", type=float, default=2.0)
    ap.add_argument("--ref-n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()

    preset = get_preset("human")
    spec = preset.model
    model = compile_model(spec)
    times = np.arange(0.0, args.years * DAYS_PER_YEAR + 1e-9, 7.0)
    span_years = (times[-1] - times[0]) / DAYS_PER_YEAR
    opts = SolverOptions(rtol=args.rtol, atol=args.atol)
    max_threads = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]

    n_max = max(args.n)
    params_all = sample_parameters(preset, n_max, np.random.default_rng(args.seed))
    y0_all = np.array([preset.initial_state(p) for p in params_all])
    events_all = [_regimen().events(spec, p) for p in params_all]

    # warm-up: compile every kernel outside the timings
    for method in METHODS:
        integrate_batch_rodas(
            model, params_all[:2], y0_all[:2], times, events_all[:2], opts, method=method
        )
    simulate(spec, params_all[:1], y0_all[:1], [_regimen()], times, options=opts, workers=1)

    n_ref = min(args.ref_n, n_max)
    t = time.perf_counter()
    ref = simulate(
        spec,
        params_all[:n_ref],
        y0_all[:n_ref],
        [_regimen()] * n_ref,
        times,
        options=SolverOptions(rtol=1e-10, atol=1e-14),
        workers=1,
    )
    ref_seconds = time.perf_counter() - t
    assert ref.ok.all(), "reference run failed"

    rows: list[dict[str, Any]] = []
    for n in args.n:
        params, y0, events = params_all[:n], y0_all[:n], events_all[:n]
        subject_years = n * span_years

        t = time.perf_counter()
        res = simulate(spec, params, y0, [_regimen()] * n, times, options=opts, workers=1)
        wall = time.perf_counter() - t
        rows.append(
            {
                "backend": "lsoda",
                "threads": 1,
                "n": n,
                "wall_s": wall,
                "subject_years": subject_years,
                "failed": int((~res.ok).sum()),
                "max_rel_error": _max_rel_error(res.states[:n_ref], ref.states[: min(n, n_ref)])
                if n >= n_ref
                else None,
            }
        )
        before = numba.get_num_threads()
        for method in sorted(METHODS, reverse=True):
            for threads in sorted({1, max_threads}):
                numba.set_num_threads(threads)
                try:
                    t = time.perf_counter()
                    outs = integrate_batch_rodas(
                        model, params, y0, times, events, opts, method=method
                    )
                    wall = time.perf_counter() - t
                finally:
                    numba.set_num_threads(before)
                states = np.stack([o.states for o in outs])
                rows.append(
                    {
                        "backend": method,
                        "threads": threads,
                        "n": n,
                        "wall_s": wall,
                        "subject_years": subject_years,
                        "failed": int(sum(o.status != 0 for o in outs)),
                        "max_rel_error": _max_rel_error(states[:n_ref], ref.states)
                        if n >= n_ref
                        else None,
                    }
                )
    for row in rows:
        row["subject_years_per_s"] = row["subject_years"] / row["wall_s"]
        row["core_ms_per_subject_year"] = (
            1e3 * row["wall_s"] * row["threads"] / row["subject_years"]
        )
        row["x_libroadrunner_per_core"] = (
            LIBROADRUNNER_MS_PER_SUBJECT_YEAR / row["core_ms_per_subject_year"]
        )

    header = (
        f"{'backend':<8} {'thr':>3} {'N':>5} {'wall s':>8} {'subj-yr/s':>10} "
        f"{'core ms/subj-yr':>15} {'x RR/core':>9} {'max rel err':>11} {'failed':>6}"
    )
    print(
        f"human, MSC + NIH CTX + prednisone, {span_years:.2f} years, weekly output, "
        f"rtol {args.rtol:g}, atol {args.atol:g}; reference LSODA rtol 1e-10 on {n_ref} "
        f"subjects ({ref_seconds:.1f} s)"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        err = f"{r['max_rel_error']:.2e}" if r["max_rel_error"] is not None else "-"
        print(
            f"{r['backend']:<8} {r['threads']:>3} {r['n']:>5} {r['wall_s']:>8.3f} "
            f"{r['subject_years_per_s']:>10.1f} {r['core_ms_per_subject_year']:>15.3f} "
            f"{r['x_libroadrunner_per_core']:>9.2f} {err:>11} {r['failed']:>6}"
        )

    record = {
        "host": socket.gethostname(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "numba_threads": max_threads,
        "load_average_before_end": os.getloadavg(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "setup": {
            "preset": "human",
            "regimen": "MSCInfusion(0, 1e6/kg) + nih_cyclophosphamide(0) + Prednisone(0, 180, 20)",
            "years": span_years,
            "output_step_days": 7.0,
            "rtol": args.rtol,
            "atol": args.atol,
            "reference": {"backend": "lsoda", "rtol": 1e-10, "atol": 1e-14, "n": n_ref},
            "libroadrunner_ms_per_subject_year": LIBROADRUNNER_MS_PER_SUBJECT_YEAR,
        },
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{socket.gethostname()}-{dt.date.today().isoformat()}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
