"""The rule tables and the pass that applies them (graph/patterns.py)."""
from __future__ import annotations

import numpy as np
import pytest

from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.patterns import P, Rule, Rules
from dlgrad.graph.registry import input_node
from dlgrad.graph.rewrite import CANONICAL, simplify


def test_each_rule_is_named_and_reports_when_it_fires():
    x = input_node(0, (3,), "float64")
    fired = []
    assert simplify([E.neg(E.neg(E.mul(x, 1.0)))], fired=fired)[0] is x
    assert sorted(fired) == ["mul_by_one", "neg_neg"]
    assert len({r.name for r in CANONICAL.rules}) == len(CANONICAL.rules)


def test_names_must_be_unique_and_bindings_consistent():
    rule = Rule("square", P("mul", P(name="a"), P(name="a")), lambda node, a: E.unary("abs", a))
    with pytest.raises(ValueError, match="repeat"):
        Rules((rule, rule))
    x, y = input_node(0, (2,), "float64"), input_node(1, (2,), "float64")
    table = Rules((rule,))
    assert table.once(E.mul(x, y)) is None          # a bound twice must be one node
    assert table.once(E.mul(x, x)) is E.unary("abs", x)


def test_a_chain_of_ten_thousand_ops_is_simplified_without_recursion():
    x = input_node(0, (2,), "float64")
    node = x
    for i in range(10_000):
        node = E.mul(E.add(node, 1e-3), 1.0)   # the mul_by_one rule fires at every step
    fired = []
    (got,) = simplify([node], fired=fired)
    assert fired.count("mul_by_one") == 10_000
    value = evaluate([got], [np.array([0.0, 1.0])])[0]
    np.testing.assert_allclose(value, [10.0, 11.0], rtol=1e-9)
