"""The blog's two-learnable loop: y = (x2 - x1^2)^2 + (1 - x1)^2 from x1 = x2 = 2, and its figures.

    python examples/blog_descent.py [--iterations N] [--plot blog_descent.png]

Gradient descent with a constant learning rate (0.1, then 0.2), then with time-based decay
lr0 / (1 + decay * iteration), as in "Key terms in custom training loops". It prints where each
run ends and, when matplotlib is installed (pip install dlgrad[examples]), draws the blog's
figures in one PNG: the three trajectories over the function's contours, the learning rate over
the iterations, and the gradient (dlgradient) as a quiver plot. The PNG goes to --plot, or to
$DLGRAD_EXAMPLE_OUTPUT when that is set; --plot "" draws nothing.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

from dlgrad import dlarray, dlfeval, dlgradient, extractdata
from dlgrad import sum as dlsum

RUNS = (("learn rate 0.1", 0.1, 0.0), ("learn rate 0.2", 0.2, 0.0),
        ("time-based decay 0.2/(1 + 0.01 it)", 0.2, 0.01))


def my_loss(x1, x2):
    y = (x2 - x1 ** 2) ** 2 + (1 - x1) ** 2
    dydx1, dydx2 = dlgradient(y, x1, x2)
    return y, dydx1, dydx2


def train(learn_rate, decay=0.0, iterations=100):
    """The blog's loop; returns the path (iterations + 1 points), the learning rates and the last loss."""
    x1, x2 = dlarray(2.0), dlarray(2.0)
    path, rates = [(2.0, 2.0)], []
    for iteration in range(iterations):
        lr = learn_rate / (1 + decay * iteration)
        loss, dydx1, dydx2 = dlfeval(my_loss, x1, x2)
        x1, x2 = x1 - lr * dydx1, x2 - lr * dydx2
        path.append((float(extractdata(x1)), float(extractdata(x2))))
        rates.append(lr)
    return np.array(path), np.array(rates), float(extractdata(loss))


def grid_loss(x1, x2):
    """The loss at every point of a grid at once: summed, its gradient is each point's gradient."""
    y = (x2 - x1 ** 2) ** 2 + (1 - x1) ** 2
    dydx1, dydx2 = dlgradient(dlsum(y), x1, x2)
    return y, dydx1, dydx2


def quiver_field(lo=0.0, hi=2.0, count=10):
    """Grid points and the gradient there (the dlfeval documentation's 10 x 10 grid over [0, 2]^2),
    from one dlfeval over the whole grid."""
    X1, X2 = np.meshgrid(np.linspace(lo, hi, count), np.linspace(lo, hi, count))
    _, g1, g2 = dlfeval(grid_loss, dlarray(X1), dlarray(X2))
    return X1, X2, extractdata(g1), extractdata(g2)


def contours(axes, lo, hi):
    X1, X2 = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    Y = (X2 - X1 ** 2) ** 2 + (1 - X1) ** 2
    axes.contour(X1, X2, Y, levels=np.logspace(-2, 2, 17), colors="0.78", linewidths=0.7)


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figures (pip install dlgrad[examples])")
        return None
    fig, (paths, rates, arrows) = plt.subplots(1, 3, figsize=(17, 6.2), gridspec_kw={"width_ratios": [1.25, 1, 1]})
    points = np.concatenate([trajectory for _, trajectory, _, _ in results])
    lo, hi = points.min(axis=0) - 0.2, points.max(axis=0) + 0.2
    contours(paths, lo, hi)
    styles = (("tab:blue", "x", "-", 1.2), ("tab:red", "o", "--", 1.0), ("tab:green", "^", "-", 1.6))
    for (label, trajectory, _, loss), (color, marker, line, width) in zip(results, styles):
        paths.plot(trajectory[:, 0], trajectory[:, 1], line, color=color, marker=marker, markersize=4,
                   linewidth=width, alpha=0.85, label=f"{label}: final loss {loss:.2g}")
    paths.plot(2, 2, "ks", markersize=7, label="start (2, 2)")
    paths.plot(1, 1, "k*", markersize=14, label="minimum (1, 1)")
    paths.set(xlabel="x1", ylabel="x2", xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]),
              title=f"Training: {len(results[0][2])} iterations of gradient descent")
    paths.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    zoom = paths.inset_axes([0.02, 0.02, 0.36, 0.36])   # the last iterations, near the minimum
    contours(zoom, (0.6, 0.6), (1.3, 1.6))
    for (_, trajectory, _, _), (color, marker, line, width) in zip(results, styles):
        zoom.plot(trajectory[:, 0], trajectory[:, 1], line, color=color, marker=marker, markersize=3,
                  linewidth=width * 0.8, alpha=0.85)
    zoom.plot(1, 1, "k*", markersize=10)
    zoom.set(xlim=(0.6, 1.3), ylim=(0.6, 1.6), xticks=[], yticks=[])
    zoom.set_title("near (1, 1)", fontsize=8)
    paths.indicate_inset_zoom(zoom, edgecolor="0.4")
    for (label, _, lr, _), (color, _, line, width) in zip(results, styles):
        rates.plot(np.arange(1, len(lr) + 1), lr, line, color=color, linewidth=width + 0.6, label=label)
    rates.set(xlabel="iteration", ylabel="learning rate", ylim=(0, 0.22), title="Learning rate over the iterations")
    rates.legend(fontsize=8, loc="lower left")
    G1, G2, d1, d2 = quiver_field()
    contours(arrows, (-0.1, -0.1), (2.1, 2.1))
    arrows.quiver(G1, G2, d1, d2, color="tab:blue", angles="xy", width=0.004)
    arrows.plot(1, 1, "k*", markersize=14)
    arrows.set(xlabel="x1", ylabel="x2", xlim=(-0.1, 2.1), ylim=(-0.1, 2.1),
               title="The gradient (dlgradient) over a grid")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"saved {path}")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--plot", default=os.environ.get("DLGRAD_EXAMPLE_OUTPUT", "blog_descent.png"))
    args = parser.parse_args(argv)
    results = []
    for label, learn_rate, decay in RUNS:
        trajectory, rates, loss = train(learn_rate, decay, args.iterations)
        x1, x2 = trajectory[-1]
        print(f"{label:36s} x1 = {x1:.4f}  x2 = {x2:.4f}  loss = {loss:.3g}")
        results.append((label, trajectory, rates, loss))
    if args.plot:
        plot(results, args.plot)
    return results


if __name__ == "__main__":
    main()
