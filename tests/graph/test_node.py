"""The node type: interning, immutability, constants as attributes, the one-line-per-node printer."""
from __future__ import annotations

import re

import numpy as np
import pytest

from dlgrad.errors import ShapeError
from dlgrad.graph.node import Const, Node, pretty, toposort
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import movement as M
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import apply, const, input_node


def test_same_subexpression_twice_is_the_same_node():
    x = input_node(0, (3, 4), "float64")
    y = input_node(1, (4,), "float64")
    first = E.mul(E.unary("sin", x), y)
    second = E.mul(E.unary("sin", x), y)
    assert first is second
    assert input_node(0, (3, 4), "float64") is x
    assert R.sum_(first, 1, keepdims=True) is R.sum_(second, (1,), keepdims=True)
    assert M.slice_(x, [(0, 3, 2), (3, -1, -1)]) is M.slice_(x, ((0, 3, 2), (3, -1, -1)))
    assert E.add(x, 2.0) is E.add(x, 2.0)


def test_different_ops_attributes_or_dtypes_give_different_nodes():
    x = input_node(0, (3, 4), "float64")
    assert E.add(x, 1.0) is not E.sub(x, 1.0)
    assert R.sum_(x, 0) is not R.sum_(x, 1)
    assert R.sum_(x, 0) is not R.sum_(x, 0, keepdims=True)
    assert input_node(0, (3, 4), "float32") is not x
    assert input_node(1, (3, 4), "float64") is not x
    assert const(1.0, "float64") is not const(1.0, "float32")
    assert const([1.0, 2.0], "float64") is not const([1.0, 3.0], "float64")


def test_attribute_order_does_not_matter():
    x = input_node(0, (2, 3), "float64")
    a = apply("pad", x, shape=(4, 3), index=((1, 3, 1), (0, 3, 1)))
    b = apply("pad", x, index=((1, 3, 1), (0, 3, 1)), shape=(4, 3))
    assert a is b


def test_constants_are_compared_by_value():
    big = np.linspace(0, 1, 100)
    assert const(big, "float64") is const(big.copy(), "float64")
    assert Const(np.arange(3.0)) == Const([0.0, 1.0, 2.0])
    assert Const(np.arange(3.0)) != Const(np.arange(3.0).astype(np.float32))
    assert hash(Const(big)) == hash(Const(big.copy()))
    value = const(big, "float64").attr("value").array
    assert not value.flags.writeable


def test_nodes_are_immutable():
    x = input_node(0, (2,), "float64")
    with pytest.raises(AttributeError):
        x.op = "const"
    with pytest.raises(AttributeError):
        x.shape = (3,)


def test_shape_rules_reject_bad_arguments():
    x = input_node(0, (2, 3), "float64")
    with pytest.raises(ShapeError):
        E.add(x, input_node(1, (4,), "float64"))
    with pytest.raises(ShapeError):
        M.reshape(x, (4, 2))
    with pytest.raises(ShapeError):
        apply("matmul", x, x)
    with pytest.raises(ShapeError):
        M.permute(x, (0, 0))
    with pytest.raises(ShapeError):
        R.sum_(x, 2)


def test_toposort_is_deterministic_and_inputs_first():
    x = input_node(0, (3,), "float64")
    y = input_node(1, (3,), "float64")
    out = E.add(E.mul(x, y), E.unary("exp", E.mul(x, y)))
    order = toposort([out])
    assert order == toposort([out])
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        assert all(position[id(c)] < position[id(node)] for c in node.inputs)
    assert len(order) == len({id(n) for n in order}) == 5


LINE = re.compile(r"^%\d+ = [a-z_0-9]+( %\d+)*( [a-z_]+=\S+)* : float(64|32)\[[0-9,]*\]$")


def test_pretty_prints_one_line_per_node():
    x = input_node(0, (3, 4), "float64")
    y = input_node(1, (4,), "float64")
    s = R.sum_(E.mul(x, y), 1)
    text = pretty([s, x])
    assert text.splitlines() == [
        "%0 = input index=0 : float64[3,4]",
        "%1 = input index=1 : float64[4]",
        "%2 = mul %0 %1 : float64[3,4]",
        "%3 = sum %2 axes=(1,) keepdims=False : float64[3]",
        "return %3, %0",
    ]


def test_pretty_lines_have_the_documented_form():
    x = input_node(0, (6,), "float32")
    graph = [M.pad(M.slice_(E.unary("tanh", x), [(5, -1, -2)]), (7,), [(0, 7, 3)]),
             apply("matmul", M.reshape(x, (2, 3)), M.reshape(x, (3, 2))), const(2.5, "float32"),
             M.gather(x, [1, 1, 4])]
    lines = pretty(graph).splitlines()
    assert len(lines) == len(toposort(graph)) + 1
    for line in lines[:-1]:
        assert LINE.match(line), line
    assert lines[-1].startswith("return %")


def test_node_repr_names_op_dtype_and_shape():
    x = input_node(0, (2, 5), "float32")
    assert re.fullmatch(r"<Node input float32\[2, 5\] #\d+>", repr(x))
    assert isinstance(x, Node) and x.size == 10 and x.ndim == 2
