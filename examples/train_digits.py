"""Train an MLP and a small CNN on the 8x8 handwritten digits with a custom training loop.

    pip install dlgrad[examples]      # scikit-learn (the data); matplotlib (the plot), tqdm (progress bars): optional
    python examples/train_digits.py [--epochs N] [--plot digits.png]

The loop is MATLAB's custom training loop: dlfeval of a loss function that calls forward,
crossentropy and dlgradient, then adamupdate. The first iteration traces and compiles
the loss function and the update; every later one is a native call.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import dlgrad as dl


def load_digits(seed=0):
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        sys.exit("this example needs scikit-learn: pip install dlgrad[examples]")
    digits = sklearn_digits()
    images = (digits.images / 16.0).astype(np.float32)        # (n, 8, 8) in [0, 1]
    order = np.random.default_rng(seed).permutation(len(images))
    split = int(0.8 * len(images))
    train, test = order[:split], order[split:]
    return images[train], digits.target[train], images[test], digits.target[test]


def mlp():
    return [dl.featureInputLayer(64), dl.fullyConnectedLayer(128), dl.reluLayer(),
            dl.fullyConnectedLayer(10), dl.softmaxLayer()]


def cnn():
    return [dl.imageInputLayer((8, 8, 1)),
            dl.convolution2dLayer(3, 16, Padding="same"), dl.batchNormalizationLayer(), dl.reluLayer(),
            dl.maxPooling2dLayer(2, Stride=2),
            dl.convolution2dLayer(3, 32, Padding="same"), dl.batchNormalizationLayer(), dl.reluLayer(),
            dl.flattenLayer(), dl.fullyConnectedLayer(10), dl.softmaxLayer()]


def as_input(images, image_layout):
    """Images (n, 8, 8) as a formatted dlarray: "SSCB" for the CNN, "CB" (64 features) for the MLP."""
    if image_layout:
        return dl.dlarray(images[..., None], "BSSC")            # permuted to (8, 8, 1, n)
    return dl.dlarray(images.reshape(len(images), 64), "BC")     # permuted to (64, n)


def model_loss(net, X, T):
    Y, state = dl.forward(net, X, return_state=True)
    loss = dl.crossentropy(Y, T)
    return loss, dl.dlgradient(loss, net.Learnables), state


def model_predictions(net, X):
    return dl.predict(net, X)


def batches_of(epoch, epochs, count):
    """range(count), shown as a tqdm progress bar for the epoch when tqdm is installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return range(count)
    return tqdm(range(count), desc=f"  epoch {epoch:>2}/{epochs}", unit="batch", leave=False)


def accuracy(net, images, labels, image_layout):
    Y = dl.dlfeval(model_predictions, net, as_input(images, image_layout))
    return float(np.mean(np.argmax(dl.extractdata(Y), axis=0) == labels))


def train(name, layers, data, image_layout, epochs=15, batch=64, learn_rate=0.01, seed=0):
    x_train, y_train, x_test, y_test = data
    net = dl.dlnetwork(layers, seed=seed)
    print(f"{name}: {sum(v.size for v in net.Learnables.Value)} learnable parameters")
    schedule = dl.timeBasedDecay(learn_rate, 0.002)
    rng = np.random.default_rng(seed)
    avg_g = avg_sq = None
    iteration, history = 0, {"loss": [], "accuracy": []}
    batches = len(x_train) // batch            # full batches only: one compiled signature
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x_train))
        bar = batches_of(epoch, epochs, batches)
        for b in bar:
            idx = order[b * batch:(b + 1) * batch]
            X = as_input(x_train[idx], image_layout)
            T = np.eye(10, dtype=np.float32)[:, y_train[idx]]
            iteration += 1
            loss, grads, state = dl.dlfeval(model_loss, net, X, T)
            net.State = state
            net, avg_g, avg_sq = dl.adamupdate(net, grads, avg_g, avg_sq, iteration, schedule(iteration))
            history["loss"].append(float(loss))
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{history['loss'][-1]:.4f}", refresh=False)
        history["accuracy"].append(accuracy(net, x_test, y_test, image_layout))
        print(f"  epoch {epoch:>2}/{epochs}  loss {np.mean(history['loss'][-batches:]):.4f}  "
              f"test accuracy {history['accuracy'][-1]:.3f}")
    elapsed = time.perf_counter() - start
    print(f"{name}: test accuracy {history['accuracy'][-1]:.3f} after {iteration} iterations "
          f"({elapsed:.1f} s including compilation)")
    return net, history


def plot(histories, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, history in histories.items():
        left.plot(history["loss"], label=name, linewidth=0.8)
        right.plot(range(1, len(history["accuracy"]) + 1), history["accuracy"], marker="o", label=name)
    left.set(xlabel="iteration", ylabel="training loss", yscale="log", title="loss")
    right.set(xlabel="epoch", ylabel="test accuracy", title="accuracy")
    left.legend()
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"saved {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--plot", default="train_digits.png")
    args = parser.parse_args(argv)
    data = load_digits()
    histories = {}
    for name, layers, image_layout in (("MLP", mlp(), False), ("CNN", cnn(), True)):
        _, histories[name] = train(name, layers, data, image_layout, epochs=args.epochs)
    if args.plot:
        plot(histories, args.plot)
    return histories


if __name__ == "__main__":
    main()
