"""Reverse mode on the graph: cotangents are graphs again, so gradients can be differentiated."""
from __future__ import annotations

from ..errors import GradientError
from .node import toposort
from .ops import elementwise as E
from .registry import OPS, const


def gradients(y, xs):
    """d y / d x for each node in xs (y a scalar node); zeros where y does not depend on x."""
    if y.size != 1:
        raise GradientError(f"Value to differentiate is non-scalar: it has shape {y.shape}; "
                            "dlgradient needs a scalar (sum or index it first)")
    wanted = {id(x) for x in xs}
    order = toposort([y])
    # only nodes on a path from some x to y carry cotangents
    on_path = set()
    for node in order:
        if id(node) in wanted or any(id(i) in on_path for i in node.inputs):
            on_path.add(id(node))
    cotangent = {id(y): const(1.0, y.dtype) if y.shape == () else _ones(y)}
    for node in reversed(order):
        g = cotangent.get(id(node))
        if g is None or not node.inputs or id(node) in wanted and not any(id(i) in on_path for i in node.inputs):
            continue
        op = OPS[node.op]
        if not op.differentiable or op.vjp is None:
            continue
        if not any(id(i) in on_path for i in node.inputs):
            continue
        parts = op.vjp(g, node, node.inputs, **dict(node.attrs))
        for child, part in zip(node.inputs, parts):
            if part is None or id(child) not in on_path:
                continue
            # an int64 argument's cotangent is float64 (the numbers it holds, read through a cast)
            dtype = "float64" if child.dtype == "int64" else child.dtype
            if part.shape != child.shape or part.dtype != dtype:
                raise AssertionError(f"vjp of {node.op} gave {part.dtype}{part.shape} for an input "
                                     f"of {child.dtype}{child.shape}")
            previous = cotangent.get(id(child))
            cotangent[id(child)] = part if previous is None else E.add(previous, part)
    return [cotangent.get(id(x)) if id(x) in cotangent else _zeros(x) for x in xs]


def _ones(node):
    from .ops import movement as M
    return M.broadcast_to(const(1.0, node.dtype), node.shape)


def _zeros(node):
    """Zeros of node's shape; an int64 index array's gradient is float64 zeros (indices are
    not differentiable)."""
    from .ops import movement as M
    return M.broadcast_to(const(0.0, "float64" if node.dtype == "int64" else node.dtype), node.shape)
