"""Reverse mode on the graph: cotangents are graphs, so second derivatives need nothing more."""
from __future__ import annotations

import numpy as np
import pytest

from dlgrad.errors import GradientError
from dlgrad.graph.autodiff import gradients
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import linalg as L
from dlgrad.graph.ops import movement as M
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import input_node

from .support import Inputs, check_grads, directional_fd


def test_hessian_vector_product_matches_finite_differences_of_the_gradient():
    rng = np.random.default_rng(0)
    inputs = Inputs()
    x = inputs.add(rng.uniform(-1, 1, (3, 4)))
    w = inputs.add(rng.uniform(-1, 1, (4, 2)))
    v = inputs.add(rng.standard_normal((3, 4)))
    f = R.sum_(E.mul(E.unary("tanh", L.matmul(x, w)), E.unary("sigmoid", R.reduce("max", x, 1, keepdims=True))))
    (g,) = gradients(f, [x])
    (hv,) = gradients(R.sum_(E.mul(g, v)), [x])
    x0, w0, v0 = inputs.arrays
    (numeric,) = directional_fd(lambda xs: evaluate([g], [xs[0], w0, v0]), [x0], [v0], eps=1e-5)
    (got,) = evaluate([hv], inputs.arrays)
    np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-8)


def test_third_derivative_of_an_elementwise_chain():
    x = input_node(0, (5,), "float64")
    d = x
    for _ in range(3):
        (d,) = gradients(R.sum_(E.unary("sin", d) if d is x else d), [x])
    value = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(evaluate([d], [value])[0], -np.cos(value), rtol=1e-14)


def test_shared_subexpressions_accumulate():
    x = input_node(0, (4,), "float64")
    y = E.mul(x, x)
    (g,) = gradients(R.sum_(E.add(E.add(y, x), E.unary("exp", y))), [x])
    value = np.array([-1.0, 0.0, 0.5, 2.0])
    want = 2 * value + 1 + 2 * value * np.exp(value**2)
    np.testing.assert_allclose(evaluate([g], [value])[0], want, rtol=1e-14)


def test_unrelated_inputs_get_zeros_and_stop_gradient_blocks():
    x = input_node(0, (3,), "float64")
    z = input_node(1, (2, 2), "float32")
    gx, gz = gradients(R.sum_(E.mul(x, E.stop_gradient(x))), [x, z])
    value = np.array([1.0, -2.0, 3.0])
    got_x, got_z = evaluate([gx, gz], [value, np.ones((2, 2), np.float32)])
    np.testing.assert_array_equal(got_x, value)
    assert got_z.shape == (2, 2) and got_z.dtype == np.float32 and not got_z.any()


def test_gradients_with_respect_to_intermediate_nodes():
    x = input_node(0, (3,), "float64")
    h = E.unary("sin", x)
    gh, gx = gradients(R.sum_(E.mul(h, h)), [h, x])
    value = np.array([0.1, 0.2, 0.3])
    got_h, got_x = evaluate([gh, gx], [value])
    np.testing.assert_allclose(got_h, 2 * np.sin(value), rtol=1e-15)
    np.testing.assert_allclose(got_x, 2 * np.sin(value) * np.cos(value), rtol=1e-15)


def test_mixed_dtypes_give_each_input_its_own_dtype():
    inputs = Inputs()
    a = inputs.add(np.array([1.0, 2.0], np.float32))
    b = inputs.add(np.array([[3.0], [4.0]]))
    f = R.sum_(E.mul(a, b))
    ga, gb = gradients(f, [a, b])
    assert (ga.dtype, gb.dtype) == ("float32", "float64")
    got_a, got_b = evaluate([ga, gb], inputs.arrays)
    np.testing.assert_array_equal(got_a, np.array([7.0, 7.0], np.float32))
    np.testing.assert_array_equal(got_b, [[3.0], [3.0]])


def test_broadcasting_is_undone_in_cotangents():
    rng = np.random.default_rng(1)
    inputs = Inputs()
    a = inputs.add(rng.uniform(-1, 1, (3, 1)))
    b = inputs.add(rng.uniform(-1, 1, (4,)))
    c = inputs.add(rng.uniform(-1, 1, ()))
    out = E.mul(E.add(a, b), E.unary("sin", M.broadcast_to(c, (2, 3, 4))))
    u = rng.standard_normal(out.shape)
    grads = gradients(R.sum_(E.mul(out, inputs.add(u))), [a, b, c])
    assert [g.shape for g in grads] == [(3, 1), (4,), ()]
    vjp = evaluate(grads, inputs.arrays)

    def f(xs):
        return evaluate([out], list(xs) + [u])[0]
    check_grads(f, inputs.arrays[:3], u, vjp, rng)


def test_non_scalar_objective_is_an_error():
    x = input_node(0, (3,), "float64")
    with pytest.raises(GradientError, match="non-scalar"):
        gradients(E.unary("sin", x), [x])


def test_single_element_objective_of_any_rank_is_allowed():
    x = input_node(0, (1, 1), "float64")
    (g,) = gradients(E.mul(x, x), [x])
    np.testing.assert_array_equal(evaluate([g], [np.array([[3.0]])])[0], [[6.0]])


def test_interpreter_checks_input_shapes():
    x = input_node(0, (3,), "float64")
    with pytest.raises(ValueError, match="shape"):
        evaluate([E.unary("sin", x)], [np.zeros(4)])
