"""Streaming simulation: subjects in chunks, each chunk handed to a sink and dropped.

Peak memory then depends on the chunk size, not on N (issue 5: "memory flat as N
grows"). Results are identical to one :func:`simulate` call, since every subject is
integrated independently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from lupusim.engine._result import SimulationResult
from lupusim.engine._simulate import Backend, Regimen, simulate
from lupusim.engine._solver import SolverOptions
from lupusim.model._spec import ModelSpec

ChunkSink = Callable[[int, SimulationResult], None]


def simulate_streaming(
    model: ModelSpec,
    parameters: np.ndarray,
    y0: np.ndarray,
    regimens: Sequence[Regimen],
    times: np.ndarray,
    sink: ChunkSink,
    *,
    chunk_size: int = 2000,
    options: SolverOptions | None = None,
    workers: int = 1,
    backend: Backend = "lsoda",
    progress: bool | str = False,
) -> dict[str, int]:
    """Simulate ``N`` subjects ``chunk_size`` at a time; ``sink(first_index, result)``
    receives each chunk's result. Returns counts of subjects and failures."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    n = len(regimens)
    if len(parameters) != n or len(y0) != n:
        raise ValueError("parameters, y0 and regimens must have one row per subject")
    failed = 0
    for start in range(0, n, chunk_size):
        stop = min(n, start + chunk_size)
        result = simulate(
            model,
            parameters[start:stop],
            y0[start:stop],
            regimens[start:stop],
            times,
            options=options,
            workers=workers,
            backend=backend,
            progress=f"{progress} {start + 1}-{stop}/{n}"
            if isinstance(progress, str)
            else progress,
        )
        failed += int((~result.ok).sum())
        sink(start, result)
        del result
    return {"subjects": n, "failed": failed}
