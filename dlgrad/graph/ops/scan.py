"""Scans along one axis: cumsum and cumprod (numpy's, with one axis; the result keeps x's shape).

A scan is its own kind of loop (each output reads the one before it along the axis), so it
is neither elementwise nor a reduction; codegen/kinds/scan.py writes its C.
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from .. import layout
from ..registry import Op, apply, register
from . import elementwise as E
from . import movement as M

SCAN = "scan"


def _infer(inputs, axis):
    (x,) = inputs
    if isinstance(axis, bool) or not isinstance(axis, int) or not 0 <= axis < x.ndim:
        raise ShapeError(f"scan axis must be an int in [0, {x.ndim}) for an array with {x.ndim} "
                         f"dimensions, got {axis!r}")
    return x.shape, x.dtype


def flip(x, axis):
    """x reversed along `axis` (a slice with step -1, which codegen reads through strides)."""
    return M.slice_(x, tuple((n - 1, -1, -1) if d == axis else (0, n, 1) for d, n in enumerate(x.shape)))


def reverse_cumsum(g, axis):
    """out[j] = sum_{i >= j} g[i] along axis."""
    return flip(cumsum(flip(g, axis), axis), axis)


def _cumsum_vjp(g, out, inputs, axis):
    # out[i] = sum_{j <= i} x[j], so dx[j] = sum_{i >= j} g[i]: a cumsum of g from the end
    return [reverse_cumsum(g, axis)]


def _cumprod_vjp(g, out, inputs, axis):
    """dx[j] = sum_{i >= j} g[i] prod_{l <= i, l != j} x[l], exact where x has zeros.

    Before the first zero k along the axis, the products skip no zero: dx[j] = (sum_{i >= j}
    g[i] out[i]) / x[j] (out is 0 from k on). At k, dx[k] = sum_{i >= k} g[i] out'[i] with
    out' the cumprod of x with x[k] replaced by 1. After k every product holds x[k] = 0.
    """
    (x,) = inputs
    zero = E.eq(x, 0)
    zeros_so_far = cumsum(zero, axis)
    before = E.eq(zeros_so_far, 0)
    first = E.mul(zero, E.eq(zeros_so_far, 1))
    plain = E.div(reverse_cumsum(E.mul(g, out), axis), E.where(before, x, 1.0))
    at_zero = reverse_cumsum(E.mul(g, cumprod(E.where(first, 1.0, x), axis)), axis)
    return [E.where(before, plain, E.where(first, at_zero, 0.0))]


def _batch(node, inputs, batched, size):
    return apply(node.op, inputs[0], axis=node.attr("axis") + 1)


def _layout(node, layouts):
    ((_, _, lay),) = layouts
    if lay[node.attr("axis")] is not None:
        return layout.Mixed(f"{node.op} runs along an observation axis")
    return lay


register(Op("cumsum", SCAN, _infer, lambda x, axis: np.cumsum(x, axis=axis, dtype=x.dtype), _cumsum_vjp,
            batch=_batch, layout=_layout))
register(Op("cumprod", SCAN, _infer, lambda x, axis: np.cumprod(x, axis=axis, dtype=x.dtype), _cumprod_vjp,
            batch=_batch, layout=_layout))


def cumsum(x, axis):
    """Running sum of x along `axis` (0-based, normalised by the caller)."""
    return apply("cumsum", x, axis=int(axis))


def cumprod(x, axis):
    """Running product of x along `axis` (0-based, normalised by the caller)."""
    return apply("cumprod", x, axis=int(axis))
