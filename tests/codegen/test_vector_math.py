"""Vector math (glibc's libmvec): which C gets it, how accurate it is, and the scalar fallback.

Every function in vecmath.VECTOR_MATH is swept densely in both dtypes (random bit patterns,
log-spaced magnitudes from subnormal to the largest finite, dense ranges around the origin,
special values) through a compiled dlgrad kernel built with vector math, against the same
kernel built without it, whose calls are scalar libm (checked bit for bit against libm through
ctypes on a sample). Vector results must be within 4 ulp, with NaN, infinities and signed zeros
exactly where libm has them.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import re
import shutil
import subprocess

import numpy as np
import pytest

from dlgrad.codegen.vecmath import VECTOR_MATH
from dlgrad.codegen.lower import lower
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import input_node
from dlgrad.runtime import compiler, load, shared_object

from .test_rosenbrock import SPEC, rosenbrock_graph

MAX_ULP = 4
N = 1 << 16          # points per sweep component
GCC = shutil.which("gcc")


def vector_toolchain():
    tc = compiler.toolchain()
    return tc if tc.vector_math else None


@pytest.fixture
def needs_libmvec():
    """Skips where the toolchain probe found no vector math (it needs gcc, x86-64, glibc >= 2.35)."""
    if vector_toolchain() is None:
        pytest.skip("no vector math with this compiler and C library")


@pytest.fixture
def scalar_math(monkeypatch):
    """A context in which kernels are built without vector math (plain libm calls)."""
    class Switch:
        def __enter__(self):
            monkeypatch.setenv("DLGRAD_VECTOR_MATH", "0")

        def __exit__(self, *exc):
            monkeypatch.delenv("DLGRAD_VECTOR_MATH", raising=False)
    return Switch()


def sweep_inputs(dtype, seed=0):
    """(x, y): the first operand of every function and the second of atan2 and pow."""
    rng = np.random.default_rng(seed)
    fin = np.finfo(dtype)
    itype = np.int64 if dtype == "float64" else np.int32
    bits = rng.integers(np.iinfo(itype).min, np.iinfo(itype).max, N, dtype=itype, endpoint=True).view(dtype)
    low, high = np.log(float(fin.smallest_subnormal)), np.log(float(fin.max))
    magnitude = np.exp(rng.uniform(low, high, N)).astype(dtype)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0,
                         fin.tiny, -fin.tiny, fin.smallest_subnormal, -fin.smallest_subnormal,
                         fin.max, -fin.max, fin.eps, -fin.eps, np.pi / 2, -np.pi / 2], dtype)
    x = np.concatenate([
        bits, magnitude, -magnitude, specials,
        rng.uniform(-1, 1, N).astype(dtype),            # asin, acos, atanh-like domains, near zero
        rng.uniform(-30, 30, N).astype(dtype),          # tanh, erf, sinh saturation; trig periods
        rng.uniform(-800, 800, N).astype(dtype),        # exp, sinh, cosh overflow boundaries
        np.exp(rng.uniform(-40, 40, N)).astype(dtype),  # log, log1p, pow bases
        rng.uniform(-1, 1, N).astype(dtype) * fin.tiny * 4,   # subnormal and tiny normal
    ])
    y = np.concatenate([
        bits[::-1], rng.uniform(-50, 50, N).astype(dtype), np.round(rng.uniform(-40, 40, N)).astype(dtype),
        specials[::-1],
        rng.uniform(-3, 3, N).astype(dtype), rng.uniform(-30, 30, N).astype(dtype),
        rng.uniform(-1, 1, N).astype(dtype), rng.uniform(-20, 20, N).astype(dtype),
        rng.uniform(-1, 1, N).astype(dtype),
    ])
    # every special value of x meets every special value of y, for atan2 and pow
    sx, sy = np.meshgrid(specials, specials)
    return np.concatenate([x, sx.ravel()]), np.concatenate([y, sy.ravel()])


def functions_program(dtype, size):
    """One output per vector-math function, elementwise over inputs x (and y)."""
    x, y = input_node(0, (size,), dtype), input_node(1, (size,), dtype)
    outputs = [E.unary(name, x) if arity == 1 else getattr(E, "power" if name == "pow" else name)(x, y)
               for name, arity in VECTOR_MATH.items()]
    return lower(outputs, [((size,), dtype), ((size,), dtype)])


def ordered(a):
    """The IEEE values of `a` as integers ordered like the values (adjacent floats differ by 1)."""
    i = a.view(np.int64 if a.dtype == np.float64 else np.int32).astype(np.int64)
    top = np.int64(-(2 ** 63)) if a.dtype == np.float64 else np.int64(-(2 ** 31))
    return np.where(i < 0, top - i, i)


def ulp_distance(a, b):
    with np.errstate(over="ignore"):
        d = np.abs(ordered(a) - ordered(b))
    return np.where(d < 0, np.inf, d.astype(np.float64))   # wrapped: values far apart


def compare(vector, scalar):
    """(max ulp over values finite in both, [descriptions of special-value mismatches])."""
    bad = []
    nan_v, nan_s = np.isnan(vector), np.isnan(scalar)
    if (nan_v != nan_s).any():
        bad.append(f"NaN at {np.flatnonzero(nan_v != nan_s)[:5]}")
    both = ~nan_v & ~nan_s
    finite = both & np.isfinite(vector) & np.isfinite(scalar)
    ulps = np.where(finite, ulp_distance(vector, scalar), 0.0)
    # infinities where libm has them; zeros of libm's sign, though a zero next to the smallest
    # subnormal of the same sign is only an ulp away
    special = both & (np.isinf(vector) | np.isinf(scalar) | (vector == 0) | (scalar == 0))
    differ = special & ((vector != scalar) | (np.signbit(vector) != np.signbit(scalar)))
    differ &= ~(finite & (ulps <= MAX_ULP) & (np.signbit(vector) == np.signbit(scalar)))
    if differ.any():
        bad.append(f"infinity or zero at {np.flatnonzero(differ)[:5]}")
    return float(ulps.max(initial=0.0)), bad


def vector_symbols(path):
    """Names of the libmvec entry points a shared object calls (_ZGVeN8v_sin -> sin)."""
    with open(path, "rb") as f:
        return {m.decode() for m in re.findall(rb"_ZGV[a-z]N\d+v+_(\w+?)(?=@|\x00)", f.read())}


def libm_reference(name, dtype, x, y):
    """libm itself through ctypes, one call per element."""
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    c_name = name + ("f" if dtype == "float32" else "")
    ctype = ctypes.c_float if dtype == "float32" else ctypes.c_double
    fn = getattr(libm, c_name)
    fn.restype, fn.argtypes = ctype, [ctype] * VECTOR_MATH[name]
    args = (x,) if VECTOR_MATH[name] == 1 else (x, y)
    return np.array([fn(*(float(a[i]) for a in args)) for i in range(x.size)], dtype=dtype)


_SWEEPS = {}


def sweep(dtype, scalar_math):
    """{function: (vector values, scalar values)}, the inputs, and the vector shared object."""
    if dtype not in _SWEEPS:
        x, y = sweep_inputs(dtype)
        program = functions_program(dtype, x.size)
        vector_fn = load(program)
        vector_path = shared_object(program.source)
        with scalar_math:
            scalar_fn = load(program)
        results = {name: (v, s) for name, v, s in zip(VECTOR_MATH, vector_fn(x, y), scalar_fn(x, y))}
        _SWEEPS[dtype] = results, (x, y), vector_path
    return _SWEEPS[dtype]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_function_is_vectorised_and_within_4_ulp(dtype, scalar_math, needs_libmvec):
    results, _, path = sweep(dtype, scalar_math)
    suffix = "f" if dtype == "float32" else ""
    missing = {name for name in VECTOR_MATH if name + suffix not in vector_symbols(path)}
    assert not missing, f"not vectorised: {sorted(missing)}"
    report, failures = {}, []
    for name, (vector, scalar) in results.items():
        worst, bad = compare(vector, scalar)
        report[name] = worst
        if worst > MAX_ULP or bad:
            failures.append(f"{name}: max {worst:g} ulp {'; '.join(bad)}")
    print(f"\nmax ulp vs scalar libm, {dtype}: " + ", ".join(f"{k} {v:g}" for k, v in report.items()))
    assert not failures, failures


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_scalar_reference_is_libm(dtype, scalar_math, needs_libmvec):
    """The kernels built without vector math call libm: same bits as libm through ctypes."""
    results, (x, y), _ = sweep(dtype, scalar_math)
    rng = np.random.default_rng(1)
    picks = np.concatenate([rng.choice(x.size, 300, replace=False), np.arange(4 * N, 4 * N + 22)])
    for name, (_, scalar) in results.items():
        want = libm_reference(name, dtype, x[picks], y[picks])
        got = scalar[picks]
        same = (got.view(want.dtype.str.replace("f", "u")) == want.view(want.dtype.str.replace("f", "u")))
        assert (same | (np.isnan(got) & np.isnan(want))).all(), name


def test_block_and_pragmas_only_where_vector_functions_are_called():
    assert "DLGRAD_VECTOR_MATH" not in lower(rosenbrock_graph(), SPEC).source
    x = input_node(0, (64,), "float32")
    source = lower([R.reduce("sum", E.unary("sin", x)), R.reduce("sum", E.mul(x, x)),
                    R.reduce("prod", E.unary("exp", x), None), E.unary("sigmoid", x)],
                   [((64,), "float32")]).source
    block = source[source.index("#if defined(DLGRAD_VECTOR_MATH)"):]
    block = block[:block.index("#endif")]
    declared = set(re.findall(r"DLGRAD_SIMD_MATH float (\w+)\(float\);", block))
    assert declared == {"sinf", "expf"}          # expf also for the sigmoid helper
    assert "double" not in block.split("#define DLGRAD_SIMD_MATH")[1]
    kernels = source.split("DLGRAD_KERNEL void")[1:]
    pragmas = {k.split("(")[0].strip(): k.count("DLGRAD_SIMD_SUM") + k.count("DLGRAD_SIMD_PROD")
               for k in kernels}
    over_sin = [k for k in kernels if "sinf(" in k]
    over_square = [k for k in kernels if "acc" in k and "sinf(" not in k and "expf(" not in k]
    assert over_sin and all("DLGRAD_SIMD_SUM\n" in k for k in over_sin)
    assert over_square and all("DLGRAD_SIMD" not in k for k in over_square), pragmas


@pytest.mark.skipif(GCC is None, reason="gcc is not installed")
def test_strict_c99_with_and_without_vector_math(tmp_path):
    """Warning-free both ways; with the macro it is what the runtime builds (and it links)."""
    x = input_node(0, (40,), "float64")
    y = input_node(1, (24,), "float32")
    outputs = [R.reduce("sum", E.add(E.unary("tanh", x), E.power(x, x))), E.unary("cos", E.unary("sin", y)),
               R.reduce("prod", E.unary("log1p", y), None), E.unary("softplus", x)]
    path = tmp_path / "vm.c"
    path.write_text(lower(outputs, [((40,), "float64"), ((24,), "float32")], name="vm").source)
    strict = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O2"]
    for extra in ([], ["-DDLGRAD_VECTOR_MATH", "-fopenmp-simd", "-march=native"]):
        done = subprocess.run([GCC, *strict, *extra, "-c", str(path), "-o", str(tmp_path / "vm.o")],
                              capture_output=True, text=True)
        assert done.returncode == 0, (extra, done.stderr[:3000])
    if vector_toolchain() is not None:
        done = subprocess.run([GCC, *strict, "-O3", "-march=native", "-fno-math-errno", "-fopenmp-simd",
                               "-DDLGRAD_VECTOR_MATH", "-fno-builtin-sin", "-fno-builtin-cos",
                               "-fno-builtin-sinf", "-fno-builtin-cosf", "-shared", "-fPIC", str(path),
                               "-o", str(tmp_path / "vm.so"), "-lmvec", "-lm"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[:3000]
        assert {"tanh", "sinf", "cosf", "log1pf", "exp", "log1p", "pow"} <= vector_symbols(tmp_path / "vm.so")


def test_reductions_and_gradients_agree_with_scalar_build(scalar_math, needs_libmvec):
    """A sum over transcendentals is reassociated across vector lanes: it stays within rounding."""
    from dlgrad.graph.autodiff import gradients
    x = input_node(0, (1003,), "float64")
    f = R.reduce("sum", E.add(E.mul(E.unary("sin", x), E.unary("exp", E.neg(E.mul(x, x)))),
                              E.unary("log", E.add(1.0, E.mul(x, x)))))
    (g,) = gradients(f, [x])
    program = lower([f, g], [((1003,), "float64")])
    assert "DLGRAD_SIMD_SUM" in program.source
    data = np.random.default_rng(2).normal(size=1003) * 3
    fast = load(program)(data)
    with scalar_math:
        slow = load(program)(data)
    assert fast[0] == pytest.approx(slow[0], rel=1e-13)
    assert np.allclose(fast[1], slow[1], rtol=1e-14, atol=1e-300)


def test_reductions_over_several_axes_and_products():
    """The pragma sits before the innermost reduced loop, also when reduced axes stay apart."""
    x = input_node(0, (3, 5, 7), "float64")
    y = input_node(1, (6, 9), "float32")
    outputs = [R.reduce("sum", E.unary("sin", x), (0, 2)), R.reduce("sum", E.unary("cos", x), (1, 2)),
               R.reduce("prod", E.unary("exp", E.mul(0.1, y)), (1,)), R.reduce("sum", E.unary("tanh", y))]
    program = lower(outputs, [((3, 5, 7), "float64"), ((6, 9), "float32")])
    assert "DLGRAD_SIMD_SUM" in program.source and "DLGRAD_SIMD_PROD" in program.source
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(3, 5, 7)), rng.normal(size=(6, 9)).astype(np.float32)
    got = load(program)(a, b)
    want = [np.sin(a).sum(axis=(0, 2)), np.cos(a).sum(axis=(1, 2)), np.exp(0.1 * b.astype(np.float64)).prod(axis=1),
            np.tanh(b.astype(np.float64)).sum()]
    for g, w in zip(got, want):
        assert np.allclose(g, w, rtol=1e-6 if g.dtype == np.float32 else 1e-13)


def test_export_header_says_how_to_enable_it(tmp_path):
    from dlgrad.codegen.export import header_source
    x = input_node(0, (4,), "float64")
    program = lower([E.unary("exp", x)], [((4,), "float64")], name="vm_export")
    assert "-DDLGRAD_VECTOR_MATH" in header_source(program, ["x"], ["y"])
    plain = lower([E.mul(x, x)], [((4,), "float64")], name="vm_export")
    assert "DLGRAD_VECTOR_MATH" not in header_source(plain, ["x"], ["y"]) + plain.source


def test_switch_and_cache_key(scalar_math):
    """DLGRAD_VECTOR_MATH=0 builds without vector math, into another cache entry."""
    source = lower(rosenbrock_graph(), SPEC, name="vm_key").source
    with_vm = compiler.toolchain()
    path = shared_object(source)
    with scalar_math:
        without = compiler.toolchain()
        assert not without.vector_math and "-lmvec" not in without.libs
        assert not any(f in without.flags for f in compiler.VECTOR_FLAGS)
        if with_vm.vector_math:
            assert "-lmvec" in with_vm.libs
            assert shared_object(source) != path


def test_probe_falls_back_silently(monkeypatch):
    tc = compiler.toolchain()
    monkeypatch.setattr(compiler, "_libc", lambda: "glibc 2.31")
    assert compiler._probe_vector_math(tc) is False
    monkeypatch.setattr(compiler, "_libc", lambda: "")
    assert compiler._probe_vector_math(tc) is False
    broken = compiler.Toolchain(tc.argv, tc.identity, (*tc.flags, "-no-such-flag"), tc.target)
    monkeypatch.setattr(compiler, "_libc", lambda: "glibc 2.36")
    assert compiler._probe_vector_math(broken) is False
