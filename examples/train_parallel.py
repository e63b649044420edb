"""Train the digits CNN data-parallel: MATLAB's "Train Network in Parallel with Custom Training Loop".

    pip install "dlgrad[examples,mpi]"
    mpiexec -n 2 python examples/train_parallel.py      # two processes (or -n N, or on a cluster)
    python examples/train_parallel.py                   # one process: the same run with the same batch

MATLAB's example runs its loop inside `spmd`; under mpiexec every process runs this whole
script, which is the same thing. Each process takes its share of every global mini-batch,
evaluates the loss and its gradients with dlfeval on that share only (traced values never
leave a process: "compute all required gradients on the worker and then combine"), and
combines gradients, loss and batch-normalization statistics with spmdPlus, weighted by its
share of the batch. Every process then applies the same sgdmupdate, so the networks stay
identical, and spmdReduce("and", hasdata) stops them together. The printed test accuracy is
the single-process one (within a test image or two: each process normalizes its share of
the batch with that share's statistics, as in MATLAB).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import dlgrad as dl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_digits import as_input, cnn, load_digits, model_loss, model_predictions  # noqa: E402  (same data, model)


def shard(batch_size):
    """(start, stop) of this process's share of a global batch: sizes differ by at most one."""
    n, k = dl.spmdSize(), dl.spmdIndex()
    sizes = [batch_size // n + (i < batch_size % n) for i in range(n)]
    return sum(sizes[:k]), sum(sizes[:k + 1])


def aggregate_state(state, combined_means, factor):
    """MATLAB's aggregateState: the running means are the weighted sums of the processes' ones;
    the running variances add each process's spread around the combined mean."""
    terms = []
    for (layer, parameter, value) in state:
        if parameter == "TrainedVariance":
            mean = state[layer, "TrainedMean"]
            terms.append(factor * (value + (mean - combined_means[layer]) ** 2))
    variances = iter(dl.spmdPlus(terms))
    rows = [(layer, parameter, combined_means[layer] if parameter == "TrainedMean" else
             next(variances) if parameter == "TrainedVariance" else value)
            for layer, parameter, value in state]
    return dl.Learnables(rows)


def train(epochs=15, batch=64, learn_rate=0.05, momentum=0.9, seed=0, quiet=False):
    x_train, y_train, x_test, y_test = load_digits()
    net = dl.dlnetwork(cnn(), seed=seed)           # the same seed: the same network on every process
    rng = np.random.default_rng(seed)              # and the same shuffles
    start, stop = shard(batch)
    factor = (stop - start) / batch
    schedule = dl.timeBasedDecay(learn_rate, 0.002)
    velocity, iteration = None, 0
    report = (lambda *a, **k: None) if quiet or dl.spmdIndex() != 0 else print
    report(f"{dl.spmdSize()} process(es), {stop - start} of each global batch of {batch} on this one")
    began = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x_train))
        batches = len(order) // batch
        b = 0
        while dl.spmdReduce("and", b < batches):   # every process has data: go on together
            idx = order[b * batch:(b + 1) * batch][start:stop]
            b += 1
            iteration += 1
            X = as_input(x_train[idx], True)
            T = np.eye(10, dtype=np.float32)[:, y_train[idx]]
            loss, grads, state = dl.dlfeval(model_loss, net, X, T)
            means = {layer: value for layer, parameter, value in state if parameter == "TrainedMean"}
            # one collective for the gradients, the loss and the running means
            grads, loss, means = dl.spmdPlus(dl.dlupdate(lambda g: factor * g, [grads, loss, means]))
            net.State = aggregate_state(state, means, factor)
            net, velocity = dl.sgdmupdate(net, grads, velocity, schedule(iteration), momentum)
        report(f"epoch {epoch:>2}/{epochs}  loss {float(loss):.4f}  "
               f"test accuracy {accuracy(net, x_test, y_test):.4f}")
    result = accuracy(net, x_test, y_test)
    report(f"test accuracy {result:.4f} after {iteration} iterations on {dl.spmdSize()} process(es) "
           f"({time.perf_counter() - began:.1f} s including compilation)")
    return result


def accuracy(net, images, labels):
    """Each process classifies its share of the test set; spmdPlus adds the correct answers."""
    start, stop = shard(len(images))
    Y = dl.extractdata(dl.dlfeval(model_predictions, net, as_input(images[start:stop], True)))
    return dl.spmdPlus(int(np.sum(np.argmax(Y, axis=0) == labels[start:stop]))) / len(images)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch", type=int, default=64, help="the global mini-batch size")
    args = parser.parse_args(argv)
    return train(args.epochs, args.batch)


if __name__ == "__main__":
    main()
