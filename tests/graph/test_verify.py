"""`verify` re-derives every shape and dtype: it passes on what the passes build and names
the first node whose record disagrees with its rule."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from dlgrad.graph.autodiff import gradients
from dlgrad.graph.node import Node
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import input_node
from dlgrad.graph.rewrite import simplify
from dlgrad.graph.verify import verify

from .randgraph import random_graphs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs())
def test_verify_passes_on_gradient_and_simplified_graphs(graph):
    assert verify(graph.outputs)
    y = R.sum_(graph.outputs[-1])
    grads = gradients(y, graph.inputs)
    assert verify(grads)
    assert verify(simplify(graph.outputs + grads))
    # second derivatives are graphs too
    second = gradients(R.sum_(E.unary("sin", grads[0])), graph.inputs)
    assert verify(simplify(second))


def test_verify_names_a_node_with_a_wrong_shape():
    x = input_node(0, (3,), "float64")
    bad = Node.make("exp", (x,), (), (4,), "float64")
    with pytest.raises(AssertionError, match=r"exp.*rule gives float64\(3,\)"):
        verify([E.unary("sin", bad)])


def test_verify_names_a_node_with_a_wrong_dtype():
    x = input_node(0, (3,), "float32")
    bad = Node.make("neg", (x,), (), (3,), "float64")
    with pytest.raises(AssertionError, match="neg"):
        verify([bad])


def test_verify_rejects_unknown_ops_and_sources_with_inputs():
    x = input_node(0, (3,), "float64")
    with pytest.raises(AssertionError, match="unknown op"):
        verify([Node.make("frobnicate", (x,), (), (3,), "float64")])
    with pytest.raises(AssertionError, match="source"):
        verify([Node.make("input", (x,), (("index", 1),), (3,), "float64")])
