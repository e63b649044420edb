"""Gathers through an index operand read at run time: take, its adjoint take_add, to_index.

take(x, idx; axis, along): with along=False, numpy's take along `axis` (out has idx's axes in
place of x's axis); with along=True, numpy's take_along_axis (idx has x's shape except along
`axis`). take_add(g, idx; axis, along, size) is the adjoint: zeros with `size` along the axis,
g added at the positions idx names, in row-major order of g (deterministic). The adjoint of
take_add is take again, so higher derivatives need nothing more.

The index operand is an int64 node: an input (a numpy integer array passed as an argument), a
constant, or to_index of a float input (a dlarray of whole numbers). Indices are 0-based and
must lie in [0, n): an out-of-range, negative or fractional index raises IndexOutOfRange
naming `what` (the reference here; compiled code checks its index inputs before any kernel
runs, codegen/kinds/take.py). `what` is part of the node, so messages name the argument.
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError, check_indices
from ..node import INDEX_DTYPE
from ..registry import Op, apply, const, const_value, register, scalar_const_value

TAKE = "take"


def _check_axis(x, axis, what):
    if isinstance(axis, bool) or not isinstance(axis, int) or not 0 <= axis < x.ndim:
        raise ShapeError(f"{what}: axis must be an int in [0, {x.ndim}) for an array of shape {x.shape}, "
                         f"got {axis!r}")


def _check_index(idx, high, what):
    if idx.dtype != INDEX_DTYPE:
        raise TypeError(f"{what}: the index operand must be {INDEX_DTYPE}, got {idx.dtype}")
    value = const_value(idx)
    if value is not None:   # a constant is checked once, when the node is built
        check_indices(what, value, high)
    base = _base(idx)
    if getattr(base, "op", None) == "fill_index" and max(base.attr("high"), base.attr("fill") + 1) > high:   # (fill_index.py)
        raise ShapeError(f"{what}: indices filled up to {max(base.attr('high') - 1, base.attr('fill'))} do not "
                         f"fit an axis of length {high}")


def _take_shape(x_shape, idx, axis, along, what):
    if not along:
        return x_shape[:axis] + idx.shape + x_shape[axis + 1:]
    if len(idx.shape) != len(x_shape) or any(i != n for d, (i, n) in enumerate(zip(idx.shape, x_shape))
                                             if d != axis):
        raise ShapeError(f"{what}: indices of shape {idx.shape} do not fit an array of shape {x_shape} "
                         f"along axis {axis} (take_along_axis needs the same shape on the other axes)")
    return idx.shape


def _take_infer(inputs, axis, along, what):
    x, idx = inputs
    _check_axis(x, axis, what)
    _check_index(idx, x.shape[axis], what)
    return _take_shape(x.shape, idx, axis, along, what), x.dtype


def _add_shape(g_shape, idx, axis, along, size, what):
    if along:
        if tuple(g_shape) != tuple(idx.shape):
            raise ShapeError(f"{what}: a cotangent of shape {g_shape} needs indices of its shape, got {idx.shape}")
        return g_shape[:axis] + (size,) + g_shape[axis + 1:]
    if tuple(g_shape[axis:axis + len(idx.shape)]) != tuple(idx.shape):
        raise ShapeError(f"{what}: a cotangent of shape {g_shape} does not hold indices of shape "
                         f"{idx.shape} at axis {axis}")
    return g_shape[:axis] + (size,) + g_shape[axis + len(idx.shape):]


def _add_infer(inputs, axis, along, size, what):
    g, idx = inputs
    if not (along or g.ndim >= axis + idx.ndim) or (along and not 0 <= axis < g.ndim):
        raise ShapeError(f"{what}: axis {axis} does not fit a cotangent of shape {g.shape}")
    _check_index(idx, size, what)
    return _add_shape(g.shape, idx, axis, along, size, what), g.dtype


def _three(shape, axis, middle):
    """(outer, middle, inner) sizes of `shape` split around `middle` axes starting at `axis`."""
    return (int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis:axis + middle], dtype=np.int64)),
            int(np.prod(shape[axis + middle:], dtype=np.int64)))


def _take_numpy(x, idx, axis, along, what):
    check_indices(what, idx, x.shape[axis])
    idx = np.asarray(idx, dtype=np.intp)
    return np.take_along_axis(x, idx, axis) if along else np.take(x, idx, axis)


def _add_numpy(g, idx, axis, along, size, what):
    check_indices(what, idx, size)
    idx, g = np.asarray(idx, dtype=np.intp), np.asarray(g)
    shape = _add_shape(g.shape, idx, axis, along, size, what)
    outer, middle, inner = _three(g.shape, axis, 1 if along else idx.ndim)
    out = np.zeros((outer, size, inner), dtype=g.dtype)
    g3 = g.reshape(outer, middle, inner)
    if along:
        o, _, n = np.ix_(range(outer), range(middle), range(inner))
        np.add.at(out, (o, idx.reshape(outer, middle, inner), n), g3)
    else:
        np.add.at(out, (slice(None), idx.ravel(), slice(None)), g3)
    return out.reshape(shape)


def _to_index_infer(inputs, what, high):
    (x,) = inputs
    if x.dtype == INDEX_DTYPE:
        raise TypeError(f"{what}: to_index of an index array")
    return x.shape, INDEX_DTYPE


def _to_index_numpy(x, what, high):
    x = np.asarray(x)
    check_indices(what, x, high)   # whole numbers in [0, high): the range of the take it feeds
    return x.astype(np.int64)


register(Op("take", TAKE, _take_infer, _take_numpy,
            lambda g, out, inputs, axis, along, what: [
                take_add(g, inputs[1], axis, along, inputs[0].shape[axis], what), None]))
register(Op("take_add", TAKE, _add_infer, _add_numpy,
            lambda g, out, inputs, axis, along, size, what: [take(g, inputs[1], axis, along, what), None]))
register(Op("to_index", TAKE, _to_index_infer, _to_index_numpy, lambda g, out, inputs, what, high: [None]))


def _index_add_infer(inputs, axis, along, what):
    base, g, idx = inputs
    _check_axis(base, axis, what)
    _check_index(idx, base.shape[axis], what)
    if tuple(_add_shape(g.shape, idx, axis, along, base.shape[axis], what)) != base.shape or g.dtype != base.dtype:
        raise ShapeError(f"{what}: values {g.dtype}{list(g.shape)} at indices of shape {idx.shape} do not fit "
                         f"{base.dtype}{list(base.shape)} along axis {axis}")
    return base.shape, base.dtype


def _index_add_numpy(base, g, idx, axis, along, what):
    size = base.shape[axis]
    check_indices(what, idx, size)
    out = np.array(base, copy=True, order="C")
    idx, g = np.asarray(idx, dtype=np.intp), np.asarray(g)
    outer, middle, inner = _three(g.shape, axis, 1 if along else idx.ndim)
    flat, g3 = out.reshape(outer, size, inner), g.reshape(outer, middle, inner)   # flat: a view of out
    if along:
        o, _, n = np.ix_(range(outer), range(middle), range(inner))
        np.add.at(flat, (o, idx.reshape(outer, middle, inner), n), g3)
    else:
        np.add.at(flat, (slice(None), idx.ravel(), slice(None)), g3)
    return out


register(Op("index_add", TAKE, _index_add_infer, _index_add_numpy,
            lambda g, out, inputs, axis, along, what: [g, take(g, inputs[2], axis, along, what), None]))


def _scatter_into(node, base, t, negate=False):
    """base + take_add(g) (or base - take_add(g)) as index_add(base, +-g): the sum is written into
    base's memory (in place where base is donated), so an update of a table at a few indices costs
    what those indices cost. The contributions at a repeated index are added to base one by one
    instead of summed first: the same numbers to rounding (np.add.at's order)."""
    if base.shape != node.shape or base.dtype != node.dtype or t.dtype != node.dtype:
        return None
    g = t.inputs[0]
    if negate:
        g = apply("neg", g)
    return apply("index_add", base, g, t.inputs[1], axis=t.attr("axis"), along=t.attr("along"),
                 what=t.attr("what"))


def _finite_number(node):
    """The value of a constant number (0-d, all equal, or one broadcast), if finite, else None."""
    while node.op == "broadcast_to" and node.inputs[0].size == 1:
        node = node.inputs[0]
    value = scalar_const_value(node) if node.op == "const" else None
    return value if value is not None and np.isfinite(value) else None


def _number_into_scatter(node, t, c):
    """take_add(g) * c as take_add(g * c) for a finite number c (the positions no index names stay
    0 = 0 * c); at a repeated index c * (g1 + g2) becomes c * g1 + c * g2, equal to rounding."""
    value = _finite_number(c)
    if value is None or t.dtype != node.dtype or c.dtype != node.dtype:
        return None
    return apply("take_add", _times(t.inputs[0], value), t.inputs[1], axis=t.attr("axis"), along=t.attr("along"),
                 size=t.attr("size"), what=t.attr("what"))


def _times(g, value):
    from . import elementwise as E
    return E.mul(g, const(value, g.dtype))


def rules():
    """The rewrites that write a scaled scatter-add into the array it is added to (graph/rewrite.py)."""
    from ..patterns import P, Rule
    t = P("take_add", name="t")
    return (Rule("add_scatter", P("add", P(name="base"), t), lambda node, base, t: _scatter_into(node, base, t)),
            Rule("scatter_add", P("add", t, P(name="base")), lambda node, base, t: _scatter_into(node, base, t)),
            Rule("sub_scatter", P("sub", P(name="base"), t),
                 lambda node, base, t: _scatter_into(node, base, t, negate=True)),
            Rule("scatter_times_number", P("mul", t, P(name="c")), _number_into_scatter),
            Rule("number_times_scatter", P("mul", P(name="c"), t), _number_into_scatter))


def take(x, idx, axis, along, what):
    """x gathered along `axis` at the int64 indices idx (np.take, or np.take_along_axis if `along`)."""
    return apply("take", x, idx, axis=int(axis), along=bool(along), what=str(what))


def take_add(g, idx, axis, along, size, what):
    """Zeros with `size` along `axis`, g added at the positions idx names (the adjoint of take)."""
    return apply("take_add", g, idx, axis=int(axis), along=bool(along), size=int(size), what=str(what))


def to_index(x, what, high):
    """Float x (whole numbers in [0, high)) as an int64 index array (an int64 array read as
    floats: itself)."""
    if x.op == "cast" and x.inputs[0].dtype == INDEX_DTYPE:
        x = x.inputs[0]
    return x if x.dtype == INDEX_DTYPE else apply("to_index", x, what=str(what), high=int(high))


# ops that move or convert values without changing them: an index array made by these from one
# input holds only that input's values, so checking the input checks it
_VALUE_PRESERVING = ("to_index", "cast", "reshape", "permute", "broadcast_to")


def _base(idx):
    while getattr(idx, "op", None) in _VALUE_PRESERVING:
        idx = idx.inputs[0]
    return idx


def index_source(idx):
    """(input node, whether it holds floats) whose values idx reads at run time, or None for a
    constant; raises for indices computed inside the function (they cannot be checked up front)."""
    base = _base(idx)
    if base.op in ("const", "fill_index"):   # fill_index: in range by construction (_check_index)
        return None
    if base.op == "input":
        return base, base.dtype != INDEX_DTYPE
    raise TypeError("index arrays computed inside a traced function are not supported: pass the "
                    "indices as an argument (a numpy integer array, or a dlarray of whole numbers)")
