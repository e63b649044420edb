"""Sorting: MATLAB's sort ([B, I] = sort(A, dim, direction)), numpy's sort and argsort, and
onehotdecode. The values move by a permutation (graph/ops/sort.py), so the gradient of each
sorted element flows back to the element it came from.

Indices are 0-based float dlarrays (a dlarray holds floats): MATLAB's I - 1.
"""
from __future__ import annotations

from typing import Any

from .types import ArrayLike

import math

import numpy as np

from ..errors import ShapeError
from ..graph.registry import normalize_axes
from . import formats
from . import functions as F
from .arrays import first_nonsingleton
from .dispatch import apply, asdlarray
from .dlarray import dlarray
from .logical import isnan

_DIRECTIONS = ("ascend", "descend")


_COMPARISONS = ("auto", "real", "abs")
_PLACEMENTS = ("auto", "first", "last")


def _sorted(x, axis, descend, indices, comparison="auto", missing="auto"):
    if x.ndim == 0:
        x = F.reshape(x, (1,))
    if comparison == "abs":   # by |x|, ties by angle: x >= 0 (angle 0) before x < 0 (angle pi) ascending
        order = apply("argsort", F.less(x, 0), axis=axis, descend=descend)
        by_size = apply("argsort", apply("permute_along", F.abs(x), order, axis=axis), axis=axis, descend=descend)
        order = apply("permute_along", order, by_size, axis=axis)
    else:
        order = apply("argsort", x, axis=axis, descend=descend)
    if missing != "auto" and (missing == "first") != descend:   # NaN moved from its default end, stably
        nan = isnan(apply("permute_along", x, order, axis=axis))
        order = apply("permute_along", order, apply("argsort", nan, axis=axis, descend=missing == "first"), axis=axis)
    values = apply("permute_along", x, order, axis=axis)
    return (values, order) if indices else values


def sort(x: ArrayLike, axis: Any = None, direction: Any = "ascend", return_indices: Any = False, *,
         ComparisonMethod: str = "auto", MissingPlacement: str = "auto") -> "dlarray | tuple[dlarray, dlarray]":
    """Sorted along axis (default: MATLAB's first non-singleton axis), stable: ties keep their
    order. ComparisonMethod "auto"/"real" compares values, "abs" magnitudes (ties: x >= 0 before x < 0
    ascending, MATLAB's angle order). MissingPlacement "auto" puts NaN last ascending and first
    descending (as MATLAB), "first" or "last" at that end. With return_indices=True, (B, I): I the
    0-based positions the sorted values came from (B = take_along_axis(x, I))."""
    x = asdlarray(x)
    if direction not in _DIRECTIONS:
        raise ValueError(f"sort direction must be 'ascend' or 'descend', got {direction!r}")
    if ComparisonMethod not in _COMPARISONS:
        raise ValueError(f"sort ComparisonMethod must be one of {_COMPARISONS}, got {ComparisonMethod!r}")
    if MissingPlacement not in _PLACEMENTS:
        raise ValueError(f"sort MissingPlacement must be one of {_PLACEMENTS}, got {MissingPlacement!r}")
    if x.ndim == 0:
        return (x, F.multiply(x, 0.0)) if return_indices else x
    (axis,) = normalize_axes(first_nonsingleton(x) if axis is None else axis, x.ndim, "sort axis")
    return _sorted(x, axis, direction == "descend", return_indices, ComparisonMethod, MissingPlacement)


def numpy_sort(a, axis=-1, kind=None, order=None, *, stable=None) -> dlarray:
    """numpy.sort: ascending (NaN last) along axis (-1 by default; None: flattened); stable."""
    if order is not None:
        raise ValueError("numpy.sort on a dlarray takes no order (no structured dtypes)")
    a = asdlarray(a)
    if axis is None:
        a, axis = F.reshape(a, (-1,)), 0
    if a.ndim == 0:
        raise ShapeError("numpy.sort needs an array with at least 1 dimension (or axis=None)")
    (axis,) = normalize_axes(axis, a.ndim, "sort axis")
    return _sorted(a, axis, False, False)


def numpy_argsort(a, axis=-1, kind=None, order=None, *, stable=None) -> dlarray:
    """numpy.argsort as a float dlarray of positions (stable, NaN last)."""
    if order is not None:
        raise ValueError("numpy.argsort on a dlarray takes no order (no structured dtypes)")
    a = asdlarray(a)
    if axis is None:
        a, axis = F.reshape(a, (-1,)), 0
    if a.ndim == 0:
        raise ShapeError("numpy.argsort needs an array with at least 1 dimension (or axis=None)")
    (axis,) = normalize_axes(axis, a.ndim, "argsort axis")
    return apply("argsort", a, axis=axis, descend=False)


def argmax(x, axis) -> dlarray:
    """0-based position of the first largest value along axis (NaN counts as largest), as floats."""
    x = asdlarray(x)
    (axis,) = normalize_axes(axis, x.ndim, "argmax axis")
    n = x.shape[axis]
    position = np.arange(n, dtype=x.dtype).reshape((n,) + (1,) * (x.ndim - axis - 1))
    top = F.max(x, axis, keepdims=True)
    hit = F.maximum(F.equal(x, top), F.not_equal(x, x))   # NaN: max is NaN, the first NaN wins
    return F.min(F.where(hit, position, math.inf), axis)


def onehotdecode(b: ArrayLike, classes: Any, axis: Any = None) -> "np.ndarray | dlarray":
    """MATLAB's onehotdecode: the class of the largest entry along axis (default: the 'C' axis of
    a formatted b); ties go to the first. Untraced: a numpy array of classes' labels. Traced
    (labels must be numbers then): a dlarray of them, with no gradient."""
    b = asdlarray(b)
    if axis is None:
        found = formats.finddim(b, "C")
        if len(found) != 1:
            raise ValueError("onehotdecode needs axis= for data without a 'C' (channel) dimension")
        axis = found[0]
    (axis,) = normalize_axes(axis, b.ndim, "onehotdecode axis")
    labels = np.asarray(classes)
    if labels.ndim != 1 or labels.shape[0] != b.shape[axis]:
        raise ShapeError(f"onehotdecode needs one class per entry along axis {axis} ({b.shape[axis]}), "
                         f"got {labels.shape[0] if labels.ndim == 1 else labels.shape} classes")
    index = argmax(formats.stripdims(b), axis)
    if index._node is None:
        return labels[np.asarray(index).astype(np.int64)]
    if labels.dtype.kind not in "biuf":
        raise TypeError("onehotdecode inside dlfeval needs numeric classes (text labels are not "
                        "dlarray data): decode the extracted scores outside, or use numeric classes")
    values = labels.astype(b.dtype).reshape((-1,) + (1,) * (index.ndim - axis))
    n = labels.shape[0]
    slots = np.arange(n, dtype=b.dtype).reshape((n,) + (1,) * (index.ndim - axis))
    chosen = F.where(F.equal(F.reshape(index, index.shape[:axis] + (1,) + index.shape[axis:]), slots), values, 0.0)
    return apply("stop_gradient", F.sum(chosen, axis))
