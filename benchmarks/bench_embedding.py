"""An embedding training step whose cost does not depend on the vocabulary size (issue 13, item 3).

One step of a word-embedding model: embed 512 word indices (int64, a runtime argument) into 64
dimensions, a fully connected layer to 10 classes, softmax, indexcrossentropy against class
indices (another runtime argument), the gradient, and the SGD update W - lr * dW of every
parameter, compiled as one accelerated function with the parameters donated (updated in place).
The embedding's gradient is a scatter-add that the graph writes into the table itself
(index_add), so the step touches only the 512 looked-up columns of the table: its time at a
vocabulary of 50 000 words must be within 10% of its time at 10 000 (target ratio <= 1.1x).

Rows: the step at 10 000 words (the floor) and at 50 000, with the table as embed takes it (dim x
words, MATLAB's shape) stored column-major (numpy.asfortranarray, MATLAB's memory layout, as
wordEmbeddingLayer initializes it: one word's vector is contiguous, 8 cache lines per lookup; the
compiled step reads it as the words x dim C array it is in memory, a row gather and a row index_add
written in place) -- the target row; the same table stored row-major for comparison (one word's
vector strided, 64 cache lines per lookup, which the kernels read and update 8 words at a time
across the rows); and stored words x dim with dl.take along axis 0 (the layout by hand); numpy's
own W[:, idx] on a row-major table at both sizes, which shows what the memory system alone adds
for the strided layout; the generated C's size at both; and an index
of 50 000 at a vocabulary of 50 000 raising the clear error. New index values every call
(drawn up front), one thread; the two sizes are timed alternately, 15 rounds of 200 calls
each (5 with --quick), and the fastest round of each counts (paired()).

Run: python benchmarks/bench_embedding.py [--quick]
"""
from __future__ import annotations

import os
import platform
import sys

os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import timeit  # noqa: E402

import numpy as np  # noqa: E402

import dlgrad as dl  # noqa: E402
from rows import SETTINGS, Row, table  # noqa: E402

DIM, TOKENS, CLASSES, LR = 64, 512, 10, 0.1


def step(weights, fc, bias, words, labels):
    """Loss of one batch and the parameters after one SGD step (weights: dim x words, MATLAB's)."""
    def loss_of(weights, fc, bias):
        e = dl.embed(dl.dlarray(words, "CB"), weights)
        return dl.indexcrossentropy(dl.softmax(dl.fullyconnect(e, fc, bias)), labels)
    return _sgd(loss_of, weights, fc, bias)


def step_rows(table, fc, bias, words, labels):
    """The same with the table stored words x dim (each word's vector contiguous, as in MATLAB's
    column-major memory): a lookup reads 8 cache lines instead of 64."""
    def loss_of(table, fc, bias):
        e = dl.transpose(dl.take(table, words[0], axis=0))
        return dl.indexcrossentropy(dl.softmax(dl.fullyconnect(dl.dlarray(e, "CB"), fc, bias)), labels)
    return _sgd(loss_of, table, fc, bias)


def _sgd(loss_of, *params):
    loss = loss_of(*params)
    grads = dl.dlgradient(loss, *params)
    return (*(p - LR * g for p, g in zip(params, grads)), loss)


def make_step(vocabulary, fn=step, calls=64, order="C"):
    """run() doing one step at the given vocabulary size on the next of `calls` index draws, the
    table stored in `order` ("F": column-major)."""
    rng = np.random.default_rng(vocabulary)
    shape = (DIM, vocabulary) if fn is step else (vocabulary, DIM)
    state = [dl.dlarray(np.asarray(rng.standard_normal(shape) * 0.1, order=order)),
             dl.dlarray(rng.standard_normal((CLASSES, DIM)) * 0.1), dl.dlarray(np.zeros(CLASSES))]
    draws = [(rng.integers(0, vocabulary, (1, TOKENS)), rng.integers(0, CLASSES, TOKENS)) for _ in range(calls)]
    accelerated = dl.dlaccelerate(fn, donate=(0, 1, 2))
    counter = [0]

    def run():
        words, labels = draws[counter[0] % calls]
        counter[0] += 1
        *state[:], loss = accelerated(*state, words, labels)
        return loss
    return run


def numpy_lookup(vocabulary, calls=64):
    """run() of numpy's W[:, idx] on a dim x words table: the memory system's share alone."""
    rng = np.random.default_rng(vocabulary)
    table = rng.standard_normal((DIM, vocabulary))
    draws = [rng.integers(0, vocabulary, TOKENS) for _ in range(calls)]
    counter = [0]

    def run():
        counter[0] += 1
        return table[:, draws[counter[0] % calls]]
    return run


def c_bytes(vocabulary):
    rng = np.random.default_rng(0)
    args = (dl.dlarray(np.zeros((DIM, vocabulary), order="F")), dl.dlarray(np.zeros((CLASSES, DIM))),
            dl.dlarray(np.zeros(CLASSES)), rng.integers(0, vocabulary, (1, TOKENS)),
            rng.integers(0, CLASSES, TOKENS))
    return len(dl.lower(step, *args).c_source.encode())


def out_of_range_message(vocabulary):
    rng = np.random.default_rng(1)
    words = rng.integers(0, vocabulary, (1, TOKENS))
    words[0, 17] = vocabulary
    args = (dl.dlarray(np.zeros((DIM, vocabulary), order="F")), dl.dlarray(np.zeros((CLASSES, DIM))),
            dl.dlarray(np.zeros(CLASSES)), words, rng.integers(0, CLASSES, TOKENS))
    try:
        dl.dlaccelerate(step)(*args)
    except dl.IndexOutOfRange as exc:
        return str(exc)
    return "MISSED: no error"


def paired(first, second, repeats, calls=200):
    """Seconds per call of first() and second(), timed alternately (`calls` calls each, 5 *
    repeats rounds, the fastest round of each): on a shared machine the two sizes then meet the
    same load, and the fastest round is the one least disturbed."""
    first(), second()   # compile, warm up
    best = [float("inf"), float("inf")]
    for _ in range(5 * repeats):
        for k, fn in enumerate((first, second)):
            best[k] = min(best[k], timeit.timeit(fn, number=calls) / calls)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds per row instead of 15")
    options = parser.parse_args()
    if options.quick:
        SETTINGS.repeats = 1
    rows = []
    for workload, fn, layout, order in (("embed step", step, "dim x words, column-major", "F"),
                                        ("embed, C", step, "dim x words, row-major", "C"),
                                        ("take step", step_rows, "words x dim", "C")):
        small, large = paired(make_step(10_000, fn, order=order), make_step(50_000, fn, order=order),
                              SETTINGS.repeats)
        rows.append(Row(workload, f"10 000 words ({layout})", small, floor=True))
        rows.append(Row(workload, f"50 000 words ({layout})", large, target=("x", 1.1) if order == "F" else None))
    small, large = paired(numpy_lookup(10_000), numpy_lookup(50_000), SETTINGS.repeats)
    rows.append(Row("numpy lookup", "W[:, idx], 10 000 words", small, floor=True))
    rows.append(Row("numpy lookup", "W[:, idx], 50 000 words", large))
    small, large = c_bytes(10_000), c_bytes(50_000)
    rows.append(Row("C size", "10 000 words", small, unit="B", floor=True))
    rows.append(Row("C size", "50 000 words", large, unit="B", target=("x", 1.1)))
    print(f"dlgrad {dl.__version__}, Python {platform.python_version()}, numpy {np.__version__}; "
          f"{platform.machine()}, {os.cpu_count()} CPUs; one thread; fastest of {5 * SETTINGS.repeats} "
          f"alternating rounds of 200 calls; "
          f"embedding {DIM} x vocabulary, {TOKENS} tokens, {CLASSES} classes, SGD, parameters donated")
    print(table(rows))
    print(f"index 50 000 at 50 000 words: {out_of_range_message(50_000)}")


if __name__ == "__main__":
    main()
