"""The rewrites that carry permutes to where they cancel (graph/transposes.py): the simplified graph
gives the unsimplified graph's numbers bit for bit, and the permutes are gone where they should be."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from dlgrad.graph.interpret import evaluate
from dlgrad.graph.node import toposort
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import movement as M
from dlgrad.graph.ops.take import take, take_add
from dlgrad.graph.registry import apply, const, input_node
from dlgrad.graph.rewrite import simplify

SHAPE = (3, 4, 5)
RNG = np.random.default_rng(11)


def _ops(outputs):
    return [n.op for n in toposort(outputs)]


def _same(outputs, arrays):
    fired = []
    simplified = simplify(outputs, fired=fired)
    for a, b in zip(evaluate(outputs, arrays), evaluate(simplified, arrays)):
        np.testing.assert_array_equal(a, b)
    return simplified, fired


@pytest.mark.parametrize("perm", list(itertools.permutations(range(3)))[1:])   # each but the identity
@pytest.mark.parametrize("index_ndim", [1, 2])
def test_take_of_permute_reads_the_stored_layout(perm, index_ndim):
    x = input_node(0, SHAPE, "float64")
    seen = M.permute(x, perm)
    for axis in range(3):
        n = seen.shape[axis]
        idx_value = RNG.integers(0, n, (4,) if index_ndim == 1 else (2, 3))
        idx = input_node(1, idx_value.shape, "int64")
        out = take(seen, idx, axis, False, "t")
        simplified, fired = _same([out], [RNG.standard_normal(SHAPE), idx_value])
        assert "take_of_permute" in fired
        take_node = [n for n in toposort(simplified) if n.op == "take"][0]
        assert take_node.inputs[0].op == "input"   # the gather reads x itself


@pytest.mark.parametrize("perm", list(itertools.permutations(range(3)))[1:])   # each but the identity
@pytest.mark.parametrize("index_ndim", [1, 2])
def test_permute_of_scatters_moves_into_the_cotangent(perm, index_ndim):
    for axis in range(3):
        size = 6
        idx_value = RNG.integers(0, size, (4,) if index_ndim == 1 else (2, 3))
        g_shape = SHAPE[:axis] + idx_value.shape + SHAPE[axis + 1:]
        g = input_node(0, g_shape, "float64")
        idx = input_node(1, idx_value.shape, "int64")
        base_shape = SHAPE[:axis] + (size,) + SHAPE[axis + 1:]
        base = input_node(2, base_shape, "float64")
        scatter = M.permute(take_add(g, idx, axis, False, size, "s"), perm)
        into = M.permute(apply("index_add", base, g, idx, axis=axis, along=False, what="s"), perm)
        arrays = [RNG.standard_normal(g_shape), idx_value, RNG.standard_normal(base_shape)]
        simplified, fired = _same([scatter, into], arrays)
        assert {"permute_of_take_add", "permute_of_index_add"} <= set(fired)
        assert all(n.inputs[0].op != "take_add" and n.inputs[0].op != "index_add"
                   for n in toposort(simplified) if n.op == "permute")


def test_sgd_update_of_a_transposed_table_becomes_a_row_index_add():
    """permute(permute(T) - 0.1 * take_add(g, idx, axis=1)) -> index_add(T, -(g' * 0.1), idx, axis=0)."""
    T = input_node(0, (7, 3), "float64")
    idx = input_node(1, (5,), "int64")
    g = input_node(2, (3, 5), "float64")
    W = M.permute(T, (1, 0))
    updated = E.sub(W, E.mul(take_add(g, idx, 1, False, 7, "e"), const(0.1, "float64")))
    out = M.permute(updated, (1, 0))
    simplified, _ = _same([out], [RNG.standard_normal((7, 3)), RNG.integers(0, 7, 5), RNG.standard_normal((3, 5))])
    (root,) = simplified
    assert root.op == "index_add" and root.inputs[0] is T and root.attr("axis") == 0
    # a permute over an elementwise op whose operands do not absorb it stays where it is
    a, b = input_node(0, (3, 4), "float64"), input_node(1, (3, 4), "float64")
    kept, fired = _same([M.permute(E.add(a, b), (1, 0))], [RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))])
    assert "permute_of_elementwise" not in fired and _ops(kept).count("permute") == 1
