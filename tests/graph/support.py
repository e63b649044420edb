"""Helpers shared by the graph and codegen tests: graph inputs, gradient checks, tolerances."""
from __future__ import annotations

import numpy as np

import dlgrad.graph.ops  # noqa: F401  (registers every op)
from dlgrad.graph.autodiff import gradients
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import input_node

RTOL = {"float64": 1e-12, "float32": 1e-5, "int64": 0}


class Inputs:
    """Allocates `input` nodes with consecutive indices and keeps the arrays fed to them."""

    def __init__(self):
        self.nodes, self.arrays = [], []

    def add(self, array, dtype=None):
        array = np.array(array, dtype=dtype or np.asarray(array).dtype, order="C")
        node = input_node(len(self.nodes), array.shape, array.dtype.name)
        self.nodes.append(node)
        self.arrays.append(array)
        return node

    @property
    def specs(self):
        return [(a.shape, a.dtype.name) for a in self.arrays]


def vjp_graph(out, wrt, u):
    """Nodes of the vector-Jacobian product: d sum(u * out) / d wrt, for each node in wrt."""
    y = R.sum_(E.mul(u, out))
    return gradients(y, wrt)


def assert_close(got, want, dtype="float64", rtol=None, atol=None, what=""):
    """allclose with NaNs matching NaNs, an absolute floor scaled by the reference's magnitude
    (by 1 where the reference is all zeros: terms of order 1 that cancel exactly in one
    summation order leave rounding in another)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    rtol = RTOL[dtype] if rtol is None else rtol
    if atol is None:
        finite = np.abs(want[np.isfinite(want)])
        atol = rtol * (float(finite.max()) if finite.size and finite.max() > 0 else 1.0)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def directional_fd(f, arrays, directions, eps=1e-6):
    """(f(x + eps v) - f(x - eps v)) / 2 eps, in float64."""
    plus = f([a + eps * v for a, v in zip(arrays, directions)])
    minus = f([a - eps * v for a, v in zip(arrays, directions)])
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def check_grads(f, arrays, u, vjp, rng, perturb=None, eps=1e-6, rtol=1e-6, what=""):
    """<u, directional derivative of f along v> == <vjp, v> for a random direction v.

    f(list of arrays) -> output array; vjp: one cotangent per array (what the gradient graph
    gave for cotangent u); perturb: which arrays to move (others are held fixed).
    """
    perturb = perturb if perturb is not None else [True] * len(arrays)
    directions = [rng.standard_normal(np.shape(a)) if p else np.zeros(np.shape(a))
                  for a, p in zip(arrays, perturb)]
    (derivative,) = directional_fd(lambda xs: [np.asarray(f(xs), dtype=np.float64)], arrays, directions, eps)
    numeric = float(np.sum(u * derivative))
    analytic = float(sum(np.sum(g * v) for g, v in zip(vjp, directions)))
    value = np.asarray(f(arrays), dtype=np.float64)
    # rounding in the difference quotient, plus the requested relative accuracy
    scale = 1e-9 * (1 + float(np.sum(np.abs(u * value)))) + 1e-9 * sum(
        float(np.sum(np.abs(g * v))) for g, v in zip(vjp, directions))
    assert abs(numeric - analytic) <= rtol * max(abs(numeric), abs(analytic)) + scale, (
        f"{what}: finite differences give {numeric!r}, the VJP gives {analytic!r}")
