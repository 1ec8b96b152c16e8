#!/usr/bin/env bash
# The GPU check of the CUDA Rosenbrock engine (lupusim.engine._rodas_gpu), for the device
# machine (H100/H200, no network): run from the repository root as
#
#     bash benchmarks/gpu_check.sh            # writes $OUT/gpu-bench.json
#     bash benchmarks/gpu_check.sh --quick    # setup, compile, the 10^6 subject-year runs
#                                             # only (~2 min; 2026-11-26 H100: 107 s)
#
# Expected runtime: 4-7 minutes, hard-stopped at 470 s (the JSON is rewritten after every
# stage, so a stop keeps what was measured):
#   ~10 s   setup (10^5 virtual subjects, their regimens)
#   ~1 min  first CUDA call: numba typing + NVVM (~20 s on a 2-core VM) + ptxas/driver JIT
#   ~30 s   threads-per-block sweep and N = 10^3, 10^4, 10^5 subjects x 1 year (guess)
#   ~30 s   CPU reference (Rodas5P rtol 1e-10, 20 subjects) incl. the CPU kernel's compile
#   <=2 min 10^6 subject-years in one call (N cut to the time left, recorded)
#   ~1-2 min diffrax Kvaerno5 vmapped, N = 10^3 and 10^4 (skipped if jax/diffrax missing)
# Nothing is downloaded: the package is used from src/ (and installed editable without
# dependencies or build isolation when pip can).
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
pip install -e . --no-deps --no-build-isolation -q >/dev/null 2>&1 || true
python - <<'PY'
import importlib.util
need = ["numpy", "scipy", "sympy", "numba", "pandas", "pyarrow", "yaml", "rich"]
missing = [m for m in need if importlib.util.find_spec(m) is None]
optional = [m for m in ("jax", "diffrax") if importlib.util.find_spec(m) is None]
print("missing (required):", missing or "none", "| missing (diffrax stage):", optional or "none")
PY
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || true
OUT="${OUT:-benchmarks/results}"
mkdir -p "$OUT"
timeout 470 python benchmarks/bench_gpu.py --out "$OUT" "$@"
rc=$?
[ -f "$OUT/gpu-bench.json" ] && echo "results: $OUT/gpu-bench.json"
exit $rc
