"""Build time and size of the CUDA kernel, measured without a GPU.

The cold build of ``lupusim.engine._rodas_gpu``'s kernel (numba typing and lowering, NVVM,
then ptxas or the driver's JIT) is most of the "10⁶ subject-years in < 10 s including
compile" budget of issue 5. The first two steps need no GPU: this script runs them for
one compute capability with the NVVM of pip's CUDA toolkit and reports the seconds and
the PTX size (ptxas' share is proportional to the PTX and is measured only on a GPU
machine, ``benchmarks/bench_gpu.py``).

Needs numba-cuda with a toolkit, in a separate environment (numba's built-in CUDA
target cannot compile without a driver)::

    python3 -m venv /tmp/nvvenv
    /tmp/nvvenv/bin/pip install "numba-cuda[cu12]" -e .
    /tmp/nvvenv/bin/python benchmarks/bench_cuda_build.py [--method rodas5p] [--cc 9.0]

Measured 2026-11-26 on the 2-core VM (numba-cuda 0.30.4, CUDA 12.9 NVVM, sm_90), human
model, Rodas5P: 42.4 s and 40,785 PTX lines with the stage-by-stage step; 18.4 s and
20,359 lines once the stages ran in a loop with one call site of the model per quantity;
20.4 s and 23,731 lines with the model code generator's exp-of-sum infection hazard
(codegen v2: six logs and one exp beside the guarded six-pow fallback, in rhs and J).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import types


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--method", default="rodas5p")
    ap.add_argument("--cc", default="9.0", help="compute capability, e.g. 9.0 (H100/H200)")
    ap.add_argument("--ptx", default=None, help="write the PTX to this file")
    args = ap.parse_args()
    major, minor = (int(x) for x in args.cc.split("."))
    # a fresh generated-code folder, so nothing is loaded from an earlier build
    os.environ["LUPUSIM_CACHE_DIR"] = tempfile.mkdtemp(prefix="lupusim-ptx-")

    from numba import cuda
    from numba import types as nt
    from numba.cuda import dispatcher

    # Device functions ask the current device for its compute capability; there is none.
    dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=(major, minor))

    from lupusim.engine import _rodas_gpu
    from lupusim.engine._rodas import _load_generated
    from lupusim.model import compile_model, get_preset

    model = compile_model(get_preset("human").model)
    source = _rodas_gpu._cuda_module_source(model, args.method)
    source = source.replace("cuda.jit(cache=True)(_cuda_kernel)", "_cuda_kernel")
    module = _load_generated(f"lupusim_ptx_build_{model.hash}", source)
    f1, f2, f3 = nt.float64[:], nt.float64[:, :], nt.float64[:, :, :]
    i1 = nt.int64[:]
    signature = (
        *(f2, f2, f1, i1, f1, i1, i1, f1),  # params, y0, times, events (offsets, t, kind, ...)
        *(nt.float64, nt.float64, nt.float64, nt.int64, nt.boolean),  # rtol ... dense
        *(f3, f3, f2, i1),  # states, inputs, info, codes
    )
    start = time.perf_counter()
    ptx, _ = cuda.compile_ptx(module._cuda_kernel, signature, device=False, cc=(major, minor))
    seconds = time.perf_counter() - start
    lines = ptx.count("\n")
    print(
        f"{args.method} for sm_{major}{minor}: numba + NVVM {seconds:.1f} s; "
        f"PTX {len(ptx) / 1e6:.2f} MB, {lines} lines"
    )
    if args.ptx:
        with open(args.ptx, "w") as fh:
            fh.write(ptx)


if __name__ == "__main__":
    main()
