"""Convolution on the "S..SCB" layout (spatial axes, then channels, then batch, batch fastest):
conv, and the two products its adjoint needs, each a primitive of its own.

    conv(x, w)              y[o, f, b]  = sum_{t, c} x[o*s + t*d - lo, g*Cg + c, b] * w[t, c, f]
    conv_transpose(y, w)    x[i, c, b]  = the transpose of conv in x (dX; also dltranspconv)
    conv_filter(x, y)       w[t, c, f]  = the transpose of conv in w (dW, a correlation of x with y)

with t the tap (kernel position), s stride, d dilation, lo the padding before each spatial axis,
g = f // Fg the group of filter f, Cg = C / groups. Positions outside x read zero: padding is a
range of the loops, never a padded copy. The three are linear in each argument and each one's
adjoints are the other two, so derivatives of any order stay convolutions
(codegen/kinds/conv.py writes their loops).
"""
from __future__ import annotations

import itertools

import numpy as np

from ...errors import ShapeError
from .. import layout
from ..registry import Op, apply, register, result_dtype

WINDOW = "window"


def out_size(n, k, stride, dilation, lo, hi) -> int:
    """Output length of a window of k taps over n positions padded by lo and hi."""
    return (n + lo + hi - (k - 1) * dilation - 1) // stride + 1


def _check_attrs(op, d, stride, dilation, padding, groups):
    for name, value in (("stride", stride), ("dilation", dilation)):
        if len(value) != d or any(not isinstance(v, int) or v < 1 for v in value):
            raise ShapeError(f"{op}: {name} must be {d} positive ints, got {value!r}")
    if len(padding) != d or any(len(p) != 2 or min(p) < 0 for p in padding):
        raise ShapeError(f"{op}: padding must be {d} pairs (before, after) of non-negative ints, got {padding!r}")
    if not isinstance(groups, int) or groups < 1:
        raise ShapeError(f"{op}: groups must be a positive int, got {groups!r}")


def _check_filters(op, w, d, channels, groups):
    """(kernel, channels per group, filters) of weights w (K1..Kd, Cg, F)."""
    if w.ndim != d + 2:
        raise ShapeError(f"{op}: weights need {d + 2} dimensions (kernel, channels per group, filters), "
                         f"got shape {w.shape}")
    kernel, cg, filters = w.shape[:d], w.shape[-2], w.shape[-1]
    if channels % groups or cg != channels // groups:
        raise ShapeError(f"{op}: {channels} channels in {groups} groups need weights with {channels // groups} "
                         f"channels per group, got shape {w.shape}" if channels % groups == 0 else
                         f"{op}: {channels} channels do not split into {groups} groups")
    if filters % groups:
        raise ShapeError(f"{op}: {filters} filters do not split into {groups} groups")
    return kernel, cg, filters


def _spatial(x, op):
    d = x.ndim - 2
    if not 1 <= d <= 3:
        raise ShapeError(f"{op}: data needs 1 to 3 spatial axes before its channel and batch axes, "
                         f"got shape {x.shape}")
    return d


def _outputs(op, size, kernel, stride, dilation, padding):
    out = tuple(out_size(n, k, s, dl, lo, hi)
                for n, k, s, dl, (lo, hi) in zip(size, kernel, stride, dilation, padding))
    if min(out) < 1:
        raise ShapeError(f"{op}: the kernel {tuple(kernel)} (dilation {dilation}) is larger than the "
                         f"padded input {tuple(n + lo + hi for n, (lo, hi) in zip(size, padding))}")
    return out


def _infer_conv(inputs, stride, dilation, padding, groups):
    x, w = inputs
    d = _spatial(x, "conv")
    _check_attrs("conv", d, stride, dilation, padding, groups)
    kernel, _, filters = _check_filters("conv", w, d, x.shape[-2], groups)
    return _outputs("conv", x.shape[:d], kernel, stride, dilation, padding) + (filters, x.shape[-1]), \
        result_dtype(inputs)


def _infer_transpose(inputs, stride, dilation, padding, groups, size):
    y, w = inputs
    d = _spatial(y, "conv_transpose")
    _check_attrs("conv_transpose", d, stride, dilation, padding, groups)
    if w.ndim != d + 2 or w.shape[-1] != y.shape[-2]:
        raise ShapeError(f"conv_transpose: weights of shape {w.shape} do not fit data of shape {y.shape}")
    cg = w.shape[-2]
    _check_filters("conv_transpose", w, d, cg * groups, groups)
    if len(size) != d or _outputs("conv_transpose", size, w.shape[:d], stride, dilation, padding) != y.shape[:d]:
        raise ShapeError(f"conv_transpose: output size {size!r} does not map to the data's spatial size "
                         f"{y.shape[:d]}")
    return tuple(size) + (cg * groups, y.shape[-1]), result_dtype(inputs)


def _infer_filter(inputs, stride, dilation, padding, groups, kernel):
    x, y = inputs
    d = _spatial(x, "conv_filter")
    _check_attrs("conv_filter", d, stride, dilation, padding, groups)
    if (y.ndim != x.ndim or y.shape[-1] != x.shape[-1] or len(kernel) != d
            or _outputs("conv_filter", x.shape[:d], kernel, stride, dilation, padding) != y.shape[:d]):
        raise ShapeError(f"conv_filter: data {x.shape} and output {y.shape} do not fit kernel {kernel!r}")
    if x.shape[-2] % groups or y.shape[-2] % groups:
        raise ShapeError(f"conv_filter: channels {x.shape[-2]} and filters {y.shape[-2]} do not split into "
                         f"{groups} groups")
    return tuple(kernel) + (x.shape[-2] // groups, y.shape[-2]), result_dtype(inputs)


# --- numpy references: one strided slice of the padded data per tap ------------------------
def _windows(size, kernel, stride, dilation, padding, out):
    """(tap, slices of the padded data it reads for every output position) per tap."""
    for tap in itertools.product(*map(range, kernel)):
        yield tap, tuple(slice(t * dl, t * dl + (o - 1) * s + 1, s)
                         for t, dl, s, o in zip(tap, dilation, stride, out))


def _grouped(a, groups):
    """(..., C, B) -> (..., G, C/G, B)."""
    return a.reshape(a.shape[:-2] + (groups, a.shape[-2] // groups, a.shape[-1]))


def _numpy_conv(x, w, stride, dilation, padding, groups):
    d, dtype = x.ndim - 2, np.result_type(x, w)
    xp = np.pad(x, tuple(padding) + ((0, 0), (0, 0)))
    kernel, cg, filters = w.shape[:d], w.shape[-2], w.shape[-1]
    out = _outputs("conv", x.shape[:d], kernel, stride, dilation, padding)
    y = np.zeros(out + (groups, filters // groups, x.shape[-1]), dtype)
    for tap, window in _windows(x.shape[:d], kernel, stride, dilation, padding, out):
        wt = w[tap].reshape(cg, groups, filters // groups)
        y += np.einsum("...gcb,cgf->...gfb", _grouped(xp[window], groups), wt)
    return y.reshape(out + (filters, x.shape[-1]))


def _numpy_transpose(y, w, stride, dilation, padding, groups, size):
    d, dtype = y.ndim - 2, np.result_type(y, w)
    kernel, cg, filters = w.shape[:d], w.shape[-2], w.shape[-1]
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(size, padding))
    xp = np.zeros(padded + (groups, cg, y.shape[-1]), dtype)
    for tap, window in _windows(size, kernel, stride, dilation, padding, y.shape[:d]):
        wt = w[tap].reshape(cg, groups, filters // groups)
        xp[window] += np.einsum("...gfb,cgf->...gcb", _grouped(y, groups), wt)
    crop = tuple(slice(lo, lo + n) for n, (lo, _) in zip(size, padding))
    return xp[crop].reshape(tuple(size) + (groups * cg, y.shape[-1]))


def _numpy_filter(x, y, stride, dilation, padding, groups, kernel):
    d, dtype = x.ndim - 2, np.result_type(x, y)
    xp = np.pad(x, tuple(padding) + ((0, 0), (0, 0)))
    cg, filters = x.shape[-2] // groups, y.shape[-2]
    w = np.zeros(tuple(kernel) + (cg, groups, filters // groups), dtype)
    yg = _grouped(y, groups)
    axes = "".join("ijk"[:d])
    for tap, window in _windows(x.shape[:d], kernel, stride, dilation, padding, y.shape[:d]):
        w[tap] = np.einsum(f"{axes}gcb,{axes}gfb->cgf", _grouped(xp[window], groups), yg)
    return w.reshape(tuple(kernel) + (cg, filters))


# --- adjoints: each op's are the other two --------------------------------------------------
def _geometry(node):
    return {k: node.attr(k) for k in ("stride", "dilation", "padding", "groups")}


def _spatial_shape(node):
    return node.shape[:node.ndim - 2]


def _vjp_conv(g, out, inputs, **attrs):
    x, w = inputs
    return [_cast(conv_transpose(g, w, size=_spatial_shape(x), **attrs), x),
            _cast(conv_filter(x, g, kernel=_spatial_shape(w), **attrs), w)]


def _vjp_transpose(g, out, inputs, size, **attrs):
    y, w = inputs
    return [_cast(conv(g, w, **attrs), y), _cast(conv_filter(g, y, kernel=_spatial_shape(w), **attrs), w)]


def _vjp_filter(g, out, inputs, kernel, **attrs):
    x, y = inputs
    return [_cast(conv_transpose(y, g, size=_spatial_shape(x), **attrs), x), _cast(conv(x, g, **attrs), y)]


def _layout(node, layouts):
    """The batch axis (last) passes through conv and conv_transpose; every other axis mixes."""
    out = [None] * node.ndim
    for position, x, lay in layouts:
        if any(e is not None for e in lay[:-1]) or (position == 1 and lay[-1] is not None):
            return layout.Mixed(f"{node.op} mixes neighbouring positions, channels and filters")
        if node.op == "conv_filter" and lay[-1] is not None:
            return layout.Mixed("conv_filter sums over the batch axis")
        out[-1] = lay[-1]
    return tuple(out)


# --- batching (graph/batching.py): `size` copies of a convolution as one convolution ----------
def _move(x, axes):
    return apply("permute", x, axes=tuple(axes))


def _merge(x, at):
    """x with axes at and at + 1 merged into one."""
    return apply("reshape", x, shape=x.shape[:at] + (x.shape[at] * x.shape[at + 1],) + x.shape[at + 2:])


def _copies_into_channels(a, d):
    """(size, S.., C, B) as (S.., size*C, B): copy s holds channels s*C to (s+1)*C - 1."""
    return _merge(_move(a, [*range(1, d + 1), 0, d + 1, d + 2]), d)


def _channels_into_copies(out, size, d, at):
    """The inverse for an output whose axis `at` is (size*F): copies first, F at `at`."""
    split = apply("reshape", out, shape=out.shape[:at] + (size, out.shape[at] // size) + out.shape[at + 1:])
    return _move(split, [at, *range(at), *range(at + 1, split.ndim)])


def _batch(node, inputs, batched, size):
    """Copies of conv (x batched) or conv_transpose (y batched) with shared weights join the
    batch axis: one convolution of size*B observations. Otherwise (weights batched, or
    conv_filter) the copies become groups: copy s of group g is group s*groups + g of one
    grouped convolution (grouped channels and filters are group-major), the unbatched
    operand broadcast to the copies."""
    d = node.ndim - 2
    attrs = dict(node.attrs)
    if node.op != "conv_filter" and batched == [True, False]:
        a = inputs[0]                       # (size, S.., C, B) -> (S.., C, size*B)
        out = apply(node.op, _merge(_move(a, [*range(1, d + 2), 0, d + 2]), d + 1), inputs[1], **attrs)
        split = apply("reshape", out, shape=out.shape[:-1] + (size, a.shape[-1]))
        return _move(split, [d + 1, *range(d + 1), d + 2])
    a, b = (x if flag else apply("broadcast_to", apply("reshape", x, shape=(1,) + x.shape), shape=(size,) + x.shape)
            for x, flag in zip(inputs, batched))
    attrs["groups"] = size * node.attr("groups")
    if node.op == "conv_filter":            # x and y: (S.., size*C, B), (O.., size*F, B)
        out = apply(node.op, _copies_into_channels(a, d), _copies_into_channels(b, d), **attrs)
        return _channels_into_copies(out, size, d, d + 1)
    # conv (x, w) or conv_transpose (y, w): w (size, K.., Cg, F) -> (K.., Cg, size*F)
    w = _merge(_move(b, [*range(1, d + 2), 0, d + 2]), d + 1)
    return _channels_into_copies(apply(node.op, _copies_into_channels(a, d), w, **attrs), size, d, d)


register(Op("conv", WINDOW, _infer_conv, _numpy_conv, _vjp_conv, layout=_layout, batch=_batch))
register(Op("conv_transpose", WINDOW, _infer_transpose, _numpy_transpose, _vjp_transpose, layout=_layout,
            batch=_batch))
register(Op("conv_filter", WINDOW, _infer_filter, _numpy_filter, _vjp_filter, layout=_layout, batch=_batch))


def _attrs(stride, dilation, padding, groups):
    return dict(stride=tuple(int(s) for s in stride), dilation=tuple(int(v) for v in dilation),
                padding=tuple((int(lo), int(hi)) for lo, hi in padding), groups=int(groups))


def _cast(node, like):
    return node if node.dtype == like.dtype else apply("cast", node, dtype=like.dtype)


def conv(x, w, stride, dilation, padding, groups=1):
    """Cross-correlation of x (S..S, C, B) with w (K..K, C/groups, F): (O..O, F, B)."""
    return apply("conv", x, w, **_attrs(stride, dilation, padding, groups))


def conv_transpose(y, w, stride, dilation, padding, groups=1, size=()):
    """The adjoint of conv in x: y (O..O, F, B) spread back through w to (size.., C, B)."""
    return apply("conv_transpose", y, w, size=tuple(int(n) for n in size),
                 **_attrs(stride, dilation, padding, groups))


def conv_filter(x, y, stride, dilation, padding, groups=1, kernel=()):
    """The adjoint of conv in w: sum over positions and batch of x's windows times y."""
    return apply("conv_filter", x, y, kernel=tuple(int(k) for k in kernel),
                 **_attrs(stride, dilation, padding, groups))
