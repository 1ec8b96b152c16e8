"""The ``lupusim`` command line: a thin layer over the library.

Every command that writes results writes ``summary.json``, ``report.html`` and
``manifest.json`` into its output folder, and exits non-zero with a one-line reason on
failure (../shared/DESIGN.md, "Command line").
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from lupusim.calibrate.cli import calibrate_app
from lupusim.clinical.cli import score_command
from lupusim.errors import LupusimError, one_line
from lupusim.sensitivity.cli import sensitivity_command
from lupusim.trial.cli import PosteriorOption, trial_app

app = typer.Typer(
    name="lupusim",
    help="In-silico trials of lupus: MSC infusion versus immunosuppression.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

KNOWN_STUDIES = ("sun2009",)


@app.command("reproduce")
def reproduce_command(
    study: Annotated[str, typer.Argument(help="Published study to reproduce: sun2009.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (created).")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 20090601,
    per_group: Annotated[
        int, typer.Option("--per-group", help="Virtual mice per group (mouse part).", min=1)
    ] = 200,  # sun2009._mouse.DEFAULT_PER_GROUP (tests/test_sun2009_seeds.py checks)
    replicates: Annotated[
        int,
        typer.Option(
            "--replicates", help="Stochastic replicates per patient (10-year projection).", min=1
        ),
    ] = 200,
    reinfuse_on_relapse: Annotated[
        bool,
        typer.Option(
            "--reinfuse-on-relapse/--no-reinfuse-on-relapse",
            help="Re-infuse MSC when a patient relapses during the projection.",
        ),
    ] = False,
    condition_on_course: Annotated[
        bool,
        typer.Option(
            "--condition-on-course/--prior-draw",
            help="Choose P1-P4 among virtual patients whose 18-month course matches the "
            "published one (default), or take the first prior draw meeting inclusion.",
        ),
    ] = True,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes (0 = one per core).", min=0)
    ] = 0,
    uncertainty: Annotated[
        int,
        typer.Option(
            "--uncertainty",
            help="Also rerun the 10-year projection under K parameter sets of the "
            "calibration's posterior (model 90 % intervals).",
            min=0,
        ),
    ] = 0,
    uncertainty_replicates: Annotated[
        int,
        typer.Option(
            "--uncertainty-replicates", help="Replicates per patient in each rerun.", min=1
        ),
    ] = 25,
    posterior: PosteriorOption = None,
) -> None:
    """Reproduce a published study's experiments and write summary, trajectories, report."""
    if study not in KNOWN_STUDIES:
        raise LupusimError(f"unknown study {study!r}; known: {', '.join(KNOWN_STUDIES)}")
    from lupusim.studies.sun2009 import Sun2009Options, reproduce

    reproduce(
        Sun2009Options(
            out_dir=out,
            seed=seed,
            per_group=per_group,
            replicates=replicates,
            reinfuse_on_relapse=reinfuse_on_relapse,
            condition_on_course=condition_on_course,
            workers=workers,
            uncertainty=uncertainty,
            uncertainty_replicates=uncertainty_replicates,
            posterior=posterior,
        )
    )


app.command("score")(score_command)
app.add_typer(trial_app, name="trial")
app.add_typer(calibrate_app, name="calibrate")
app.command("sensitivity")(sensitivity_command)

export_app = typer.Typer(help="Export the model to exchange formats.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("sbml")
def export_sbml_command(
    out: Annotated[Path, typer.Option("--out", help="SBML file to write.")],
    preset: Annotated[
        str, typer.Option("--preset", help="mrl_lpr, healthy_strain, mrl_lpr_msc_restored, human.")
    ] = "human",
) -> None:
    """Write the model (one preset's default subject) as SBML Level 3 Version 2."""
    from lupusim.io import export_sbml
    from lupusim.model import PRESET_NAMES

    if preset not in PRESET_NAMES:
        raise LupusimError(f"unknown preset {preset!r}; known: {', '.join(PRESET_NAMES)}")
    path = export_sbml(preset, out)
    typer.echo(f"wrote {path}")


@export_app.command("petab")
def export_petab_command(
    out: Annotated[Path, typer.Option("--out", help="Output folder (created).")],
    problem: Annotated[
        str, typer.Option("--problem", help="Calibration problem to export: human_soc.")
    ] = "human_soc",
) -> None:
    """Write a calibration problem as PEtab v1 (SBML model, tables, YAML, README)."""
    from lupusim.studies.sun2009 import export_petab

    path = export_petab(out, problem)
    typer.echo(f"wrote {path}")


@app.command("version")
def version_command() -> None:
    """Print the installed lupusim version."""
    from lupusim import __version__

    typer.echo(__version__)


def main() -> None:
    """Entry point: run the app, turning expected failures into one-line errors."""
    try:
        app(standalone_mode=False)
    except LupusimError as exc:
        typer.echo(f"lupusim: error: {one_line(str(exc))}", err=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("lupusim: aborted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        # Usage errors of the (possibly vendored) click underneath typer.
        format_message = getattr(exc, "format_message", None)
        if callable(format_message) and hasattr(exc, "exit_code"):
            message = one_line(str(format_message()))
            typer.echo(f"lupusim: error: {message}", err=True)
            sys.exit(int(getattr(exc, "exit_code", 2)) or 2)
        raise


if __name__ == "__main__":  # pragma: no cover
    main()
