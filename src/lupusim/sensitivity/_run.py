"""``lupusim sensitivity``: global sensitivity of a protocol endpoint to model parameters.

Writes into ``out``:

    indices.parquet, indices.csv   one row per factor (parameter or group): its range,
                                   Morris mu, mu*, mu* 95 % CI half-width, sigma, rank;
                                   Sobol' S1, ST and their CI half-widths where computed
    evaluations.parquet            every evaluated point (factor values) and its output
    sensitivity.png                Morris mu*/sigma bars; Sobol' S1/ST bars with CIs
    report.html                    settings, the figure and the table (self-contained)
    summary.json                   settings, seed, reference value, counts, timings
    manifest.json                  versions, hashes, seed, timings
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from lupusim.errors import LupusimError
from lupusim.io import build_manifest, file_sha256, write_json
from lupusim.model import get_preset, model_hash
from lupusim.progress import OptionalProgress
from lupusim.safe_csv import write_csv
from lupusim.sensitivity._defaults import (
    DEFAULT_SAMPLES,
    DEFAULT_SUBJECTS,
    DEFAULT_TOP,
    DEFAULT_TRAJECTORIES,
)
from lupusim.sensitivity._endpoint import (
    POPULATION_MODES,
    EndpointEvaluator,
    PopulationMode,
    resolve_output,
)
from lupusim.sensitivity._factors import (
    DEFAULT_RANGE_FACTOR,
    GROUP_RULES,
    Factor,
    RangePolicy,
    select_factors,
)
from lupusim.sensitivity._methods import (
    BOOTSTRAP_RESAMPLES,
    CONF_LEVEL,
    MORRIS_LEVELS,
    IncompleteDesign,
    MorrisResult,
    SobolResult,
    factor_names,
    morris_screen,
    sobol_indices,
    top,
)
from lupusim.sensitivity._report import plot_indices, render_report
from lupusim.trial._analysis import endpoint_description
from lupusim.trial._protocol import Protocol, load_protocol

Method = Literal["morris", "sobol"]
METHODS: tuple[str, ...] = ("morris", "sobol")
#: The columns of indices.parquet / indices.csv, in order.
INDEX_COLUMNS: tuple[str, ...] = (
    "name",
    "kind",
    "members",
    "group",
    "preset_value",
    "low",
    "high",
    "scale",
    "range_source",
    "mu",
    "mu_star",
    "mu_star_conf95",
    "sigma",
    "morris_rank",
    "S1",
    "S1_conf95",
    "ST",
    "ST_conf95",
)
OUTPUT_FILES = (
    "indices.parquet",
    "indices.csv",
    "evaluations.parquet",
    "sensitivity.png",
    "report.html",
    "summary.json",
    "manifest.json",
)
CRN_TEXT = (
    "Common random numbers: every evaluation uses the same seed, and every random stream "
    "is keyed by the seed and the subject's number, never by parameter values: the "
    "candidates' draws (demographics, variability deviates, histories, screening noise), "
    "flare triggers, death and infection thresholds, dropout days and assay noise are "
    "identical for every parameter set, so the output is a deterministic function of the "
    "parameters."
)
POPULATION_TEXT = {
    "fixed": (
        "Population fixed: the trial population is built once with the preset's values; "
        "each parameter set applies to those enrolled patients from day 0 on (parameter "
        "vectors rescaled, baseline state as reached under the preset)."
    ),
    "rebuild": (
        "Population rebuilt for every parameter set (pre-trial history and screening under "
        "the new values, as the calibration does): who is enrolled may change with the "
        "parameters; where too few candidates are eligible the evaluation fails."
    ),
}


@dataclass(frozen=True)
class SensitivityOptions:
    """What to analyse and how (the CLI's options)."""

    protocol: Path
    out: Path
    endpoint: str | None = None
    arm: str | None = None
    contrast: str | None = None
    method: Method = "morris"
    parameters: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    trajectories: int = DEFAULT_TRAJECTORIES
    samples: int = DEFAULT_SAMPLES
    subjects: int = DEFAULT_SUBJECTS
    seed: int | None = None
    workers: int = 1
    top: int = DEFAULT_TOP
    range_factor: float = DEFAULT_RANGE_FACTOR
    ranges: RangePolicy = "factor"
    population: PopulationMode = "fixed"
    progress: bool = True


class _Bar(OptionalProgress):
    """A rich progress bar over evaluations, or nothing."""

    def stage(self, description: str, total: int) -> Callable[[int, int], None]:
        """A new bar; returns its ``(done, total)`` callback."""
        if self.bar is None:
            return lambda _done, _total: None
        task = self.bar.add_task(description, total=total)
        bar = self.bar

        def tick(done: int, _total: int) -> None:
            bar.update(task, completed=done)

        return tick


def _check(opts: SensitivityOptions) -> None:
    if opts.method not in METHODS:
        raise LupusimError(f"--method: unknown method {opts.method!r}; known: morris, sobol")
    if opts.subjects < 1:
        raise LupusimError("--subjects: must be at least 1")
    if opts.workers < 0:
        raise LupusimError("--workers: must be 0 (all cores) or more")
    if opts.top < 1:
        raise LupusimError("--top: must be at least 1")
    if opts.population not in POPULATION_MODES:
        raise LupusimError(
            f"--population: unknown {opts.population!r}; known: {', '.join(POPULATION_MODES)}"
        )
    screens = opts.method == "morris" or not (opts.parameters or opts.groups)
    if screens and opts.trajectories < 2:
        raise LupusimError("--trajectories: Morris needs at least 2")
    if opts.method == "sobol" and (opts.samples < 2 or opts.samples & (opts.samples - 1)):
        raise LupusimError(f"--samples: Sobol' needs a power of 2 (e.g. 64), got {opts.samples}")


def _factor_rows(factors: Sequence[Factor], grouped: bool) -> pd.DataFrame:
    if not grouped:
        return pd.DataFrame(
            {
                "name": [f.name for f in factors],
                "kind": "parameter",
                "members": [f.name for f in factors],
                "group": [f.group for f in factors],
                "preset_value": [f.preset_value for f in factors],
                "low": [f.low for f in factors],
                "high": [f.high for f in factors],
                "scale": ["log" if f.log else "linear" for f in factors],
                "range_source": [f.range_source for f in factors],
            }
        )
    rows = []
    for g in dict.fromkeys(f.group for f in factors):
        members = [f for f in factors if f.group == g]
        rows.append(
            {
                "name": g,
                "kind": "group",
                "members": ";".join(f.name for f in members),
                "group": g,
                "preset_value": math.nan,
                "low": math.nan,
                "high": math.nan,
                "scale": "log",
                "range_source": "; ".join(sorted({f.range_source for f in members}))
                + " (each member)",
            }
        )
    return pd.DataFrame(rows)


def indices_table(
    factors: Sequence[Factor],
    grouped: bool,
    morris: MorrisResult | None,
    sobol: SobolResult | None,
) -> pd.DataFrame:
    """One row per analysed factor (or group) with the contracted :data:`INDEX_COLUMNS`,
    in Morris order (else by Sobol' ST)."""
    table = _factor_rows(factors, grouped)
    names = table["name"]
    for result, columns in (
        (morris, ("mu", "mu_star", "mu_star_conf95", "sigma")),
        (sobol, ("S1", "S1_conf95", "ST", "ST_conf95")),
    ):
        by_name = result.table.set_index("name") if result is not None else None
        for c in columns:
            table[c] = names.map(by_name[c]).astype(float) if by_name is not None else math.nan
    rank = morris.table.set_index("name")["morris_rank"] if morris is not None else None
    table["morris_rank"] = (
        names.map(rank).astype("Int64")
        if rank is not None
        else pd.array([pd.NA] * len(names), "Int64")
    )
    if morris is not None:
        table = table.sort_values("morris_rank", kind="stable")
    elif sobol is not None:
        table = table.sort_values("ST", ascending=False, kind="stable", na_position="last")
    return table.reset_index(drop=True)[list(INDEX_COLUMNS)]


def _evaluations_frame(
    factors: Sequence[Factor], stage: str, X: np.ndarray, y: np.ndarray
) -> pd.DataFrame:
    values = {f.name: [f.value(float(x)) for x in X[:, j]] for j, f in enumerate(factors)}
    frame = pd.DataFrame({"stage": stage, "row": np.arange(len(y)), **values, "output": y})
    return frame


def _ranges_description(factors: Sequence[Factor], opts: SensitivityOptions) -> str:
    counts: dict[str, int] = {}
    for f in factors:
        counts[f.range_source] = counts.get(f.range_source, 0) + 1
    parts = [f"{n} parameter(s): {src}" for src, n in sorted(counts.items())]
    policy = (
        "calibration bounds of lupusim/calibrate/data/human.yaml for calibrated parameters, "
        f"else the preset value ×/÷ {opts.range_factor:g}"
        if opts.ranges == "calibration"
        else f"the preset value ×/÷ {opts.range_factor:g} for every parameter"
    )
    return f"{policy}, sampled uniformly in log space ({'; '.join(parts)})"


def _keep_evaluations(
    out: Path, factors: Sequence[Factor], stage: str, err: IncompleteDesign, failures: list[str]
) -> None:
    """Write what was evaluated before failing, and fail with where it is."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "evaluations.parquet"
    _evaluations_frame(factors, stage, err.X, err.y).to_parquet(path, index=False)
    first = f"; first failure: {failures[0]}" if failures else ""
    raise LupusimError(f"{err} (evaluated points in {path}{first})") from None


def run_sensitivity(
    opts: SensitivityOptions, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run the analysis and write the outputs; returns the summary."""
    t0 = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    _check(opts)
    protocol: Protocol = load_protocol(opts.protocol)
    output = resolve_output(protocol, opts.endpoint, opts.arm, opts.contrast)
    preset = get_preset("human")
    factors = select_factors(
        preset,
        parameters=opts.parameters or None,
        groups=opts.groups or None,
        range_factor=opts.range_factor,
        policy=opts.ranges,
    )
    grouped = bool(opts.groups)
    if grouped and len(set(f.group for f in factors)) < 2 and opts.method == "morris":
        raise LupusimError("--groups: Morris screening of groups needs at least 2 groups")
    if not grouped and len(factors) < 2 and opts.method == "morris":
        raise LupusimError("--parameters: Morris screening needs at least 2 parameters")
    seed = (
        opts.seed if opts.seed is not None else (protocol.seed if protocol.seed is not None else 0)
    )
    workers = opts.workers
    if workers == 0:
        from lupusim.engine._simulate import default_workers

        workers = default_workers()
    evaluator = EndpointEvaluator(
        protocol,
        output,
        subjects=opts.subjects,
        seed=seed,
        workers=workers,
        base=preset,
        population=opts.population,
    )
    named = bool(opts.parameters or opts.groups)
    run_morris = opts.method == "morris" or not named
    timings: dict[str, float] = {}
    morris: MorrisResult | None = None
    sobol: SobolResult | None = None
    sobol_factors: list[Factor] = []
    with _Bar(opts.progress) as bar:
        t = time.perf_counter()
        tick = bar.stage("reference (preset values)", 1)
        reference = evaluator.reference()
        tick(1, 1)
        timings["reference"] = time.perf_counter() - t
        ref_value = evaluator.value_of(reference)
        if not math.isfinite(ref_value):
            raise LupusimError(
                f"the output {output.label} is undefined at the preset's values "
                "(no subject with a result)"
            )
        if run_morris:
            total = opts.trajectories * (len(factor_names(factors, grouped)) + 1)
            t = time.perf_counter()
            try:
                morris = morris_screen(
                    factors,
                    evaluator,
                    trajectories=opts.trajectories,
                    seed=seed,
                    grouped=grouped,
                    on_progress=bar.stage(f"Morris, {opts.trajectories} trajectories", total),
                )
            except IncompleteDesign as err:
                _keep_evaluations(opts.out, factors, "morris", err, evaluator.failures)
            timings["morris"] = time.perf_counter() - t
        if opts.method == "sobol":
            if named or morris is None:
                sobol_factors = list(factors)
            else:
                chosen = set(top(morris.ranked(), opts.top))
                sobol_factors = [f for f in factors if f.name in chosen]
            total = opts.samples * (len(factor_names(sobol_factors, grouped)) + 2)
            t = time.perf_counter()
            try:
                sobol = sobol_indices(
                    sobol_factors,
                    evaluator,
                    samples=opts.samples,
                    seed=seed,
                    grouped=grouped,
                    on_progress=bar.stage(f"Sobol', {opts.samples} samples", total),
                )
            except IncompleteDesign as err:
                _keep_evaluations(opts.out, sobol_factors, "sobol", err, evaluator.failures)
            timings["sobol"] = time.perf_counter() - t
    table = indices_table(factors, grouped, morris, sobol)
    ep = next(e for e in protocol.endpoints if e.name == output.endpoint)
    description = endpoint_description(protocol, ep)
    timings["total"] = time.perf_counter() - t0
    method_description = (
        f"Morris screening ({opts.trajectories} trajectories, {MORRIS_LEVELS} levels)"
        if opts.method == "morris"
        else (
            f"Sobol' first-order and total indices ({opts.samples} base samples, Saltelli "
            "scheme without second order)"
            + (
                f" on the top {len(sobol_factors)} of a Morris screen "
                f"({opts.trajectories} trajectories)"
                if morris is not None
                else " on the named factors"
            )
        )
    )
    definition = (
        f"difference of the per-arm estimates, {output.arm} minus {output.minus}"
        if output.minus
        else f"per-arm estimate in arm {output.arm}"
    )
    summary: dict[str, Any] = {
        "command": "lupusim sensitivity",
        "protocol": protocol.name,
        "protocol_file": str(opts.protocol),
        "protocol_sha256": file_sha256(Path(opts.protocol)),
        "endpoint": {"name": output.endpoint, **description},
        "output": {
            "label": output.label,
            "endpoint": output.endpoint,
            "arm": output.arm,
            "minus": output.minus,
            "definition": definition,
        },
        "method": opts.method,
        "method_description": method_description,
        "settings": {
            "subjects": opts.subjects,
            "seed": seed,
            "workers": workers,
            "trajectories": opts.trajectories if morris is not None else None,
            "morris_levels": MORRIS_LEVELS if morris is not None else None,
            "samples": opts.samples if sobol is not None else None,
            "top": opts.top if (sobol is not None and morris is not None) else None,
            "parameters": list(opts.parameters),
            "groups": list(opts.groups),
            "range_factor": opts.range_factor,
            "ranges": opts.ranges,
            "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
            "conf_level": CONF_LEVEL,
            "population": opts.population,
            "candidate_batch": evaluator.batch,
            "max_candidates": evaluator.max_candidates,
        },
        "ranges_description": _ranges_description(factors, opts),
        "factors": [
            {
                "name": f.name,
                "group": f.group,
                "preset_value": f.preset_value,
                "low": f.low,
                "high": f.high,
                "range_source": f.range_source,
            }
            for f in factors
        ],
        "groups": (
            {
                g: {
                    "label": GROUP_RULES[g][0],
                    "members": [f.name for f in factors if f.group == g],
                }
                for g in dict.fromkeys(f.group for f in factors)
            }
            if grouped
            else None
        ),
        "reference": {"value": ref_value, "arms": reference},
        "morris": (
            {
                "evaluations": morris.evaluations,
                "trajectories": morris.trajectories,
                "trajectories_used": morris.trajectories_used,
                "ranking": morris.ranked()[:10],
            }
            if morris is not None
            else None
        ),
        "sobol": (
            {
                "evaluations": sobol.evaluations,
                "samples": sobol.samples,
                "samples_used": sobol.samples_used,
                "factors": list(sobol.table["name"]),
            }
            if sobol is not None
            else None
        ),
        "evaluations": {
            "total": evaluator.evaluations + 1,
            "reference": 1,
            "morris": morris.evaluations if morris is not None else 0,
            "sobol": sobol.evaluations if sobol is not None else 0,
            "failed": len(evaluator.failures),
            "failure_examples": list(dict.fromkeys(evaluator.failures))[:3],
        },
        "common_random_numbers": CRN_TEXT,
        "population": POPULATION_TEXT[opts.population],
        "candidates_screened_at_preset": evaluator.base_candidates,
        "started_utc": started,
        "seconds": {k: round(v, 2) for k, v in timings.items()},
        "outputs": list(OUTPUT_FILES),
    }
    _write(opts.out, summary, table, factors, morris, sobol, sobol_factors, timings, seed)
    if log is not None:
        best = ", ".join(
            f"{r['name']} ({r['mu_star' if morris is not None else 'ST']:.3g})"
            for r in table.head(5).to_dict(orient="records")
        )
        log(f"top factors of {output.label}: {best}")
    return summary


def _write(
    out: Path,
    summary: dict[str, Any],
    table: pd.DataFrame,
    factors: Sequence[Factor],
    morris: MorrisResult | None,
    sobol: SobolResult | None,
    sobol_factors: Sequence[Factor],
    timings: dict[str, float],
    seed: int,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out / "indices.parquet", index=False)
    write_csv(table, out / "indices.csv")
    frames = []
    if morris is not None:
        frames.append(_evaluations_frame(factors, "morris", morris.X, morris.y))
    if sobol is not None:
        frames.append(_evaluations_frame(sobol_factors, "sobol", sobol.X, sobol.y))
    pd.concat(frames, ignore_index=True).to_parquet(out / "evaluations.parquet", index=False)
    png = out / "sensitivity.png"
    plot_indices(
        table,
        png,
        f"{summary['protocol']}: {summary['output']['label']}",
        str(summary["endpoint"].get("unit", "")),
    )
    write_json(out / "summary.json", summary)
    render_report(out / "report.html", summary, table, png)
    manifest = build_manifest(
        f"lupusim sensitivity {summary['protocol']}",
        seed,
        summary["settings"],
        {"human": model_hash(get_preset("human").model)},
        {name: name for name in OUTPUT_FILES if name != "manifest.json"},
        timings,
    )
    manifest["protocol_sha256"] = summary["protocol_sha256"]
    write_json(out / "manifest.json", manifest)
