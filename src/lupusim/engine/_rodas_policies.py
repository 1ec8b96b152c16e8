"""Rosenbrock integration of subjects whose regimen has policies (relapse rules).

Policies are Python objects evaluated at check times, so the compiled batch kernel
(:func:`lupusim.engine._rodas.integrate_batch_rodas`) is called segment by segment
between the union of the batch's check times. At each boundary, in Python, exactly as
the LSODA backend (:func:`lupusim.engine._solver.integrate_subject`) does: the events
due at that time are applied, then the subject's policies (if it is one of its check
times) see the state and may schedule events, those due now act now, and an output at
the boundary shows the state after them (right-continuous). The piecewise-constant
inputs are carried into the next segment as rate changes at its start.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lupusim.engine._events import Bolus, Event, Policy, RateChange
from lupusim.engine._rodas import DEFAULT_METHOD, integrate_batch_rodas
from lupusim.engine._solver import STATUS_OK, SolverOptions, SubjectOutcome
from lupusim.model._codegen import CompiledModel

_CARRY = "__carry_input__"


def _observe(
    model: CompiledModel,
    policies: Sequence[Policy],
    t: float,
    y: np.ndarray,
    p: np.ndarray,
    u: np.ndarray,
) -> dict[str, float]:
    needed = {n for pol in policies for n in getattr(pol, "needs", ())}
    if needed and all(isinstance(n, str) for n in needed):
        return {n: model.observable_at(n, t, y, p, u) for n in needed}
    arrays = model.observables(np.asarray(t), y[None, :], p[None, :], u[None, :])
    return {k: float(v.reshape(-1)[0]) for k, v in arrays.items()}


def integrate_batch_rodas_policies(
    model: CompiledModel,
    parameters: np.ndarray,
    y0: np.ndarray,
    times: np.ndarray,
    events_per_subject: Sequence[Sequence[Event]],
    policies_per_subject: Sequence[Sequence[Policy]],
    options: SolverOptions | None = None,
    *,
    method: str = DEFAULT_METHOD,
    threads: int | None = None,
) -> list[SubjectOutcome]:
    """Integrate ``N`` subjects with policies; same semantics as the LSODA backend.

    ``threads``: as in :func:`~lupusim.engine._rodas.integrate_batch_rodas`, for each
    segment's batch.
    """
    opts = options or SolverOptions()
    spec = model.spec
    grid = np.asarray(times, dtype=float)
    params = np.atleast_2d(np.asarray(parameters, dtype=float))
    n = params.shape[0]
    n_s, n_u = len(spec.states), len(spec.inputs)
    t0, t_end = float(grid[0]), float(grid[-1])
    pending: list[list[Event]] = []
    for evs in events_per_subject:
        ordered = sorted((e for e in evs if e.time_days <= t_end), key=lambda e: e.time_days)
        if ordered and ordered[0].time_days < t0:
            raise ValueError(f"event before the start time {t0}: {ordered[0]}")
        pending.append(ordered)
    memories = [[pol.initial_memory() for pol in pols] for pols in policies_per_subject]
    checks = [
        {float(c) for pol in pols for c in pol.check_times(t0, t_end)}
        for pols in policies_per_subject
    ]
    bounds = sorted({c for cs in checks for c in cs if t0 < c < t_end} | {t_end})
    grid_index = {float(t): k for k, t in enumerate(grid)}

    outcomes = [
        SubjectOutcome(
            states=np.full((len(grid), n_s), np.nan), inputs=np.full((len(grid), n_u), np.nan)
        )
        for _ in range(n)
    ]
    y = np.array(np.atleast_2d(y0), dtype=float)
    u = np.zeros((n, n_u))
    active = np.ones(n, dtype=bool)

    def apply_due(i: int, t: float) -> None:
        due = [e for e in pending[i] if e.time_days == t]
        if not due:
            return
        pending[i] = [e for e in pending[i] if e.time_days != t]
        for ev in due:
            if isinstance(ev, Bolus):
                y[i, spec.state_index(ev.state)] += ev.amount
            elif isinstance(ev, RateChange):
                u[i, spec.input_index(ev.input)] += ev.delta
            outcomes[i].applied_events.append(ev)

    def boundary(i: int, t: float) -> None:
        apply_due(i, t)
        pols = policies_per_subject[i]
        if pols and t in checks[i]:
            obs = _observe(model, pols, t, y[i], params[i], u[i])
            for pol, mem in zip(pols, memories[i], strict=True):
                new = pol.decide(t, obs, mem, spec, params[i])
                for ev in new:
                    if ev.time_days < t:
                        raise ValueError(f"policy {pol!r} scheduled an event in the past: {ev}")
                pending[i] = sorted(
                    pending[i] + [e for e in new if e.time_days <= t_end],
                    key=lambda e: e.time_days,
                )
            apply_due(i, t)
        k = grid_index.get(t)
        if k is not None:
            outcomes[i].states[k] = y[i]
            outcomes[i].inputs[k] = u[i]

    for i in range(n):
        boundary(i, t0)
    a = t0
    for b in bounds:
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        inner = grid[(grid > a) & (grid < b)]
        seg = np.concatenate(([a], inner, [b]))
        seg_events: list[list[Event]] = []
        for i in idx.tolist():
            carry: list[Event] = [
                RateChange(a, spec.inputs[j].name, float(u[i, j]), _CARRY)
                for j in range(n_u)
                if u[i, j] != 0.0
            ]
            seg_events.append(carry + [e for e in pending[i] if a < e.time_days < b])
        outs = integrate_batch_rodas(
            model, params[idx], y[idx], seg, seg_events, opts, method=method, threads=threads
        )
        first_inner = int(np.searchsorted(grid, a, side="right"))
        for i, out in zip(idx.tolist(), outs, strict=True):
            o = outcomes[i]
            if len(inner):
                o.states[first_inner : first_inner + len(inner)] = out.states[1:-1]
                o.inputs[first_inner : first_inner + len(inner)] = out.inputs[1:-1]
            inside = [e for e in out.applied_events if e.label != _CARRY]
            o.applied_events.extend(inside)
            applied_ids = {id(e) for e in inside}
            pending[i] = [e for e in pending[i] if id(e) not in applied_ids]
            if out.status != STATUS_OK:
                o.status, o.message, o.failed_at_day = out.status, out.message, out.failed_at_day
                active[i] = False
                continue
            y[i] = out.states[-1]
            u[i] = out.inputs[-1]
            boundary(i, b)
        a = b
    return outcomes
