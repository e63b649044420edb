"""The schedule and the memory plan: reused workspace never clobbers a live value; outputs that
own no kernel (inputs, constants, repeats, views); empty and 0-d arrays; strided pads."""
from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlgrad.codegen.memory import ALIGN, ITEMSIZE, plan_workspace, workspace_report
from dlgrad.graph.autodiff import gradients
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import linalg as L
from dlgrad.graph.ops import movement as M
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import const
from graph.support import Inputs, assert_close, vjp_graph

from .compiled import compile_graph, run


def check_against_interpreter(outputs, inputs, rtol=1e-12):
    got = run(outputs, inputs)
    want = evaluate(outputs, inputs.arrays)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape and g.dtype == w.dtype, (i, g.shape, w.shape, g.dtype, w.dtype)
        assert_close(g, w, w.dtype.name, rtol=rtol, what=f"output {i}")
    return got


# --- the workspace plan on its own -------------------------------------------------------
@st.composite
def lifetimes(draw):
    n = draw(st.integers(1, 12))
    buffers, first, last = [], {}, {}
    for serial in range(n):
        node = SimpleNamespace(size=draw(st.integers(0, 40)), dtype=draw(st.sampled_from(sorted(ITEMSIZE))),
                               serial=serial)
        start = draw(st.integers(0, 10))
        buffers.append(node)
        first[id(node)] = start
        last[id(node)] = start + draw(st.integers(0, 6))
    return buffers, first, last


@settings(max_examples=200, deadline=None)
@given(lifetimes())
def test_plan_never_overlaps_live_buffers(case):
    buffers, first, last = case
    offsets, total = plan_workspace(buffers, first, last)
    spans = {}
    for node in buffers:
        start = offsets[id(node)]
        assert start % ALIGN == 0
        end = start + max(node.size, 1) * ITEMSIZE[node.dtype]
        assert end <= total
        spans[id(node)] = (start, end)
    for a in buffers:
        for b in buffers:
            if a is b:
                continue
            alive_together = first[id(a)] <= last[id(b)] and first[id(b)] <= last[id(a)]
            (a0, a1), (b0, b1) = spans[id(a)], spans[id(b)]
            assert not (alive_together and a0 < b1 and b0 < a1), (a, b, spans)


def test_plan_reuses_memory_of_dead_buffers():
    a, b = SimpleNamespace(size=100, dtype="float64", serial=0), SimpleNamespace(size=50, dtype="float64", serial=1)
    offsets, total = plan_workspace([a, b], {id(a): 0, id(b): 2}, {id(a): 1, id(b): 3})
    assert offsets[id(b)] == offsets[id(a)] and total == 832


@settings(max_examples=200, deadline=None)
@given(lifetimes())
def test_report_peak_is_a_lower_bound_of_the_plan(case):
    buffers, first, last = case
    workspace, peak = workspace_report(buffers, first, last)
    assert workspace == plan_workspace(buffers, first, last)[1]
    assert 0 < peak <= workspace


def test_report_peak_counts_buffers_alive_together():
    a, b, c = (SimpleNamespace(size=100, dtype="float64", serial=0), SimpleNamespace(size=50, dtype="float64", serial=1),
               SimpleNamespace(size=10, dtype="float32", serial=2))
    first, last = {id(a): 0, id(b): 1, id(c): 2}, {id(a): 1, id(b): 3, id(c): 2}
    # kernel 1: a (832 bytes) and b (448); kernel 2: b and c (64)
    assert workspace_report([a, b, c], first, last) == (plan_workspace([a, b, c], first, last)[1], 832 + 448)
    assert workspace_report([], {}, {}) == (0, 0)


# --- workspace reuse in compiled programs ----------------------------------------------------
def intermediates_graph():
    """Chains of reductions and matmuls (each gets workspace), one early value read at the end.

    Returns (outputs, Inputs).
    """
    rng = np.random.default_rng(0)
    inputs = Inputs()
    x = inputs.add(rng.uniform(-1, 1, (6, 5)))
    y = inputs.add(rng.uniform(-1, 1, (5, 7)))
    early = R.sum_(L.matmul(x, y), 0)                       # (7,), alive until the end
    values = []
    t = x
    for i in range(6):
        g = L.matmul(L.swap_last(t), t)                     # square, shrinking
        s = R.reduce(["sum", "max", "prod", "min"][i % 4], E.unary("tanh", g), 1, keepdims=True)
        t = E.mul(M.broadcast_to(s, g.shape), g)
        values.append(R.sum_(t))
        t = M.slice_(t, [(0, t.shape[0], 1), (0, max(t.shape[1] - 1, 1), 1)])
    tail = E.add(R.sum_(t), R.sum_(E.mul(early, early)))
    total = values[0]
    for v in values[1:]:
        total = E.add(total, v)
    return [E.mul(M.broadcast_to(tail, (7,)), early), total], inputs


def test_many_intermediates_of_different_shapes():
    outputs, inputs = intermediates_graph()
    fn = compile_graph(outputs, inputs.specs)
    offsets = re.findall(r"\(ws \+ (\d+)\)", fn.program.source)
    assert len(set(offsets)) < len(offsets), "no workspace block is reused: the test lost its point"
    check_against_interpreter(outputs, inputs, rtol=1e-11)


def test_gradient_graph_with_reused_workspace():
    rng = np.random.default_rng(1)
    inputs = Inputs()
    w1 = inputs.add(rng.uniform(-1, 1, (4, 8)))
    w2 = inputs.add(rng.uniform(-1, 1, (8, 3)))
    x = inputs.add(rng.uniform(-1, 1, (5, 4)))
    h = E.unary("tanh", L.matmul(x, w1))
    z = L.matmul(h, w2)
    loss = R.sum_(E.mul(z, z))
    outputs = [loss] + gradients(loss, [w1, w2, x])
    check_against_interpreter(outputs, inputs, rtol=1e-11)


def test_roots_of_one_shape_that_depend_on_each_other_through_a_reduction():
    """exp(x) and exp(x) * sum(exp(x)) have one shape but cannot share a loop (softmax and its gradient)."""
    rng = np.random.default_rng(6)
    inputs = Inputs()
    x = inputs.add(rng.uniform(-3, 3, (3, 5)))
    u = inputs.add(rng.standard_normal((3, 5)))
    e = E.unary("exp", E.sub(x, R.reduce("max", x, 1, keepdims=True)))
    soft = E.div(e, R.sum_(e, 1, keepdims=True))
    loss = R.sum_(E.mul(u, E.unary("log", soft)))
    outputs = [soft, e, E.mul(x, R.sum_(E.unary("exp", x))), E.unary("exp", x), loss] + gradients(loss, [x])
    check_against_interpreter(outputs, inputs, rtol=1e-12)


def test_views_that_need_memory_of_their_own():
    """Reshapes that merge axes of strided, broadcast, padded or transposed views; matmul and
    gather operands that are not plain memory."""
    rng = np.random.default_rng(8)
    inputs = Inputs()
    x = inputs.add(rng.uniform(-1, 1, (4, 6)))
    views = [M.reshape(M.slice_(x, [(0, 4, 2), (5, -1, -1)]), (12,)),
             M.reshape(M.broadcast_to(M.slice_(x, [(0, 1, 1), (0, 6, 1)]), (3, 6)), (18,)),
             M.reshape(M.pad(x, (6, 6), [(1, 5, 1), (0, 6, 1)]), (36,)),
             M.reshape(M.pad(x, (8, 6), [(0, 8, 2), (0, 6, 1)]), (6, 8)),
             R.sum_(M.reshape(M.permute(E.unary("exp", x), (1, 0)), (3, 8)), 1),
             L.matmul(M.reshape(M.permute(x, (1, 0)), (8, 3)), M.reshape(x, (3, 8))),
             M.gather(M.pad(x, (5, 6), [(1, 5, 1), (0, 6, 1)]), [0, 7, 29, 29]),
             M.reshape(M.slice_(M.reshape(x, (24,)), [(23, -1, -3)]), (2, 4)),
             M.permute(M.reshape(M.permute(x, (1, 0)), (2, 3, 4)), (2, 0, 1))]
    loss = R.sum_(E.mul(views[0], views[0]))
    for i, view in enumerate(views[1:]):
        loss = E.add(loss, R.sum_(E.mul(inputs.add(rng.standard_normal(view.shape)), view)))
    check_against_interpreter(views + [loss] + gradients(loss, [x]), inputs, rtol=1e-12)


# --- outputs that own no kernel ----------------------------------------------------------------
def test_outputs_that_are_inputs_constants_repeats_and_views():
    rng = np.random.default_rng(2)
    inputs = Inputs()
    x = inputs.add(rng.uniform(-1, 1, (3, 4)))
    s = inputs.add(np.array(2.5))
    y = E.unary("exp", x)
    outputs = [x, const(np.arange(6.0).reshape(2, 3), "float64"), const(1.5, "float64"),
               y, y, M.reshape(y, (4, 3)), M.reshape(x, (12,)), M.slice_(x, [(2, -1, -1), (0, 4, 2)]),
               M.permute(x, (1, 0)), M.broadcast_to(s, (2, 2)), s, M.pad(x, (5, 4), [(1, 4, 1), (0, 4, 1)])]
    got = check_against_interpreter(outputs, inputs)
    assert got[3] is not got[4]
    assert all(g.flags.c_contiguous for g in got)


def test_constant_only_program_has_no_inputs():
    outputs = [const(np.array([1.0, -2.0, np.inf]), "float64"), const(3.0, "float32"),
               E.mul(const(np.arange(4.0), "float32"), 2.0)]
    fn = compile_graph(outputs, [])
    got = fn()
    np.testing.assert_array_equal(got[0], [1.0, -2.0, np.inf])
    assert got[1].dtype == np.float32 and got[1] == 3.0
    np.testing.assert_array_equal(got[2], np.arange(4.0, dtype=np.float32) * 2)


# --- empty and 0-d arrays --------------------------------------------------------------------
def test_empty_arrays():
    rng = np.random.default_rng(3)
    inputs = Inputs()
    e = inputs.add(np.zeros((0,)))
    a = inputs.add(np.zeros((3, 0)))
    b = inputs.add(np.zeros((0, 4)))
    x = inputs.add(rng.uniform(-1, 1, (3,)))
    outputs = [E.unary("exp", e), R.sum_(a, 1), R.prod(a, 1, keepdims=True), R.sum_(e),
               L.matmul(a, b), L.matmul(M.permute(b, (1, 0)), b),
               E.add(a, M.reshape(x, (3, 1))), M.reshape(a, (0, 3)), M.permute(a, (1, 0))]
    got = check_against_interpreter(outputs, inputs)
    np.testing.assert_array_equal(got[1], np.zeros(3))
    np.testing.assert_array_equal(got[2], np.ones((3, 1)))
    np.testing.assert_array_equal(got[4], np.zeros((3, 4)))
    np.testing.assert_array_equal(got[5], np.zeros((4, 4)))


def test_empty_constants():
    inputs = Inputs()
    e = inputs.add(np.zeros((0,)))
    check_against_interpreter([E.add(e, const(np.zeros(0), "float64")), const(np.zeros((2, 0)), "float64")], inputs)


def test_empty_array_gradients():
    inputs = Inputs()
    a = inputs.add(np.zeros((3, 0)))
    x = inputs.add(np.array([1.0, 2.0, 3.0]))
    loss = E.add(R.sum_(E.unary("sin", a)), R.sum_(E.mul(x, x)))
    outputs = [loss] + gradients(loss, [a, x])
    got = check_against_interpreter(outputs, inputs)
    assert got[1].shape == (3, 0)
    np.testing.assert_array_equal(got[2], [2.0, 4.0, 6.0])


def test_zero_dimensional_arrays():
    inputs = Inputs()
    s = inputs.add(np.array(0.75))
    t = inputs.add(np.array(-1.25, dtype=np.float32))
    v = inputs.add(np.array([1.0, 2.0, 3.0]))
    product = E.mul(E.unary("sin", s), E.cast(t, "float64"))
    outputs = [product, E.add(v, s), R.sum_(E.mul(v, s)), R.reduce("max", M.reshape(s, (1, 1))),
               E.unary("exp", t), M.reshape(s, (1,)), R.reduce("prod", s, (), keepdims=False)]
    outputs += gradients(R.sum_(E.mul(product, R.sum_(v))), [s, t, v])
    check_against_interpreter(outputs, inputs, rtol=1e-6)


# --- strided pads and concatenation ----------------------------------------------------------
@pytest.mark.parametrize("index", [(0, 10, 2), (1, 10, 3), (9, -1, -2), (8, 2, -3)], ids=str)
def test_strided_pad_is_the_vjp_of_a_strided_slice(index):
    rng = np.random.default_rng(4)
    inputs = Inputs()
    x = inputs.add(rng.uniform(-1, 1, (10, 3)))
    sliced = M.slice_(x, [index, (0, 3, 1)])
    u = inputs.add(rng.standard_normal(sliced.shape))
    (g,) = vjp_graph(sliced, [x], u)
    assert any(n.op == "pad" for n in _nodes([g]))
    (got,) = run([g], inputs)
    want = np.zeros((10, 3))
    start, stop, step = index
    want[slice(start, None if stop < 0 else stop, step)] = inputs.arrays[1]
    np.testing.assert_array_equal(got, want)


def test_concatenate_as_a_sum_of_pads():
    rng = np.random.default_rng(5)
    inputs = Inputs()
    a = inputs.add(rng.uniform(-1, 1, (3, 2)))
    b = inputs.add(rng.uniform(-1, 1, (3, 5)))
    c = inputs.add(rng.uniform(-1, 1, (4, 7)))
    row = E.add(M.pad(a, (3, 7), [(0, 3, 1), (0, 2, 1)]), M.pad(b, (3, 7), [(0, 3, 1), (2, 7, 1)]))
    both = E.add(M.pad(row, (7, 7), [(0, 3, 1), (0, 7, 1)]), M.pad(c, (7, 7), [(3, 7, 1), (0, 7, 1)]))
    u = inputs.add(rng.standard_normal((7, 7)))
    outputs = [both, E.unary("tanh", both)] + vjp_graph(E.unary("sin", both), [a, b, c], u)
    got = check_against_interpreter(outputs, inputs)
    want = np.concatenate([np.concatenate(inputs.arrays[:2], axis=1), inputs.arrays[2]], axis=0)
    np.testing.assert_array_equal(got[0], want)
    grad = inputs.arrays[3] * np.cos(want)
    np.testing.assert_allclose(got[2], grad[:3, :2], rtol=1e-13)
    np.testing.assert_allclose(got[4], grad[3:], rtol=1e-13)


def _nodes(outputs):
    from dlgrad.graph.node import toposort
    return toposort(outputs)
