"""Long-format trajectory files written chunk by chunk (Parquet row groups)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from lupusim.engine import SimulationResult

SCHEMA = pa.schema(
    [
        ("group", pa.string()),
        ("subject", pa.string()),
        ("time_days", pa.float64()),
        ("variable", pa.string()),
        ("value", pa.float64()),
    ]
)


class ParquetTrajectorySink:
    """A sink for :func:`lupusim.engine.simulate_streaming`: appends each chunk's
    observables (``variables``) as long-format rows
    ``group, subject, time_days, variable, value`` to one Parquet file."""

    def __init__(
        self,
        path: Path,
        variables: Sequence[str],
        subject_ids: Sequence[str],
        group: str = "",
    ) -> None:
        self.path = Path(path)
        self.variables = tuple(variables)
        self.subject_ids = list(subject_ids)
        self.group = group
        self.rows = 0
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(self.path, SCHEMA)

    def __call__(self, first_index: int, result: SimulationResult) -> None:
        if self._writer is None:
            raise ValueError(f"{self.path} is closed")
        obs = result.observables()
        unknown = [v for v in self.variables if v not in obs]
        if unknown:
            raise KeyError(f"unknown observables {unknown}")
        n, t = result.n_subjects, len(result.times)
        ids = np.asarray(self.subject_ids[first_index : first_index + n], dtype=object)
        columns = {
            "group": np.full(n * t * len(self.variables), self.group, dtype=object),
            "subject": np.tile(np.repeat(ids, t), len(self.variables)),
            "time_days": np.tile(result.times, n * len(self.variables)),
            "variable": np.repeat(np.asarray(self.variables, dtype=object), n * t),
            "value": np.concatenate([obs[v].reshape(-1) for v in self.variables]),
        }
        self._writer.write_table(pa.table(columns, schema=SCHEMA))
        self.rows += n * t * len(self.variables)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> ParquetTrajectorySink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
