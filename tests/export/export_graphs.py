"""Graphs for the export tests, built with the graph builders: (outputs, input specs, names, examples)."""
from dataclasses import dataclass

import numpy as np

from dlgrad.graph.autodiff import gradients
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import linalg as L
from dlgrad.graph.ops import movement as M
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import const, input_node


@dataclass
class Case:
    outputs: list
    inputs: list          # ((shape, dtype), ...)
    input_names: list
    output_names: list
    examples: list        # numpy arrays, one per input


def _inputs(specs):
    return [input_node(i, shape, dtype) for i, (shape, dtype) in enumerate(specs)]


def rosenbrock():
    """y = 100 (x1 - x0^2)^2 + (1 - x0)^2 and dy/dx: 104 and [396, 200] at [-1, 2]."""
    specs = [((2,), "float64")]
    (x,) = _inputs(specs)
    x0 = M.reshape(M.slice_(x, ((0, 1, 1),)), ())
    x1 = M.reshape(M.slice_(x, ((1, 2, 1),)), ())
    y = E.add(E.mul(100, E.power(E.sub(x1, E.power(x0, 2)), 2)), E.power(E.sub(1, x0), 2))
    return Case([y, *gradients(y, [x])], specs, ["x"], ["y", "dydx"], [np.array([-1.0, 2.0])])


def mlp(batch=8, features=5, hidden=16, classes=3):
    """Cross-entropy of a one-hidden-layer relu network in float32, and its parameter gradients."""
    f = "float32"
    specs = [((batch, features), f), ((features, hidden), f), ((hidden,), f),
             ((hidden, classes), f), ((classes,), f), ((batch, classes), f)]
    X, W1, b1, W2, b2, T = _inputs(specs)
    h = E.unary("relu", E.add(L.matmul(X, W1), b1))
    z = E.add(L.matmul(h, W2), b2)
    top = E.stop_gradient(R.reduce("max", z, axes=1, keepdims=True))
    lse = E.add(E.unary("log", R.sum_(E.unary("exp", E.sub(z, top)), axes=1, keepdims=True)), top)
    loss = E.div(R.sum_(E.mul(T, E.sub(lse, z))), float(batch))
    rng = np.random.default_rng(1)
    labels = np.eye(classes, dtype=f)[rng.integers(0, classes, batch)]
    examples = [rng.standard_normal(s).astype(f) for s, _ in specs[:-1]] + [labels]
    return Case([loss, *gradients(loss, [W1, b1, W2, b2])], specs,
                ["X", "W1", "b1", "W2", "b2", "T"], ["loss", "dW1", "db1", "dW2", "db2"], examples)


def several():
    """Three inputs of both dtypes and every rank, five outputs including a copy of an input."""
    specs = [((3,), "float64"), ((2, 3), "float64"), ((), "float64"), ((4,), "float32")]
    a, b, s, v = _inputs(specs)
    u = E.add(E.mul(a, b), s)                                    # (2, 3)
    total = R.sum_(E.unary("sin", E.mul(b, E.unary("sigmoid", u))))
    weights = const(np.array([0.5, -1.0, 2.0, 0.25]), "float32")
    w = R.sum_(E.mul(M.gather(v, np.array([3, 0, 1, 1])), weights))  # constant table, index table
    grads = gradients(total, [a, b, s])
    examples = [np.array([0.5, -1.0, 2.0]), np.arange(6.0).reshape(2, 3) / 5 - 0.3,
                np.array(0.7), np.array([1.0, -2.0, 3.0, 0.5], np.float32)]
    return Case([u, total, *grads, w, v], specs, ["a", "b", "s", "v"],
                ["u", "total", "da", "db", "ds", "w", "v_copy"], examples)


def pair():
    """Two different functions with constant and index tables and helpers, for linking together."""
    specs = [((4,), "float64")]
    (x,) = _inputs(specs)
    table = const(np.array([1.0, 2.0, 3.0, 4.0]), "float64")
    first = R.sum_(E.mul(E.unary("relu", x), table))
    second = M.gather(E.unary("softplus", E.mul(x, table)), np.array([2, 2, 0]))
    example = [np.array([0.5, -1.0, 2.0, -0.25])]
    return (Case([first, *gradients(first, [x])], specs, ["x"], ["f", "df"], example),
            Case([second], specs, ["x"], ["g"], example))
