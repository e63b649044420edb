"""Classify the 8x8 digits read as sequences (8 steps of 8 pixels) with MATLAB's lstm function.

    pip install dlgrad[examples]
    python examples/train_lstm.py [--epochs N]

The model is MATLAB's functional style: a struct of learnables, lstm over the rows of each image
(the input projection of all 8 steps is one matrix product; the recurrence is one compiled loop
whose gradient is the reverse loop), fullyconnect on the final hidden state, softmax and
crossentropy; dlfeval, dlgradient and adamupdate in a custom training loop. 15 epochs reach about
0.96 test accuracy in a few seconds after the first compile.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import dlgrad as dl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_digits import load_digits  # noqa: E402  (the same data and split)

HIDDEN = 64


def init_parameters(hidden=HIDDEN, features=8, classes=10, seed=0):
    """MATLAB's initializers: glorot input and output weights, orthogonal recurrent weights,
    unit-forget-gate bias (the forget gate's block of the bias is one)."""
    rng = np.random.default_rng(seed)

    def glorot(rows, cols):
        bound = np.sqrt(6 / (rows + cols))
        return rng.uniform(-bound, bound, (rows, cols)).astype(np.float32)
    q, r = np.linalg.qr(rng.standard_normal((4 * hidden, hidden)))
    bias = np.zeros((4 * hidden, 1), np.float32)
    bias[hidden:2 * hidden] = 1
    return {"lstm": {"InputWeights": dl.dlarray(glorot(4 * hidden, features)),
                     "RecurrentWeights": dl.dlarray((q * np.sign(np.diag(r))).astype(np.float32)),
                     "Bias": dl.dlarray(bias)},
            "fc": {"Weights": dl.dlarray(glorot(classes, hidden)),
                   "Bias": dl.dlarray(np.zeros((classes, 1), np.float32))}}


def model(parameters, X):
    """Class probabilities ("CB") of "CBT" sequences: lstm, its final hidden state, fullyconnect, softmax."""
    p = parameters["lstm"]
    zeros = np.zeros(p["RecurrentWeights"].shape[1], np.float32)
    _, hidden, _ = dl.lstm(X, zeros, zeros, p["InputWeights"], p["RecurrentWeights"], p["Bias"])
    logits = dl.fullyconnect(dl.dlarray(hidden, "CB"), parameters["fc"]["Weights"], parameters["fc"]["Bias"])
    return dl.softmax(logits)


def model_loss(parameters, X, T):
    loss = dl.crossentropy(model(parameters, X), T)
    return loss, dl.dlgradient(loss, parameters)


def as_sequences(images):
    """(n, 8, 8) images as "CBT" sequences: time runs down the rows, the 8 pixels of a row are channels."""
    return dl.dlarray(images, "BTC")


def accuracy(parameters, images, labels):
    Y = dl.dlfeval(model, parameters, as_sequences(images))
    return float(np.mean(np.argmax(dl.extractdata(Y), 0) == labels))


def train(epochs=15, batch=64, learn_rate=0.01, seed=0, log=print):
    x_train, y_train, x_test, y_test = load_digits(seed)
    parameters = init_parameters(seed=seed)
    m = v = None
    it, rng = 0, np.random.default_rng(seed)
    onehot = np.eye(10, dtype=np.float32)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x_train))
        for i in range(0, len(order) - batch + 1, batch):
            idx = order[i:i + batch]
            it += 1
            loss, grad = dl.dlfeval(model_loss, parameters, as_sequences(x_train[idx]),
                                    dl.dlarray(onehot[y_train[idx]].T, "CB"))
            parameters, m, v = dl.adamupdate(parameters, grad, m, v, it, learn_rate)
        log(f"epoch {epoch:>2}/{epochs}  loss {float(dl.extractdata(loss)):.4f}  "
            f"test accuracy {accuracy(parameters, x_test, y_test):.3f}  ({time.perf_counter() - start:.1f} s)")
    return parameters, accuracy(parameters, x_test, y_test)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args(argv)
    _, acc = train(args.epochs)
    print(f"lstm: test accuracy {acc:.3f}")


if __name__ == "__main__":
    main()
