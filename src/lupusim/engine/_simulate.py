"""``simulate``: N subjects at once, each with its own parameters and regimen."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from lupusim.engine._events import Event, Policy
from lupusim.engine._result import SimulationResult
from lupusim.engine._solver import SolverOptions, SubjectOutcome, integrate_subject
from lupusim.engine._threads import MAX_CHUNK_SUBJECTS, chunk_size, map_chunks
from lupusim.errors import SimulationError
from lupusim.model._codegen import CompiledModel, compile_model
from lupusim.model._spec import ModelSpec

Backend = Literal["lsoda", "rodas5p", "rodas4", "rodas5p-cuda", "rodas4-cuda"]
BACKENDS: tuple[str, ...] = ("lsoda", "rodas5p", "rodas4", "rodas5p-cuda", "rodas4-cuda")
RODAS_POLICY_CHUNK = 256


class Regimen(Protocol):
    """What the engine needs of a treatment regimen (see :mod:`lupusim.treatments`)."""

    def events(self, model: ModelSpec, parameters: np.ndarray) -> list[Event]: ...

    @property
    def policies(self) -> tuple[Policy, ...]: ...


@dataclass(frozen=True)
class _Task:
    model: ModelSpec
    parameters: np.ndarray
    y0: np.ndarray
    times: np.ndarray
    events: tuple[tuple[Event, ...], ...]
    policies: tuple[tuple[Policy, ...], ...]
    options: SolverOptions
    start: int


def _run_chunk(task: _Task) -> tuple[int, list[SubjectOutcome]]:
    compiled = compile_model(task.model)
    outcomes = [
        integrate_subject(
            compiled,
            task.parameters[i],
            task.y0[i],
            task.times,
            task.events[i],
            task.policies[i],
            task.options,
        )
        for i in range(task.parameters.shape[0])
    ]
    return task.start, outcomes


def _run_cuda(
    compiled: CompiledModel,
    params: np.ndarray,
    init: np.ndarray,
    grid: np.ndarray,
    events: tuple[tuple[Event, ...], ...],
    opts: SolverOptions,
    method: str,
    indices: list[int],
    outcomes: list[SubjectOutcome | None],
) -> None:
    """All ``indices`` in one launch of the CUDA kernel (one thread per subject)."""
    from lupusim.engine._rodas_gpu import (
        cuda_available,
        integrate_batch_rodas_cuda,
        simulator_enabled,
    )

    if not indices:
        return
    if not (cuda_available() or simulator_enabled()):
        raise SimulationError(
            f"backend {method}-cuda needs a CUDA GPU usable by numba.cuda; none was found "
            f"(use backend={method!r} on the CPU)"
        )
    outs = integrate_batch_rodas_cuda(
        compiled,
        params[indices],
        init[indices],
        grid,
        [events[i] for i in indices],
        opts,
        method=method,
    )
    for i, out in zip(indices, outs, strict=True):
        outcomes[i] = out


def _run_rodas(
    compiled: CompiledModel,
    params: np.ndarray,
    init: np.ndarray,
    grid: np.ndarray,
    events: tuple[tuple[Event, ...], ...],
    opts: SolverOptions,
    method: str,
    indices: list[int],
    n_threads: int,
    outcomes: list[SubjectOutcome | None],
    advance: Callable[[int], None],
    policies: tuple[tuple[Policy, ...], ...] | None = None,
) -> None:
    """Chunks of ``indices`` on ``n_threads`` threads, one thread per chunk."""
    from lupusim.engine._rodas import integrate_batch_rodas
    from lupusim.engine._rodas_policies import integrate_batch_rodas_policies

    def chunk(a: int, b: int) -> list[SubjectOutcome]:
        idx = indices[a:b]
        subjects = (compiled, params[idx], init[idx], grid, [events[i] for i in idx])
        if policies is None:
            return integrate_batch_rodas(*subjects, opts, method=method, threads=1)
        rules = [policies[i] for i in idx]
        return integrate_batch_rodas_policies(*subjects, rules, opts, method=method, threads=1)

    # relapse rules step all of a chunk's subjects between check times: larger chunks
    # amortise the per-segment Python work
    largest = RODAS_POLICY_CHUNK if policies is not None else MAX_CHUNK_SUBJECTS
    size = chunk_size(len(indices), n_threads, largest)
    outs = map_chunks(chunk, len(indices), n_threads, chunk=size, done=advance)
    for i, out in zip(indices, outs, strict=True):
        outcomes[i] = out


def _chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(n, start + size)


def default_workers() -> int:
    """One worker per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def simulate(
    model: ModelSpec,
    parameters: np.ndarray,
    y0: np.ndarray,
    regimens: Sequence[Regimen],
    times: np.ndarray,
    *,
    options: SolverOptions | None = None,
    workers: int = 1,
    chunk_size: int = 64,
    progress: bool | str = False,
    backend: Backend = "lsoda",
) -> SimulationResult:
    """Simulate ``N`` subjects on the output grid ``times`` (days).

    Parameters
    ----------
    model: the symbolic model (compiled on first use, cached on disk).
    parameters: ``(N, P)`` values in the order of ``model.parameters``.
    y0: ``(N, S)`` initial states at ``times[0]``.
    regimens: one per subject; its events act at their exact times.
    workers: processes to use (0 = one per core). Results do not depend on it.
    progress: show a progress bar (a string gives its label).
    backend: ``"lsoda"`` (scipy's ODEPACK LSODA per subject, the reference) or a
        Rosenbrock method compiled with numba, ``"rodas5p"`` or ``"rodas4"``
        (:mod:`lupusim.engine._rodas`), which runs subjects on ``workers`` threads.
        Subjects whose regimen has policies are integrated segment by segment between
        policy check times (:mod:`lupusim.engine._rodas_policies`). ``"rodas5p-cuda"`` /
        ``"rodas4-cuda"`` run the subjects without policies on a CUDA GPU, one thread per
        subject (:mod:`lupusim.engine._rodas_gpu`; an error without a GPU), and those with
        policies on the CPU Rosenbrock.

    Every subject gets a status; a failed subject keeps NaN after its failure time and
    is reported in ``result.status``/``result.messages``, never silently dropped.
    """
    opts = options or SolverOptions()
    params = np.atleast_2d(np.asarray(parameters, dtype=float))
    init = np.atleast_2d(np.asarray(y0, dtype=float))
    grid = np.asarray(times, dtype=float)
    n = params.shape[0]
    if params.shape[1] != len(model.parameters):
        raise ValueError(f"parameters must have {len(model.parameters)} columns")
    if init.shape != (n, len(model.states)):
        raise ValueError(f"y0 must have shape ({n}, {len(model.states)}), got {init.shape}")
    if len(regimens) != n:
        raise ValueError(f"need one regimen per subject ({n}), got {len(regimens)}")
    if grid.ndim != 1 or len(grid) < 2 or np.any(np.diff(grid) <= 0):
        raise ValueError("times must be a strictly increasing 1-D grid of at least 2 points")
    if not np.all(np.isfinite(params)):
        bad = int(np.argwhere(~np.isfinite(params))[0][0])
        raise ValueError(f"non-finite parameter for subject {bad}")
    events = tuple(tuple(r.events(model, params[i])) for i, r in enumerate(regimens))
    policies = tuple(tuple(r.policies) for r in regimens)

    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    n_workers = default_workers() if workers == 0 else workers
    size = max(1, min(chunk_size, -(-n // max(1, n_workers))))
    tasks = [
        _Task(model, params[a:b], init[a:b], grid, events[a:b], policies[a:b], opts, a)
        for a, b in _chunks(n, size)
    ]
    outcomes: list[SubjectOutcome | None] = [None] * n
    label = progress if isinstance(progress, str) else "simulating"
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} subjects"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not progress,
        transient=False,
    )
    compiled = compile_model(model)  # compile once before forking
    with bar:
        tid = bar.add_task(label, total=n)
        if backend.endswith("-cuda"):
            method = backend.removesuffix("-cuda")
            plain = [i for i in range(n) if not policies[i]]
            _run_cuda(compiled, params, init, grid, events, opts, method, plain, outcomes)
            bar.advance(tid, len(plain))
            # relapse rules run in Python between check times: on the CPU Rosenbrock
            _run_rodas(
                compiled,
                params,
                init,
                grid,
                events,
                opts,
                method,
                [i for i in range(n) if policies[i]],
                n_workers,
                outcomes,
                lambda k: bar.advance(tid, k),
                policies=policies,
            )
            tasks = []
        elif backend != "lsoda":
            # subjects without relapse rules in one batch kernel; those with rules segment
            # by segment between their check times
            for with_rules in (False, True):
                _run_rodas(
                    compiled,
                    params,
                    init,
                    grid,
                    events,
                    opts,
                    backend,
                    [i for i in range(n) if bool(policies[i]) == with_rules],
                    n_workers,
                    outcomes,
                    lambda k: bar.advance(tid, k),
                    policies=policies if with_rules else None,
                )
            tasks = []
        if not tasks:
            pass
        elif n_workers <= 1 or len(tasks) == 1:
            for task in tasks:
                start, outs = _run_chunk(task)
                outcomes[start : start + len(outs)] = outs
                bar.advance(tid, len(outs))
        else:
            ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context("spawn")
            with ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx) as pool:
                futures = [pool.submit(_run_chunk, t) for t in tasks]
                for fut in as_completed(futures):
                    start, outs = fut.result()
                    outcomes[start : start + len(outs)] = outs
                    bar.advance(tid, len(outs))
    done = [o for o in outcomes if o is not None]
    if len(done) != n:  # pragma: no cover - defensive
        raise RuntimeError("a worker returned no result for some subjects")
    return SimulationResult.from_outcomes(model, grid, params, done)
