"""2-D pooling on "SSCB" data, from pad + gather + reductions (dlconv, re-exported here, lives
in convolution.py as a primitive of its own).

No primitive of their own: the patches are one static gather (its adjoint a scatter),
so gradients, fusion and C come from the registry ops.
"""
from __future__ import annotations

import math

import numpy as np

from .. import functions as F
from ..dispatch import apply, asdlarray
from ..formats import FormatError, stripdims
from .common import formatted_input, relabel
from .convolution import dlconv, dltranspconv  # noqa: F401  (re-exported)


def _pair(value, what, op):
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"{op}: {what} must be an int or a pair, got {value}")
    return value


def _padding(padding, size, kernel, stride, dilation, op):
    """((top, bottom), (left, right)) for Padding = int, pair, (top, bottom, left, right) or 'same'."""
    if isinstance(padding, str):
        if padding != "same":
            raise ValueError(f"{op}: Padding must be 'same', an int, a pair or 4 values, got {padding!r}")
        pads = []
        for n, k, s, d in zip(size, kernel, stride, dilation):
            total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    if isinstance(padding, (int, np.integer)):
        return (int(padding),) * 2, (int(padding),) * 2
    padding = tuple(int(p) for p in padding)
    if len(padding) == 2:
        return (padding[0],) * 2, (padding[1],) * 2
    if len(padding) == 4:
        return padding[:2], padding[2:]
    raise ValueError(f"{op}: Padding must be 'same', an int, a pair or 4 values, got {padding}")


def _patches(x, kernel, stride, dilation, padding, op, per_channel):
    """(padded-input gather, output size, valid mask) for windows over the two S axes.

    per_channel=False: shape (kh*kw*C, Ho*Wo*B) (rows ordered kh, kw, C, like the weights);
    per_channel=True: shape (kh*kw, Ho*Wo*C*B).
    """
    H, W, C, B = x.shape
    (pt, pb), (pl, pr) = _padding(padding, (H, W), kernel, stride, dilation, op)
    Hp, Wp = H + pt + pb, W + pl + pr
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    Ho, Wo = (Hp - (kh - 1) * dh - 1) // sh + 1, (Wp - (kw - 1) * dw - 1) // sw + 1
    if Ho < 1 or Wo < 1:
        raise FormatError(f"{op}: the window ({kh}x{kw}, dilation {dilation}) is larger than the "
                          f"padded input ({Hp}x{Wp})")
    if (pt, pb, pl, pr) != (0, 0, 0, 0):
        x = apply("pad", x, shape=(Hp, Wp, C, B),
                  index=((pt, pt + H, 1), (pl, pl + W, 1), (0, C, 1), (0, B, 1)))
    a, b = np.arange(kh), np.arange(kw)
    i, j, c, n = np.arange(Ho), np.arange(Wo), np.arange(C), np.arange(B)
    if per_channel:   # axes a, b, i, j, c, n
        rows = (i[None, None, :, None, None, None] * sh + a[:, None, None, None, None, None] * dh)
        cols = (j[None, None, None, :, None, None] * sw + b[None, :, None, None, None, None] * dw)
        chan, batch = c[None, None, None, None, :, None], n[None, None, None, None, None, :]
        flat_shape = (kh * kw, Ho * Wo * C * B)
    else:             # axes a, b, c, i, j, n
        rows = (i[None, None, None, :, None, None] * sh + a[:, None, None, None, None, None] * dh)
        cols = (j[None, None, None, None, :, None] * sw + b[None, :, None, None, None, None] * dw)
        chan, batch = c[None, None, :, None, None, None], n[None, None, None, None, None, :]
        flat_shape = (kh * kw * C, Ho * Wo * B)
    positions = ((rows * Wp + cols) * C + chan) * B + batch
    valid = (rows >= pt) & (rows < pt + H) & (cols >= pl) & (cols < pl + W)
    valid = np.broadcast_to(valid, positions.shape).reshape(flat_shape)
    gathered = apply("gather", x, indices=_const(positions.reshape(flat_shape)))
    return gathered, (Ho, Wo), valid


def _const(positions):
    from ...graph.node import Const
    return Const(np.ascontiguousarray(positions, dtype=np.int64))


def _pool(X, poolsize, Stride, Padding, DataFormat, op, reduce):
    x, fmt, keep = formatted_input(X, "SCB", op, DataFormat)
    if fmt != "SSCB":
        raise FormatError(f"{op} needs 2-D image data with data format 'SSCB', got {fmt!r}")
    kernel, stride = _pair(poolsize, "poolsize", op), _pair(Stride, "Stride", op)
    patches, (Ho, Wo), valid = _patches(x, kernel, stride, (1, 1), Padding, op, True)
    y = reduce(patches, valid, math.prod(kernel))
    return relabel(F.reshape(y, (Ho, Wo) + x.shape[2:]), fmt, keep)


def _max(patches, valid, count):
    if not valid.all():
        lowest = np.finfo(patches.dtype).min
        patches = F.where(valid.astype(patches.dtype), patches, lowest)
    return F.max(patches, 0)


def maxpool(X, poolsize, Stride=1, Padding=0, DataFormat=None):
    """Largest value of each poolsize window of "SSCB" data (padding never wins)."""
    return _pool(X, poolsize, Stride, Padding, DataFormat, "maxpool", _max)


def avgpool(X, poolsize, Stride=1, Padding=0, DataFormat=None):
    """Mean of each poolsize window of "SSCB" data (padding counts as zeros, like MATLAB)."""
    return _pool(X, poolsize, Stride, Padding, DataFormat, "avgpool",
                 lambda patches, valid, count: F.sum(patches, 0) / count)
