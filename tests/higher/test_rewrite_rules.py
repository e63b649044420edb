"""The rewrite rules that keep adjoints of adjoints small: scalar operands and constant factors."""
from __future__ import annotations

import numpy as np

import dlgrad as dl
from dlgrad import dlarray, dlgradient
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.node import toposort
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops.linalg import matmul
from dlgrad.graph.ops import movement as M
from dlgrad.graph.registry import const, input_node
from dlgrad.graph.rewrite import simplify

RNG = np.random.default_rng(5)


def x_node(shape=(3, 4), dtype="float64"):
    return input_node(0, shape, dtype)


def same_values(before, after, shape=(3, 4), dtype="float64"):
    value = RNG.standard_normal(shape).astype(dtype)
    np.testing.assert_array_equal(evaluate([after], [value])[0], evaluate([before], [value])[0])


def test_broadcast_numbers_become_scalar_operands():
    x = x_node()
    ones = M.broadcast_to(const(np.ones((1, 1)), "float64"), (3, 4))
    assert simplify([E.mul(x, ones)])[0] is x
    assert simplify([E.sub(x, M.broadcast_to(const(0.0, "float64"), (3, 4)))])[0] is x
    scaled = E.mul(x, const(np.array([100.0]), "float64"))          # a 1-element array operand
    (got,) = simplify([scaled])
    assert got is E.mul(x, const(100.0, "float64"))
    same_values(scaled, got)
    spread = M.broadcast_to(const(np.array([[2.0]]), "float64"), (3, 4))
    assert simplify([spread])[0] is M.broadcast_to(const(2.0, "float64"), (3, 4))


def test_scalar_operands_keep_the_shape_when_the_other_operand_is_smaller():
    row = input_node(0, (4,), "float32")
    twos = M.broadcast_to(const(2.0, "float32"), (3, 4))
    node = E.mul(row, twos)
    (got,) = simplify([node])
    assert got.shape == (3, 4) and got.dtype == "float32"
    same_values(node, got, (4,), "float32")


def test_power_of_two_factors_merge_exactly():
    x = x_node()
    node = E.mul(E.mul(x, 100.0), 2.0)
    (got,) = simplify([node])
    assert got is E.mul(x, const(200.0, "float64"))
    same_values(node, got)
    assert simplify([E.neg(E.mul(x, 3.0))])[0] is E.mul(x, const(-3.0, "float64"))
    assert simplify([E.mul(E.neg(x), 3.0)])[0] is E.mul(x, const(-3.0, "float64"))


def test_other_factors_stay_apart():
    # (x * 0.1) * 3 rounds differently from x * 0.3: no merge
    x = x_node()
    node = E.mul(E.mul(x, 0.1), 3.0)
    (got,) = simplify([node])
    assert [n.op for n in toposort([got])].count("mul") == 2
    same_values(node, got)


def _counts(fn, *args):
    first = dl.lower(fn, *args).graph_text.splitlines()[0]
    numbers = [int(w) for w in first.split() if w.isdigit()]
    return numbers[0], numbers[1]


def test_second_order_graphs_stay_compact():
    def rosenbrock(x):
        return dl.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    def hvp(x, v):
        g = dlgradient(rosenbrock(x), x, enable_higher_derivatives=True)
        return dlgradient(dl.sum(g * v), x)

    def second(x):
        g = dlgradient(dl.sum(x ** 3), x, enable_higher_derivatives=True)
        return dlgradient(dl.sum(g), x)

    before, after = _counts(hvp, dlarray(np.zeros(1000)), dlarray(np.zeros(1000)))
    assert after <= 30 and after < before
    assert _counts(second, dlarray(2.0))[1] <= 3      # 3 * (2 * x): the input, one constant, one mul


def test_matmul_by_a_spread_number_is_a_reduction():
    a = input_node(0, (3, 4), "float64")
    ones = M.broadcast_to(const(1.0, "float64"), (4, 5))
    threes = M.broadcast_to(const(3.0, "float64"), (2, 3))
    for node, value_shape in ((matmul(a, ones), (3, 4)), (matmul(threes, a), (3, 4))):
        (got,) = simplify([node])
        assert "matmul" not in {n.op for n in toposort([got])}
        value = RNG.standard_normal(value_shape)
        np.testing.assert_allclose(evaluate([got], [value])[0], evaluate([node], [value])[0], rtol=1e-14)
    column = input_node(0, (3, 1), "float32")
    node = matmul(column, M.broadcast_to(const(1.0, "float64"), (1, 6)))   # k == 1: a broadcast
    (got,) = simplify([node])
    assert got.dtype == "float64" and {n.op for n in toposort([got])} == {"input", "cast", "broadcast_to"}


def test_permutes_that_only_move_unit_axes_are_reshapes():
    x = input_node(0, (3, 1, 4), "float64")
    assert simplify([M.permute(x, (1, 0, 2))])[0] is M.reshape(x, (1, 3, 4))
    assert simplify([M.permute(x, (2, 1, 0))])[0].op == "permute"
