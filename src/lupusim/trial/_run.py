"""``lupusim trial run``: population, arms in chunks, store, analysis, report — resumable.

Output directory::

    run.json          identity of the run (protocol hash, seed, sizes, settings) and state
    work/             population and finished chunks while running (removed at the end)
    results.duckdb    subjects, parameters, visits, scores, outcomes, status, trajectories
    summary.json      per-arm estimates, paired comparisons, one randomised trial, power
    report.html       figures (``lupusim trial report DIR`` re-renders it)
    manifest.json     versions, hashes, seed, timings

With ``uncertainty`` > 0 the protocol is also rerun under that many parameter sets of
the calibration's posterior (:mod:`lupusim.trial._uncertainty`); summary.json gains the
model intervals and assurance, and each finished draw is kept in ``work/uncertainty``.

Each chunk is written atomically (a temporary folder renamed when complete), so a run
killed part-way resumes at the first unfinished chunk; random numbers depend only on
the seed and the subject, so the resumed run ends with the same results as an
uninterrupted one. Memory stays flat in N: chunks go to disk as they finish and the
database is assembled from them by DuckDB.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lupusim.engine._simulate import Backend
from lupusim.errors import LupusimError
from lupusim.io import build_manifest, write_json
from lupusim.model import get_preset, load_ensemble, model_hash
from lupusim.population._baseline import BaselineCohort
from lupusim.progress import OptionalProgress
from lupusim.report import render_trial_report
from lupusim.results import read_table
from lupusim.trial._analysis import analyse
from lupusim.trial._backend import make_backend
from lupusim.trial._cohort import (
    ScreeningLog,
    TrialPopulation,
    build_population,
    make_chunks,
    randomisation_strata,
)
from lupusim.trial._protocol import Protocol
from lupusim.trial._simulate import ChunkResult, RunSettings
from lupusim.trial._uncertainty import DrawPlan, draw_subjects, run_uncertainty

DEFAULT_SUBJECTS = 1000
TABLES = ("outcomes", "status", "visits", "scores", "trajectories")


@dataclass(frozen=True)
class TrialOptions:
    """How to run a protocol (the protocol itself says what to run)."""

    n_subjects: int | None = None
    seed: int | None = None
    chunk_size: int = 250
    workers: int = 1
    backend: str = "local"
    ray_address: str | None = None
    solver: Backend = "rodas5p"
    n_trials: int = 1000
    power_curve: tuple[int, ...] = ()
    progress: bool = True
    write_report: bool = True
    overwrite: bool = False
    settings_overrides: dict[str, Any] = field(default_factory=dict)
    #: plausible ranges the protocol was checked against in place of the defaults
    #: (name -> (low, high)); written to summary.json and manifest.json
    range_overrides: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    #: posterior parameter sets to rerun the protocol under (0: none; model uncertainty)
    uncertainty: int = 0
    #: virtual patients per posterior draw (None: the protocol's size, at least 200)
    uncertainty_subjects: int | None = None
    #: posterior file with the draws (None: the installed one)
    posterior: Path | None = None

    def resolved_seed(self, protocol: Protocol) -> int:
        if self.seed is not None:
            return self.seed
        return protocol.seed if protocol.seed is not None else 0

    def resolved_subjects(self, protocol: Protocol) -> int:
        if self.n_subjects is not None:
            return self.n_subjects
        return max(DEFAULT_SUBJECTS, sum(protocol.n_per_arm().values()))


def protocol_hash(protocol: Protocol) -> str:
    text = json.dumps(protocol.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _identity(
    protocol: Protocol, options: TrialOptions, settings: RunSettings, n: int
) -> dict[str, Any]:
    identity: dict[str, Any] = {
        "protocol": protocol.name,
        "protocol_sha256": protocol_hash(protocol),
        "n_subjects": n,
        "chunk_size": options.chunk_size,
        "settings": settings.to_dict(),
        "model_sha256": model_hash(get_preset("human").model),
    }
    if options.uncertainty:
        identity["uncertainty"] = {
            "draws": options.uncertainty,
            "subjects_per_draw": draw_subjects(protocol, n, options.uncertainty_subjects),
            "posterior": str(options.posterior) if options.posterior else "installed",
            "n_trials": options.n_trials,
            "power_curve": list(options.power_curve),
        }
    return identity


class _Progress(OptionalProgress):
    """A rich progress bar with named tasks, or nothing."""

    def __init__(self, enabled: bool) -> None:
        super().__init__(enabled)
        self._tasks: dict[str, Any] = {}

    def task(self, key: str, description: str, total: float) -> None:
        if self.bar is not None:
            self._tasks[key] = self.bar.add_task(description, total=total)

    def update(self, key: str, completed: float, description: str | None = None) -> None:
        if self.bar is not None and key in self._tasks:
            kwargs: dict[str, Any] = {"completed": completed}
            if description is not None:
                kwargs["description"] = description
            self.bar.update(self._tasks[key], **kwargs)


# ------------------------------------------------------------------------------------
# population on disk
# ------------------------------------------------------------------------------------


def _save_population(path: Path, pop: TrialPopulation) -> None:
    tmp = path.with_suffix(".tmp.npz")
    c = pop.cohort
    arrays: dict[str, Any] = {
        "parameters": c.parameters,
        "state": c.state,
        "history": c.history.astype(str),
        "ok": c.ok,
        "alive": c.alive,
        "candidate_index": c.candidate_index,
        "parameter_names": np.array(c.parameter_names),
        "baseline_names": np.array(list(c.baseline)),
        **{f"baseline_{k}": v for k, v in c.baseline.items()},
    }
    np.savez(tmp, **arrays)
    meta = {"screening": pop.screening.to_dict(), "target": pop.target, "match": pop.match}
    path.with_suffix(".json").write_text(json.dumps(_jsonable(meta)))
    tmp.replace(path)


def _load_population(path: Path) -> TrialPopulation:
    with np.load(path, allow_pickle=False) as z:
        names = [str(x) for x in z["baseline_names"]]
        cohort = BaselineCohort(
            parameters=z["parameters"],
            state=z["state"],
            baseline={k: z[f"baseline_{k}"] for k in names},
            history=z["history"].astype(object),
            ok=z["ok"],
            alive=z["alive"],
            candidate_index=z["candidate_index"],
            parameter_names=tuple(str(x) for x in z["parameter_names"]),
        )
    meta = json.loads(path.with_suffix(".json").read_text())
    s = meta["screening"]
    log = ScreeningLog(
        s["candidates"],
        s["failed_integration"],
        s["died_before_baseline"],
        s["failed_criterion"],
        s["eligible"],
        s["selected"],
    )
    return TrialPopulation(cohort, log, meta["target"], meta["match"])


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


# ------------------------------------------------------------------------------------
# chunks on disk
# ------------------------------------------------------------------------------------


def _chunk_dir(work: Path, index: int) -> Path:
    return work / "chunks" / f"chunk_{index:06d}"


def _write_chunk(work: Path, result: ChunkResult) -> None:
    final = _chunk_dir(work, result.index)
    tmp = final.with_name(final.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for name, table in result.tables().items():
        table.to_parquet(tmp / f"{name}.parquet", index=False)
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)


# ------------------------------------------------------------------------------------
# the database
# ------------------------------------------------------------------------------------


def _subjects_frame(pop: TrialPopulation) -> pd.DataFrame:
    frame = pop.cohort.frame().drop(columns=["ok", "alive_at_baseline"])
    frame.insert(0, "subject_id", pop.subject_ids())
    return frame


def _parameters_frame(pop: TrialPopulation) -> pd.DataFrame:
    frame = pd.DataFrame(pop.cohort.parameters, columns=list(pop.cohort.parameter_names))
    frame.insert(0, "subject_id", pop.subject_ids())
    return frame


def _build_database(work: Path, path: Path, pop: TrialPopulation) -> None:
    import duckdb

    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        subjects = _subjects_frame(pop)
        parameters = _parameters_frame(pop)
        con.register("subjects_df", subjects)
        con.register("parameters_df", parameters)
        con.execute("CREATE TABLE subjects AS SELECT * FROM subjects_df")
        con.execute("CREATE TABLE parameters AS SELECT * FROM parameters_df")
        for name in TABLES:
            pattern = str(work / "chunks" / "chunk_*" / f"{name}.parquet")
            con.execute(
                f"CREATE TABLE {name} AS SELECT * FROM read_parquet(?, union_by_name = true)",
                [pattern],
            )
    finally:
        con.close()
    tmp.replace(path)


# ------------------------------------------------------------------------------------
# run
# ------------------------------------------------------------------------------------


def _prepare_dir(out: Path, identity: dict[str, Any], overwrite: bool) -> bool:
    """Create or check the output directory; True when resuming."""
    run_file = out / "run.json"
    if run_file.exists():
        previous = json.loads(run_file.read_text())
        same = previous.get("identity") == _jsonable(identity)
        if overwrite or not same:
            if not overwrite:
                raise LupusimError(
                    f"{out} holds a different run ({previous.get('identity', {}).get('protocol')}"
                    f", seed {previous.get('identity', {}).get('settings', {}).get('seed')}); "
                    "choose another --out or pass --overwrite"
                )
        elif previous.get("state") == "complete":
            raise LupusimError(
                f"{out} already holds this finished run; re-render it with "
                "`lupusim trial report` or pass --overwrite"
            )
        else:
            return True
        for name in ("work", "results.duckdb", "summary.json", "report.html", "manifest.json"):
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    write_json(run_file, {"identity": identity, "state": "running"})
    return False


def run_trial(
    protocol: Protocol,
    out_dir: str | Path,
    options: TrialOptions | None = None,
    *,
    stop_after_chunks: int | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run ``protocol`` and write the outputs to ``out_dir``; returns the summary.

    ``stop_after_chunks`` stops (as if killed) after that many chunks of this call —
    for testing resumption.
    """
    opts = options or TrialOptions()
    out = Path(out_dir)
    seed = opts.resolved_seed(protocol)
    n = opts.resolved_subjects(protocol)
    settings = RunSettings(seed=seed, solver=opts.solver, **opts.settings_overrides)
    identity = _identity(protocol, opts, settings, n)
    ensemble = load_ensemble(opts.posterior) if opts.uncertainty else None
    resuming = _prepare_dir(out, identity, opts.overwrite)
    work = out / "work"
    work.mkdir(exist_ok=True)
    say = log or (lambda _m: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    pop_file = work / "population.npz"
    with _Progress(opts.progress) as bar:
        if resuming and pop_file.exists():
            pop = _load_population(pop_file)
            say(f"resuming: population of {len(pop)} loaded")
        else:
            bar.task("pop", "screening candidates", total=n)
            pop = build_population(
                protocol.population,
                n,
                seed,
                workers=opts.workers,
                solver=opts.solver,
                observation=settings.observation,
                on_batch=lambda drawn, eligible: bar.update(
                    "pop", min(eligible, n), f"screening ({drawn} candidates)"
                ),
            )
            _save_population(pop_file, pop)
        timings["population"] = time.perf_counter() - t0
        chunks = make_chunks(pop, opts.chunk_size)
        todo = [c for c in chunks if not _chunk_dir(work, c.index).exists()]
        if resuming:
            say(f"resuming: {len(chunks) - len(todo)} of {len(chunks)} chunks already done")
        bar.task("arms", f"simulating {len(protocol.arms)} arms", total=len(chunks))
        done = len(chunks) - len(todo)
        bar.update("arms", done)
        backend = make_backend(opts.backend, opts.workers, opts.ray_address)
        t1 = time.perf_counter()
        for k, result in enumerate(backend.run(protocol, todo, settings)):
            _write_chunk(work, result)
            done += 1
            bar.update("arms", done)
            if stop_after_chunks is not None and k + 1 >= stop_after_chunks and done < len(chunks):
                raise KeyboardInterrupt("stopped after the requested number of chunks")
        timings["arms"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    _build_database(work, out / "results.duckdb", pop)
    timings["database"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    outcomes = read_table(out, "outcomes")
    status = read_table(out, "status")
    strata, missing = randomisation_strata(protocol, pop)
    if missing:
        say(
            f"stratification by {', '.join(missing)} not applied: virtual subjects have no "
            "such attribute (randomisation is stratified by the others, if any)"
        )
    summary = analyse(
        protocol,
        outcomes,
        status,
        seed=seed,
        n_trials=opts.n_trials,
        power_curve=opts.power_curve,
        strata=strata,
    )
    summary["trial"]["stratified_by"] = sorted(strata)
    summary["trial"]["strata_not_available"] = missing
    summary["population"] = {
        "n_subjects": len(pop),
        "screening": pop.screening.to_dict(),
        "target": pop.target,
        "match": pop.match,
        "histories": sorted({str(h) for h in pop.cohort.history}),
    }
    summary["settings"] = {
        **settings.to_dict(),
        "n_subjects": n,
        "chunk_size": opts.chunk_size,
        "backend": opts.backend,
        "workers": opts.workers,
        "n_trials": opts.n_trials,
        "range_overrides": {k: list(v) for k, v in opts.range_overrides.items()},
        "uncertainty_draws": opts.uncertainty,
    }
    timings["analysis"] = time.perf_counter() - t3
    if ensemble is not None:
        t5 = time.perf_counter()
        subjects_per_draw = draw_subjects(protocol, n, opts.uncertainty_subjects)
        say(
            f"model uncertainty: the protocol under {opts.uncertainty} posterior parameter "
            f"sets, {subjects_per_draw} virtual patients each"
        )
        with _Progress(opts.progress) as bar:
            bar.task("draws", "posterior parameter sets", total=opts.uncertainty + 1)
            plan = DrawPlan(
                protocol,
                subjects=subjects_per_draw,
                seed=seed,
                settings=settings,
                chunk_size=opts.chunk_size,
                workers=opts.workers,
                n_trials=opts.n_trials,
                power_curve=opts.power_curve,
            )
            summary["uncertainty"] = run_uncertainty(
                plan,
                summary,
                ensemble=ensemble,
                n_draws=opts.uncertainty,
                work=work / "uncertainty",
                on_draw=lambda k: bar.update("draws", k),
            )
        timings["uncertainty"] = time.perf_counter() - t5
    write_json(out / "summary.json", summary)
    if opts.write_report:
        t4 = time.perf_counter()
        render_trial_report(out)
        timings["report"] = time.perf_counter() - t4
    timings["total"] = time.perf_counter() - t0
    manifest = build_manifest(
        f"lupusim trial run {protocol.name}",
        seed,
        summary["settings"],
        {"human": model_hash(get_preset("human").model)},
        {
            "summary": "summary.json",
            "database": "results.duckdb",
            "report": "report.html" if opts.write_report else "",
        },
        timings,
    )
    manifest["protocol_sha256"] = identity["protocol_sha256"]
    manifest["protocol"] = protocol.model_dump(mode="json")
    write_json(out / "manifest.json", manifest)
    shutil.rmtree(work)
    write_json(out / "run.json", {"identity": identity, "state": "complete"})
    return summary
