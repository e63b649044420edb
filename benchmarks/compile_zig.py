"""Compile times through zig cc (the `zig` extra) against the system compiler.

    pip install -e ".[zig]" && python benchmarks/compile_zig.py [--repeat 3]

Each figure comes from a fresh process with an empty dlgrad cache:
- first build: the first dlfeval of Rosenbrock in a fresh install, from `import dlgrad` on: probing
  the compiler, building the native call path (fastcall.c and the cffi trampoline) and compiling the
  kernel; for zig also with an empty zig cache (zig builds its libc stubs on first use);
- per function: the C compiler's time alone (`compile_shared`) for each generated program, with
  the native call path and zig's own cache already built;
- per call: the compiled MLP value and gradient, to show the code runs at the same speed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import dlgrad as dl
from dlgrad.runtime import compiler

timings = []
_compile = compiler.compile_shared
def timed(tc, source, out):
    start = time.perf_counter()
    _compile(tc, source, out)
    timings.append(time.perf_counter() - start)
compiler.compile_shared = timed

def rosenbrock(x):
    y = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
    return y, dl.dlgradient(y, x)

def mlp_loss(net, X, T):
    loss = dl.crossentropy(dl.forward(net, X), T)
    return loss, dl.dlgradient(loss, net.Learnables)

def cnn_loss(net, X, T):
    Y, state = dl.forward(net, X, return_state=True)
    loss = dl.crossentropy(Y, T)
    return loss, dl.dlgradient(loss, net.Learnables), state

dl.dlfeval(rosenbrock, dl.dlarray(np.array([-1.0, 2.0])))
first = time.perf_counter() - t0
rng = np.random.default_rng(0)
mlp = dl.dlnetwork([dl.featureInputLayer(784), dl.fullyConnectedLayer(128), dl.reluLayer(),
                    dl.fullyConnectedLayer(10), dl.softmaxLayer()])
X = dl.dlarray(rng.random((784, 128), dtype=np.float32), "CB")
T = np.eye(10, dtype=np.float32)[:, rng.integers(0, 10, 128)]
dl.dlfeval(mlp_loss, mlp, X, T)
start, n = time.perf_counter(), 200
for _ in range(n):
    dl.dlfeval(mlp_loss, mlp, X, T)
per_call = (time.perf_counter() - start) / n
cnn = dl.dlnetwork([dl.imageInputLayer((8, 8, 1)),
                    dl.convolution2dLayer(3, 16, Padding="same"), dl.batchNormalizationLayer(), dl.reluLayer(),
                    dl.maxPooling2dLayer(2, Stride=2), dl.flattenLayer(), dl.fullyConnectedLayer(10),
                    dl.softmaxLayer()])
dl.dlfeval(cnn_loss, cnn, dl.dlarray(rng.random((8, 8, 1, 64), dtype=np.float32), "SSCB"),
           np.eye(10, dtype=np.float32)[:, rng.integers(0, 10, 64)])
print(json.dumps({"compiler": compiler.toolchain().identity, "first": first, "compiles": timings,
                  "mlp_call": per_call}))
"""


def run(env_changes, zig_cache=None):
    with tempfile.TemporaryDirectory(prefix="dlgrad-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("CC", "DLGRAD_NUM_THREADS", "DLGRAD_BACKEND")}
        env.update(env_changes, DLGRAD_CACHE_DIR=os.path.join(tmp, "cache"),
                   PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
        if zig_cache is not None:
            env["ZIG_GLOBAL_CACHE_DIR"] = zig_cache
        done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(done.stderr[-2000:])
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per compiler (median)")
    args = parser.parse_args()
    from dlgrad.runtime import compiler
    zig = compiler.zig_cc()
    if zig is None:
        sys.exit('ziglang is not installed: pip install "dlgrad[zig]"')
    system = compiler.find_compiler() if shutil.which("cc") or os.environ.get("CC") else None
    setups = [("zig cc", {"CC": " ".join(zig)})]
    if system is not None and system != zig:
        setups.insert(0, ("system cc", {"CC": " ".join(system)}))
    labels = ["Rosenbrock", "MLP 784-128-10", "CNN"]
    print(f"{'compiler':<10} {'identity':<34} {'first build':>12} {'(empty zig cache)':>18} "
          + " ".join(f"{label:>15}" for label in labels) + f" {'MLP call':>10}")
    for name, changes in setups:
        cold = None
        if name == "zig cc":
            with tempfile.TemporaryDirectory(prefix="zig-cache-") as zig_cache:
                cold = run(changes, zig_cache)["first"]
        results = [run(changes) for _ in range(args.repeat)]
        first = statistics.median(r["first"] for r in results)
        compiles = [statistics.median(r["compiles"][i] for r in results) for i in range(len(labels))]
        call = statistics.median(r["mlp_call"] for r in results)
        cold_text = f"{cold:.2f} s" if cold is not None else "-"
        print(f"{name:<10} {results[0]['compiler'][:34]:<34} {first:>10.2f} s {cold_text:>18} "
              + " ".join(f"{1e3 * c:>12.0f} ms" for c in compiles) + f" {1e6 * call:>7.0f} us")


if __name__ == "__main__":
    main()
