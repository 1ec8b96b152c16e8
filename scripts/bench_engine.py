#!/usr/bin/env python
"""Measure the engine on the issue-2 workloads (a benchmark, not a test).

* 1,000 MRL/lpr mice from 4 to 40 weeks of age, daily output, MSC at week 16;
* 1,000 patient-replicates for 10 years after one MSC infusion, with stochastic flare
  triggers, weekly output.

    python scripts/bench_engine.py [--workers 2] [--n 1000] [--backend lsoda|rodas5p|rodas4]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lupusim.engine import simulate
from lupusim.model import compile_model, get_preset
from lupusim.population import sample_parameters
from lupusim.studies.sun2009._patients import flare_triggers
from lupusim.treatments import GlucocorticoidTaper, MSCInfusion, Regimen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=0, help="0 = one per core")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--backend", default="lsoda", choices=["lsoda", "rodas5p", "rodas4"])
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    mouse = get_preset("mrl_lpr")
    t = time.perf_counter()
    compile_model(mouse.model)
    compile_model(get_preset("human").model)
    print(f"compile/load: {time.perf_counter() - t:.2f} s (backend {args.backend})")
    warm = [Regimen("warm", (MSCInfusion(1.0, cells=1e6),))]
    simulate(
        mouse.model,
        mouse.parameter_vector()[None],
        mouse.initial_state()[None],
        warm,
        np.array([0.0, 2.0]),
        backend=args.backend,
    )

    p = sample_parameters(mouse, args.n, rng)
    y0 = np.array([mouse.initial_state(r) for r in p])
    times = np.arange(28.0, 280.0 + 0.5, 1.0)
    reg = [Regimen("msc16", (MSCInfusion(112.0, cells=1e6),))] * args.n
    t = time.perf_counter()
    res = simulate(mouse.model, p, y0, reg, times, workers=args.workers, backend=args.backend)
    dt = time.perf_counter() - t
    years = args.n * (times[-1] - times[0]) / 365.25
    print(
        f"mice: {args.n} × {times[-1] - times[0]:.0f} days: {dt:.2f} s wall, "
        f"{years / dt:.0f} subject-years/s, failures {int((~res.ok).sum())}"
    )

    human = get_preset("human")
    p = sample_parameters(human, args.n, rng)
    y0 = np.array([human.initial_state(r) for r in p])
    times = np.arange(0.0, 3652.5 + 1e-9, 7.0)
    taper = GlucocorticoidTaper(((0.0, 20.0), (90.0, 10.0), (180.0, 5.0)))
    regs = [
        Regimen("msc", (MSCInfusion(0.0, cells_per_kg=1e6), taper)).plus(
            *flare_triggers(rng, 0.0, times[-1])
        )
        for _ in range(args.n)
    ]
    t = time.perf_counter()
    res = simulate(human.model, p, y0, regs, times, workers=args.workers, backend=args.backend)
    dt = time.perf_counter() - t
    years = args.n * times[-1] / 365.25
    print(
        f"patients: {args.n} × 10 years: {dt:.2f} s wall, {years / dt:.0f} subject-years/s, "
        f"failures {int((~res.ok).sum())}"
    )


if __name__ == "__main__":
    main()
