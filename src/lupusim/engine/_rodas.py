"""Per-subject adaptive Rosenbrock integrators (Rodas5P, Rodas4), compiled with numba.

Methods
-------
Both are stiffly accurate, L-stable Rosenbrock methods with an embedded error estimate,
written in the "transformed" form of Hairer & Wanner (Solving ODEs II, eq. VI.4.9
[Section IV.7 in the 2nd ed.]): with ``W = I / (h γ) − J`` each stage solves

    W k_i = f(t + c_i h, Y_i) + Σ_{j<i} (C_ij / h) k_j + h d_i ∂f/∂t,
    Y_i = y + Σ_{j<i} a_ij k_j,

and ``y_{n+1} = Y_s + k_s``, the last stage argument ``Y_s`` being the embedded solution,
so ``k_s`` is the error estimate. Each method's coefficients live in one table
(rows ``[c_i, d_i, a_i1.., C_i1..]``):

* ``"rodas5p"`` (default), :data:`RODAS5P_TABLE`: 8 stages, order 5(4). G. Steinebach,
  "Construction of Rosenbrock-Wanner method Rodas5P and numerical benchmarks within the
  Julia Differential Equations package", BIT Numer. Math. 63:27 (2023); coefficients as
  published with it in OrdinaryDiffEq.jl (``Rodas5PTableau``). It avoids Rodas4's order
  reduction on stiff components that follow slowly varying terms (Prothero-Robinson
  type), which is the shape of lupusim's dose responses; on the benchmark
  (``benchmarks/bench_backends.py``) it is ~1.4× faster and ~5× more accurate than Rodas4.
* ``"rodas4"``, :data:`RODAS4_TABLE`: 6 stages, order 4(3). E. Hairer and G. Wanner,
  *Solving Ordinary Differential Equations II*, 2nd ed., Springer (1996), Section VI.4,
  coefficients exactly as in their Fortran code ``rodas.f`` (``RODCOF``, ``METH = 1``).

Both tables are checked against the Rosenbrock order conditions in ``tests/test_rodas.py``.
The step code is generated from the table (every stage written out) by
:func:`_step_source`.

Autonomy: lupusim's rates do not contain the time symbol (checked per model by
:func:`rates_are_autonomous`: the age term enters one observable only, and time enters
the rates only through the piecewise-constant inputs, constant within a segment). For
such models ``∂f/∂t = 0`` and the ``d_i`` terms are skipped; for a model whose rates do
depend on ``t`` the kernel uses a forward-difference ``∂f/∂t``.

Step control (Hairer & Wanner, Section IV.8 / ``rodas.f``): weighted RMS error over the
subject's states with ``sc_i = atol + rtol·max(|y_n,i|, |y_{n+1},i|)``; a step is accepted
when the norm is ≤ 1; ``h_new = h · min(6, max(0.2, 0.9 · err^(-1/(q+1))))`` with ``q``
the embedded order, no increase right after a rejection, ``h ≤ hmax``. Each segment
between event times starts with the Hairer–Nørsett–Wanner initial step heuristic (Solving
ODEs I, Section II.4). The solver stops exactly at every output and event time, unless
``SolverOptions.dense_output`` asks Rodas5P to interpolate outputs with its continuous
extension (Steinebach 2023). Failures give a status, never an exception: the step-count
limit per segment or a step size that underflows gives ``STATUS_SOLVER_FAILED``; a state
that cannot be kept finite (steps shrunk until they underflow) gives
``STATUS_NON_FINITE``.

Linear algebra: ``W`` is factorised without row exchanges by straight-line code generated
for the fill pattern of the model's symbolic Jacobian (28×28 with ~90 non-zeros, ~155
after fill), with the threshold-pivoting test of sparse direct solvers (every multiplier
``|l_ik| ≤ 10``); when that test fails the step refactors the dense matrix with partial
pivoting. Measured with ``benchmarks/bench_lu.py`` (human model, one factorisation + one
solve): ``numpy.linalg.inv`` inside numba + mat-vec ~10 µs, dense LU with partial
pivoting + compressed solve ~2.8 µs, generated LU + solve ~0.25 µs.

Semantics are those of :func:`lupusim.engine._solver.integrate_subject` for regimens
without policies: events act at their exact times (sorted stably by time; several at
one time all act; one at ``times[0]`` acts before the first step; events after the last
time are dropped, events before the first raise ``ValueError``); output at an event time
shows the state after that time's events; a failed segment leaves NaN from its first
output on, and ``failed_at_day`` is the start of the failed segment (the time at which
the integrator was last restarted), as in the LSODA backend; the exact day of the
failure is in the message.

Compilation: numba cannot cache, across processes, a function that receives compiled
functions as arguments, so for each model (and method) the kernels' source is written
to a small generated module in the model cache folder in which the model's ``rhs``,
``jac`` and generated LU are globals; numba caches its machine code on disk.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import math
import os
import sys
import threading
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numba
import numpy as np

from lupusim.engine._events import Bolus, Event, RateChange
from lupusim.engine._solver import (
    STATUS_NON_FINITE,
    STATUS_OK,
    STATUS_SOLVER_FAILED,
    SolverOptions,
    SubjectOutcome,
)
from lupusim.engine._threads import map_chunks
from lupusim.model._codegen import CompiledModel, cache_dir
from lupusim.model._spec import ModelSpec

__all__ = [
    "DEFAULT_METHOD",
    "METHODS",
    "RODAS4_TABLE",
    "RODAS5P_TABLE",
    "RodasStats",
    "integrate_batch_rodas",
    "integrate_subject_rodas",
    "linear_solver",
    "lu_fill_pattern",
    "rates_are_autonomous",
    "solve_rodas",
]

# --------------------------------------------------------------------------------------
# Tableaus, one table per method, one row per stage i (s stages):
#   column 0                c_i   (stage time, t + c_i h)
#   column 1                d_i   (coefficient of h ∂f/∂t)
#   columns 2 .. s          a_i1 .. a_i,s-1  (stage argument Y_i = y + Σ a_ij k_j)
#   columns s+1 .. 2s-1     C_i1 .. C_i,s-1  (Σ C_ij / h · k_j on the right-hand side)
#
# Rodas4: Hairer & Wanner, rodas.f, RODCOF METH=1. γ = 0.25. Row 6 (the embedded
# solution ŷ = Y_5 + k_5) has a_6j = a_5j, a_65 = 1.
# --------------------------------------------------------------------------------------
RODAS4_GAMMA = 0.25
_A5 = (1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950)
RODAS4_TABLE = np.array(
    [
        # rows: [c_i, d_i, a_i1 .. a_i5, C_i1 .. C_i5]
        [0.0, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0,
         0.0, 0.0, 0.0, 0.0, 0.0],
        [0.386, -0.1043, 1.544, 0.0, 0.0, 0.0, 0.0,
         -5.6688, 0.0, 0.0, 0.0, 0.0],
        [0.21, 0.1035, 0.9466785280815826, 0.2557011698983284, 0.0, 0.0, 0.0,
         -2.430093356833875, -0.2063599157091915, 0.0, 0.0, 0.0],
        [0.63, -0.3620000000000023e-01, 3.314825187068521, 2.896124015972201,
         0.9986419139977817, 0.0, 0.0,
         -0.1073529058151375, -9.594562251023355, -20.47028614809616, 0.0, 0.0],
        [1.0, 0.0, *_A5, 0.0,
         7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160, 0.0],
        [1.0, 0.0, *_A5, 1.0,
         8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136,
         -6.058818238834054],
    ]
)  # fmt: skip

# Rodas5P: Steinebach, "Construction of Rosenbrock-Wanner method Rodas5P and numerical
# benchmarks within the Julia Differential Equations package", BIT Numer. Math. 63, 27
# (2023); coefficients (same transformed form, 8 stages, γ = 0.21193756319429014) as
# published with that paper in OrdinaryDiffEq.jl (``Rodas5PTableau``). Order 5 with an
# embedded order-4 solution; designed to avoid the order reduction of Rodas4 on
# Prothero-Robinson-type problems (stiff components driven by slowly varying terms).
# Rows 7 and 8 continue the stiffly accurate chain: Y7 = Y6 + k6, Y8 = Y7 + k7.
RODAS5P_GAMMA = 0.21193756319429014
_A6 = (
    -7.502846399306121,
    2.561846144803919,
    -11.627539656261098,
    -0.18268767659942256,
    0.030198172008377946,
)
RODAS5P_TABLE = np.array(
    [
        # rows: [c_i, d_i, a_i1 .. a_i7, C_i1 .. C_i7]
        [0.0, 0.21193756319429014, *[0.0] * 7, *[0.0] * 7],
        [0.6358126895828704, -0.42387512638858027, 3.0, *[0.0] * 6,
         -14.155112264123755, *[0.0] * 6],
        [0.4095798393397535, -0.3384627126235924, 2.849394379747939, 0.45842242204463923,
         *[0.0] * 5,
         -17.97296035885952, -2.859693295451294, *[0.0] * 5],
        [0.9769306725060716, 1.8046452872882734, -6.954028509809101, 2.489845061869568,
         -10.358996098473584, *[0.0] * 4,
         147.12150275711716, -1.41221402718213, 71.68940251302358, *[0.0] * 4],
        [0.4288403609558664, 2.325825639765069, 2.8029986275628964, 0.5072464736228206,
         -0.3988312541770524, -0.04721187230404641, *[0.0] * 3,
         165.43517024871676, -0.4592823456491126, 42.90938336958603, -5.961986721573306,
         *[0.0] * 3],
        [1.0, 0.0, *_A6, 0.0, 0.0,
         24.854864614690072, -3.0009227002832186, 47.4931110020768, 5.5814197821558125,
         -0.6610691825249471, 0.0, 0.0],
        [1.0, 0.0, *_A6, 1.0, 0.0,
         30.91273214028599, -3.1208243349937974, 77.79954646070892, 34.28646028294783,
         -19.097331116725623, -28.087943162872662, 0.0],
        [1.0, 0.0, *_A6, 1.0, 1.0,
         37.80277123390563, -3.2571969029072276, 112.26918849496327, 66.9347231244047,
         -40.06618937091002, -54.66780262877968, -9.48861652309627],
    ]
)  # fmt: skip

# Rodas5P continuous extension (same source, ``h21 … h48``): with K_r = Σ_j H[r, j] k_j,
# y(t + θh) = (1 − θ) y + θ (y_new + (1 − θ)(K_1 + θ (K_2 + θ K_3))).
RODAS5P_DENSE = np.array(
    [
        [25.948786856663858, -2.5579724845846235, 10.433815404888879, -2.3679251022685204,
         0.524948541321073, 1.1241088310450404, 0.4272876194431874, -0.17202221070155493],
        [-9.91568850695171, -0.9689944594115154, 3.0438037242978453, -24.495224566215796,
         20.176138334709044, 15.98066361424651, -6.789040303419874, -6.710236069923372],
        [11.419903575922262, 2.8879645146136994, 72.92137995996029, 80.12511834622643,
         -52.072871366152654, -59.78993625266729, -0.15582684282751913, 4.883087185713722],
    ]
)  # fmt: skip
#: method -> dense-output matrix (3 × stages); methods without one step to every output.
DENSE_OUTPUT: dict[str, np.ndarray] = {"rodas5p": RODAS5P_DENSE}

# name -> (table, γ, order of the embedded solution). The step for a table is generated
# by _step_source: stage i solves W k_i = f(t + c_i h, y + Σ a_ij k_j) + Σ C_ij/h k_j
# + h d_i ∂f/∂t; y_{n+1} = Y_s + k_s (the last stage argument plus k_s); error = k_s.
METHODS: dict[str, tuple[np.ndarray, float, int]] = {
    "rodas4": (RODAS4_TABLE, RODAS4_GAMMA, 3),
    "rodas5p": (RODAS5P_TABLE, RODAS5P_GAMMA, 4),
}
DEFAULT_METHOD = "rodas5p"

# step-size controller (defaults of rodas.f)
_SAFETY = 0.9
_FAC_MIN = 0.2
_FAC_MAX = 6.0
_NONFINITE_FAC = 0.25  # shrink factor after a step that produced a non-finite value
_MAX_MULTIPLIER = 10.0  # static-pivot LU accepted while all scaled |l_ik| <= 10 (tau = 0.1)

# kernel return codes (internal)
_OK = 0
_FAIL_STEPS = 1
_FAIL_HMIN = 2
_FAIL_NONFINITE = 3

_KIND_BOLUS = 0
_KIND_RATE = 1

_JIT: dict[str, Any] = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}


# --------------------------------------------------------------------------------------
# Linear algebra: dense LU with partial pivoting that skips zeros, compressed solves.
# --------------------------------------------------------------------------------------
@numba.njit(**_JIT)
def _lu_factor(a: Any, piv: Any, cols: Any, n: int) -> bool:
    """In-place LU (row pivoting, LAPACK layout) of ``a``; False if singular/non-finite."""
    for k in range(n):
        p = k
        amax = abs(a[k, k])
        for i in range(k + 1, n):
            v = abs(a[i, k])
            if v > amax:
                amax = v
                p = i
        piv[k] = p
        if not (amax > 0.0) or not math.isfinite(amax):
            return False
        if p != k:
            for j in range(n):
                tmp = a[k, j]
                a[k, j] = a[p, j]
                a[p, j] = tmp
        m = 0
        for j in range(k + 1, n):
            if a[k, j] != 0.0:
                cols[m] = j
                m += 1
        inv = 1.0 / a[k, k]
        for i in range(k + 1, n):
            lik = a[i, k]
            if lik != 0.0:
                lik = lik * inv
                a[i, k] = lik
                for q in range(m):
                    j = cols[q]
                    a[i, j] -= lik * a[k, j]
    return True


@numba.njit(**_JIT)
def _lu_pattern(a: Any, n: int, lptr: Any, lidx: Any, uptr: Any, uidx: Any, dinv: Any) -> None:
    """Row-wise non-zero positions of the strict lower (L) and upper (U) factors in ``a``."""
    nl = 0
    nu = 0
    for i in range(n):
        lptr[i] = nl
        for j in range(i):
            if a[i, j] != 0.0:
                lidx[nl] = j
                nl += 1
        uptr[i] = nu
        for j in range(i + 1, n):
            if a[i, j] != 0.0:
                uidx[nu] = j
                nu += 1
        dinv[i] = 1.0 / a[i, i]
    lptr[n] = nl
    uptr[n] = nu


@numba.njit(**_JIT)
def _lu_solve(
    a: Any, piv: Any, lptr: Any, lidx: Any, uptr: Any, uidx: Any, dinv: Any, b: Any, n: int
) -> None:
    """Solve ``A x = b`` in place from the pivoted factors in ``a`` and their non-zero lists."""
    for k in range(n):
        p = piv[k]
        if p != k:
            tmp = b[k]
            b[k] = b[p]
            b[p] = tmp
    for i in range(n):
        s = b[i]
        for q in range(lptr[i], lptr[i + 1]):
            s -= a[i, lidx[q]] * b[lidx[q]]
        b[i] = s
    for i in range(n - 1, -1, -1):
        s = b[i]
        for q in range(uptr[i], uptr[i + 1]):
            s -= a[i, uidx[q]] * b[uidx[q]]
        b[i] = s * dinv[i]


def lu_fill_pattern(pattern: np.ndarray) -> np.ndarray:
    """Boolean structure of the LU factors of ``W = I/(hγ) − J`` without row exchanges."""
    fill = np.asarray(pattern, dtype=bool).copy()
    n = fill.shape[0]
    fill[np.diag_indices(n)] = True
    for i in range(n):
        for k in range(i):
            if fill[i, k]:
                fill[i, k + 1 :] |= fill[k, k + 1 :]
    return fill


def _linear_solver_source(fill: np.ndarray) -> str:
    """Straight-line ``build``, ``lu`` and ``solve`` for one fill pattern.

    ``build(jm, gh, a)``: ``a = gh·I − jm`` on the fill pattern only (the only entries
    ``lu`` and ``solve`` read; ``jm`` is zero off the Jacobian's structure).

    ``lu(a, dinv, sc)``: in-place LU without row exchanges (row-wise IKJ over the fill
    pattern) with the threshold-pivoting test of sparse direct solvers (tau =
    1 / _MAX_MULTIPLIER) applied to the matrix in the units of the error norm,
    ``diag(sc)⁻¹ W diag(sc)`` (``sc_i = atol + rtol·|y_i|``): False when a pivot is zero
    or non-finite or a scaled multiplier ``|l_ik|·sc_k/sc_i`` exceeds ``_MAX_MULTIPLIER``
    (the caller then refactors with partial pivoting). The scaling leaves the arithmetic
    unchanged (a diagonal similarity scales L's and U's entries, not their rounding) and
    keeps states in large units (e.g. anti-dsDNA in IU/mL fed by B cells in 10⁶/L)
    from failing the test for their units alone: unscaled, every step longer than ~5 days
    of the human model fell back to the dense pivoting LU, 1.7-2.3× slower in all.
    ``solve``: both triangular solves.
    """
    n = fill.shape[0]
    lower = [[int(k) for k in np.flatnonzero(fill[i, :i])] for i in range(n)]
    upper = [[int(j) + i + 1 for j in np.flatnonzero(fill[i, i + 1 :])] for i in range(n)]
    lines = [
        "# Generated by lupusim.engine._rodas from a Jacobian sparsity pattern. Do not edit.",
        "import math",
        "",
        "",
        "def lu(a, dinv, sc):",
    ]
    for i in range(n):
        for k in lower[i]:
            lines.append(f"    m = a[{i}, {k}] * dinv[{k}]")
            lines.append(f"    if not (abs(m) * sc[{k}] <= {_MAX_MULTIPLIER!r} * sc[{i}]):")
            lines.append("        return False")
            lines.append(f"    a[{i}, {k}] = m")
            lines.extend(f"    a[{i}, {j}] -= m * a[{k}, {j}]" for j in upper[k])
        lines.append(f"    d = a[{i}, {i}]")
        lines.append("    if d == 0.0 or not math.isfinite(d):")
        lines.append("        return False")
        lines.append(f"    dinv[{i}] = 1.0 / d")
    lines += ["    return True", "", "", "def build(jm, gh, a):"]
    for i in range(n):
        for j in [*lower[i], i, *upper[i]]:
            diag = " + gh" if j == i else ""
            lines.append(f"    a[{i}, {j}] = -jm[{i}, {j}]{diag}")
    lines += ["    return a", "", "", "def solve(a, dinv, b):"]
    for i in range(n):
        if lower[i]:
            terms = "".join(f" - a[{i}, {k}] * b[{k}]" for k in lower[i])
            lines.append(f"    b[{i}] = b[{i}]{terms}")
    for i in range(n - 1, -1, -1):
        terms = "".join(f" - a[{i}, {j}] * b[{j}]" for j in upper[i])
        lines.append(f"    b[{i}] = (b[{i}]{terms}) * dinv[{i}]")
    lines.append("    return b")
    return "\n".join(lines) + "\n"


_BUILD_LOCK = threading.RLock()
"""Held while generated modules are loaded and kernels bound: the batch runs chunks on
threads, and a module half-executed by one thread must not be seen by another."""


def _load_generated(prefix: str, source: str) -> ModuleType:
    """Write ``source`` to the model cache folder (named by its hash) and import it."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    name = f"{prefix}_{digest}"
    with _BUILD_LOCK:
        module = sys.modules.get(name)
        if module is not None:
            return module
        path = cache_dir() / f"{name}.py"
        if not path.exists():
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(source)
            tmp.replace(path)
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:  # pragma: no cover
            raise ImportError(f"cannot load generated module {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return module


def _linear_solver_cached(key: bytes, n: int) -> tuple[Any, Any, Any]:
    with _BUILD_LOCK:
        return _linear_solver_build(key, n)


@cache
def _linear_solver_build(key: bytes, n: int) -> tuple[Any, Any, Any]:
    fill = np.frombuffer(key, dtype=bool).reshape(n, n)
    module = _load_generated("lupusim_rodas_lu", _linear_solver_source(fill))
    return tuple(numba.njit(**_JIT)(f) for f in (module.build, module.lu, module.solve))


def linear_solver(pattern: np.ndarray) -> tuple[Any, Any, Any]:
    """Compiled ``(build, lu, solve)`` for a Jacobian sparsity pattern (cached on disk)."""
    fill = lu_fill_pattern(pattern)
    return _linear_solver_cached(fill.tobytes(), fill.shape[0])


# --------------------------------------------------------------------------------------
# One Rosenbrock step.
# --------------------------------------------------------------------------------------
def _step_source(method: str) -> str:
    """Source of ``_rodas_step`` for one tableau, every stage written out.

    ``_rodas_step(t, h, y, p, u, f0, ft, jm, w, dyn, dinv, k, ys, fs, ynew, rtol, atol,
    autonomous)`` attempts one step of size ``h`` from ``(t, y)`` given ``f0 = f(t, y)``
    and ``jm = J``; it writes ``ynew`` and returns the weighted RMS error norm, ``inf``
    when the step produced a non-finite value and ``-1.0`` when ``W`` was singular. ``W``
    is factorised by the generated straight-line LU over its static fill pattern, or with
    partial pivoting (``dyn`` work arrays) when that LU refuses a pivot.
    """
    table, gamma, _ = METHODS[method]
    s = table.shape[0]
    a_cols = slice(2, 2 + s - 1)
    c_cols = slice(2 + s - 1, 2 + 2 * (s - 1))
    out = [
        "def _rodas_step(t, h, y, p, u, f0, ft, jm, w, dyn, dinv, k, ys, fs, ynew, rtol, atol,",
        "                autonomous):",
        "    n = y.shape[0]",
        "    piv, cols, dlptr, dlidx, duptr, duidx = dyn",
        f"    gh = 1.0 / (h * {gamma!r})",
        "    _model_build(jm, gh, w)",
        "    for i in range(n):  # error-norm scales for the pivot test (ynew is set below)",
        "        ynew[i] = atol + rtol * abs(y[i])",
        "    static = _model_lu(w, dinv, ynew)",
        "    if not static:",
        "        for i in range(n):",
        "            for j in range(n):",
        "                w[i, j] = -jm[i, j]",
        "            w[i, i] += gh",
        "        if not _lu_factor(w, piv, cols, n):",
        "            return -1.0",
        "        _lu_pattern(w, n, dlptr, dlidx, duptr, duidx, dinv)",
        "    inv_h = 1.0 / h",
    ]
    for st in range(s):
        row = table[st]
        c, d = float(row[0]), float(row[1])
        a, cc = row[a_cols], row[c_cols]
        out.append(f"    # stage {st + 1}")
        out.append(f"    ks = k[{st}]")
        if st == 0:
            out += ["    for i in range(n):", "        ks[i] = f0[i]"]
        else:
            args = "".join(f" + {float(a[j])!r} * k[{j}, i]" for j in range(st) if a[j] != 0.0)
            corr = " + ".join(f"{float(cc[j])!r} * k[{j}, i]" for j in range(st) if cc[j] != 0.0)
            out += ["    for i in range(n):", f"        ys[i] = y[i]{args}"]
            out.append(f"    _model_rhs(t + {c!r} * h, ys, p, u, fs)")
            out += ["    for i in range(n):", f"        ks[i] = fs[i] + ({corr}) * inv_h"]
        if d != 0.0:
            out += [
                "    if not autonomous:",
                "        for i in range(n):",
                f"            ks[i] += h * {d!r} * ft[i]",
            ]
        out += [
            "    if static:",
            "        _model_solve(w, dinv, ks)",
            "    else:",
            "        _lu_solve(w, piv, dlptr, dlidx, duptr, duidx, dinv, ks, n)",
        ]
    out += [
        "    # y_{n+1} = Y_s + k_s; the error estimate is k_s",
        "    err = 0.0",
        "    finite = True",
        "    for i in range(n):",
        "        yn = ys[i] + ks[i]",
        "        ynew[i] = yn",
        "        if not math.isfinite(yn):",
        "            finite = False",
        "        sc = atol + rtol * max(abs(y[i]), abs(yn))",
        "        e = ks[i] / sc",
        "        err += e * e",
        "    if not finite:",
        "        return math.inf",
        "    err = math.sqrt(err / n)",
        "    if not math.isfinite(err):",
        "        return math.inf",
        "    return err",
        "",
        "",
    ]
    out += _dense_source(method)
    return "\n".join(out) + "\n"


def _dense_source(method: str) -> list[str]:
    """Source of ``_dense(theta, y, ynew, k, out)`` (the continuous extension of the last
    step at fraction ``theta``) and ``_HAS_DENSE``; a method without one gets a stub."""
    dense = DENSE_OUTPUT.get(method)
    if dense is None:
        return [
            "_HAS_DENSE = False",
            "",
            "",
            "def _dense(theta, y, ynew, k, out):",
            "    return None",
        ]
    terms = [
        " + ".join(f"{float(c)!r} * k[{j}, i]" for j, c in enumerate(row) if c != 0.0)
        for row in dense
    ]
    return [
        "_HAS_DENSE = True",
        "",
        "",
        "def _dense(theta, y, ynew, k, out):",
        "    th1 = 1.0 - theta",
        "    for i in range(y.shape[0]):",
        f"        k1 = {terms[0]}",
        f"        k2 = {terms[1]}",
        f"        k3 = {terms[2]}",
        "        out[i] = th1 * y[i] + theta * (ynew[i] + th1 * (k1 + theta * (k2 + theta * k3)))",
    ]


@numba.njit(**_JIT)
def _wrms(v: Any, y: Any, rtol: float, atol: float) -> float:
    acc = 0.0
    for i in range(v.shape[0]):
        e = v[i] / (atol + rtol * abs(y[i]))
        acc += e * e
    return math.sqrt(acc / v.shape[0])


def _initial_step(
    t: float,
    y: Any,
    p: Any,
    u: Any,
    f0: Any,
    tmp: Any,
    f1: Any,
    rtol: float,
    atol: float,
    hmax: float,
    span: float,
) -> float:
    """Starting step (Hairer, Nørsett & Wanner, Solving ODEs I, Section II.4)."""
    d0 = _wrms(y, y, rtol, atol)
    d1 = _wrms(f0, y, rtol, atol)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 or not math.isfinite(d1) else 0.01 * d0 / d1
    h0 = min(h0, span, hmax)
    for i in range(y.shape[0]):
        tmp[i] = y[i] + h0 * f0[i]
    _model_rhs(t + h0, tmp, p, u, f1)
    for i in range(y.shape[0]):
        tmp[i] = f1[i] - f0[i]
    d2 = _wrms(tmp, y, rtol, atol) / h0
    dm = max(d1, d2)
    if dm <= 1e-15 or not math.isfinite(dm):
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / dm) ** (1.0 / 5.0)  # order p = 4
    return min(100.0 * h0, h1, span, hmax)


# --------------------------------------------------------------------------------------
# One subject: outputs, events and step control inside numba.
# --------------------------------------------------------------------------------------
def _integrate_subject(
    p: Any,
    y0: Any,
    n_u: int,
    times: Any,
    ev_t: Any,
    ev_kind: Any,
    ev_idx: Any,
    ev_amt: Any,
    rtol: float,
    atol: float,
    hmax: float,
    max_steps: int,
    autonomous: bool,
    dense: bool,
    states_out: Any,
    inputs_out: Any,
    info: Any,
) -> int:
    """Integrate one subject; returns a kernel code (``_OK``, ``_FAIL_*``).

    ``states_out`` ``(T, S)`` and ``inputs_out`` ``(T, U)`` must be NaN-filled.
    ``info`` (float, length 6) receives: failed segment start, exact failure day, number
    of applied events, accepted steps, rejected steps, function evaluations.
    """
    n = y0.shape[0]
    n_t = times.shape[0]
    n_ev = ev_t.shape[0]
    y = y0.copy()
    u = np.zeros(n_u)
    ynew = np.empty(n)
    f0 = np.empty(n)
    ft = np.zeros(n)
    fs = np.empty(n)
    ys = np.empty(n)
    tmp = np.empty(n)
    k = np.empty((_N_STAGES, n))
    jm = np.zeros((n, n))  # jac writes its structural non-zeros only: zero once
    w = np.empty((n, n))
    nn = n * n
    dyn = (
        np.empty(n, dtype=np.int64),  # piv
        np.empty(n, dtype=np.int64),  # cols
        np.empty(n + 1, dtype=np.int64),  # lptr
        np.empty(nn, dtype=np.int64),  # lidx
        np.empty(n + 1, dtype=np.int64),  # uptr
        np.empty(nn, dtype=np.int64),  # uidx
    )
    dinv = np.empty(n)
    n_acc = 0
    n_rej = 0
    n_fev = 0
    t0 = times[0]
    t_end = times[n_t - 1]
    t = t0
    ie = 0
    while ie < n_ev and ev_t[ie] == t0:
        if ev_kind[ie] == _KIND_BOLUS:
            y[ev_idx[ie]] += ev_amt[ie]
        else:
            u[ev_idx[ie]] += ev_amt[ie]
        ie += 1
    for i in range(n):
        states_out[0, i] = y[i]
    for i in range(n_u):
        inputs_out[0, i] = u[i]
    io = 1
    code = _OK
    fail_t = math.nan
    seg_start = t0
    seg_io = io
    while t < t_end:
        # ---- one segment (t, b]: b is the next event time or the end
        b = ev_t[ie] if ie < n_ev else t_end
        seg_start = t
        seg_io = io
        _model_rhs(t, y, p, u, f0)
        n_fev += 1
        h = _initial_step(t, y, p, u, f0, tmp, fs, rtol, atol, hmax, b - t)
        n_fev += 1
        steps = 0
        need_jac = False  # f0 is fresh; jac evaluated below
        _model_jac(t, y, p, u, jm)
        if not autonomous:
            dt = math.sqrt(2.2e-16) * max(1e-5, abs(t))
            _model_rhs(t + dt, y, p, u, fs)
            n_fev += 1
            for i in range(n):
                ft[i] = (fs[i] - f0[i]) / dt
        fac_max = _FAC_MAX
        last_bad_nonfinite = False
        while t < b and code == _OK:
            # With ``dense`` (and a continuous extension) the steps run to the segment's
            # end and outputs inside are interpolated; otherwise every output time is
            # stepped to (more accurate at each output, slower on fine grids).
            target = b if (dense and _HAS_DENSE) or times[io] >= b else times[io]
            while t < target:
                if steps >= max_steps:
                    code = _FAIL_STEPS
                    break
                if need_jac:
                    _model_rhs(t, y, p, u, f0)
                    n_fev += 1
                    _model_jac(t, y, p, u, jm)
                    if not autonomous:
                        dt = math.sqrt(2.2e-16) * max(1e-5, abs(t))
                        _model_rhs(t + dt, y, p, u, fs)
                        n_fev += 1
                        for i in range(n):
                            ft[i] = (fs[i] - f0[i]) / dt
                    need_jac = False
                h = min(h, hmax)
                if h < 1e-14 * max(1.0, abs(t)):
                    code = _FAIL_NONFINITE if last_bad_nonfinite else _FAIL_HMIN
                    break
                remaining = target - t
                hit = False
                if h >= remaining:
                    h_try = remaining
                    hit = True
                elif 2.0 * h > remaining:
                    h_try = 0.5 * remaining
                else:
                    h_try = h
                steps += 1
                err = _rodas_step(
                    t,
                    h_try,
                    y,
                    p,
                    u,
                    f0,
                    ft,
                    jm,
                    w,
                    dyn,
                    dinv,
                    k,
                    ys,
                    fs,
                    ynew,
                    rtol,
                    atol,
                    autonomous,
                )
                n_fev += _N_STAGES - 1
                if err < 0.0:  # singular iteration matrix
                    n_rej += 1
                    h = h_try * _FAC_MIN
                    fac_max = 1.0
                    last_bad_nonfinite = False
                    continue
                if not (err <= 1.0):
                    n_rej += 1
                    if math.isinf(err):
                        h = h_try * _NONFINITE_FAC
                        last_bad_nonfinite = True
                    else:
                        fac = _SAFETY * err ** (-_ERR_EXPONENT)
                        h = h_try * max(_FAC_MIN, fac)
                        last_bad_nonfinite = False
                    fac_max = 1.0
                    continue
                # accepted
                n_acc += 1
                last_bad_nonfinite = False
                t_new = target if hit else t + h_try
                if dense and _HAS_DENSE:
                    while io < n_t and times[io] < t_new:
                        _dense((times[io] - t) / h_try, y, ynew, k, tmp)
                        for i in range(n):
                            states_out[io, i] = tmp[i]
                        for i in range(n_u):
                            inputs_out[io, i] = u[i]
                        io += 1
                t = t_new
                for i in range(n):
                    y[i] = ynew[i]
                need_jac = True
                fac = _FAC_MAX if err == 0.0 else _SAFETY * err ** (-_ERR_EXPONENT)
                h_next = h_try * min(fac_max, max(_FAC_MIN, fac))
                if h_try < h and h_next < h and fac_max > 1.0:
                    h_next = h  # the step was shortened to hit a time: keep the proposal
                h = h_next
                fac_max = _FAC_MAX
            if code != _OK:
                fail_t = t
                break
            # reached target
            if target == b:
                while ie < n_ev and ev_t[ie] == b:
                    if ev_kind[ie] == _KIND_BOLUS:
                        y[ev_idx[ie]] += ev_amt[ie]
                    else:
                        u[ev_idx[ie]] += ev_amt[ie]
                    ie += 1
            if io < n_t and times[io] == target:
                for i in range(n):
                    states_out[io, i] = y[i]
                for i in range(n_u):
                    inputs_out[io, i] = u[i]
                io += 1
        if code != _OK:
            for r in range(seg_io, n_t):
                for i in range(n):
                    states_out[r, i] = math.nan
                for i in range(n_u):
                    inputs_out[r, i] = math.nan
            break
    info[0] = seg_start if code != _OK else math.nan
    info[1] = fail_t
    info[2] = ie
    info[3] = n_acc
    info[4] = n_rej
    info[5] = n_fev
    return code


def _batch(
    params: Any,
    y0: Any,
    n_u: int,
    times: Any,
    ev_off: Any,
    ev_t: Any,
    ev_kind: Any,
    ev_idx: Any,
    ev_amt: Any,
    rtol: float,
    atol: float,
    hmax: float,
    max_steps: int,
    autonomous: bool,
    dense: bool,
    states_out: Any,
    inputs_out: Any,
    info: Any,
    codes: Any,
) -> None:
    """The subjects one after another (threads run chunks: :mod:`lupusim.engine._threads`)."""
    for s in range(params.shape[0]):
        a = ev_off[s]
        b = ev_off[s + 1]
        codes[s] = _integrate_subject(
            params[s],
            y0[s],
            n_u,
            times,
            ev_t[a:b],
            ev_kind[a:b],
            ev_idx[a:b],
            ev_amt[a:b],
            rtol,
            atol,
            hmax,
            max_steps,
            autonomous,
            dense,
            states_out[s],
            inputs_out[s],
            info[s],
        )


# --------------------------------------------------------------------------------------
# Binding the kernels to one model.
#
# The kernels above call the model's functions through the module-level names below.
# numba cannot cache (across processes) a function that receives compiled functions as
# arguments, so the kernels' source is placed in a small generated module per model in
# which these names are bound to the model's ``rhs``/``jac`` and its generated LU; numba
# caches that module's machine code on disk. The module's name carries hashes of the
# model, its LU pattern and this file, so changing any of them gives fresh code.
# --------------------------------------------------------------------------------------
_model_rhs: Any = None
_model_jac: Any = None
_model_build: Any = None
_model_lu: Any = None
_model_solve: Any = None
_BOUND = ("_model_rhs", "_model_jac", "_model_build", "_model_lu", "_model_solve")
# defined per method by the generated module
_rodas_step: Any = None
_N_STAGES = 0
_ERR_EXPONENT = 0.0
_HAS_DENSE = False
_dense: Any = None
_PER_METHOD = ("_rodas_step", "_N_STAGES", "_ERR_EXPONENT", "_HAS_DENSE", "_dense")
_KERNEL_FUNCTIONS = (_initial_step, _integrate_subject, _batch)
_ENGINE_HASH = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def _kernel_source(method: str, title: str, cacheable: bool) -> str:
    table, _, embedded_order = METHODS[method]
    own = {f.__name__ for f in _KERNEL_FUNCTIONS} | set(_PER_METHOD) | set(_BOUND)
    shared = sorted(
        {
            name
            for f in _KERNEL_FUNCTIONS
            for name in f.__code__.co_names
            if name in globals() and name not in own
        }
        | {"_JIT", "_lu_factor", "_lu_pattern", "_lu_solve", "math"}
    )
    parts = [
        f"# Generated by lupusim.engine._rodas: {method} kernels for {title}. Do not edit.",
        "from __future__ import annotations",
        "",
        "import numba",
        "",
        f"from lupusim.engine._rodas import {', '.join(shared)}",
        "",
        "# bound to the model's compiled functions by lupusim.engine._rodas",
        " = ".join(_BOUND) + " = None",
        f"_OPTS = {{**_JIT, 'cache': {cacheable!r}}}",
        f"_N_STAGES = {table.shape[0]}",
        f"_ERR_EXPONENT = 1.0 / {embedded_order + 1}",
        "",
        "",
        _step_source(method),
    ]
    parts += ["\n" + inspect.getsource(f) for f in _KERNEL_FUNCTIONS]
    parts += [
        "",
        "_rodas_step = numba.njit(**_OPTS)(_rodas_step)",
        "_dense = numba.njit(**_OPTS)(_dense)",
        "_initial_step = numba.njit(**_OPTS)(_initial_step)",
        "_integrate_subject = numba.njit(**_OPTS)(_integrate_subject)",
        "_batch = numba.njit(**_OPTS)(_batch)",
        "",
    ]
    return "\n".join(parts)


def _bind_kernels(
    module: ModuleType, rhs: Any, jac: Any, linear: tuple[Any, Any, Any]
) -> tuple[Any, Any]:
    for name, fn in zip(_BOUND, (rhs, jac, *linear), strict=True):
        setattr(module, name, fn)
    return module._integrate_subject, module._batch


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {sorted(METHODS)}")
    return method


_KERNELS: dict[tuple[str, str, str], tuple[Any, Any]] = {}


def _model_kernels(model: CompiledModel, method: str) -> tuple[Any, Any]:
    """``(subject, batch)`` numba kernels bound to ``model`` (machine code cached on disk)."""
    key = (model.hash, str(model.source_path), _check_method(method))
    kernels = _KERNELS.get(key)
    if kernels is not None:
        return kernels
    with _BUILD_LOCK:
        kernels = _KERNELS.get(key)
        if kernels is None:
            linear = _model_linear_solver(model.spec)
            source = _kernel_source(method, f"model {model.spec.name}", cacheable=True) + (
                f"\n# model {model.hash}, LU {linear[1].py_func.__module__}, "
                f"engine {_ENGINE_HASH}\n"
            )
            module = _load_generated(f"lupusim_rodas_{model.hash}", source)
            kernels = _bind_kernels(module, model.rhs, model.jac, linear)
            _KERNELS[key] = kernels
    return kernels


def _function_kernels(rhs: Any, jac: Any, pattern: np.ndarray, method: str) -> tuple[Any, Any]:
    """Kernels bound to arbitrary compiled ``rhs``/``jac``.

    Cached on disk when both functions' source is available (the module name then carries
    its hash); otherwise compiled once per process.
    """
    with _BUILD_LOCK:
        linear = linear_solver(pattern)
        lu_name = linear[1].py_func.__module__
        try:
            key = inspect.getsource(rhs.py_func) + inspect.getsource(jac.py_func)
        except (AttributeError, OSError, TypeError):
            key = None
        if key is not None:
            digest = hashlib.sha256((key + _ENGINE_HASH).encode()).hexdigest()[:16]
            source = _kernel_source(_check_method(method), "user functions", cacheable=True) + (
                f"\n# functions {digest}, LU {lu_name}, engine {_ENGINE_HASH}\n"
            )
            module = _load_generated("lupusim_rodas_fn", source)
        else:
            name = f"lupusim_rodas_fn_{method}_{id(rhs):x}_{id(jac):x}_{lu_name[-16:]}"
            module = sys.modules.get(name) or ModuleType(name)
            if name not in sys.modules:
                sys.modules[name] = module
                code = _kernel_source(_check_method(method), "user functions", False)
                exec(compile(code, name, "exec"), module.__dict__)
        return _bind_kernels(module, rhs, jac, linear)


# --------------------------------------------------------------------------------------
# Python API
# --------------------------------------------------------------------------------------
class RodasStats:
    """Work counters of one subject (accepted/rejected steps, rhs evaluations)."""

    __slots__ = ("accepted", "evaluations", "rejected")

    def __init__(self, accepted: int, rejected: int, evaluations: int) -> None:
        self.accepted = accepted
        self.rejected = rejected
        self.evaluations = evaluations

    def __repr__(self) -> str:
        return (
            f"RodasStats(accepted={self.accepted}, rejected={self.rejected}, "
            f"evaluations={self.evaluations})"
        )


@cache
def rates_are_autonomous(spec: ModelSpec) -> bool:
    """True when no rate contains the time symbol (so ``∂f/∂t = 0`` within a segment)."""
    return all(spec.time not in rate.free_symbols for rate in spec.rates)


@cache
def _model_linear_solver(spec: ModelSpec) -> tuple[Any, Any, Any]:
    """Generated LU/solve for ``W = I/(hγ) − J`` over the symbolic Jacobian's structure."""
    jac = spec.jacobian()
    pattern = np.array([[jac[i, j] != 0 for j in range(jac.cols)] for i in range(jac.rows)])
    return linear_solver(pattern)


def _sorted_events(events: Sequence[Event], t0: float, t_end: float) -> list[Event]:
    pending = sorted((e for e in events if e.time_days <= t_end), key=lambda e: e.time_days)
    early = [e for e in pending if e.time_days < t0]
    if early:
        raise ValueError(f"event before the start time {t0}: {early[0]}")
    return pending


def _event_arrays(
    spec: ModelSpec, events: Sequence[Event]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(time, kind, index, amount)`` arrays of ``events`` (one pass, names looked up once)."""
    states = {name: i for i, name in enumerate(spec.state_names)}
    inputs = {name: i for i, name in enumerate(spec.input_names)}
    n = len(events)
    rows: list[tuple[float, int, int, float]] = [(0.0, 0, 0, 0.0)] * n
    try:
        for i, ev in enumerate(events):
            if isinstance(ev, Bolus):
                rows[i] = (ev.time_days, _KIND_BOLUS, states[ev.state], ev.amount)
            elif isinstance(ev, RateChange):
                rows[i] = (ev.time_days, _KIND_RATE, inputs[ev.input], ev.delta)
            else:  # pragma: no cover - Event is a closed union
                raise TypeError(f"unknown event {ev!r}")
    except KeyError as exc:
        ev = events[i]
        what = "state" if isinstance(ev, Bolus) else "input"
        raise KeyError(f"unknown {what} {exc.args[0]!r} in event {ev!r}") from None
    table = np.array(rows, dtype=float).reshape(n, 4)
    ev_t = np.ascontiguousarray(table[:, 0])
    kind = table[:, 1].astype(np.int64)
    idx = table[:, 2].astype(np.int64)
    amt = np.ascontiguousarray(table[:, 3])
    return ev_t, kind, idx, amt


def _check_times(times: np.ndarray) -> np.ndarray:
    grid = np.ascontiguousarray(times, dtype=float)
    if grid.ndim != 1 or len(grid) < 1 or np.any(np.diff(grid) <= 0):
        raise ValueError("times must be a strictly increasing 1-D grid")
    return grid


def _message(code: int, info: np.ndarray, max_steps: int, method: str) -> tuple[int, str]:
    if code == _OK:
        return STATUS_OK, "ok"
    day = float(info[1])
    if code == _FAIL_STEPS:
        return STATUS_SOLVER_FAILED, (
            f"{method}: step-count limit ({max_steps} per segment) reached at day {day:.6g}"
        )
    if code == _FAIL_HMIN:
        return STATUS_SOLVER_FAILED, f"{method}: step size underflow at day {day:.6g}"
    return STATUS_NON_FINITE, f"non-finite state ({method}, day {day:.6g})"


def _outcome(
    states: np.ndarray,
    inputs: np.ndarray,
    code: int,
    info: np.ndarray,
    events: list[Event],
    max_steps: int,
    method: str,
) -> SubjectOutcome:
    status, message = _message(code, info, max_steps, method)
    outcome = SubjectOutcome(states=states, inputs=inputs, status=status, message=message)
    if code != _OK:
        outcome.failed_at_day = float(info[0])
    outcome.applied_events = list(events[: int(info[2])])
    return outcome


def integrate_subject_rodas(
    model: CompiledModel,
    parameters: np.ndarray,
    y0: np.ndarray,
    times: np.ndarray,
    events: Sequence[Event],
    options: SolverOptions | None = None,
    *,
    method: str = DEFAULT_METHOD,
) -> SubjectOutcome:
    """Integrate one subject (semantics of ``integrate_subject`` without policies).

    ``method``: ``"rodas5p"`` (default) or ``"rodas4"`` (see :data:`METHODS`).
    Returns a :class:`SubjectOutcome` like the LSODA backend's.
    """
    opts = options or SolverOptions()
    spec = model.spec
    grid = _check_times(times)
    pending = _sorted_events(events, float(grid[0]), float(grid[-1]))
    ev_t, kind, idx, amt = _event_arrays(spec, pending)
    n_s, n_u = len(spec.states), len(spec.inputs)
    states = np.full((len(grid), n_s), np.nan)
    inputs = np.full((len(grid), n_u), np.nan)
    info = np.zeros(6)
    subject, _ = _model_kernels(model, method)
    code = subject(
        np.ascontiguousarray(parameters, dtype=float),
        np.ascontiguousarray(y0, dtype=float),
        n_u,
        grid,
        ev_t,
        kind,
        idx,
        amt,
        float(opts.rtol),
        float(opts.atol),
        float(opts.hmax),
        int(opts.max_steps_per_segment),
        rates_are_autonomous(spec),
        bool(opts.dense_output),
        states,
        inputs,
        info,
    )
    return _outcome(states, inputs, int(code), info, pending, opts.max_steps_per_segment, method)


def integrate_batch_rodas(
    model: CompiledModel,
    parameters: np.ndarray,
    y0: np.ndarray,
    times: np.ndarray,
    events_per_subject: Sequence[Sequence[Event]],
    options: SolverOptions | None = None,
    *,
    method: str = DEFAULT_METHOD,
    threads: int | None = None,
) -> list[SubjectOutcome]:
    """Integrate ``N`` subjects, in chunks on ``threads`` threads (GIL-free kernels).

    ``threads`` defaults to ``numba.get_num_threads()`` (``NUMBA_NUM_THREADS`` /
    ``numba.set_num_threads``). Each subject is integrated exactly as by
    :func:`integrate_subject_rodas`; the results do not depend on the number of threads.
    """
    opts = options or SolverOptions()
    spec = model.spec
    grid = _check_times(times)
    params = np.ascontiguousarray(np.atleast_2d(parameters), dtype=float)
    init = np.ascontiguousarray(np.atleast_2d(y0), dtype=float)
    n = params.shape[0]
    n_s = len(spec.states)
    if init.shape != (n, n_s):
        raise ValueError(f"y0 must have shape ({n}, {n_s}), got {init.shape}")
    if len(events_per_subject) != n:
        raise ValueError(f"need one event list per subject ({n}), got {len(events_per_subject)}")
    _, batch = _model_kernels(model, method)

    def chunk(a: int, b: int) -> list[SubjectOutcome]:
        return _integrate_chunk(
            spec, batch, params[a:b], init[a:b], grid, events_per_subject[a:b], opts, method
        )

    return map_chunks(chunk, n, numba.get_num_threads() if threads is None else threads)


def _integrate_chunk(
    spec: ModelSpec,
    batch: Any,
    params: np.ndarray,
    init: np.ndarray,
    grid: np.ndarray,
    events_per_subject: Sequence[Sequence[Event]],
    opts: SolverOptions,
    method: str,
) -> list[SubjectOutcome]:
    """One chunk through the batch kernel (which releases the GIL)."""
    n = params.shape[0]
    n_s, n_u = len(spec.states), len(spec.inputs)
    sorted_events = [
        _sorted_events(evs, float(grid[0]), float(grid[-1])) for evs in events_per_subject
    ]
    offsets = np.zeros(n + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(e) for e in sorted_events])
    flat = [ev for evs in sorted_events for ev in evs]
    ev_t, kind, idx, amt = _event_arrays(spec, flat)
    states = np.full((n, len(grid), n_s), np.nan)
    inputs = np.full((n, len(grid), n_u), np.nan)
    info = np.zeros((n, 6))
    codes = np.zeros(n, dtype=np.int64)
    batch(
        np.ascontiguousarray(params),
        np.ascontiguousarray(init),
        n_u,
        grid,
        offsets,
        ev_t,
        kind,
        idx,
        amt,
        float(opts.rtol),
        float(opts.atol),
        float(opts.hmax),
        int(opts.max_steps_per_segment),
        rates_are_autonomous(spec),
        bool(opts.dense_output),
        states,
        inputs,
        info,
        codes,
    )
    return [
        _outcome(
            states[i],
            inputs[i],
            int(codes[i]),
            info[i],
            sorted_events[i],
            opts.max_steps_per_segment,
            method,
        )
        for i in range(n)
    ]


def solve_rodas(
    rhs: Callable[..., Any],
    jac: Callable[..., Any],
    parameters: np.ndarray,
    y0: np.ndarray,
    times: np.ndarray,
    options: SolverOptions | None = None,
    *,
    autonomous: bool = True,
    jac_pattern: np.ndarray | None = None,
    method: str = DEFAULT_METHOD,
) -> tuple[np.ndarray, int, str, RodasStats]:
    """Solve a plain ODE ``y' = rhs(t, y, p, u, out)`` (numba-compiled callables, no events).

    ``jac(t, y, p, u, out)`` must write the full Jacobian (entries it leaves alone must be
    zero from the start). ``jac_pattern`` (boolean ``(S, S)``) is the Jacobian's structure
    (default: dense). Returns ``(states (T, S), status, message, stats)``.
    """
    opts = options or SolverOptions()
    grid = _check_times(times)
    init = np.ascontiguousarray(y0, dtype=float)
    n_s = init.shape[0]
    pat = np.ones((n_s, n_s), dtype=bool) if jac_pattern is None else jac_pattern
    states = np.full((len(grid), init.shape[0]), np.nan)
    inputs = np.full((len(grid), 0), np.nan)
    info = np.zeros(6)
    empty_f = np.empty(0)
    empty_i = np.empty(0, dtype=np.int64)
    subject, _ = _function_kernels(rhs, jac, pat, method)
    code = subject(
        np.ascontiguousarray(parameters, dtype=float),
        init,
        0,
        grid,
        empty_f,
        empty_i,
        empty_i,
        empty_f,
        float(opts.rtol),
        float(opts.atol),
        float(opts.hmax),
        int(opts.max_steps_per_segment),
        autonomous,
        bool(opts.dense_output),
        states,
        inputs,
        info,
    )
    status, message = _message(int(code), info, opts.max_steps_per_segment, method)
    stats = RodasStats(int(info[3]), int(info[4]), int(info[5]))
    return states, status, message, stats
