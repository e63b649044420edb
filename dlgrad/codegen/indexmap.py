"""Affine index maps: how a kernel's loop coordinates address a tensor it reads.

A map sends consumer coordinates c (the loop indices) to the coordinates k of a
tensor: per tensor axis, k = a + b * c[p] (or the constant a when p is None), valid
only where every c[p] lies in its interval. Movement ops (permute, broadcast,
slice, pad, unit-axis reshape; each op states its map in graph terms, see
graph/affine.py) and elementwise broadcasting compose exactly in this form, so kernels read through them without copies; anything else (a
reshape that merges axes of a strided view) asks for the tensor to be
materialised first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..graph.affine import NotAffine, broadcast_affine
from ..graph.registry import OPS



@dataclass(frozen=True)
class IndexMap:
    rank: int        # number of consumer coordinates
    axes: tuple      # per tensor axis: (p, a, b) meaning a + b * c[p]; p None -> constant a
    bounds: tuple    # per consumer coordinate: (lo, hi) valid interval or None
    empty: bool = False  # statically never valid (reads as zero)

    @staticmethod
    def identity(shape):
        return IndexMap(len(shape), tuple((p, 0, 1) for p in range(len(shape))), (None,) * len(shape))

    def is_identity(self):
        return (not self.empty and all(b is None for b in self.bounds)
                and self.axes == tuple((p, 0, 1) for p in range(len(self.axes)))
                and len(self.axes) == self.rank)

    def uses(self):
        return {p for p, _, b in self.axes if p is not None and b != 0}

    def masked(self):
        return self.empty or any(b is not None for b in self.bounds)

    def then(self, inner: "IndexMap") -> "IndexMap":
        """The map c -> k obtained by following self (c -> j) and then inner (j -> k)."""
        bounds = list(self.bounds)
        empty = self.empty or inner.empty
        for q, interval in enumerate(inner.bounds):
            if interval is None:
                continue
            lo, hi = interval
            p, a, b = self.axes[q] if q < len(self.axes) else (None, 0, 0)
            if p is None or b == 0:
                empty = empty or not (lo <= a < hi)
                continue
            bounds[p] = _intersect(bounds[p], _solve(lo, hi, a, b))
        axes = []
        for p, a, b in inner.axes:
            if p is None or b == 0:
                axes.append((None, a, 0))
                continue
            p1, a1, b1 = self.axes[p]
            if p1 is None or b1 == 0:
                axes.append((None, a + b * a1, 0))
            else:
                axes.append((p1, a + b * a1, b * b1))
        empty = empty or any(lo >= hi for lo, hi in filter(None, bounds))
        return IndexMap(self.rank, tuple(axes), tuple(bounds), empty)


def _solve(lo, hi, a, b):
    """The interval of c with lo <= a + b*c < hi (b != 0)."""
    if b > 0:
        return (-((a - lo) // b), -((a - hi) // b))    # ceil((lo-a)/b), ceil((hi-a)/b)
    return ((a - hi) // -b + 1, (a - lo) // -b + 1)


def _intersect(x, y):
    if x is None:
        return y
    return (max(x[0], y[0]), min(x[1], y[1]))


def broadcast_map(from_shape, to_shape):
    """Coordinates of an operand of shape from_shape inside a broadcast result of to_shape."""
    return _from_affine(broadcast_affine(from_shape, to_shape))


def movement_map(node):
    """The map from a movement node's coordinates to its input's (the op's index_map), or raise NotAffine."""
    rule = OPS[node.op].index_map
    if rule is None:
        raise NotAffine(node.op)
    return _from_affine(rule(node))


def _from_affine(affine):
    return IndexMap(len(affine.bounds), tuple(affine.axes), tuple(affine.bounds))


def linear(imap: IndexMap, shape):
    """(offset, coefficient per consumer coordinate) of the C-order flat index into `shape`."""
    stride, strides = 1, [0] * len(shape)
    for d in range(len(shape) - 1, -1, -1):
        strides[d] = stride
        stride *= shape[d]
    offset, coefs = 0, [0] * imap.rank
    for (p, a, b), s in zip(imap.axes, strides):
        offset += a * s
        if p is not None and b != 0:
            coefs[p] += b * s
    return offset, tuple(coefs)


def c_strides(shape):
    stride, strides = 1, [0] * len(shape)
    for d in range(len(shape) - 1, -1, -1):
        strides[d] = stride
        stride *= shape[d]
    return tuple(strides)


def coalesce(extents, accesses, masked, classes=None):
    """Merge adjacent loop dims that every access walks contiguously.

    Returns (extents, accesses, dim_of) where dim_of maps an old dim to its new loop
    (None for a dropped extent-1 dim). Masked dims and dims of different `classes`
    (kept vs reduced) are never merged.
    """
    classes = classes or [0] * len(extents)
    groups = []   # [dims]
    for d, n in enumerate(extents):
        if n == 1 and d not in masked:
            continue
        if groups:
            last = groups[-1][-1]
            if (d not in masked and last not in masked and classes[d] == classes[last]
                    and all(a[last] == a[d] * n for a in accesses)):
                groups[-1].append(d)
                continue
        groups.append([d])
    new_extents = [int(math.prod(extents[d] for d in g)) for g in groups]
    new_accesses = [tuple(a[g[-1]] for g in groups) for a in accesses]
    dim_of = {d: i for i, g in enumerate(groups) for d in g}
    return new_extents, new_accesses, dim_of, [classes[g[0]] for g in groups]
