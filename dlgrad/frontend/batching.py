"""Replaying a graph with a leading batch axis: B independent copies of what depends on x.

`batch(u, x, size)` rebuilds every node of u's graph that depends on x with a new
leading axis of length `size`, x itself becoming X = broadcast_to(x[None], (size, *x.shape)).
Copy b of the result depends only on X[b], so one reverse sweep from a seed that picks
a different component of u in each copy gives `size` rows of a Jacobian at once
(instead of `size` sweeps). Nodes that do not depend on x are shared, not copied.

Each rule maps a node whose inputs are partly batched to its batched form; an op
without a rule (or a rule whose result has an unexpected shape) makes `batch` return
None, and the caller takes one sweep per row instead.
"""
from __future__ import annotations

import numpy as np

from ..graph.node import Const, toposort
from ..graph.registry import (ELEMENTWISE, MATMUL, OPS, REDUCE, apply)
from ..graph.ops import movement as M


def _lead(node, ndim, size):
    """A batched (size, *s) node reshaped to (size, 1, ..., 1, *s) with `ndim` axes after the batch axis."""
    missing = ndim - (node.ndim - 1)
    if missing <= 0:
        return node
    return M.reshape(node, (size,) + (1,) * missing + node.shape[1:])


def _broadcasting(node, inputs, batched, size):
    """Elementwise ops and matmul: batched operands get the output's rank, then broadcasting does the rest."""
    rank = node.ndim
    args = [_lead(i, rank, size) if b else i for i, b in zip(inputs, batched)]
    return apply(node.op, *args, **dict(node.attrs))


def _reduce(node, inputs, batched, size):
    return apply(node.op, inputs[0], axes=tuple(a + 1 for a in node.attr("axes")),
                 keepdims=node.attr("keepdims"))


def _batch_index(index, size):
    return ((0, size, 1),) + tuple(index)


def _flat_positions(indices: Const, size: int, stride: int) -> Const:
    """Flat positions of gather/scatter repeated for each copy, offset by `stride` elements each."""
    base = indices.array
    offsets = np.arange(size, dtype=np.int64).reshape((size,) + (1,) * base.ndim) * stride
    return Const(np.ascontiguousarray(base[None] + offsets, dtype=np.int64))


def _gather(node, inputs, batched, size):
    x = inputs[0]
    return apply("gather", x, indices=_flat_positions(node.attr("indices"), size, x.size // size))


def _scatter(node, inputs, batched, size):
    shape = node.attr("shape")
    stride = int(np.prod(shape, dtype=np.int64))
    return apply("scatter", inputs[0], indices=_flat_positions(node.attr("indices"), size, stride),
                 shape=(size,) + tuple(shape))


_BY_NAME = {
    "reshape": lambda node, ins, b, size: apply("reshape", ins[0], shape=(size,) + node.attr("shape")),
    "permute": lambda node, ins, b, size: apply(
        "permute", ins[0], axes=(0,) + tuple(a + 1 for a in node.attr("axes"))),
    "broadcast_to": lambda node, ins, b, size: apply(
        "broadcast_to", _lead(ins[0], node.ndim, size), shape=(size,) + node.attr("shape")),
    "slice": lambda node, ins, b, size: apply("slice", ins[0], index=_batch_index(node.attr("index"), size)),
    "pad": lambda node, ins, b, size: apply("pad", ins[0], shape=(size,) + node.attr("shape"),
                                            index=_batch_index(node.attr("index"), size)),
    "gather": _gather,
    "scatter": _scatter,
}
_BY_KIND = {ELEMENTWISE: _broadcasting, MATMUL: _broadcasting, REDUCE: _reduce}


def rule_for(name):
    """The batching rule of op `name`, or None."""
    return _BY_NAME.get(name) or _BY_KIND.get(OPS[name].kind)


def batched_input(x, size):
    """X: `size` copies of x along a new leading axis (the node to differentiate the copies by)."""
    return M.broadcast_to(M.reshape(x, (1,) + x.shape), (size,) + x.shape)


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
    results = [memo.get(id(o)) or M.broadcast_to(M.reshape(o, (1,) + o.shape), (size,) + o.shape)
               for o in outputs]
    return big, results
