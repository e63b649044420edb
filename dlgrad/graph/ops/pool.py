"""Max and average pooling over d consecutive axes, with their adjoints as primitives.

x has shape (*outer, S1..Sd, *inner): the d axes from `axis` on are pooled, the others
(channels and batch, on either side) are independent. attrs: window, stride and
padding ((lo, hi) per pooled axis, 0 <= lo, hi < window so that every window holds an
element of x). Padding is never stored: windows are clipped to x (loop bounds in C).

- avgpool: sum of the window / prod(window) (padding counts as zeros, MATLAB's default).
  avgpool_spread(g) is its transpose (each g / count added over its window), and vice versa.
- maxpool: the window's maximum. The argmax of a window is its *first* maximum in window
  order (row-major over the window's offsets); a NaN is a maximum (the first NaN wins).
  maxpool_scatter(x, g) adds each g to x's argmax of its window (the VJP of maxpool);
  maxpool_gather(x, v) reads v at those positions (maxpool_scatter's transpose in g;
  maxpool(x) == maxpool_gather(x, x)); maxpool_index(x) is the argmax as a flat 0-based
  position in x (float64), not differentiable.
The positions are piecewise constant in x, so no op here has a derivative in x's values
through them. codegen/kinds/pool.py writes their C.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ...errors import ShapeError
from .. import layout
from ..registry import Op, apply, register

POOL = "pool"


def pooled_shape(shape, axis, window, stride, padding, what="pooling"):
    """The shape of the pooled array, after checking the geometry against `shape`."""
    d = len(window)
    if not (isinstance(axis, int) and 0 <= axis and axis + d <= len(shape)):
        raise ShapeError(f"{what}: {d} pooled axes from axis {axis!r} do not fit an array of shape {shape}")
    if len(stride) != d or len(padding) != d:
        raise ShapeError(f"{what}: window {window}, stride {stride} and padding {padding} need one entry "
                         f"per pooled axis")
    out = list(shape)
    for i, (n, k, s, (lo, hi)) in enumerate(zip(shape[axis:], window, stride, padding)):
        if k < 1 or s < 1:
            raise ShapeError(f"{what}: window {window} and stride {stride} must be positive")
        if not (0 <= lo < k and 0 <= hi < k):
            raise ShapeError(f"{what}: padding {padding} must be non-negative and smaller than the "
                             f"window {window} on each side (every window must hold an element of the input)")
        if n + lo + hi < k:
            raise ShapeError(f"{what}: the window {window} is larger than the padded input "
                             f"{tuple(m + a + b for m, (a, b) in zip(shape[axis:], padding))}")
        out[axis + i] = (n + lo + hi - k) // s + 1
    return tuple(out)


def _check(x, attrs):
    return pooled_shape(x.shape, attrs["axis"], attrs["window"], attrs["stride"], attrs["padding"])


# --- numpy references: one pass per window offset, in window order --------------------------
def _windows(shape, axis, window, stride, padding):
    """For each window offset (window order): the input positions read by every output (a flat
    index into x, broadcast to the output's shape) and where they fall inside x."""
    out = pooled_shape(shape, axis, window, stride, padding)
    d = len(window)
    strides = np.cumprod((1,) + tuple(shape[::-1]))[::-1][1:]
    ndim = len(shape)

    def along(dim, values):
        return values.reshape(tuple(-1 if k == dim else 1 for k in range(ndim)))

    base = sum(along(k, np.arange(out[k]) * strides[k]) for k in range(ndim) if not axis <= k < axis + d)
    for offsets in itertools.product(*(range(k) for k in window)):
        flat, valid = base, True
        for i, w in enumerate(offsets):
            k = axis + i
            at = np.arange(out[k]) * stride[i] - padding[i][0] + w
            valid = valid & along(k, (at >= 0) & (at < shape[k]))
            flat = flat + along(k, np.clip(at, 0, shape[k] - 1) * strides[k])
        yield np.broadcast_to(flat, out), np.broadcast_to(valid, out)


def _argmax(x, axis, window, stride, padding):
    """(maximum, flat position of the first maximum) of every window."""
    flat_x = np.asarray(x).ravel()
    best = pos = have = None
    for flat, valid in _windows(x.shape, axis, window, stride, padding):
        v = flat_x[flat]
        if best is None:
            best, pos, have = v.copy(), flat.copy(), valid.copy()
            continue
        with np.errstate(invalid="ignore"):
            better = valid & (~have | (v > best) | (np.isnan(v) & ~np.isnan(best)))
        best, pos, have = np.where(better, v, best), np.where(better, flat, pos), have | valid
    return best, pos


def _maxpool(x, axis, window, stride, padding):
    return _argmax(x, axis, window, stride, padding)[0].astype(x.dtype)


def _avgpool(x, axis, window, stride, padding):
    flat_x, total = np.asarray(x).ravel(), None
    for flat, valid in _windows(x.shape, axis, window, stride, padding):
        v = flat_x[flat]
        total = np.where(valid, v, 0).astype(x.dtype) if total is None else np.where(valid, total + v, total)
    return (total / x.dtype.type(math.prod(window))).astype(x.dtype)


def _scatter_add(shape, dtype, positions, values):
    """zeros(shape) with values added at positions, in row-major order of the positions array."""
    out = np.zeros(math.prod(shape), dtype=dtype)
    np.add.at(out, positions.ravel(), values.ravel())
    return out.reshape(shape)


def _avgpool_spread(g, axis, window, stride, padding, shape):
    pairs = list(_windows(shape, axis, window, stride, padding))
    # (output, window offset) order: each element of x adds its windows' shares in the C's order
    flat = np.stack([f for f, _ in pairs], axis=-1)
    valid = np.stack([v for _, v in pairs], axis=-1)
    share = np.broadcast_to((g / g.dtype.type(math.prod(window)))[..., None], flat.shape)
    return _scatter_add(shape, g.dtype, flat[valid], share[valid])


def _maxpool_scatter(x, g, axis, window, stride, padding):
    _, pos = _argmax(x, axis, window, stride, padding)
    return _scatter_add(x.shape, g.dtype, pos, g)


def _maxpool_gather(x, v, axis, window, stride, padding):
    _, pos = _argmax(x, axis, window, stride, padding)
    return np.asarray(v).ravel()[pos]


def _maxpool_index(x, axis, window, stride, padding):
    return _argmax(x, axis, window, stride, padding)[1].astype(np.float64)


# --- shape rules ---------------------------------------------------------------------------
def _infer_pool(inputs, **attrs):
    (x,) = inputs
    return _check(x, attrs), x.dtype


def _infer_index(inputs, **attrs):
    (x,) = inputs
    return _check(x, attrs), "float64"


def _infer_spread(inputs, shape, **attrs):
    (g,) = inputs
    out = pooled_shape(tuple(shape), attrs["axis"], attrs["window"], attrs["stride"], attrs["padding"])
    if g.shape != out:
        raise ShapeError(f"avgpool_spread: g of shape {g.shape} does not match the pooled shape {out}")
    return tuple(shape), g.dtype


def _infer_scatter(inputs, **attrs):
    x, g = inputs
    if g.shape != _check(x, attrs):
        raise ShapeError(f"maxpool_scatter: g of shape {g.shape} does not match the pooled shape "
                         f"{_check(x, attrs)} of x {x.shape}")
    return x.shape, g.dtype


def _infer_gather(inputs, **attrs):
    x, v = inputs
    if v.shape != x.shape:
        raise ShapeError(f"maxpool_gather: v of shape {v.shape} must have x's shape {x.shape}")
    return _check(x, attrs), v.dtype


# --- VJPs, batching and layout rules ---------------------------------------------------------
def _vjp_max(g, out, inputs, **attrs):
    return [apply("maxpool_scatter", inputs[0], g, **attrs)]


def _vjp_avg(g, out, inputs, **attrs):
    return [apply("avgpool_spread", g, shape=inputs[0].shape, **attrs)]


def _vjp_spread(g, out, inputs, shape, **attrs):
    return [apply("avgpool", g, **attrs)]


def _vjp_scatter(g, out, inputs, **attrs):
    return [None, apply("maxpool_gather", inputs[0], g, **attrs)]


def _vjp_gather(g, out, inputs, **attrs):
    return [None, apply("maxpool_scatter", inputs[0], g, **attrs)]


def _batch(node, inputs, batched, size):
    attrs = dict(node.attrs)
    attrs["axis"] = node.attr("axis") + 1
    if "shape" in attrs:
        attrs["shape"] = (size,) + tuple(attrs["shape"])
    args = [i if b else apply("broadcast_to", apply("reshape", i, shape=(1,) + i.shape), shape=(size,) + i.shape)
            for i, b in zip(inputs, batched)]
    return apply(node.op, *args, **attrs)


def _layout(node, layouts):
    ((_, _, lay),) = layouts   # single-input ops: the other axes keep their observations
    axis, d = node.attr("axis"), len(node.attr("window"))
    if any(entry is not None for entry in lay[axis:axis + d]):
        return layout.Mixed(f"{node.op} pools along an observation axis")
    return lay


def _op(name, infer, numpy, vjp=None, differentiable=True, **rules):
    register(Op(name, POOL, infer, numpy, vjp, differentiable=differentiable, batch=_batch, **rules))


_op("maxpool", _infer_pool, _maxpool, _vjp_max, layout=_layout)
_op("avgpool", _infer_pool, _avgpool, _vjp_avg, layout=_layout)
_op("avgpool_spread", _infer_spread, _avgpool_spread, _vjp_spread, layout=_layout)
_op("maxpool_scatter", _infer_scatter, _maxpool_scatter, _vjp_scatter)
_op("maxpool_gather", _infer_gather, _maxpool_gather, _vjp_gather)
_op("maxpool_index", _infer_index, _maxpool_index, differentiable=False)


def geometry(axis, window, stride, padding) -> dict:
    """The attributes of a pooling node, as plain ints (0-based first pooled axis)."""
    return {"axis": int(axis), "window": tuple(int(k) for k in window),
            "stride": tuple(int(s) for s in stride),
            "padding": tuple((int(lo), int(hi)) for lo, hi in padding)}

