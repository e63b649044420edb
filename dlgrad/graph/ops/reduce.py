"""Reductions over axes: sum, prod, max, min (numpy's axis/keepdims semantics)."""
from __future__ import annotations

import numpy as np

from .. import batching, layout
from ..registry import REDUCE, Op, apply, normalize_axes, register
from . import elementwise as E
from . import movement as M


def reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _infer(inputs, axes, keepdims):
    (x,) = inputs
    if axes != normalize_axes(axes, x.ndim):
        raise ValueError(f"reduction axes must be normalised, got {axes}")
    return reduced_shape(x.shape, axes, keepdims), x.dtype


def _restore(g, x, axes, keepdims):
    """g, shaped like a reduction of x, broadcast back to x's shape."""
    if not keepdims:
        g = M.reshape(g, reduced_shape(x.shape, axes, True))
    return M.broadcast_to(g, x.shape)


def _sum_vjp(g, out, inputs, axes, keepdims):
    return [_restore(g, inputs[0], axes, keepdims)]


def _extreme_vjp(g, out, inputs, axes, keepdims):
    # ties share the gradient equally
    x = inputs[0]
    mask = E.eq(x, _restore(out, x, axes, keepdims))
    count = _restore(sum_(mask, axes, keepdims=True), x, axes, True)
    return [E.div(E.mul(_restore(g, x, axes, keepdims), mask), count)]


def _prod_vjp(g, out, inputs, axes, keepdims):
    # d prod / d x_i is the product of the others; exact when zeros are present:
    # no zero -> prod / x_i; one zero -> product of the non-zeros at that zero, 0 elsewhere.
    x = inputs[0]
    is_zero = E.eq(x, 0)
    zeros = _restore(sum_(is_zero, axes, keepdims=True), x, axes, True)
    nonzero_prod = _restore(prod(E.where(is_zero, 1, x), axes, keepdims=True), x, axes, True)
    one_zero = E.mul(E.eq(zeros, 1), E.where(is_zero, nonzero_prod, 0))
    others = E.where(E.eq(zeros, 0), E.div(_restore(out, x, axes, keepdims), x), one_zero)
    return [E.mul(_restore(g, x, axes, keepdims), others)]


def _numpy(ufunc):
    def reference(x, axes, keepdims):
        return np.asarray(ufunc(x, axis=axes, keepdims=keepdims), dtype=x.dtype)
    return reference


_RULES = {"batch": batching.shifted_axes, "layout": layout.reduction}
register(Op("sum", REDUCE, _infer, _numpy(np.sum), _sum_vjp, **_RULES))
register(Op("prod", REDUCE, _infer, _numpy(np.prod), _prod_vjp, **_RULES))
register(Op("max", REDUCE, _infer, _numpy(np.max), _extreme_vjp, **_RULES))
register(Op("min", REDUCE, _infer, _numpy(np.min), _extreme_vjp, **_RULES))


def reduce(name, x, axes=None, keepdims=False):
    axes = normalize_axes(axes, x.ndim)
    if not axes and not keepdims and name == "sum":
        return x
    return apply(name, x, axes=axes, keepdims=bool(keepdims))


def sum_(x, axes=None, keepdims=False):
    return reduce("sum", x, axes, keepdims)


def prod(x, axes=None, keepdims=False):
    return reduce("prod", x, axes, keepdims)


def unbroadcast(g, shape):
    """Sum g over the axes that broadcasting to g.shape added or stretched, giving `shape`."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1)
    summed = sum_(g, axes, keepdims=True) if axes else g
    return M.reshape(summed, shape)
