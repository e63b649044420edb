"""MATLAB's interp1: "linear", "nearest", "previous", "next", "pchip", "makima" and "spline".

Every method is piecewise on the segments [x_i, x_i+1): each query is compared with every
segment (memory xq.size * len(x) * columns, which suits the short tables MATLAB code
interpolates in), and the one holding it gives the value. The cubic methods are Hermite
cubics on the segments with slopes from the data: pchip's shape-preserving ones (Fritsch-Carlson
with MATLAB's end formula), the modified Akima ones, or the not-a-knot spline's (a linear solve, graph/ops/solve.py), so
gradients flow to v, xq and x through them; nearest, previous and next pass gradients to v only.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ShapeError
from . import functions as F
from .dispatch import asdlarray
from .dlarray import dlarray
from .join import concatenate
from .types import ArrayLike

METHODS = ("linear", "nearest", "previous", "next", "pchip", "makima", "spline")
_CUBIC = ("pchip", "makima", "spline")


def _column(a: dlarray, ndim: int) -> dlarray:
    """a (n,) as (n, 1, ...) against values of ndim dimensions."""
    return F.reshape(a, a.shape + (1,) * (ndim - 1))


def _pchip_end(h0: dlarray, h1: dlarray, m0: dlarray, m1: dlarray) -> dlarray:
    """The shape-preserving three-point end slope (MATLAB's pchip, scipy's PchipInterpolator)."""
    d = F.divide(F.subtract(F.multiply(F.add(F.multiply(h0, 2.0), h1), m0), F.multiply(h0, m1)), F.add(h0, h1))
    wrong_sign = F.not_equal(F.sign(d), F.sign(m0))
    overshoot = F.multiply(F.not_equal(F.sign(m0), F.sign(m1)), F.greater(F.abs(d), F.multiply(F.abs(m0), 3.0)))
    return F.where(wrong_sign, 0.0, F.where(overshoot, F.multiply(m0, 3.0), d))


def _pchip_slopes(h: dlarray, delta: dlarray) -> dlarray:
    n = h.shape[0] + 1
    if n == 2:
        return concatenate([delta, delta])
    hk = _column(h, delta.ndim)
    before, after = delta[:-1], delta[1:]
    w1 = F.add(F.multiply(hk[1:], 2.0), hk[:-1])
    w2 = F.add(hk[1:], F.multiply(hk[:-1], 2.0))
    flat = F.maximum(F.not_equal(F.sign(before), F.sign(after)),
                     F.maximum(F.equal(before, 0), F.equal(after, 0)))
    safe_before, safe_after = F.where(flat, 1.0, before), F.where(flat, 1.0, after)
    mean = F.divide(F.add(w1, w2), F.add(F.divide(w1, safe_before), F.divide(w2, safe_after)))
    inner = F.where(flat, 0.0, mean)
    first = _pchip_end(hk[:1], hk[1:2], delta[:1], delta[1:2])
    last = _pchip_end(hk[-1:], hk[-2:-1], delta[-1:], delta[-2:-1])
    return concatenate([first, inner, last])


def _makima_slopes(h: dlarray, delta: dlarray) -> dlarray:
    """The modified Akima slopes (MATLAB's makima): differences extended by two lines at each end,
    each slope a weighted mean of its neighbours, weights |d_k+1 - d_k| + |d_k+1 + d_k| / 2 (0 where
    both weights are 0)."""
    if h.shape[0] == 1:
        return concatenate([delta, delta])
    before = F.subtract(F.multiply(delta[:1], 2.0), delta[1:2])
    after = F.subtract(F.multiply(delta[-1:], 2.0), delta[-2:-1])
    ext = concatenate([F.subtract(F.multiply(before, 2.0), delta[:1]), before, delta, after,
                       F.subtract(F.multiply(after, 2.0), delta[-1:])])
    weights = F.add(F.abs(F.subtract(ext[1:], ext[:-1])), F.multiply(F.abs(F.add(ext[1:], ext[:-1])), 0.5))
    w1, w2 = weights[:-2], weights[2:]
    total = F.add(w1, w2)
    none = F.equal(total, 0)
    mean = F.divide(F.add(F.multiply(w2, ext[1:-2]), F.multiply(w1, ext[2:-1])), F.where(none, 1.0, total))
    return F.where(none, 0.0, mean)


def _spline_slopes(h: dlarray, delta: dlarray) -> dlarray:
    """The not-a-knot cubic spline's slopes (MATLAB's spline; n = 2 a line, n = 3 a parabola)."""
    from .linalg import solve
    n = h.shape[0] + 1
    if n == 2:
        return concatenate([delta, delta])
    hk = _column(h, delta.ndim)
    if n == 3:   # the parabola through the three points
        curve = F.divide(F.subtract(delta[1:], delta[:1]), F.add(hk[:1], hk[1:]))
        return concatenate([F.subtract(delta[:1], F.multiply(curve, hk[:1])),
                            F.add(delta[:1], F.multiply(curve, hk[:1])),
                            F.add(delta[1:], F.multiply(curve, hk[1:]))])
    start, end = F.add(h[0], h[1]), F.add(h[-1], h[-2])
    diagonal = concatenate([h[1:2], F.multiply(F.add(h[:-1], h[1:]), 2.0), h[-2:-1]])
    upper = concatenate([F.reshape(start, (1,)), h[:-1], np.zeros(1, h.dtype)])
    lower = concatenate([np.zeros(1, h.dtype), h[1:], F.reshape(end, (1,))])
    matrix = F.add(F.add(F.multiply(F.reshape(diagonal, (n, 1)), np.eye(n, dtype=h.dtype)),
                         F.multiply(F.reshape(upper, (n, 1)), np.eye(n, k=1, dtype=h.dtype))),
                   F.multiply(F.reshape(lower, (n, 1)), np.eye(n, k=-1, dtype=h.dtype)))
    first = F.divide(F.add(F.multiply(F.multiply(F.add(hk[:1], F.multiply(start, 2.0)), hk[1:2]), delta[:1]),
                           F.multiply(F.multiply(hk[:1], hk[:1]), delta[1:2])), start)
    inner = F.multiply(F.add(F.multiply(hk[1:], delta[:-1]), F.multiply(hk[:-1], delta[1:])), 3.0)
    last = F.divide(F.add(F.multiply(F.multiply(hk[-1:], hk[-1:]), delta[-2:-1]),
                          F.multiply(F.multiply(F.add(F.multiply(end, 2.0), hk[-1:]), hk[-2:-1]), delta[-1:])), end)
    rhs = concatenate([first, inner, last])
    flat = F.reshape(rhs, (n, -1))
    return F.reshape(solve(matrix, flat), rhs.shape)


def interp1(x: ArrayLike, v: ArrayLike, xq: Any, method: Any = "linear", extrapolation: Any = None) -> dlarray:
    """MATLAB's interp1(x, v, xq, method, extrapolation) for increasing sample points x.

    v is (n,) or (n, ...) (each column a set of values, as MATLAB's matrix v); the result is
    xq.shape + v.shape[1:]. method: "linear" (default), "nearest" (a query half way goes to the
    later point), "previous", "next", "pchip" (or its synonym "cubic"), "makima" or "spline" (not-a-knot). Outside [x[0], x[-1]]:
    NaN, or `extrapolation` (a number), or with "extrap" the method carried on ("previous" has
    nothing left of x[0] and "next" nothing right of x[-1]: NaN there). As in MATLAB, "pchip",
    "makima" and "spline" extrapolate by default.
    """
    if method == "cubic":   # MATLAB's synonym
        method = "pchip"
    if method not in METHODS:
        raise ValueError(f"interp1 method must be one of {METHODS}, got {method!r}")
    x, v, xq = asdlarray(x), asdlarray(v), asdlarray(xq)
    if x.ndim != 1 or v.ndim < 1 or v.shape[0] != x.shape[0] or x.shape[0] < 2:
        raise ShapeError(f"interp1 needs sample points x of shape (n,), n >= 2, and values v of shape "
                         f"(n,) or (n, ...), got x {x.shape} and v {v.shape}")
    if x._node is None:
        if not (np.diff(x._data) > 0).all():
            raise ValueError("interp1 sample points x must be strictly increasing (and not NaN)")
    if extrapolation is None and method in _CUBIC:
        extrapolation = "extrap"
    extend = isinstance(extrapolation, str)
    if extend and extrapolation != "extrap":
        raise ValueError(f"interp1 extrapolation must be a number or 'extrap', got {extrapolation!r}")
    if not extend and extrapolation is not None and not isinstance(extrapolation, (int, float)):
        raise TypeError(f"interp1 extrapolation must be a number or 'extrap', got {extrapolation!r}")
    n, columns = x.shape[0], v.shape[1:]
    x0, x1 = x[:-1], x[1:]
    q = F.reshape(xq, xq.shape + (1,))
    if extend:   # the first segment reaches down to -inf, the last up to +inf
        lower = concatenate([np.array([-math.inf], x.dtype), x0[1:]]) if n > 2 else np.array([-math.inf], x.dtype)
        upper = concatenate([x1[:-1], np.array([math.inf], x.dtype)]) if n > 2 else np.array([math.inf], x.dtype)
        inside = F.multiply(F.greater_equal(q, lower), F.less(q, upper))
    else:        # the last segment includes its right end
        last = np.zeros(n - 1, x.dtype)
        last[-1] = 1.0
        below_top = F.maximum(F.less(q, x1), F.multiply(F.equal(q, x1), last))
        inside = F.multiply(F.greater_equal(q, x0), below_top)
    spread = xq.shape + (n - 1,) + (1,) * len(columns)   # segments then columns

    def per_query(a: dlarray) -> dlarray:
        return F.reshape(a, spread) if columns else a

    step = F.subtract(x1, x0)
    t = per_query(F.divide(F.subtract(q, x0), step))
    start, stop = v[:-1], v[1:]
    if method == "linear":
        piece = F.add(start, F.multiply(t, F.subtract(stop, start)))
    elif method == "nearest":
        piece = F.where(per_query(F.less(F.subtract(q, x0), F.subtract(x1, q))), start, stop)
    elif method == "previous":
        piece = F.where(per_query(F.greater_equal(q, x1)), stop, start)
    elif method == "next":
        piece = F.where(per_query(F.less_equal(q, x0)), start, stop)
    else:
        delta = F.divide(F.subtract(stop, start), _column(step, v.ndim))
        slopes = {"pchip": _pchip_slopes, "makima": _makima_slopes, "spline": _spline_slopes}[method](step, delta)
        width = _column(step, v.ndim)
        u = F.subtract(1.0, t)
        h00 = F.multiply(F.add(1.0, F.multiply(t, 2.0)), F.multiply(u, u))
        h10 = F.multiply(t, F.multiply(u, u))
        h01 = F.multiply(F.multiply(t, t), F.subtract(3.0, F.multiply(t, 2.0)))
        h11 = F.multiply(F.multiply(t, t), F.negative(u))
        piece = F.add(F.add(F.multiply(h00, start), F.multiply(h10, F.multiply(width, slopes[:-1]))),
                      F.add(F.multiply(h01, stop), F.multiply(h11, F.multiply(width, slopes[1:]))))
    inside = per_query(inside)
    segment_axis = xq.ndim
    value = F.sum(F.where(inside, piece, 0.0), axis=segment_axis)
    if extend:
        if method == "previous":   # nothing precedes x[0]
            return F.where(_broadcast(F.less(xq, x[0]), columns), math.nan, value)
        if method == "next":       # nothing follows x[-1]
            return F.where(_broadcast(F.greater(xq, x[-1]), columns), math.nan, value)
        return value
    fill = math.nan if extrapolation is None else float(extrapolation)
    return F.where(F.greater(F.sum(inside, axis=segment_axis), 0), value, fill)


def _broadcast(mask: dlarray, columns: tuple[int, ...]) -> dlarray:
    """A mask over the queries, against the result's column axes."""
    return F.reshape(mask, mask.shape + (1,) * len(columns)) if columns else mask
