"""``lupusim calibrate human``: refit the human model to its declared target rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

calibrate_app = typer.Typer(help="Fit model parameters to published targets.", no_args_is_help=True)


@calibrate_app.command("human")
def human_command(
    out: Annotated[Path, typer.Option("--out", help="Output folder (created).")],
    quick: Annotated[
        bool, typer.Option("--quick", help="Few subjects and evaluations (a smoke run, CI).")
    ] = False,
    evaluations: Annotated[
        int | None,
        typer.Option("--evaluations", help="Objective evaluations (default: the spec's).", min=0),
    ] = None,
    install: Annotated[
        bool,
        typer.Option(
            "--install",
            help="Also write the fitted values into the package data (used by every run).",
        ),
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", help="Threads per simulation (0 = all cores).", min=0)
    ] = 1,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Refit the human model to the control-arm and MSC-cohort targets (calibrate/data/human.yaml);
    write calibration_human.json, gof.csv and gof.png into --out."""
    from lupusim.calibrate._human import calibrate_human
    from lupusim.calibrate._spec import human_spec

    spec = human_spec()
    total = (
        evaluations
        if evaluations is not None
        else (spec.quick_evaluations if quick else spec.evaluations)
    )
    if progress:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with bar:
            task = bar.add_task("fitting", total=total + 1)

            def tick(i: int, loss: float) -> None:
                bar.update(task, completed=i, description=f"fitting (loss {loss:.1f})")

            result = calibrate_human(
                out,
                quick=quick,
                max_evaluations=evaluations,
                workers=workers,
                install=install,
                on_evaluation=tick,
            )
    else:
        result = calibrate_human(
            out, quick=quick, max_evaluations=evaluations, workers=workers, install=install
        )
    used = f"{result.evaluations} of {result.budget} objective evaluations"
    if result.evaluations < result.budget:
        used += " (the optimiser met its tolerance before the budget)"
    typer.echo(
        f"{result.within} of {result.rows} target rows within their published interval "
        f"({result.seconds:.0f} s, {used}); wrote {out / 'calibration_human.json'}, "
        f"{result.gof_path}, {out / 'gof.png'}"
    )


@calibrate_app.command("posterior")
def posterior_command(
    out: Annotated[Path, typer.Option("--out", help="Output folder (created).")],
    draws: Annotated[
        int, typer.Option("--draws", help="Parameter sets drawn from the posterior.", min=1)
    ] = 200,
    quick: Annotated[
        bool, typer.Option("--quick", help="The spec's quick subject count (a smoke run, CI).")
    ] = False,
    install: Annotated[
        bool,
        typer.Option(
            "--install",
            help="Also write the posterior into the package data (docs/model.md labels).",
        ),
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", help="Threads per simulation (0 = all cores).", min=0)
    ] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the posterior draws.")] = 0,
    check: Annotated[
        int,
        typer.Option(
            "--check",
            help="Also evaluate the objective at N draws: Pareto-smoothed importance "
            "sampling diagnostic of the approximation (k-hat, effective sample size, "
            "reweighted intervals); one evaluation per draw.",
            min=0,
        ),
    ] = 0,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Laplace posterior and identifiability of the installed human fit: one evaluation
    of the calibration objective per free parameter; write posterior_human.json and
    identifiability.png into --out."""
    from lupusim.calibrate._human import free_parameters, human_posterior
    from lupusim.calibrate._spec import human_spec
    from lupusim.progress import OptionalProgress

    with OptionalProgress(progress) as shown:
        on_evaluation: Callable[[int, float], None] | None = None
        if shown.bar is not None:
            bar = shown.bar
            total = len(free_parameters(human_spec())) + 1 + check
            task = bar.add_task("Jacobian and check", total=total)

            def tick(i: int, loss: float) -> None:
                bar.update(task, completed=i)

            on_evaluation = tick
        result = human_posterior(
            out,
            draws=draws,
            quick=quick,
            workers=workers,
            install=install,
            seed=seed,
            check=check,
            on_evaluation=on_evaluation,
        )
    labels = result.posterior.labels()
    counts = {k: sum(v == k for v in labels.values()) for k in sorted(set(labels.values()))}
    typer.echo(
        ", ".join(f"{v} {k}" for k, v in counts.items())
        + f" of {len(labels)} parameters ({result.seconds:.0f} s); wrote {result.path}, "
        f"{out / 'identifiability.png'}"
    )
    checked = json.loads(result.path.read_text()).get("check")
    if checked is not None:
        k = checked["pareto_k"]
        typer.echo(
            f"importance check at {check} draws: Pareto k-hat "
            f"{'NA' if k is None else f'{k:.2f}'} ({checked['verdict']}), effective sample "
            f"size {checked['effective_sample_size']:.1f}"
        )
