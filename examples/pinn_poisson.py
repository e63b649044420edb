"""A physics-informed network for the 1-D Poisson problem, trained with adamupdate.

    u''(x) = -pi^2 sin(pi x) on [0, 1],   u(0) = u(1) = 0,   exact solution u = sin(pi x)

    python examples/pinn_poisson.py [--iterations N] [--lbfgs N]

The loss is MATLAB's PINN loss: the mean squared residual of the equation at collocation
points plus the mean squared boundary values. The second derivative comes from
dllaplacian(u, x, 0) (x holds one coordinate, axis 0, for a batch of points, axis 1), and
dlgradient of the loss differentiates through it: a third-order derivative, traced and
compiled once into one native function. Adam draws new collocation points every iteration
(same shape, so no retrace); when scipy is installed, L-BFGS then polishes the solution on
a fixed grid, calling the same compiled loss and gradient.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import dlgrad as dl
from dlgrad import dlarray, dlfeval, dlgradient, dllaplacian, extractdata

BOUNDARY = dlarray(np.array([[0.0, 1.0]]))


def init_params(sizes=(1, 24, 24, 1), seed=0):
    """Glorot-initialised weights and zero biases of a tanh MLP acting on columns."""
    rng = np.random.default_rng(seed)
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        scale = np.sqrt(6.0 / (fan_in + fan_out))
        params[f"W{i}"] = dlarray(rng.uniform(-scale, scale, (fan_out, fan_in)))
        params[f"b{i}"] = dlarray(np.zeros((fan_out, 1)))
    return params


def model(params, x):
    """u(x) for x of shape (1, points): tanh hidden layers, a linear output."""
    layers = len(params) // 2
    h = x
    for i in range(layers):
        h = params[f"W{i}"] @ h + params[f"b{i}"]
        if i < layers - 1:
            h = dl.tanh(h)
    return h


def model_loss(params, x, x_boundary):
    u = model(params, x)
    residual = dllaplacian(u, x, 0) + np.pi ** 2 * dl.sin(np.pi * x)
    loss = dl.mean(residual ** 2) + dl.mean(model(params, x_boundary) ** 2)
    return loss, dlgradient(loss, params)


def train_adam(params, iterations, points, seed=1, report=1000):
    """Adam with the learning rate decaying from 1e-2 to 1e-3; new random points every step."""
    rng = np.random.default_rng(seed)
    average_grad = average_sq_grad = None
    for iteration in range(1, iterations + 1):
        x = dlarray(rng.uniform(0, 1, (1, points)))
        loss, grads = dlfeval(model_loss, params, x, BOUNDARY)
        learn_rate = 1e-2 * 0.1 ** (iteration / iterations)
        params, average_grad, average_sq_grad = dl.adamupdate(
            params, grads, average_grad, average_sq_grad, iteration, learnRate=learn_rate)
        if report and (iteration % report == 0 or iteration == 1):
            print(f"adam   {iteration:5d}  loss {float(extractdata(loss)):.3e}")
    return params


def polish_lbfgs(params, iterations, points):
    """scipy's L-BFGS on a fixed grid of midpoints (skipped without scipy)."""
    try:
        from scipy.optimize import minimize
    except ImportError:
        print("scipy is not installed: no L-BFGS stage")
        return params
    names = sorted(params)
    shapes = [params[k].shape for k in names]
    x = dlarray(((np.arange(points) + 0.5) / points)[None])

    def unflatten(z):
        sizes = np.cumsum([0] + [int(np.prod(s)) for s in shapes])
        return {k: dlarray(z[a:b].reshape(s)) for k, s, a, b in zip(names, shapes, sizes, sizes[1:])}

    def loss_and_grad(z):
        loss, grads = dlfeval(model_loss, unflatten(z), x, BOUNDARY)
        return float(extractdata(loss)), np.concatenate([extractdata(grads[k]).ravel() for k in names])

    start = np.concatenate([extractdata(params[k]).ravel() for k in names])
    result = minimize(loss_and_grad, start, jac=True, method="L-BFGS-B",
                      options={"maxiter": iterations, "ftol": 0.0, "gtol": 1e-12})
    print(f"lbfgs  {result.nit:5d}  loss {result.fun:.3e}")
    return unflatten(result.x)


def max_error(params, points=1001):
    grid = np.linspace(0, 1, points)[None]
    u = extractdata(dlfeval(model, params, dlarray(grid)))
    return float(np.abs(u - np.sin(np.pi * grid)).max())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=4000, help="Adam iterations")
    parser.add_argument("--points", type=int, default=64, help="collocation points per Adam step")
    parser.add_argument("--lbfgs", type=int, default=500, help="L-BFGS iterations (0: none)")
    args = parser.parse_args()

    params = init_params()
    start = time.perf_counter()
    dlfeval(model_loss, params, dlarray(np.zeros((1, args.points))), BOUNDARY)
    print(f"first call (trace + compile, or disk cache): {time.perf_counter() - start:.2f} s; "
          + dl.lower(model_loss, params, dlarray(np.zeros((1, args.points))), BOUNDARY)
          .graph_text.splitlines()[0].lstrip("/ "))

    start = time.perf_counter()
    params = train_adam(params, args.iterations, args.points)
    elapsed = time.perf_counter() - start
    print(f"{args.iterations} Adam iterations in {elapsed:.2f} s "
          f"({1e6 * elapsed / max(args.iterations, 1):.0f} us each); "
          f"max |u - sin(pi x)| = {max_error(params):.2e}")
    if args.lbfgs:
        start = time.perf_counter()
        params = polish_lbfgs(params, args.lbfgs, 256)
        print(f"L-BFGS in {time.perf_counter() - start:.2f} s; max |u - sin(pi x)| = {max_error(params):.2e}")


if __name__ == "__main__":
    main()
