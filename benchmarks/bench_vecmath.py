"""W4: transcendental elementwise code and a sum over it, value and gradient, with vector math.

  f(x) = sum(sin(x) exp(-x^2) + log(1 + x^2) + tanh(x) / (1 + x^2)), x of 10 000 float64
  uniform in [-3, 3], value and gradient per call from Python.

Every time is against a baseline measured in the same run: a hand-written C loop (value and
gradient in one pass, outputs allocated per call as a compiled function must) built through
cffi with glibc's vector math (libmvec: `simd` declarations, -fopenmp-simd, a reduction
pragma), the floor. Also: dlgrad through dlfeval and dlaccelerate, dlgrad and the hand loop
with scalar libm calls (DLGRAD_VECTOR_MATH=0), a hand-written numpy gradient, and JAX jit /
PyTorch eager / torch.compile when installed. Times are medians of several runs.

Then the accuracy of every vectorised function (vecmath.VECTOR_MATH, both dtypes): the largest
distance in ulp between a dlgrad kernel built with vector math and the same kernel built with
scalar libm calls, over a dense sweep (random bit patterns, magnitudes from subnormal to the
largest finite, dense ranges, special values).

Run: python benchmarks/bench_vecmath.py
benchmarks/run.py imports w4_rows() and ulp_report().
"""
from __future__ import annotations

import os
import sys

if __name__ == "__main__":   # one thread everywhere, before numpy, JAX or PyTorch is imported
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                      XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import contextlib
import importlib.util
import platform
import statistics
import tempfile
import time
import timeit

import numpy as np

import dlgrad as dl

N = 10_000
REPEATS = 7
BUDGET = 0.2   # seconds of calls per run

HAND_C = r"""
#include <math.h>
#include <stddef.h>
#if defined(HAND_VECTOR_MATH)
#define SIMD __attribute__((__simd__("notinbranch"), __const__, __nothrow__))
SIMD double sin(double); SIMD double cos(double); SIMD double exp(double);
SIMD double log(double); SIMD double tanh(double);
#define SIMD_SUM _Pragma("omp simd reduction(+:acc)")
#else
#define SIMD_SUM
#endif
void w4(const double *restrict x, double *restrict f, double *restrict g, ptrdiff_t n) {
    double acc = 0;
    SIMD_SUM
    for (ptrdiff_t i = 0; i < n; ++i) {
        double v = x[i], s = sin(v), c = cos(v), e = exp(-v * v), q = 1 / (1 + v * v), th = tanh(v);
        acc += s * e + log(1 + v * v) + th * q;
        g[i] = c * e - 2 * v * s * e + 2 * v * q + (1 - th * th) * q - 2 * v * th * q * q;
    }
    f[0] = acc;
}
"""
BASE_FLAGS = ["-O3", "-march=native", "-fno-math-errno"]
VECTOR_FLAGS = ["-fopenmp-simd", "-DHAND_VECTOR_MATH", "-fno-builtin-sin", "-fno-builtin-cos"]


def w4(x):
    y = dl.sum(dl.sin(x) * dl.exp(-x ** 2) + dl.log(1 + x ** 2) + dl.tanh(x) / (1 + x ** 2))
    return y, dl.dlgradient(y, x)


def numpy_w4(x):
    s, c, e, q, th = np.sin(x), np.cos(x), np.exp(-x * x), 1 / (1 + x * x), np.tanh(x)
    value = np.sum(s * e + np.log(1 + x * x) + th * q)
    return value, c * e - 2 * x * s * e + 2 * x * q + (1 - th * th) * q - 2 * x * th * q * q


def data():
    return np.random.default_rng(4).uniform(-3, 3, N)


def per_call(fn):
    """Median seconds per call over REPEATS runs, each as many calls as fill BUDGET seconds."""
    fn()
    start, number = time.perf_counter(), 0
    while time.perf_counter() - start < BUDGET / 4:
        fn()
        number += 1
    number = max(1, number * 4)
    return statistics.median(timeit.repeat(fn, number=number, repeat=REPEATS)) / number


def build_hand(workdir, vector):
    """fn(x) -> (f, g): the hand-written loop through cffi (API mode)."""
    import cffi
    name = f"_dlgrad_bench_w4_{'vector' if vector else 'scalar'}"
    ffi = cffi.FFI()
    ffi.cdef("void w4(const double *x, double *f, double *g, ptrdiff_t n);")
    ffi.set_source(name, HAND_C, extra_compile_args=BASE_FLAGS + (VECTOR_FLAGS if vector else []),
                   libraries=(["mvec"] if vector else []) + ["m"])
    path = ffi.compile(tmpdir=workdir, verbose=False)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ffi, lib = module.ffi, module.lib
    buf, empty = ffi.from_buffer, np.empty

    def call(x):
        f, g = empty(()), empty(x.size)
        lib.w4(buf("double[]", x), buf("double[]", f), buf("double[]", g), x.size)
        return f, g
    return call


@contextlib.contextmanager
def scalar_math():
    """dlgrad without vector math inside the block (fresh dlfeval caches on both sides)."""
    from dlgrad.frontend.cache import clear_caches
    old = os.environ.get("DLGRAD_VECTOR_MATH")
    os.environ["DLGRAD_VECTOR_MATH"] = "0"
    clear_caches()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("DLGRAD_VECTOR_MATH", None)
        else:
            os.environ["DLGRAD_VECTOR_MATH"] = old
        clear_caches()


def _check(label, result, want):
    value, grad = (np.asarray(r, dtype=np.float64) for r in result)
    if not (np.isclose(value, want[0], rtol=1e-10) and np.allclose(grad, want[1], rtol=1e-9, atol=1e-12)):
        raise AssertionError(f"W4 {label}: value or gradient differs from numpy's")


def w4_rows() -> list[tuple[str, float, str]]:
    """(label, seconds per call, note) for W4; the first row is the floor (hand C with libmvec)."""
    from dlgrad.runtime import compiler
    x = data()
    want = numpy_w4(x)
    X = dl.dlarray(x)
    vector = compiler.toolchain().vector_math
    rows = []
    workdir = tempfile.mkdtemp(prefix="dlgrad-bench-w4-")

    def row(label, fn, note=""):
        try:
            _check(label, fn(), want)
            rows.append((label, per_call(fn), note))
        except Exception as exc:   # a peer that breaks is reported, the run goes on
            rows.append((label, float("nan"), f"failed: {type(exc).__name__}: {str(exc)[:80]}"))

    hand_vector = build_hand(workdir, vector=vector)
    hand_scalar = build_hand(workdir, vector=False) if vector else hand_vector
    row("hand-written C loop, libmvec (cffi)" if vector else "hand-written C loop, libm (cffi; no libmvec here)",
        lambda: hand_vector(x), "floor")
    start = time.perf_counter()
    dl.dlfeval(w4, X)
    first = time.perf_counter() - start
    row("dlgrad dlfeval", lambda: dl.dlfeval(w4, X),
        f"vector math {'on' if vector else 'unavailable'}; first call {first:.2f} s; target <= 200 us")
    accelerated = dl.dlaccelerate(w4)
    row("dlgrad dlaccelerate", lambda: accelerated(X))
    with scalar_math():
        dl.dlfeval(w4, X)
        row("dlgrad dlfeval, scalar libm (DLGRAD_VECTOR_MATH=0)", lambda: dl.dlfeval(w4, X))
    if vector:
        row("hand-written C loop, scalar libm (cffi)", lambda: hand_scalar(x))
    row("numpy, hand-written gradient", lambda: numpy_w4(x))
    rows += _peer_rows(x, want)
    return rows


def _peer_rows(x, want):
    rows = []
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        jax = None
    if jax is not None:
        try:
            jax.config.update("jax_enable_x64", True)
            fn = jax.jit(jax.value_and_grad(
                lambda v: jnp.sum(jnp.sin(v) * jnp.exp(-v ** 2) + jnp.log(1 + v ** 2) + jnp.tanh(v) / (1 + v ** 2))))
            xj = jnp.asarray(x)
            start = time.perf_counter()
            jax.block_until_ready(fn(xj))
            first = time.perf_counter() - start

            def call():
                value, grad = jax.block_until_ready(fn(xj))
                return np.asarray(value), np.asarray(grad)
            _check("JAX", call(), want)
            rows.append(("JAX jit(value_and_grad)", per_call(call), f"first call {first:.2f} s"))
        except Exception as exc:
            rows.append(("JAX jit(value_and_grad)", float("nan"), f"failed: {type(exc).__name__}"))
    try:
        import torch
    except ImportError:
        return rows
    torch.set_num_threads(1)

    def objective(v):
        return torch.sum(torch.sin(v) * torch.exp(-v ** 2) + torch.log(1 + v ** 2) + torch.tanh(v) / (1 + v ** 2))

    def torch_call(fn):
        def call():
            v = torch.from_numpy(x).requires_grad_(True)
            value = fn(v)
            (grad,) = torch.autograd.grad(value, v)
            return value.detach().numpy(), grad.numpy()
        return call
    for label, make in (("PyTorch eager", lambda: objective), ("torch.compile", lambda: torch.compile(objective))):
        try:
            call = torch_call(make())
            start = time.perf_counter()
            result = call()
            first = time.perf_counter() - start
            _check(label, result, want)
            rows.append((label, per_call(call), f"first call {first:.2f} s"))
        except Exception as exc:
            rows.append((label, float("nan"), f"failed: {type(exc).__name__}: {str(exc)[:60]}"))
    return rows


# --- accuracy ------------------------------------------------------------------------------------

SWEEP = 1 << 16


def sweep_inputs(dtype, seed=0):
    """(x, y): first operands, and second operands for atan2 and pow."""
    rng = np.random.default_rng(seed)
    fin = np.finfo(dtype)
    itype = np.int64 if dtype == "float64" else np.int32
    bits = rng.integers(np.iinfo(itype).min, np.iinfo(itype).max, SWEEP, dtype=itype, endpoint=True).view(dtype)
    magnitude = np.exp(rng.uniform(np.log(float(fin.smallest_subnormal)), np.log(float(fin.max)), SWEEP))
    magnitude = magnitude.astype(dtype)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, fin.tiny,
                         -fin.tiny, fin.smallest_subnormal, -fin.smallest_subnormal, fin.max, -fin.max], dtype)
    u = lambda lo, hi: rng.uniform(lo, hi, SWEEP).astype(dtype)   # noqa: E731
    sx, sy = np.meshgrid(specials, specials)
    x = np.concatenate([bits, magnitude, -magnitude, u(-1, 1), u(-30, 30), u(-800, 800),
                        np.exp(u(-40, 40)).astype(dtype), u(-1, 1) * fin.tiny * 4, sx.ravel()])
    y = np.concatenate([bits[::-1], u(-50, 50), np.round(u(-40, 40)), u(-3, 3), u(-30, 30), u(-1, 1),
                        u(-20, 20), u(-1, 1), sy.ravel()])
    return x, y


def _ulps(a, b):
    def ordered(v):
        i = v.view(np.int64 if v.dtype == np.float64 else np.int32).astype(np.int64)
        return np.where(i < 0, np.int64(-(2 ** 63) if v.dtype == np.float64 else -(2 ** 31)) - i, i)
    with np.errstate(over="ignore"):
        d = np.abs(ordered(a) - ordered(b))
    return np.where(d < 0, np.inf, d.astype(np.float64))


def max_ulp(vector, scalar):
    """Largest ulp distance where both are finite; inf if NaN or infinities differ."""
    nan_v, nan_s = np.isnan(vector), np.isnan(scalar)
    if (nan_v != nan_s).any():
        return float("inf")
    both = ~nan_v
    inf = both & (np.isinf(vector) | np.isinf(scalar))
    if (vector[inf] != scalar[inf]).any():
        return float("inf")
    finite = both & ~inf
    return float(_ulps(vector[finite], scalar[finite]).max(initial=0.0))


def ulp_report() -> dict[str, float]:
    """{"sin float64": max ulp, ...}: every vectorised function, dlgrad's vector-math kernel against
    the same kernel calling scalar libm. Empty where this toolchain has no vector math."""
    from dlgrad.codegen.vecmath import VECTOR_MATH
    from dlgrad.codegen.lower import lower
    from dlgrad.graph.ops import elementwise as E
    from dlgrad.graph.registry import input_node
    from dlgrad.runtime import compiler, load
    if not compiler.toolchain().vector_math:
        return {}
    report = {}
    for dtype in ("float64", "float32"):
        x, y = sweep_inputs(dtype)
        a, b = input_node(0, x.shape, dtype), input_node(1, x.shape, dtype)
        outputs = [E.unary(name, a) if arity == 1 else (E.power(a, b) if name == "pow" else getattr(E, name)(a, b))
                   for name, arity in VECTOR_MATH.items()]
        program = lower(outputs, [(x.shape, dtype), (x.shape, dtype)])
        fast = load(program)(x, y)
        with scalar_math():
            slow = load(program)(x, y)
        for name, v, s in zip(VECTOR_MATH, fast, slow):
            report[f"{name} {dtype}"] = max_ulp(v, s)
    return report


def main():
    workdir = tempfile.mkdtemp(prefix="dlgrad-bench-")
    os.environ.setdefault("DLGRAD_CACHE_DIR", os.path.join(workdir, "cache"))   # cold caches
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass
    from dlgrad.runtime import compiler
    tc = compiler.toolchain()
    rows = w4_rows()
    print(f"dlgrad {dl.__version__}, Python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.machine()}, {os.cpu_count()} cores; {tc.identity}; "
          f"vector math {'on (libmvec)' if tc.vector_math else 'unavailable'}")
    print(f"W4: sum(sin(x) exp(-x^2) + log(1 + x^2) + tanh(x) / (1 + x^2)), n = {N}, float64, value + gradient")
    floor = rows[0][1]
    print(f"{'':52s} {'time':>11s} {'ratio':>7s}  note")
    for label, seconds, note in rows:
        print(f"{label:52s} {seconds * 1e6:8.1f} us {seconds / floor:6.2f}x  {note}")
    report = ulp_report()
    if not report:
        print("no vector math here: nothing to measure the accuracy of")
        return 0
    print(f"max ulp, dlgrad kernel with libmvec vs the same kernel with scalar libm "
          f"({sweep_inputs('float32')[0].size} points per function and dtype):")
    names = list(dict.fromkeys(key.split()[0] for key in report))
    print(f"  {'':8s} " + " ".join(f"{n:>6s}" for n in names))
    for dtype in ("float64", "float32"):
        print(f"  {dtype:8s} " + " ".join(f"{report[f'{n} {dtype}']:6g}" for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
