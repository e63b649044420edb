"""run.py's measurements in fresh processes: import times, first-call (compile) times, and W3 on
two threads (thread counts are fixed when numpy and OpenMP start, so it needs its own process)."""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import bench_training as training
import numpy as np
from bench_core import HAND_C, rosenbrock
from rows import SETTINGS, Row, failed, per_call

import dlgrad as dl

RUN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run.py")
ROOT = os.path.dirname(os.path.dirname(RUN))
PEERS = {"jax": "JAX", "torch": "PyTorch", "numba": "numba", "casadi": "CasADi"}


IMPORT_SNIPPET = ("import time; t0 = time.perf_counter(); import numpy; t1 = time.perf_counter(); "
                  "import {module}; print(t1 - t0, time.perf_counter() - t0)")


def fresh_process(args, cache=None, env=None):
    """stdout of `python args` in a fresh process with this checkout on the path (and `env`)."""
    env = dict(os.environ, **(env or {}), PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)   # an installed package has its bytecode compiled
    if cache is not None:
        env["DLGRAD_CACHE_DIR"] = cache
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          cwd=SETTINGS.workdir, check=False)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise (ImportError(last) if "ModuleNotFoundError" in last else RuntimeError(last))
    return done.stdout.split()


def import_times(rows):
    def seconds(module):
        fresh_process(["-c", IMPORT_SNIPPET.format(module=module)])   # writes the bytecode caches
        runs = [fresh_process(["-c", IMPORT_SNIPPET.format(module=module)]) for _ in range(SETTINGS.repeats)]
        return statistics.median(float(r[0]) for r in runs), statistics.median(float(r[1]) for r in runs)

    numpy_s, dlgrad_s = seconds("dlgrad")
    rows.append(Row("import", "import numpy", numpy_s, floor=True))
    rows.append(Row("import", "import dlgrad (with numpy)", dlgrad_s, target=("s", 0.15),
                    note=f"{dlgrad_s - numpy_s:.3f} s after numpy"))
    for module, name in PEERS.items():
        try:
            total = seconds(module)[1]
            rows.append(Row("import", f"import {module}", total, note=f"{total - numpy_s:.3f} s after numpy"))
        except ImportError:
            rows.append(Row("import", f"import {module}", note=f"skipped: {name} not installed"))
        except Exception as exc:  # noqa: BLE001
            rows.append(Row("import", f"import {module}", note=failed(exc)))


KEEP = ("trampoline", "toolchain")   # cache subdirectories that outlive any one program


def first_call_times(workload, cache_for_run, warm=False):
    """Median over runs of the first dlgrad call of `workload` in a fresh process (see child)."""
    args = [RUN, "--child", workload] + ["--warm"] * warm
    return statistics.median(float(fresh_process(args, cache_for_run(i))[0]) for i in range(SETTINGS.repeats))


def compile_times(rows):
    base = SETTINGS.workdir
    source = os.path.join(base, "hand_rosen.c")
    with open(source, "w") as f:
        f.write(HAND_C)

    def gcc():
        subprocess.run(["gcc", "-O3", "-march=native", "-shared", "-fPIC", source, "-o", source + ".so"], check=True)
    rows.append(Row("compile", "gcc -O3 -shared, hand-written C", per_call(gcc, 1, SETTINGS.repeats), floor=True))

    def fresh(i):
        return tempfile.mkdtemp(prefix="cache-empty-", dir=base)

    def empty(i):
        return os.path.join(base, f"cache-empty-{i}")

    def seeded(tag):
        def cache(i):   # only what outlives a program (trampoline, compiler probe), from an empty run
            path = os.path.join(base, f"cache-{tag}-{i}")
            os.makedirs(path, mode=0o700)
            for sub in KEEP:
                if os.path.isdir(os.path.join(empty(0), sub)):
                    shutil.copytree(os.path.join(empty(0), sub), os.path.join(path, sub))
            return path
        return cache

    fresh_process([RUN, "--child", "mlp", "--warm"], tempfile.mkdtemp(dir=base))   # bytecode caches
    rows.append(Row("compile", "dlgrad Rosenbrock, after imports", first_call_times("rosenbrock", empty, warm=True),
                    target=("s", 0.15), note="trace, C, gcc, load"))
    rows.append(Row("compile", "dlgrad Rosenbrock, new process", first_call_times("rosenbrock", seeded("new")),
                    note="also imports sympy and the compile path"))
    rows.append(Row("compile", "dlgrad Rosenbrock, empty cache", first_call_times("rosenbrock", fresh),
                    note="new process; also builds the call trampoline, probes gcc"))
    hit = first_call_times("rosenbrock", lambda i: os.path.join(base, "cache-new-0"))
    rows.append(Row("compile", "dlgrad Rosenbrock, disk-cache hit", hit, target=("s", 0.020),
                    note="a new process loads the program"))
    mlp = first_call_times("mlp", seeded("mlp"), warm=True)
    rows.append(Row("compile", "dlgrad MLP value+grad, after imports", mlp, target=("s", 1.0)))


def _unrelated(x):
    y = dl.sum(dl.sin(x) * dl.exp(-x * x))
    return y, dl.dlgradient(y, x)


def child(workload, warm):
    """In a fresh process, after the imports: print the seconds of the first dlgrad call.

    With `warm`, an unrelated function is compiled first, so the lazily imported compile path
    (sympy, codegen, the runtime) is loaded and the call trampoline built."""
    if warm:
        dl.dlfeval(_unrelated, dl.dlarray(np.ones(3)))
    if workload == "w3threads":
        return w3_threads_child()
    if workload == "rosenbrock":
        X = dl.dlarray(np.array([-1.0, 2.0]))
        start = time.perf_counter()
        dl.dlfeval(rosenbrock, X)
    else:
        x, t = training.data(np.random.default_rng(0))
        net, X = dl.dlnetwork(training.mlp_layers(), seed=0), dl.dlarray(x, "CB")
        start = time.perf_counter()
        dl.dlfeval(training.model_loss, net, X, t)
    print(time.perf_counter() - start)




# --- W3 on two threads ---------------------------------------------------------------------------

THREADS = 2


def w3_threads(rows):
    """W3 with DLGRAD_NUM_THREADS=2 (OpenMP row splits of the large products) against numpy's
    hand-written W3 with two BLAS threads, both in one fresh process."""
    env = {"DLGRAD_BENCH_THREADS": str(THREADS), "DLGRAD_NUM_THREADS": str(THREADS)}
    numpy_s, dlgrad_s = (float(v) for v in fresh_process([RUN, "--child", "w3threads"], env=env))
    workload = f"W3 {THREADS} threads"
    rows.append(Row(workload, f"numpy, hand-written, {THREADS} BLAS threads", numpy_s, floor=True))
    rows.append(Row(workload, f"dlgrad dlfeval, DLGRAD_NUM_THREADS={THREADS}", dlgrad_s, target=("x", 1.0)))


def w3_threads_child():
    from rows import measure
    rng = np.random.default_rng(0)
    x, t = training.data(rng)
    params = training.numpy_params(rng)
    net, X = dl.dlnetwork(training.mlp_layers(), seed=0), dl.dlarray(x, "CB")
    dl.dlfeval(training.model_loss, net, X, t)
    print(measure(lambda: training.numpy_loss_grads(params, x, t)),
          measure(lambda: dl.dlfeval(training.model_loss, net, X, t)))
