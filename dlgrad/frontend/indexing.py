"""Indexing with numpy semantics: basic indices become slice + reshape, array indices one gather.

An index array passed to the traced function (x[idx], x[:, idx] with idx an argument) is read
at run time (frontend/take.py): 0-based, in [0, n), negative indices raise (no wrap-around).

Basic indices (ints, slices with any step, None, Ellipsis) are views: a strided `slice`
followed by a `reshape`. Integer and boolean arrays (static: numpy arrays or lists) are
resolved at trace time into the flat positions `np.arange(x.size).reshape(x.shape)[key]`
and read with one `gather`, whose adjoint scatters back.
"""
from __future__ import annotations

import operator

import numpy as np

from ..graph.node import Const
from .dispatch import apply
from .dlarray import dlarray
from .functions import reshape
from .take import gather

_VALID = ("only integers, slices (`:`), ellipsis (`...`), None (numpy.newaxis) and integer or "
          "boolean arrays (numpy arrays or lists) are valid indices")


def _check_not_dlarray(k):
    if isinstance(k, dlarray):
        if k._node is not None:
            raise TypeError("a traced dlarray can be an index only as x[idx] or x[:, ..., idx, ...] (one "
                            "index array, the other axes whole): with other indices the compiled "
                            "function's shapes would depend on data; to select values by a condition use "
                            "dlgrad.where")
        raise TypeError("a dlarray holds floats and cannot be used as an index; index with a numpy "
                        "integer or boolean array (for example extractdata(mask) > 0)")
    if isinstance(k, (list, tuple)):
        for item in k:
            _check_not_dlarray(item)


def _is_array_index(k) -> bool:
    _check_not_dlarray(k)
    return isinstance(k, (list, np.ndarray, bool, np.bool_))


def getitem(x: dlarray, key) -> dlarray:
    """x[key] with numpy's semantics (0-based; negative indices count from the end)."""
    if not isinstance(key, tuple):
        key = (key,)
    runtime = _runtime_axis(key, x.ndim)
    if runtime is not None:
        axis, idx = runtime
        return gather(x, idx, axis, what=f"x[idx]: the index array on axis {axis}")
    if any(_is_array_index(k) for k in key):
        return _gather(x, key)
    return _basic(x, key)


def _runtime_axis(key, ndim):
    """(axis, idx) when key is one traced index array among whole axes (`:` and `...`), else None."""
    traced = [i for i, k in enumerate(key) if isinstance(k, dlarray) and k._node is not None]
    if len(traced) != 1:
        return None
    (t,) = traced
    if not all(k is Ellipsis or (isinstance(k, slice) and k == slice(None)) for k in key[:t] + key[t + 1:]):
        return None
    axis = ndim - (len(key) - t) if any(k is Ellipsis for k in key[:t]) else t
    return axis, key[t]


def _expand(key, ndim):
    """key with its Ellipsis replaced by full slices (one per axis it stands for)."""
    ellipses = [i for i, k in enumerate(key) if k is Ellipsis]
    if len(ellipses) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(1 for k in key if k is not None and k is not Ellipsis)
    if consumed > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, "
                         f"but {consumed} were indexed")
    fill = (slice(None),) * (ndim - consumed)
    if ellipses:
        return key[:ellipses[0]] + fill + key[ellipses[0] + 1:]
    return key + fill


def _basic_specs(x, key):
    """(per-axis (start, stop, step) of x, the selection's shape with every axis of x kept,
    the shape of x[key]) for a basic key."""
    index, kept, shape, axis = [], [], [], 0
    for k in _expand(key, x.ndim):
        if k is None:
            shape.append(1)
            continue
        n = x.shape[axis]
        if isinstance(k, slice):
            spec = k.indices(n)
            shape.append(len(range(*spec)))
        else:
            try:
                i = operator.index(k)
            except TypeError:
                raise IndexError(f"{_VALID}; got {type(k).__name__}") from None
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for axis {axis} with size {n}")
            i %= n
            spec = (i, i + 1, 1)
        index.append(spec)
        kept.append(len(range(*spec)))
        axis += 1
    return tuple(index), tuple(kept), tuple(shape)


def _basic(x, key):
    index, _, shape = _basic_specs(x, key)
    if any(spec != (0, n, 1) for spec, n in zip(index, x.shape)):
        x = apply("slice", x, index=index)
    return reshape(x, shape)


def _gather(x, key):
    key = tuple(np.asarray(k) if isinstance(k, list) else k for k in key)
    for k in key:
        if isinstance(k, np.ndarray) and k.dtype.kind not in "biu" and k.size:
            raise IndexError(f"{_VALID}; got an array of dtype {k.dtype}")
    positions = np.arange(x.size, dtype=np.int64).reshape(x.shape)[key]
    positions = np.ascontiguousarray(positions, dtype=np.int64)
    return apply("gather", x, indices=Const(positions))
