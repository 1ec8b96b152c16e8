#!/usr/bin/env python
"""Peak resident memory of streamed simulation as N grows (issue 5: memory flat in N).

Each N runs in a fresh spawned process: human preset, MSC + NIH cyclophosphamide + taper,
2 years, weekly output, Rodas5P on all cores, chunks of --chunk subjects streamed to a
Parquet file (4 observables). Prints N, wall time, peak RSS and file size.

    python benchmarks/bench_memory.py [--sizes 1000,10000,40000] [--chunk 2000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path


def _run(n: int, chunk: int, out: Path, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    import numpy as np

    from lupusim.engine import simulate_streaming
    from lupusim.io import ParquetTrajectorySink
    from lupusim.model import get_preset
    from lupusim.population import sample_parameters
    from lupusim.treatments import GlucocorticoidTaper, MSCInfusion, Regimen, nih_cyclophosphamide

    human = get_preset("human")
    rng = np.random.default_rng(0)
    regimen = Regimen(
        "bench",
        (
            MSCInfusion(0.0, cells_per_kg=1e6),
            *nih_cyclophosphamide(0.0, 0.75, 6),
            GlucocorticoidTaper(((0.0, 30.0), (30.0, 20.0), (90.0, 10.0), (180.0, 5.0))),
        ),
    )
    times = np.arange(0.0, 730.5, 7.0)
    variables = ["protein_24h_g", "egfr_ml_min_1_73m2", "anti_dsdna_iu_ml", "c3_g_l"]
    start = time.perf_counter()
    with ParquetTrajectorySink(out, variables, [f"s{i}" for i in range(n)]) as sink:
        for first in range(0, n, chunk):
            m = min(chunk, n - first)
            p = sample_parameters(human, m, rng)
            y0 = np.array([human.initial_state(r) for r in p])
            simulate_streaming(
                human.model,
                p,
                y0,
                [regimen] * m,
                times,
                lambda i, res, first=first: sink(first + i, res),
                chunk_size=chunk,
                backend="rodas5p",
                workers=0,
            )
    wall = time.perf_counter() - start
    queue.put((wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,40000")
    parser.add_argument("--chunk", type=int, default=2000)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    print("| N | wall s | subject-years/s | peak RSS MiB | file MiB |")
    print("|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            out = Path(tmp) / f"traj-{n}.parquet"
            queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
            proc = ctx.Process(target=_run, args=(n, args.chunk, out, queue))
            proc.start()
            wall, rss = queue.get()
            proc.join()
            size = out.stat().st_size / 2**20
            print(f"| {n:,} | {wall:.1f} | {n * 2 / wall:,.0f} | {rss:,.0f} | {size:.1f} |")


if __name__ == "__main__":
    main()
