"""Constants folded into kernel bodies are printed exactly in both dtypes, and kernel-body algebra
is IEEE arithmetic: no identity of real numbers (x/x = 1, x - x = 0, 0*x = 0, x + inf = inf,
exp(log x) = x) is applied where 0, -0, Inf or NaN make it false, in values or in gradients."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from dlgrad.graph.autodiff import gradients
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import const, input_node

from graph.randgraph import random_graphs

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


def test_kernel_algebra_follows_ieee():
    x = input_node(0, (4,), "float64")
    outputs = [E.div(x, x), E.sub(x, x), E.add(x, np.inf)]
    value = np.array([0.0, 1.0, np.nan, -np.inf])
    got = compile_graph(outputs, [((4,), "float64")])(value)
    for i, (g, w) in enumerate(zip(got, evaluate(outputs, [value]))):
        np.testing.assert_array_equal(g, w, err_msg=f"output {i}")


@pytest.mark.parametrize("build", [pytest.param(lambda x: E.div(x, 0.0), id="x/0"),
                                   pytest.param(lambda x: E.unary("log", E.sub(x, x)), id="log(x-x)"),
                                   pytest.param(lambda x: gradients(R.prod(E.sub(x, x)), [x])[0],
                                                id="grad-prod(x-x)")])
def test_exact_zeros_in_kernel_bodies(build):
    x = input_node(0, (3,), "float64")
    out = build(x)
    value = np.array([-1.0, 0.0, 2.0])
    (got,) = compile_graph([out], [((3,), "float64")])(value)
    np.testing.assert_array_equal(got, evaluate([out], [value])[0])


# Each of these folded to a wrong number once: sympy's constructors applied real algebra to
# kernel bodies (x/x -> 1, x - x -> 0, 0*x -> 0, x + oo -> oo, log(0) -> zoo, ...) and the graph
# rewriter folded x*0 -> 0 and x + 0 -> x. Zeros, infinities and NaNs must agree to the bit (sign
# included); other values too, except within 2 ulp where a libm function is called (glibc's
# atan2f and numpy's float32 arctan2 differ by an ulp at 1).
SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.0, np.inf, -np.inf, np.nan]
FOLDS = {
    "x/x": lambda x: E.div(x, x),
    "x-x": lambda x: E.sub(x, x),
    "0*x": lambda x: E.mul(0.0, x),
    "x*0": lambda x: E.mul(x, 0.0),
    "x+inf": lambda x: E.add(x, np.inf),
    "x-inf": lambda x: E.sub(x, np.inf),
    "x*inf": lambda x: E.mul(x, np.inf),
    "x+nan": lambda x: E.add(x, np.nan),
    "2x-x": lambda x: E.sub(E.mul(x, 2.0), x),
    "(x+1)-x": lambda x: E.sub(E.add(x, 1.0), x),
    "x*x/x": lambda x: E.div(E.mul(x, x), x),
    "x/-0": lambda x: E.div(x, -0.0),
    "1/(x+0)": lambda x: E.div(1.0, E.add(x, 0.0)),
    "1/(0-x)": lambda x: E.div(1.0, E.sub(0.0, x)),
    "log(x-x)": lambda x: E.unary("log", E.sub(x, x)),
    "log(0*x)": lambda x: E.unary("log", E.mul(0.0, x)),
    "exp(log(x))": lambda x: E.unary("exp", E.unary("log", x)),
    "sqrt(x)^2": lambda x: E.power(E.unary("sqrt", x), 2.0),
    "x^0.5": lambda x: E.power(x, 0.5),
    "sin(asin(x))": lambda x: E.unary("sin", E.unary("asin", x)),
    "atan2(x,x)": lambda x: E.atan2(x, x),
}
GRADIENTS = ["x/x", "x-x", "0*x", "x*inf", "2x-x", "x*x/x", "log(x-x)", "exp(log(x))", "sqrt(x)^2",
             "atan2(x,x)"]


def _assert_same_numbers(got, want, what):
    special = ~np.isfinite(want) | (want == 0)
    np.testing.assert_array_equal(got[special], want[special], err_msg=what)
    np.testing.assert_array_equal(np.signbit(got[special & ~np.isnan(want)]),
                                  np.signbit(want[special & ~np.isnan(want)]), err_msg=f"{what}: sign")
    libm = any(f in what for f in ("log", "exp", "sin", "atan2"))
    np.testing.assert_array_max_ulp(got[~special], want[~special], maxulp=2 if libm else 0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_no_fold_that_ieee_arithmetic_does_not_make(dtype):
    """Values, and gradients (d sum(f) / dx: partial derivatives from sympy.diff)."""
    x = input_node(0, (len(SPECIAL),), dtype)
    names = list(FOLDS) + [f"d {name}" for name in GRADIENTS]
    with np.errstate(all="ignore"):
        outputs = [FOLDS[name](x) for name in FOLDS]
        outputs += [gradients(R.sum_(FOLDS[name](x)), [x])[0] for name in GRADIENTS]
    value = np.array(SPECIAL, dtype=dtype)
    got = compile_graph(outputs, [(value.shape, dtype)])(value)
    for name, g, w in zip(names, got, evaluate(outputs, [value])):
        assert g.dtype == w.dtype == dtype
        _assert_same_numbers(g, w, name)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs())
def test_random_graphs_agree_on_zeros_infs_and_nans(graph):
    """Values and gradients of random graphs at inputs drawn from 0, -0, +-1, 0.5, +-Inf, NaN:
    the compiled C is NaN, +Inf or -Inf exactly where the interpreter is (sums reassociate, so
    finite values are not compared here)."""
    y = R.sum_(graph.outputs[0])
    for out in graph.outputs[1:]:
        y = E.add(y, R.sum_(E.unary("sin", out)))
    outputs = graph.outputs + gradients(y, graph.inputs)
    rng = np.random.default_rng(graph.seed)
    values = np.array([0.0, -0.0, 1.0, -1.0, 0.5, np.inf, -np.inf, np.nan])
    arrays = [rng.choice(values, size=x.shape) for x in graph.inputs]
    with np.errstate(all="ignore"):
        want = evaluate(outputs, arrays)
    got = compile_graph(outputs, graph.specs)(*arrays)
    for i, (g, w) in enumerate(zip(got, want)):
        for test in (np.isnan, np.isposinf, np.isneginf):
            np.testing.assert_array_equal(test(g), test(w), err_msg=f"output {i}: {test.__name__}")


def test_sign_of_negative_zero_is_positive_zero_as_in_numpy():
    x = input_node(0, (4,), "float64")
    out = E.unary("sign", x)
    value = np.array([-0.0, 0.0, np.nan, -2.0])
    (got,) = compile_graph([out], [((4,), "float64")])(value)
    want = evaluate([out], [value])[0]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
