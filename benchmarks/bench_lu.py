"""Linear algebra of one Rosenbrock step on the human model: W = I/(hγ) − J, 28×28.

Compares, inside numba, per factorisation + one solve (a Rodas5P step does 1 + 8):

* ``numpy.linalg.inv`` (LAPACK getrf/getri through numba) followed by a mat-vec;
* the dense LU with partial pivoting of ``lupusim.engine._rodas`` (skips zeros) and its
  compressed triangular solve (the fallback path);
* the straight-line LU/solve generated for the Jacobian's fill pattern (the default path).

    python benchmarks/bench_lu.py
"""

from __future__ import annotations

import time
from typing import Any

import numba
import numpy as np

from lupusim.engine import _rodas as R
from lupusim.model import compile_model, get_preset

REPS = 100_000


@numba.njit
def _inv(w0: Any, b: Any, reps: int) -> float:
    acc = 0.0
    for _ in range(reps):
        wi = np.linalg.inv(w0)
        x = wi @ b
        acc += x[0]
    return acc


@numba.njit
def _pivoted(w0: Any, w: Any, b: Any, x: Any, reps: int) -> float:
    n = w0.shape[0]
    piv = np.empty(n, dtype=np.int64)
    cols = np.empty(n, dtype=np.int64)
    lptr = np.empty(n + 1, dtype=np.int64)
    lidx = np.empty(n * n, dtype=np.int64)
    uptr = np.empty(n + 1, dtype=np.int64)
    uidx = np.empty(n * n, dtype=np.int64)
    dinv = np.empty(n)
    acc = 0.0
    for _ in range(reps):
        w[:] = w0
        R._lu_factor(w, piv, cols, n)
        R._lu_pattern(w, n, lptr, lidx, uptr, uidx, dinv)
        x[:] = b
        R._lu_solve(w, piv, lptr, lidx, uptr, uidx, dinv, x, n)
        acc += x[0]
    return acc


@numba.njit
def _generated(build: Any, lu: Any, solve: Any, jm: Any, gh: float, w: Any, b: Any, x: Any,
               reps: int) -> float:  # fmt: skip
    dinv = np.empty(w.shape[0])
    sc = np.ones(w.shape[0])  # unit error-norm scales for the pivot test
    acc = 0.0
    for _ in range(reps):
        build(jm, gh, w)
        lu(w, dinv, sc)
        x[:] = b
        solve(w, dinv, x)
        acc += x[0]
    return acc


def _best(fn: Any, *args: Any) -> float:
    fn(*args, 10)
    best = np.inf
    for _ in range(5):
        t = time.perf_counter()
        fn(*args, REPS)
        best = min(best, time.perf_counter() - t)
    return best / REPS * 1e6


def main() -> None:
    preset = get_preset("human")
    model = compile_model(preset.model)
    p = preset.parameter_vector()
    y = preset.initial_state(p)
    y[preset.model.state_index("donor_msc_lung")] = 1e6
    u = np.zeros(len(preset.model.inputs))
    u[0] = 20.0
    n = len(y)
    jm = np.zeros((n, n))
    model.jac(0.0, y, p, u, jm)
    h = 1.0
    gh = 1.0 / (h * R.RODAS5P_GAMMA)
    w0 = gh * np.eye(n) - jm
    b = np.linspace(1.0, 2.0, n)
    x = np.empty(n)
    build, lu, solve = R._model_linear_solver(preset.model)
    dense = np.linalg.solve(w0, b)
    w = np.empty((n, n))
    _generated(build, lu, solve, jm, gh, w, b, x, 1)
    assert np.allclose(x, dense, rtol=1e-10, atol=0)
    print(f"human model, h = {h} day, nnz(J) = {np.count_nonzero(jm)}")
    print(f"numpy.linalg.inv + mat-vec      {_best(_inv, w0, b):8.3f} us")
    print(f"pivoted LU + compressed solve   {_best(_pivoted, w0, w, b, x):8.3f} us")
    generated = _best(_generated, build, lu, solve, jm, gh, w, b, x)
    print(f"generated LU + solve            {generated:8.3f} us")


if __name__ == "__main__":
    main()
