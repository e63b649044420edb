"""Sorting along one axis: the permutation (argsort) and the values moved by it.

`argsort` gives, along `axis`, the positions of the stable sort of its input as floats of
the input's dtype (exact integers): ascending with NaN last, or descending with NaN first
(MATLAB's sort). Ties keep their order. `permute_along(v, perm)` reads v at those positions
(sorting v is permute_along(v, argsort(v))), and `unpermute_along(g, perm)` writes g back to
them: the two are each other's adjoint, so the gradient of sorted values flows to the
elements they came from. codegen/kinds/sort.py writes their C.
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from .. import batching
from ..registry import Op, apply, register

SORT = "sort"
# the largest axis length whose positions every float dtype holds exactly (float32: 2^24)
_EXACT = {"float32": 2 ** 24, "float64": 2 ** 53}


def _check_axis(x, axis, what):
    if isinstance(axis, bool) or not isinstance(axis, int) or not 0 <= axis < x.ndim:
        raise ShapeError(f"{what} axis must be an int in [0, {x.ndim}) for an array with {x.ndim} "
                         f"dimensions, got {axis!r}")


def _argsort_infer(inputs, axis, descend):
    (x,) = inputs
    _check_axis(x, axis, "argsort")
    exact = _EXACT[np.dtype(x.dtype).name]
    if x.shape[axis] > exact:
        raise ShapeError(f"argsort along an axis of {x.shape[axis]} elements needs float64 data "
                         f"({x.dtype} holds positions up to {exact} exactly)")
    return x.shape, x.dtype


def argsort_numpy(x, axis, descend):
    """Stable sort order along axis: ascending NaN last, or descending NaN first."""
    moved = np.moveaxis(np.asarray(x), axis, -1)
    nan = np.isnan(moved)
    filled = np.where(nan, 0, moved)
    keys = (-filled, ~nan) if descend else (filled, nan)
    order = np.lexsort(keys, axis=-1)   # the last key is the primary one
    return np.moveaxis(order, -1, axis).astype(x.dtype)


def _along_infer(inputs, axis):
    v, perm = inputs
    _check_axis(v, axis, "permute_along")
    if v.shape != perm.shape:
        raise ShapeError(f"permute_along: the permutation's shape {perm.shape} differs from the "
                         f"array's {v.shape}")
    return v.shape, v.dtype


def _permute_numpy(v, perm, axis):
    return np.take_along_axis(np.asarray(v), np.asarray(perm).astype(np.int64), axis)


def _unpermute_numpy(g, perm, axis):
    out = np.zeros_like(np.asarray(g))
    np.put_along_axis(out, np.asarray(perm).astype(np.int64), g, axis)
    return out


def _batch(node, inputs, batched, size):
    """The same op one axis further in, every operand given the leading batch axis."""
    inputs = [i if b else batching.batched_input(i, size) for i, b in zip(inputs, batched)]
    return apply(node.op, *inputs, **{**dict(node.attrs), "axis": node.attr("axis") + 1})


register(Op("argsort", SORT, _argsort_infer, argsort_numpy, differentiable=False, batch=_batch))
register(Op("permute_along", SORT, _along_infer, _permute_numpy,
            lambda g, out, inputs, axis: [unpermute_along(g, inputs[1], axis), None], batch=_batch))
register(Op("unpermute_along", SORT, _along_infer, _unpermute_numpy,
            lambda g, out, inputs, axis: [permute_along(g, inputs[1], axis), None], batch=_batch))


def argsort(x, axis, descend=False):
    """Positions of the stable sort of x along axis (floats of x's dtype)."""
    return apply("argsort", x, axis=int(axis), descend=bool(descend))


def permute_along(v, perm, axis):
    """v[..., perm[..., i, ...], ...] along axis: v reordered by a permutation from argsort."""
    return apply("permute_along", v, perm, axis=int(axis))


def unpermute_along(g, perm, axis):
    """The inverse reordering: out[..., perm[..., i, ...], ...] = g[..., i, ...]."""
    return apply("unpermute_along", g, perm, axis=int(axis))
