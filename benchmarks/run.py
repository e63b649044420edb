"""All of issue 6's measurements in one run and one table: speed, compile and import times and
memory, each against the workload's floor (a hand-written baseline measured in the same run)
and against JAX, PyTorch (eager and torch.compile), numba and CasADi where they are installed.

  W1  Rosenbrock 2-D value and gradient, one call from Python, at x = [-1, 2].
      Floor: hand-written C through cffi with numpy arrays in and out (outputs preallocated);
      the same allocating its outputs, as a compiled function must, is the second row.
  W2  extended Rosenbrock sum(100 (x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2), value and gradient,
      n = 1e5; dlgrad against the hand-written C loop also at n = 1e3 and 1e7.
  W3  MLP 784-128-10 (relu, softmax, crossentropy), batch 128, float32: loss and gradients of
      all parameters. Floor: the five matrix products of forward and backward alone (numpy).
  W3threads  W3 with DLGRAD_NUM_THREADS=2 (OpenMP) against numpy's hand-written W3 with two
      BLAS threads, in a fresh process.
  W4  sum(sin(x) exp(-x^2) + log(1 + x^2) + tanh(x) / (1 + x^2)), n = 1e4, float64, value and
      gradient: the rows of bench_vecmath.w4_rows() (its first row is the floor) when that
      module exists, else dlgrad, JAX and PyTorch against a hand-written numpy gradient.
  W5  200 Adam steps of W3 cycling over 8 fixed batches: total time. Floor: the matrix
      products alone, 200 times.
  import   `import X` in a fresh process (numpy is the floor; dlgrad's figure includes numpy).
  compile  dlgrad's first call in a fresh process with its own cache directory
      ($DLGRAD_CACHE_DIR), timed inside the process after `import dlgrad`:
        after imports: an unrelated function was compiled first (sympy and the compile path
          are imported, the call trampoline built), so only trace, C, gcc and load are left;
        new process: the cache holds only the trampoline and the compiler probe;
        empty cache: nothing cached; disk-cache hit: the cache holds the program.
      Floor: gcc -O3 -shared of the hand-written Rosenbrock C.
  memory   the MLP value+gradient's workspace against the peak bytes of its live intermediates
      (what the workspace planner is given while the program is lowered).

Fresh processes run with Python's bytecode caches written (a first run is discarded), as an
installed package has them. Everything else runs on one thread (OMP/OPENBLAS/MKL_NUM_THREADS=1, XLA's CPU flags,
torch.set_num_threads(1)). Times are medians of 3 runs (each run as many calls as fill
0.2 s); a peer's note gives its setup plus first call (compile) in this process. A peer that
is not installed is skipped and one that breaks is reported as failed; the run goes on.

Run: python benchmarks/run.py [--quick] [--only W1,W3,...]
"""
from __future__ import annotations

import os
import sys

# One thread everywhere, set before numpy, JAX or PyTorch is imported (the W3 threads workload's
# child process sets DLGRAD_BENCH_THREADS).
THREADS = os.environ.get("DLGRAD_BENCH_THREADS", "1")
os.environ.update(OMP_NUM_THREADS=THREADS, OPENBLAS_NUM_THREADS=THREADS, MKL_NUM_THREADS=THREADS,
                  TORCHINDUCTOR_COMPILE_THREADS="1",
                  XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)   # this checkout's dlgrad, installed or not

import argparse
import importlib
import importlib.metadata
import math
import platform
import shutil
import tempfile

import bench_training as training  # imports dlgrad
import numpy as np
from bench_core import build_hand_c, extended_rosenbrock, rosenbrock
from processes import PEERS, child, compile_times, import_times, w3_threads
from rows import SETTINGS, Row, attempt, failed, just, later, print_later, skipped_in_quick, table

import dlgrad as dl
from peers import (
    cffi_call,
    jax_batch,
    make_casadi_rosenbrock,
    make_jax,
    make_jax_mlp,
    make_numba_rosenbrock,
    make_torch,
    make_torch_mlp,
)

WORKLOADS = ("W1", "W2", "W3", "W3threads", "W4", "W5", "import", "compile", "memory")


def value_grad_check(want_value, want_grad, rtol=1e-10):
    """check(result) for a (value, gradient) pair of numpy arrays, dlarrays or tensors."""
    def check(result):
        value, grad = (np.asarray(dl.extractdata(r) if dl.isdlarray(r) else r, dtype=float) for r in result)
        np.testing.assert_allclose(value, want_value, rtol=rtol, err_msg="value")
        np.testing.assert_allclose(grad, want_grad, rtol=rtol, atol=1e-12, err_msg="gradient")
    return check


# --- objectives, written once for every array module (dlgrad, jax.numpy, torch) ------------------

def rosenbrock_sum(m, x):
    return m.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def w4_sum(m, x):
    return m.sum(m.sin(x) * m.exp(-x ** 2) + m.log(1 + x ** 2) + m.tanh(x) / (1 + x ** 2))


def numpy_rosenbrock_sum(x):
    """The extended Rosenbrock's value and gradient, by hand."""
    t, u = x[1:] - x[:-1] ** 2, 1 - x[:-1]
    g = np.zeros_like(x)
    g[:-1] = -400 * t * x[:-1] - 2 * u
    g[1:] += 200 * t
    return np.sum(100 * t * t + u * u), g


def numpy_w4_sum(x):
    """W4's value and gradient, by hand."""
    s, c, e, q, th = np.sin(x), np.cos(x), np.exp(-x * x), 1 / (1 + x * x), np.tanh(x)
    value = np.sum(s * e + np.log(1 + x * x) + th * q)
    return value, c * e - 2 * x * s * e + 2 * x * q + (1 - th * th) * q - 2 * x * th * q * q


# --- implementations: each make_*() returns fn() -> (value, gradient) for numpy x -------------------

def dlgrad_value_grad(objective):
    def value_grad(x):
        y = objective(dl, x)
        return y, dl.dlgradient(y, x)
    return value_grad


def value_grad_peers(rows, workload, objective, x, check):
    """The JAX, PyTorch eager and torch.compile rows of a (value, gradient) workload."""
    attempt(rows, workload, "JAX jit", lambda: make_jax(objective, x), check)
    attempt(rows, workload, "PyTorch eager", lambda: make_torch(objective, x), check)
    if SETTINGS.quick:
        skipped_in_quick(rows, workload, "torch.compile")
    else:
        attempt(rows, workload, "torch.compile", lambda: make_torch(objective, x, compiled=True), check)


# --- workloads ----------------------------------------------------------------------------------

def w1(rows):
    ffi, lib = build_hand_c(SETTINGS.workdir)
    x = np.array([-1.0, 2.0])
    check = value_grad_check(104.0, [396.0, 200.0])
    X = dl.dlarray(x)
    attempt(rows, "W1", "hand C via cffi, outputs preallocated", lambda: cffi_call(ffi, lib.rosen, x, allocate=False),
            check, floor=True)
    attempt(rows, "W1", "hand C via cffi, allocating outputs", lambda: cffi_call(ffi, lib.rosen, x), check)
    allocating = rows[-1].value
    attempt(rows, "W1", "dlgrad dlaccelerate call", just(dl.dlaccelerate(rosenbrock), X), check, target=("x", 1.5))
    attempt(rows, "W1", "dlgrad dlfeval", just(dl.dlfeval, rosenbrock, X), check, target=("x", 3.0))
    for row in rows[-2:]:
        if row.value and allocating:
            row.note = "; ".join(filter(None, [f"{row.value / allocating:.2f}x the allocating call", row.note]))
    attempt(rows, "W1", "CasADi C via cffi", lambda: make_casadi_rosenbrock(x, SETTINGS.workdir), check)
    attempt(rows, "W1", "numba njit", lambda: make_numba_rosenbrock(x), check)
    value_grad_peers(rows, "W1", rosenbrock_sum, x, check)


def w2(rows):
    ffi, lib = build_hand_c(SETTINGS.workdir)
    w2_at(rows, ffi, lib, 100_000, peers=True)
    for n in (1_000,) if SETTINGS.quick else (1_000, 10_000_000):
        w2_at(rows, ffi, lib, n)


def w2_at(rows, ffi, lib, n, peers=False):
    workload = "W2" if peers else f"W2 n = {n:.0e}".replace("+0", "")
    x = np.random.default_rng(1).uniform(-2, 2, n)
    check = value_grad_check(*numpy_rosenbrock_sum(x))
    attempt(rows, workload, "hand C loop via cffi (-O3)", lambda: cffi_call(ffi, lib.ext_rosen, x, n), check,
            floor=True)
    attempt(rows, workload, "dlgrad dlfeval", just(dl.dlfeval, extended_rosenbrock, dl.dlarray(x)), check,
            target=("x", 1.0))
    attempt(rows, workload, "dlgrad dlaccelerate", just(dl.dlaccelerate(extended_rosenbrock), dl.dlarray(x)),
            check, target=("x", 1.0))
    if peers:
        attempt(rows, workload, "numpy, hand-written gradient", just(numpy_rosenbrock_sum, x), check)
        attempt(rows, workload, "numba njit", lambda: make_numba_rosenbrock(x), check)
        value_grad_peers(rows, workload, rosenbrock_sum, x, check)


def w3(rows):
    rng = np.random.default_rng(0)
    x, t = training.data(rng)
    params = training.numpy_params(rng)
    attempt(rows, "W3", "numpy matmuls alone (5 sgemm)", lambda: mlp_matmuls(params, x), floor=True)
    net, X = dl.dlnetwork(training.mlp_layers(), seed=0), dl.dlarray(x, "CB")
    attempt(rows, "W3", "dlgrad dlfeval", just(dl.dlfeval, training.model_loss, net, X, t), target=("s", 700e-6))
    attempt(rows, "W3", "numpy, hand-written", just(training.numpy_loss_grads, params, x, t))
    attempt(rows, "W3", "JAX jit", lambda: make_jax_mlp(params, x, t))
    attempt(rows, "W3", "PyTorch eager", lambda: make_torch_mlp(x, t))
    if SETTINGS.quick:
        skipped_in_quick(rows, "W3", "torch.compile")
    else:
        attempt(rows, "W3", "torch.compile", lambda: make_torch_mlp(x, t, compiled=True))


def mlp_matmuls(params, x):
    """call(x, t) computing the matrix products of the MLP's forward and backward passes into
    preallocated outputs (t is ignored: W5 calls its steps with a batch)."""
    w1, _, w2, _ = params
    h, z = np.empty((w1.shape[0], x.shape[1]), np.float32), np.empty((w2.shape[0], x.shape[1]), np.float32)
    dw1, dw2, dh = np.empty_like(w1), np.empty_like(w2), np.empty_like(h)

    def call(x=x, t=None):
        np.matmul(w1, x, out=h)
        np.matmul(w2, h, out=z)
        np.matmul(z, h.T, out=dw2)
        np.matmul(w2.T, z, out=dh)
        np.matmul(dh, x.T, out=dw1)
    return call


def w4(rows):
    try:
        import bench_vecmath
    except ImportError as exc:
        if exc.name != "bench_vecmath":
            raise
        return w4_fallback(rows)
    for i, (label, seconds, note) in enumerate(bench_vecmath.w4_rows()):
        measured = not math.isnan(seconds)   # a failed row's time is NaN
        rows.append(Row("W4", label, seconds if measured else None, floor=i == 0 and measured,
                        note="" if note == "floor" else note))
    by_dtype = {}
    for key, ulp in bench_vecmath.ulp_report().items():
        name, dtype = key.split()
        by_dtype.setdefault(dtype, []).append(f"{name} {ulp:g}")
    print_later("W4 accuracy: max ulp of dlgrad's vector-math kernels against scalar libm "
                "(bench_vecmath.ulp_report())" if by_dtype else "W4 accuracy: no vector math on this toolchain",
                *(f"  {dtype}: {', '.join(items)}" for dtype, items in by_dtype.items()))


def w4_fallback(rows):
    """W4 without bench_vecmath: dlgrad and the peers against a hand-written numpy gradient."""
    x = np.random.default_rng(4).uniform(-3, 3, 10_000)
    check = value_grad_check(*numpy_w4_sum(x), rtol=1e-9)
    X, value_grad = dl.dlarray(x), dlgrad_value_grad(w4_sum)
    attempt(rows, "W4", "numpy, hand-written gradient", just(numpy_w4_sum, x), check, floor=True)
    attempt(rows, "W4", "dlgrad dlfeval", just(dl.dlfeval, value_grad, X), check)
    value_grad_peers(rows, "W4", w4_sum, x, check)
    print_later("W4: benchmarks/bench_vecmath.py is absent: these W4 rows are run.py's own, "
                "and there is no ulp report")


def dlgrad_batch(x, t):
    return dl.dlarray(x, "CB"), t


def dlgrad_w5_step(x, t):
    """(step(X, T), batch converter) of dlgrad's W5 training loop, built on the batch x, t: one
    compiled call of forward, backward and Adam, parameters and moments updated in place."""
    return training.fused_step(training.mlp_layers(), *dlgrad_batch(x, t)), dlgrad_batch


def dlgrad_w5_two_calls(x, t):
    """The same loop as dlfeval of loss and gradients, then a separate adamupdate call."""
    return training.dlgrad_step(training.mlp_layers(), *dlgrad_batch(x, t)), dlgrad_batch


def as_is(x, t):
    return x, t


def w5(rows, steps=200):
    """Each implementation is built as (step(x, t), convert(x, t) -> its form of a batch)."""
    rng = np.random.default_rng(5)
    batches = [training.data(rng) for _ in range(8)]

    def make(build):
        def make_run():
            step, convert = build(*batches[0])
            data = [convert(x, t) for x, t in batches]

            def run():
                for i in range(steps):
                    step(*data[i % len(data)])
            return run
        return make_run

    params = training.numpy_params(rng)
    attempt(rows, "W5", "numpy matmuls alone (5 sgemm per step)", make(lambda x, t: (mlp_matmuls(params, x), as_is)),
            floor=True)
    attempt(rows, "W5", "dlgrad one call per step, in place", make(dlgrad_w5_step), target=("s", 0.150))
    attempt(rows, "W5", "dlgrad dlfeval, then adamupdate", make(dlgrad_w5_two_calls))
    attempt(rows, "W5", "numpy, hand-written", make(lambda x, t: (training.numpy_step(x, t, rng), as_is)))
    attempt(rows, "W5", "JAX jit, hand-written Adam", make(lambda x, t: (training.jax_step(x, t, rng), jax_batch)))
    attempt(rows, "W5", "PyTorch eager", make(lambda x, t: (training.torch_step(x, t), training.torch_batch)))
    if SETTINGS.quick:
        skipped_in_quick(rows, "W5", "torch.compile")
    else:
        attempt(rows, "W5", "torch.compile",
                make(lambda x, t: (training.torch_step(x, t, compiled=True), training.torch_batch)))
    rows.append(Row("W5", "numba", note="not included: the MLP needs reductions with keepdims, which njit lacks"))


# --- memory -----------------------------------------------------------------------------------------

def memory(rows):
    """Record what the workspace planner is given while the MLP value+gradient is lowered."""
    from dlgrad.codegen.memory import workspace_report
    lowering = importlib.import_module("dlgrad.codegen.emit")
    planner, reports = lowering.plan_workspace, []

    def recording(*args):
        reports.append(workspace_report(*args))
        return planner(*args)
    x, t = training.data(np.random.default_rng(0))
    net = dl.dlnetwork(training.mlp_layers(), seed=0)
    lowering.plan_workspace = recording
    try:
        program = dl.lower(training.model_loss, net, dl.dlarray(x, "CB"), t).program
    finally:
        lowering.plan_workspace = planner
    (workspace, peak), = reports
    assert workspace == program.work_bytes, (workspace, program.work_bytes)
    rows.append(Row("memory", "MLP value+grad: peak live intermediates", peak, unit="B", floor=True))
    rows.append(Row("memory", "MLP value+grad: dlgrad workspace", workspace, unit="B", target=("x", 1.5)))


def versions():
    found = []
    for module, name in PEERS.items():
        try:
            found.append(f"{name} {importlib.metadata.version(module)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} absent")
    return (f"dlgrad {dl.__version__}, Python {platform.python_version()}, numpy {np.__version__}, "
            f"{', '.join(found)}; {platform.machine()}, {os.cpu_count()} CPUs; one thread; "
            f"median of {SETTINGS.repeats} run{'s' * (SETTINGS.repeats > 1)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run each, shorter runs; no n = 1e7, no torch.compile")
    parser.add_argument("--only", default=",".join(WORKLOADS), help=f"comma-separated subset of {','.join(WORKLOADS)}")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.warm)
    wanted = {w.strip().lower() for w in args.only.split(",") if w.strip()}
    unknown = wanted - {w.lower() for w in WORKLOADS}
    if unknown:
        parser.error(f"unknown workloads {', '.join(sorted(unknown))}; choose from {', '.join(WORKLOADS)}")
    SETTINGS.workdir = tempfile.mkdtemp(prefix="dlgrad-run-")
    os.environ["DLGRAD_CACHE_DIR"] = os.path.join(SETTINGS.workdir, "cache")      # cold caches
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(SETTINGS.workdir, "inductor")
    if args.quick:
        SETTINGS.repeats, SETTINGS.budget, SETTINGS.quick = 1, 0.05, True
    steps = {"W1": w1, "W2": w2, "W3": w3, "W3threads": w3_threads, "W4": w4, "W5": w5, "import": import_times,
             "compile": compile_times, "memory": memory}
    rows = []
    for name in WORKLOADS:
        if name.lower() not in wanted:
            continue
        try:
            steps[name](rows)
        except Exception as exc:  # noqa: BLE001 - the other workloads still run
            rows.append(Row(name, "(the whole workload)", note=failed(exc)))
    print(versions())
    print(table(rows))
    for line in later():
        print(line)
    shutil.rmtree(SETTINGS.workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
