"""Eager stability: untraced dlarray math takes the graph's stable forms (graph/stable.py) too.

An eager result of an op that a stable pattern looks into (exp, div, sum, sigmoid, ...)
remembers how it was made, as an `Origin` (op, attributes, operands) a few levels deep. When
an op at the root of a stable pattern (log, log1p, sub) meets such operands, their history
becomes a small graph whose leaves are the recorded arrays, the STABLE rules rewrite it as
they rewrite a traced graph, and if one fired, the numpy reference interpreter evaluates the
rewritten graph instead of the naive op: log(softmax(Z)) eagerly is Z - logsumexp(Z), as it
is when traced and compiled.
"""
from __future__ import annotations

import numpy as np

from ..graph.interpret import evaluate
from ..graph.registry import apply as apply_node
from ..graph.registry import const, input_node
from ..graph.stable import STABLE, stabilize

ROOTS, INNER = STABLE.roots(), STABLE.inner()
DEPTH = 4   # levels of history kept: the deepest stable pattern, log(maximum(div(exp(z), s), c))


def _weak(a):
    return isinstance(a, (int, float)) and not isinstance(a, np.generic)


class Origin:
    """How an eager value was made: op `name` with `attrs` applied to `args` (dlarrays, numbers)."""

    __slots__ = ("name", "attrs", "args", "depth")

    def __init__(self, name, attrs, args, depth):
        self.name, self.attrs, self.args, self.depth = name, attrs, args, depth


def remember(out, name, args, attrs, dlarray, wrap):
    """Record out's origin when a stable pattern may look into it. Histories are trimmed to DEPTH
    levels, so a long eager loop keeps only the last few arrays alive."""
    if name not in INNER:
        return
    kept, depth = [], 0
    for a in args:
        origin = getattr(a, "_origin", None) if isinstance(a, dlarray) else None
        if origin is not None and origin.depth >= DEPTH:
            a = _trim(a, DEPTH - 1, wrap)
            origin = a._origin
        kept.append(a)
        depth = max(depth, origin.depth if origin is not None else 0)
    out._origin = Origin(name, attrs, tuple(kept), depth + 1)


def _trim(a, levels, wrap):
    """A dlarray with a's value and at most `levels` levels of a's history."""
    origin = getattr(a, "_origin", None)
    if origin is None or not hasattr(a, "_data"):
        return a
    view = wrap(a._data)
    if levels > 0:
        args = tuple(_trim(x, levels - 1, wrap) for x in origin.args)
        depth = 1 + max((x._origin.depth for x in args if getattr(x, "_origin", None) is not None), default=0)
        view._origin = Origin(origin.name, origin.attrs, args, depth)
    return view


def stable_value(name, args, attrs, dlarray, to_data):
    """The value of op `name` on eager args through a stable form, or None when none applies."""
    if name not in ROOTS or not any(getattr(a, "_origin", None) is not None for a in args if isinstance(a, dlarray)):
        return None
    leaves, nodes_of = [], {}
    strong = [a for a in args if not _weak(a)]
    weak_dtype = "float32" if strong and all(to_data(a).dtype.name == "float32" for a in strong) else "float64"

    def node_of(a):
        if _weak(a):
            return const(a, weak_dtype)
        origin = getattr(a, "_origin", None) if isinstance(a, dlarray) else None
        if origin is not None:
            return apply_node(origin.name, *map(node_of, origin.args), **origin.attrs)
        data = a._data if isinstance(a, dlarray) else to_data(a)
        if not isinstance(a, dlarray) and data.size == 1:
            return const(data, data.dtype.name)      # a clamp or an offset, as a traced const
        if id(data) not in nodes_of:
            nodes_of[id(data)] = (input_node(len(leaves), data.shape, data.dtype.name), data)
            leaves.append(data)
        return nodes_of[id(data)][0]

    root = apply_node(name, *map(node_of, args), **attrs)
    stable = stabilize(root)
    if stable is root:
        return None
    return evaluate([stable], leaves)[0]
