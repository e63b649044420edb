"""Which observations of x an output depends on: the structural check behind dljacobian & co.

dljacobian, dldivergence and dllaplacian treat every axis of x except the operation
axis as independent observations, and differentiate the sum of u over the observations.
That is only right if u at observation o depends on x at observation o alone. This
module decides it from the graph, without data: every node that carries derivatives of
x gets a *layout*, one entry per axis, either None (the axis indexes no observation) or
(a, start, step), meaning index i along the axis is observation start + step * i of
x's axis a. A reduction, contraction or broadcast over an observation axis, or operands
whose observations disagree (x[1:] - x[:-1]), make the dependence `Mixed`; an op this
module cannot follow (a general reshape, gather) makes it UNKNOWN, and no error is raised.

Each op carries its rule (`Op.layout`: (node, [(position, input, layout)]) -> layout),
filled by its op family from the generic rules here.
"""
from __future__ import annotations

from .node import toposort
from .registry import OPS


class Mixed:
    """A definite dependence across observations, with the reason."""

    def __init__(self, reason):
        self.reason = reason


UNKNOWN = "unknown"


def _carries_derivative(node):
    op = OPS[node.op]
    return op.differentiable and op.vjp is not None


def merge(node, parts):
    """Output layout of a broadcasting op from (layout, input shape, axis offset) of its traced operands."""
    out = [None] * node.ndim
    for layout, shape, shift in parts:
        for k, entry in enumerate(layout):
            if entry is None:
                continue
            j = k + shift
            if node.shape[j] != shape[k]:
                return Mixed(f"{node.op} broadcasts an observation axis of length {shape[k]} "
                             f"to length {node.shape[j]}")
            if out[j] is not None and out[j] != entry:
                return Mixed(f"{node.op} combines operands whose observations are not aligned")
            out[j] = entry
    seen = [entry[0] for entry in out if entry is not None]
    if len(seen) != len(set(seen)):
        return Mixed(f"{node.op} combines operands whose observations are not aligned")
    return tuple(out)


def broadcasting(node, layouts):
    return merge(node, [(lay, i.shape, node.ndim - i.ndim) for _, i, lay in layouts])


def contraction(node, layouts):
    parts = []
    for position, i, lay in layouts:
        contracted = i.ndim - 1 if position == 0 else i.ndim - 2
        if lay[contracted] is not None:
            return Mixed("matmul sums over an observation axis")
        parts.append((lay, i.shape, node.ndim - i.ndim))
    return merge(node, parts)


def reduction(node, layouts):
    ((_, x, lay),) = layouts
    axes, keep = node.attr("axes"), node.attr("keepdims")
    if any(lay[a] is not None for a in axes):
        return Mixed(f"{node.op} reduces an observation axis")
    return tuple(e for k, e in enumerate(lay) if keep or k not in axes)


def _layout_of(node, layouts):
    """node's layout from (position, input, layout) of its inputs that carry derivatives."""
    for _, _, lay in layouts:
        if isinstance(lay, Mixed):
            return lay
    if any(lay is UNKNOWN for _, _, lay in layouts):
        return UNKNOWN
    rule = OPS[node.op].layout
    return UNKNOWN if rule is None else rule(node, layouts)


def dependence(u, x, dim):
    """u's layout in x (a tuple, Mixed or UNKNOWN), or None if u carries no derivative of x.

    Observation axes are the axes of x other than `dim` with more than one element.
    """
    start = tuple((a, 0, 1) if a != dim and n > 1 else None for a, n in enumerate(x.shape))
    layout = {id(x): start}
    for node in toposort([u]):
        if id(node) in layout or not _carries_derivative(node):
            continue
        traced = [(k, i, layout[id(i)]) for k, i in enumerate(node.inputs) if id(i) in layout]
        if traced:
            layout[id(node)] = _layout_of(node, traced)
    return layout.get(id(u))


def mismatch(u, x, dim):
    """Why u's observations are not x's (a sentence), or None when they are or cannot be told."""
    lay = dependence(u, x, dim)
    if lay is None or lay is UNKNOWN:
        return None
    if isinstance(lay, Mixed):
        return lay.reason
    for a, n in enumerate(x.shape):
        if a == dim or n == 1:
            continue
        if lay[a] != (a, 0, 1):
            where = [k for k, e in enumerate(lay) if e is not None and e[0] == a]
            return (f"observation axis {a} of x reappears as axis {where[0]} of u" if where and where[0] != a
                    else f"u is shifted against x along observation axis {a}")
    return None
