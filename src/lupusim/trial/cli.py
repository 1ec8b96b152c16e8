"""``lupusim trial run`` and ``lupusim trial report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lupusim.errors import LupusimError

trial_app = typer.Typer(help="Virtual trials from a protocol file.", no_args_is_help=True)

#: ``--posterior FILE``: the parameter sets behind ``--uncertainty`` (shared by the
#: commands that rerun the model under the calibration's posterior).
PosteriorOption = Annotated[
    Path | None,
    typer.Option(
        "--posterior",
        help="posterior_human.json of `lupusim calibrate posterior` (default: installed).",
    ),
]

SOLVERS = ("rodas5p", "rodas4", "lsoda", "rodas5p-cuda", "rodas4-cuda")


def _parse_sizes(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        sizes = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise LupusimError(
            f"--power-curve: expected comma-separated totals like 20,40,80, got {text!r}"
        ) from None
    if any(s < 1 for s in sizes):
        raise LupusimError("--power-curve: totals must be positive")
    return sizes


@trial_app.command("run")
def run_command(
    protocol: Annotated[Path, typer.Argument(help="Protocol YAML (see docs/trials.md).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (created; resumable).")],
    subjects: Annotated[
        int | None,
        typer.Option(
            "--subjects",
            help="Virtual patients run in every arm (default: max(1000, protocol size)).",
            min=1,
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed (default: the protocol's).")
    ] = None,
    backend: Annotated[
        str, typer.Option("--backend", help="local, or ray (pip install 'lupusim\\[distributed]').")
    ] = "local",
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Ray cluster to join (default: local).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="Cores to use (0 = all).", min=0)] = 0,
    solver: Annotated[
        str,
        typer.Option(
            "--solver",
            help="rodas5p (default), rodas4, lsoda (reference), or rodas5p-cuda (GPU).",
        ),
    ] = "rodas5p",
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", help="Subjects per chunk written to disk.", min=1)
    ] = 250,
    trials: Annotated[
        int,
        typer.Option("--trials", help="Randomised trials simulated for the power.", min=1),
    ] = 1000,
    power_curve: Annotated[
        str | None,
        typer.Option("--power-curve", help="Also compute power at these totals, e.g. 20,40,80."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a finished or different run in --out.")
    ] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
    range_: Annotated[
        list[str] | None,
        typer.Option(
            "--range",
            metavar="NAME=LOW:HIGH",
            help="Replace the plausible range of a protocol number (repeatable), e.g. "
            "dose_prednisone_mg_per_day=0:120; reported in summary.json.",
        ),
    ] = None,
    uncertainty: Annotated[
        int,
        typer.Option(
            "--uncertainty",
            help="Also rerun the protocol under K parameter sets of the calibration's "
            "posterior: model intervals and assurance beside the sampling CIs.",
            min=0,
        ),
    ] = 0,
    uncertainty_subjects: Annotated[
        int | None,
        typer.Option(
            "--uncertainty-subjects",
            help="Virtual patients per parameter set (default: the protocol's size, at "
            "least 200, at most --subjects).",
            min=1,
        ),
    ] = None,
    posterior: PosteriorOption = None,
) -> None:
    """Run a protocol on virtual patients; write summary, database, report, manifest."""
    from lupusim.clinical._ranges import ranges_from_options
    from lupusim.engine._simulate import default_workers
    from lupusim.trial._protocol import load_protocol
    from lupusim.trial._run import TrialOptions, run_trial

    if solver not in SOLVERS:
        raise LupusimError(f"--solver: unknown solver {solver!r}; known: {', '.join(SOLVERS)}")
    if backend not in ("local", "ray"):
        raise LupusimError(f"--backend: unknown backend {backend!r}; known: local, ray")
    ranges = ranges_from_options(range_ or ())
    spec = load_protocol(protocol, ranges=ranges)
    for note in ranges.override_notes():
        typer.echo(note)
    options = TrialOptions(
        n_subjects=subjects,
        seed=seed,
        chunk_size=chunk_size,
        workers=workers or default_workers(),
        backend=backend,
        ray_address=ray_address,
        solver=solver,  # type: ignore[arg-type]
        n_trials=trials,
        power_curve=_parse_sizes(power_curve),
        progress=progress,
        overwrite=overwrite,
        range_overrides=ranges.overridden,
        uncertainty=uncertainty,
        uncertainty_subjects=uncertainty_subjects,
        posterior=posterior,
    )
    summary = run_trial(spec, out, options, log=typer.echo)
    primary = summary.get("primary_endpoints", [])
    model = {
        (c["endpoint"], tuple(c["arms"])): c["model"]["interval90"]
        for c in summary.get("uncertainty", {}).get("comparisons", [])
    }
    for c in summary.get("comparisons", []):
        if c["endpoint"] in primary:
            line = (
                f"{c['endpoint']}: {c['arms'][0]} vs {c['arms'][1]} {c['measure']} "
                f"{_fmt(c['difference'])} (95% CI {_fmt(c['ci95'][0])} to {_fmt(c['ci95'][1])})"
            )
            interval = model.get((c["endpoint"], tuple(c["arms"])))
            if interval is not None:
                line += f"; model 90% interval {_fmt(interval[0])} to {_fmt(interval[1])}"
            typer.echo(line)
    check = summary.get("uncertainty", {}).get("posterior_check")
    if check:
        typer.echo(f"posterior: {check}")
    for ep, entries in summary.get("uncertainty", {}).get("power", {}).items():
        if ep in primary:
            for e in entries:
                typer.echo(
                    f"{ep}: {e['arms'][0]} vs {e['arms'][1]} power {_fmt(e['power'])}, "
                    f"assurance {_fmt(e['assurance']['estimate'])}"
                )
    typer.echo(f"wrote {out / 'summary.json'}, {out / 'results.duckdb'}, {out / 'report.html'}")


def _fmt(x: float | None) -> str:
    return "NA" if x is None else f"{x:.3g}"


@trial_app.command("report")
def report_command(
    out: Annotated[Path, typer.Argument(help="Folder of a finished `lupusim trial run`.")],
) -> None:
    """Re-render report.html from summary.json and results.duckdb (no simulation)."""
    from lupusim.report import render_trial_report

    path = render_trial_report(out)
    typer.echo(f"wrote {path}")
