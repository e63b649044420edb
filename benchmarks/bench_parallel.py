"""Scale-out benchmark: the spmd functions on two MPI processes (issue 17's figures).

  spmdPlus  the MLP 784-128-10's gradients (a Learnables table of 101 770 float32 values) summed
      over 2 ranks. Floor: mpi4py's Allreduce of one preallocated buffer of that size, in place.
      Target: at most 1 ms.
  step  one data-parallel training step of a compute-bound model (MLP 784-1024-1024-10, float32,
      global batch 1024): dlfeval of loss and gradients, then sgdmupdate. Floor: one process on
      the whole batch; the 2-rank row: each rank on half of it, gradients and loss combined with
      spmdPlus. Target: at most 0.625x the floor's time (at least 1.6x its throughput).

Run: python benchmarks/bench_parallel.py [--steps N]   (it starts `mpiexec -n 2` itself; needs the
mpi extra: pip install -e ".[mpi]"). Figures are rank 0's medians; both ranks run in lockstep.
"""
from __future__ import annotations

import os

os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))   # this checkout's dlgrad, installed or not

import dlgrad as dl  # noqa: E402
from rows import Row, table  # noqa: E402

BATCH, WIDE = 1024, (784, 1024, 1024, 10)
SMALL = (784, 128, 10)


def mlp(sizes):
    layers = [dl.featureInputLayer(sizes[0])]
    for width in sizes[1:-1]:
        layers += [dl.fullyConnectedLayer(width), dl.reluLayer()]
    return dl.dlnetwork(layers + [dl.fullyConnectedLayer(sizes[-1]), dl.softmaxLayer()], seed=0)


def model_loss(net, X, T):
    loss = dl.crossentropy(dl.forward(net, X), T)
    return loss, dl.dlgradient(loss, net.Learnables)


def lockstep(fn, calls, repeats=5):
    """Median seconds per call of fn over `repeats` runs of `calls` calls, every rank starting together."""
    fn()
    runs = []
    for _ in range(repeats):
        dl.spmdBarrier()
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - start) / calls)
    return statistics.median(runs)


def training_step(steps):
    """Seconds per data-parallel step on this job's share of a global batch of BATCH."""
    rng = np.random.default_rng(0)
    share = BATCH // dl.spmdSize()
    X = dl.dlarray(rng.standard_normal((WIDE[0], share)).astype(np.float32), "CB")
    T = np.eye(WIDE[-1], dtype=np.float32)[:, rng.integers(0, WIDE[-1], share)]
    factor = share / BATCH
    state = {"net": mlp(WIDE), "velocity": None}

    def step():
        loss, grads = dl.dlfeval(model_loss, state["net"], X, T)
        grads, loss = dl.spmdPlus(dl.dlupdate(lambda g: factor * g, [grads, loss]))
        state["net"], state["velocity"] = dl.sgdmupdate(state["net"], grads, state["velocity"], 0.01)
    return lockstep(step, steps, repeats=3)


def ranks(steps):
    """What each of the 2 ranks measures; rank 0 prints it as JSON."""
    from mpi4py import MPI
    grads = dl.dlupdate(lambda p: p * 0.5, mlp(SMALL).Learnables)
    size = sum(v.size for v in grads.Value)
    buffer = np.ones(size, np.float32)
    figures = {"values": int(size),
               "allreduce": lockstep(lambda: MPI.COMM_WORLD.Allreduce(MPI.IN_PLACE, buffer, MPI.SUM), 200),
               "spmdPlus": lockstep(lambda: dl.spmdPlus(grads), 200),
               "step": training_step(steps)}
    if dl.spmdIndex() == 0:
        print(json.dumps(figures), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="training steps per timed run")
    parser.add_argument("--ranks", action="store_true", help=argparse.SUPPRESS)   # the mpiexec side
    args = parser.parse_args(argv)
    if args.ranks:
        return ranks(args.steps)
    single = training_step(args.steps)
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    done = subprocess.run([mpiexec, "-n", "2", sys.executable, os.path.abspath(__file__), "--ranks",
                           "--steps", str(args.steps)], capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"mpiexec -n 2 failed:\n{done.stdout}{done.stderr}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    rows = [Row("spmdPlus", f"mpi4py Allreduce, one buffer of {figures['values']} float32",
                figures["allreduce"], floor=True),
            Row("spmdPlus", "dlgrad spmdPlus of the MLP's gradients (Learnables)", figures["spmdPlus"],
                target=("s", 1e-3)),
            Row("step", f"1 process, batch {BATCH}", single, floor=True),
            Row("step", f"2 ranks, {BATCH // 2} each + spmdPlus", figures["step"], target=("x", 0.625),
                note=f"{single / figures['step']:.2f}x the throughput")]
    load = os.getloadavg()
    print(f"dlgrad {dl.__version__}, Python {platform.python_version()}, numpy {np.__version__}; "
          f"{platform.machine()}, {os.cpu_count()} CPUs; one thread per process; "
          f"load average {load[0]:.2f} before the table")
    print(table(rows))


if __name__ == "__main__":
    main()
