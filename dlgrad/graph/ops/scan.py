"""Scans along one axis: cumsum (numpy's cumsum with one axis; the result keeps x's shape).

A scan is its own kind of loop (each output reads the one before it along the axis), so it
is neither elementwise nor a reduction; codegen/kinds/scan.py writes its C.
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from .. import layout
from ..registry import Op, apply, register
from . import movement as M

SCAN = "scan"


def _infer(inputs, axis):
    (x,) = inputs
    if isinstance(axis, bool) or not isinstance(axis, int) or not 0 <= axis < x.ndim:
        raise ShapeError(f"cumsum axis must be an int in [0, {x.ndim}) for an array with {x.ndim} "
                         f"dimensions, got {axis!r}")
    return x.shape, x.dtype


def _numpy(x, axis):
    return np.cumsum(x, axis=axis, dtype=x.dtype)


def flip(x, axis):
    """x reversed along `axis` (a slice with step -1, which codegen reads through strides)."""
    return M.slice_(x, tuple((n - 1, -1, -1) if d == axis else (0, n, 1) for d, n in enumerate(x.shape)))


def _vjp(g, out, inputs, axis):
    # out[i] = sum_{j <= i} x[j], so dx[j] = sum_{i >= j} g[i]: a cumsum of g from the end
    return [flip(cumsum(flip(g, axis), axis), axis)]


def _batch(node, inputs, batched, size):
    return apply(node.op, inputs[0], axis=node.attr("axis") + 1)


def _layout(node, layouts):
    ((_, _, lay),) = layouts
    if lay[node.attr("axis")] is not None:
        return layout.Mixed(f"{node.op} sums along an observation axis")
    return lay


register(Op("cumsum", SCAN, _infer, _numpy, _vjp, batch=_batch, layout=_layout))


def cumsum(x, axis):
    """Running sum of x along `axis` (0-based, normalised by the caller)."""
    return apply("cumsum", x, axis=int(axis))
