"""fill_index: float index values as int64, with `fill` for every value that is not an index.

fill_index(x; high, fill) is x where x is a whole number in [0, high), else fill (out of range,
negative, fractional, NaN). It serves lookups whose out-of-range indices have a meaning instead
of an error, as MATLAB's wordEmbeddingLayer with OOVMode "map-to-last" reads an extra last column
for every out-of-vocabulary word: its results lie in [0, max(high, fill + 1)) by construction,
so a take reading them needs no check of its indices before the kernels (graph/ops/take.py).
"""
from __future__ import annotations

import numpy as np

from ..node import INDEX_DTYPE
from ..registry import Op, apply, register

FILL_INDEX = "fill_index"   # the op's registry kind: its own loop (codegen/kinds/fill_index.py)


def _count(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"fill_index: {what} must be an int >= 0, got {value!r}")


def _infer(inputs, high, fill):
    (x,) = inputs
    if x.dtype not in ("float64", "float32"):
        raise TypeError(f"fill_index reads float index values, got {x.dtype}")
    _count(high, "high")
    _count(fill, "fill")
    return x.shape, INDEX_DTYPE


def valid(x, high):
    """Whether each value of the float array x is a whole number in [0, high)."""
    x = np.asarray(x)
    inside = (x >= 0) & (x < high)   # False for NaN
    return inside & (np.where(inside, x, 0) == np.floor(np.where(inside, x, 0)))


def _numpy(x, high, fill):
    ok = valid(x, high)
    return np.where(ok, np.where(ok, x, 0).astype(np.int64), np.int64(fill))


register(Op("fill_index", FILL_INDEX, _infer, _numpy, lambda g, out, inputs, high, fill: [None],
            differentiable=False))


def fill_index(x, high, fill):
    """x (float index values) as int64: x where it is a whole number in [0, high), else fill."""
    return apply("fill_index", x, high=int(high), fill=int(fill))
