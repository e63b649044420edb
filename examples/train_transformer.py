"""Train a tiny transformer encoder on the 8x8 digits read as sequences (8 steps of 8 pixels).

    pip install dlgrad[examples]
    python examples/train_transformer.py [--epochs N]

The network is a layer graph (MATLAB's layerGraph/addLayers/connectLayers): an embedding of each
row, learned position embeddings, one encoder block (self-attention and a feed-forward net, each
with a residual connection and layer normalisation) and a classifier on the mean over time.
The loop is MATLAB's custom training loop: dlfeval, forward, crossentropy, dlgradient, adamupdate.
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


def encoder(d=32, heads=4, classes=10):
    g = dl.layerGraph([dl.sequenceInputLayer(8), dl.fullyConnectedLayer(d, name="embed"),
                       dl.additionLayer(2, name="addpos"),
                       dl.selfAttentionLayer(heads, d, name="attn"),
                       dl.additionLayer(2, name="res1"), dl.layerNormalizationLayer(name="ln1"),
                       dl.fullyConnectedLayer(2 * d, name="ff1"), dl.reluLayer(name="ffrelu"),
                       dl.fullyConnectedLayer(d, name="ff2"), dl.additionLayer(2, name="res2"),
                       dl.layerNormalizationLayer(name="ln2"), dl.fullyConnectedLayer(classes, name="head")])
    g = dl.addLayers(g, dl.positionEmbeddingLayer(d, 8, name="pos"))
    g = dl.connectLayers(g, "embed", "pos")
    g = dl.connectLayers(g, "pos", "addpos/in2")
    g = dl.connectLayers(g, "addpos", "res1/in2")
    return dl.connectLayers(g, "ln1", "res2/in2")


def as_sequences(images):
    """(n, 8, 8) images as "CBT" sequences: time runs down the rows, the 8 pixels of a row are channels."""
    return dl.dlarray(images, "BTC")


def scores(net, X):
    logits = dl.forward(net, X)                               # (10, n, 8): a score per class and step
    return dl.softmax(dl.dlarray(dl.mean(dl.stripdims(logits), 2), "CB"))


def model_loss(net, X, T):
    loss = dl.crossentropy(scores(net, X), T)
    return loss, dl.dlgradient(loss, net.Learnables)


def accuracy(net, images, labels):
    Y = dl.dlfeval(lambda net, X: dl.softmax(dl.dlarray(dl.mean(dl.stripdims(dl.predict(net, X)), 2), "CB")),
                   net, as_sequences(images))
    return float(np.mean(np.argmax(dl.extractdata(Y), 0) == labels))


def train(epochs=12, batch=64, learn_rate=0.005, seed=0, log=print):
    x_train, y_train, x_test, y_test = load_digits(seed)
    net = dl.dlnetwork(encoder(), seed=seed)
    m = v = None
    it, rng = 0, np.random.default_rng(seed)
    onehot = np.eye(10, dtype=np.float32)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x_train))
        for i in range(0, len(order) - batch + 1, batch):
            idx = order[i:i + batch]
            it += 1
            loss, grad = dl.dlfeval(model_loss, net, as_sequences(x_train[idx]),
                                    dl.dlarray(onehot[y_train[idx]].T, "CB"))
            net, m, v = dl.adamupdate(net, grad, m, v, it, learn_rate)
        log(f"epoch {epoch:>2}/{epochs}  loss {float(dl.extractdata(loss)):.4f}  "
            f"test accuracy {accuracy(net, x_test, y_test):.3f}  ({time.perf_counter() - start:.1f} s)")
    return net, accuracy(net, x_test, y_test)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args(argv)
    _, acc = train(args.epochs)
    print(f"transformer encoder: test accuracy {acc:.3f}")


if __name__ == "__main__":
    main()
