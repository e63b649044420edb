"""MATLAB's array rearrangements, each an exact composition of movement ops: flip (a slice
with step -1), circshift (two slices joined), repmat and repelem (broadcast + reshape),
triu/tril (a constant mask through where), ipermute and squeeze.

Where MATLAB's default dimension is "the first whose size is not 1", so is dlgrad's (0-based).
"""
from __future__ import annotations

from typing import Any

from .types import ArrayLike

import numpy as np

from ..errors import ShapeError
from ..graph.node import Const
from ..graph.registry import normalize_axes
from . import functions as F
from .dispatch import apply, asdlarray
from .dlarray import dlarray, rebox
from .join import concatenate


def first_nonsingleton(x) -> int:
    """MATLAB's default dimension: the first axis whose size is not 1 (0 if there is none)."""
    return next((d for d, n in enumerate(x.shape) if n != 1), 0)


def _axes(x, axis, what):
    if x.ndim == 0:
        raise ShapeError(f"{what} needs an array with at least 1 dimension, got a 0-d array")
    return normalize_axes(first_nonsingleton(x) if axis is None else axis, x.ndim, f"{what} axis")


def _slice(x, axis, start, stop, step):
    index = tuple((start, stop, step) if d == axis else (0, n, 1) for d, n in enumerate(x.shape))
    return apply("slice", x, index=index)


def flip(x: ArrayLike, axis: Any = None) -> dlarray:
    """x reversed along axis (an int or a tuple; default: MATLAB's first non-singleton axis)."""
    x = asdlarray(x)
    for a in _axes(x, axis, "flip"):
        if x.shape[a] > 1:
            x = _slice(x, a, x.shape[a] - 1, -1, -1)
    return rebox(x)


def circshift(x: ArrayLike, k: Any, axis: Any = None) -> dlarray:
    """x shifted circularly by k places along axis (numpy.roll's direction: y[i] = x[i - k]).

    k an int shifts along axis (default: the first non-singleton one); k a sequence shifts
    axis 0 by k[0], axis 1 by k[1], ... (MATLAB's circshift(A, [k1 k2])).
    """
    x = asdlarray(x)
    if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
        shifts = {a: int(k) for a in _axes(x, axis, "circshift")}
    else:
        k = [int(s) for s in k]
        if axis is not None:
            raise TypeError("circshift takes a sequence of shifts without axis (one per leading axis)")
        if len(k) > x.ndim:
            raise ShapeError(f"circshift: {len(k)} shifts for an array with {x.ndim} dimensions")
        shifts = dict(enumerate(k))
    for a, s in shifts.items():
        n = x.shape[a]
        s = s % n if n else 0
        if s:
            x = concatenate([_slice(x, a, n - s, n, 1), _slice(x, a, 0, n - s, 1)], axis=a)
    return rebox(x)


def _counts(reps, what):
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    if any(isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 0 for r in reps):
        raise ValueError(f"{what} counts must be non-negative ints, got {reps}")
    return tuple(int(r) for r in reps)


def repmat(x: ArrayLike, *reps: Any) -> dlarray:
    """Tile x: repmat(x, n) repeats it n x n times (MATLAB), repmat(x, m, n, ...) or
    repmat(x, (m, n, ...)) as numpy.tile (counts align with x's trailing axes)."""
    x = asdlarray(x)
    if len(reps) == 1 and isinstance(reps[0], (int, np.integer)):
        reps = (reps[0], reps[0])
    reps = _counts(reps[0] if len(reps) == 1 else reps, "repmat")
    return _tile(x, reps)


def _tile(x, reps):
    ndim = max(x.ndim, len(reps))
    shape = (1,) * (ndim - x.ndim) + x.shape
    reps = (1,) * (ndim - len(reps)) + reps
    spread = F.reshape(x, tuple(d for s in shape for d in (1, s)))
    tiled = apply("broadcast_to", spread, shape=tuple(d for r, s in zip(reps, shape) for d in (r, s)))
    return F.reshape(tiled, tuple(r * s for r, s in zip(reps, shape)))


def repelem(x: ArrayLike, *counts: Any) -> dlarray:
    """Repeat each element: repelem(v, n) for a 1-D v (n an int, or one count per element);
    repelem(x, r0, r1, ...) repeats along axis d r_d times (one int per axis)."""
    x = asdlarray(x)
    if len(counts) == 1:
        if x.ndim != 1:
            raise ShapeError(f"repelem(x, n) needs a 1-D x, got shape {x.shape}; give one count per axis")
        return repeat(x, counts[0], 0)
    counts = _counts(counts, "repelem")
    if len(counts) != x.ndim:
        raise ShapeError(f"repelem needs one count per axis of x ({x.ndim}), got {len(counts)}")
    spread = F.reshape(x, tuple(d for s in x.shape for d in (s, 1)))
    tiled = apply("broadcast_to", spread, shape=tuple(d for s, r in zip(x.shape, counts) for d in (s, r)))
    return F.reshape(tiled, tuple(s * r for s, r in zip(x.shape, counts)))


def repeat(x, repeats, axis=None) -> dlarray:
    """numpy.repeat: each element repeated along axis (None: x flattened), repeats an int or one
    count per element; one gather of constant positions."""
    x = asdlarray(x)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    (axis,) = normalize_axes(axis, x.ndim, "repeat axis")
    repeats = np.asarray(repeats)
    if repeats.dtype.kind not in "iu" or (repeats < 0).any():
        raise ValueError(f"repeat counts must be non-negative ints, got {repeats!r}")
    positions = np.repeat(np.arange(x.size).reshape(x.shape), repeats, axis=axis)
    return apply("gather", x, indices=Const(np.ascontiguousarray(positions, dtype=np.int64)))


def _triangle(x, k, keep, what):
    x = asdlarray(x)
    if x.ndim < 2:
        raise ShapeError(f"{what} needs a matrix (or a stack of them), got shape {x.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"{what} diagonal offset k must be an int, got {k!r}")
    mask = keep(np.ones(x.shape[-2:], dtype=x.dtype), int(k))
    return F.where(mask, x, 0.0)


def triu(x: ArrayLike, k: Any = 0) -> dlarray:
    """The upper triangle of the last two axes: zero below diagonal k (k > 0: above the main)."""
    return _triangle(x, k, np.triu, "triu")


def tril(x: ArrayLike, k: Any = 0) -> dlarray:
    """The lower triangle of the last two axes: zero above diagonal k (k < 0: below the main)."""
    return _triangle(x, k, np.tril, "tril")


def ipermute(x: ArrayLike, order: Any) -> dlarray:
    """The inverse of permute(x, order): ipermute(permute(x, order), order) is x (0-based axes)."""
    order = tuple(int(a) for a in order)
    if sorted(order) != list(range(len(order))):
        raise ShapeError(f"ipermute order {order} is not a permutation of 0..{len(order) - 1}")
    return F.transpose(x, tuple(int(i) for i in np.argsort(order)))


def squeeze(x: ArrayLike, axis: Any = None) -> dlarray:
    """x without its axes of length 1 (numpy.squeeze: a 1 x n row becomes (n,), unlike MATLAB)."""
    x = asdlarray(x)
    axes = range(x.ndim) if axis is None else normalize_axes(axis, x.ndim, "squeeze axis")
    if axis is not None and any(x.shape[a] != 1 for a in axes):
        raise ShapeError(f"squeeze axis {axis}: only axes of length 1 can be removed from shape {x.shape}")
    return F.reshape(x, tuple(d for i, d in enumerate(x.shape) if not (i in axes and d == 1)))
