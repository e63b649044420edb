"""Loop shapes chosen for speed, checked against the reference interpreter: reductions with
several partial sums (every remainder of the lane count), and 1-D loops through slices and
pads split so that only their ends test the bounds."""
from __future__ import annotations

import numpy as np
import pytest

from dlgrad.graph.autodiff import gradients
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import movement as M
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import input_node
from graph.support import assert_close

from .compiled import compile_graph

SIZES = [15, 16, 17, 23, 1000, 1003]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_reductions_with_partial_sums(dtype):
    outputs, specs, arrays = [], [], []
    rng = np.random.default_rng(1)
    for n in SIZES:
        x = input_node(len(specs), (3, n), dtype)
        specs.append(((3, n), dtype))
        arrays.append((rng.uniform(0.9, 1.1, (3, n))).astype(dtype))
        outputs += [R.sum_(E.unary("exp", x)), R.sum_(x, axes=(1,)), R.prod(x, axes=(1,)),
                    R.sum_(E.mul(x, x), axes=(0, 1))]
    got = compile_graph(outputs, specs)(*arrays)
    for i, (g, w) in enumerate(zip(got, evaluate(outputs, arrays))):
        assert_close(g, w, dtype, rtol=1e-13 if dtype == "float64" else 1e-5, what=f"output {i}")


def test_partial_sums_keep_ieee_specials():
    x = input_node(0, (40,), "float64")
    fn = compile_graph([R.sum_(x), R.prod(x)], [((40,), "float64")])
    for special, want_sum, want_prod in [(np.inf, np.inf, np.inf), (np.nan, np.nan, np.nan)]:
        value = np.ones(40)
        value[37] = special    # in the tail after the lanes
        s, p = fn(value)
        np.testing.assert_equal([float(s), float(p)], [want_sum, want_prod])
    value = np.ones(40)
    value[3], value[12] = np.inf, -np.inf
    assert np.isnan(fn(value)[0])


@pytest.mark.parametrize("n", [5, 17, 40, 1001])
def test_loops_through_slices_and_pads(n):
    """The extended Rosenbrock's gradient: slices of x and their adjoint pads in one loop."""
    x = input_node(0, (n,), "float64")
    head, tail = M.slice_(x, [(0, n - 1, 1)]), M.slice_(x, [(1, n, 1)])
    f = R.sum_(E.add(E.mul(100.0, E.power(E.sub(tail, E.power(head, 2.0)), 2.0)), E.power(E.sub(1.0, head), 2.0)))
    (g,) = gradients(f, [x])
    shifted = E.add(M.pad(M.slice_(x, [(2, n, 1)]), (n,), [(0, n - 2, 1)]), x)
    outputs = [f, g, shifted]
    value = np.random.default_rng(n).uniform(-2, 2, n)
    got = compile_graph(outputs, [((n,), "float64")])(value)
    for i, (a, b) in enumerate(zip(got, evaluate(outputs, [value]))):
        assert_close(a, b, "float64", rtol=1e-12, what=f"output {i}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sum_through_a_transposed_view_reads_memory_in_order(dtype):
    """A sum over all axes of a permuted input loops over the input's storage in order (its
    innermost index has stride 1), not one element per cache line."""
    x = input_node(0, (6, 50, 40), dtype)
    outputs = [R.sum_(M.permute(x, (2, 1, 0))), R.sum_(M.permute(x, (1, 0, 2)), axes=(1, 2))]
    fn = compile_graph(outputs, [((6, 50, 40), dtype)])
    kernel = fn.program.source.split("reduce over [40, 50, 6]")[1].split("}\n\n")[0]
    assert "in0[i0];" in kernel, kernel   # one flat pass (it was in0[i0 + 40*i1 + 2000*i2])
    arrays = [np.random.default_rng(2).standard_normal((6, 50, 40)).astype(dtype)]
    for i, (g, w) in enumerate(zip(fn(*arrays), evaluate(outputs, arrays))):
        assert_close(g, w, dtype, rtol=1e-13 if dtype == "float64" else 1e-5, what=f"output {i}")
