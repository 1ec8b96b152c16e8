"""The Rosenbrock engine on a GPU: one CUDA thread per subject, each with its own steps.

Same method, same step control, same event and failure semantics as
:func:`lupusim.engine._rodas.integrate_batch_rodas`; only the execution differs. Every
subject is integrated by one CUDA thread with its own adaptive step sequence (no lockstep
across subjects; the scheme of Julia's DiffEqGPU ``EnsembleGPUKernel``, Utkarsh et al.,
"Automated translation and accelerated solving of differential equations on multiple GPU
platforms", CMAME 419 (2024) 116591). A warp runs until its slowest subject is done.

Code generation (per model and method; built on a machine's first call, ~1 min for the
human model, then loaded from numba-cuda's disk cache beside the generated module):

* the model's ``rhs`` is the generated source that the CPU engine compiles
  (:attr:`CompiledModel.source_path`, from :func:`lupusim.model.generate_source`), as a
  CUDA device function; its ``jac`` is the same source with every ``out[i, j] = ...``
  rewritten to ``out[q] = ...``, ``q`` the entry's position in the Jacobian's structure
  (row-major), so the Jacobian is a packed vector of its ~90 structural non-zeros;
* ``build``/``lu``/``solve`` are the straight-line LU of ``W = I/(hγ) − J`` without row
  exchanges over the fill pattern (:func:`lupusim.engine._rodas.lu_fill_pattern`), the
  same operations in the same order as the CPU's generated LU, on a packed vector of the
  fill pattern's ~155 entries; when its threshold-pivoting test refuses a pivot the step
  refactors a dense copy with partial pivoting, like the CPU (the dense solve skips zero
  entries exactly as the CPU's non-zero lists do);
* the Rosenbrock step loops over the method's stages with one call of the model's rhs
  and one solve (NVVM inlines every call, so each call site is a copy of the model in
  the kernel); the stage sums are written out per stage with the same terms in the same
  order as :func:`lupusim.engine._rodas._step_source`; the weighted norm is the CPU
  engine's own source; the initial-step heuristic and the subject loop mirror
  ``_initial_step`` and ``_integrate_subject``, with f(t, y), the initial step and J
  evaluated from one call site each (``tests/test_rodas_gpu.py`` checks that the
  simulator reproduces the CPU engine bit for bit given the CPU's model functions).

Work arrays are ``cuda.local.array`` of compile-time sizes (per thread, ~1.7 kB hot:
states, stage vectors, packed Jacobian and LU; plus an untouched-unless-needed dense
``S×S`` matrix for the pivoting fallback); nothing is allocated on the heap inside the
kernel. Parameters are read from a transposed ``(P, N)`` device array (consecutive
threads read consecutive addresses); outputs are written to ``(N, T, S)`` arrays, the
layout the CPU engine returns, so nothing is transposed on the host.

Arithmetic: under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) the kernel runs as
Python on numpy scalars, so results equal the CPU engine's up to the rounding of integer
powers and libm calls. On a real GPU, NVVM contracts ``a*b + c`` to fused multiply-adds
and ``exp``/``log``/``pow`` come from libdevice, so results differ from the CPU engine's
at rounding level; where that moves a step-acceptance decision, by up to about the
tolerance.

The simulator flag is read when ``numba.cuda`` is first imported; this module imports it
only when a kernel is built or :func:`cuda_available` is called.
"""

from __future__ import annotations

import inspect
import math
import re
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from lupusim.engine import _rodas
from lupusim.engine._events import Event
from lupusim.engine._rodas import (
    _FAC_MAX,
    _FAC_MIN,
    _FAIL_HMIN,
    _FAIL_NONFINITE,
    _FAIL_STEPS,
    _KIND_BOLUS,
    _MAX_MULTIPLIER,
    _NONFINITE_FAC,
    _OK,
    _SAFETY,
    DEFAULT_METHOD,
    METHODS,
    _check_method,
    _check_times,
    _event_arrays,
    _load_generated,
    _outcome,
    _sorted_events,
    lu_fill_pattern,
    rates_are_autonomous,
)
from lupusim.engine._solver import SolverOptions, SubjectOutcome
from lupusim.model._codegen import CompiledModel, generate_source

__all__ = ["cuda_available", "integrate_batch_rodas_cuda", "simulator_enabled"]


def simulator_enabled() -> bool:
    """True when numba runs CUDA kernels in its simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    from numba import config

    return bool(config.ENABLE_CUDASIM)  # type: ignore[attr-defined]


def cuda_available() -> bool:
    """True when a real CUDA GPU is usable (False under the simulator)."""
    if simulator_enabled():
        return False
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:  # no driver, broken toolkit: no GPU
        return False


# --------------------------------------------------------------------------------------
# Generated per model: rhs, packed jac, packed LU.
# --------------------------------------------------------------------------------------
_JAC_ENTRY = re.compile(r"^    out\[(\d+), (\d+)\] = (.*)$")


def _split_functions(source: str) -> dict[str, list[str]]:
    """Top-level ``def`` blocks of generated source: name -> lines (def line first)."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in source.splitlines():
        if line.startswith("def "):
            name = line[4 : line.index("(")]
            current = blocks[name] = [line]
        elif current is not None and (line.startswith("    ") or not line.strip()):
            if line.strip():
                current.append(line)
        else:
            current = None
    return blocks


def _model_source(model: CompiledModel) -> tuple[str, list[tuple[int, int]]]:
    """CUDA device source of the model's ``rhs`` and packed ``jac``; the Jacobian pattern.

    Taken from the very source the CPU engine compiles (regenerated if the file is gone).
    """
    path = model.source_path
    text = path.read_text() if path.exists() else generate_source(model.spec)
    blocks = _split_functions(text)
    rhs = [ln for ln in blocks["rhs"][1:] if ln.strip() != "return out"]
    jac_body: list[str] = []
    pattern: list[tuple[int, int]] = []
    for ln in blocks["jac"][1:]:
        if ln.strip() == "return out":
            continue
        m = _JAC_ENTRY.match(ln)
        if m:
            pattern.append((int(m.group(1)), int(m.group(2))))
            ln = f"    out[{len(pattern) - 1}] = {m.group(3)}"
        elif "out[" in ln:
            raise ValueError(f"unexpected line in the generated Jacobian: {ln!r}")
        jac_body.append(ln)
    lines = ["def _model_rhs(t, y, p, u, out):", *rhs, "    return 0", ""]
    lines += ["", "def _model_jac(t, y, p, u, out):", *jac_body, "    return 0", ""]
    return "\n".join(lines), pattern


def _packed_linear_source(n: int, jac_pattern: list[tuple[int, int]]) -> tuple[str, int]:
    """Straight-line ``build``, ``lu``, ``solve`` and ``dense`` on packed storage.

    The operations and their order are those of
    :func:`lupusim.engine._rodas._linear_solver_source`; ``a[i, j]`` becomes ``a[q]``
    (``q``: position of ``(i, j)`` in the row-major fill pattern) and the right-hand side
    is row ``r`` of the stage matrix ``k``. Returns the source and the fill count.
    """
    structure = np.zeros((n, n), dtype=bool)
    for i, j in jac_pattern:
        structure[i, j] = True
    fill = lu_fill_pattern(structure)
    pos = {(int(i), int(j)): q for q, (i, j) in enumerate(zip(*np.nonzero(fill), strict=True))}
    jpos = {ij: q for q, ij in enumerate(jac_pattern)}
    lower = [[int(k) for k in np.flatnonzero(fill[i, :i])] for i in range(n)]
    upper = [[int(j) + i + 1 for j in np.flatnonzero(fill[i, i + 1 :])] for i in range(n)]

    def a(i: int, j: int) -> str:
        return f"a[{pos[i, j]}]"

    lines = ["def _model_lu(a, dinv, sc):"]
    for i in range(n):
        for k in lower[i]:
            lines.append(f"    m = {a(i, k)} * dinv[{k}]")
            lines.append(f"    if not (abs(m) * sc[{k}] <= {_MAX_MULTIPLIER!r} * sc[{i}]):")
            lines.append("        return False")
            lines.append(f"    {a(i, k)} = m")
            lines.extend(f"    {a(i, j)} -= m * {a(k, j)}" for j in upper[k])
        lines.append(f"    d = {a(i, i)}")
        lines.append("    if d == 0.0 or not math.isfinite(d):")
        lines.append("        return False")
        lines.append(f"    dinv[{i}] = 1.0 / d")
    lines += ["    return True", "", "", "def _model_build(jv, gh, a):"]
    for i in range(n):
        for j in [*lower[i], i, *upper[i]]:
            value = f"-jv[{jpos[i, j]}]" if (i, j) in jpos else "-0.0"
            if j == i:
                value += " + gh"
            lines.append(f"    {a(i, j)} = {value}")
    lines += ["    return 0", "", "", "def _model_solve(a, dinv, k, r):"]
    for i in range(n):
        if lower[i]:
            terms = "".join(f" - {a(i, c)} * k[r, {c}]" for c in lower[i])
            lines.append(f"    k[r, {i}] = k[r, {i}]{terms}")
    for i in range(n - 1, -1, -1):
        terms = "".join(f" - {a(i, j)} * k[r, {j}]" for j in upper[i])
        lines.append(f"    k[r, {i}] = (k[r, {i}]{terms}) * dinv[{i}]")
    lines += ["    return 0", "", "", "def _model_dense(jv, gh, w):"]
    lines += [
        f"    for i in range({n}):",
        f"        for j in range({n}):",
        "            w[i, j] = -0.0",
    ]
    lines += [f"    w[{i}, {j}] = -jv[{q}]" for q, (i, j) in enumerate(jac_pattern)]
    lines += [f"    for i in range({n}):", "        w[i, i] += gh", "    return 0", ""]
    return "\n".join(lines), int(fill.sum())


def _step_source_cuda(method: str) -> str:
    """``_rodas_step`` for CUDA, the expressions of :func:`_rodas._step_source`.

    Differences: fixed sizes (``N_STATES``), the stage vectors are rows of ``k``, the
    Jacobian and LU are packed (``jv``, ``w``), ``wd``/``piv`` serve the dense fallback,
    and ``∂f/∂t`` terms are compiled in only for non-autonomous models. The stages run in
    a loop with one call of the right-hand side and one of the solve: NVVM inlines every
    call, and the stage-by-stage form (seven inlined right-hand sides, eight solves) made
    a 41,000-line PTX kernel that took 67-97 s to build on the H100 machine. The stage
    sums themselves stay written out per stage (``_stage_input``, ``_stage_correction``:
    the CPU's terms in the CPU's order, zero coefficients skipped), so the arithmetic is
    unchanged.
    """
    table, gamma, _ = METHODS[method]
    s = table.shape[0]
    a_cols = slice(2, 2 + s - 1)
    c_cols = slice(2 + s - 1, 2 + 2 * (s - 1))
    inputs = ["def _stage_input(st, y, k, i):"]
    corrections = ["def _stage_correction(st, k, i):"]
    times = ["def _stage_time(st):"]
    derivs = ["def _stage_dt(st):"]
    for st in range(s):
        row = table[st]
        c, d = float(row[0]), float(row[1])
        a, cc = row[a_cols], row[c_cols]
        cond = f"    {'if' if st == 0 else 'elif'} st == {st}:"
        times += [cond, f"        return {c!r}"]
        derivs += [cond, f"        return {d!r}"]
        if st == 0:
            continue
        args = "".join(f" + {float(a[j])!r} * k[{j}, i]" for j in range(st) if a[j] != 0.0)
        corr = " + ".join(f"{float(cc[j])!r} * k[{j}, i]" for j in range(st) if cc[j] != 0.0)
        lead = "if" if st == 1 else "elif"
        inputs += [f"    {lead} st == {st}:", f"        return y[i]{args}"]
        corrections += [f"    {lead} st == {st}:", f"        return {corr or '0.0'}"]
    inputs.append("    return y[i]")
    corrections.append("    return 0.0")
    times.append("    return 0.0")
    derivs.append("    return 0.0")
    out = [
        *inputs,
        "",
        "",
        *corrections,
        "",
        "",
        *times,
        "",
        "",
        *derivs,
        "",
        "",
        "def _rodas_step(t, h, y, p, u, f0, ft, jv, w, wd, piv, dinv, k, ys, fs, ynew,",
        "                rtol, atol):",
        "    n = N_STATES",
        f"    gh = 1.0 / (h * {gamma!r})",
        "    _model_build(jv, gh, w)",
        "    for i in range(n):  # error-norm scales for the pivot test (ynew is set below)",
        "        ynew[i] = atol + rtol * abs(y[i])",
        "    static = _model_lu(w, dinv, ynew)",
        "    if not static:",
        "        _model_dense(jv, gh, wd)",
        "        if not _cuda_lu_factor(wd, piv):",
        "            return -1.0",
        "        for i in range(n):",
        "            dinv[i] = 1.0 / wd[i, i]",
        "    inv_h = 1.0 / h",
        "    for st in range(N_STAGES):",
        "        if st == 0:",
        "            for i in range(n):",
        "                k[0, i] = f0[i]",
        "        else:",
        "            for i in range(n):",
        "                ys[i] = _stage_input(st, y, k, i)",
        "            _model_rhs(t + _stage_time(st) * h, ys, p, u, fs)",
        "            for i in range(n):",
        "                k[st, i] = fs[i] + _stage_correction(st, k, i) * inv_h",
        "        if not AUTONOMOUS:",
        "            d = _stage_dt(st)",
        "            if d != 0.0:",
        "                for i in range(n):",
        "                    k[st, i] += h * d * ft[i]",
        "        if static:",
        "            _model_solve(w, dinv, k, st)",
        "        else:",
        "            _cuda_lu_solve(wd, piv, dinv, k, st)",
        "    # y_{n+1} = Y_s + k_s; the error estimate is k_s",
        "    err = 0.0",
        "    finite = True",
        "    for i in range(n):",
        f"        yn = ys[i] + k[{s - 1}, i]",
        "        ynew[i] = yn",
        "        if not math.isfinite(yn):",
        "            finite = False",
        "        sc = atol + rtol * _fmax(abs(y[i]), abs(yn))",
        f"        e = k[{s - 1}, i] / sc",
        "        err += e * e",
        "    if not finite:",
        "        return math.inf",
        "    err = math.sqrt(err / n)",
        "    if not math.isfinite(err):",
        "        return math.inf",
        "    return err",
    ]
    return "\n".join(out) + "\n"


def _dense_source(method: str) -> str:
    """``_HAS_DENSE`` and ``_dense(theta, y, ynew, k, out)``: the CPU engine's continuous
    extension source where it has one (:func:`lupusim.engine._rodas._dense_source`, then
    outputs inside a step are interpolated as on the CPU), else a stub."""
    cpu_dense = getattr(_rodas, "_dense_source", None)
    if cpu_dense is not None:
        return "\n".join(cpu_dense(method)) + "\n"
    return "_HAS_DENSE = False\n\n\ndef _dense(theta, y, ynew, k, out):\n    return 0\n"


# --------------------------------------------------------------------------------------
# Device code. These functions are never called here: their source is copied into the
# generated module, where the names below are bound (numba.cuda, sizes, model functions).
# --------------------------------------------------------------------------------------
cuda: Any = None
float64: Any = None
int64: Any = None
N_STATES = 0
N_INPUTS = 0
N_U_ALLOC = 1
N_STAGES = 0
N_JAC = 0
N_FILL = 0
AUTONOMOUS = True
_ERR_EXPONENT = 0.0
_model_rhs: Any = None
_model_jac: Any = None
_rodas_step: Any = None
_wrms: Any = None
_HAS_DENSE = False
_dense: Any = None


def _fmin(a: float, b: float) -> float:
    """``min(a, b)`` as numba and Python compute it (``b`` only if ``b < a``)."""
    return b if b < a else a


def _fmax(a: float, b: float) -> float:
    """``max(a, b)`` as numba and Python compute it (``b`` only if ``b > a``)."""
    return b if b > a else a


def _cuda_initial_step(
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
    """``_rodas._initial_step`` with ``min``/``max`` spelled out (numba 0.68's built-in
    CUDA target fails to type the builtins on floats)."""
    d0 = _wrms(y, y, rtol, atol)
    d1 = _wrms(f0, y, rtol, atol)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 or not math.isfinite(d1) else 0.01 * d0 / d1
    h0 = _fmin(_fmin(h0, span), hmax)
    for i in range(y.shape[0]):
        tmp[i] = y[i] + h0 * f0[i]
    _model_rhs(t + h0, tmp, p, u, f1)
    for i in range(y.shape[0]):
        tmp[i] = f1[i] - f0[i]
    d2 = _wrms(tmp, y, rtol, atol) / h0
    dm = _fmax(d1, d2)
    if dm <= 1e-15 or not math.isfinite(dm):
        h1 = _fmax(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / dm) ** (1.0 / 5.0)  # order p = 4
    return _fmin(_fmin(_fmin(100.0 * h0, h1), span), hmax)


def _cuda_lu_factor(a: Any, piv: Any) -> bool:
    """``_rodas._lu_factor`` (partial pivoting, skipping zeros) with a fixed size."""
    n = N_STATES
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
        inv = 1.0 / a[k, k]
        for i in range(k + 1, n):
            lik = a[i, k]
            if lik != 0.0:
                lik = lik * inv
                a[i, k] = lik
                for j in range(k + 1, n):
                    if a[k, j] != 0.0:
                        a[i, j] -= lik * a[k, j]
    return True


def _cuda_lu_solve(a: Any, piv: Any, dinv: Any, k: Any, r: int) -> int:
    """``_rodas._lu_solve`` on row ``r`` of ``k``: zeros skipped as its non-zero lists do."""
    n = N_STATES
    for q in range(n):
        pq = piv[q]
        if pq != q:
            tmp = k[r, q]
            k[r, q] = k[r, pq]
            k[r, pq] = tmp
    for i in range(n):
        acc = k[r, i]
        for j in range(i):
            if a[i, j] != 0.0:
                acc -= a[i, j] * k[r, j]
        k[r, i] = acc
    for i in range(n - 1, -1, -1):
        acc = k[r, i]
        for j in range(i + 1, n):
            if a[i, j] != 0.0:
                acc -= a[i, j] * k[r, j]
        k[r, i] = acc * dinv[i]
    return 0


def _cuda_subject(
    s: int,
    params: Any,
    y0: Any,
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
    dense: bool,
    states_out: Any,
    inputs_out: Any,
    info: Any,
    y: Any,
    u: Any,
    ynew: Any,
    f0: Any,
    ft: Any,
    fs: Any,
    ys: Any,
    tmp: Any,
    k: Any,
    jv: Any,
    w: Any,
    wd: Any,
    piv: Any,
    dinv: Any,
) -> int:
    """Subject ``s``: ``_rodas._integrate_subject`` line by line, on per-thread arrays.

    ``params`` is ``(P, N)`` and ``y0`` ``(S, N)`` (transposed for coalesced reads);
    ``states_out`` ``(N, T, S)``, ``inputs_out`` ``(N, T, U)``, ``info`` ``(N, 6)``.
    Every output row is written (NaN after a failure).
    """
    n = N_STATES
    n_u = N_INPUTS
    n_t = times.shape[0]
    e0 = ev_off[s]
    n_ev = ev_off[s + 1] - e0
    p = params[:, s]
    for i in range(n):
        y[i] = y0[i, s]
        ft[i] = 0.0
    for i in range(n_u):
        u[i] = 0.0
    n_acc = 0
    n_rej = 0
    n_fev = 0
    t0 = times[0]
    t_end = times[n_t - 1]
    t = t0
    ie = 0
    while ie < n_ev and ev_t[e0 + ie] == t0:
        if ev_kind[e0 + ie] == _KIND_BOLUS:
            y[ev_idx[e0 + ie]] += ev_amt[e0 + ie]
        else:
            u[ev_idx[e0 + ie]] += ev_amt[e0 + ie]
        ie += 1
    for i in range(n):
        states_out[s, 0, i] = y[i]
    for i in range(n_u):
        inputs_out[s, 0, i] = u[i]
    io = 1
    code = _OK
    fail_t = math.nan
    seg_start = t0
    seg_io = io
    while t < t_end:
        # ---- one segment (t, b]: b is the next event time or the end
        b = ev_t[e0 + ie] if ie < n_ev else t_end
        seg_start = t
        seg_io = io
        # f(t, y), the initial step and J are evaluated by the first pass through the
        # ``need_jac`` block below (the CPU's order): one call site each, since NVVM
        # inlines every call and each copy of the model lengthens the kernel's build
        steps = 0
        need_jac = True
        new_segment = True
        h = 0.0
        fac_max = _FAC_MAX
        last_bad_nonfinite = False
        while t < b and code == _OK:
            # with a continuous extension the steps run to the segment's end and outputs
            # inside are interpolated; otherwise every output time is stepped to
            target = b if (dense and _HAS_DENSE) or times[io] >= b else times[io]
            while t < target:
                if steps >= max_steps:
                    code = _FAIL_STEPS
                    break
                if need_jac:
                    _model_rhs(t, y, p, u, f0)
                    n_fev += 1
                    if new_segment:
                        h = _cuda_initial_step(t, y, p, u, f0, tmp, fs, rtol, atol, hmax, b - t)
                        n_fev += 1
                        new_segment = False
                    _model_jac(t, y, p, u, jv)
                    if not AUTONOMOUS:
                        dt = math.sqrt(2.2e-16) * _fmax(1e-5, abs(t))
                        _model_rhs(t + dt, y, p, u, fs)
                        n_fev += 1
                        for i in range(n):
                            ft[i] = (fs[i] - f0[i]) / dt
                    need_jac = False
                h = _fmin(h, hmax)
                if h < 1e-14 * _fmax(1.0, abs(t)):
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
                    t, h_try, y, p, u, f0, ft, jv, w, wd, piv, dinv, k, ys, fs, ynew, rtol, atol
                )
                n_fev += N_STAGES - 1
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
                        h = h_try * _fmax(_FAC_MIN, fac)
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
                            states_out[s, io, i] = tmp[i]
                        for i in range(n_u):
                            inputs_out[s, io, i] = u[i]
                        io += 1
                t = t_new
                for i in range(n):
                    y[i] = ynew[i]
                need_jac = True
                fac = _FAC_MAX if err == 0.0 else _SAFETY * err ** (-_ERR_EXPONENT)
                h_next = h_try * _fmin(fac_max, _fmax(_FAC_MIN, fac))
                if h_try < h and h_next < h and fac_max > 1.0:
                    h_next = h  # the step was shortened to hit a time: keep the proposal
                h = h_next
                fac_max = _FAC_MAX
            if code != _OK:
                fail_t = t
                break
            # reached target
            if target == b:
                while ie < n_ev and ev_t[e0 + ie] == b:
                    if ev_kind[e0 + ie] == _KIND_BOLUS:
                        y[ev_idx[e0 + ie]] += ev_amt[e0 + ie]
                    else:
                        u[ev_idx[e0 + ie]] += ev_amt[e0 + ie]
                    ie += 1
            if io < n_t and times[io] == target:
                for i in range(n):
                    states_out[s, io, i] = y[i]
                for i in range(n_u):
                    inputs_out[s, io, i] = u[i]
                io += 1
        if code != _OK:
            break
    first_nan = seg_io if code != _OK else io
    for r in range(first_nan, n_t):
        for i in range(n):
            states_out[s, r, i] = math.nan
        for i in range(n_u):
            inputs_out[s, r, i] = math.nan
    info[s, 0] = seg_start if code != _OK else math.nan
    info[s, 1] = fail_t
    info[s, 2] = ie
    info[s, 3] = n_acc
    info[s, 4] = n_rej
    info[s, 5] = n_fev
    return code


def _cuda_kernel(
    params: Any,
    y0: Any,
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
    dense: bool,
    states_out: Any,
    inputs_out: Any,
    info: Any,
    codes: Any,
) -> None:
    """One thread per subject; the per-thread work arrays are allocated here only."""
    s = cuda.grid(1)
    if s < codes.shape[0]:
        y = cuda.local.array(N_STATES, float64)
        u = cuda.local.array(N_U_ALLOC, float64)
        ynew = cuda.local.array(N_STATES, float64)
        f0 = cuda.local.array(N_STATES, float64)
        ft = cuda.local.array(N_STATES, float64)
        fs = cuda.local.array(N_STATES, float64)
        ys = cuda.local.array(N_STATES, float64)
        tmp = cuda.local.array(N_STATES, float64)
        k = cuda.local.array((N_STAGES, N_STATES), float64)
        jv = cuda.local.array(N_JAC, float64)
        w = cuda.local.array(N_FILL, float64)
        wd = cuda.local.array((N_STATES, N_STATES), float64)
        piv = cuda.local.array(N_STATES, int64)
        dinv = cuda.local.array(N_STATES, float64)
        codes[s] = _cuda_subject(
            s, params, y0, times, ev_off, ev_t, ev_kind, ev_idx, ev_amt,
            rtol, atol, hmax, max_steps, dense, states_out, inputs_out, info,
            y, u, ynew, f0, ft, fs, ys, tmp, k, jv, w, wd, piv, dinv,
        )  # fmt: skip


_DEVICE_FUNCTIONS = (
    _fmin,
    _fmax,
    _cuda_initial_step,
    _cuda_lu_factor,
    _cuda_lu_solve,
    _cuda_subject,
)
_SHARED_CONSTANTS = (
    "_FAC_MAX",
    "_FAC_MIN",
    "_FAIL_HMIN",
    "_FAIL_NONFINITE",
    "_FAIL_STEPS",
    "_KIND_BOLUS",
    "_NONFINITE_FAC",
    "_OK",
    "_SAFETY",
)


def _plain_source(fn: Any) -> str:
    """Source of a function without its decorators."""
    lines = inspect.getsource(getattr(fn, "py_func", fn)).splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("def "))
    return "\n".join(lines[start:]) + "\n"


def _cuda_module_source(model: CompiledModel, method: str) -> str:
    spec = model.spec
    table, _, embedded_order = METHODS[method]
    n, n_u = len(spec.states), len(spec.inputs)
    model_src, jac_pattern = _model_source(model)
    linear_src, n_fill = _packed_linear_source(n, jac_pattern)
    device = [
        "_model_rhs",
        "_model_jac",
        "_model_build",
        "_model_lu",
        "_model_solve",
        "_model_dense",
        "_wrms",
        "_stage_input",
        "_stage_correction",
        "_stage_time",
        "_stage_dt",
        "_rodas_step",
        "_dense",
        *(f.__name__ for f in _DEVICE_FUNCTIONS),
    ]
    parts = [
        f"# Generated by lupusim.engine._rodas_gpu: {method} CUDA kernel for model "
        f"{spec.name} ({model.hash}). Do not edit.",
        "from __future__ import annotations",
        "",
        "import math",
        "",
        "from numba import cuda, float64, int64",
        "",
        f"from lupusim.engine._rodas import {', '.join(_SHARED_CONSTANTS)}",
        "",
        f"N_STATES = {n}",
        f"N_INPUTS = {n_u}",
        f"N_U_ALLOC = {max(n_u, 1)}",
        f"N_STAGES = {table.shape[0]}",
        f"N_JAC = {max(len(jac_pattern), 1)}",
        f"N_FILL = {n_fill}",
        f"AUTONOMOUS = {rates_are_autonomous(spec)!r}",
        f"_ERR_EXPONENT = 1.0 / {embedded_order + 1}",
        "",
        "",
        model_src,
        "",
        linear_src,
        "",
        _plain_source(_rodas._wrms),
        "",
        _step_source_cuda(method),
        "",
        _dense_source(method),
    ]
    parts += ["\n" + _plain_source(f) for f in _DEVICE_FUNCTIONS]
    parts += ["\n" + _plain_source(_cuda_kernel), ""]
    parts += [f"{name} = cuda.jit(device=True)({name})" for name in device]
    # On a GPU the kernel's machine code is cached on disk beside the generated module
    # (numba-cuda's cache, keyed by source, signature and compute capability), so only a
    # process's first call per machine pays NVVM and ptxas (~70 s on an H100 host).
    cache = not simulator_enabled()
    parts += [f"_cuda_kernel = cuda.jit(cache={cache!r})(_cuda_kernel)", ""]
    return "\n".join(parts)


_CUDA_KERNELS: dict[tuple[str, str, str, bool], Any] = {}


def _numpy_compat() -> None:
    """Restore ``numpy.row_stack`` (removed in numpy 2.5) for numba-cuda <= 0.30.

    numba-cuda 0.30.4 registers an overload for ``np.row_stack`` when it compiles its
    first kernel and fails with numpy 2.5 (seen on the H100 machine, 2026-11-26). The
    alias is what numpy itself had (``row_stack`` was ``vstack``).
    """
    if "row_stack" not in dir(np):
        setattr(np, "row_stack", np.vstack)  # noqa: B010 (the name is absent from stubs)


def _cuda_kernel_for(model: CompiledModel, method: str) -> Any:
    """The CUDA kernel for ``model`` and ``method`` (built once per process)."""
    _numpy_compat()
    key = (model.hash, str(model.source_path), _check_method(method), simulator_enabled())
    kernel = _CUDA_KERNELS.get(key)
    if kernel is None:
        source = _cuda_module_source(model, method)
        module = _load_generated(f"lupusim_rodas_cuda_{model.hash}", source)
        kernel = _CUDA_KERNELS[key] = module._cuda_kernel
    return kernel


# --------------------------------------------------------------------------------------
# Host side
# --------------------------------------------------------------------------------------
#: Subjects per kernel launch when a batch is split: about one wave of an H100 at the
#: kernel's 255 registers per thread (132 SMs x 256 threads = 33,792), so each launch
#: fills the GPU while the host prepares the next one.
AUTO_CHUNK_SUBJECTS = 32_768


def _chunk_bounds(n: int, chunk_subjects: int | None) -> list[tuple[int, int]]:
    """``[lo, hi)`` subject ranges, one per kernel launch (near-equal sizes when automatic)."""
    if chunk_subjects is None:
        pieces = 1 if n <= 2 * AUTO_CHUNK_SUBJECTS else math.ceil(n / AUTO_CHUNK_SUBJECTS)
        size = max(1, math.ceil(n / pieces))
    elif chunk_subjects < 1:
        raise ValueError(f"chunk_subjects must be positive, got {chunk_subjects}")
    else:
        size = chunk_subjects
    return [(lo, min(n, lo + size)) for lo in range(0, n, size)]


def _chunk_inputs(
    model: CompiledModel,
    params: np.ndarray,
    init: np.ndarray,
    grid: np.ndarray,
    sorted_events: Sequence[Sequence[Event]],
) -> tuple[np.ndarray, ...]:
    """Host arrays of one launch, in the layouts the kernel reads."""
    offsets = np.zeros(len(sorted_events) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(e) for e in sorted_events])
    flat = [ev for evs in sorted_events for ev in evs]
    if flat:
        ev_t, kind, idx, amt = _event_arrays(model.spec, flat)
    else:  # no zero-length device arrays
        ev_t, amt = np.zeros(1), np.zeros(1)
        kind, idx = np.zeros(1, np.int64), np.zeros(1, np.int64)
    host = (
        np.ascontiguousarray(params.T),
        np.ascontiguousarray(init.T),
        grid,
        offsets,
        np.ascontiguousarray(ev_t, dtype=np.float64),
        np.ascontiguousarray(kind, dtype=np.int64),
        np.ascontiguousarray(idx, dtype=np.int64),
        np.ascontiguousarray(amt, dtype=np.float64),
    )
    return host


def _host_array(shape: tuple[int, ...], dtype: Any, pinned: bool) -> np.ndarray:
    """A result array; page-locked when asked (device-to-host copies run asynchronously
    and several times faster), plain if the driver refuses the page-locked allocation."""
    if pinned:
        from numba import cuda

        try:
            return np.asarray(cuda.pinned_array(shape, dtype=dtype))
        except Exception:  # e.g. the locked-memory limit: fall back to pageable memory
            pass
    return np.empty(shape, dtype=dtype)


def integrate_batch_rodas_cuda(
    model: CompiledModel,
    parameters: np.ndarray,
    y0: np.ndarray,
    times: np.ndarray,
    events_per_subject: Sequence[Sequence[Event]],
    options: SolverOptions | None = None,
    *,
    method: str = DEFAULT_METHOD,
    threads_per_block: int = 64,
    chunk_subjects: int | None = None,
    pinned: bool = False,
    timings: dict[str, float] | None = None,
) -> list[SubjectOutcome]:
    """Integrate ``N`` subjects on a CUDA GPU, one thread per subject.

    Same arguments, results and semantics as
    :func:`lupusim.engine._rodas.integrate_batch_rodas` (event ordering, right-continuous
    output at event times, status codes and messages, ``failed_at_day``,
    ``applied_events``). Runs on the CPU under numba's CUDA simulator when
    ``NUMBA_ENABLE_CUDASIM=1`` was set before ``numba.cuda`` was first imported.

    The batch is launched in chunks of ``chunk_subjects`` subjects (default: one launch
    up to ``2 * AUTO_CHUNK_SUBJECTS`` subjects, else near-equal chunks of about
    ``AUTO_CHUNK_SUBJECTS``) on two alternating CUDA streams, software-pipelined: the
    host prepares chunk ``k``'s event arrays and launches it, then copies chunk ``k - 1``
    back while the GPU integrates chunk ``k``. Each stream reuses one set of device
    output arrays, and device frees are deferred to the end (a free synchronises the
    device). Results do not depend on the chunking (each subject is its own thread).
    ``pinned`` puts the results in page-locked host memory (asynchronous copies), off by
    default: on the H100 machine page-locking 14 GB of results took 6-10 s, more than
    the pageable copies it saves (benchmarks/results, 2026-11-26).

    ``timings``, when given, receives seconds of the host phases: ``prepare`` (sorting
    and checking every subject's events up front, then each chunk's arrays),
    ``to_device``, ``launch`` (host time in kernel launches; on a process's first call
    with a model and method this is compiling the kernel or loading it from the disk
    cache), ``host_alloc`` (page-locked results), ``wait`` (host blocked on kernels),
    ``to_host`` (host time in device-to-host copies) and ``outcomes``; ``kernel``, GPU
    seconds from the first kernel's start to the last kernel's end (CUDA events; under
    the simulator, the host time of the launches); the number of ``chunks``; and the
    total accepted and rejected steps.
    """
    opts = options or SolverOptions()
    _check_method(method)
    if threads_per_block < 1:
        raise ValueError("threads_per_block must be positive")
    clock = time.perf_counter()
    spec = model.spec
    grid = _check_times(times)
    params = np.ascontiguousarray(np.atleast_2d(parameters), dtype=float)
    init = np.ascontiguousarray(np.atleast_2d(y0), dtype=float)
    n = params.shape[0]
    n_s, n_u = len(spec.states), len(spec.inputs)
    n_u_alloc = max(n_u, 1)
    if init.shape != (n, n_s):
        raise ValueError(f"y0 must have shape ({n}, {n_s}), got {init.shape}")
    if len(events_per_subject) != n:
        raise ValueError(f"need one event list per subject ({n}), got {len(events_per_subject)}")
    bounds = _chunk_bounds(n, chunk_subjects)
    sorted_events = [
        _sorted_events(evs, float(grid[0]), float(grid[-1])) for evs in events_per_subject
    ]
    if n == 0:
        return []
    phases = dict.fromkeys(
        ("prepare", "to_device", "launch", "host_alloc", "wait", "to_host", "outcomes"), 0.0
    )
    phases["prepare"] = time.perf_counter() - clock

    from numba import cuda

    kernel = _cuda_kernel_for(model, method)
    simulated = simulator_enabled()
    page_locked = pinned and not simulated
    n_t = len(grid)
    size = max(hi - lo for lo, hi in bounds)
    streams = [cuda.stream() for _ in range(min(2, len(bounds)))]
    ends: list[Any] = []  # CUDA events: each chunk's kernel ended
    first_started: Any = None  # CUDA event on an idle stream once the first launch returned
    shapes = ((n, n_t, n_s), (n, n_t, n_u_alloc), (n, 6), (n,))
    dtypes = (np.float64, np.float64, np.float64, np.int64)
    hosts: list[np.ndarray] = []
    if not page_locked:  # pageable memory costs nothing until it is written
        hosts = [np.empty(shape, dtype=dt) for shape, dt in zip(shapes, dtypes, strict=True)]
    scalars = (
        np.float64(opts.rtol),
        np.float64(opts.atol),
        np.float64(opts.hmax),
        np.int64(opts.max_steps_per_segment),
        bool(opts.dense_output),
    )

    def copy_back(lo: int, hi: int, slot: int) -> None:
        clock = time.perf_counter()
        if not page_locked:  # a pageable copy blocks the host: wait for the kernel first
            streams[slot].synchronize()
        now = time.perf_counter()
        phases["wait"] += now - clock
        for d_arr, h_arr in zip(outputs[slot], hosts, strict=True):
            d_arr[: hi - lo].copy_to_host(h_arr[lo:hi], stream=streams[slot])
        phases["to_host"] += time.perf_counter() - now

    # Frees of device memory synchronise the whole device; defer them to the end so a
    # chunk's launch never waits for the kernels already running.
    with cuda.defer_cleanup():
        # one set of device outputs per stream, reused by every chunk that stream runs
        outputs = [
            tuple(
                cuda.device_array((size, *shape[1:]), dtype=dt, stream=stream)
                for shape, dt in zip(shapes, dtypes, strict=True)
            )
            for stream in streams
        ]
        launched: tuple[int, int, int] | None = None  # launched, not yet copied back
        for k, (lo, hi) in enumerate(bounds):
            clock = time.perf_counter()
            host_in = _chunk_inputs(model, params[lo:hi], init[lo:hi], grid, sorted_events[lo:hi])
            now = time.perf_counter()
            phases["prepare"] += now - clock
            slot = k % len(streams)
            stream = streams[slot]
            m = hi - lo
            d_in = [cuda.to_device(a, stream=stream) for a in host_in]
            d_out = [d_arr[:m] for d_arr in outputs[slot]]
            clock, now = now, time.perf_counter()
            phases["to_device"] += now - clock
            blocks = (m + threads_per_block - 1) // threads_per_block
            kernel[blocks, threads_per_block, stream](*d_in, *scalars, *d_out)
            clock, now = now, time.perf_counter()
            phases["launch"] += now - clock
            if not simulated:
                ended = cuda.event()
                ended.record(stream=stream)
                ends.append(ended)
                if first_started is None:
                    # The launch returns once the kernel is compiled and queued; an
                    # event on an idle stream now marks the kernel's start to within
                    # microseconds (one queued before the launch would count the compile).
                    first_started = cuda.event()
                    first_started.record(stream=cuda.stream())
            if not hosts:  # page-locked results, allocated while the first chunk runs
                hosts = [_host_array(sh, dt, True) for sh, dt in zip(shapes, dtypes, strict=True)]
                clock, now = now, time.perf_counter()
                phases["host_alloc"] += now - clock
            # the previous chunk comes back while this one runs
            if launched is not None:
                copy_back(*launched)
            launched = (lo, hi, slot)
        if launched is not None:
            copy_back(*launched)
        clock = time.perf_counter()
        for stream in streams:
            stream.synchronize()
        phases["wait"] += time.perf_counter() - clock
    if ends and first_started is not None:
        phases["kernel"] = max(0.0, max(first_started.elapsed_time(e) for e in ends)) / 1e3
    else:
        phases["kernel"] = phases["launch"]
    states, inputs, info, codes = hosts
    assert states is not None and inputs is not None and info is not None and codes is not None
    clock = time.perf_counter()
    inputs_view = inputs[:, :, :n_u]
    outcomes = [
        _outcome(
            states[i],
            inputs_view[i],
            int(codes[i]),
            info[i],
            sorted_events[i],
            opts.max_steps_per_segment,
            method,
        )
        for i in range(n)
    ]
    phases["outcomes"] = time.perf_counter() - clock
    if timings is not None:
        timings.update(phases)
        timings["chunks"] = float(len(bounds))
        timings["accepted_steps"] = float(info[:, 3].sum())
        timings["rejected_steps"] = float(info[:, 4].sum())
    return outcomes
