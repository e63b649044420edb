"""Donated inputs: outputs written over the input they replace, only where that cannot change a
value still to be read. Every case is checked against the reference interpreter on copies."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from dlgrad.frontend.backend import numpy_run
from dlgrad.graph.autodiff import gradients
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import linalg as L
from dlgrad.graph.ops import movement as M
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import input_node
from graph.randgraph import random_graphs
from graph.support import assert_close

from .compiled import compile_graph


def donated_run(outputs, arrays, donate):
    """(compiled function, its results, the arrays it was given) for copies of `arrays`."""
    specs = [(a.shape, a.dtype.name) for a in arrays]
    fn = compile_graph(outputs, specs, donate=tuple(donate))
    given_arrays = [a.copy() for a in arrays]
    return fn, fn(*given_arrays), given_arrays


def check(outputs, arrays, donate, granted, rtol=1e-12):
    want = evaluate(outputs, arrays)
    fn, got, given_arrays = donated_run(outputs, arrays, donate)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_close(g, w, w.dtype.name, rtol=rtol, what=f"output {i}")
    assert fn.program.aliases == tuple(granted)
    for out, inp in granted:
        assert got[out] is given_arrays[inp]          # written in place ...
    for inp, (before, after) in enumerate(zip(arrays, given_arrays)):
        if inp not in {i for _, i in granted}:
            np.testing.assert_array_equal(after, before)  # ... and nothing else was touched
    return fn


def test_elementwise_update_is_in_place():
    x, g = input_node(0, (5, 3), "float64"), input_node(1, (5, 3), "float64")
    rng = np.random.default_rng(0)
    check([E.sub(x, E.mul(g, 0.1))], [rng.standard_normal((5, 3)), rng.standard_normal((5, 3))],
          [(0, 0)], [(0, 0)])


def test_several_outputs_of_one_kernel_replace_their_inputs():
    """Adam's shape: p, m, v read and rewritten by one loop."""
    p, g, m = (input_node(i, (7,), "float64") for i in range(3))
    new_m = E.add(E.mul(m, 0.9), E.mul(g, 0.1))
    new_p = E.sub(p, E.mul(new_m, 0.01))
    arrays = [np.random.default_rng(i).standard_normal(7) for i in range(3)]
    check([new_p, new_m], arrays, [(0, 0), (1, 2)], [(0, 0), (1, 2)])


def test_a_transposed_read_in_the_same_loop_is_refused():
    x = input_node(0, (4, 4), "float64")
    out = E.add(x, M.permute(x, (1, 0)))
    check([out], [np.arange(16.0).reshape(4, 4)], [(0, 0)], [])


def test_a_shifted_read_is_refused():
    x = input_node(0, (6,), "float64")
    out = E.add(x, M.pad(M.slice_(x, ((1, 6, 1),)), (6,), ((0, 5, 1),)))
    check([out], [np.arange(6.0)], [(0, 0)], [])


def test_a_matrix_product_reading_its_own_output_buffer_is_refused():
    x = input_node(0, (3, 3), "float64")
    check([L.matmul(x, x)], [np.arange(9.0).reshape(3, 3) / 7], [(0, 0)], [])


def test_an_input_read_after_the_output_is_written_is_refused():
    x = input_node(0, (5,), "float64")
    first = E.unary("exp", x)
    later = R.sum_(E.mul(x, R.sum_(first)))   # reads x again after exp(x) was stored
    fn = check([first, later], [np.linspace(-1, 1, 5)], [(0, 0)], None or [])
    assert fn.program.aliases == ()


def test_centering_after_a_reduction_is_in_place():
    x = input_node(0, (4, 6), "float64")
    out = E.sub(x, R.sum_(x, axes=(1,), keepdims=True))
    check([out], [np.random.default_rng(3).standard_normal((4, 6))], [(0, 0)], [(0, 0)])


def test_mismatched_or_repeated_pairs_are_dropped():
    x, y = input_node(0, (3,), "float64"), input_node(1, (2,), "float64")
    out = E.mul(x, 2.0)
    check([out, E.mul(y, 3.0)], [np.ones(3), np.ones(2)], [(0, 1), (0, 0), (1, 0), (5, 0)], [(0, 0)])


def test_read_only_and_shared_inputs_are_copied_first():
    x, g = input_node(0, (4,), "float64"), input_node(1, (4,), "float64")
    fn = compile_graph([E.sub(x, g)], [((4,), "float64")] * 2, donate=((0, 0),))
    assert fn.program.aliases == ((0, 0),)
    frozen = np.arange(4.0)
    frozen.flags.writeable = False
    (out,) = fn(frozen, np.ones(4))
    np.testing.assert_array_equal(out, np.arange(4.0) - 1)
    np.testing.assert_array_equal(frozen, np.arange(4.0))
    same = np.arange(4.0)
    (out,) = fn(same, same)              # one array as the donated x and as g
    np.testing.assert_array_equal(out, np.zeros(4))
    np.testing.assert_array_equal(same, np.arange(4.0))
    base = np.arange(8.0)
    (out,) = fn(base[:4], base[2:6])     # overlapping views of one buffer
    np.testing.assert_array_equal(out, np.arange(4.0) - np.arange(2.0, 6.0))
    np.testing.assert_array_equal(base, np.arange(8.0))
    disjoint = np.arange(8.0)
    a = disjoint[:4]
    (out,) = fn(a, disjoint[4:])         # views that do not overlap: still in place
    assert out is a


def test_preallocated_outputs_take_the_input_first():
    x = input_node(0, (3,), "float64")
    fn = compile_graph([E.add(x, 1.0)], [((3,), "float64")], donate=((0, 0),))
    x0, out = np.arange(3.0), np.empty(3)
    assert fn.call_into([x0], [out])[0] is out
    np.testing.assert_array_equal(out, np.arange(3.0) + 1)
    np.testing.assert_array_equal(x0, np.arange(3.0))


def test_the_numpy_backend_never_overwrites():
    """Its donation would need the C backend's ownership check; as a reference it needs no speed."""
    x = input_node(0, (3,), "float64")
    run = numpy_run([E.add(x, 1.0)], [(0, 0)])
    x0 = np.arange(3.0)
    (out,) = run(x0)
    assert out is not x0
    np.testing.assert_array_equal(out, np.arange(3.0) + 1)
    np.testing.assert_array_equal(x0, np.arange(3.0))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(max_outputs=2))
def test_random_gradient_steps_with_donation_match_the_interpreter(graph):
    """The graph's outputs and a step x_i - 0.1 * dy/dx_i per input, each output donated the first
    unclaimed input of its shape (transposes, slices and reductions of it included)."""
    y = R.sum_(graph.outputs[0])
    for out in graph.outputs[1:]:
        y = E.add(y, R.sum_(out))
    steps = [E.sub(x, E.mul(g, 0.1)) for x, g in zip(graph.inputs, gradients(y, graph.inputs))]
    outputs = graph.outputs + steps
    arrays = graph.arrays()
    want = evaluate(outputs, arrays)
    free, pairs = list(range(len(graph.inputs))), []
    for o, out in enumerate(outputs):
        match = next((i for i in free if graph.inputs[i].shape == out.shape), None)
        if match is not None:
            free.remove(match)
            pairs.append((o, match))
    fn, got, _ = donated_run(outputs, arrays, pairs)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_close(g, w, w.dtype.name, rtol=1e-10, what=f"output {i} (aliases {fn.program.aliases})")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unused_donated_input_is_overwritten(dtype):
    x, scratch = input_node(0, (3,), dtype), input_node(1, (3,), dtype)
    fn = compile_graph([E.mul(x, 2.0)], [((3,), dtype)] * 2, donate=((0, 1),))
    del scratch
    assert fn.program.aliases == ((0, 1),)
    s = np.zeros(3, dtype)
    (out,) = fn(np.arange(3, dtype=dtype), s)
    assert out is s
    np.testing.assert_array_equal(s, np.arange(3, dtype=dtype) * 2)
