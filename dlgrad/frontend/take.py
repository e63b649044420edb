"""take and take_along_axis with indices read at run time (the graph's take op) or fixed.

Indices are 0-based integers in [0, n); an index outside that range (negative ones included:
no wrap-around) or a fraction raises dlgrad.IndexOutOfRange naming the argument and the valid
range. An index argument of dlfeval or an accelerated function (a numpy integer array, int64
at run time, or a dlarray of whole numbers) is read when the compiled function runs, so new
index values reuse it; indices fixed at trace time (a numpy array read from a closure) are
checked when traced and become a constant table.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, check_indices
from ..graph.node import Const
from ..graph.ops.movement import reshape
from ..graph.ops.take import index_source, to_index
from ..graph.registry import normalize_axes
from .dispatch import apply, asdlarray
from .dlarray import dlarray, wrap_traced


def _shaped(size, shape, what):
    if shape is not None and int(np.prod(shape, dtype=np.int64)) != size:
        raise ShapeError(f"{what}: {size} indices do not fit shape {tuple(shape)}")


def _runtime(idx, high, what, shape):
    """idx (reshaped to `shape`) as a traced int64 dlarray when it is traced, else None."""
    if isinstance(idx, dlarray) and idx._node is not None:
        node = to_index(idx._node, what, high)
        index_source(node)   # indices computed inside the function cannot be checked up front
        _shaped(node.size, shape, what)
        return wrap_traced(reshape(node, shape) if shape is not None else node, idx._trace)
    return None


def _fixed(idx, high, what, shape):
    values = np.asarray(idx._data if isinstance(idx, dlarray) else idx)
    if values.dtype.kind not in "iuf":
        raise TypeError(f"{what}: indices must be integers, got an array of dtype {values.dtype}")
    check_indices(what, values, high)
    _shaped(values.size, shape, what)
    return values.astype(np.int64).reshape(values.shape if shape is None else shape)


def gather(x, idx, axis=0, along=False, what=None, index_shape=None) -> dlarray:
    """x gathered along `axis` at idx: np.take (along=False) or np.take_along_axis (along=True);
    `index_shape` reshapes the indices first (the graph's reshape: they are not cast to floats)."""
    x = asdlarray(x)
    name = "take_along_axis" if along else "take"
    (axis,) = normalize_axes(axis, x.ndim, f"{name} axis")
    what = what or f"{name}: the indices"
    runtime = _runtime(idx, x.shape[axis], what, index_shape)
    if runtime is not None:
        return apply("take", x, runtime, axis=axis, along=bool(along), what=what)
    values = _fixed(idx, x.shape[axis], what, index_shape)
    grid = np.arange(x.size, dtype=np.int64).reshape(x.shape)
    if along:
        if values.ndim != x.ndim:
            raise IndexError(f"{what}: indices need {x.ndim} dimensions for an array of shape {x.shape}, "
                             f"got shape {values.shape}")
        positions = np.take_along_axis(grid, values, axis)
    else:
        positions = np.take(grid, values, axis)
    return apply("gather", x, indices=Const(np.ascontiguousarray(positions, dtype=np.int64)))


def take(x: "dlarray | np.ndarray", indices: "dlarray | np.ndarray", axis: int = 0) -> dlarray:
    """numpy.take(x, indices, axis): indices 0-based in [0, n), read at run time when traced."""
    return gather(x, indices, axis)


def take_along_axis(x: "dlarray | np.ndarray", indices: "dlarray | np.ndarray", axis: int) -> dlarray:
    """numpy.take_along_axis(x, indices, axis): indices 0-based in [0, n), read at run time when traced."""
    return gather(x, indices, axis, along=True)
