"""Property: on random small graphs, compiled C == reference interpreter, and the compiled
gradient == the interpreted gradient == central finite differences (float64).

Each example compiles one C program holding the values and the gradient.
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from dlgrad.graph.autodiff import gradients
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import input_node
from dlgrad.graph.verify import verify
from graph.randgraph import random_graphs
from graph.support import Inputs, assert_close, check_grads, vjp_graph

from .compiled import compile_graph, run

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cotangent_objective(graph):
    """(y, cotangent inputs): y = sum_i sum(u_i * output_i), one input u_i per output."""
    n = len(graph.inputs)
    us = [input_node(n + i, out.shape, out.dtype) for i, out in enumerate(graph.outputs)]
    terms = [R.sum_(E.mul(u, out)) for u, out in zip(us, graph.outputs)]
    y = terms[0]
    for term in terms[1:]:
        y = E.add(y, term)
    return y, us


@SETTINGS
@given(random_graphs())
def test_compiled_matches_interpreter_and_finite_differences(graph):
    y, us = cotangent_objective(graph)
    grads = gradients(y, graph.inputs)
    verify(graph.outputs + grads)
    arrays = graph.arrays()
    rng = np.random.default_rng(graph.seed + 1)
    cotangents = [rng.standard_normal(u.shape) for u in us]
    feed = arrays + cotangents

    n_out = len(graph.outputs)
    fn = compile_graph(graph.outputs + grads, graph.specs + [(u.shape, u.dtype) for u in us])
    compiled = fn(*[np.array(a, dtype=np.float64) for a in feed])
    reference = evaluate(graph.outputs + grads, feed)
    for i, (got, want) in enumerate(zip(compiled, reference)):
        what = f"output {i}" if i < n_out else f"gradient {i - n_out}"
        assert_close(got, want, rtol=1e-8, what=what)  # sums of products reassociate

    def objective(xs):
        return evaluate([y], list(xs) + cotangents)[0]
    ones = np.ones(())
    for vjp in (reference[n_out:], compiled[n_out:]):
        check_grads(objective, arrays, ones, vjp, rng, rtol=1e-5, what="gradient")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3), st.integers(0, 2**32 - 1))
def test_broadcasting_elementwise_and_its_gradient(shapes, seed):
    a_shape, b_shape, c_shape = shapes.input_shapes
    rng = np.random.default_rng(seed)
    inputs = Inputs()
    a, b, c = (inputs.add(rng.uniform(-1, 1, s)) for s in (a_shape, b_shape, c_shape))
    out = E.add(E.where(E.gt(a, b), E.mul(a, b), E.sub(c, a)), E.atan2(E.add(E.mul(b, b), 0.5), c))
    assert out.shape == shapes.result_shape
    u = inputs.add(rng.standard_normal(out.shape))
    grads = vjp_graph(out, [a, b, c], u)
    outputs = [out] + grads
    got, want = run(outputs, inputs), evaluate(outputs, inputs.arrays)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape
        assert_close(g, w, rtol=1e-12, what=f"output {i}")
    a0, b0, c0, u0 = inputs.arrays
    np.testing.assert_allclose(want[0], np.where(a0 > b0, a0 * b0, c0 - a0) + np.arctan2(b0 * b0 + 0.5, c0),
                               rtol=1e-14)
    check_grads(lambda xs: evaluate([out], list(xs) + [u0])[0], [a0, b0, c0], u0, want[1:], rng)
