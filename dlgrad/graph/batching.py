"""Replaying a graph with a leading batch axis: B independent copies of what depends on x.

`batch(u, x, size)` rebuilds every node of u's graph that depends on x with a new
leading axis of length `size`, x itself becoming X = broadcast_to(x[None], (size, *x.shape)).
Copy b of the result depends only on X[b], so one reverse sweep from a seed that picks
a different component of u in each copy gives `size` rows of a Jacobian at once
(instead of `size` sweeps). Nodes that do not depend on x are shared, not copied.

Each op carries its rule (`Op.batch`: (node, inputs, batched, size) -> batched node),
filled by its op family from the generic rules here; an op without a rule (or a rule
whose result has an unexpected shape) makes `batch` return None, and the caller takes one
sweep per row instead.
"""
from __future__ import annotations

from .node import toposort
from .registry import OPS, apply


def lead(node, ndim, size):
    """A batched (size, *s) node reshaped to (size, 1, ..., 1, *s) with `ndim` axes after the batch axis."""
    missing = ndim - (node.ndim - 1)
    if missing <= 0:
        return node
    return apply("reshape", node, shape=(size,) + (1,) * missing + node.shape[1:])


def broadcasting(node, inputs, batched, size):
    """Elementwise ops and matmul: batched operands get the output's rank, then broadcasting does the rest."""
    rank = node.ndim
    args = [lead(i, rank, size) if b else i for i, b in zip(inputs, batched)]
    return apply(node.op, *args, **dict(node.attrs))


def shifted_axes(node, inputs, batched, size):
    """Ops with an `axes` attribute (reductions, scans): the same op one axis further in."""
    attrs = dict(node.attrs)
    attrs["axes"] = tuple(a + 1 for a in node.attr("axes"))
    return apply(node.op, inputs[0], **attrs)


def rule_for(name):
    """The batching rule of op `name`, or None."""
    return OPS[name].batch


def batched_input(x, size):
    """X: `size` copies of x along a new leading axis (the node to differentiate the copies by)."""
    one = apply("reshape", x, shape=(1,) + x.shape)
    return one if size == 1 else apply("broadcast_to", one, shape=(size,) + x.shape)


def batch(outputs, x, size):
    """(X, batched outputs) for `size` copies of the graph of outputs in x, or None if some op has no rule.

    An output that does not depend on x is broadcast to its batched shape.
    """
    big = batched_input(x, size)
    memo = {id(x): big}
    for node in toposort(outputs):
        if id(node) in memo or not any(id(i) in memo for i in node.inputs):
            continue
        rule = rule_for(node.op)
        if rule is None:
            return None
        inputs = [memo.get(id(i), i) for i in node.inputs]
        batched = [id(i) in memo for i in node.inputs]
        new = rule(node, inputs, batched, size)
        if new.shape != (size,) + node.shape or new.dtype != node.dtype:
            return None
        memo[id(node)] = new
    results = [memo.get(id(o)) or batched_input(o, size) for o in outputs]
    return big, results
