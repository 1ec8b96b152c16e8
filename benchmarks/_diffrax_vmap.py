"""A lupusim model with doses, solved by diffrax (JAX) vmapped over subjects.

Shared by ``bench_gpu.py`` and ``bench_engines.py``; a benchmark helper, not part of
lupusim. JAX and diffrax are imported only when a :class:`VmappedDiffrax` is built
(``ImportError`` then if they are missing), so importing this module needs neither.

Method: ``jax.vmap`` over subjects of ``diffrax.diffeqsolve`` with Kvaerno5 (ESDIRK,
order 5; diffrax has no Rosenbrock method of order > 3) and a PID controller at
``rtol``/``atol`` with ``dtmax`` = ``hmax``, at most ``max_steps`` steps per piece. The
right-hand side is the model's sympy rates lambdified for JAX (:meth:`VmappedDiffrax.rhs`
evaluates it, to check it against the numba one). Doses: the horizon is cut at the union
of all subjects' event times (:func:`cut`); each piece is one ``diffeqsolve``, the same
jitted function for every piece (traced ``t0, t1``; the piece's output times padded to a
fixed length with ``t1``), and between pieces each subject's boluses are added to its
states and its rate changes to its inputs. An output at an event time shows the state
after the event (right-continuous), as in lupusim. Compilation (AOT
``lower().compile()``, one executable per batch shape, cached) is timed apart from the
run.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from lupusim.engine import Event
    from lupusim.model import ModelSpec

SOLVER = "Kvaerno5 (ESDIRK 5(4)), PIDController(rtol, atol, dtmax=hmax)"
DOSES = "piecewise diffeqsolve between the union of event times; jumps between"


@dataclass(frozen=True)
class Pieces:
    """The output grid cut into pieces at event times.

    ``bounds`` are ``times[0]``, the event times strictly inside the horizon and
    ``times[-1]``; piece ``k`` runs from ``bounds[k]`` to ``bounds[k + 1]`` and reports the
    output times ``outputs[k]`` in ``(bounds[k], bounds[k + 1]]``, padded to ``width``
    with ``bounds[k + 1]`` in ``ts[k]`` (so every piece has the same shape).
    """

    times: np.ndarray
    bounds: tuple[float, ...]
    outputs: tuple[np.ndarray, ...]
    ts: tuple[np.ndarray, ...]

    @property
    def width(self) -> int:
        """Saved times per piece (the last one always ``t1``)."""
        return len(self.ts[0])


def _pending(events: Sequence[Event], t0: float, t_end: float) -> list[Event]:
    from lupusim.engine._rodas import _sorted_events

    return _sorted_events(events, t0, t_end)


def cut(times: np.ndarray, events_per_subject: Sequence[Sequence[Event]]) -> Pieces:
    """:class:`Pieces` of ``times`` cut at the union of all subjects' event times."""
    times = np.asarray(times, dtype=float)
    t0, t_end = float(times[0]), float(times[-1])
    inner = {
        float(e.time_days)
        for evs in events_per_subject
        for e in _pending(evs, t0, t_end)
        if t0 < e.time_days < t_end
    }
    bounds = (t0, *sorted(inner), t_end)
    outputs = tuple(times[(times > a) & (times <= b)] for a, b in itertools.pairwise(bounds))
    width = max(len(x) for x in outputs) + 1  # the last slot is always t1
    ts = tuple(
        np.concatenate([x, np.full(width - len(x), b)])
        for x, b in zip(outputs, bounds[1:], strict=True)
    )
    return Pieces(times, bounds, outputs, ts)


def jumps(
    spec: ModelSpec, events_per_subject: Sequence[Sequence[Event]], pieces: Pieces
) -> tuple[np.ndarray, np.ndarray]:
    """``(dy, du)``, shapes ``(K + 1, n, S)`` and ``(K + 1, n, U)``: per bound ``k`` of
    ``pieces`` (``K`` pieces) and subject, the boluses added to the states and the
    changes of the inputs at ``bounds[k]``. Raises ``ValueError`` for an event at a time
    that is not a bound (``pieces`` cut for other subjects)."""
    from lupusim.engine import Bolus, RateChange

    t0, t_end = pieces.bounds[0], pieces.bounds[-1]
    at = {b: k for k, b in enumerate(pieces.bounds)}
    n = len(events_per_subject)
    states = {name: j for j, name in enumerate(spec.state_names)}
    inputs = {name: j for j, name in enumerate(spec.input_names)}
    dy = np.zeros((len(pieces.bounds), n, len(states)))
    du = np.zeros((len(pieces.bounds), n, len(inputs)))
    for i, evs in enumerate(events_per_subject):
        for e in _pending(evs, t0, t_end):
            k = at.get(float(e.time_days))
            if k is None:
                raise ValueError(f"subject {i}: event at day {e.time_days} is not a cut")
            if isinstance(e, Bolus):
                dy[k, i, states[e.state]] += e.amount
            elif isinstance(e, RateChange):
                du[k, i, inputs[e.input]] += e.delta
    return dy, du


@dataclass
class DiffraxRun:
    """What :meth:`VmappedDiffrax.run` produced for ``n`` subjects."""

    states: np.ndarray  # (n, T, S); NaN for failed subjects
    ok: np.ndarray  # (n,) bool
    accepted_steps: np.ndarray  # (n,) summed over the pieces
    rejected_steps: np.ndarray  # (n,)
    compile_s: float  # lowering + compiling this batch shape; 0 when cached
    run_s: float  # the pieces' solves and jumps, without compilation
    pieces: int

    @property
    def failed(self) -> int:
        """Number of subjects whose solve did not succeed."""
        return int((~self.ok).sum())


class VmappedDiffrax:
    """The vmapped piecewise diffrax solver of ``spec`` at given tolerances.

    ``VmappedDiffrax(spec, rtol, atol, hmax, max_steps)`` lambdifies the rates for JAX
    (enabling JAX's 64-bit mode) and builds the jitted vmapped solve of one piece;
    :meth:`compile` compiles it for a batch shape, :meth:`run` solves a batch.
    """

    def __init__(
        self, spec: ModelSpec, rtol: float, atol: float, hmax: float, max_steps: int
    ) -> None:
        import jax

        jax.config.update("jax_enable_x64", True)
        import diffrax
        import jax.numpy as jnp
        import sympy as sp

        self.spec = spec
        self.rtol, self.atol, self.hmax, self.max_steps = rtol, atol, hmax, max_steps
        self._jax: Any = jax
        self._jnp: Any = jnp
        self._diffrax: Any = diffrax
        ysyms = [s.symbol for s in spec.states]
        psyms = [q.symbol for q in spec.parameters]
        usyms = [u.symbol for u in spec.inputs]
        rates = sp.lambdify((ysyms, psyms, usyms), list(spec.rates), modules="jax", cse=True)

        def vector_field(t: Any, y: Any, args: Any) -> Any:
            p, u = args
            return jnp.stack([jnp.asarray(v, dtype=jnp.float64) for v in rates(y, p, u)])

        self._vector_field = vector_field
        self._build()

    def _build(self) -> None:
        diffrax = self._diffrax
        term = diffrax.ODETerm(self._vector_field)
        solver = diffrax.Kvaerno5()
        controller = diffrax.PIDController(rtol=self.rtol, atol=self.atol, dtmax=self.hmax)
        max_steps = self.max_steps

        def piece(t0: Any, t1: Any, ts: Any, y: Any, p: Any, u: Any) -> tuple[Any, ...]:
            sol = diffrax.diffeqsolve(
                term,
                solver,
                t0,
                t1,
                None,
                y,
                args=(p, u),
                saveat=diffrax.SaveAt(ts=ts),
                stepsize_controller=controller,
                max_steps=max_steps,
                throw=False,
            )
            ok = sol.result == diffrax.RESULTS.successful
            return sol.ys, ok, sol.stats["num_accepted_steps"], sol.stats["num_rejected_steps"]

        self._batched: Any = self._jax.jit(
            self._jax.vmap(piece, in_axes=(None, None, None, 0, 0, 0))
        )
        self._compiled: dict[tuple[int, int], Any] = {}

    def with_tolerances(self, rtol: float, atol: float) -> VmappedDiffrax:
        """The same model (no new lambdify) at other tolerances; compiled anew."""
        other = copy.copy(self)
        other.rtol, other.atol = rtol, atol
        other._build()
        return other

    def info(self) -> dict[str, Any]:
        """Versions, devices and method, for a benchmark's record."""
        return {
            "jax": self._jax.__version__,
            "diffrax": self._diffrax.__version__,
            "devices": [str(d) for d in self._jax.devices()],
            "solver": SOLVER,
            "doses": DOSES,
        }

    def rhs(self, y: np.ndarray, p: np.ndarray, u: np.ndarray) -> np.ndarray:
        """The JAX right-hand side at one point (to check against the numba ``rhs``)."""
        jnp = self._jnp
        args = (jnp.asarray(p, dtype=float), jnp.asarray(u, dtype=float))
        return np.asarray(self._vector_field(0.0, jnp.asarray(y, dtype=float), args))

    def _arrays(
        self, pieces: Pieces, k: int, y: np.ndarray, p: np.ndarray, u: np.ndarray
    ) -> tuple[Any, ...]:
        jnp = self._jnp
        return (
            jnp.asarray(pieces.bounds[k], dtype=jnp.float64),
            jnp.asarray(pieces.bounds[k + 1], dtype=jnp.float64),
            jnp.asarray(pieces.ts[k], dtype=jnp.float64),
            jnp.asarray(y, dtype=jnp.float64),
            jnp.asarray(p, dtype=jnp.float64),
            jnp.asarray(u, dtype=jnp.float64),
        )

    def compile(self, n: int, pieces: Pieces) -> float:
        """Compiles the solve of one piece for ``n`` subjects and ``pieces.width`` saved
        times, unless already compiled; returns the seconds it took (0 when cached)."""
        key = (n, pieces.width)
        if key in self._compiled:
            return 0.0
        spec = self.spec
        y = np.zeros((n, len(spec.states)))
        p = np.zeros((n, len(spec.parameters)))
        u = np.zeros((n, len(spec.inputs)))
        t = time.perf_counter()
        self._compiled[key] = self._batched.lower(*self._arrays(pieces, 0, y, p, u)).compile()
        return time.perf_counter() - t

    def run(
        self,
        params: np.ndarray,
        y0: np.ndarray,
        times: np.ndarray,
        events_per_subject: Sequence[Sequence[Event]],
        *,
        pieces: Pieces | None = None,
    ) -> DiffraxRun:
        """Solves ``n`` subjects (``params`` (n, P), ``y0`` (n, S), each with its events)
        on the output grid ``times`` in one vmapped batch, piece by piece.

        ``pieces`` (default: :func:`cut` of these subjects' events) may be cut for a
        larger set of subjects, so that every batch has the same shape; it must hold
        every event time of these subjects. Compiles first if this shape is new
        (``compile_s``). A subject whose solve fails in a piece has NaN states
        throughout, and from that piece on is carried along as a copy of a healthy
        subject, so that it does not hold up the batch.
        """
        times = np.asarray(times, dtype=float)
        if pieces is None:
            pieces = cut(times, events_per_subject)
        elif not np.array_equal(pieces.times, times):
            raise ValueError("pieces cut for another output grid")
        n = len(params)
        dy, du = jumps(self.spec, events_per_subject, pieces)
        compile_s = self.compile(n, pieces)
        compiled = self._compiled[(n, pieces.width)]

        t = time.perf_counter()
        p = np.array(params, dtype=float)
        y = np.asarray(y0, dtype=float) + dy[0]
        u = du[0].copy()
        states = np.full((n, len(times), len(self.spec.states)), np.nan)
        states[:, 0] = y
        ok = np.ones(n, dtype=bool)
        accepted = np.zeros(n)
        rejected = np.zeros(n)
        for k, b in enumerate(pieces.bounds[1:]):
            ys, good, num, rej = compiled(*self._arrays(pieces, k, y, p, u))
            ys = np.asarray(ys)
            ok &= np.asarray(good)
            accepted += np.asarray(num)
            rejected += np.asarray(rej)
            y = ys[:, -1] + dy[k + 1]
            u = u + du[k + 1]
            out = pieces.outputs[k]
            slots = np.searchsorted(times, out)
            states[:, slots] = ys[:, : len(out)]
            if len(out) and out[-1] == b:
                states[:, slots[-1]] = y  # right-continuous at event times
            if not ok.all() and ok.any():
                healthy = int(np.argmax(ok))
                y[~ok], p[~ok], u[~ok] = y[healthy], p[healthy], u[healthy]
        states[~ok] = np.nan
        run_s = time.perf_counter() - t
        return DiffraxRun(states, ok, accepted, rejected, compile_s, run_s, len(pieces.bounds) - 1)
