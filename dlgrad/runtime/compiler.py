"""Finding the C compiler, probing what it targets, and compiling a shared object."""
import hashlib
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass

from ..errors import CompileError, CompilerNotFoundError
from .cache import atomic_write, cache_dir

NAMES = ("cc", "gcc", "clang")
FLAGS = ("-O3", "-fPIC", "-shared", "-std=c99", "-fno-math-errno")
NATIVE = "-march=native"
LIBS = ("-lm",)
# Vector math (glibc's libmvec) for the libm calls of generated kernels, used where the probe
# finds it works: the generated C declares the functions it calls `simd` under DLGRAD_VECTOR_MATH
# (see codegen/kernels.py); -fopenmp-simd honours its reduction pragmas; gcc fuses sin and cos of
# one argument into a sincos call, which has no vector form the vectoriser uses, unless they are
# not builtins. DLGRAD_VECTOR_MATH=0 in the environment turns it off.
VECTOR_FLAGS = ("-fopenmp-simd", "-DDLGRAD_VECTOR_MATH", "-fno-builtin-sin", "-fno-builtin-cos",
                "-fno-builtin-sinf", "-fno-builtin-cosf")
VECTOR_LIBS = ("-lmvec",)
# DLGRAD_NUM_THREADS=N (N > 1) builds kernels with OpenMP: large matrix products split their
# rows between N threads (codegen/gemm.py). Off by default: one thread, no OpenMP runtime.
THREADS_VARIABLE = "DLGRAD_NUM_THREADS"
_PROBE_FORMAT = 2
_host: str | None = None


@dataclass(frozen=True)
class Toolchain:
    """A compiler command, its identity, the flags it accepts, what `-march=native` targets, and
    the libraries a shared object links."""
    argv: tuple[str, ...]
    identity: str
    flags: tuple[str, ...]
    target: str
    libs: tuple[str, ...] = LIBS

    @property
    def vector_math(self) -> bool:
        """Whether kernels are built to call glibc's vector math."""
        return "-DDLGRAD_VECTOR_MATH" in self.flags


def zig_cc() -> tuple[str, ...] | None:
    """`zig cc` from the `ziglang` wheel (`pip install "dlgrad[zig]"`), or None when it is not installed.

    The wheel's own zig binary is called directly: the same compiler as `python -m ziglang cc`
    without a Python start per compile.
    """
    try:
        spec = importlib.util.find_spec("ziglang")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        exe = os.path.join(folder, "zig.exe" if os.name == "nt" else "zig")
        if os.path.isfile(exe) and os.access(exe, os.X_OK):
            return (exe, "cc")
    return None


def find_compiler() -> tuple[str, ...]:
    """The compiler command: $CC if set, else the first of cc, gcc, clang on PATH, else `zig cc`
    from the ziglang wheel."""
    hint = ('pip install "dlgrad[zig]" for a C compiler from PyPI, or set DLGRAD_BACKEND=numpy to run '
            'through the numpy reference interpreter instead')
    path = os.environ.get("PATH", "")
    cc = os.environ.get("CC", "").strip()
    if cc:
        argv = shlex.split(cc)
        exe = shutil.which(argv[0])
        if exe is None:
            raise CompilerNotFoundError(
                f"the C compiler named by the CC environment variable ({cc!r}) was not found "
                f"(PATH={path!r}); fix CC, or {hint}")
        return (exe, *argv[1:])
    for name in NAMES:
        exe = shutil.which(name)
        if exe is not None:
            return (exe,)
    zig = zig_cc()
    if zig is not None:
        return zig
    raise CompilerNotFoundError(
        f"no C compiler found: CC is not set, none of {', '.join(NAMES)} is on PATH "
        f"({path!r}) and the ziglang package is not installed; install a compiler or set CC, or {hint}")


def host_fingerprint() -> str:
    """A cheap description of this host's CPU (never changes while the machine stays the same)."""
    global _host
    if _host is None:
        parts = [sys.platform, platform.machine(), os.uname().nodename if hasattr(os, "uname") else ""]
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                for line in f:
                    if not line.strip():
                        break  # the first processor describes them all
                    key = line.split(":", 1)[0].strip()
                    if key in ("vendor_id", "cpu family", "model", "model name", "flags",
                               "Features", "CPU implementer", "CPU part", "isa"):
                        parts.append(line.strip())
        except OSError:
            parts.append(platform.processor())
        _host = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return _host


_toolchains: dict[tuple, Toolchain] = {}


def num_threads() -> int:
    """The threads DLGRAD_NUM_THREADS asks kernels to use (1 when unset)."""
    text = os.environ.get(THREADS_VARIABLE, "").strip()
    if not text:
        return 1
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{THREADS_VARIABLE} must be a positive integer (the threads kernels may use), "
                         f"got {text!r}")
    return value


def vector_math_wanted() -> bool:
    """False when DLGRAD_VECTOR_MATH is set to 0 (or off, no, false) in the environment."""
    return os.environ.get("DLGRAD_VECTOR_MATH", "").strip().lower() not in ("0", "off", "no", "false")


def _libc() -> str:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        return ""


def memo_key(argv) -> tuple:
    """What a process's toolchain record depends on: the compiler, the cache directory (every
    directory gets its record), and the environment's vector-math and thread settings."""
    return (argv, cache_dir(), vector_math_wanted(), num_threads())


def toolchain() -> Toolchain:
    """The current compiler and its probed properties; cached per process and on disk.

    The disk record is keyed by the compiler's path, size and mtime, the host and the C library,
    so a new process that finds it runs no subprocess.
    """
    argv = find_compiler()
    wanted, threads = vector_math_wanted(), num_threads()
    memo = memo_key(argv)
    found = _toolchains.get(memo)
    if found is not None:
        return found
    real = os.path.realpath(argv[0])
    st = os.stat(real)
    key = hashlib.sha256(json.dumps(
        [_PROBE_FORMAT, argv, real, st.st_size, st.st_mtime_ns, host_fingerprint(), _libc()]).encode()).hexdigest()
    record = os.path.join(cache_dir("toolchain"), key + ".json")
    try:
        with open(record, encoding="utf-8") as f:
            identity, flags, target, vector = json.load(f)
        probed = Toolchain(argv, identity, tuple(flags), target), bool(vector)
    except (OSError, ValueError, TypeError):
        base = _probe(argv)
        probed = base, _probe_vector_math(base)
        atomic_write(record, json.dumps([base.identity, base.flags, base.target, probed[1]]))
    base, vector = probed
    found = base
    if vector and wanted:
        found = Toolchain(argv, base.identity, (*base.flags, *VECTOR_FLAGS), base.target, (*VECTOR_LIBS, *LIBS))
    if threads > 1:
        openmp = ("-fopenmp", f"-DDLGRAD_NUM_THREADS={threads}")
        if _probe_openmp(found, openmp):
            found = Toolchain(argv, found.identity, (*found.flags, *openmp), found.target, found.libs)
        else:   # zig cc, for one, ships no OpenMP runtime
            warnings.warn(f"{THREADS_VARIABLE}={threads} needs OpenMP, but {' '.join(argv)} cannot build and "
                          f"load a shared object with -fopenmp (no OpenMP runtime found): kernels run on one "
                          f"thread", RuntimeWarning, stacklevel=2)
    _toolchains[memo] = found
    return found


def _run(argv, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True)


def _probe(argv: tuple[str, ...]) -> Toolchain:
    try:
        version = _run([*argv, "--version"])
        native = _run([*argv, NATIVE, "-E", "-dM", "-x", "c", "-"])
    except OSError as exc:
        raise CompilerNotFoundError(f"cannot run the C compiler {argv[0]}: {exc}") from exc
    lines = (version.stdout or version.stderr).strip().splitlines()
    identity = lines[0] if lines else argv[0]
    if native.returncode == 0:
        # The predefined macros name every ISA extension -march=native turned on.
        macros = "\n".join(sorted(native.stdout.splitlines()))
        return Toolchain(argv, identity, (*FLAGS, NATIVE), hashlib.sha256(macros.encode()).hexdigest())
    return Toolchain(argv, identity, FLAGS, "generic")


_VECTOR_PROBE = r"""
#include <math.h>
#include <stddef.h>
#if defined(DLGRAD_VECTOR_MATH) && defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SIMD __attribute__((__simd__("notinbranch"), __const__, __nothrow__))
SIMD double sin(double); SIMD double cos(double); SIMD double log(double); SIMD double pow(double, double);
SIMD float tanhf(float);
#define SIMD_SUM _Pragma("omp simd reduction(+:acc)")
#else
#define SIMD_SUM
#endif
void probe_map(const double *restrict x, double *restrict y, float *restrict z, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; ++i) {
        y[i] = sin(x[i]) * cos(x[i]) + pow(x[i], 1.5);
        z[i] = tanhf((float)x[i]);
    }
}
double probe_sum(const double *restrict x, ptrdiff_t n) {
    double acc = 0;
    SIMD_SUM
    for (ptrdiff_t i = 0; i < n; ++i) acc += log(x[i]);
    return acc;
}
"""


def _probe_vector_math(tc: Toolchain) -> bool:
    """Whether `tc` builds kernels that call glibc's libmvec (gcc, x86-64, glibc >= 2.35).

    The probe is compiled as kernels would be, must call vector functions (the compiler really
    vectorised with them), load (every symbol resolves) and compute what libm computes.
    """
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return False
    libc = _libc().split()
    try:
        if libc[0] != "glibc" or tuple(int(p) for p in libc[1].split(".")[:2]) < (2, 35):
            return False
    except (IndexError, ValueError):
        return False
    import ctypes
    import math
    import tempfile
    with tempfile.TemporaryDirectory(prefix="dlgrad-probe-") as tmp:
        source, shared = os.path.join(tmp, "probe.c"), os.path.join(tmp, "probe.so")
        with open(source, "w", encoding="utf-8") as f:
            f.write(_VECTOR_PROBE)
        try:
            done = _run([*tc.argv, *tc.flags, *VECTOR_FLAGS, "-o", shared, source, *VECTOR_LIBS, *LIBS])
            if done.returncode != 0:
                return False
            with open(shared, "rb") as f:   # sin, cos, log, pow and tanhf called in vector form
                called = set(re.findall(rb"_ZGV[a-z]N[0-9]+v+_([a-z]+)\b", f.read()))
            if not {b"sin", b"cos", b"log", b"pow", b"tanhf"} <= called:
                return False
            lib = ctypes.CDLL(shared)
        except OSError:
            return False
        n = 64
        x = (ctypes.c_double * n)(*(0.25 + 0.125 * i for i in range(n)))
        y, z = (ctypes.c_double * n)(), (ctypes.c_float * n)()
        lib.probe_map.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_ssize_t]
        lib.probe_sum.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]
        lib.probe_sum.restype = ctypes.c_double
        lib.probe_map(x, y, z, n)
        total = lib.probe_sum(x, n)
        close = lambda a, b, tol: abs(a - b) <= tol * max(1.0, abs(b))   # noqa: E731
        return (all(close(y[i], math.sin(x[i]) * math.cos(x[i]) + x[i] ** 1.5, 1e-13)
                    and close(z[i], math.tanh(x[i]), 1e-6) for i in range(n))
                and close(total, math.fsum(math.log(v) for v in x), 1e-13))


def _probe_openmp(tc: Toolchain, openmp) -> bool:
    """Whether `tc` compiles, links and loads a shared object with an OpenMP parallel loop (clang
    without libomp, zig cc among them, links one whose OpenMP symbols do not resolve)."""
    import ctypes
    import tempfile
    with tempfile.TemporaryDirectory(prefix="dlgrad-probe-") as tmp:
        source, shared = os.path.join(tmp, "omp.c"), os.path.join(tmp, "omp.so")
        with open(source, "w", encoding="utf-8") as f:
            f.write("void probe(double *x, int n) {\n#pragma omp parallel for\n"
                    "    for (int i = 0; i < n; i++) x[i] *= 2;\n}\n")
        if _run([*tc.argv, *tc.flags, *openmp, "-o", shared, source, *tc.libs]).returncode != 0:
            return False
        try:
            ctypes.CDLL(shared)
        except OSError:
            return False
        return True


def _trim(text: str, limit: int = 4000) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "\n... (truncated)"


def compile_shared(tc: Toolchain, source_path: str, out_path: str) -> None:
    """Compile the C file `source_path` into the shared object `out_path`; CompileError on failure."""
    cmd = [*tc.argv, *tc.flags, "-o", out_path, source_path, *tc.libs]
    try:
        done = _run(cmd)
    except OSError as exc:
        raise CompilerNotFoundError(f"cannot run the C compiler {tc.argv[0]}: {exc}") from exc
    if done.returncode != 0:
        raise CompileError(
            f"the C compiler failed (exit status {done.returncode}) on {source_path}\n"
            f"command: {shlex.join(cmd)}\n{_trim(done.stderr or done.stdout)}")
