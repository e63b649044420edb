"""Compile times of the digits CNN's programs (examples/train_digits.py, batch 64): the loss and
gradient program, the whole training step (forward, backward, adamupdate) and the adamupdate
program, each built with the kernels split over two compiler processes and built whole.

Each figure comes from a fresh process and a fresh cache whose call-path extensions are already
built (an unrelated function is compiled first), so "first call" is trace + C + compiler.
Reported per program: C size, trace + lower, the compiler's wall and CPU time, the first call,
and the steady call (fastest of several rounds). Rounds alternate between the two build modes.

    python benchmarks/bench_compile.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = ("loss+gradient", "train step", "adamupdate")


def child(program: str) -> dict:
    sys.path.insert(0, os.path.join(HERE, "..", "examples"))
    import numpy as np

    import dlgrad as dl
    import train_digits as td
    from dlgrad.frontend.dlfeval import lower
    from dlgrad.runtime import build
    builds = []
    real = build._build

    def spy(tc, source, path):
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        real(tc, source, path)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        builds.append((len(source), time.perf_counter() - start,
                       after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime))
    build._build = spy

    def warm(x):
        y = dl.sum(x * x)
        return y, dl.dlgradient(y, x)
    dl.dlfeval(warm, dl.dlarray(np.ones(3)))
    builds.clear()
    rng = np.random.default_rng(0)
    net = dl.dlnetwork(td.cnn(), seed=0)
    X = dl.dlarray(rng.random((64, 8, 8, 1), dtype=np.float32), "BSSC")
    T = np.eye(10, dtype=np.float32)[:, rng.integers(0, 10, 64)]
    if program == "loss+gradient":
        fn, args = td.model_loss, (net, X, T)
        call = lambda: dl.dlfeval(fn, *args)   # noqa: E731
    elif program == "train step":
        def train_step(net, X, T, m, v, iteration):
            loss, grads, state = td.model_loss(net, X, T)
            net, m, v = dl.adamupdate(net, grads, m, v, iteration)
            return net, m, v, loss
        zeros = lambda p: dl.dlarray(np.zeros(p.shape, p.dtype))   # noqa: E731
        m, v = dl.dlupdate(zeros, net.Learnables), dl.dlupdate(zeros, net.Learnables)
        fn, args = train_step, (net, X, T, m, v, dl.dlarray(1.0))
        accelerated = dl.dlaccelerate(train_step)
        call = lambda: dl.dlfeval(accelerated, *args)   # noqa: E731
    else:
        _, grads, _ = dl.dlfeval(td.model_loss, net, X, T)
        builds.clear()
        fn = None
        start = time.perf_counter()
        _, m, v = dl.adamupdate(net, grads, None, None, 1)
        first = time.perf_counter() - start
        call = lambda: dl.adamupdate(net, grads, m, v, 2)   # noqa: E731
    start = time.perf_counter()
    if fn is not None:
        lower(fn, *args)
    traced = time.perf_counter() - start
    if fn is not None:
        start = time.perf_counter()
        call()
        first = time.perf_counter() - start
    for _ in range(20):
        call()
    steady = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(50):
            call()
        steady.append((time.perf_counter() - start) / 50)
    return {"c": sum(b[0] for b in builds), "trace": traced if fn is not None else None,
            "cc_wall": sum(b[1] for b in builds), "cc_cpu": sum(b[2] for b in builds),
            "first": first, "steady": min(steady)}


def run(program: str, split: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="dlgrad-bench-") as cache:
        env = dict(os.environ, DLGRAD_CACHE_DIR=cache, DLGRAD_PARALLEL_BUILD="1" if split else "0")
        done = subprocess.run([sys.executable, __file__, "--child", program], env=env, capture_output=True,
                              text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    import platform
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; fastest of {args.rounds} alternating rounds")
    print(f"{'program':<14} {'build':<6} {'C':>7} {'trace+lower':>11} {'cc wall':>8} {'cc CPU':>7} "
          f"{'first call':>10} {'steady':>9}")
    for program in PROGRAMS:
        best: dict = {}
        for _ in range(args.rounds):
            for split in (True, False):
                got = run(program, split)
                old = best.setdefault(split, got)
                for key, value in got.items():
                    if value is not None and key != "c":
                        old[key] = min(old[key], value)
        for split in (True, False):
            r = best[split]
            trace = f"{r['trace']:.2f} s" if r["trace"] is not None else "-"
            print(f"{program:<14} {'split' if split else 'whole':<6} {r['c'] / 1e3:>5.0f}kB {trace:>11} "
                  f"{r['cc_wall']:>6.2f} s {r['cc_cpu']:>5.2f} s {r['first']:>8.2f} s {r['steady'] * 1e3:>6.3f} ms")


if __name__ == "__main__":
    main()
