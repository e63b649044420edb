"""Constants folded into kernel bodies: printed exactly in both dtypes, and combined by sympy
without leaving floating point."""
from __future__ import annotations

import numpy as np
import pytest

from dlgrad.graph.autodiff import gradients
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import const, input_node

from .compiled import compile_graph

CONSTANTS = [0.1, 1 / 3, -np.pi, 1e-300, 5e-324, 1e300, 123456789.123456789, 2.0**53 - 1, 2.0**70,
             -0.0, 3.0, 1e10, 16777217.0, 0.5]
VALUES = np.array([1.0, -0.7, 3.3, 1e-3, 0.0, 7.0])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_constants_are_printed_exactly(dtype):
    """x * c and x + c in C are bit-identical to numpy (one rounding each, exact literals)."""
    x = input_node(0, VALUES.shape, dtype)
    with np.errstate(over="ignore"):    # 1e300 is inf in float32
        outputs = [E.mul(x, c) for c in CONSTANTS] + [E.add(x, c) for c in CONSTANTS]
        outputs += [const(np.array(CONSTANTS), dtype), E.mul(x, const(np.array(CONSTANTS[:6]), dtype))]
    value = VALUES.astype(dtype)
    got = compile_graph(outputs, [(VALUES.shape, dtype)])(value)
    want = evaluate(outputs, [value])
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w, err_msg=f"output {i}")


def test_products_of_large_integer_constants():
    x = input_node(0, (3,), "float64")
    outputs = [E.mul(E.mul(x, 1e10), 1e10), E.mul(E.mul(x, 2.0**40), 2.0**40)]
    value = np.array([1.0, -0.7, 3.3])
    got = compile_graph(outputs, [((3,), "float64")])(value)
    for g, w in zip(got, evaluate(outputs, [value])):
        np.testing.assert_allclose(g, w, rtol=1e-15)


@pytest.mark.xfail(strict=True, reason="sympy's exact algebra is not IEEE: x/x -> 1 (C gives 1 at x = 0, numpy "
                                       "NaN), x - x -> 0 and x + inf -> inf drop NaN and inf inputs")
def test_kernel_algebra_follows_ieee():
    x = input_node(0, (4,), "float64")
    outputs = [E.div(x, x), E.sub(x, x), E.add(x, np.inf)]
    value = np.array([0.0, 1.0, np.nan, -np.inf])
    got = compile_graph(outputs, [((4,), "float64")])(value)
    for i, (g, w) in enumerate(zip(got, evaluate(outputs, [value]))):
        np.testing.assert_array_equal(g, w, err_msg=f"output {i}")


ZOO = pytest.mark.xfail(strict=True, reason="sympy evaluates log(0) to ComplexInfinity, printed as +INFINITY "
                                            "(right for x/0, where zoo*x is IEEE's x/0); numpy's log(0) is -inf")


@pytest.mark.parametrize("build", [pytest.param(lambda x: E.div(x, 0.0), id="x/0"),
                                   pytest.param(lambda x: E.unary("log", E.sub(x, x)), id="log(x-x)", marks=ZOO),
                                   pytest.param(lambda x: gradients(R.prod(E.sub(x, x)), [x])[0],
                                                id="grad-prod(x-x)")])
def test_exact_zeros_in_kernel_bodies(build):
    x = input_node(0, (3,), "float64")
    out = build(x)
    value = np.array([-1.0, 0.0, 2.0])
    (got,) = compile_graph([out], [((3,), "float64")])(value)
    np.testing.assert_array_equal(got, evaluate([out], [value])[0])
