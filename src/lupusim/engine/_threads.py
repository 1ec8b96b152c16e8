"""Chunks of subjects on Python threads around GIL-free (``nogil``) numba kernels.

The Rosenbrock kernels release the GIL, so plain Python threads run them on several
cores at once. Each thread takes the next chunk of subjects when it finishes one
(dynamic load balancing: subjects differ in cost), and the Python work of
a chunk (its event arrays, its outcomes) overlaps the other threads' kernels.

This replaced a ``numba.prange`` loop over batches of 256 subjects (OpenMP's static
split waits for the slower half of every batch, and both cores idle while Python
prepares the next batch). Measured on the 2-core VM, human model, 4,000 subjects ×
2 years, Rodas5P at rtol 1e-6, ``simulate(..., workers=2)``, 8 alternating runs of each:
prange 1,237–1,933 (median 1,388) subject-years/s per core, threads 1,417–1,860 (median
1,679). Two threads stay below twice one thread's rate (~0.8 of it) on that VM, as do two
separate single-thread processes (each ~0.85 of its rate alone): the shortfall is the
machine's, not the threading's.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

T = TypeVar("T")

MAX_CHUNK_SUBJECTS = 64
"""Largest chunk: ~0.05 s of one core for 2-year human subjects at rtol 1e-6."""


def chunk_size(n: int, threads: int, largest: int = MAX_CHUNK_SUBJECTS) -> int:
    """Subjects per chunk: at least 4 chunks per thread, at most ``largest`` subjects."""
    return max(1, min(largest, -(-n // (4 * max(1, threads)))))


def map_chunks(
    work: Callable[[int, int], list[T]],
    n: int,
    threads: int,
    *,
    chunk: int | None = None,
    done: Callable[[int], None] | None = None,
) -> list[T]:
    """``work(a, b)`` for consecutive chunks ``[a, b)`` of ``range(n)``, concatenated in order.

    ``threads`` Python threads take chunks as they finish (one thread: in this thread,
    no pool). ``done(k)`` is called, in the calling thread, with the size of each
    finished chunk (progress bars). Results do not depend on ``threads`` as long as
    ``work`` treats subjects independently. The first exception raised by a chunk is
    re-raised; chunks not yet started are cancelled.
    """
    if n == 0:
        return []
    size = chunk if chunk is not None else chunk_size(n, threads)
    bounds = [(a, min(n, a + size)) for a in range(0, n, size)]
    parts: list[list[T] | None] = [None] * len(bounds)
    if threads <= 1 or len(bounds) == 1:
        for j, (a, b) in enumerate(bounds):
            parts[j] = work(a, b)
            if done is not None:
                done(b - a)
    else:
        with ThreadPoolExecutor(max_workers=min(threads, len(bounds))) as pool:
            futures = {pool.submit(work, a, b): j for j, (a, b) in enumerate(bounds)}
            try:
                for fut in as_completed(futures):
                    j = futures[fut]
                    parts[j] = fut.result()
                    if done is not None:
                        done(bounds[j][1] - bounds[j][0])
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
    out: list[T] = []
    for part in parts:
        assert part is not None
        out.extend(part)
    return out
