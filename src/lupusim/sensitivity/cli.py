"""``lupusim sensitivity PROTOCOL``: Morris screening and Sobol' indices of one endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lupusim.sensitivity._defaults import (
    DEFAULT_SAMPLES,
    DEFAULT_SUBJECTS,
    DEFAULT_TOP,
    DEFAULT_TRAJECTORIES,
)
from lupusim.sensitivity._factors import DEFAULT_RANGE_FACTOR, GROUP_NAMES


def _names(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(x.strip() for x in text.split(",") if x.strip())


def sensitivity_command(
    protocol: Annotated[
        Path, typer.Argument(help="Protocol YAML (e.g. examples/trials/alms.yaml).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder (created).")],
    endpoint: Annotated[
        str | None,
        typer.Option("--endpoint", help="Endpoint of the protocol (default: its primary)."),
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="morris (screening), or sobol (S1/ST of the named factors, else of the "
            "top --top of a Morris screen).",
        ),
    ] = "morris",
    parameters: Annotated[
        str | None,
        typer.Option("--parameters", help="Comma-separated parameters (default: all eligible)."),
    ] = None,
    groups: Annotated[
        str | None,
        typer.Option(
            "--groups", help=f"Comma-separated parameter groups: {', '.join(GROUP_NAMES)}."
        ),
    ] = None,
    arm: Annotated[
        str | None, typer.Option("--arm", help="Arm whose estimate is the output (default: first).")
    ] = None,
    contrast: Annotated[
        str | None,
        typer.Option("--contrast", help="Output is ARM_A's estimate minus ARM_B's: ARM_A-ARM_B."),
    ] = None,
    trajectories: Annotated[
        int, typer.Option("--trajectories", help="Morris trajectories (R).", min=2)
    ] = DEFAULT_TRAJECTORIES,
    samples: Annotated[
        int, typer.Option("--samples", help="Sobol' base samples N (a power of 2).", min=2)
    ] = DEFAULT_SAMPLES,
    subjects: Annotated[
        int, typer.Option("--subjects", help="Virtual patients per evaluation.", min=1)
    ] = DEFAULT_SUBJECTS,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed (default: the protocol's).")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Processes per simulation (0 = all cores).", min=0)
    ] = 1,
    top_k: Annotated[
        int, typer.Option("--top", help="Sobol' on this many of the Morris ranking.", min=1)
    ] = DEFAULT_TOP,
    range_factor: Annotated[
        float,
        typer.Option("--range-factor", help="Range: preset value ×/÷ this factor (log space)."),
    ] = DEFAULT_RANGE_FACTOR,
    ranges: Annotated[
        str,
        typer.Option(
            "--ranges",
            help="calibration: calibrated parameters over their calibration bounds, the "
            "others ×/÷ --range-factor; factor: every parameter ×/÷ --range-factor.",
        ),
    ] = "factor",
    population: Annotated[
        str,
        typer.Option(
            "--population",
            help="fixed: the patients enrolled under the preset, parameters applied from "
            "day 0; rebuild: the population rebuilt under every parameter set (as the "
            "calibration; fails where too few are eligible).",
        ),
    ] = "fixed",
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Global sensitivity of one protocol endpoint to the human model's parameters."""
    from lupusim.sensitivity._run import SensitivityOptions, run_sensitivity

    opts = SensitivityOptions(
        protocol=protocol,
        out=out,
        endpoint=endpoint,
        arm=arm,
        contrast=contrast,
        method=method,  # type: ignore[arg-type]  # checked by run_sensitivity
        parameters=_names(parameters),
        groups=_names(groups),
        trajectories=trajectories,
        samples=samples,
        subjects=subjects,
        seed=seed,
        workers=workers,
        top=top_k,
        range_factor=range_factor,
        ranges=ranges,  # type: ignore[arg-type]  # checked by select_factors
        population=population,  # type: ignore[arg-type]  # checked by run_sensitivity
        progress=progress,
    )
    summary = run_sensitivity(opts, log=typer.echo)
    typer.echo(
        f"{summary['evaluations']['total']} evaluations in {summary['seconds']['total']:.0f} s; "
        f"wrote {out / 'indices.parquet'}, {out / 'summary.json'}, {out / 'report.html'}"
    )
