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
from ..registry import Op, apply, const_value, register

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


def _to_index_infer(inputs, what):
    (x,) = inputs
    if x.dtype == INDEX_DTYPE:
        raise TypeError(f"{what}: to_index of an index array")
    return x.shape, INDEX_DTYPE


def _to_index_numpy(x, what):
    x = np.asarray(x)
    check_indices(what, x, np.iinfo(np.int64).max)
    return x.astype(np.int64)


register(Op("take", TAKE, _take_infer, _take_numpy,
            lambda g, out, inputs, axis, along, what: [
                take_add(g, inputs[1], axis, along, inputs[0].shape[axis], what), None]))
register(Op("take_add", TAKE, _add_infer, _add_numpy,
            lambda g, out, inputs, axis, along, size, what: [take(g, inputs[1], axis, along, what), None]))
register(Op("to_index", TAKE, _to_index_infer, _to_index_numpy, lambda g, out, inputs, what: [None]))


def take(x, idx, axis, along, what):
    """x gathered along `axis` at the int64 indices idx (np.take, or np.take_along_axis if `along`)."""
    return apply("take", x, idx, axis=int(axis), along=bool(along), what=str(what))


def take_add(g, idx, axis, along, size, what):
    """Zeros with `size` along `axis`, g added at the positions idx names (the adjoint of take)."""
    return apply("take_add", g, idx, axis=int(axis), along=bool(along), size=int(size), what=str(what))


def to_index(x, what):
    """Float x (whole numbers) as an int64 index array (an int64 array read as floats: itself)."""
    if x.op == "cast" and x.inputs[0].dtype == INDEX_DTYPE:
        x = x.inputs[0]
    return x if x.dtype == INDEX_DTYPE else apply("to_index", x, what=str(what))


# ops that move or convert values without changing them: an index array made by these from one
# input holds only that input's values, so checking the input checks it
_VALUE_PRESERVING = ("to_index", "cast", "reshape", "permute", "broadcast_to")


def index_source(idx):
    """(input node, whether it holds floats) whose values idx reads at run time, or None for a
    constant; raises for indices computed inside the function (they cannot be checked up front)."""
    base = idx
    while base.op in _VALUE_PRESERVING:
        base = base.inputs[0]
    if base.op == "const":
        return None
    if base.op == "input":
        return base, base.dtype != INDEX_DTYPE
    raise TypeError("index arrays computed inside a traced function are not supported: pass the "
                    "indices as an argument (a numpy integer array, or a dlarray of whole numbers)")
