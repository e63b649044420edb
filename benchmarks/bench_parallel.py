"""Scale-out benchmark: the spmd functions on two MPI processes (issue 17's figures).

  spmdPlus  the MLP 784-128-10's gradients (a Learnables table of 101 770 float32 values) summed
      over 2 ranks. Floor: mpi4py's Allreduce of one preallocated buffer of that size, in place.
      Target: at most 1 ms.
  step  one data-parallel training step of a compute-bound model (MLP 784-1024-1024-10, float32,
      global batch 1024): dlfeval of loss and gradients, then sgdmupdate. Floor: one process on
      the whole batch (rank 0 alone, the other rank asleep); the 2-rank row: each rank on half of
      it, gradients and loss combined with spmdPlus. Target: at most 0.625x the floor's time (at
      least 1.6x its throughput).

Run: python benchmarks/bench_parallel.py [--steps N]   (it starts `mpiexec -n 2` itself; needs the
mpi extra: pip install -e ".[mpi]"). Figures are rank 0's medians over --repeats runs, the runs of the
rows compared interleaved so that a change of the machine's load hits both; notes give the best runs.
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
from rows import Row, shown, table  # noqa: E402

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


def block(fn, calls):
    """Seconds per call of `calls` calls of fn, every rank starting together."""
    dl.spmdBarrier()
    return block_alone(fn, calls)


def on_rank0_alone(fn, calls):
    """block() of fn on rank 0 while the other ranks sleep (a blocking MPI wait would spin and take a core)."""
    from mpi4py import MPI
    dl.spmdBarrier()
    seconds = block_alone(fn, calls) if dl.spmdIndex() == 0 else None
    request = MPI.COMM_WORLD.Ibarrier()
    while not request.Test():
        time.sleep(0.001)
    return seconds


def block_alone(fn, calls):
    """Seconds per call of `calls` calls of fn."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def training_step(share):
    """One data-parallel step on `share` samples of a global batch of BATCH (one process: share = BATCH)."""
    rng = np.random.default_rng(0)
    X = dl.dlarray(rng.standard_normal((WIDE[0], share)).astype(np.float32), "CB")
    T = np.eye(WIDE[-1], dtype=np.float32)[:, rng.integers(0, WIDE[-1], share)]
    factor = share / BATCH
    state = {"net": mlp(WIDE), "velocity": None}

    def step():
        loss, grads = dl.dlfeval(model_loss, state["net"], X, T)
        if share < BATCH:
            grads, loss = dl.spmdPlus(dl.dlupdate(lambda g: factor * g, [grads, loss]))
        state["net"], state["velocity"] = dl.sgdmupdate(state["net"], grads, state["velocity"], 0.01)
    step()
    return step


def ranks(steps, repeats):
    """Every figure, measured on the 2 ranks with the runs of the compared rows interleaved (so that
    a change of the machine's load hits both); rank 0 prints medians and minima as JSON."""
    from mpi4py import MPI
    grads = dl.dlupdate(lambda p: p * 0.5, mlp(SMALL).Learnables)
    size = sum(v.size for v in grads.Value)
    buffer = np.ones(size, np.float32)
    allreduce = lambda: MPI.COMM_WORLD.Allreduce(MPI.IN_PLACE, buffer, MPI.SUM)  # noqa: E731
    plus = lambda: dl.spmdPlus(grads)  # noqa: E731
    single, double = training_step(BATCH), training_step(BATCH // dl.spmdSize())
    runs: dict = {"allreduce": [], "spmdPlus": [], "single": [], "double": []}
    for _ in range(repeats):
        runs["allreduce"].append(block(allreduce, 200))
        runs["spmdPlus"].append(block(plus, 200))
        runs["single"].append(on_rank0_alone(single, steps))
        runs["double"].append(block(double, steps))
    if dl.spmdIndex() == 0:
        print(json.dumps({"values": int(size), **{k: (statistics.median(v), min(v)) for k, v in runs.items()}}),
              flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="training steps per timed run")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of each row (medians are shown)")
    parser.add_argument("--ranks", action="store_true", help=argparse.SUPPRESS)   # the mpiexec side
    args = parser.parse_args(argv)
    if args.ranks:
        return ranks(args.steps, args.repeats)
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    done = subprocess.run([mpiexec, "-n", "2", sys.executable, os.path.abspath(__file__), "--ranks",
                           "--steps", str(args.steps), "--repeats", str(args.repeats)], capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"mpiexec -n 2 failed:\n{done.stdout}{done.stderr}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    speedup = figures["single"][0] / figures["double"][0]
    rows = [Row("spmdPlus", f"mpi4py Allreduce, one buffer of {figures['values']} float32",
                figures["allreduce"][0], floor=True),
            Row("spmdPlus", "dlgrad spmdPlus of the MLP's gradients (Learnables)", figures["spmdPlus"][0],
                target=("s", 1e-3), note=f"best runs {shown(figures['spmdPlus'][1], 's')} (Allreduce "
                f"{shown(figures['allreduce'][1], 's')})"),
            Row("step", f"1 process, batch {BATCH}", figures["single"][0], floor=True),
            Row("step", f"2 ranks, {BATCH // 2} each + spmdPlus", figures["double"][0], target=("x", 0.625),
                note=f"{speedup:.2f}x the throughput; best runs {figures['single'][1] / figures['double'][1]:.2f}x")]
    load = os.getloadavg()
    print(f"dlgrad {dl.__version__}, Python {platform.python_version()}, numpy {np.__version__}; "
          f"{platform.machine()}, {os.cpu_count()} CPUs; one thread per process; "
          f"load average {load[0]:.2f} before the table")
    print(table(rows))


if __name__ == "__main__":
    main()
