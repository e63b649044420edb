"""Rewrites that move a permute to where it cancels: through gathers, scatter-adds and
elementwise ops whose every operand absorbs it.

A column-major (Fortran-ordered) argument enters a traced function as permute(input of the
reversed shape), and a donated column-major result leaves as the permute of what it computes
(frontend/capture.py). These rules carry those permutes to each other, so the table of
`embed` (dim x words, one word's vector contiguous in column-major memory) is read as a row
gather of the stored words x dim array, and its SGD update becomes a row index_add written in
place, with no transposed copy of the table. Each rule only re-indexes: the numbers are the
same bits.

A permute is not pushed into a matrix product: the product may be shared with other uses (the
forward value a gradient also reads), and a transposed twin would compute it twice. The update
of a donated column-major matrix by a product's gradient stays permute(W - lr * dW), one kernel
that reads dW transposed and writes each element where it read W's (in place).
"""
from __future__ import annotations

from .ops import movement as M
from .ops.take import take, take_add
from .patterns import P, Rule
from .registry import ELEMENTWISE, OPS, apply

ABSORB_DEPTH = 4   # elementwise levels looked through when deciding whether a permute cancels


def _inverse(axes):
    inverse = [0] * len(axes)
    for k, a in enumerate(axes):
        inverse[a] = k
    return tuple(inverse)


def _take_of_permute(node, x):
    """take(permute(x, p), idx, axis) = permute(take(x, idx, p[axis]), q): the gather reads x's
    own layout (a row of a stored words x dim table instead of a strided column)."""
    if node.attr("along"):
        return None
    p, axis, k = node.inputs[0].attr("axes"), node.attr("axis"), node.inputs[1].ndim
    inner = p[axis]
    gathered = take(x, node.inputs[1], inner, False, node.attr("what"))

    def position(a):   # where axis a of x sits in `gathered`
        return a if a < inner else a + k - 1
    order = []
    for out_axis in range(len(p)):
        if out_axis == axis:
            order += list(range(inner, inner + k))
        else:
            order.append(position(p[out_axis]))
    return M.permute(gathered, order)


def _permuted_cotangent(node, g, axis, k):
    """(g permuted, new axis) such that a scatter along `axis` of g (its k index axes at `axis`)
    then permuted by node's axes equals the scatter of the permuted g along the new axis."""
    q = node.attr("axes")
    new_axis = q.index(axis)
    order = []
    for a in q:
        if a == axis:
            order += list(range(axis, axis + k))
        else:
            order.append(a if a < axis else a + k - 1)
    return M.permute(g, order), new_axis


def _permute_of_take_add(node, t):
    if t.attr("along"):
        return None
    g, idx = t.inputs
    g2, axis = _permuted_cotangent(node, g, t.attr("axis"), idx.ndim)
    return take_add(g2, idx, axis, False, t.attr("size"), t.attr("what"))


def _permute_of_index_add(node, t):
    if t.attr("along"):
        return None
    base, g, idx = t.inputs
    g2, axis = _permuted_cotangent(node, g, t.attr("axis"), idx.ndim)
    return apply("index_add", M.permute(base, node.attr("axes")), g2, idx, axis=axis, along=False,
                 what=t.attr("what"))


def _absorbs(node, depth=ABSORB_DEPTH) -> bool:
    """A permute of node costs no copy: node is a permute (they cancel), a scatter (it re-indexes
    its cotangent), a number, or elementwise over such operands."""
    if node.ndim == 0 or node.op in ("permute", "take_add"):
        return True
    if node.op == "broadcast_to" and node.inputs[0].size == 1:
        return True
    if node.op == "index_add":
        return _absorbs(node.inputs[0], depth)
    if depth and OPS[node.op].kind == ELEMENTWISE and node.op != "stop_gradient":
        return all(i.ndim == 0 or i.shape == node.shape and _absorbs(i, depth - 1) for i in node.inputs)
    return False


def _permute_of_elementwise(node, y):
    """permute(f(a, b)) = f(permute(a), permute(b)) where every operand absorbs the permute, so
    that a donated column-major result is written in its own layout with no transpose kernel."""
    if not _absorbs(y) or y.op in ("permute",):
        return None
    axes = node.attr("axes")
    inputs = [i if i.ndim == 0 else M.permute(i, axes) for i in y.inputs]
    return apply(y.op, *inputs, **dict(y.attrs))


def rules():
    """The table graph/rewrite.py adds to its canonical rules."""
    return (Rule("take_of_permute", P("take", P("permute", P(name="x")), P()), _take_of_permute),
            Rule("permute_of_take_add", P("permute", P("take_add", name="t")), _permute_of_take_add),
            Rule("permute_of_index_add", P("permute", P("index_add", name="t")), _permute_of_index_add),
            Rule("permute_of_elementwise", P("permute", P(name="y", where=lambda n: OPS[n.op].kind == ELEMENTWISE
                                                             and n.op != "stop_gradient" and n.ndim > 0)),
                 _permute_of_elementwise))
