"""Indexed assignment X[key] = v: X is rebound to the updated value, as MATLAB's X(idx) = v.

The update is functional: the new value is where(hit, placed v, X), a new array (eager) or
graph node (traced), with gradients to X (zero where overwritten) and to v. The dlarray object
X takes the new value; other dlarrays that shared X's data keep the old one. Keys are numpy's
(0-based, negative from the end): basic keys (ints, slices, None, ...) place v with a `pad`
(affine, no index tables), integer and boolean arrays with a `scatter`; where an integer array
repeats a position the last value wins, as in numpy.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import UnsupportedOperationError
from ..graph.node import Const
from . import trace as tracing
from .dispatch import apply, asdlarray, cast
from .dlarray import dlarray
from .formats import stripdims
from .functions import reshape, where
from .indexing import _basic_specs, _is_array_index


def setitem(x: dlarray, key: Any, value: Any) -> None:
    """x[key] = value: x rebound to the updated value (value broadcast to x[key] and cast to x's dtype,
    and to logical when x is logical)."""
    trace = tracing.current()
    if trace is not None and x._node is None and trace.captures is not None and trace.captures.has(x):
        raise UnsupportedOperationError(
            "X[idx] = v on a dlarray read from outside the traced function (a global, a closure or an "
            "attribute) would change it only when the function is traced, not on later compiled calls; "
            "update a copy made inside the function (Y = X * 1; Y[idx] = v) and return it")
    value = stripdims(asdlarray(value))
    if x._logical and not value._logical:   # MATLAB converts what goes into a logical array to logical
        value = apply("ne", value, 0.0)
    value = cast(value, x.dtype)
    if not isinstance(key, tuple):
        key = (key,)
    data = stripdims(x)
    updated = _scattered(data, key, value) if any(_is_array_index(k) for k in key) else _padded(data, key, value)
    x._data, x._node, x._trace, x._origin = updated._data, updated._node, updated._trace, None


def _fit(value: dlarray, shape: Sequence[int]) -> dlarray:
    """value broadcast to `shape` as numpy's assignment does (extra leading 1s dropped)."""
    extra = value.ndim - len(shape)
    if extra > 0:
        if any(d != 1 for d in value.shape[:extra]):
            raise ValueError(f"could not broadcast input array from shape {value.shape} into shape {shape}")
        value = reshape(value, value.shape[extra:])
    if value.shape == tuple(shape):
        return value
    if any(d not in (1, s) for d, s in zip(value.shape[::-1], tuple(shape)[::-1])):
        raise ValueError(f"could not broadcast input array from shape {value.shape} into shape {shape}")
    return apply("broadcast_to", value, shape=tuple(shape))


def _ones(shape: Sequence[int], dtype: Any) -> dlarray:
    return apply("broadcast_to", asdlarray(np.ones((), dtype)), shape=tuple(shape))


def _padded(x: dlarray, key: tuple[Any, ...], value: dlarray) -> dlarray:
    index, selected, result = _basic_specs(x, key)
    placed = reshape(_fit(value, result), selected)
    if all(spec == (0, n, 1) for spec, n in zip(index, x.shape)):
        return placed
    hit = apply("pad", _ones(selected, x.dtype), shape=x.shape, index=index)
    return where(hit, apply("pad", placed, shape=x.shape, index=index), x)


def _scattered(x: dlarray, key: tuple[Any, ...], value: dlarray) -> dlarray:
    key = tuple(np.asarray(k) if isinstance(k, list) else k for k in key)
    for k in key:
        if isinstance(k, np.ndarray) and k.dtype.kind not in "biu" and k.size:
            raise IndexError(f"arrays used as indices must be of integer or boolean type, got {k.dtype}")
    positions = np.arange(x.size, dtype=np.int64).reshape(x.shape)[key]
    flat = reshape(_fit(value, positions.shape), (positions.size,))
    positions = positions.ravel()
    if positions.size == 0:
        return x
    last = positions.size - 1 - np.unique(positions[::-1], return_index=True)[1]   # last write wins
    if last.size != positions.size:
        flat = apply("gather", flat, indices=Const(np.ascontiguousarray(last, dtype=np.int64)))
        positions = positions[last]
    positions = Const(np.ascontiguousarray(positions))
    hit = apply("scatter", _ones((positions.array.size,), x.dtype), indices=positions, shape=x.shape)
    return where(hit, apply("scatter", flat, indices=positions, shape=x.shape), x)
