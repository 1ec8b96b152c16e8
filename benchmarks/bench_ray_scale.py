#!/usr/bin/env python
"""Scale-out through Ray on a local cluster: many subjects, time and memory (issue 5).

Each Ray task simulates one chunk of subjects (human preset, prior parameters, MSC
1×10⁶/kg + prednisone taper, ``--years`` of follow-up, Rodas5P, one core) and streams
four observables at monthly output to its own Parquet file; the driver only counts. The
resident memory of the whole process tree (driver, Ray's services and workers) is sampled
from /proc every 0.5 s. Results go to ``benchmarks/results/<machine>-<date>-ray-scale.json``.

    python benchmarks/bench_ray_scale.py --subjects 1000000 --chunk 5000 --cpus 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

VARIABLES = ("protein_24h_g", "egfr_ml_min_1_73m2", "anti_dsdna_iu_ml", "host_msc_function")


def simulate_chunk(index: int, n: int, years: float, out_dir: str, seed: int) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    from lupusim.engine import simulate
    from lupusim.model import get_preset
    from lupusim.population import sample_parameters
    from lupusim.treatments import GlucocorticoidTaper, MSCInfusion, Regimen

    t0 = time.perf_counter()
    human = get_preset("human")
    rng = np.random.default_rng([seed, index])
    params = sample_parameters(human, n, rng)
    y0 = np.array([human.initial_state(r) for r in params])
    regimen = Regimen(
        "msc",
        (
            MSCInfusion(0.0, cells_per_kg=1e6),
            GlucocorticoidTaper(((0.0, 30.0), (30.0, 20.0), (90.0, 10.0), (180.0, 5.0))),
        ),
    )
    times = np.arange(0.0, years * 365.25 + 1e-9, 30.4375)
    res = simulate(human.model, params, y0, [regimen] * n, times, backend="rodas5p", workers=1)
    obs = res.observables()
    frame = pd.DataFrame(
        {
            "subject": np.repeat(np.arange(index * n, index * n + n), len(times)),
            "day": np.tile(times, n).astype(np.float32),
            **{v: obs[v].reshape(-1).astype(np.float32) for v in VARIABLES},
        }
    )
    frame.to_parquet(Path(out_dir) / f"chunk_{index:06d}.parquet", index=False)
    return {"n": n, "failed": int((~res.ok).sum()), "seconds": time.perf_counter() - t0}


def _tree_rss_mib(root: int) -> float:
    """Resident memory of ``root`` and all its descendants (MiB), from /proc."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            parent[int(entry)] = int(fields[1])
            with open(f"/proc/{entry}/statm") as f:
                rss[int(entry)] = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    members = {root}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parent.items():
            if ppid in members and pid not in members:
                members.add(pid)
                changed = True
    return sum(rss.get(p, 0) for p in members) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--subjects", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=5000)
    ap.add_argument("--years", type=float, default=1.0)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None, help="keep the Parquet output here")
    args = ap.parse_args()

    import ray

    # Warm the disk caches (model and Rodas kernels) once, before the workers start.
    simulate_chunk(0, 2, 0.1, tempfile.mkdtemp(prefix="ray_warm_"), args.seed)
    out_dir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ray_scale_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    peak = {"tree_mib": 0.0}
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    start = time.perf_counter()

    def sampler() -> None:
        while not stop.is_set():
            m = _tree_rss_mib(os.getpid())
            peak["tree_mib"] = max(peak["tree_mib"], m)
            samples.append((time.perf_counter() - start, m))
            stop.wait(0.5)

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    task = ray.remote(num_cpus=1)(simulate_chunk)
    n_chunks = -(-args.subjects // args.chunk)
    sizes = [min(args.chunk, args.subjects - k * args.chunk) for k in range(n_chunks)]
    pending = [
        task.remote(k, sizes[k], args.years, str(out_dir), args.seed) for k in range(n_chunks)
    ]
    done = failed = 0
    task_seconds = 0.0
    progress_at = []
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        r = ray.get(ready[0])
        done += r["n"]
        failed += r["failed"]
        task_seconds += r["seconds"]
        progress_at.append((round(time.perf_counter() - start, 1), done, round(peak["tree_mib"])))
        if len(progress_at) % max(1, n_chunks // 20) == 0:
            elapsed = time.perf_counter() - start
            print(f"{done} subjects, {elapsed:.0f} s, peak {peak['tree_mib']:.0f} MiB")
    wall = time.perf_counter() - start
    ray.shutdown()
    stop.set()
    thread.join()
    size_mib = sum(p.stat().st_size for p in out_dir.glob("*.parquet")) / 2**20
    if not args.keep:
        shutil.rmtree(out_dir)
    result = {
        "machine": platform.node(),
        "cpus": args.cpus,
        "subjects": args.subjects,
        "failed": failed,
        "years_per_subject": args.years,
        "chunk": args.chunk,
        "wall_s": round(wall, 1),
        "subject_years_per_s": round(args.subjects * args.years / wall, 1),
        "subject_years_per_s_per_core": round(args.subjects * args.years / wall / args.cpus, 1),
        "sum_task_s": round(task_seconds, 1),
        "peak_tree_rss_mib": round(peak["tree_mib"], 1),
        "parquet_mib": round(size_mib, 1),
        "progress": progress_at[:: max(1, len(progress_at) // 40)],
    }
    print(json.dumps({k: v for k, v in result.items() if k != "progress"}, indent=1))
    dest = Path(__file__).parent / "results" / f"vm-{date.today().isoformat()}-ray-scale.json"
    dest.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
