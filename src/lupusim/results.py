"""The results store of a virtual-trial run: one DuckDB file, ``results.duckdb``.

:mod:`lupusim.trial` writes it (subjects, parameters, visits, scores, outcomes, status,
trajectories); :func:`read_table` reads one table back for users, the trial analysis and
the trial report. The module imports nothing else of lupusim but its errors, so the
report layer can read a run without importing the simulator.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lupusim.errors import LupusimError

RESULTS_DB = "results.duckdb"


def read_table(out_dir: str | Path, name: str) -> pd.DataFrame:
    """One table of ``out_dir/results.duckdb`` as a DataFrame.

    Raises :class:`~lupusim.errors.LupusimError` when the database is missing and
    ``duckdb.Error`` when the table cannot be read.
    """
    import duckdb

    path = Path(out_dir) / RESULTS_DB
    if not path.exists():
        raise LupusimError(f"{path}: no results database (run `lupusim trial run` first)")
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {name}").df()
    finally:
        con.close()
