"""``lupusim score``: score a visit table (or SDTM folder) with the clinical instruments.

Thin layer: reads the inputs through the library, scores them, and writes ``scores.csv``,
``adam.csv``, ``summary.json``, ``report.html`` and ``manifest.json`` atomically into
``--out``. Bad input raises :class:`~lupusim.errors.InputError`, which the ``lupusim``
command turns into a one-line error and exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lupusim.clinical._ranges import ranges_from_options
from lupusim.clinical.load import load_visits
from lupusim.clinical.output import load_config, write_outputs
from lupusim.clinical.score import score_visits
from lupusim.clinical.sdtm import read_sdtm
from lupusim.errors import InputError


def score_command(
    out: Annotated[Path, typer.Option("--out", help="Output folder (created).")],
    visits: Annotated[
        Path | None,
        typer.Argument(
            metavar="VISITS",
            help="Visit table (CSV or Parquet); a folder is read as SDTM. Optional with --sdtm.",
            show_default=False,
        ),
    ] = None,
    subjects: Annotated[
        Path | None, typer.Option("--subjects", help="Subjects table joined on subject_id.")
    ] = None,
    events: Annotated[
        Path | None, typer.Option("--events", help="Dated events table for SLEDAI windows.")
    ] = None,
    sdtm: Annotated[
        Path | None, typer.Option("--sdtm", help="CDISC SDTM folder (DM, LB, VS, CM, RS/QS).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML or JSON file of scoring knobs.")
    ] = None,
    range_: Annotated[
        list[str] | None,
        typer.Option(
            "--range",
            metavar="NAME=LOW:HIGH",
            help="Replace the plausible range of a number (repeatable), e.g. "
            "upcr_g_per_g=0:80; reported in summary.json.",
        ),
    ] = None,
) -> None:
    """Score visits with SLEDAI-2K, renal response, SRI, BICLA, LLDAS, DORIS, SFI, SDI."""
    cfg = load_config(config)
    ranges = ranges_from_options(range_ or ())
    if visits is not None and visits.is_dir():
        if sdtm is not None and sdtm.resolve() != visits.resolve():
            raise InputError("give the SDTM folder once (VISITS or --sdtm)", file=str(visits))
        sdtm, visits = visits, None
    if visits is not None and sdtm is not None:
        raise InputError("give a visit table or --sdtm, not both", file=str(visits))
    if sdtm is not None:
        table = read_sdtm(sdtm, upcr_mgmmol_convention=cfg.upcr_mgmmol_convention, ranges=ranges)
        data = load_visits(
            table,
            subjects,
            events,
            upcr_mgmmol_convention=cfg.upcr_mgmmol_convention,
            ranges=ranges,
            visits_name=f"{sdtm} (visit table built from SDTM)",
        )
        data.sources["visits"] = str(sdtm)
    elif visits is not None:
        data = load_visits(
            visits,
            subjects,
            events,
            upcr_mgmmol_convention=cfg.upcr_mgmmol_convention,
            ranges=ranges,
        )
    else:
        raise InputError("missing VISITS (a visit table) or --sdtm DIR")
    result = score_visits(data, cfg)
    write_outputs(result, out, config)
    typer.echo(
        f"scored {result.summary['n_visits']} visit(s) of {result.summary['n_subjects']} "
        f"subject(s) -> {out}"
    )
