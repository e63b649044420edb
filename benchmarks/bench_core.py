"""Core-pipeline benchmarks: call overhead, cold compile time and a large fused gradient.

Every ratio is against a baseline measured in the same run:
  - Rosenbrock value+gradient per call through dlfeval and a dlaccelerate callable,
    against a hand-written C function called through cffi (API mode, numpy arrays in,
    outputs allocated per call) and a hand-written numpy gradient;
  - cold compile (trace -> C -> loaded, empty cache) of the extended Rosenbrock
    sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2) for n = 1e3 and n = 1e6;
  - that gradient at n = 1e6 against a hand-written C loop.

Run: python benchmarks/bench_core.py
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
import timeit

import numpy as np

HAND_C = r"""
#include <stddef.h>
void rosen(const double *x, double *f, double *g) {
    double t = x[1] - x[0] * x[0], u = 1 - x[0];
    f[0] = 100 * t * t + u * u;
    g[0] = -400 * t * x[0] - 2 * u;
    g[1] = 200 * t;
}
void ext_rosen(const double *x, double *f, double *g, ptrdiff_t n) {
    double acc = 0;
    for (ptrdiff_t i = 0; i < n; ++i) g[i] = 0;
    for (ptrdiff_t i = 0; i < n - 1; ++i) {
        double t = x[i + 1] - x[i] * x[i], u = 1 - x[i];
        acc += 100 * t * t + u * u;
        g[i] += -400 * t * x[i] - 2 * u;
        g[i + 1] += 200 * t;
    }
    f[0] = acc;
}
"""


def build_cffi(name, cdef, source, workdir, flags=("-O3", "-march=native")):
    """(ffi, lib) of C source built as a cffi API-mode extension in workdir."""
    import importlib.util

    import cffi
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    ffi.set_source(name, source, extra_compile_args=list(flags))
    path = ffi.compile(tmpdir=workdir, verbose=False)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ffi, module.lib


def build_hand_c(workdir):
    """The baseline: hand-written C in a cffi API-mode extension built with -O3."""
    return build_cffi("_dlgrad_bench_hand", "void rosen(const double *x, double *f, double *g);"
                      "void ext_rosen(const double *x, double *f, double *g, ptrdiff_t n);", HAND_C, workdir)


def per_call(fn, number, repeat=5):
    """Median seconds per call over `repeat` runs of `number` calls."""
    return statistics.median(timeit.repeat(fn, number=number, repeat=repeat)) / number


def rosenbrock(x):
    import dlgrad as dl
    y = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
    return y, dl.dlgradient(y, x)


def extended_rosenbrock(x):
    import dlgrad as dl
    y = dl.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    return y, dl.dlgradient(y, x)


def numpy_rosenbrock(x):
    t, u = x[1] - x[0] ** 2, 1 - x[0]
    return 100 * t * t + u * u, np.array([-400 * t * x[0] - 2 * u, 200 * t])


def main():
    workdir = tempfile.mkdtemp(prefix="dlgrad-bench-")
    os.environ["DLGRAD_CACHE_DIR"] = os.path.join(workdir, "cache")   # cold caches
    import dlgrad as dl

    ffi, lib = build_hand_c(workdir)
    rows = []

    # --- W1: Rosenbrock value + gradient per call -----------------------------------
    x_np = np.array([-1.0, 2.0])
    x = dl.dlarray(x_np)

    def hand_call():
        f, g = np.empty(()), np.empty(2)
        lib.rosen(ffi.from_buffer("double[]", x_np), ffi.from_buffer("double[]", f),
                  ffi.from_buffer("double[]", g))
        return f, g

    accelerated = dl.dlaccelerate(rosenbrock)
    dl.dlfeval(rosenbrock, x)
    accelerated(x)
    t_hand = per_call(hand_call, 20000)
    t_numpy = per_call(lambda: numpy_rosenbrock(x_np), 20000)
    t_feval = per_call(lambda: dl.dlfeval(rosenbrock, x), 20000)
    t_accel = per_call(lambda: accelerated(x), 20000)
    rows += [("Rosenbrock: hand-written C via cffi", t_hand, 1.0, ""),
             ("Rosenbrock: hand-written numpy gradient", t_numpy, t_numpy / t_hand, ""),
             ("Rosenbrock: dlaccelerate call", t_accel, t_accel / t_hand, "target <= 3x"),
             ("Rosenbrock: dlfeval call", t_feval, t_feval / t_hand, "target <= 6x")]

    # --- cold compile of the extended Rosenbrock ------------------------------------------
    compile_times = {}
    for n in (1_000, 1_000_000):
        xn = dl.dlarray(np.random.default_rng(0).random(n))
        start = time.perf_counter()
        dl.dlfeval(extended_rosenbrock, xn)
        compile_times[n] = time.perf_counter() - start
    ratio = compile_times[1_000_000] / compile_times[1_000]
    rows += [("Extended Rosenbrock cold compile, n = 1e3", compile_times[1_000], 1.0, ""),
             ("Extended Rosenbrock cold compile, n = 1e6", compile_times[1_000_000], ratio,
              "target <= 1.3x of n = 1e3")]

    # --- extended Rosenbrock gradient at n = 1e6 vs a hand-written C loop ---------------
    n = 1_000_000
    xv = np.random.default_rng(1).random(n)
    xd = dl.dlarray(xv)
    f_hand, g_hand = np.empty(()), np.empty(n)

    def hand_ext():
        f, g = np.empty(()), np.empty(n)
        lib.ext_rosen(ffi.from_buffer("double[]", xv), ffi.from_buffer("double[]", f),
                      ffi.from_buffer("double[]", g), n)
        return f, g

    f_hand, g_hand = hand_ext()
    fval, grad = dl.dlfeval(extended_rosenbrock, xd)
    assert np.allclose(dl.extractdata(grad), g_hand) and np.isclose(float(dl.extractdata(fval)), float(f_hand))
    t_hand_ext = per_call(hand_ext, 50)
    t_ext = per_call(lambda: dl.dlfeval(extended_rosenbrock, xd), 50)
    rows += [("Extended Rosenbrock n = 1e6: hand-written C loop", t_hand_ext, 1.0, ""),
             ("Extended Rosenbrock n = 1e6: dlfeval", t_ext, t_ext / t_hand_ext, "target <= 1.5x")]

    print(f"dlgrad {dl.__version__}, Python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores")
    print(f"{'workload':52s} {'time':>12s} {'ratio':>8s}  note")
    for name, seconds, ratio, note in rows:
        shown = f"{seconds * 1e6:9.2f} us" if seconds < 1e-2 else f"{seconds * 1e3:9.2f} ms"
        print(f"{name:52s} {shown:>12s} {ratio:7.2f}x  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
